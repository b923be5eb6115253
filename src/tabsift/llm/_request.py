"""Request checks: the client's settings, a call's arguments, and the request they make."""

import copy
import math
import numbers
import os

from tabsift.llm._cache import ResponseCache

_CACHE_MODES = ("off", "readwrite", "replay")
_STRUCTURED_OUTPUT = ("auto", "off")
_ROLES = ("system", "developer", "user", "assistant", "tool")
_MESSAGE_KEYS = frozenset({"role", "content", "name"})


def check_number(name, value, *, low=None, high=None, allow_none=False, integer=False):
    """Raise when ``value`` is not a finite number (an int) within ``[low, high]``."""
    if value is None and allow_none:
        return
    kind = "an int" if integer else "a number"
    ok_type = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(
        value, bool
    )
    if not ok_type or (not integer and not math.isfinite(value)):
        none = " or None" if allow_none else ""
        raise TypeError(f"{name} must be {kind}{none}, found {value!r}.")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, found {value!r}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, found {value!r}.")


def check_settings(llm):
    """Check the settings of the :class:`LLMClient` ``llm`` before a request."""
    if not isinstance(llm.model, str) or not llm.model:
        raise TypeError(f"model must be a non-empty str, found {llm.model!r}.")
    if llm.base_url is not None and not isinstance(llm.base_url, str):
        raise TypeError(f"base_url must be a str or None, found {llm.base_url!r}.")
    if llm.api_key is not None and not isinstance(llm.api_key, str):
        raise TypeError(f"api_key must be a str or None, found {type(llm.api_key).__name__}.")
    if not isinstance(llm.api_key_env, str) or not llm.api_key_env:
        raise TypeError(f"api_key_env must be a non-empty str, found {llm.api_key_env!r}.")
    check_number("timeout", llm.timeout, low=0)
    if llm.timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds, found {llm.timeout!r}.")
    check_number("max_retries", llm.max_retries, low=0, integer=True)
    check_number("backoff", llm.backoff, low=0)
    check_number("temperature", llm.temperature, low=0, high=2, allow_none=True)
    check_number("seed", llm.seed, allow_none=True, integer=True)
    check_number("max_tokens", llm.max_tokens, low=1, allow_none=True, integer=True)
    check_number("max_requests", llm.max_requests, low=0, allow_none=True, integer=True)
    check_number("max_total_tokens", llm.max_total_tokens, low=0, allow_none=True, integer=True)
    if llm.cache_mode not in _CACHE_MODES:
        raise ValueError(
            f"cache_mode must be one of {list(_CACHE_MODES)}, found {llm.cache_mode!r}."
        )
    if llm.cache is not None and not isinstance(llm.cache, (str, os.PathLike, ResponseCache)):
        raise TypeError(
            f"cache must be None, a path or a ResponseCache, found {type(llm.cache).__name__}."
        )
    if llm.structured_output not in _STRUCTURED_OUTPUT:
        raise ValueError(
            f"structured_output must be one of {list(_STRUCTURED_OUTPUT)}, found "
            f"{llm.structured_output!r}."
        )
    if llm.cache_mode == "replay" and llm.cache is None:
        raise ValueError(
            "cache_mode='replay' answers only from the response cache, but cache=None. "
            "Pass cache=<path of the recorded cache>, or use cache_mode='readwrite'."
        )


def normalize_messages(messages):
    """Return a prompt or a list of messages as a checked list of message dicts."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if isinstance(messages, dict):
        raise TypeError(
            "messages must be a str or a list of {'role', 'content'} dicts; found a single dict: "
            "wrap it in a list."
        )
    if not isinstance(messages, (list, tuple)):
        raise TypeError(
            "messages must be a str or a list of {'role', 'content'} dicts, found "
            f"{type(messages).__name__}."
        )
    if not messages:
        raise ValueError("messages is empty: give at least one {'role': 'user', ...} message.")
    return [_check_message(i, message) for i, message in enumerate(messages)]


def _check_message(i, message):
    if not isinstance(message, dict):
        raise TypeError(
            f"messages[{i}] must be a dict with 'role' and 'content', found "
            f"{type(message).__name__}."
        )
    missing = {"role", "content"} - set(message)
    if missing:
        raise ValueError(f"messages[{i}] lacks the key(s) {sorted(missing)}.")
    unknown = set(message) - _MESSAGE_KEYS
    if unknown:
        raise ValueError(
            f"messages[{i}] has unsupported key(s) {sorted(unknown)}; allowed: "
            f"{sorted(_MESSAGE_KEYS)}."
        )
    if message["role"] not in _ROLES:
        raise ValueError(
            f"messages[{i}]['role'] must be one of {list(_ROLES)}, found {message['role']!r}."
        )
    if not isinstance(message["content"], str):
        raise TypeError(
            f"messages[{i}]['content'] must be a str, found {type(message['content']).__name__}."
        )
    return dict(message)


def build_request(
    llm, messages, n, temperature, max_tokens, logprobs, top_logprobs, stop, response_format, seed
):
    """Check the arguments of :meth:`LLMClient.chat` and return the request they make.

    The request holds every field the server may get (None where unset): it is
    also what the response cache keys on.
    """
    msgs = normalize_messages(messages)
    check_number("n", n, low=1, integer=True)
    check_number("temperature", temperature, low=0, high=2, allow_none=True)
    check_number("max_tokens", max_tokens, low=1, allow_none=True, integer=True)
    check_number("top_logprobs", top_logprobs, low=0, high=20, allow_none=True, integer=True)
    check_number("seed", seed, allow_none=True, integer=True)
    if not isinstance(logprobs, bool):
        raise TypeError(f"logprobs must be a bool, found {logprobs!r}.")
    if stop is not None and not (
        isinstance(stop, str)
        or (isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop))
    ):
        raise TypeError(f"stop must be None, a str or a list of str, found {stop!r}.")
    if response_format is not None and not isinstance(response_format, dict):
        raise TypeError(
            "response_format must be None or a dict such as {'type': 'json_object'}, found "
            f"{type(response_format).__name__}."
        )
    temperature = llm.temperature if temperature is None else temperature
    return {
        "model": llm.model,
        "messages": msgs,
        "temperature": None if temperature is None else float(temperature),
        "seed": llm.seed if seed is None else int(seed),
        "n": int(n),
        "max_tokens": llm.max_tokens if max_tokens is None else int(max_tokens),
        "logprobs": bool(logprobs or top_logprobs is not None),
        "top_logprobs": None if top_logprobs is None else int(top_logprobs),
        "response_format": response_format,
        "stop": list(stop) if isinstance(stop, tuple) else stop,
    }


def json_schema_format(schema):
    """Return the ``response_format`` asking a server to guide its decoding by ``schema``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": copy.deepcopy(schema), "strict": False},
    }
