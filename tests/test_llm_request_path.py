"""The one request path of tabsift.llm against real-server behaviour (issue 14).

Reasoning removed before parsing, the last JSON value used, finish_reason read,
parameters negotiated, deterministic errors not retried, a total deadline, budgets
without server usage, the key kept out of every error, and LLMClient as a
well-behaved estimator parameter. Raw behaviour comes from a tiny http.server on
127.0.0.1 in this file.
"""

import json
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tabsift.llm import (
    MAX_REPLY_CHARS,
    BudgetExceededError,
    LLMClient,
    LLMError,
    LLMRefusalError,
    LLMResponseError,
    LLMTruncatedError,
    LLMUnavailableError,
    extract_block,
    extract_json,
    strip_reasoning,
)
from tabsift.llm.testing import LocalLLMServer, ScriptedResponder

SECRET = "sk-request-path-secret-0123456789"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- raw server
def completion(*texts, finish="stop", usage=True, reasoning=None, model="raw"):
    choices = []
    for i, text in enumerate(texts):
        message = {"role": "assistant", "content": text}
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        choices.append({"index": i, "message": message, "finish_reason": finish})
    reply = {"id": "x", "object": "chat.completion", "created": 0, "model": model, "choices": choices}
    if usage:
        reply["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    return reply


def error(status, message, param=None, code=None):
    return status, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


class RawServer:
    """Answers each chat request with ``script(body, headers)`` -> (status, JSON) or a callable."""

    def __init__(self, script):
        self.script = script
        self.requests = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                owner.requests.append(body)
                result = owner.script(body, dict(self.headers))
                if callable(result):
                    result(self)
                    return
                status, obj = result
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def client(self, **kwargs):
        kwargs.setdefault("timeout", 5.0)
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("max_retries", 2)
        return LLMClient("raw", base_url=f"http://127.0.0.1:{self.httpd.server_port}/v1", **kwargs)


# --------------------------------------------------------------------------- 1. reasoning and parsing
def test_issue_example_takes_the_final_answer():
    reply = '<think>First idea: {"choice": 0}. No wait, 5.</think>\n{"choice": 5}'
    assert extract_json(reply) == {"choice": 5}
    assert extract_json('Draft {"a": 1}, final {"a": 2}') == {"a": 2}
    assert extract_json('```json\n{"a": 1}\n```\nBetter:\n```json\n{"a": 2}\n```') == {"a": 2}


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("<think>hmm</think>42", "42"),
        ("<THINKING>\nplan\n</THINKING>\n  ok", "ok"),
        ("<reasoning>a</reasoning>b<think>c</think>d", "bd"),
        ("drafting...</think>final", "final"),  # the template opened the block
        ("<think>never closed {\"a\": 1}", ""),  # cut off while thinking
        ("no tags at all {\"a\": 1}", "no tags at all {\"a\": 1}"),
        ("<think>outer <think>inner</think> still</think>done", "done"),
    ],
)
def test_strip_reasoning(text, answer):
    assert strip_reasoning(text) == answer


def test_unclosed_reasoning_is_unparsable():
    with pytest.raises(LLMResponseError) as info:
        extract_json('<think>maybe {"choice": 1}')
    assert info.value.reason == "unparsable"
    with pytest.raises(LLMResponseError) as info:
        extract_block("<think>```tree\nx\n```")
    assert info.value.reason == "unparsable"


def test_extract_block_uses_the_last_block_outside_reasoning():
    text = "<think>```tree\nformat: <your text>\n```</think>\n```tree\nage <= 30\n```"
    assert extract_block(text, "tree") == "age <= 30"
    assert extract_block("```tree\na\n```\n```tree\nb\n```", "tree") == "b"


def test_a_broken_object_does_not_hide_an_earlier_complete_one():
    assert extract_json('{"a": 1} then {"b": [1, 2] oops}') == {"a": 1}
    assert extract_json('[1, 2, {"a": 1} oops]') == {"a": 1}


def test_non_finite_numbers_are_rejected():
    with pytest.raises(LLMResponseError, match="NaN"):
        extract_json('{"a": 1e999}')


def test_over_long_reply_is_refused():
    with pytest.raises(LLMResponseError, match="over the limit") as info:
        extract_json("x" * (MAX_REPLY_CHARS + 1))
    assert info.value.reason == "unparsable"


M = MAX_REPLY_CHARS


