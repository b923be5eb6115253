"""Server profiles for :class:`LocalLLMServer`: how each real server refuses and replies.

A :class:`ServerProfile` decides, for one running test server, which requests
the imitated server refuses and how it shapes a reply (reasoning, token
limits, usage, log-probabilities), and counts what it did.
"""

import collections
import hashlib
import itertools
import re
import threading
import time

from tabsift.llm._testing_responders import ReasonedReply

__all__ = ["FILTER_PROMPT_TRIGGER", "FILTER_REPLY_TRIGGER", "PROFILES", "ServerProfile"]

#: The server behaviours :class:`LocalLLMServer` can imitate (its ``profile``).
PROFILES = (
    "tabsift",
    "openai-reasoning",
    "ollama",
    "vllm",
    "vllm-reasoning-parser",
    "llamacpp",
    "azure-gateway",
)

#: With ``profile="azure-gateway"``, a request whose messages contain this word
#: is refused with the gateway's content-filter HTTP 400.
FILTER_PROMPT_TRIGGER = "TRIGGER-PROMPT-FILTER"

#: With ``profile="azure-gateway"``, a reply containing this word is cut just
#: before it, with ``finish_reason="content_filter"``.
FILTER_REPLY_TRIGGER = "TRIGGER-REPLY-FILTER"

# How each profile shows a reasoning draft: "think" (a <think> block at the start
# of content), "field" (message.reasoning_content) or "hidden" (only counted in
# usage.completion_tokens_details.reasoning_tokens).
_REASONING_STYLE = {
    "tabsift": "think",
    "openai-reasoning": "hidden",
    "ollama": "think",
    "vllm": "think",
    "vllm-reasoning-parser": "field",
    "llamacpp": "think",
    "azure-gateway": "think",
}
_TOKEN = re.compile(r"\S+\s*|\s+")


def _count_tokens(text):
    # The "tokenizer" of this server: whitespace-separated words.
    return len(text.split())


def _token_logprob(token):
    digest = hashlib.sha256(token.encode("utf-8")).digest()
    return -(int.from_bytes(digest[:4], "big") % 5000) / 1000.0


def _logprobs_for(text, top):
    content = []
    for token in _TOKEN.findall(text):
        logprob = _token_logprob(token)
        alternatives = [{"token": token, "logprob": logprob, "bytes": list(token.encode())}]
        for j in range(1, top):
            alt = f"{token.strip()}~{j}"
            alternatives.append(
                {"token": alt, "logprob": logprob - 0.25 - 0.5 * j, "bytes": list(alt.encode())}
            )
        content.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": alternatives[:top],
            }
        )
    return {"content": content, "refusal": None}


def _limit_of(request):
    limit = request.get("max_tokens")
    if limit is None:
        limit = request.get("max_completion_tokens")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def _cut_words(text, limit):
    kept, words = [], 0
    for token in _TOKEN.findall(text):
        words += bool(token.strip())
        if words > limit:
            break
        kept.append(token)
    return "".join(kept).rstrip()


def _apply_limits(text, request, limit=None):
    """Cut the text at a stop sequence or at max_tokens words, like a real server."""
    finish = "stop"
    stop = request.get("stop")
    for sequence in [stop] if isinstance(stop, str) else (stop or []):
        if sequence and sequence in text:
            text = text[: text.index(sequence)]
    limit = _limit_of(request) if limit is None else limit
    if limit is not None and _count_tokens(text) > limit:
        text = _cut_words(text, limit)
        finish = "length"
    return text, finish


def _message_texts(request):
    """Return the text of every message of a chat request (str contents and text parts)."""
    for message in request.get("messages") or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    yield part["text"]


def _unsupported(message, param, code):
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }


