"""LocalLLMServer profiles: each imitates what a real server documentedly does.

Server-level tests talk to the server with the official ``openai`` client and
check status codes, bodies and fields. Client-level tests check that
``LLMClient`` copes with each profile: the final answer is used, never the
draft inside the reasoning.
"""

import json

import pytest

from tabsift.llm import LLMError, LLMResponseError
from tabsift.llm.testing import (
    FILTER_PROMPT_TRIGGER,
    FILTER_REPLY_TRIGGER,
    PROFILES,
    LocalLLMServer,
    ReasonedReply,
    ScriptedResponder,
    with_reasoning,
)

openai = pytest.importorskip("openai")

ANSWER = '{"choice": 5}'
DRAFT = 'First idea: {"choice": 0}. No wait, it must be 5.'
USER = [{"role": "user", "content": "Pick a choice; answer as JSON."}]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def reasoning_responder():
    return with_reasoning(lambda request: ANSWER, draft=DRAFT)


def raw_client(server):
    """The official openai client, no retries, no proxy."""
    return openai.OpenAI(
        base_url=server.base_url,
        api_key="sk-local",
        max_retries=0,
        timeout=5.0,
        http_client=openai.DefaultHttpxClient(trust_env=False),
    )


def create(server, **kwargs):
    kwargs.setdefault("model", server.model)
    kwargs.setdefault("messages", USER)
    return raw_client(server).chat.completions.create(**kwargs)


def status_error(server, **kwargs):
    with pytest.raises(openai.APIStatusError) as info:
        create(server, **kwargs)
    return info.value


# ------------------------------------------------------------------ the helpers
def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match=r"unknown profile 'sglang'; expected one of \["):
        LocalLLMServer(profile="sglang")
    assert PROFILES[0] == "tabsift"


def test_with_reasoning_wraps_str_list_and_callable_drafts():
    responder = with_reasoning(lambda request: ["a", "b"], draft=lambda request: "d" * 2)
    assert responder({}) == [ReasonedReply("a", "dd"), ReasonedReply("b", "dd")]
    echo = with_reasoning(draft="hm")({"messages": [{"role": "user", "content": "hi"}]})
    assert echo == ReasonedReply("hi", reasoning="hm")
    assert repr(echo) == "ReasonedReply('hi', reasoning='hm')"
    with pytest.raises(TypeError, match="draft must be a str or a callable"):
        with_reasoning(draft=3)
    with pytest.raises(TypeError, match="answer must be a str"):
        ReasonedReply(None, "x")


def test_bad_responder_reply_is_http_500():
    with LocalLLMServer(lambda request: 42, profile="vllm") as server:
        error = status_error(server)
    assert error.status_code == 500
    assert "must return str (or ReasonedReply) replies, found int" in error.body["message"]


# ------------------------------------------------------------------ tabsift
def test_tabsift_profile_keeps_todays_replies_and_puts_drafts_in_think_blocks():
    with LocalLLMServer(ScriptedResponder(["plain", ReasonedReply(ANSWER, DRAFT)])) as server:
        first = create(server, temperature=0.0, max_tokens=50, logprobs=True)
        second = create(server)
        assert server.profile_events == {"reasoning": 1}
    assert first.choices[0].message.content == "plain"
    assert first.choices[0].logprobs is not None
    assert second.choices[0].message.content == f"<think>\n{DRAFT}\n</think>\n\n{ANSWER}"


# ------------------------------------------------------------------ openai-reasoning
def test_openai_reasoning_rejects_max_tokens():
    with LocalLLMServer(profile="openai-reasoning") as server:
        error = status_error(server, max_tokens=10)
        assert server.profile_events == {"rejected:max_tokens": 1}
    assert error.status_code == 400
    assert error.body == {
        "message": (
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead."
        ),
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }


@pytest.mark.parametrize("temperature", [0.0, 0.7, 2])
def test_openai_reasoning_rejects_temperatures_but_1(temperature):
    with LocalLLMServer(profile="openai-reasoning") as server:
        error = status_error(server, temperature=temperature)
        assert create(server, temperature=1).choices[0].finish_reason == "stop"
        assert server.profile_events == {"rejected:temperature": 1}
    assert error.status_code == 400
    assert error.body["message"] == (
        f"Unsupported value: 'temperature' does not support {temperature!r} with this model. "
        "Only the default (1) value is supported."
    )
    assert (error.body["param"], error.body["code"]) == ("temperature", "unsupported_value")
    assert error.body["type"] == "invalid_request_error"


