"""The local OpenAI-compatible server of :mod:`tabsift.llm.testing`, and its fault injection."""

import collections
import threading

from tabsift.llm._testing_handler import _Handler, _Server, _Server6
from tabsift.llm._testing_profiles import ServerProfile
from tabsift.llm._testing_responders import ReasonedReply, echo_responder

__all__ = ["FAULT_KINDS", "LocalLLMServer"]

#: The named faults :meth:`LocalLLMServer.inject` accepts (any HTTP error code
#: such as ``"400"`` or ``"401"`` is accepted too).
FAULT_KINDS = ("429", "500", "503", "slow", "malformed", "truncated", "disconnect", "garbage")


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
        self._profile = ServerProfile(profile, model)
        self.profile = profile
        self.responder = echo_responder if responder is None else responder
        self.host = host
        self.port = port
        self.model = model
        self.api_key = api_key
        self.requests = []
        self._faults = collections.deque()
        self._lock = threading.Lock()
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

    @property
    def profile_events(self):
        """What the profile did so far, as ``{event: count}`` (see the class docstring)."""
        return self._profile.events()

    # ------------------------------------------------------------ internals
    def _record(self, request):
        with self._lock:
            self.requests.append(request)

    def _next_fault(self):
        with self._lock:
            return self._faults.popleft() if self._faults else (None, 0.0)

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
