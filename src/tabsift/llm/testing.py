"""A local OpenAI-compatible server with fault injection, for testing LLM code offline.

:class:`LocalLLMServer` answers ``POST /v1/chat/completions`` and
``GET /v1/models`` on a free loopback port, from a thread of the test process
(standard library only). Replies come from a *responder*, a plain function of
the request, so a test decides exactly what the "model" says; injected faults
(rate limits, server errors, slow replies, broken or dropped connections)
exercise the retry logic of :class:`tabsift.llm.LLMClient`.

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

__all__ = ["FAULT_KINDS", "LocalLLMServer", "ScriptedResponder", "echo_responder"]

logger = logging.getLogger("tabsift.llm.testing")

#: The named faults :meth:`LocalLLMServer.inject` accepts (any HTTP error code
#: such as ``"400"`` or ``"401"`` is accepted too).
FAULT_KINDS = ("429", "500", "503", "slow", "malformed", "truncated", "disconnect", "garbage")

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


def _apply_limits(text, request):
    """Cut the text at a stop sequence or at max_tokens words, like a real server."""
    finish = "stop"
    stop = request.get("stop")
    for sequence in [stop] if isinstance(stop, str) else (stop or []):
        if sequence and sequence in text:
            text = text[: text.index(sequence)]
    limit = request.get("max_tokens") or request.get("max_completion_tokens")
    if isinstance(limit, int) and _count_tokens(text) > limit:
        kept, words = [], 0
        for token in _TOKEN.findall(text):
            words += bool(token.strip())
            if words > limit:
                break
            kept.append(token)
        text = "".join(kept).rstrip()
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
        if fault == "garbage":
            texts = [_GARBAGE] * n  # the responder is not called
        else:
            try:
                texts = owner._texts(request, n)
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

    Attributes
    ----------
    requests : list of dict
        The JSON body of every chat request received, faulted ones included,
        in arrival order.
    base_url : str
        The API root, e.g. ``"http://127.0.0.1:PORT/v1"`` (once started).

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
    """

    def __init__(self, responder=None, *, host="127.0.0.1", port=0, model="tabsift-test", api_key=None):
        self.responder = echo_responder if responder is None else responder
        self.host = host
        self.port = port
        self.model = model
        self.api_key = api_key
        self.requests = []
        self._faults = collections.deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
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

    def _texts(self, request, n):
        first = self.responder(request)
        if isinstance(first, (list, tuple)):
            texts = list(first)
            if len(texts) != n:
                raise ValueError(f"the responder returned {len(texts)} replies for n={n}")
        else:
            texts = [first, *(self.responder(request) for _ in range(n - 1))]
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"the responder must return str replies, found {type(text).__name__}")
        return texts

    def _completion(self, request, texts):
        top = request.get("top_logprobs") or 0
        want_logprobs = bool(request.get("logprobs"))
        prompt_tokens = sum(
            _count_tokens(m.get("content") if isinstance(m.get("content"), str) else "")
            for m in request.get("messages", [])
            if isinstance(m, dict)
        )
        choices = []
        completion_tokens = 0
        for index, text in enumerate(texts):
            text, finish = _apply_limits(text, request)
            completion_tokens += _count_tokens(text)
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": finish,
                    "logprobs": _logprobs_for(text, top) if want_logprobs else None,
                }
            )
        return {
            "id": f"chatcmpl-tabsift-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or self.model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
