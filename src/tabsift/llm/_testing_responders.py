"""Responders for :class:`LocalLLMServer`: what the "model" of a test says."""

import json
import threading

__all__ = ["ReasonedReply", "ScriptedResponder", "echo_responder", "with_reasoning"]


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
