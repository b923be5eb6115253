"""One failure policy for every LLM-powered estimator.

An estimator asks the LLM through an :class:`LLMSession`. Each answer is
counted: accepted, or rejected by reason (``truncated``, ``refused``,
``unparsable``, ``invalid``). When the LLM fails for good (the server is down,
the budget is spent, the request is refused), the session stops asking:
with ``on_llm_error="fallback"`` (the default) the estimator keeps what it
finished and completes the rest with its offline method, and with ``"raise"``
the error propagates. Either way :meth:`LLMSession.finish` stores the same
record, :class:`LLMReport`, as ``llm_report_`` in every family, and issues at
most ONE :class:`LLMFallbackWarning` saying what happened and what to change.
"""

import warnings
from dataclasses import dataclass, field

from tabsift.llm._errors import (
    BudgetExceededError,
    CacheMissError,
    LLMError,
    LLMResponseError,
    LLMUnavailableError,
)

#: The reasons a reply is rejected; ``llm_report_.rejected`` counts by these names.
REJECTION_REASONS = ("truncated", "refused", "unparsable", "invalid")

#: Values of an estimator's ``on_llm_error`` parameter.
ON_LLM_ERROR = ("fallback", "raise")

_MAX_ERRORS = 20


class LLMFallbackWarning(UserWarning):
    """The LLM failed for good during a fit and the offline method finished the work.

    The message says what failed and what to change; the estimator's
    ``llm_report_`` holds the counts and the error messages.

    Examples
    --------
    >>> import warnings
    >>> from tabsift.llm import LLMFallbackWarning
    >>> issubclass(LLMFallbackWarning, UserWarning)
    True
    """


@dataclass
class LLMReport:
    """What the LLM did during a fit: the ``llm_report_`` of every LLM estimator.

    Attributes
    ----------
    requests : int
        LLM interactions started (one per question asked, retries inside
        the client not counted again).
    accepted : int
        Answers that were used.
    rejected : dict of str to int
        Answers that could not be used, by reason (:data:`REJECTION_REASONS`).
    fallbacks : int
        Pieces of work the offline method did instead of the LLM.
    errors : list of str
        Messages of the failures (at most 20, the key never included).
    failed : bool
        True when the LLM failed for good and the session stopped asking.

    Examples
    --------
    >>> from tabsift.llm import LLMReport
    >>> report = LLMReport(requests=3, accepted=2, rejected={"truncated": 1})
    >>> report.to_dict()["rejected"]
    {'truncated': 1}
    """

    requests: int = 0
    accepted: int = 0
    rejected: dict = field(default_factory=dict)
    fallbacks: int = 0
    errors: list = field(default_factory=list)
    failed: bool = False

    def to_dict(self):
        """Return a JSON-ready copy."""
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "fallbacks": self.fallbacks,
            "errors": list(self.errors),
            "failed": self.failed,
        }


def check_on_llm_error(value, *, owner):
    """Raise a ValueError naming ``on_llm_error`` unless it is one of :data:`ON_LLM_ERROR`."""
    if value not in ON_LLM_ERROR:
        raise ValueError(
            f"{owner}: on_llm_error must be 'fallback' or 'raise', got {value!r}."
        )


