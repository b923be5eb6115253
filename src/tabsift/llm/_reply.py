"""Reply parsing: a server's chat completion as a :class:`ChatResponse`, and what it costs."""

import math

from tabsift.llm._reasoning import split_reasoning
from tabsift.llm._response import ChatResponse, Choice, TokenLogprob, TokenUsage

# Characters per token when the server reports no usage: fewer than any real
# tokenizer averages, so the estimate errs on the side of the budget.
_CHARS_PER_TOKEN = 3


class MalformedReply(Exception):
    """The server answered 200 with something that is not a chat completion."""


def parse_completion(raw, requested_model):
    """Turn the openai ``ChatCompletion`` into a :class:`ChatResponse`."""
    if raw is None or isinstance(raw, (str, bytes)):
        raise MalformedReply("the server's reply is not a JSON chat completion")
    try:
        raw_choices = raw.choices
        if not isinstance(raw_choices, list) or not raw_choices:
            raise MalformedReply("the server's reply has no 'choices'")
        choices = [_parse_choice(raw_choice) for raw_choice in raw_choices]
        raw_usage = getattr(raw, "usage", None)
        if raw_usage is not None:
            prompt = int(getattr(raw_usage, "prompt_tokens", 0) or 0)
            completion = int(getattr(raw_usage, "completion_tokens", 0) or 0)
            total = int(getattr(raw_usage, "total_tokens", 0) or (prompt + completion))
            usage = TokenUsage(prompt, completion, total)
        else:
            usage = TokenUsage()
        model = getattr(raw, "model", None)
    except (AttributeError, TypeError, ValueError) as err:
        raise MalformedReply(f"the server's reply is not a valid chat completion ({err})") from err
    return ChatResponse(
        choices=choices,
        usage=usage,
        cached=False,
        model=model if isinstance(model, str) else requested_model,
    )


def _parse_choice(raw_choice):
    message = raw_choice.message
    content = message.content
    if content is not None and not isinstance(content, str):
        raise MalformedReply("a choice's message content is not a string")
    text, thought = split_reasoning(content or "")
    field = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    reasoning = field if isinstance(field, str) and field else thought
    logprobs = _parse_logprobs(getattr(raw_choice, "logprobs", None))
    finish = raw_choice.finish_reason
    return Choice(text, finish if isinstance(finish, str) else None, logprobs, reasoning)


def _parse_logprobs(raw_logprobs):
    tokens = getattr(raw_logprobs, "content", None) if raw_logprobs is not None else None
    if tokens is None:
        return None
    logprobs = tuple(
        TokenLogprob(
            str(t.token),
            float(t.logprob),
            tuple(
                (str(alt.token), float(alt.logprob))
                for alt in (getattr(t, "top_logprobs", None) or ())
            ),
        )
        for t in tokens
    )
    if not all(
        math.isfinite(t.logprob) and all(math.isfinite(a[1]) for a in t.top_logprobs)
        for t in logprobs
    ):
        return None  # NaN or infinite log-probabilities are no information
    return logprobs


def join_replies(responses, model):
    """One :class:`ChatResponse` holding the choices and summed usage of ``responses``."""
    return ChatResponse(
        choices=[choice for response in responses for choice in response.choices],
        usage=TokenUsage(
            sum(response.usage.prompt_tokens for response in responses),
            sum(response.usage.completion_tokens for response in responses),
            sum(response.usage.total_tokens for response in responses),
        ),
        cached=False,
        model=model,
    )


def _estimate_tokens(text):
    """Return a conservative local token count: ``ceil(len(text) / 3)``, no vocabulary needed."""
    return -(-len(text) // _CHARS_PER_TOKEN)


def charged_usage(request, response):
    """Return the server's usage, or a conservative local estimate when it reports none."""
    if response.usage.total_tokens > 0:
        return response.usage
    prompt = _estimate_tokens("".join(m["content"] for m in request["messages"]))
    completion = sum(
        _estimate_tokens(c.text) + _estimate_tokens(c.reasoning or "") for c in response.choices
    )
    return TokenUsage(prompt, completion, prompt + completion)
