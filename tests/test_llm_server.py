"""LocalLLMServer: the OpenAI-compatible protocol, responders and fault injection."""

import contextlib
import http.client
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from tabsift.llm import LLMResponseError, extract_json
from tabsift.llm.testing import FAULT_KINDS, LocalLLMServer, ScriptedResponder, echo_responder


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # urllib must reach the loopback server directly, whatever the environment says.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def post(server, body, path="/chat/completions", timeout=5.0):
    """POST raw JSON with the standard library; return (status, parsed body)."""
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def chat_body(content="hello world", **extra):
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def test_lifecycle_and_base_url():
    server = LocalLLMServer()
    with pytest.raises(RuntimeError, match="not running"):
        server.base_url  # noqa: B018
    assert server.start() is server
    assert server.start() is server  # idempotent
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert "127.0.0.1" in repr(server)
    port = server.port
    server.stop()
    server.stop()
    assert repr(server).startswith("LocalLLMServer(stopped")
    with socket.socket() as sock:  # the port is free again
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_models_endpoint_through_openai():
    with LocalLLMServer(model="my-model") as server:
        client = server.client()
        openai_client = client._openai_client()
        assert [m.id for m in openai_client.models.list()] == ["my-model"]


def test_completion_format_and_usage():
    with LocalLLMServer(lambda request: "one two  three") as server:
        status, body = post(server, chat_body("a b c d", n=2))
    assert status == 200
    assert body["object"] == "chat.completion" and body["model"] == "m"
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "one two  three",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["logprobs"] is None
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}
    assert server.requests == [chat_body("a b c d", n=2)]


def test_logprobs_format_is_deterministic():
    with LocalLLMServer() as server:
        _, first = post(server, chat_body("x y z", logprobs=True, top_logprobs=3))
        _, second = post(server, chat_body("x y z", logprobs=True, top_logprobs=3))
    content = first["choices"][0]["logprobs"]["content"]
    assert [t["token"] for t in content] == ["x ", "y ", "z"]
    for token in content:
        assert set(token) == {"token", "logprob", "bytes", "top_logprobs"}
        assert -5.0 < token["logprob"] <= 0.0
        assert len(token["top_logprobs"]) == 3
        assert token["top_logprobs"][0]["token"] == token["token"]
        logprobs = [alt["logprob"] for alt in token["top_logprobs"]]
        assert logprobs == sorted(logprobs, reverse=True)
    assert first["choices"] == second["choices"]


def test_max_tokens_and_stop():
    with LocalLLMServer(lambda request: "alpha beta gamma. END delta") as server:
        _, body = post(server, chat_body(max_tokens=2))
        assert body["choices"][0]["message"]["content"] == "alpha beta"
        assert body["choices"][0]["finish_reason"] == "length"
        _, body = post(server, chat_body(stop=" END"))
        assert body["choices"][0]["message"]["content"] == "alpha beta gamma."
        assert body["choices"][0]["finish_reason"] == "stop"


def test_string_responder_is_called_once_per_choice():
    responder = ScriptedResponder(["a", "b", "c"])
    with LocalLLMServer(responder) as server:
        reply = server.client().chat("x", n=3)
    assert reply.texts == ["a", "b", "c"]
    assert responder.calls == 3


def test_list_responder_gives_all_choices():
    calls = []

    def responder(request):
        calls.append(request)
        return [f"choice {i}" for i in range(request.get("n", 1))]

    with LocalLLMServer(responder) as server:
        assert server.client().chat("x", n=2).texts == ["choice 0", "choice 1"]
    assert len(calls) == 1


def test_responder_errors_become_http_500():
    with LocalLLMServer(lambda request: ["only one"]) as server:
        status, body = post(server, chat_body(n=2))
    assert status == 500
    assert "the responder raised ValueError: the responder returned 1 replies for n=2" in body[
        "error"
    ]["message"]


def test_scripted_responder():
    responder = ScriptedResponder(["a", ["b", "c"]], cycle=False)
    assert responder({}) == "a"
    assert responder({}) == ["b", "c"]
    with pytest.raises(IndexError, match="ran out of replies"):
        responder({})
    with pytest.raises(ValueError, match="replies is empty"):
        ScriptedResponder([])


