"""The reply of a chat request, as plain frozen dataclasses."""

from dataclasses import dataclass, field

__all__ = ["ChatResponse", "Choice", "TokenLogprob", "TokenUsage"]


@dataclass(frozen=True)
class TokenLogprob:
    """The log-probability of one generated token.

    Parameters
    ----------
    token : str
        The token as text.
    logprob : float
        Its natural-log probability.
    top_logprobs : tuple of (str, float), default=()
        The most likely alternatives at this position with their
        log-probabilities, when ``top_logprobs`` was requested.

    Examples
    --------
    >>> from tabsift.llm import TokenLogprob
    >>> TokenLogprob("yes", -0.1).logprob
    -0.1
    """

    token: str
    logprob: float
    top_logprobs: tuple = ()


@dataclass(frozen=True)
class Choice:
    """One generated reply.

    Parameters
    ----------
    text : str
        The reply text (empty when the server sent no content).
    finish_reason : str or None
        Why generation stopped: ``"stop"``, ``"length"``, ...
    logprobs : tuple of TokenLogprob or None, default=None
        Token log-probabilities, or None when the server did not return them.
    reasoning : str or None, default=None
        The model's reasoning, kept apart from ``text`` and never parsed: the
        server's ``reasoning_content`` (or ``reasoning``) field, or the
        ``<think>`` blocks removed from the reply by
        :func:`~tabsift.llm.strip_reasoning`.

    Examples
    --------
    >>> from tabsift.llm import Choice
    >>> Choice("hi", "stop").logprobs is None
    True
    """

    text: str
    finish_reason: str | None
    logprobs: tuple | None = None
    reasoning: str | None = None


@dataclass(frozen=True)
class TokenUsage:
    """Token counts the server reported for one request.

    Parameters
    ----------
    prompt_tokens : int, default=0
    completion_tokens : int, default=0
    total_tokens : int, default=0

    Examples
    --------
    >>> from tabsift.llm import TokenUsage
    >>> TokenUsage(3, 2, 5).total_tokens
    5
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class ChatResponse:
    """The answer to :meth:`LLMClient.chat`.

    Parameters
    ----------
    choices : list of Choice
        One entry per requested completion (``n``).
    usage : TokenUsage
        Token counts the server reported for the request (the original ones
        for a cached reply).
    cached : bool, default=False
        Whether the reply came from the response cache, without a request.
    model : str or None, default=None
        The model that answered, as reported by the server.

    Attributes
    ----------
    text : str
        The text of the first choice.
    texts : list of str
        The texts of all choices.

    Examples
    --------
    >>> from tabsift.llm import ChatResponse, Choice, TokenUsage
    >>> r = ChatResponse([Choice("a", "stop"), Choice("b", "stop")], TokenUsage())
    >>> r.text, r.texts
    ('a', ['a', 'b'])
    """

    choices: list
    usage: TokenUsage = field(default_factory=TokenUsage)
    cached: bool = False
    model: str | None = None

    @property
    def text(self):
        return self.choices[0].text

    @property
    def texts(self):
        return [choice.text for choice in self.choices]

    def _to_payload(self):
        """Plain-JSON form stored in the response cache (no key, no headers)."""
        return {
            "model": self.model,
            "choices": [
                {
                    "text": c.text,
                    "finish_reason": c.finish_reason,
                    "logprobs": None
                    if c.logprobs is None
                    else [[t.token, t.logprob, [list(p) for p in t.top_logprobs]] for t in c.logprobs],
                    **({} if c.reasoning is None else {"reasoning": c.reasoning}),
                }
                for c in self.choices
            ],
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            },
        }

    @classmethod
    def _from_payload(cls, payload, *, cached):
        from tabsift.llm._reasoning import split_reasoning

        choices = []
        for c in payload["choices"]:
            # Entries stored before reasoning was split off are split here.
            text, thought = split_reasoning(c["text"])
            choices.append(
                Choice(
                    text=text,
                    finish_reason=c["finish_reason"],
                    logprobs=None
                    if c["logprobs"] is None
                    else tuple(
                        TokenLogprob(tok, float(lp), tuple((a, float(b)) for a, b in top))
                        for tok, lp, top in c["logprobs"]
                    ),
                    reasoning=c.get("reasoning", thought),
                )
            )
        return cls(
            choices=choices,
            usage=TokenUsage(**payload["usage"]),
            cached=cached,
            model=payload.get("model"),
        )
