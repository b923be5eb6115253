"""LLMClient against a real local server: round trips, retries, budget, usage, secrecy."""

import copy
import logging
import pickle
import socket
import sys
import threading
import time

import pytest

from tabsift.llm import (
    BudgetExceededError,
    ChatResponse,
    LLMClient,
    LLMError,
    LLMUnavailableError,
    TokenUsage,
    Usage,
)
from tabsift.llm.testing import LocalLLMServer, ScriptedResponder

SECRET = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TABSIFT_TEST_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with LocalLLMServer() as srv:
        yield srv


def fast_client(server, **kwargs):
    kwargs.setdefault("timeout", 1.0)
    kwargs.setdefault("backoff", 0.01)
    return server.client(**kwargs)


# --------------------------------------------------------------------------- round trips
def test_chat_round_trip(server):
    client = fast_client(server, temperature=0.2, seed=7)
    reply = client.chat("how are you today")
    assert isinstance(reply, ChatResponse)
    assert reply.text == "how are you today"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].logprobs is None
    assert reply.cached is False
    assert reply.model == "tabsift-test"
    assert reply.usage == TokenUsage(prompt_tokens=4, completion_tokens=4, total_tokens=8)
    body = server.requests[-1]
    assert body["model"] == "tabsift-test"
    assert body["messages"] == [{"role": "user", "content": "how are you today"}]
    assert body["temperature"] == 0.2
    assert body["seed"] == 7
    assert "n" not in body and "logprobs" not in body


def test_chat_n_choices_and_message_list(server):
    server.responder = ScriptedResponder(["alpha", "beta gamma", "delta"])
    client = fast_client(server)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name three things."},
    ]
    reply = client.chat(messages, n=3, temperature=1.0, max_tokens=50, stop=["END"])
    assert reply.texts == ["alpha", "beta gamma", "delta"]
    assert len(reply.choices) == 3
    assert reply.usage.prompt_tokens == 5
    assert reply.usage.completion_tokens == 4
    body = server.requests[-1]
    assert body["n"] == 3
    assert body["messages"] == messages
    assert body["max_tokens"] == 50
    assert body["stop"] == ["END"]


def test_chat_logprobs(server):
    client = fast_client(server)
    reply = client.chat("the cat sat", logprobs=True, top_logprobs=2)
    tokens = reply.choices[0].logprobs
    assert isinstance(tokens, tuple)
    assert "".join(t.token for t in tokens) == "the cat sat"
    assert all(t.logprob <= 0 for t in tokens)
    assert all(len(t.top_logprobs) == 2 for t in tokens)
    assert tokens[0].top_logprobs[0] == (tokens[0].token, tokens[0].logprob)
    # Deterministic: the same text gives the same values.
    again = client.chat("the cat sat", logprobs=True, top_logprobs=2, temperature=0.1)
    assert again.choices[0].logprobs == tokens
    assert server.requests[-1]["logprobs"] is True
    assert server.requests[-1]["top_logprobs"] == 2


def test_top_logprobs_implies_logprobs(server):
    reply = fast_client(server).chat("a b", top_logprobs=0)
    assert [t.token for t in reply.choices[0].logprobs] == ["a ", "b"]


def test_max_tokens_cuts_reply(server):
    reply = fast_client(server, max_tokens=2).chat("one two three four")
    assert reply.text == "one two"
    assert reply.choices[0].finish_reason == "length"


def test_complete(server):
    assert fast_client(server).complete("just this") == "just this"


@pytest.mark.parametrize(
    ("messages", "error", "match"),
    [
        ([], ValueError, "messages is empty"),
        ({"role": "user", "content": "x"}, TypeError, "wrap it in a list"),
        (42, TypeError, "found int"),
        (["hello"], TypeError, r"messages\[0\] must be a dict"),
        ([{"role": "user"}], ValueError, r"lacks the key\(s\) \['content'\]"),
        ([{"role": "robot", "content": "x"}], ValueError, "must be one of"),
        ([{"role": "user", "content": 3}], TypeError, r"\['content'\] must be a str"),
        ([{"role": "user", "content": "x", "extra": 1}], ValueError, "unsupported key"),
    ],
)
def test_message_validation(server, messages, error, match):
    with pytest.raises(error, match=match):
        fast_client(server).chat(messages)
    assert server.requests == []


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"timeout": 0}, "timeout must be > 0"),
        ({"timeout": "fast"}, "timeout must be a number"),
        ({"max_retries": -1}, "max_retries must be >= 0"),
        ({"max_retries": 1.5}, "max_retries must be an int"),
        ({"temperature": 3.0}, "temperature must be <= 2"),
        ({"cache_mode": "sometimes"}, "cache_mode must be one of"),
        ({"cache_mode": "replay"}, "cache=None"),
        ({"cache": 3}, "cache must be None, a path or a ResponseCache"),
        ({"model": ""}, "model must be a non-empty str"),
    ],
)
def test_invalid_params_fail_at_first_use(server, params, match):
    client = fast_client(server, **params)  # __init__ only stores
    assert all(client.get_params()[k] == v for k, v in params.items())
    with pytest.raises((TypeError, ValueError), match=match):
        client.chat("x")
    assert server.requests == []


