"""Parameter negotiation: what a server refuses, read from its error replies and remembered."""

import logging
import re
import threading

from tabsift.llm._connection import import_openai

logger = logging.getLogger("tabsift.llm")

# Parameters a server may refuse, in the order their names are looked for in
# an error message (``top_logprobs`` before ``logprobs``: one contains the other).
NEGOTIABLE = (
    "max_completion_tokens",
    "max_tokens",
    "top_logprobs",
    "logprobs",
    "temperature",
    "response_format",
    "seed",
    "n",
)
_NAMED = {name: re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-])") for name in NEGOTIABLE}
# A server that cannot guide decoding with a schema may say so without naming
# ``response_format`` (vLLM's "features not supported by xgrammar").
_GUIDED = re.compile(
    r"json[_ ]schema|guided[_ ]decoding|structured[_ ]outputs?|grammar", re.IGNORECASE
)
ONE_CHOICE = re.compile(r"only one (completion )?choice|n\s*>\s*1|n must be 1", re.IGNORECASE)
_CONTENT_FILTER = re.compile(
    r"content[ _-]?filter|content management policy|content[ _-]?policy|responsibleaipolicy"
    r"|safety system|flagged as potentially violating",
    re.IGNORECASE,
)


class SingleChoiceOnly(Exception):
    """The server refuses ``n > 1``."""


def error_text(err):
    """Return the message of an HTTP error reply (body and exception message)."""
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


def is_content_filter(err, text):
    """Whether an HTTP error reply is a content filter's refusal."""
    code = _error_field(err, "code") or ""
    return "content_filter" in code.lower() or bool(_CONTENT_FILTER.search(text))


class ServerQuirks:
    """What one server refused so far, and how requests are adapted to it (thread-safe).

    Attributes
    ----------
    dropped : set of str
        Request fields never sent again.
    max_tokens_name : str
        The name ``max_tokens`` is sent under.
    single_choice : bool
        Whether ``n`` choices are asked for in ``n`` requests.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.dropped = set()
        self.max_tokens_name = "max_tokens"
        self.single_choice = False

    def create_kwargs(self, request):
        """Return the arguments of ``create`` for ``request``, as negotiated with the server."""
        kwargs = {name: value for name, value in request.items() if value is not None}
        if kwargs.get("n") == 1:
            del kwargs["n"]  # the default; some servers reject the field
        if not kwargs.get("logprobs"):
            kwargs.pop("logprobs", None)
        for name in self.dropped:
            kwargs.pop(name, None)
        if "max_tokens" in kwargs and self.max_tokens_name != "max_tokens":
            kwargs[self.max_tokens_name] = kwargs.pop("max_tokens")
        return kwargs

    def learn(self, err, kwargs, base_url):
        """Learn from a refused parameter; return what changed, or None.

        Raises :class:`SingleChoiceOnly` when the server refuses ``n > 1``.
        """
        openai = import_openai()
        if not isinstance(err, openai.APIStatusError):
            return None
        text = error_text(err)
        if kwargs.get("n", 1) > 1 and (
            ONE_CHOICE.search(text) or (err.status_code in (400, 422) and _names(err, text, "n"))
        ):
            raise SingleChoiceOnly
        if err.status_code not in (400, 422):
            return None
        for name in NEGOTIABLE:
            if name == "n" or name not in kwargs or not _names(err, text, name):
                continue
            change = self._drop(name)
            logger.warning(
                "The LLM server at %s refused the parameter %r; %s for this client's later "
                "requests.",
                base_url,
                name,
                change,
            )
            return change
        return None

    def _drop(self, name):
        with self._lock:
            if name == "max_tokens":
                self.max_tokens_name = "max_completion_tokens"
                return "max_tokens sent as max_completion_tokens"
            if name == "max_completion_tokens":
                self.dropped.add("max_tokens")
                self.max_tokens_name = "max_tokens"
                return "max_tokens dropped"
            if name in ("logprobs", "top_logprobs"):
                self.dropped.update(("logprobs", "top_logprobs"))
                return "logprobs dropped (replies have logprobs=None)"
            self.dropped.add(name)
            return f"{name} dropped"

    def ask_one_choice_at_a_time(self, reason, base_url):
        """Send ``n`` requests of one choice from now on, and say why."""
        with self._lock:
            self.single_choice = True
        logger.warning(
            "The LLM server at %s %s; this client now sends n separate requests.", base_url, reason
        )
