"""A local OpenAI-compatible server with fault injection, for testing LLM code offline.

:class:`LocalLLMServer` answers ``POST /v1/chat/completions`` and
``GET /v1/models`` on a free loopback port, from a thread of the test process
(standard library only). Replies come from a *responder*, a plain function of
the request, so a test decides exactly what the "model" says; injected faults
(rate limits, server errors, slow replies, broken or dropped connections)
exercise the retry logic of :class:`tabsift.llm.LLMClient`.

A *profile* makes the server behave like a real one (OpenAI reasoning models,
Ollama, vLLM, llama.cpp, an Azure-like gateway; see :data:`PROFILES`), and
:func:`with_reasoning` makes the "model" think aloud before it answers, so a
test can check that the final answer is used and never a draft.

Examples
--------
>>> from tabsift.llm.testing import LocalLLMServer
>>> with LocalLLMServer(lambda request: "pong") as server:
...     server.inject("503")
...     client = server.client()
...     client.complete("ping")
'pong'
>>> client.usage.retries, len(server.requests)
(1, 2)

A profile answers as its server does. vLLM with a reasoning parser puts the
reasoning in ``reasoning_content`` and only the answer in ``content``; llama.cpp's
server refuses ``n > 1`` with HTTP 500; :attr:`LocalLLMServer.profile_events`
counts what the profile did:

>>> import http.client, json
>>> from tabsift.llm.testing import with_reasoning
>>> def post(server, body):
...     connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
...     connection.request("POST", "/v1/chat/completions", json.dumps(body))
...     response = connection.getresponse()
...     status, reply = response.status, json.loads(response.read())
...     connection.close()
...     return status, reply
>>> body = {"model": "m", "messages": [{"role": "user", "content": "Pick one."}]}
>>> responder = with_reasoning(lambda r: '{"choice": 5}', draft='Maybe {"choice": 0}? No.')
>>> with LocalLLMServer(responder, profile="vllm-reasoning-parser") as server:
...     status, reply = post(server, body)
>>> message = reply["choices"][0]["message"]
>>> message["reasoning_content"], message["content"]
('Maybe {"choice": 0}? No.', '{"choice": 5}')
>>> with LocalLLMServer(responder, profile="llamacpp") as server:
...     status, reply = post(server, {**body, "n": 2})
...     print(status, reply["error"]["message"], server.profile_events)
500 Only one completion choice is allowed {'refused_n': 1}
"""

import collections
import hashlib
import itertools
import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = [
    "FAULT_KINDS",
    "FILTER_PROMPT_TRIGGER",
    "FILTER_REPLY_TRIGGER",
    "PROFILES",
    "LocalLLMServer",
    "ReasonedReply",
    "ScriptedResponder",
    "echo_responder",
    "with_reasoning",
]

logger = logging.getLogger("tabsift.llm.testing")

#: The named faults :meth:`LocalLLMServer.inject` accepts (any HTTP error code
#: such as ``"400"`` or ``"401"`` is accepted too).
FAULT_KINDS = ("429", "500", "503", "slow", "malformed", "truncated", "disconnect", "garbage")

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

# Junk with stray brackets but no JSON value and no code block.
_GARBAGE = "]] }{ ,, :: garbage \u2603 <<>> ~~ ?? )("
_TOKEN = re.compile(r"\S+\s*|\s+")


def echo_responder(request):
    """Reply with the content of the last user message (the default responder).

    Parameters
    ----------
    request : dict
        The JSON body of the chat request.

    Returns
    -------
    text : str

    Examples
    --------
    >>> from tabsift.llm.testing import echo_responder
    >>> echo_responder({"messages": [{"role": "user", "content": "hi"}]})
    'hi'
    """
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


class ScriptedResponder:
    """A responder that returns the given replies in turn.

    Parameters
    ----------
    replies : sequence of str or list of str
        The replies. An item that is a list gives all the choices of one
        request at once.
    cycle : bool, default=True
        Start again from the first reply after the last one. With False, a
        call after the last reply raises ``IndexError`` (the server then
        answers HTTP 500).

    Attributes
    ----------
    calls : int
        How many times the responder was called.

    Examples
    --------
    >>> from tabsift.llm.testing import ScriptedResponder
    >>> responder = ScriptedResponder(["a", "b"])
    >>> [responder({}) for _ in range(3)]
    ['a', 'b', 'a']
    """

    def __init__(self, replies, *, cycle=True):
        self.replies = list(replies)
        if not self.replies:
            raise ValueError("replies is empty: give at least one reply.")
        self.cycle = cycle
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, request):
        with self._lock:
            index = self.calls
            self.calls += 1
        if index >= len(self.replies) and not self.cycle:
            raise IndexError(
                f"ScriptedResponder ran out of replies: call {index + 1} but only "
                f"{len(self.replies)} replies were given (cycle=False)."
            )
        return self.replies[index % len(self.replies)]


