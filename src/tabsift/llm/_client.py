"""The LLM client: one retried, budgeted, cached path to an OpenAI-compatible server.

:class:`LLMClient` holds the settings and the run-time state (usage meter,
cache, what the server refused); the work is done by one module per idea:
``_request`` (checks), ``_connection`` (server and key), ``_retry`` (retry and
deadline policy), ``_negotiation`` (refused parameters), ``_choices``
(servers that refuse ``n > 1``), ``_reply`` (reply parsing) and
``_chat_json`` (JSON replies asked again when invalid).
"""

import copy
import logging
import os
import random
import threading
from dataclasses import asdict
from pathlib import Path

from tabsift.llm._cache import ResponseCache
from tabsift.llm._chat_json import chat_json
from tabsift.llm._choices import send
from tabsift.llm._connection import open_openai_client, resolve_api_key, resolve_base_url
from tabsift.llm._errors import CacheMissError
from tabsift.llm._negotiation import ServerQuirks
from tabsift.llm._params import ParamsMixin
from tabsift.llm._request import build_request, check_number, check_settings
from tabsift.llm._response import ChatResponse
from tabsift.llm._usage import _UsageMeter

__all__ = ["LLMClient"]

logger = logging.getLogger("tabsift.llm")


class LLMClient(ParamsMixin):
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

    _secret_params = ("api_key",)

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
        self._quirks = ServerQuirks()

    # ------------------------------------------------------------ parameters
    def _on_set_params(self):
        self.close()
        with self._lock:
            self._cache_store = None

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
    def _openai_client(self):
        with self._lock:
            if self._openai is None:
                base_url = resolve_base_url(self.base_url)
                key = resolve_api_key(self.api_key, self.api_key_env, base_url)
                self._openai = open_openai_client(base_url, key, self.timeout)
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
        check_settings(self)
        request = build_request(
            self,
            messages,
            n,
            temperature,
            max_tokens,
            logprobs,
            top_logprobs,
            stop,
            response_format,
            seed,
        )
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
                    f"for this request (model {self.model!r}, {len(request['messages'])} "
                    f"message(s), key {key[:16]}...). Record it first with "
                    "cache_mode='readwrite' and a reachable server, or check that the prompt and "
                    "settings did not change.",
                    key=key,
                )

        logger.debug(
            "LLM request: model=%s messages=%d n=%d",
            self.model,
            len(request["messages"]),
            request["n"],
        )
        if deadline is not None:
            check_number("deadline", deadline)
        response = send(self, request, deadline)
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
        check_settings(self)
        return chat_json(
            self,
            messages,
            schema=schema,
            validator=validator,
            max_attempts=max_attempts,
            chat_kwargs=chat_kwargs,
        )
