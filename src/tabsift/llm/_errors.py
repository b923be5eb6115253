"""Exceptions raised by :mod:`tabsift.llm`.

Every exception derives from :class:`LLMError`, so a caller can catch the whole
family with one ``except`` clause.
"""

__all__ = [
    "BudgetExceededError",
    "CacheMissError",
    "LLMError",
    "LLMResponseError",
    "LLMUnavailableError",
    "SchemaValidationError",
]


class LLMError(Exception):
    """Base class of every error raised by :mod:`tabsift.llm`.

    Raised directly for configuration problems (a missing API key) and for
    requests the server rejects for good (HTTP 4xx other than 408 and 429),
    which are not retried.

    Examples
    --------
    >>> from tabsift.llm import LLMError, CacheMissError
    >>> issubclass(CacheMissError, LLMError)
    True
    """


class LLMUnavailableError(LLMError):
    """The server could not answer after every allowed attempt.

    Raised after the last retry of a rate limit (HTTP 429), a server error
    (HTTP 5xx), a timeout, a dropped connection or an unreadable reply. Its
    ``__cause__`` is a redacted stand-in for the last underlying error, never
    the openai exception itself (which can carry request headers).

    Attributes
    ----------
    attempts : int
        How many requests were sent before giving up.
    errors : list of str
        A short description of each failed attempt, oldest first.

    Examples
    --------
    >>> from tabsift.llm import LLMUnavailableError
    >>> err = LLMUnavailableError("down", attempts=3, errors=["HTTP 503"] * 3)
    >>> err.attempts
    3
    """

    def __init__(self, message, *, attempts=0, errors=()):
        super().__init__(message)
        self.attempts = attempts
        self.errors = list(errors)


class BudgetExceededError(LLMError):
    """A request was refused, before sending, because it would exceed the budget.

    Everything done before (usage counters, cached replies) is kept.

    Attributes
    ----------
    usage : Usage
        The client's usage when the request was refused.

    Examples
    --------
    >>> from tabsift.llm import BudgetExceededError, Usage
    >>> BudgetExceededError("max_requests=0 reached", usage=Usage()).usage.requests
    0
    """

    def __init__(self, message, *, usage=None):
        super().__init__(message)
        self.usage = usage


class CacheMissError(LLMError):
    """``cache_mode="replay"`` and the response cache holds no reply for a request.

    Attributes
    ----------
    key : str
        The cache key of the missing request.

    Examples
    --------
    >>> from tabsift.llm import CacheMissError
    >>> CacheMissError("no entry", key="abc").key
    'abc'
    """

    def __init__(self, message, *, key=None):
        super().__init__(message)
        self.key = key


class LLMResponseError(LLMError, ValueError):
    """A reply could not be used: no JSON or code block in it, or it failed validation.

    Attributes
    ----------
    errors : list of str
        One message per failed attempt (for :meth:`LLMClient.chat_json`).
    text : str or None
        The reply text that could not be used (the last one).

    Examples
    --------
    >>> from tabsift.llm import extract_json, LLMResponseError
    >>> try:
    ...     extract_json("no json here")
    ... except LLMResponseError as err:
    ...     print("found no JSON" if "no JSON" in str(err) else err)
    found no JSON
    """

    #: Why the reply was rejected, one of :data:`REJECTION_REASONS`; the count
    #: an estimator keeps in ``llm_report_.rejected`` is by this name.
    reason = "invalid"

    def __init__(self, message, *, errors=(), text=None, reason=None):
        super().__init__(message)
        self.errors = list(errors)
        self.text = text
        if reason is not None:
            self.reason = reason


class LLMTruncatedError(LLMResponseError):
    """The server stopped the reply at its length limit (``finish_reason="length"``).

    The reply is incomplete, so it is never parsed as an answer; the model is
    told it was cut off, not that its JSON is malformed.

    Examples
    --------
    >>> from tabsift.llm import LLMTruncatedError
    >>> LLMTruncatedError("cut off at max_tokens").reason
    'truncated'
    """

    reason = "truncated"


class LLMRefusalError(LLMResponseError):
    """The server or a gateway filtered the reply.

    Either ``finish_reason="content_filter"`` or an HTTP 400 naming a content filter.

    Examples
    --------
    >>> from tabsift.llm import LLMRefusalError
    >>> LLMRefusalError("filtered by the gateway").reason
    'refused'
    """

    reason = "refused"


class SchemaValidationError(LLMResponseError):
    """A JSON value does not match a schema.

    Attributes
    ----------
    path : str
        Where the mismatch is, as a JSON path such as ``$.thresholds[2]``.

    Examples
    --------
    >>> from tabsift.llm import validate_json, SchemaValidationError
    >>> try:
    ...     validate_json({"a": "x"}, {"properties": {"a": {"type": "number"}}})
    ... except SchemaValidationError as err:
    ...     err.path
    '$.a'
    """

    def __init__(self, message, *, path="$"):
        super().__init__(message)
        self.path = path


# Show the public location in tracebacks and reprs, not the private module.
for _cls in (
    LLMError,
    LLMUnavailableError,
    BudgetExceededError,
    CacheMissError,
    LLMResponseError,
    LLMTruncatedError,
    LLMRefusalError,
    SchemaValidationError,
):
    _cls.__module__ = "tabsift.llm"
del _cls