def test_echo_responder():
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "last"},
    ]
    assert echo_responder({"messages": messages}) == "last"
    assert echo_responder({"messages": []}) == ""


def test_bad_requests():
    with LocalLLMServer() as server:
        assert post(server, {"model": "m"})[0] == 400
        assert post(server, chat_body(n=0))[0] == 400
        assert post(server, chat_body(), path="/nowhere")[0] == 404
        request = urllib.request.Request(
            server.base_url + "/chat/completions", data=b"{not json", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        info.value.close()
        assert info.value.code == 400


def test_api_key_is_checked():
    with LocalLLMServer(api_key="sk-local") as server:
        assert post(server, chat_body())[0] == 401
        assert server.client().complete("with key") == "with key"


def test_inject_queue():
    with LocalLLMServer() as server:
        server.inject("500", times=2)
        server.inject("garbage")
        assert server.pending_faults == ["500", "500", "garbage"]
        assert post(server, chat_body())[0] == 500
        server.clear_faults()
        assert server.pending_faults == []
        assert post(server, chat_body())[0] == 200
        assert len(server.requests) == 2  # faulted requests are recorded too
        with pytest.raises(ValueError, match="unknown fault 'explode'"):
            server.inject("explode")
        with pytest.raises(ValueError, match="unknown fault '200'"):
            server.inject("200")
    assert set(FAULT_KINDS) >= {"429", "500", "503", "slow", "malformed", "truncated", "disconnect", "garbage"}


def test_fault_429_has_retry_after():
    with LocalLLMServer() as server:
        server.inject("429")
        request = urllib.request.Request(
            server.base_url + "/chat/completions", data=json.dumps(chat_body()).encode()
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
    info.value.close()
    assert info.value.code == 429
    assert info.value.headers["Retry-After"] == "0"


@contextlib.contextmanager
def raw_post(server, timeout=5.0):
    """Send a chat request with http.client, to see exactly what the server does."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request(
            "POST", "/v1/chat/completions", body=json.dumps(chat_body()),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        yield connection
    finally:
        connection.close()


def test_fault_malformed_is_invalid_json():
    with LocalLLMServer() as server:
        server.inject("malformed")
        with raw_post(server) as connection:
            response = connection.getresponse()
            assert response.status == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(response.read())


def test_fault_truncated_closes_early():
    with LocalLLMServer() as server:
        server.inject("truncated")
        with raw_post(server) as connection:
            response = connection.getresponse()
            assert response.status == 200
            with pytest.raises(http.client.IncompleteRead):
                response.read()
            response.close()


def test_fault_disconnect_sends_nothing():
    with LocalLLMServer() as server:
        server.inject("disconnect")
        with raw_post(server) as connection, pytest.raises(http.client.RemoteDisconnected):
            connection.getresponse()


def test_fault_slow_waits_then_answers():
    with LocalLLMServer() as server:
        server.inject("slow", delay=0.5)
        with raw_post(server, timeout=0.1) as connection, pytest.raises(TimeoutError):
            connection.getresponse()
        server.inject("slow", delay=0.2)
        with raw_post(server) as connection:
            assert connection.getresponse().status == 200


def test_fault_garbage_is_junk_text():
    with LocalLLMServer() as server:
        server.inject("garbage")
        text = server.client().complete("give JSON")
    with pytest.raises(LLMResponseError):
        extract_json(text)


def test_stop_does_not_wait_for_slow_handlers():
    server = LocalLLMServer().start()
    server.inject("slow", delay=30.0)
    with raw_post(server, timeout=30.0):  # the request is now being handled
        deadline = time.monotonic() + 5.0
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < 2.0


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 support")
    try:
        server = LocalLLMServer(host="::1").start()
    except OSError as err:
        pytest.skip(f"cannot listen on ::1: {err}")
    with server:
        assert server.base_url == f"http://[::1]:{server.port}/v1"
        assert server.client().complete("six") == "six"


def test_default_profile_is_tabsift_and_records_no_events():
    with LocalLLMServer(lambda request: "same as ever") as server:
        assert server.profile == "tabsift"
        server.client().chat("x", n=2, max_tokens=5, logprobs=True, temperature=0.0)
        assert server.profile_events == {}