def test_invalid_call_arguments(server):
    client = fast_client(server)
    with pytest.raises(ValueError, match="n must be >= 1"):
        client.chat("x", n=0)
    with pytest.raises(TypeError, match="stop must be"):
        client.chat("x", stop=3)
    with pytest.raises(ValueError, match="top_logprobs must be <= 20"):
        client.chat("x", top_logprobs=50)
    assert server.requests == []


# --------------------------------------------------------------------------- retries
@pytest.mark.parametrize(
    "fault", ["429", "500", "503", "malformed", "truncated", "disconnect", "slow"]
)
def test_fault_is_retried_then_succeeds(server, fault):
    server.inject(fault, delay=3.0)
    client = fast_client(server, timeout=1.0, max_retries=2)
    start = time.perf_counter()
    assert client.complete("still here") == "still here"
    assert time.perf_counter() - start < 3.0  # a slow reply is abandoned, not awaited
    assert len(server.requests) == 2
    assert client.usage == Usage(
        requests=2, retries=1, failures=1, prompt_tokens=2, completion_tokens=2, total_tokens=4
    )


def test_garbage_is_not_retried_by_chat(server):
    server.inject("garbage")
    reply = fast_client(server).chat("hello")
    assert "garbage" in reply.text
    assert len(server.requests) == 1


@pytest.mark.parametrize(("fault", "what"), [("503", "HTTP 503"), ("disconnect", "connection")])
def test_exhausting_retries_raises_unavailable(server, fault, what):
    server.inject(fault, times=10)
    client = fast_client(server, max_retries=2)
    with pytest.raises(LLMUnavailableError, match="after 3 attempts") as info:
        client.chat("x")
    err = info.value
    assert err.attempts == 3
    assert len(err.errors) == 3 and all(what in e for e in err.errors)
    assert err.__cause__ is not None
    assert server.base_url in str(err)
    assert len(server.requests) == 3
    assert client.usage.failures == 3 and client.usage.retries == 2
    assert client.usage.requests == 3


def test_timeouts_exhaust_retries(server):
    server.inject("slow", times=3, delay=1.0)
    client = fast_client(server, timeout=0.2, max_retries=1)
    with pytest.raises(LLMUnavailableError, match="2 attempts") as info:
        client.chat("x")
    assert "timeout" in str(info.value)


def test_retry_after_header_replaces_backoff(server):
    # The 429 carries Retry-After: 0, so a huge backoff is not waited for.
    server.inject("429", times=2)
    client = fast_client(server, backoff=30.0)
    start = time.perf_counter()
    assert client.complete("ok") == "ok"
    assert time.perf_counter() - start < 5.0
    assert client.usage.retries == 2


@pytest.mark.parametrize("status", ["400", "404", "422"])
def test_client_errors_are_not_retried(server, status):
    server.inject(status, times=5)
    client = fast_client(server)
    with pytest.raises(LLMError, match=f"HTTP {status}") as info:
        client.chat("x")
    assert not isinstance(info.value, LLMUnavailableError)
    assert len(server.requests) == 1
    assert client.usage.failures == 1 and client.usage.retries == 0