class ReasonedReply:
    """A reply with the reasoning the "model" wrote before its answer.

    A responder may return it instead of a str; the server's ``profile``
    decides where the reasoning goes (see :class:`LocalLLMServer`).

    Parameters
    ----------
    answer : str
        The final answer.
    reasoning : str
        The reasoning (a draft) written before the answer.

    See Also
    --------
    with_reasoning : Wrap a responder so that it returns these.

    Examples
    --------
    >>> from tabsift.llm.testing import ReasonedReply
    >>> ReasonedReply('{"k": 2}', reasoning='maybe {"k": 1}').answer
    '{"k": 2}'
    """

    __slots__ = ("answer", "reasoning")

    def __init__(self, answer, reasoning):
        for name, value in (("answer", answer), ("reasoning", reasoning)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, found {type(value).__name__}.")
        self.answer = answer
        self.reasoning = reasoning

    def __eq__(self, other):
        if not isinstance(other, ReasonedReply):
            return NotImplemented
        return (self.answer, self.reasoning) == (other.answer, other.reasoning)

    __hash__ = None

    def __repr__(self):
        return f"ReasonedReply({self.answer!r}, reasoning={self.reasoning!r})"


def with_reasoning(responder=None, *, draft):
    """Make a responder think aloud: each reply carries a reasoning draft before the answer.

    Use a draft holding a plausible but wrong answer (e.g. a JSON value that
    differs from the final one) to check that code uses the final answer only.

    Parameters
    ----------
    responder : callable, default=None
        The responder giving the final answers (str or list of str); None
        echoes the last user message (:func:`echo_responder`).
    draft : str or callable
        The reasoning, or ``draft(request) -> str``.

    Returns
    -------
    responder : callable
        A responder returning :class:`ReasonedReply` objects (a list of them
        when ``responder`` returns a list).

    Examples
    --------
    >>> from tabsift.llm.testing import with_reasoning
    >>> responder = with_reasoning(lambda request: '{"choice": 5}', draft='{"choice": 0}?')
    >>> responder({})
    ReasonedReply('{"choice": 5}', reasoning='{"choice": 0}?')
    """
    inner = echo_responder if responder is None else responder
    if not callable(inner):
        raise TypeError(f"responder must be callable or None, found {responder!r}.")
    if not (isinstance(draft, str) or callable(draft)):
        raise TypeError(f"draft must be a str or a callable, found {type(draft).__name__}.")

    def reasoning_responder(request):
        thought = draft(request) if callable(draft) else draft
        answer = inner(request)
        if isinstance(answer, (list, tuple)):
            return [ReasonedReply(a, thought) for a in answer]
        return ReasonedReply(answer, thought)

    return reasoning_responder


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # tests fire bursts of concurrent requests
    owner = None

    def handle_error(self, request, client_address):
        # Clients that time out or that a fault disconnects make the handler
        # fail on write; that is expected here, not worth a traceback.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server_version = "tabsift-llm-test/1.0"

    def log_message(self, format, *args):
        logger.debug("%s - %s", self.address_string(), format % args)

    def _send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_error_json(self, status, message, kind="invalid_request_error", headers=()):
        self._send_json(
            status, {"error": {"message": message, "type": kind, "code": str(status)}}, headers
        )

    def do_GET(self):
        owner = self.server.owner
        path = urlsplit(self.path).path.rstrip("/")
        if path in ("/v1/models", "/models"):
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": owner.model, "object": "model", "created": 0, "owned_by": "tabsift"}
                    ],
                },
            )
        else:
            self._send_error_json(404, f"no route GET {path}; try /v1/models")

    def do_POST(self):
        owner = self.server.owner
        path = urlsplit(self.path).path.rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._send_error_json(404, f"no route POST {path}; try /v1/chat/completions")
            return
        if owner.api_key is not None:
            if self.headers.get("Authorization") != f"Bearer {owner.api_key}":
                self._send_error_json(401, "invalid API key", kind="authentication_error")
                return
        try:
            request = json.loads(body)
            if not isinstance(request, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as err:
            self._send_error_json(400, f"invalid JSON body: {err}")
            return
        owner._record(request)
        fault, delay = owner._next_fault()

        if fault is not None and fault.isdigit():
            status = int(fault)
            headers = [("Retry-After", "0")] if status == 429 else []
            kind = "server_error" if status >= 500 else "invalid_request_error"
            self._send_error_json(status, f"injected fault: HTTP {status}", kind, headers)
            return
        if fault == "disconnect":
            self.close_connection = True
            return  # the socket is closed without a reply
        if fault == "malformed":
            broken = b'{"id": "chatcmpl-broken", "choices": [{"index": 0, "mess'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(broken)))
            self.end_headers()
            self.wfile.write(broken)
            return
        if fault == "slow" and owner._stopping.wait(delay):
            return  # the server is stopping

        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            self._send_error_json(400, "'messages' must be a non-empty list")
            return
        n = request.get("n")
        n = 1 if n is None else n
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            self._send_error_json(400, f"'n' must be a positive integer, found {n!r}")
            return
        refusal = owner._gate(request, n)
        if refusal is not None:
            self._send_json(*refusal)
            return
        served = owner._served_n(request, n)
        if fault == "garbage":
            texts = [_GARBAGE] * served  # the responder is not called
        else:
            try:
                texts = owner._texts(request, n, served)
            except Exception as err:
                logger.warning("the responder failed: %r", err)
                self._send_error_json(
                    500, f"the responder raised {type(err).__name__}: {err}", "server_error"
                )
                return
        reply = owner._completion(request, texts)

        if fault == "truncated":
            data = json.dumps(reply).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data) + 64))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True  # closed on return, before the declared length
            return
        self._send_json(200, reply)