def test_openai_reasoning_rejects_logprobs():
    with LocalLLMServer(profile="openai-reasoning") as server:
        logprobs = status_error(server, logprobs=True)
        top = status_error(server, logprobs=False, top_logprobs=2)
        assert server.profile_events == {"rejected:logprobs": 1, "rejected:top_logprobs": 1}
    assert (logprobs.status_code, logprobs.body["param"]) == (400, "logprobs")
    assert logprobs.body["code"] == "unsupported_parameter"
    assert top.body["param"] == "top_logprobs"


def test_openai_reasoning_hides_the_draft_and_counts_reasoning_tokens():
    with LocalLLMServer(reasoning_responder(), profile="openai-reasoning") as server:
        reply = create(server, max_completion_tokens=100, n=2)
        assert server.profile_events == {"reasoning": 2}
    assert [c.message.content for c in reply.choices] == [ANSWER, ANSWER]
    draft_tokens = len(DRAFT.split())
    assert reply.usage.completion_tokens_details.reasoning_tokens == 2 * draft_tokens
    assert reply.usage.completion_tokens == 2 * (draft_tokens + 2)
    assert not hasattr(reply.choices[0].message, "reasoning_content")


def test_openai_reasoning_draft_can_use_up_max_completion_tokens():
    with LocalLLMServer(reasoning_responder(), profile="openai-reasoning") as server:
        cut = create(server, max_completion_tokens=3)
        tight = create(server, max_completion_tokens=len(DRAFT.split()) + 1)
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == ("", "length")
    assert cut.usage.completion_tokens_details.reasoning_tokens == 3
    assert tight.choices[0].message.content == '{"choice":'
    assert tight.choices[0].finish_reason == "length"


# ------------------------------------------------------------------ ollama
def test_ollama_thinks_in_content_ignores_logprobs_and_gives_one_choice():
    responder = ScriptedResponder([ReasonedReply(ANSWER, DRAFT), "second"])
    with LocalLLMServer(responder, profile="ollama") as server:
        reply = create(server, n=3, logprobs=True, top_logprobs=2, temperature=0.0)
        assert server.profile_events == {"ignored_logprobs": 1, "reasoning": 1, "reduced_n": 1}
    assert responder.calls == 1
    assert len(reply.choices) == 1
    choice = reply.choices[0]
    assert choice.message.content == f"<think>\n{DRAFT}\n</think>\n\n{ANSWER}"
    assert choice.logprobs is None
    assert reply.usage.completion_tokens == len(choice.message.content.split())


def test_ollama_list_responder_keeps_the_first_choice():
    with LocalLLMServer(lambda request: ["a", "b"], profile="ollama") as server:
        reply = create(server, n=2)
    assert [c.message.content for c in reply.choices] == ["a"]


# ------------------------------------------------------------------ vllm
def test_vllm_thinks_in_content_with_logprobs_and_n():
    with LocalLLMServer(reasoning_responder(), profile="vllm") as server:
        reply = create(server, n=2, logprobs=True, top_logprobs=1, temperature=0.0, seed=1)
        assert server.profile_events == {"reasoning": 2}
    assert len(reply.choices) == 2
    content = reply.choices[0].message.content
    assert content.startswith("<think>\n") and content.endswith(f"</think>\n\n{ANSWER}")
    tokens = "".join(t.token for t in reply.choices[0].logprobs.content)
    assert tokens == content


def test_vllm_max_tokens_counts_the_think_block():
    with LocalLLMServer(reasoning_responder(), profile="vllm") as server:
        reply = create(server, max_tokens=3)
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.content == "<think>\nFirst idea:"


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_object"},
        {
            "type": "json_schema",
            "json_schema": {"name": "pick", "schema": {"type": "object"}, "strict": True},
        },
    ],
)
def test_vllm_guided_decoding_gives_the_answer_alone(response_format):
    with LocalLLMServer(reasoning_responder(), profile="vllm") as server:
        reply = create(server, response_format=response_format)
        assert server.profile_events == {"guided": 1}
    assert reply.choices[0].message.content == ANSWER