class ServerProfile:
    """The behaviour of the server named ``name`` (one of :data:`PROFILES`), with its counters.

    Parameters
    ----------
    name : str
        The profile.
    model : str
        The model named in replies to requests that name none.
    """

    def __init__(self, name, model):
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}; expected one of {list(PROFILES)}.")
        self.name = name
        self.model = model
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._events = collections.Counter()
        self._gated = 0  # chat requests the profile has seen (azure-gateway's schedule)
        self._completions = 0  # replies built (llamacpp's usage schedule)

    def _event(self, name):
        with self._lock:
            self._events[name] += 1

    def events(self):
        """Return what the profile did so far, as ``{event: count}``."""
        with self._lock:
            return {name: count for name, count in sorted(self._events.items()) if count}

    def gate(self, request, n):
        """Return ``(status, body, headers)`` when the profile refuses the request, else None."""
        profile = self.name
        if profile == "openai-reasoning":
            return self._gate_openai_reasoning(request)
        if profile == "llamacpp" and n > 1:
            self._event("refused_n")
            body = {
                "error": {
                    "code": 500,
                    "message": "Only one completion choice is allowed",
                    "type": "server_error",
                }
            }
            return 500, body, ()
        if profile == "azure-gateway":
            return self._gate_azure(request)
        return None

    def _gate_openai_reasoning(self, request):
        if request.get("max_tokens") is not None:
            self._event("rejected:max_tokens")
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            return 400, _unsupported(message, "max_tokens", "unsupported_parameter"), ()
        temperature = request.get("temperature")
        if temperature is not None and temperature != 1:
            self._event("rejected:temperature")
            message = (
                f"Unsupported value: 'temperature' does not support {temperature!r} with this "
                "model. Only the default (1) value is supported."
            )
            return 400, _unsupported(message, "temperature", "unsupported_value"), ()
        for name in ("logprobs", "top_logprobs"):
            if request.get(name) not in (None, False):
                self._event(f"rejected:{name}")
                message = f"Unsupported parameter: '{name}' is not supported with this model."
                return 400, _unsupported(message, name, "unsupported_parameter"), ()
        return None

    def _gate_azure(self, request):
        with self._lock:
            self._gated += 1
            number = self._gated
        if number % 3 == 0:
            self._event("rate_limited")
            message = (
                "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
                "2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. "
                "Please retry after 0 seconds."
            )
            headers = [("Retry-After", "0"), ("retry-after-ms", "0")]
            return 429, {"error": {"code": "429", "message": message}}, headers
        if number == 4:
            self._event("unavailable")
            message = "The service is temporarily unavailable. Please try again later."
            return 503, {"error": {"code": "503", "message": message, "type": "server_error"}}, ()
        if any(FILTER_PROMPT_TRIGGER in text for text in _message_texts(request)):
            self._event("filtered_prompt")
            body = {
                "error": {
                    "code": "content_filter",
                    "message": (
                        "The response was filtered due to the prompt triggering Azure OpenAI's "
                        "content management policy. Please modify your prompt and retry."
                    ),
                    "param": "prompt",
                    "status": 400,
                }
            }
            return 400, body, ()
        return None

    def served_n(self, request, n):
        """How many choices the profile returns for ``n``."""
        if self.name == "ollama" and n > 1:
            self._event("reduced_n")
            return 1
        return n

    def _choice(self, index, reply, request, *, guided, top):
        """Build one choice; return it with its (completion, reasoning) token counts."""
        style = _REASONING_STYLE[self.name]
        reasoning, answer = (
            (reply.reasoning, reply.answer) if isinstance(reply, ReasonedReply) else (None, reply)
        )
        if guided and style == "think":
            reasoning = None  # decoding is constrained to the JSON schema from the first token
        if reasoning is not None:
            self._event("reasoning")
            if style == "think":
                answer, reasoning = f"<think>\n{reasoning}\n</think>\n\n{answer}", None
        reasoning_tokens = 0
        limit = _limit_of(request)
        if reasoning is None:
            content, finish = _apply_limits(answer, request)
        else:  # reasoning tokens count against the limit, as on the real servers
            reasoning_tokens = _count_tokens(reasoning)
            if limit is not None and reasoning_tokens >= limit:
                reasoning, reasoning_tokens = _cut_words(reasoning, limit), limit
                content, finish = "", "length"
            else:
                left = None if limit is None else limit - reasoning_tokens
                content, finish = _apply_limits(answer, request, left)
        choice = {"index": index}
        if self.name == "azure-gateway":
            filtered = FILTER_REPLY_TRIGGER in content
            if filtered:
                self._event("filtered_reply")
                content = content[: content.index(FILTER_REPLY_TRIGGER)].rstrip()
                finish = "content_filter"
            choice["content_filter_results"] = {
                "violence": {"filtered": filtered, "severity": "medium" if filtered else "safe"}
            }
        message = {"role": "assistant", "content": content, "refusal": None}
        if style == "field":
            message["reasoning_content"] = reasoning
        want_logprobs = bool(request.get("logprobs"))
        if want_logprobs and self.name == "ollama":
            want_logprobs = False
            self._event("ignored_logprobs")
        choice["message"] = message
        choice["finish_reason"] = finish
        choice["logprobs"] = _logprobs_for(content, top) if want_logprobs else None
        return choice, _count_tokens(content) + reasoning_tokens, reasoning_tokens

    def completion(self, request, texts):
        top = request.get("top_logprobs") or 0
        prompt_tokens = sum(_count_tokens(text) for text in _message_texts(request))
        response_format = request.get("response_format")
        guided = (
            self.name in ("vllm", "vllm-reasoning-parser")
            and isinstance(response_format, dict)
            and response_format.get("type") in ("json_object", "json_schema")
        )
        if guided:
            self._event("guided")
        choices = []
        completion_tokens = reasoning_tokens = 0
        for index, reply in enumerate(texts):
            choice, used, reasoned = self._choice(index, reply, request, guided=guided, top=top)
            choices.append(choice)
            completion_tokens += used
            reasoning_tokens += reasoned
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if self.name == "openai-reasoning":
            usage["prompt_tokens_details"] = {"cached_tokens": 0}
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
        reply = {
            "id": f"chatcmpl-tabsift-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or self.model,
            "choices": choices,
            "usage": usage,
        }
        if self.name == "llamacpp":
            with self._lock:
                self._completions += 1
                number = self._completions
            if number % 2:  # odd replies carry no usage, even ones zeros
                self._event("usage_missing")
                del reply["usage"]
            else:
                self._event("usage_zero")
                reply["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        return reply