class LocalLLMServer:
    """An OpenAI-compatible chat server on a free loopback port, for tests.

    It runs ``http.server.ThreadingHTTPServer`` in a daemon thread and answers
    ``POST /v1/chat/completions`` and ``GET /v1/models``. Replies come from
    ``responder``; token usage is counted with a whitespace tokenizer, and
    token log-probabilities (when requested) are deterministic values derived
    from a hash of each token.

    Parameters
    ----------
    responder : callable, default=None
        ``responder(request) -> str | list[str]``, given the request's JSON body
        (a dict). When it returns a str, it is called once per choice (``n``
        times) so each choice can differ; when it returns a list, the list is
        all the choices and must hold ``n`` strings. If it raises, the server
        answers HTTP 500 with the error. None echoes the last user message
        (:func:`echo_responder`).
    host : str, default="127.0.0.1"
        A loopback address to listen on (``"::1"`` for IPv6).
    port : int, default=0
        The port; 0 picks a free one.
    model : str, default="tabsift-test"
        The model listed by ``/v1/models`` and used by :meth:`client`.
    api_key : str, default=None
        When set, requests without ``Authorization: Bearer <api_key>`` get
        HTTP 401.
    profile : str, default="tabsift"
        Which real server to imitate, one of :data:`PROFILES` (table below).
        Injected faults (:meth:`inject`) come first; then the profile may
        refuse the request; then it shapes the reply.

    Attributes
    ----------
    requests : list of dict
        The JSON body of every chat request received, faulted ones included,
        in arrival order.
    base_url : str
        The API root, e.g. ``"http://127.0.0.1:PORT/v1"`` (once started).
    profile_events : dict of str to int
        What the profile did so far, ``{event: count}``; the events are named
        in the table below.

    Notes
    -----
    Each profile does what its server documentedly does. A *reasoning draft*
    is the reasoning of a :class:`ReasonedReply` (see :func:`with_reasoning`);
    ``max_tokens`` (or ``max_completion_tokens``) counts the reasoning too.
    Event names are in brackets.

    =========================== =====================================================
    profile                     what the server does
    =========================== =====================================================
    ``"tabsift"``               Accepts every parameter, ``n`` choices, logprobs on
                                request, whitespace-token usage. A draft goes into
                                ``content`` as a ``<think>...</think>`` block.
    ``"openai-reasoning"``      OpenAI o-series / gpt-5. HTTP 400
                                ``invalid_request_error`` naming ``param``: for
                                ``max_tokens`` (code ``unsupported_parameter``, "Use
                                'max_completion_tokens' instead") [rejected:max_tokens],
                                for a ``temperature`` other than 1 (code
                                ``unsupported_value``) [rejected:temperature], for
                                ``logprobs`` or ``top_logprobs`` [rejected:logprobs,
                                rejected:top_logprobs]; one error at a time, in that
                                order. The draft is hidden, counted in
                                ``usage.completion_tokens_details.reasoning_tokens``; a
                                draft longer than ``max_completion_tokens`` leaves
                                ``content`` empty with ``finish_reason="length"``.
    ``"ollama"``                Ollama's ``/v1`` endpoint. The draft is a ``<think>``
                                block in ``content``; ``logprobs`` are ignored (the
                                reply has none) [ignored_logprobs]; ``n > 1`` gives
                                one choice [reduced_n].
    ``"vllm"``                  vLLM without a reasoning parser. The draft is a
                                ``<think>`` block in ``content``; with
                                ``response_format`` ``json_object``/``json_schema``
                                decoding is guided from the first token, so the
                                reply is the answer alone [guided].
    ``"vllm-reasoning-parser"`` vLLM with ``--reasoning-parser``. The draft is in
                                ``message.reasoning_content`` (null when none), only
                                the answer in ``content``; ``response_format`` is
                                honoured after the reasoning [guided].
    ``"llamacpp"``              llama.cpp's server. ``n > 1`` gets HTTP 500, error
                                type ``server_error``, code 500, message "Only one
                                completion choice is allowed" [refused_n]; the draft
                                is a ``<think>`` block in ``content``; replies 1, 3,
                                5, ... have no ``usage`` [usage_missing] and replies
                                2, 4, ... report zeros [usage_zero].
    ``"azure-gateway"``         An Azure-like gateway. Chat requests 3, 6, 9, ...
                                get HTTP 429 with ``Retry-After: 0``
                                [rate_limited]; request 4 gets HTTP 503 once
                                [unavailable]; a prompt containing
                                :data:`FILTER_PROMPT_TRIGGER` gets HTTP 400 with error
                                code ``content_filter``, param ``prompt`` and status
                                400 [filtered_prompt]; a reply
                                containing :data:`FILTER_REPLY_TRIGGER` is cut before
                                it with ``finish_reason="content_filter"``
                                [filtered_reply]. Drafts are ``<think>`` blocks (as
                                DeepSeek-R1 on Azure AI Foundry).
    =========================== =====================================================

    Every profile counts each choice that carried a draft [reasoning]. Nothing
    waits: the only delays are injected ``"slow"`` faults.

    See Also
    --------
    ScriptedResponder : Replies from a list.
    tabsift.llm.LLMClient : The client to test against this server.

    Examples
    --------
    >>> from tabsift.llm.testing import LocalLLMServer
    >>> with LocalLLMServer(lambda request: "yes") as server:
    ...     server.base_url.startswith("http://127.0.0.1:")
    ...     server.client().chat("Is it?", n=2).texts
    True
    ['yes', 'yes']

    An OpenAI reasoning model refuses ``max_tokens``:

    >>> with LocalLLMServer(profile="openai-reasoning") as server:
    ...     try:
    ...         server.client()._openai_client().chat.completions.create(
    ...             model="o4-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
    ...         )
    ...     except Exception as err:
    ...         print(err.status_code, err.body["code"], err.body["param"])
    ...     server.profile_events
    400 unsupported_parameter max_tokens
    {'rejected:max_tokens': 1}
    """

    def __init__(
        self,
        responder=None,
        *,
        host="127.0.0.1",
        port=0,
        model="tabsift-test",
        api_key=None,
        profile="tabsift",
    ):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {list(PROFILES)}.")
        self.profile = profile
        self.responder = echo_responder if responder is None else responder
        self.host = host
        self.port = port
        self.model = model
        self.api_key = api_key
        self.requests = []
        self._faults = collections.deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._events = collections.Counter()
        self._gated = 0  # chat requests the profile has seen (azure-gateway's schedule)
        self._completions = 0  # replies built (llamacpp's usage schedule)
        self._stopping = threading.Event()
        self._httpd = None
        self._thread = None

    # ------------------------------------------------------------ lifecycle
    def start(self):
        """Start serving in a daemon thread; return ``self``."""
        if self._httpd is not None:
            return self
        server_class = _Server6 if ":" in self.host else _Server
        httpd = server_class((self.host, self.port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"LocalLLMServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and free the port (safe to call twice)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        self._thread.join(timeout=5.0)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        where = self.base_url if self._httpd is not None else "stopped"
        return f"{type(self).__name__}({where}, model={self.model!r})"

    @property
    def base_url(self):
        if self._httpd is None:
            raise RuntimeError(
                "the LocalLLMServer is not running: call start() or use it in a 'with' block."
            )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def client(self, **kwargs):
        """Return an :class:`~tabsift.llm.LLMClient` configured for this server.

        Parameters
        ----------
        **kwargs
            Passed to :class:`~tabsift.llm.LLMClient`. Defaults suited to tests:
            ``model`` and ``base_url`` of this server, ``api_key`` of this
            server (when set), ``timeout=10.0`` and ``backoff=0.01``.

        Returns
        -------
        client : LLMClient
        """
        from tabsift.llm import LLMClient

        kwargs.setdefault("model", self.model)
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("timeout", 10.0)
        kwargs.setdefault("backoff", 0.01)
        if self.api_key is not None:
            kwargs.setdefault("api_key", self.api_key)
        return LLMClient(**kwargs)

    # ------------------------------------------------------------ faults
    def inject(self, kind, times=1, *, delay=2.0):
        """Queue a fault for the next chat request(s).

        Faults are consumed in order, one per request.

        Parameters
        ----------
        kind : str
            ``"429"`` (with ``Retry-After: 0``), ``"500"``, ``"503"`` or any
            other HTTP error code such as ``"400"`` (an error reply);
            ``"slow"`` (wait ``delay`` seconds, then reply normally: set the
            client's timeout below ``delay``); ``"malformed"`` (HTTP 200 with a
            body that is not valid JSON); ``"truncated"`` (a ``Content-Length``
            longer than the body, then the connection is closed);
            ``"disconnect"`` (the connection is closed without a reply);
            ``"garbage"`` (a valid reply whose text is junk; the responder is
            not called).
        times : int, default=1
            How many consecutive requests get this fault.
        delay : float, default=2.0
            Seconds a ``"slow"`` reply waits.

        """
        kind = str(kind)
        valid = kind in FAULT_KINDS or (kind.isdigit() and 400 <= int(kind) <= 599)
        if not valid:
            raise ValueError(
                f"unknown fault {kind!r}; expected one of {list(FAULT_KINDS)} or an HTTP error "
                "code such as '400'."
            )
        if not isinstance(times, int) or times < 0:
            raise ValueError(f"times must be a non-negative int, found {times!r}.")
        with self._lock:
            self._faults.extend([(kind, float(delay))] * times)

    def clear_faults(self):
        """Drop the faults not yet consumed."""
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self):
        """The kinds of the faults not yet consumed, in order."""
        with self._lock:
            return [kind for kind, _ in self._faults]

    # ------------------------------------------------------------ internals
    def _record(self, request):
        with self._lock:
            self.requests.append(request)

    def _next_fault(self):
        with self._lock:
            return self._faults.popleft() if self._faults else (None, 0.0)

    def _event(self, name):
        with self._lock:
            self._events[name] += 1

    @property
    def profile_events(self):
        """What the profile did so far, as ``{event: count}`` (see the class docstring)."""
        with self._lock:
            return {name: count for name, count in sorted(self._events.items()) if count}

    def _gate(self, request, n):
        """Return ``(status, body, headers)`` when the profile refuses the request, else None."""
        profile = self.profile
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

    def _served_n(self, request, n):
        """How many choices the profile returns for ``n``."""
        if self.profile == "ollama" and n > 1:
            self._event("reduced_n")
            return 1
        return n

    def _texts(self, request, n, served=None):
        served = n if served is None else served
        first = self.responder(request)
        if isinstance(first, (list, tuple)):
            texts = list(first)
            if len(texts) != n:
                raise ValueError(f"the responder returned {len(texts)} replies for n={n}")
            texts = texts[:served]
        else:
            texts = [first, *(self.responder(request) for _ in range(served - 1))]
        for text in texts:
            if not isinstance(text, (str, ReasonedReply)):
                raise TypeError(
                    "the responder must return str (or ReasonedReply) replies, found "
                    f"{type(text).__name__}"
                )
        return texts

    def _choice(self, index, reply, request, *, guided, top):
        """Build one choice; return it with its (completion, reasoning) token counts."""
        style = _REASONING_STYLE[self.profile]
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
        if self.profile == "azure-gateway":
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
        if want_logprobs and self.profile == "ollama":
            want_logprobs = False
            self._event("ignored_logprobs")
        choice["message"] = message
        choice["finish_reason"] = finish
        choice["logprobs"] = _logprobs_for(content, top) if want_logprobs else None
        return choice, _count_tokens(content) + reasoning_tokens, reasoning_tokens

    def _completion(self, request, texts):
        top = request.get("top_logprobs") or 0
        prompt_tokens = sum(_count_tokens(text) for text in _message_texts(request))
        response_format = request.get("response_format")
        guided = (
            self.profile in ("vllm", "vllm-reasoning-parser")
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
        if self.profile == "openai-reasoning":
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
        if self.profile == "llamacpp":
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


def _message_texts(request):
    """The text of every message of a chat request (str contents and text parts)."""
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
