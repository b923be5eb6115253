"""The LLM client: one retried, budgeted, cached path to an OpenAI-compatible server."""

import copy
import inspect
import ipaddress
import json
import logging
import math
import numbers
import os
import random
import re
import threading
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

from tabsift.llm._cache import ResponseCache
from tabsift.llm._errors import (
    CacheMissError,
    LLMError,
    LLMRefusalError,
    LLMResponseError,
    LLMTruncatedError,
    LLMUnavailableError,
)
from tabsift.llm._response import ChatResponse, Choice, TokenLogprob, TokenUsage
from tabsift.llm._schema import validate_json
from tabsift.llm._structured import _split_reasoning, extract_json
from tabsift.llm._usage import _UsageMeter

__all__ = ["LLMClient"]

logger = logging.getLogger("tabsift.llm")

_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Sent to loopback servers when no key is configured: local servers do not check it.
_LOCAL_DUMMY_KEY = "tabsift-local-no-key"
_MAX_BACKOFF = 60.0  # seconds, cap of the exponential backoff
_MAX_RETRY_AFTER = 60.0  # seconds, cap of a server's Retry-After
_CACHE_MODES = ("off", "readwrite", "replay")
_STRUCTURED_OUTPUT = ("auto", "off")
_ROLES = ("system", "developer", "user", "assistant", "tool")
_MESSAGE_KEYS = frozenset({"role", "content", "name"})

_PARAM_NAMES = (
    "model",
    "base_url",
    "api_key_env",
    "timeout",
    "max_retries",
    "backoff",
    "temperature",
    "seed",
    "max_tokens",
    "max_requests",
    "max_total_tokens",
    "cache",
    "cache_mode",
    "structured_output",
)


class _MalformedReply(Exception):
    """The server answered 200 with something that is not a chat completion."""


class _DeadlineExceeded(Exception):
    """The request did not finish within the client's total deadline."""


class _RequestFailed(Exception):
    """A redacted stand-in for the openai exception, chained as ``__cause__``.

    The openai exception is never chained: it holds the request, whose headers
    carry the API key.
    """


class _SingleChoiceOnly(Exception):
    """The server refuses ``n > 1``."""


# Parameters a server may refuse, in the order their names are looked for in
# an error message (``top_logprobs`` before ``logprobs``: one contains the other).
_NEGOTIABLE = (
    "max_completion_tokens",
    "max_tokens",
    "top_logprobs",
    "logprobs",
    "temperature",
    "response_format",
    "seed",
    "n",
)
_NAMED = {name: re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-])") for name in _NEGOTIABLE}
# A server that cannot guide decoding with a schema may say so without naming
# ``response_format`` (vLLM's "features not supported by xgrammar").
_GUIDED = re.compile(
    r"json[_ ]schema|guided[_ ]decoding|structured[_ ]outputs?|grammar", re.IGNORECASE
)
_ONE_CHOICE = re.compile(r"only one (completion )?choice|n\s*>\s*1|n must be 1", re.IGNORECASE)
_CONTENT_FILTER = re.compile(
    r"content[ _-]?filter|content management policy|content[ _-]?policy|responsibleaipolicy"
    r"|safety system|flagged as potentially violating",
    re.IGNORECASE,
)
# Characters per token when the server reports no usage: fewer than any real
# tokenizer averages, so the estimate errs on the side of the budget.
_CHARS_PER_TOKEN = 3
# Seconds a request may run past ``timeout`` before it is abandoned.
_DEADLINE_MARGIN = 0.05