def test_vllm_reasoning_parser_uses_reasoning_content():
    responder = ScriptedResponder([ReasonedReply(ANSWER, DRAFT), ANSWER])
    with LocalLLMServer(responder, profile="vllm-reasoning-parser") as server:
        reasoned = create(server, logprobs=True)
        plain = create(server, response_format={"type": "json_object"})
        assert server.profile_events == {"guided": 1, "reasoning": 1}
    message = reasoned.choices[0].message
    assert (message.content, message.reasoning_content) == (ANSWER, DRAFT)
    assert "".join(t.token for t in reasoned.choices[0].logprobs.content) == ANSWER
    assert plain.choices[0].message.reasoning_content is None
    assert reasoned.usage.completion_tokens == len(DRAFT.split()) + 2


def test_vllm_reasoning_parser_keeps_reasoning_under_guided_decoding():
    with LocalLLMServer(reasoning_responder(), profile="vllm-reasoning-parser") as server:
        reply = create(server, response_format={"type": "json_object"})
    message = reply.choices[0].message
    assert (message.content, message.reasoning_content) == (ANSWER, DRAFT)


# ------------------------------------------------------------------ llama.cpp
def test_llamacpp_refuses_n_above_1_with_http_500():
    responder = ScriptedResponder(["x"])
    with LocalLLMServer(responder, profile="llamacpp") as server:
        error = status_error(server, n=2)
        assert server.profile_events == {"refused_n": 1}
    assert error.status_code == 500
    assert error.response.json() == {
        "error": {
            "code": 500,
            "message": "Only one completion choice is allowed",
            "type": "server_error",
        }
    }
    assert responder.calls == 0


def test_llamacpp_usage_is_missing_or_zero_and_drafts_are_think_blocks():
    with LocalLLMServer(reasoning_responder(), profile="llamacpp") as server:
        first = create(server, n=1)
        second = create(server)
        assert server.profile_events == {"reasoning": 2, "usage_missing": 1, "usage_zero": 1}
    assert first.usage is None
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (0, 0)
    assert second.usage.total_tokens == 0
    assert first.choices[0].message.content.startswith(f"<think>\n{DRAFT}\n</think>")


# ------------------------------------------------------------------ azure gateway
def test_azure_gateway_schedule_of_429_and_503():
    statuses, retry_after = [], []
    with LocalLLMServer(profile="azure-gateway") as server:
        for _ in range(9):  # bounded: the schedule repeats every 3 requests
            try:
                create(server)
                statuses.append(200)
            except openai.APIStatusError as err:
                statuses.append(err.status_code)
                if err.status_code == 429:
                    retry_after.append(err.response.headers["Retry-After"])
                    assert "Please retry after 0 seconds" in err.body["message"]
        assert server.profile_events == {"rate_limited": 3, "unavailable": 1}
    assert statuses == [200, 200, 429, 503, 200, 429, 200, 200, 429]
    assert retry_after == ["0", "0", "0"]


def test_azure_gateway_filters_a_prompt_with_http_400():
    messages = [{"role": "user", "content": f"Tell me about {FILTER_PROMPT_TRIGGER}."}]
    with LocalLLMServer(profile="azure-gateway") as server:
        error = status_error(server, messages=messages)
        assert server.profile_events == {"filtered_prompt": 1}
    assert isinstance(error, openai.BadRequestError)
    body = error.response.json()["error"]
    assert (body["code"], body["param"], body["status"]) == ("content_filter", "prompt", 400)
    assert body["message"].startswith(
        "The response was filtered due to the prompt triggering Azure OpenAI's content "
        "management policy."
    )


def test_azure_gateway_filters_a_reply_with_finish_reason_content_filter():
    reply_text = f'{{"choice": 5}} and then {FILTER_REPLY_TRIGGER} more'
    with LocalLLMServer(ScriptedResponder([reply_text, "fine"]), profile="azure-gateway") as server:
        filtered = create(server)
        clean = create(server)
        assert server.profile_events == {"filtered_reply": 1}
    choice = filtered.choices[0]
    assert (choice.message.content, choice.finish_reason) == (
        '{"choice": 5} and then',
        "content_filter",
    )
    assert choice.content_filter_results == {"violence": {"filtered": True, "severity": "medium"}}
    assert clean.choices[0].finish_reason == "stop"
    assert clean.choices[0].content_filter_results["violence"]["filtered"] is False


# ------------------------------------------------------------------ LLMClient against each profile