@pytest.mark.parametrize(
    "hostile",
    [
        "1" * M,
        "[" + "1" * (M - 1),
        "`" * M,
        "`" * (M // 2) + " " + "`" * (M // 2 - 1),
        "```" + " " * (M - 4) + "x",
        ("[1," * M)[:M],
        "[" * M,
        "[" * (M // 2) + "]" * (M // 2),
        ("}{" * M)[:M],
        ("<think>" * M)[:M],
        ('{"a": 1} ' * M)[:M],
        "[" * 150 + "1" * (M - 400) + "x" + "]" * 150,
    ],
    ids=lambda text: repr(text[:12]),
)
def test_one_megabyte_hostile_reply_is_linear(hostile):
    start = time.perf_counter()
    for parse in (extract_json, extract_block):
        try:
            parse(hostile)
        except LLMResponseError:
            pass
    # Measured well under a second each on one core; the bound leaves room for CI.
    assert time.perf_counter() - start < 3.0


def test_reasoning_is_kept_apart_and_cached(tmp_path):
    draft = '<think>Maybe {"choice": 0}.</think>{"choice": 5}'
    with LocalLLMServer(lambda request: draft) as server:
        client = server.client(cache=tmp_path / "cache.sqlite")
        reply = client.chat("pick")
        again = client.chat("pick")
    assert reply.text == '{"choice": 5}'
    assert reply.choices[0].reasoning == 'Maybe {"choice": 0}.'
    assert again.cached and again.choices[0] == reply.choices[0]


def test_reasoning_content_field_goes_to_choice_reasoning():
    with RawServer(lambda body, headers: (200, completion('{"k": 2}', reasoning='{"k": 1}?'))) as srv:
        value, reply = srv.client().chat_json("k?")
    assert value == {"k": 2}
    assert reply.choices[0].reasoning == '{"k": 1}?'


# --------------------------------------------------------------------------- 2. finish_reason
def test_length_is_a_truncation_told_to_the_model():
    replies = iter([completion('{"a": [1, 2', finish="length"), completion('{"a": [1]}')])
    with RawServer(lambda body, headers: (200, next(replies))) as srv:
        value, _ = srv.client().chat_json("a?")
    assert value == {"a": [1]}
    follow_up = srv.requests[1]["messages"][-1]["content"]
    assert "cut off at the length limit" in follow_up and "shorter" in follow_up


@pytest.mark.parametrize(
    ("finish", "error_class", "reason"),
    [("length", LLMTruncatedError, "truncated"), ("content_filter", LLMRefusalError, "refused")],
)
def test_the_last_attempts_reason_is_raised(finish, error_class, reason):
    with RawServer(lambda body, headers: (200, completion('{"a": 1}', finish=finish))) as srv:
        with pytest.raises(error_class) as info:
            srv.client().chat_json("a?", max_attempts=2)
    assert info.value.reason == reason
    assert len(srv.requests) == 2


def test_unparsable_and_invalid_reasons():
    with RawServer(lambda body, headers: (200, completion("no json"))) as srv:
        with pytest.raises(LLMResponseError) as info:
            srv.client().chat_json("a?", max_attempts=1)
    assert info.value.reason == "unparsable"
    with RawServer(lambda body, headers: (200, completion('{"a": "x"}'))) as srv:
        with pytest.raises(LLMResponseError) as info:
            srv.client().chat_json(
                "a?", schema={"properties": {"a": {"type": "integer"}}}, max_attempts=1
            )
    assert info.value.reason == "invalid"


def test_content_filter_400_is_a_refusal_not_retried():
    message = "The response was filtered due to the prompt triggering the content management policy."
    with RawServer(lambda body, headers: error(400, message, "prompt", "content_filter")) as srv:
        with pytest.raises(LLMRefusalError) as info:
            srv.client().chat("x")
    assert info.value.reason == "refused"
    assert len(srv.requests) == 1


# --------------------------------------------------------------------------- 3. negotiation
def test_no_temperature_unless_set():
    with LocalLLMServer() as server:
        client = server.client()
        client.chat("a")
        client.chat("b", temperature=0.3)
        server.client(temperature=0.2).chat("c")
    sent = [r.get("temperature") for r in server.requests]
    assert sent == [None, 0.3, 0.2]
    assert "temperature" not in server.requests[0]


def reasoning_model(body, headers):
    """Like OpenAI's reasoning models: no temperature but 1, no max_tokens, no logprobs."""
    if "temperature" in body and body["temperature"] != 1:
        return error(
            400,
            f"Unsupported value: 'temperature' does not support {body['temperature']} with this "
            "model. Only the default (1) value is supported.",
            "temperature",
            "unsupported_value",
        )
    if "max_tokens" in body:
        return error(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    if body.get("logprobs"):
        return error(400, "This model does not support logprobs.", None, "unsupported_parameter")
    return 200, completion('{"ok": true}')


def test_refused_parameters_are_dropped_and_remembered():
    with RawServer(reasoning_model) as srv:
        client = srv.client(temperature=0.0, max_tokens=50)
        reply = client.chat("x", logprobs=True)
        assert reply.choices[0].logprobs is None
        first = len(srv.requests)
        assert first == 4  # one refusal per parameter, then the answer
        client.chat("y", logprobs=True)
        assert len(srv.requests) == first + 1  # remembered
    last = srv.requests[-1]
    assert "temperature" not in last and "logprobs" not in last and "max_tokens" not in last
    assert last["max_completion_tokens"] == 50
    assert client.usage.failures == 3 and client.usage.requests == 5


def test_deterministic_errors_are_not_retried():
    for status in (400, 401, 403, 404, 422):
        with RawServer(lambda body, headers, s=status: error(s, "nope")) as srv:
            with pytest.raises(LLMError):
                srv.client(max_retries=4).chat("x")
        assert len(srv.requests) == 1, status


def llama_cpp(body, headers):
    if body.get("n", 1) > 1:
        return 500, {"error": {"code": 500, "message": "Only one completion choice is allowed", "type": "server_error"}}
    return 200, completion(f"reply {len(llama_cpp.seen)}", usage=False)


def test_n_refused_gets_separate_requests():
    llama_cpp.seen = []
    with RawServer(lambda body, headers: (llama_cpp.seen.append(body), llama_cpp(body, headers))[1]) as srv:
        client = srv.client(seed=7)
        reply = client.chat("x", n=3)
        assert len(reply.choices) == 3
        assert len(srv.requests) == 4  # the refusal (not retried), then 3 requests
        assert [r.get("seed") for r in srv.requests[1:]] == [7, 8, 9]
        client.chat("y", n=2)
        assert len(srv.requests) == 6  # remembered: no second refusal


# --------------------------------------------------------------------------- 4. total deadline
def trickle(handler):
    data = json.dumps(completion('{"a": 1}')).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    try:
        for byte in data[:40]:  # bounded: at most 40 * 0.1 s
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.1)
    except OSError:
        pass


def test_trickling_server_is_cut_at_the_deadline():
    with RawServer(lambda body, headers: trickle) as srv:
        client = srv.client(timeout=0.5, max_retries=0)
        start = time.perf_counter()
        with pytest.raises(LLMUnavailableError, match="timeout"):
            client.chat("x")
        assert time.perf_counter() - start < 1.5


# --------------------------------------------------------------------------- 5. budgets without usage
def test_budget_binds_without_server_usage():
    reply = completion("word " * 300, usage=False)
    with RawServer(lambda body, headers: (200, reply)) as srv:
        client = srv.client(max_total_tokens=1000)
        with pytest.raises(BudgetExceededError):
            for _ in range(10):  # bounded
                client.chat("question " * 50)
    assert client.usage.total_tokens >= 1000
    assert len(srv.requests) <= 3


# --------------------------------------------------------------------------- 6. the key
def echo_key(body, headers):
    return error(400, f"bad request from {headers.get('Authorization')}")


@pytest.mark.parametrize("status", [400, 503])
def test_key_never_in_the_exception_chain(status):
    def script(body, headers):
        return status, {"error": {"message": f"headers: {headers}", "type": "x"}}

    with RawServer(script) as srv:
        with pytest.raises(LLMError) as info:
            srv.client(api_key=SECRET, max_retries=1).chat("x")
    err = info.value
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        assert SECRET not in str(err) and SECRET not in repr(err.args)
        assert "openai" not in type(err).__module__
        err = err.__cause__ or err.__context__
    assert SECRET not in "".join(traceback.format_exception(info.value))


# --------------------------------------------------------------------------- 7. estimator parameter
def test_llm_client_keeps_the_hash_through_fit():
    import joblib

    with LocalLLMServer() as server:
        client = server.client()
        before = joblib.hash(client)
        client.chat("spend something")
        assert client.usage.requests == 1
        assert joblib.hash(client) == before


def test_sklearn_checks_with_an_llm_client():
    from sklearn.utils.estimator_checks import (
        check_estimators_overwrite_params,
        check_estimators_pickle,
        check_fit_idempotent,
    )

    from tabsift.rules import BooleanRuleClassifier

    replies = ScriptedResponder(['{"features": ["x0", "x1"]}'])
    with LocalLLMServer(replies) as server:
        clf = BooleanRuleClassifier(
            llm=server.client(), llm_feature_selection=2, n_iterations=50, n_starts=1, random_state=0
        )
        for check in (check_estimators_overwrite_params, check_estimators_pickle, check_fit_idempotent):
            check(type(clf).__name__, clf)
        assert server.requests, "the checks should have asked the LLM"


# --------------------------------------------------------------------------- 8. structured output
STRUCTURED_SCHEMA = {"type": "object", "properties": {"k": {"type": "integer"}}, "required": ["k"]}


def refuses_response_format(message, param=None, code=None):
    def script(body, headers):
        if "response_format" in body:
            return error(400, message, param, code)
        return 200, completion('{"k": 2}')

    return script


@pytest.mark.parametrize(
    ("message", "param", "code"),
    [
        ("Unsupported parameter: 'response_format'", "response_format", "unsupported_parameter"),
        # vLLM when its guided-decoding backend cannot take the schema: no param named
        ("The provided JSON schema contains features not supported by xgrammar.", None, None),
    ],
)
def test_refused_response_format_falls_back_to_prompting(message, param, code):
    import joblib

    with RawServer(refuses_response_format(message, param, code)) as srv:
        client = srv.client(max_retries=0)
        before = joblib.hash(client)
        value, _ = client.chat_json("Give k.", schema=STRUCTURED_SCHEMA)
        assert value == {"k": 2}
        value, _ = client.chat_json("Give k again.", schema=STRUCTURED_SCHEMA)
        assert value == {"k": 2}
        assert joblib.hash(client) == before  # what was learnt is run-time state
    assert len(srv.requests) == 3
    assert srv.requests[0]["response_format"]["type"] == "json_schema"
    assert srv.requests[0]["response_format"]["json_schema"]["schema"] == STRUCTURED_SCHEMA
    assert "response_format" not in srv.requests[1]  # the retry, once
    assert "response_format" not in srv.requests[2]  # remembered by the client
    assert client.usage.requests == 3


def test_other_400s_are_not_mistaken_for_a_refused_response_format():
    with RawServer(lambda body, headers: error(400, "model 'raw' does not exist", "model")) as srv:
        with pytest.raises(LLMError, match="HTTP 400"):
            srv.client().chat_json("Give k.", schema=STRUCTURED_SCHEMA)
    assert len(srv.requests) == 1


# ------------------------------------------------------------------ a caller's deadline
def test_a_deadline_ends_the_wait_and_the_retries():
    with LocalLLMServer(lambda request: "late") as server:
        server.inject("slow", times=10, delay=2.0)
        client = server.client(timeout=30.0, max_retries=3, backoff=0.5)
        start = time.monotonic()
        with pytest.raises(LLMUnavailableError, match="time limit ran out"):
            client.chat("hello", deadline=time.monotonic() + 0.3)
        assert time.monotonic() - start < 1.0
        assert len(server.requests) <= 1  # no retry after the deadline
        # Without a deadline, the same client waits for the slow answer.
        server.clear_faults()
        assert client.chat("hello").text == "late"


# ------------------------------------------------------------------ linear on hostile prose
@pytest.mark.parametrize("unit", ["{a:", '{"', '{"a":"', '["', "[["])
def test_extract_json_stays_linear_on_bracket_floods(unit):
    # Before, '{a:' repeated over 1 MB took 52 s: every failed decode counted the lines
    # before it. Doubling the reply must about double the time, never quadruple it.
    def seconds(n):
        text = (unit * (n // len(unit) + 1))[:n]
        start = time.perf_counter()
        with pytest.raises(LLMResponseError):
            extract_json(text)
        return time.perf_counter() - start

    small, large = seconds(100_000), seconds(400_000)
    assert large < 1.5
    assert large < 8 * small + 0.05  # linear is 4x; quadratic would be 16x