def test_missing_server_message():
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LLMClient("m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff=0.0)
    with pytest.raises(LLMUnavailableError) as info:
        client.chat("x")
    message = str(info.value)
    assert f"The LLM server at http://127.0.0.1:{port}/v1 (model 'm') did not answer after 2" in message
    assert "connection error" in message
    assert "Check that the server is running and reachable" in message


def test_missing_openai_message(monkeypatch, server):
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(ImportError, match=r"Missing optional dependency 'openai' \(needed for tabsift\.llm\.LLMClient\)\. Install it with: pip install openai"):
        fast_client(server).chat("x")


# --------------------------------------------------------------------------- API key
def test_missing_key_for_remote_server_names_the_variable():
    client = LLMClient(base_url="https://llm.example.invalid/v1", api_key_env="TABSIFT_TEST_KEY")
    with pytest.raises(LLMError, match="'TABSIFT_TEST_KEY' is not set"):
        client.chat("x")
    assert "gpt-4o-mini" in repr(client)


def test_loopback_without_key_uses_dummy_key(server):
    assert fast_client(server).complete("fine") == "fine"


def test_key_from_environment_is_sent(monkeypatch):
    with LocalLLMServer(api_key=SECRET) as srv:
        client = LLMClient("m", base_url=srv.base_url, api_key_env="TABSIFT_TEST_KEY", backoff=0.0)
        with pytest.raises(LLMError, match="HTTP 401.*'TABSIFT_TEST_KEY'"):
            client.chat("x")
        assert len(srv.requests) == 0  # rejected before the body is recorded
        monkeypatch.setenv("TABSIFT_TEST_KEY", SECRET)
        client = LLMClient("m", base_url=srv.base_url, api_key_env="TABSIFT_TEST_KEY")
        assert client.complete("authorised") == "authorised"


def test_key_never_leaks(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # every logger: tabsift, openai, httpx2
    with LocalLLMServer(api_key=SECRET) as srv:
        client = srv.client(cache=tmp_path / "cache.sqlite", backoff=0.0)
        assert client.api_key == SECRET
        srv.inject("503")
        client.chat("hello", logprobs=True)
        srv.inject("400")
        with pytest.raises(LLMError) as info:
            client.chat("other")
        srv.inject("503", times=5)
        with pytest.raises(LLMUnavailableError) as info2:
            client.chat("third")
    assert SECRET not in str(info.value) and SECRET not in str(info2.value)
    assert "api_key" not in client.get_params()
    assert "api_key" not in client.get_params(deep=True)
    assert SECRET not in repr(client)
    assert SECRET.encode() not in pickle.dumps(client)
    client.cache  # noqa: B018 - the path
    assert SECRET.encode() not in (tmp_path / "cache.sqlite").read_bytes()
    for suffix in ("-wal", "-shm"):
        wal = tmp_path / f"cache.sqlite{suffix}"
        if wal.exists():
            assert SECRET.encode() not in wal.read_bytes()
    assert caplog.records, "expected some log records"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.args)


def test_pickle_drops_key_and_keeps_settings(monkeypatch, server):
    client = fast_client(server, api_key=SECRET, temperature=0.1, max_requests=5)
    client.chat("x")
    restored = pickle.loads(pickle.dumps(client))
    assert restored.api_key is None
    assert restored.get_params() == client.get_params()
    # Usage is run-time state, not a setting: a pickle starts a fresh budget, like a
    # clone, so that fitting does not change the client's joblib hash (issue 14).
    assert client.usage.requests == 1 and restored.usage.requests == 0
    assert restored.complete("after unpickling") == "after unpickling"


def test_pickled_client_reads_key_from_environment(monkeypatch):
    with LocalLLMServer(api_key=SECRET) as srv:
        client = LLMClient("m", base_url=srv.base_url, api_key=SECRET, api_key_env="TABSIFT_TEST_KEY")
        restored = pickle.loads(pickle.dumps(client))
        monkeypatch.setenv("TABSIFT_TEST_KEY", SECRET)
        assert restored.complete("via env") == "via env"


def test_deepcopy_drops_key(server):
    client = fast_client(server, api_key=SECRET)
    client.chat("x")
    twin = copy.deepcopy(client)
    assert twin.api_key is None
    assert twin.get_params() == client.get_params()
    assert twin.usage.requests == 1
    assert twin._openai is None


def test_repr_and_params(server):
    client = LLMClient("m", api_key=SECRET, temperature=0.0, max_requests=3)
    assert repr(client) == "LLMClient(model='m', temperature=0.0, max_requests=3)"
    assert set(client.get_params()) == {
        "model", "base_url", "api_key_env", "timeout", "max_retries", "backoff",
        "temperature", "seed", "max_tokens", "max_requests", "max_total_tokens",
        "cache", "cache_mode", "structured_output",
    }  # fmt: skip
    assert client.set_params(temperature=0.5, api_key="other") is client
    assert client.temperature == 0.5 and client.api_key == "other"
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        client.set_params(bogus=1)


def test_sklearn_clone_keeps_settings_and_key(server):
    from sklearn.base import BaseEstimator, clone

    class LLMThing(BaseEstimator):
        def __init__(self, llm=None, k=3):
            self.llm = llm
            self.k = k

    client = fast_client(server, api_key=SECRET, temperature=0.0, max_tokens=20)
    estimator = LLMThing(llm=client, k=5)
    assert SECRET not in repr(estimator)
    assert "temperature=0.0" in repr(estimator)
    deep = estimator.get_params(deep=True)
    assert deep["llm__temperature"] == 0.0 and "llm__api_key" not in deep

    cloned = clone(estimator)
    assert cloned.llm is not client
    assert cloned.llm.get_params() == client.get_params()
    assert cloned.llm.api_key == SECRET
    assert cloned.llm.usage == Usage()
    assert clone(client).api_key == SECRET

    estimator.set_params(llm__temperature=0.3)
    assert client.temperature == 0.3 and cloned.llm.temperature == 0.0
    assert cloned.llm.complete("clone works") == "clone works"


# --------------------------------------------------------------------------- proxies
def test_proxy_variables_are_ignored_for_loopback(server, monkeypatch):
    dead_proxy = "http://127.0.0.1:9"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    import httpx2

    # The variables are live: a client that trusts the environment fails.
    with pytest.raises(httpx2.HTTPError):
        httpx2.Client(timeout=1.0).get(server.base_url + "/models")
    client = fast_client(server, max_retries=0)
    assert client.complete("direct") == "direct"
    assert len(server.requests) == 1


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_loopback_detection(host):
    from tabsift.llm._connection import is_loopback

    assert is_loopback(f"http://{host}:8000/v1")
    assert is_loopback("http://127.4.5.6/v1")
    assert is_loopback("http://[::1]:8000/v1")
    assert not is_loopback("https://api.openai.com/v1")
    assert not is_loopback("http://10.0.0.1/v1")


def test_localhost_base_url(server):
    client = LLMClient("m", base_url=f"http://localhost:{server.port}/v1", timeout=2.0)
    assert client.complete("named host") == "named host"


# --------------------------------------------------------------------------- budget, usage
def test_budget_by_requests(server):
    client = fast_client(server, max_requests=2)
    client.chat("one")
    client.chat("two")
    with pytest.raises(BudgetExceededError, match="max_requests=2 reached") as info:
        client.chat("three")
    assert info.value.usage.requests == 2
    assert len(server.requests) == 2
    assert client.usage.requests == 2  # kept
    client.reset_usage()
    assert client.usage == Usage()
    client.chat("three")
    assert len(server.requests) == 3


def test_budget_counts_retries(server):
    server.inject("503", times=5)
    client = fast_client(server, max_requests=2, max_retries=5)
    with pytest.raises(BudgetExceededError):
        client.chat("x")
    assert len(server.requests) == 2
    assert client.usage.failures == 2


def test_budget_by_tokens(server):
    client = fast_client(server, max_total_tokens=10)
    client.chat("a b c d")  # 4 + 4 tokens
    with pytest.raises(BudgetExceededError, match="max_total_tokens=10") as info:
        client.chat("a b c d", max_tokens=5)  # 8 used + up to 5 more > 10
    assert info.value.usage.total_tokens == 8
    client.chat("e f g h")  # no max_tokens: only tokens already used count
    with pytest.raises(BudgetExceededError):
        client.chat("i")
    assert len(server.requests) == 2
    assert client.usage.total_tokens == 16


def test_budget_keeps_cache(server, tmp_path):
    client = fast_client(server, max_requests=1, cache=tmp_path / "c.sqlite")
    client.chat("remember me")
    with pytest.raises(BudgetExceededError):
        client.chat("new prompt")
    reply = client.chat("remember me")  # answered by the cache, no budget needed
    assert reply.cached and reply.text == "remember me"
    assert client.usage.cached_requests == 1 and client.usage.requests == 1


def test_usage_counters_are_thread_safe(server):
    client = fast_client(server)
    errors = []

    def work(i):
        try:
            for j in range(5):
                client.chat(f"thread {i} call {j}")
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    usage = client.usage
    assert usage.requests == 30 == len(server.requests)
    assert usage.prompt_tokens == usage.completion_tokens == 30 * 4
    assert usage.total_tokens == 240


def test_budget_is_exact_under_threads(server):
    client = fast_client(server, max_requests=7)
    outcomes = []
    lock = threading.Lock()

    def work():
        for _ in range(4):
            try:
                client.chat("x y")
                result = "sent"
            except BudgetExceededError:
                result = "refused"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("sent") == 7 and outcomes.count("refused") == 9
    assert len(server.requests) == 7


def test_close_and_context_manager(server):
    with fast_client(server) as client:
        assert client.complete("a") == "a"
        assert client._openai is not None
    assert client._openai is None
    assert client.complete("reopened") == "reopened"