def _estimate_tokens(text):
    """A conservative local token count: ``ceil(len(text) / 3)``, no vocabulary needed."""
    return -(-len(text) // _CHARS_PER_TOKEN)


def _import_openai():
    from tabsift.utils import import_optional_dependency

    return import_optional_dependency("openai", purpose="tabsift.llm.LLMClient")


def _is_loopback(url):
    """Whether ``url`` points at this machine (127.0.0.0/8, ::1 or localhost)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _redact(text, secret):
    if secret and len(secret) >= 4:
        return str(text).replace(secret, "<redacted>")
    return str(text)


# ---------------------------------------------------------------------- parameter checks
def _check_number(name, value, *, low=None, high=None, allow_none=False, integer=False):
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


def _normalize_messages(messages):
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
    out = []
    for i, message in enumerate(messages):
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
                f"messages[{i}]['content'] must be a str, found "
                f"{type(message['content']).__name__}."
            )
        out.append(dict(message))
    return out


# ------------------------------------------------------------------- reply parsing
def _parse_completion(raw, requested_model):
    """Turn the openai ``ChatCompletion`` into a :class:`ChatResponse`."""
    if raw is None or isinstance(raw, (str, bytes)):
        raise _MalformedReply("the server's reply is not a JSON chat completion")
    try:
        raw_choices = raw.choices
        if not isinstance(raw_choices, list) or not raw_choices:
            raise _MalformedReply("the server's reply has no 'choices'")
        choices = []
        for raw_choice in raw_choices:
            message = raw_choice.message
            content = message.content
            if content is not None and not isinstance(content, str):
                raise _MalformedReply("a choice's message content is not a string")
            text, thought = _split_reasoning(content or "")
            field = getattr(message, "reasoning_content", None) or getattr(
                message, "reasoning", None
            )
            reasoning = field if isinstance(field, str) and field else thought
            logprobs = None
            raw_logprobs = getattr(raw_choice, "logprobs", None)
            tokens = getattr(raw_logprobs, "content", None) if raw_logprobs is not None else None
            if tokens is not None:
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
                    logprobs = None  # NaN or infinite log-probabilities are no information
            finish = raw_choice.finish_reason
            choices.append(
                Choice(text, finish if isinstance(finish, str) else None, logprobs, reasoning)
            )
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
        raise _MalformedReply(f"the server's reply is not a valid chat completion ({err})") from err
    return ChatResponse(
        choices=choices,
        usage=usage,
        cached=False,
        model=model if isinstance(model, str) else requested_model,
    )


def _error_text(err):
    """The message of an HTTP error reply (body and exception message)."""
    body = getattr(err, "body", None)
    parts = [str(getattr(err, "message", "") or "")]
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        message = inner.get("message")
        if isinstance(message, str) and message not in parts[0]:
            parts.append(message)
    return " ".join(p for p in parts if p)


def _error_field(err, name):
    body = getattr(err, "body", None)
    if not isinstance(body, dict):
        return None
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    value = inner.get(name)
    return value if isinstance(value, str) else None


def _names(err, text, name):
    """Whether an HTTP error reply names the request parameter ``name``."""
    if _error_field(err, "param") == name:
        return True
    if name == "response_format" and _GUIDED.search(text):
        return True
    return bool(_NAMED[name].search(text))


def _is_content_filter(err, text):
    code = _error_field(err, "code") or ""
    return "content_filter" in code.lower() or bool(_CONTENT_FILTER.search(text))


def _retry_after(response):
    """Seconds the server asked to wait (Retry-After / retry-after-ms), capped, or None."""
    if response is None:
        return None
    headers = response.headers
    seconds = None
    try:
        if headers.get("retry-after-ms") is not None:
            seconds = float(headers["retry-after-ms"]) / 1000.0
        elif headers.get("retry-after") is not None:
            value = headers["retry-after"]
            try:
                seconds = float(value)
            except ValueError:
                import email.utils  # only for the rare HTTP-date form

                when = email.utils.parsedate_to_datetime(value)
                seconds = when.timestamp() - time.time()
    except (TypeError, ValueError, OverflowError):
        return None
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


class LLMClient:
    """A client for any OpenAI-compatible chat server, with retries, a budget and a cache.

    All requests go through the official ``openai`` client, created on the
    first request. On top of it the client adds: one retry loop with
    exponential backoff and jitter (rate limits, server errors, timeouts,
    dropped connections and unreadable replies are retried; other HTTP 4xx
    errors are not), a hard budget on requests and tokens, thread-safe usage
    counters and a persistent response cache that can replay a run offline.

    The API key is never shown by :meth:`get_params`, ``repr``, logs, pickles
    or the cache. Pickles and deep copies drop it (it is read again from the
    environment variable ``api_key_env``); :func:`sklearn.base.clone` keeps it.

    Parameters
    ----------
    model : str, default="gpt-4o-mini"
        The model name sent to the server.
    base_url : str, default=None
        The server's API root, e.g. ``"http://127.0.0.1:8000/v1"``. None uses
        the environment variable ``OPENAI_BASE_URL``, else OpenAI's API.
        Loopback servers (127.0.0.0/8, ``::1``, ``localhost``) are reached
        directly, never through a proxy from the environment.
    api_key : str, default=None
        The API key. None reads the environment variable ``api_key_env`` at
        the first request. With no key, a loopback server gets a dummy key.
    api_key_env : str, default="OPENAI_API_KEY"
        The environment variable holding the key.
    timeout : float, default=30.0
        Total seconds one request may take: connecting, waiting and reading
        the whole reply (a server that trickles bytes is cut off at the
        deadline, and the request counts as timed out).
    max_retries : int, default=4
        Retries after a failed request (so at most ``max_retries + 1``
        requests per call).
    backoff : float, default=0.5
        Seconds before the first retry; doubled at each retry (capped at 60 s)
        and multiplied by a random factor in [0.5, 1]. A ``Retry-After`` header
        from the server replaces it (capped at 60 s).
    temperature : float, default=None
        Sampling temperature, unless a call gives its own. None sends none, so
        the server's default applies (reasoning models accept no other).
    seed : int, default=None
        Sampling seed sent to the server (best effort on the server's side),
        unless a call gives its own.
    max_tokens : int, default=None
        Maximum completion tokens per choice, unless a call gives its own.
    max_requests : int, default=None
        The most HTTP requests this client may send, retries included. None
        means no limit.
    max_total_tokens : int, default=None
        The most tokens (prompt and completion, as reported by the server) this
        client may use. When a server reports no usage, the tokens are
        estimated locally and conservatively (one token per 3 characters). A request is refused when the tokens used so far, plus
        the worst case ``n * max_tokens`` of the request when ``max_tokens`` is
        set, would exceed it. None means no limit.
    cache : str, path-like or ResponseCache, default=None
        The response cache, or the path of its SQLite file. None disables
        caching.
    cache_mode : {"readwrite", "off", "replay"}, default="readwrite"
        ``"readwrite"`` answers from the cache when it can and stores new
        replies; ``"off"`` ignores the cache; ``"replay"`` answers only from
        the cache and raises :class:`CacheMissError` on a miss: no network
        call and no key are needed, so a recorded run is reproducible offline.
    structured_output : {"auto", "off"}, default="auto"
        With ``"auto"``, :meth:`chat_json` given a ``schema`` also sends it as
        ``response_format={"type": "json_schema", ...}``, so that servers with
        structured outputs (vLLM's guided decoding, OpenAI, ...) constrain the
        reply to it. A server that refuses it is asked by prompting alone from
        then on. The reply is checked against the schema either way. ``"off"``
        never sends it.

    Attributes
    ----------
    usage : Usage
        A snapshot of what the client has spent (see :meth:`reset_usage`).

    See Also
    --------
    ResponseCache : The persistent cache.
    tabsift.llm.testing.LocalLLMServer : A local OpenAI-compatible server for tests.

    Notes
    -----
    Parameters are negotiated with the server: when it answers HTTP 400 (or
    422) naming a parameter or value it does not support (``temperature``,
    ``max_tokens``, ``logprobs``, ``top_logprobs``, ``n``,
    ``response_format`` or ``seed``), the client drops it (``max_tokens`` is
    renamed ``max_completion_tokens``), remembers that for later requests and
    sends the request again. A server that refuses ``n > 1`` gets ``n``
    separate requests. A reply without log-probabilities has
    ``logprobs=None``. Such errors, and other deterministic ones (HTTP 400,
    401, 403, 404, 422), are never retried by the backoff loop; a content
    filter's HTTP 400 raises :class:`LLMRefusalError`.

    Reasoning (``<think>`` blocks, a ``reasoning_content`` field) is removed
    from every choice's text and kept in :attr:`Choice.reasoning`.

    A cached reply is returned for an identical request (same model, messages,
    temperature, seed, ``n``, ``max_tokens``, log-probability options,
    ``response_format`` and ``stop``), even with a positive temperature: ask for
    ``n`` choices, or vary the seed, to get several samples.

    Clones made by :func:`sklearn.base.clone` start with fresh usage counters,
    so each clone has its own budget.

    Examples
    --------
    >>> from tabsift.llm import LLMClient
    >>> from tabsift.llm.testing import LocalLLMServer
    >>> with LocalLLMServer() as server:
    ...     client = LLMClient("tabsift-test", base_url=server.base_url, timeout=5.0)
    ...     reply = client.chat("hello there", n=2)
    >>> reply.texts
    ['hello there', 'hello there']
    >>> client.usage.requests, client.usage.total_tokens
    (1, 6)
    >>> LLMClient("gpt-4o-mini", api_key="sk-secret", temperature=0.0)
    LLMClient(model='gpt-4o-mini', temperature=0.0)
    """

    def __init__(
        self,
        model="gpt-4o-mini",
        *,
        base_url=None,
        api_key=None,
        api_key_env="OPENAI_API_KEY",
        timeout=30.0,
        max_retries=4,
        backoff=0.5,
        temperature=None,
        seed=None,
        max_tokens=None,
        max_requests=None,
        max_total_tokens=None,
        cache=None,
        cache_mode="readwrite",
        structured_output="auto",
    ):
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.temperature = temperature
        self.seed = seed
        self.max_tokens = max_tokens
        self.max_requests = max_requests
        self.max_total_tokens = max_total_tokens
        self.cache = cache
        self.cache_mode = cache_mode
        self.structured_output = structured_output
        self._init_private()

    def _init_private(self, usage=None):
        self._lock = threading.RLock()
        self._openai = None
        self._cache_store = None
        self._meter = _UsageMeter(usage)
        self._rng = random.Random()
        # What the server refused, learnt from its HTTP 400 replies.
        self._dropped = set()
        self._max_tokens_name = "max_tokens"
        self._single_choice = False

    # ------------------------------------------------------------ parameters
    def get_params(self, deep=False):
        """Return the settings, without the API key.

        Parameters
        ----------
        deep : bool, default=False
            Accepted for scikit-learn compatibility; there are no nested
            estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values (``api_key`` left out).
        """
        return {name: getattr(self, name) for name in _PARAM_NAMES}

    def set_params(self, **params):
        """Set settings (``api_key`` included) and drop the live connection.

        Parameters
        ----------
        **params
            Constructor parameters.

        Returns
        -------
        self : LLMClient
        """
        valid = set(_PARAM_NAMES) | {"api_key"}
        for name in params:
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for LLMClient; valid parameters: "
                    f"{sorted(valid)}."
                )
        for name, value in params.items():
            setattr(self, name, value)
        self.close()
        with self._lock:
            self._cache_store = None
        return self

    def __repr__(self):
        shown = [f"model={self.model!r}"]
        for name in _PARAM_NAMES[1:]:
            value = getattr(self, name)
            default = _DEFAULTS[name]
            if type(value) is not type(default) or value != default:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_clone__(self):
        # An explicit key is kept here, unlike in pickles: a clone lives in the
        # same process as the original.
        return type(self)(**self.get_params(deep=False), api_key=self.api_key)

    def __getstate__(self):
        # Only the settings: usage counters and what was learnt about the
        # server are run-time state. They stay out of pickles so that fitting
        # an estimator does not change the hash of its ``llm`` parameter
        # (scikit-learn's check_estimators_overwrite_params); a pickle starts
        # with a fresh budget, as a clone does.
        return self.get_params(deep=False)

    def __setstate__(self, state):
        state = dict(state)
        usage = state.pop("_usage", None)
        for name in _PARAM_NAMES:
            setattr(self, name, state.get(name, _DEFAULTS[name]))
        self.api_key = None  # read again from api_key_env
        self._init_private(usage)

    def __deepcopy__(self, memo):
        params = {name: copy.deepcopy(value, memo) for name, value in self.get_params().items()}
        new = type(self)(**params)
        new._meter = _UsageMeter(asdict(self._meter.snapshot()))
        return new

    # ------------------------------------------------------------ usage
    @property
    def usage(self):
        """A :class:`Usage` snapshot of what this client has spent."""
        return self._meter.snapshot()

    def reset_usage(self):
        """Set every usage counter back to zero (this also renews the budget)."""
        self._meter.reset()

    # ------------------------------------------------------------ lifecycle
    def close(self):
        """Close the HTTP connections (a later request opens new ones)."""
        with self._lock:
            client, self._openai = self._openai, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing is best effort; nothing to report to the caller
                logger.debug("closing the openai client failed", exc_info=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ------------------------------------------------------------ internals
    def _check_params(self):
        if not isinstance(self.model, str) or not self.model:
            raise TypeError(f"model must be a non-empty str, found {self.model!r}.")
        if self.base_url is not None and not isinstance(self.base_url, str):
            raise TypeError(f"base_url must be a str or None, found {self.base_url!r}.")
        if self.api_key is not None and not isinstance(self.api_key, str):
            raise TypeError(f"api_key must be a str or None, found {type(self.api_key).__name__}.")
        if not isinstance(self.api_key_env, str) or not self.api_key_env:
            raise TypeError(f"api_key_env must be a non-empty str, found {self.api_key_env!r}.")
        _check_number("timeout", self.timeout, low=0)
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, found {self.timeout!r}.")
        _check_number("max_retries", self.max_retries, low=0, integer=True)
        _check_number("backoff", self.backoff, low=0)
        _check_number("temperature", self.temperature, low=0, high=2, allow_none=True)
        _check_number("seed", self.seed, allow_none=True, integer=True)
        _check_number("max_tokens", self.max_tokens, low=1, allow_none=True, integer=True)
        _check_number("max_requests", self.max_requests, low=0, allow_none=True, integer=True)
        _check_number(
            "max_total_tokens", self.max_total_tokens, low=0, allow_none=True, integer=True
        )
        if self.cache_mode not in _CACHE_MODES:
            raise ValueError(
                f"cache_mode must be one of {list(_CACHE_MODES)}, found {self.cache_mode!r}."
            )
        if self.cache is not None and not isinstance(self.cache, (str, os.PathLike, ResponseCache)):
            raise TypeError(
                "cache must be None, a path or a ResponseCache, found "
                f"{type(self.cache).__name__}."
            )
        if self.structured_output not in _STRUCTURED_OUTPUT:
            raise ValueError(
                f"structured_output must be one of {list(_STRUCTURED_OUTPUT)}, found "
                f"{self.structured_output!r}."
            )
        if self.cache_mode == "replay" and self.cache is None:
            raise ValueError(
                "cache_mode='replay' answers only from the response cache, but cache=None. "
                "Pass cache=<path of the recorded cache>, or use cache_mode='readwrite'."
            )

    def _resolved_base_url(self):
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or _DEFAULT_BASE_URL

    def _resolve_api_key(self, base_url):
        if self.api_key:
            return self.api_key
        key = os.environ.get(self.api_key_env)
        if key:
            return key
        if _is_loopback(base_url):
            return _LOCAL_DUMMY_KEY
        raise LLMError(
            f"No API key for the LLM server at {base_url}: api_key=None and the environment "
            f"variable {self.api_key_env!r} is not set. Set {self.api_key_env}, pass "
            "api_key=..., or use api_key_env=<the variable holding your key>."
        )

    def _openai_client(self):
        with self._lock:
            if self._openai is None:
                openai = _import_openai()
                base_url = self._resolved_base_url()
                key = self._resolve_api_key(base_url)
                http_client = None
                if _is_loopback(base_url):
                    # trust_env=False: proxy variables (HTTP_PROXY, ALL_PROXY, ...) must
                    # not send requests for this machine to a proxy.
                    http_client = openai.DefaultHttpxClient(trust_env=False)
                self._openai = openai.OpenAI(
                    api_key=key,
                    base_url=base_url,
                    timeout=float(self.timeout),
                    # tabsift's retry loop is the only one: budget and usage stay exact.
                    max_retries=0,
                    http_client=http_client,
                )
            return self._openai

    def _store(self):
        if self.cache is None or self.cache_mode == "off":
            return None
        if isinstance(self.cache, ResponseCache):
            return self.cache
        with self._lock:
            path = Path(os.fspath(self.cache)).expanduser()
            if self._cache_store is None or self._cache_store.path != path:
                self._cache_store = ResponseCache(path)
            return self._cache_store

    def _classify(self, err):
        """Return (description, retryable, retry_after) for a failed request."""
        openai = _import_openai()
        if isinstance(err, _MalformedReply):
            return f"unreadable reply: {err}", True, None
        if isinstance(err, _DeadlineExceeded):
            return f"timeout (no complete answer within timeout={self.timeout}s)", True, None
        if isinstance(err, (json.JSONDecodeError, UnicodeDecodeError)):
            return f"unreadable reply: invalid JSON ({err})", True, None
        if isinstance(err, openai.APITimeoutError):
            return f"timeout (no answer within timeout={self.timeout}s)", True, None
        if isinstance(err, openai.APIConnectionError):
            cause = err.__cause__
            detail = f"{type(cause).__name__}: {cause}" if cause is not None else str(err)
            return f"connection error ({detail})", True, None
        if isinstance(err, openai.APIStatusError):
            status = err.status_code
            retryable = (status in (408, 429) or status >= 500) and not _ONE_CHOICE.search(
                _error_text(err)
            )
            return f"HTTP {status}", retryable, _retry_after(err.response) if retryable else None
        if isinstance(err, openai.APIResponseValidationError):
            return f"unreadable reply: {err}", True, None
        return f"{type(err).__name__}: {err}", False, None

    def _kwargs(self, request):
        """The arguments of ``create`` for ``request``, as negotiated with the server."""
        kwargs = {name: value for name, value in request.items() if value is not None}
        if kwargs.get("n") == 1:
            del kwargs["n"]  # the default; some servers reject the field
        if not kwargs.get("logprobs"):
            kwargs.pop("logprobs", None)
        for name in self._dropped:
            kwargs.pop(name, None)
        if "max_tokens" in kwargs and self._max_tokens_name != "max_tokens":
            kwargs[self._max_tokens_name] = kwargs.pop("max_tokens")
        return kwargs

    def _negotiate(self, err, kwargs):
        """Learn from a refused parameter; return what changed, or None.

        Raises :class:`_SingleChoiceOnly` when the server refuses ``n > 1``.
        """
        openai = _import_openai()
        if not isinstance(err, openai.APIStatusError):
            return None
        text = _error_text(err)
        if kwargs.get("n", 1) > 1 and (
            _ONE_CHOICE.search(text) or (err.status_code in (400, 422) and _names(err, text, "n"))
        ):
            raise _SingleChoiceOnly
        if err.status_code not in (400, 422):
            return None
        for name in _NEGOTIABLE:
            if name == "n" or name not in kwargs or not _names(err, text, name):
                continue
            with self._lock:
                if name == "max_tokens":
                    self._max_tokens_name = "max_completion_tokens"
                    change = "max_tokens sent as max_completion_tokens"
                elif name == "max_completion_tokens":
                    self._dropped.add("max_tokens")
                    self._max_tokens_name = "max_tokens"
                    change = "max_tokens dropped"
                elif name in ("logprobs", "top_logprobs"):
                    self._dropped.update(("logprobs", "top_logprobs"))
                    change = "logprobs dropped (replies have logprobs=None)"
                else:
                    self._dropped.add(name)
                    change = f"{name} dropped"
            logger.warning(
                "The LLM server at %s refused the parameter %r; %s for this client's later "
                "requests.",
                self._resolved_base_url(),
                name,
                change,
            )
            return change
        return None

    def _create(self, client, kwargs, deadline=None):
        """Call the server with a total deadline of ``timeout`` seconds (sooner at ``deadline``)."""
        box = {}

        def work():
            try:
                box["raw"] = client.chat.completions.create(**kwargs)
            except BaseException as err:  # handed to the calling thread
                box["error"] = err

        worker = threading.Thread(target=work, name="tabsift-llm-request", daemon=True)
        worker.start()
        wait = float(self.timeout) + _DEADLINE_MARGIN
        if deadline is not None:
            wait = min(wait, max(deadline - time.monotonic(), 0.0) + _DEADLINE_MARGIN)
        worker.join(wait)
        if worker.is_alive():
            # The read timeout of the HTTP client ends the abandoned request later.
            raise _DeadlineExceeded
        if "error" in box:
            raise box["error"]
        return box["raw"]

    def _send(self, request, deadline=None):
        """Send one chat request (negotiated, retried, budgeted); return a ChatResponse."""
        if request["n"] > 1 and self._single_choice:
            return self._send_separately(request, deadline=deadline)
        try:
            response = self._send_once(request, deadline)
        except _SingleChoiceOnly:
            pass
        else:
            if len(response.choices) >= request["n"]:
                return response
            # Some servers (Ollama's OpenAI endpoint) ignore n and return one choice
            # without an error: ask for the missing ones one at a time from now on.
            missing = request["n"] - len(response.choices)
            with self._lock:
                self._single_choice = True
            logger.warning(
                "The LLM server at %s answered %d of n=%d choices; this client now sends "
                "n separate requests.",
                self._resolved_base_url(),
                len(response.choices),
                request["n"],
            )
            rest = self._send_separately(
                dict(request, n=missing), first_seed=len(response.choices), deadline=deadline
            )
            return ChatResponse(
                choices=[*response.choices, *rest.choices],
                usage=TokenUsage(
                    response.usage.prompt_tokens + rest.usage.prompt_tokens,
                    response.usage.completion_tokens + rest.usage.completion_tokens,
                    response.usage.total_tokens + rest.usage.total_tokens,
                ),
                cached=False,
                model=response.model,
            )
        with self._lock:
            self._single_choice = True
        logger.warning(
            "The LLM server at %s refuses n > 1; this client now sends n separate requests.",
            self._resolved_base_url(),
        )
        return self._send_separately(request, deadline=deadline)

    def _send_separately(self, request, *, first_seed=0, deadline=None):
        """``n`` requests of one choice each, for servers that refuse ``n > 1``."""
        choices = []
        usage = [0, 0, 0]
        model = None
        for i in range(first_seed, first_seed + request["n"]):
            single = dict(request, n=1)
            if request["seed"] is not None:
                single["seed"] = request["seed"] + i  # the same seed would repeat the sample
            response = self._send_once(single, deadline)
            choices.extend(response.choices)
            usage[0] += response.usage.prompt_tokens
            usage[1] += response.usage.completion_tokens
            usage[2] += response.usage.total_tokens
            model = response.model
        return ChatResponse(choices=choices, usage=TokenUsage(*usage), cached=False, model=model)

    def _send_once(self, request, deadline=None):
        openai = _import_openai()
        client = self._openai_client()
        key = client.api_key
        worst_case = (request["n"] * request["max_tokens"]) if request["max_tokens"] else 0
        attempts = self.max_retries + 1
        negotiations = len(_NEGOTIABLE)
        failures = []
        attempt = 0
        retry = False
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                raise LLMUnavailableError(
                    f"The caller's time limit ran out before the LLM server at "
                    f"{self._resolved_base_url()} answered ({attempt} attempt(s) made); raise "
                    "the time limit to wait longer.",
                    attempts=attempt,
                    errors=failures,
                )
            kwargs = self._kwargs(request)
            reservation = self._meter.begin_request(
                retry=retry,
                max_requests=self.max_requests,
                max_total_tokens=self.max_total_tokens,
                worst_case_tokens=worst_case,
            )
            retry = True
            failure = None
            try:
                raw = self._create(client, kwargs, deadline)
                response = _parse_completion(raw, request["model"])
            except (
                openai.OpenAIError,
                _MalformedReply,
                _DeadlineExceeded,
                json.JSONDecodeError,
                UnicodeDecodeError,
            ) as err:
                self._meter.end_request(reservation, failed=True)
                failure = self._describe_failure(err, key)
                changed = None
                if negotiations > 0:
                    changed = self._negotiate(err, kwargs)  # may raise _SingleChoiceOnly
            if failure is None:
                break
            what, retryable, wait, error, status = failure
            failures.append(what)
            if error is not None:
                raise error from _RequestFailed(what)
            if changed is not None:
                negotiations -= 1
                logger.info("LLM request refused (%s); sent again with %s", what, changed)
                continue
            attempt += 1
            if not retryable:
                raise self._rejected_error(what, status) from _RequestFailed(what)
            if attempt >= attempts:
                summary = ", ".join(f"{n}x {w}" for w, n in Counter(failures).items())
                raise LLMUnavailableError(
                    f"The LLM server at {self._resolved_base_url()} (model {self.model!r}) "
                    f"did not answer after {attempts} attempts (max_retries="
                    f"{self.max_retries}). Failures: {summary}. Last error: {what}. Check "
                    "that the server is running and reachable, or raise max_retries or "
                    "timeout.",
                    attempts=attempts,
                    errors=failures,
                ) from _RequestFailed(what)
            if wait is None:
                wait = min(self.backoff * 2 ** (attempt - 1), _MAX_BACKOFF)
                wait *= 0.5 + 0.5 * self._rng.random()
            logger.info(
                "LLM request failed (%s); retry %d of %d in %.2f s",
                what,
                attempt,
                self.max_retries,
                wait,
            )
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0.0))
            time.sleep(wait)
        self._meter.end_request(reservation, usage=self._charged_usage(request, response))
        logger.debug(
            "LLM reply: model=%s choices=%d tokens=%d attempts=%d",
            response.model,
            len(response.choices),
            response.usage.total_tokens,
            attempt + 1,
        )
        return response

    @staticmethod
    def _charged_usage(request, response):
        """The server's usage, or a conservative local estimate when it reports none."""
        if response.usage.total_tokens > 0:
            return response.usage
        prompt = _estimate_tokens("".join(m["content"] for m in request["messages"]))
        completion = sum(
            _estimate_tokens(c.text) + _estimate_tokens(c.reasoning or "")
            for c in response.choices
        )
        return TokenUsage(prompt, completion, prompt + completion)

    def _describe_failure(self, err, key):
        """``(what, retryable, wait, error, status)`` for a failed request, key redacted.

        ``error`` is an exception to raise at once (a refusal), else None.
        """
        openai = _import_openai()
        what, retryable, wait = self._classify(err)
        what = _redact(what, key)
        status = None
        if isinstance(err, openai.APIStatusError):
            detail = _redact(_error_text(err), key)
            status = (err.status_code, detail)
            if err.status_code in (400, 403, 422) and _is_content_filter(err, detail):
                return (
                    what,
                    False,
                    None,
                    LLMRefusalError(
                        f"The LLM server at {self._resolved_base_url()} refused the request "
                        f"with {what} (a content filter): {detail}. It is not retried; "
                        "rephrase the prompt or relax the gateway's content filter.",
                        reason="refused",
                    ),
                    status,
                )
        return what, retryable, wait, None, status

    def _rejected_error(self, what, status):
        base_url = self._resolved_base_url()
        if status is not None:
            code, detail = status
            if code in (401, 403):
                hint = (
                    f"Check the API key (environment variable {self.api_key_env!r} or api_key=...)."
                )
            elif code == 404:
                hint = f"Check model={self.model!r} and base_url={base_url!r}."
            else:
                hint = "Fix the request (model name, parameters); it is not retried."
            return LLMError(
                f"The LLM server at {base_url} rejected the request with {what}: {detail}. {hint}"
            )
        return LLMError(f"The request to the LLM server at {base_url} failed: {what}.")

    # ------------------------------------------------------------ public calls
    def chat(
        self,
        messages,
        *,
        n=1,
        temperature=None,
        max_tokens=None,
        logprobs=False,
        top_logprobs=None,
        stop=None,
        response_format=None,
        seed=None,
        deadline=None,
    ):
        """Send a chat request and return the reply (from the cache when possible).

        Parameters
        ----------
        messages : str or list of dict
            A prompt (sent as one user message), or messages
            ``{"role": ..., "content": ...}`` with role ``"system"``,
            ``"developer"``, ``"user"``, ``"assistant"`` or ``"tool"``.
        n : int, default=1
            Number of choices to generate.
        temperature : float, default=None
            Sampling temperature; None uses the client's.
        max_tokens : int, default=None
            Maximum completion tokens per choice; None uses the client's.
        logprobs : bool, default=False
            Ask for token log-probabilities.
        top_logprobs : int, default=None
            Also ask for this many alternatives per token (0 to 20); implies
            ``logprobs=True``.
        stop : str or list of str, default=None
            Stop sequences.
        response_format : dict, default=None
            Passed to the server, e.g. ``{"type": "json_object"}``.
        seed : int, default=None
            Sampling seed; None uses the client's.
        deadline : float, default=None
            A :func:`time.monotonic` value after which the request is given up
            (an estimator's time limit): the wait for an answer and the
            retries end there, with :class:`LLMUnavailableError`. None: only
            ``timeout`` bounds each attempt. Not part of the cache key.

        Returns
        -------
        response : ChatResponse
            The choices (with log-probabilities when the server returned
            them), the token usage, and whether it came from the cache.

        Raises
        ------
        LLMUnavailableError
            The server did not answer after ``max_retries + 1`` attempts.
        BudgetExceededError
            A request would exceed ``max_requests`` or ``max_total_tokens``.
        CacheMissError
            ``cache_mode="replay"`` and the reply is not in the cache.
        LLMError
            The server rejected the request (HTTP 4xx), or no API key was found.

        Examples
        --------
        >>> from tabsift.llm.testing import LocalLLMServer
        >>> with LocalLLMServer() as server:
        ...     reply = server.client().chat("a b c", logprobs=True)
        >>> [t.token for t in reply.choices[0].logprobs]
        ['a ', 'b ', 'c']
        """
        self._check_params()
        msgs = _normalize_messages(messages)
        _check_number("n", n, low=1, integer=True)
        _check_number("temperature", temperature, low=0, high=2, allow_none=True)
        _check_number("max_tokens", max_tokens, low=1, allow_none=True, integer=True)
        _check_number("top_logprobs", top_logprobs, low=0, high=20, allow_none=True, integer=True)
        _check_number("seed", seed, allow_none=True, integer=True)
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
        temperature = self.temperature if temperature is None else temperature
        request = {
            "model": self.model,
            "messages": msgs,
            "temperature": None if temperature is None else float(temperature),
            "seed": self.seed if seed is None else int(seed),
            "n": int(n),
            "max_tokens": self.max_tokens if max_tokens is None else int(max_tokens),
            "logprobs": bool(logprobs or top_logprobs is not None),
            "top_logprobs": None if top_logprobs is None else int(top_logprobs),
            "response_format": response_format,
            "stop": list(stop) if isinstance(stop, tuple) else stop,
        }

        store = self._store()
        key = None
        if store is not None:
            key = ResponseCache.make_key(request)
            payload = store.get(key, damaged="raise" if self.cache_mode == "replay" else "miss")
            if payload is not None:
                self._meter.count_cached()
                logger.debug("LLM cache hit: key=%s", key[:16])
                return ChatResponse._from_payload(payload, cached=True)
            if self.cache_mode == "replay":
                raise CacheMissError(
                    f"cache_mode='replay' but the response cache {str(store.path)!r} has no reply "
                    f"for this request (model {self.model!r}, {len(msgs)} message(s), key "
                    f"{key[:16]}...). Record it first with cache_mode='readwrite' and a "
                    "reachable server, or check that the prompt and settings did not change.",
                    key=key,
                )

        logger.debug(
            "LLM request: model=%s messages=%d n=%d", self.model, len(msgs), request["n"]
        )
        if deadline is not None:
            _check_number("deadline", deadline)
        response = self._send(request, deadline)
        if store is not None:
            store.put(key, request, response._to_payload())
        return response

    def complete(self, prompt, **kwargs):
        """Send one prompt and return the text of the first choice.

        Parameters
        ----------
        prompt : str or list of dict
            As ``messages`` in :meth:`chat`.
        **kwargs
            Passed to :meth:`chat`.

        Returns
        -------
        text : str

        Examples
        --------
        >>> from tabsift.llm.testing import LocalLLMServer
        >>> with LocalLLMServer(lambda request: "42") as server:
        ...     server.client().complete("What is six times seven?")
        '42'
        """
        return self.chat(prompt, **kwargs).text

    def chat_json(self, messages, *, schema=None, validator=None, max_attempts=3, **chat_kwargs):
        """Ask for a JSON reply, validate it, and ask again with the error when it fails.

        Each reply is searched with :func:`extract_json`, then checked with
        :func:`validate_json` against ``schema`` and with ``validator``. When
        every choice of a reply fails, the reply and a user message stating the
        error are appended to the conversation and the model is asked again.

        A choice cut off at the length limit (``finish_reason="length"``) is
        rejected as truncated and the model is asked for a shorter answer; one
        blocked by a content filter (``finish_reason="content_filter"``) is
        rejected as refused. Reasoning never enters the parsing (see
        :func:`strip_reasoning`).

        With ``structured_output="auto"`` (the client's default) and a dict
        ``schema``, the schema is also sent as ``response_format={"type":
        "json_schema", "json_schema": {"name": "answer", "schema": schema,
        "strict": False}}``, so that a server with structured outputs guides
        its decoding by it. When the server refuses that parameter, the client
        remembers it and asks by prompting alone. A ``response_format`` passed
        in ``chat_kwargs`` (None included) is sent as given instead.

        Parameters
        ----------
        messages : str or list of dict
            As in :meth:`chat`.
        schema : dict, default=None
            A JSON schema (the subset :func:`validate_json` supports).
        validator : callable, default=None
            Called with the parsed value after the schema check; raises
            ``ValueError`` (with a message meant for the model) to reject it.
            Its return value is ignored.
        max_attempts : int, default=3
            How many replies to ask for at most.
        **chat_kwargs
            Passed to :meth:`chat` (``n``, ``temperature``, ...). With ``n > 1``
            the first valid choice is used.

        Returns
        -------
        value : dict or list
            The first valid JSON value.
        response : ChatResponse
            The reply it came from.

        Raises
        ------
        LLMResponseError
            When no attempt gave a valid value; ``errors`` lists why each
            failed and ``reason`` is the last attempt's reason
            (``"truncated"`` and ``"refused"`` raise
            :class:`LLMTruncatedError` and :class:`LLMRefusalError`,
            ``"unparsable"`` when no JSON was found, ``"invalid"`` when the
            value failed validation).

        Examples
        --------
        >>> from tabsift.llm.testing import LocalLLMServer, ScriptedResponder
        >>> replies = ScriptedResponder(['{"k": "x"}', 'Fixed: {"k": 3}'])
        >>> schema = {"type": "object", "properties": {"k": {"type": "integer"}}}
        >>> with LocalLLMServer(replies) as server:
        ...     value, reply = server.client().chat_json("Give k.", schema=schema)
        >>> value
        {'k': 3}
        >>> "$.k: expected type integer" in server.requests[1]["messages"][-1]["content"]
        True
        """
        self._check_params()
        _check_number("max_attempts", max_attempts, low=1, integer=True)
        if validator is not None and not callable(validator):
            raise TypeError(f"validator must be callable or None, found {validator!r}.")
        if schema is not None and not isinstance(schema, (dict, bool)):
            raise TypeError(f"schema must be a dict or None, found {type(schema).__name__}.")
        msgs = _normalize_messages(messages)
        structured = (
            isinstance(schema, dict)
            and self.structured_output == "auto"
            and "response_format" not in chat_kwargs
        )
        response_format = (
            {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": copy.deepcopy(schema), "strict": False},
            }
            if structured
            else None
        )
        errors = []
        text = None
        first_error = None
        for attempt in range(1, max_attempts + 1):
            kwargs = chat_kwargs
            # Not once the server refused it: the cache key holds what is sent.
            if structured and "response_format" not in self._dropped:
                kwargs = dict(chat_kwargs, response_format=response_format)
            response = self.chat(msgs, **kwargs)
            first_error = None
            for choice in response.choices:
                try:
                    if choice.finish_reason == "length":
                        raise LLMTruncatedError(
                            "the reply was cut off at the length limit (finish_reason='length') "
                            "before it was complete.",
                            text=choice.text,
                        )
                    if choice.finish_reason == "content_filter":
                        raise LLMRefusalError(
                            "the reply was blocked by the server's content filter "
                            "(finish_reason='content_filter').",
                            text=choice.text,
                        )
                    value = extract_json(choice.text)
                    if schema is not None:
                        validate_json(value, schema)
                    if validator is not None:
                        validator(value)
                except ValueError as err:  # LLMResponseError is a ValueError too
                    if first_error is None:
                        first_error = err
                    continue
                return value, response
            text = response.choices[0].text
            message = str(first_error) or type(first_error).__name__
            errors.append(message)
            logger.info("LLM JSON reply rejected (attempt %d of %d): %s", attempt, max_attempts, message)
            if isinstance(first_error, LLMTruncatedError):
                ask = (
                    "Your previous reply was cut off at the length limit before it was "
                    "complete. Reply again with a shorter answer: only the JSON, no "
                    "explanation."
                )
            elif isinstance(first_error, LLMRefusalError):
                ask = (
                    "Your previous reply was blocked by a content filter. Reply again with "
                    "only the JSON the task asks for."
                )
            else:
                ask = (
                    f"Your previous reply could not be used: {message}\n"
                    "Reply again with only the corrected JSON, and no other text."
                )
            msgs = [
                *msgs,
                {"role": "assistant", "content": text or "(no reply)"},
                {"role": "user", "content": ask},
            ]
        listed = "\n".join(f"  attempt {i}: {e}" for i, e in enumerate(errors, start=1))
        # The class and reason of the last attempt's error: what an estimator counts.
        reason = getattr(first_error, "reason", "invalid")
        if isinstance(first_error, LLMTruncatedError):
            error_class = LLMTruncatedError
        elif isinstance(first_error, LLMRefusalError):
            error_class = LLMRefusalError
        else:
            error_class = LLMResponseError
        raise error_class(
            f"No valid JSON reply after {max_attempts} attempts:\n{listed}\nMake the prompt "
            "state the expected format, or raise max_attempts.",
            errors=errors,
            text=text,
            reason=reason,
        )


_DEFAULTS = {
    name: param.default
    for name, param in inspect.signature(LLMClient.__init__).parameters.items()
    if name in _PARAM_NAMES
}