class LLMSession:
    """Ask an LLM during one fit, under the failure policy.

    Parameters
    ----------
    client : LLMClient or None
        None: every call falls back at once (offline mode), nothing warns.
    owner : str
        The estimator, named in the warning.
    on_llm_error : {"fallback", "raise"}, default="fallback"
        What a failure for good does (see the module docstring).

    Examples
    --------
    >>> import warnings
    >>> from tabsift.llm import LLMSession
    >>> from tabsift.llm.testing import LocalLLMServer
    >>> with LocalLLMServer(lambda request: '{"k": 2}') as server:
    ...     session = LLMSession(server.client(), owner="MyEstimator")
    ...     value = session.ask(lambda llm: llm.chat_json("k?")[0])
    >>> value, session.report.accepted
    ({'k': 2}, 1)
    """

    def __init__(self, client, *, owner, on_llm_error="fallback"):
        check_on_llm_error(on_llm_error, owner=owner)
        self.client = client
        self.owner = owner
        self.on_llm_error = on_llm_error
        self.report = LLMReport()

    @property
    def active(self):
        """True while the LLM is configured and has not failed for good."""
        return self.client is not None and not self.report.failed

    def _error(self, message):
        if len(self.report.errors) < _MAX_ERRORS:
            self.report.errors.append(str(message))

    def ask(self, question, *, validate=None):
        """Run ``question(client)``; return its answer, or None when it cannot be used.

        ``question`` makes the LLM calls of one interaction and returns the
        answer; ``validate`` (optional) checks it and raises ``ValueError``
        (or an :class:`LLMResponseError` with its ``reason``) to reject it.
        A rejected answer is counted under its reason and None is returned;
        a failure for good stops the session (``on_llm_error="fallback"``:
        None is returned from now on) or raises (``"raise"``). Nothing else
        than these errors is caught: a bug is never hidden.
        """
        if not self.active:
            return None
        self.report.requests += 1
        try:
            answer = question(self.client)
            if validate is not None:
                validate(answer)
        except LLMResponseError as err:
            self.reject(getattr(err, "reason", "invalid"), err)
            return None
        except (LLMUnavailableError, BudgetExceededError, CacheMissError, LLMError) as err:
            self.report.failed = True
            self._error(err)
            if self.on_llm_error == "raise":
                raise
            return None
        except ValueError as err:  # the caller's validation of an answer
            self.reject("invalid", err)
            return None
        self.report.accepted += 1
        return answer

    def reject(self, reason, message=None):
        """Count an answer that could not be used (``reason`` in :data:`REJECTION_REASONS`)."""
        if reason not in REJECTION_REASONS:
            reason = "invalid"
        self.report.rejected[reason] = self.report.rejected.get(reason, 0) + 1
        if message is not None:
            self._error(f"{reason}: {message}")

    def fallback(self, n=1):
        """Count ``n`` pieces of work the offline method did instead of the LLM."""
        if self.client is not None:
            self.report.fallbacks += int(n)

    def merge(self, report, *, source=None):
        """Add another :class:`LLMReport`'s counts (an inner estimator's) to this session's.

        ``source`` prefixes the merged error messages (e.g. ``"Binarizer"``).
        Whether a failure for good there stops this session is the caller's
        choice (it does when both ask the same server).
        """
        mine = self.report
        mine.requests += report.requests
        mine.accepted += report.accepted
        mine.fallbacks += report.fallbacks
        for reason, count in report.rejected.items():
            mine.rejected[reason] = mine.rejected.get(reason, 0) + count
        for message in report.errors:
            self._error(f"{source}: {message}" if source else message)

    def finish(self, estimator=None, *, what="its offline method", stacklevel=3):
        """Store ``llm_report_`` on ``estimator`` (if given); warn once if the LLM failed for good.

        ``stacklevel`` is passed to :func:`warnings.warn`: count the frames
        between the user's call and this one, so the warning points at the
        user's line. Returns the report.
        """
        if estimator is not None:
            estimator.llm_report_ = self.report
        if self.client is not None and self.report.failed:
            last = self.report.errors[-1] if self.report.errors else "unknown error"
            warnings.warn(
                f"{self.owner}: the LLM failed during fit ({last}); {self.report.accepted} "
                f"LLM answer(s) were used and {what} did the remaining "
                f"{self.report.fallbacks} piece(s) of work. See llm_report_; check the server "
                "and the client's budget, or pass on_llm_error='raise' to stop at the first "
                "such failure.",
                LLMFallbackWarning,
                stacklevel=stacklevel,
            )
        return self.report
