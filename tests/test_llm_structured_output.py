"""Structured output (issue 14): ``chat_json`` sends its schema as ``response_format``.

With ``structured_output="auto"`` the schema goes to the server as OpenAI's
``json_schema`` response format (vLLM guides its decoding by it); a server that
refuses it is asked by prompting alone from then on; the schema check stays the
authority either way.
"""

import pytest

from tabsift.llm import LLMClient, LLMResponseError, ResponseCache
from tabsift.llm.testing import LocalLLMServer, ScriptedResponder, with_reasoning

ANSWER = '{"choice": 5}'
DRAFT = 'First idea: {"choice": 0}. No wait, it must be 5.'
SCHEMA = {
    "type": "object",
    "properties": {"choice": {"type": "integer", "minimum": 0}},
    "required": ["choice"],
}
EXPECTED = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": SCHEMA, "strict": False},
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def reasoning_responder():
    return with_reasoning(lambda request: ANSWER, draft=DRAFT)


def test_vllm_guides_decoding_with_the_schema():
    with LocalLLMServer(reasoning_responder(), profile="vllm") as server:
        value, reply = server.client().chat_json("Pick a choice.", schema=SCHEMA)
        events = server.profile_events
        sent = server.requests[0]["response_format"]
    assert value == {"choice": 5}
    assert sent == EXPECTED
    assert events == {"guided": 1}  # the answer alone: no draft was generated
    assert reply.choices[0].reasoning is None


def test_the_schema_check_stays_the_authority_under_guided_decoding():
    # A server may guide loosely ("strict": False): what fails the schema is still rejected.
    replies = ScriptedResponder(['{"choice": -1}', ANSWER])
    with LocalLLMServer(replies, profile="vllm") as server:
        value, _ = server.client().chat_json("Pick.", schema=SCHEMA)
        assert len(server.requests) == 2
        assert all(r["response_format"] == EXPECTED for r in server.requests)
        assert "expected a number >= 0" in server.requests[1]["messages"][-1]["content"]
    assert value == {"choice": 5}


def test_openai_reasoning_accepts_response_format():
    with LocalLLMServer(reasoning_responder(), profile="openai-reasoning") as server:
        value, _ = server.client(max_tokens=200).chat_json("Pick.", schema=SCHEMA)
        assert server.requests[-1]["response_format"] == EXPECTED
        assert "rejected:response_format" not in server.profile_events
    assert value == {"choice": 5}


@pytest.mark.parametrize("profile", ["llamacpp", "ollama", "vllm-reasoning-parser", "tabsift"])
def test_other_profiles_take_the_final_answer_with_response_format(profile):
    with LocalLLMServer(reasoning_responder(), profile=profile) as server:
        client = server.client()
        value, _ = client.chat_json("Pick.", schema=SCHEMA)
        value2, _ = client.chat_json("Pick again.", schema=SCHEMA)
        assert all(r.get("response_format") == EXPECTED for r in server.requests)
        assert len(server.requests) == 2
    assert value == value2 == {"choice": 5}
    assert "response_format" not in client._quirks.dropped


def test_off_sends_no_response_format():
    with LocalLLMServer(reasoning_responder(), profile="vllm") as server:
        client = server.client(structured_output="off")
        value, reply = client.chat_json("Pick.", schema=SCHEMA)
        assert "response_format" not in server.requests[0]
        assert "guided" not in server.profile_events
    assert value == {"choice": 5}
    assert reply.choices[0].reasoning == DRAFT  # removed before parsing, as always


def test_no_schema_no_response_format():
    with LocalLLMServer(lambda request: ANSWER, profile="vllm") as server:
        value, _ = server.client().chat_json("Pick.")
        assert "response_format" not in server.requests[0]
    assert value == {"choice": 5}


def test_a_boolean_schema_is_not_sent():
    with LocalLLMServer(lambda request: ANSWER) as server:
        server.client().chat_json("Pick.", schema=True)
        assert "response_format" not in server.requests[0]


@pytest.mark.parametrize("given", [{"type": "json_object"}, None])
def test_an_explicit_response_format_wins(given):
    with LocalLLMServer(lambda request: ANSWER) as server:
        server.client().chat_json("Pick.", schema=SCHEMA, response_format=given)
        sent = server.requests[0].get("response_format")
    assert sent == given


def test_the_schema_given_is_not_shared_with_the_request():
    schema = {"type": "object", "properties": {"choice": {"type": "integer"}}}
    with LocalLLMServer(lambda request: ANSWER) as server:
        server.client().chat_json("Pick.", schema=schema)
    assert schema == {"type": "object", "properties": {"choice": {"type": "integer"}}}


def test_the_cache_key_holds_the_response_format(tmp_path):
    with LocalLLMServer(lambda request: ANSWER) as server:
        path = tmp_path / "c.sqlite"
        auto = server.client(cache=path)
        auto.chat_json("Pick.", schema=SCHEMA)
        auto.chat_json("Pick.", schema=SCHEMA)
        assert len(server.requests) == 1  # the second came from the cache
        off = server.client(cache=path, structured_output="off")
        off.chat_json("Pick.", schema=SCHEMA)
        assert len(server.requests) == 2  # a different request: a different key
    request = {
        "model": server.model,
        "messages": [{"role": "user", "content": "Pick."}],
        "temperature": None,
        "seed": None,
        "n": 1,
        "max_tokens": None,
        "logprobs": False,
        "top_logprobs": None,
        "response_format": EXPECTED,
        "stop": None,
    }
    assert ResponseCache(path).get(ResponseCache.make_key(request)) is not None


def test_unparsable_replies_are_still_rejected_under_structured_output():
    with LocalLLMServer(lambda request: "no json here", profile="vllm") as server:
        with pytest.raises(LLMResponseError) as info:
            server.client().chat_json("Pick.", schema=SCHEMA, max_attempts=2)
        assert len(server.requests) == 2
    assert info.value.reason == "unparsable"


# ------------------------------------------------------------------ the parameter
def test_parameter_is_validated():
    with LocalLLMServer(lambda request: ANSWER) as server:
        client = server.client(structured_output="json")
        with pytest.raises(ValueError, match=r"structured_output must be one of \['auto', 'off'\]"):
            client.chat_json("Pick.", schema=SCHEMA)
        with pytest.raises(ValueError, match="structured_output"):
            client.chat("Pick.")
        assert server.requests == []


def test_parameter_in_get_params_clone_and_repr():
    from sklearn.base import clone

    client = LLMClient("m", structured_output="off")
    assert client.get_params()["structured_output"] == "off"
    assert LLMClient("m").get_params()["structured_output"] == "auto"
    assert clone(client).structured_output == "off"
    assert repr(client) == "LLMClient(model='m', structured_output='off')"
    assert repr(LLMClient("m")) == "LLMClient(model='m')"
    assert client.set_params(structured_output="auto").structured_output == "auto"


def test_pickle_keeps_the_parameter():
    import pickle

    client = LLMClient("m", structured_output="off")
    assert pickle.loads(pickle.dumps(client)).structured_output == "off"
