"""ResponseCache: keys, storage, cache modes, and sharing between threads and processes."""

import pickle
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from tabsift.llm import CacheMissError, LLMClient, ResponseCache
from tabsift.llm.testing import LocalLLMServer, ScriptedResponder

BASE_REQUEST = {
    "model": "m",
    "messages": [{"role": "user", "content": "hi"}],
    "temperature": 0.7,
    "seed": None,
    "n": 1,
    "max_tokens": None,
    "logprobs": False,
    "top_logprobs": None,
    "response_format": None,
    "stop": None,
}


def reply(text, **usage):
    """A stored chat reply, as ChatResponse writes it."""
    counts = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, **usage}
    choice = {"text": text, "finish_reason": "stop", "logprobs": None}
    return {"model": "m", "choices": [choice], "usage": counts}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with LocalLLMServer(ScriptedResponder(["first answer", "second answer", "third"])) as srv:
        yield srv


# --------------------------------------------------------------------------- keys
def test_key_is_stable_and_canonical():
    key = ResponseCache.make_key(BASE_REQUEST)
    assert len(key) == 64 and int(key, 16) >= 0
    reordered = dict(reversed(list(BASE_REQUEST.items())))
    assert ResponseCache.make_key(reordered) == key
    # Fields that do not change the reply do not change the key.
    assert ResponseCache.make_key({**BASE_REQUEST, "timeout": 3, "api_key": "x"}) == key


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "other"),
        ("messages", [{"role": "user", "content": "hi!"}]),
        ("temperature", 0.0),
        ("seed", 1),
        ("n", 2),
        ("max_tokens", 10),
        ("logprobs", True),
        ("top_logprobs", 3),
        ("response_format", {"type": "json_object"}),
        ("stop", ["\n"]),
    ],
)
def test_key_depends_on_each_field(field, value):
    assert ResponseCache.make_key({**BASE_REQUEST, field: value}) != ResponseCache.make_key(
        BASE_REQUEST
    )


# --------------------------------------------------------------------------- storage
def test_cache_storage_round_trip(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"
    cache = ResponseCache(str(path))
    assert repr(cache) == f"ResponseCache({str(path)!r})"
    key = ResponseCache.make_key(BASE_REQUEST)
    assert cache.get(key) is None and key not in cache and len(cache) == 0
    cache.put(key, BASE_REQUEST, reply("é"))
    assert cache.get(key) == reply("é")
    assert key in cache and len(cache) == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        (stored_request,) = conn.execute("SELECT request FROM responses").fetchone()
    assert '"content":"hi"' in stored_request
    cache.clear()
    assert len(cache) == 0
    cache.close()
    cache.put(key, BASE_REQUEST, reply("x"))  # reopens after close
    assert cache.get(key) == reply("x")


def test_cache_pickles_as_its_path(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put("k", {}, reply("v"))
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.path == cache.path and clone.get("k") == reply("v")


# --------------------------------------------------------------------------- modes
def test_readwrite_hit_avoids_request(server, tmp_path):
    client = server.client(cache=tmp_path / "c.sqlite")
    first = client.chat("question", n=2, logprobs=True, top_logprobs=2)
    second = client.chat("question", n=2, logprobs=True, top_logprobs=2)
    assert len(server.requests) == 1
    assert first.cached is False and second.cached is True
    assert second.choices == first.choices  # texts, finish reasons and logprobs
    assert second.usage == first.usage and second.model == first.model
    assert client.usage.requests == 1 and client.usage.cached_requests == 1
    assert client.usage.total_tokens == first.usage.total_tokens  # cached replies cost nothing
    # Any change to the request is a miss.
    client.chat("question", n=2, logprobs=True, top_logprobs=2, temperature=0.0)
    assert len(server.requests) == 2


def test_cache_accepts_a_cache_object_shared_by_clients(server, tmp_path):
    cache = ResponseCache(tmp_path / "shared.sqlite")
    server.client(cache=cache).chat("shared prompt")
    reply = server.client(cache=cache).chat("shared prompt")
    assert reply.cached and reply.text == "first answer"
    assert len(server.requests) == 1 and len(cache) == 1


def test_off_mode_neither_reads_nor_writes(server, tmp_path):
    path = tmp_path / "c.sqlite"
    client = server.client(cache=path, cache_mode="off")
    client.chat("q")
    client.chat("q")
    assert len(server.requests) == 2
    assert not path.exists()


def test_replay_miss_raises_without_request(server, tmp_path):
    client = server.client(cache=tmp_path / "c.sqlite", cache_mode="replay")
    with pytest.raises(CacheMissError, match="cache_mode='replay'.*has no reply") as info:
        client.chat("never recorded")
    assert len(info.value.key) == 64
    assert server.requests == []
    assert client.usage.requests == 0


def test_replay_hit_needs_no_server_and_no_key(tmp_path, monkeypatch):
    path = tmp_path / "c.sqlite"
    with LocalLLMServer(lambda request: "recorded") as srv:
        srv.client(cache=path, temperature=0.0, seed=3).chat("prompt", logprobs=True)
        assert len(srv.requests) == 1
    # The server is gone; a remote base URL without any key would fail on a request.
    replay = LLMClient(
        "tabsift-test",
        base_url="https://llm.example.invalid/v1",
        temperature=0.0,
        seed=3,
        cache=path,
        cache_mode="replay",
    )
    reply = replay.chat("prompt", logprobs=True)
    assert reply.cached and reply.text == "recorded"
    assert reply.choices[0].logprobs[0].token == "recorded"
    assert replay.usage.requests == 0 and replay.usage.cached_requests == 1


# --------------------------------------------------------------------------- concurrency
def test_cache_shared_by_threads(server, tmp_path):
    cache = ResponseCache(tmp_path / "threads.sqlite")
    errors = []

    def writer(i):
        try:
            for j in range(25):
                key = f"t{i}-{j}"
                cache.put(key, {"model": "m"}, reply(f"{i}-{j}", prompt_tokens=i))
                assert cache.get(key) == reply(f"{i}-{j}", prompt_tokens=i)
                assert len(cache) >= 1
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) == 150


def test_clients_in_threads_share_one_cache(server, tmp_path):
    path = tmp_path / "c.sqlite"
    server.responder = lambda request: "same"
    clients = [server.client(cache=path) for _ in range(4)]
    replies, errors = [], []

    def work(client):
        try:
            for j in range(5):
                replies.append(client.chat(f"prompt {j}"))
        except Exception as err:  # reported below: a thread's exception is otherwise lost
            errors.append(repr(err))

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(replies) == 20 and all(r.text == "same" for r in replies)
    assert len(ResponseCache(path)) == 5
    # Concurrent misses may each ask the server; later calls are all hits.
    assert 5 <= len(server.requests) <= 20
    assert sum(r.cached for r in replies) == 20 - len(server.requests)


def test_cache_shared_with_another_process(tmp_path):
    path = tmp_path / "proc.sqlite"
    cache = ResponseCache(path)
    cache.put("parent-0", {}, reply("parent"))
    script = textwrap.dedent(
        f"""
        from tabsift.llm import ResponseCache
        reply = {reply("j")!r}
        cache = ResponseCache({str(path)!r})
        assert cache.get("parent-0")["choices"][0]["text"] == "parent"
        for j in range(200):
            reply["choices"][0]["text"] = str(j)
            cache.put(f"child-{{j}}", {{}}, reply)
        print(len(cache))
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for j in range(200):  # write while the child writes
        cache.put(f"parent-{j + 1}", {}, reply(str(j)))
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert int(out.strip()) >= 201
    assert len(cache) == 401
    assert cache.get("child-199") == reply("199")