@pytest.mark.parametrize(
    "profile",
    PROFILES,
)
def test_chat_json_returns_the_final_answer_not_the_draft(profile):
    with LocalLLMServer(reasoning_responder(), profile=profile) as server:
        client = server.client(max_retries=3)
        # azure-gateway: the 3rd and 4th requests are a 429 and a 503, both retried
        values = [client.chat_json(USER)[0] for _ in range(3)]
        events = server.profile_events
    assert values == [{"choice": 5}] * 3
    if profile != "openai-reasoning":  # there the reasoning is hidden, never sent
        assert events["reasoning"] == 3
    if profile == "azure-gateway":
        assert (events["rate_limited"], events["unavailable"]) == (1, 1)
        assert len(server.requests) == 5
    else:  # one request per answer, plus one negotiation at most
        assert len(server.requests) <= 4


@pytest.mark.parametrize(
    "profile",
    PROFILES,
)
def test_chat_json_never_answers_from_the_draft(profile):
    # The answer holds no JSON: the draft's JSON must not stand in for it.
    responder = with_reasoning(lambda request: "I cannot tell.", draft=DRAFT)
    with LocalLLMServer(responder, profile=profile) as server:
        with pytest.raises(LLMResponseError) as info:
            server.client().chat_json(USER, max_attempts=2)
    assert info.value.text is None or "choice" not in info.value.text.rpartition("</think>")[2]


def test_chat_json_says_a_reply_without_json_is_unparsable():
    responder = with_reasoning(lambda request: "I cannot tell.", draft=DRAFT)
    with LocalLLMServer(responder, profile="vllm") as server:
        with pytest.raises(LLMResponseError) as info:
            server.client().chat_json(USER, max_attempts=2)
    assert info.value.reason == "unparsable"


@pytest.mark.parametrize("profile", ["llamacpp", "ollama"])
def test_chat_with_n_above_1_gets_n_choices(profile):
    with LocalLLMServer(ScriptedResponder(["a", "b", "c"]), profile=profile) as server:
        reply = server.client().chat("Pick.", n=3)
    assert sorted(reply.texts) == ["a", "b", "c"]


def test_openai_reasoning_logprobs_degrade_to_none():
    with LocalLLMServer(reasoning_responder(), profile="openai-reasoning") as server:
        reply = server.client().chat("Pick.", logprobs=True)
    assert reply.choices[0].logprobs is None
    assert reply.text == ANSWER


def test_openai_reasoning_truncated_reply_is_a_truncation():
    with LocalLLMServer(reasoning_responder(), profile="openai-reasoning") as server:
        with pytest.raises(LLMResponseError) as info:
            server.client().chat_json(USER, max_tokens=3, max_attempts=2)
    assert info.value.reason == "truncated"


def test_azure_gateway_filtered_prompt_is_a_refusal():
    messages = [{"role": "user", "content": f"{FILTER_PROMPT_TRIGGER}: answer as JSON."}]
    with LocalLLMServer(reasoning_responder(), profile="azure-gateway") as server:
        with pytest.raises(LLMError) as info:
            server.client().chat_json(messages)
        assert len(server.requests) == 1  # deterministic: not retried
    assert isinstance(info.value, LLMResponseError)
    assert info.value.reason == "refused"


def test_azure_gateway_filtered_reply_is_a_refusal():
    reply_text = f"{ANSWER} {FILTER_REPLY_TRIGGER}"
    with LocalLLMServer(lambda request: reply_text, profile="azure-gateway") as server:
        with pytest.raises(LLMResponseError) as info:
            server.client().chat_json(USER, max_attempts=2)
    assert info.value.reason == "refused"


def test_llamacpp_budget_holds_without_usage():
    from tabsift.llm import BudgetExceededError

    reply = " ".join(["word"] * 40)
    with LocalLLMServer(lambda request: reply, profile="llamacpp") as server:
        client = server.client(max_total_tokens=200)
        with pytest.raises(BudgetExceededError):
            for _ in range(20):  # bounded: about 45 tokens a request
                client.chat("a prompt of a few words")
        assert len(server.requests) <= 8


def test_profile_requests_are_plain_json():
    # What the server records is the request body, whatever the profile did with it.
    with LocalLLMServer(profile="llamacpp") as server:
        with pytest.raises(openai.APIStatusError):
            create(server, n=2)
    assert json.loads(json.dumps(server.requests)) == server.requests
    assert server.requests[0]["n"] == 2
