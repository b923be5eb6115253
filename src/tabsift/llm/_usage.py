"""Usage accounting and the hard request/token budget of an :class:`LLMClient`."""

import threading
from dataclasses import dataclass, fields

from tabsift.llm._errors import BudgetExceededError

__all__ = ["Usage"]


@dataclass(frozen=True)
class Usage:
    """What an :class:`LLMClient` has spent so far: a snapshot of its counters.

    Parameters
    ----------
    requests : int, default=0
        HTTP requests sent to the server, retries included. This is what
        ``max_requests`` limits.
    cached_requests : int, default=0
        Calls answered from the response cache, without a request.
    retries : int, default=0
        Requests that were a retry of a failed one.
    failures : int, default=0
        Requests that failed (rate limit, server error, timeout, dropped
        connection, unreadable or rejected reply).
    prompt_tokens : int, default=0
        Prompt tokens reported by the server. Cached replies cost none.
    completion_tokens : int, default=0
        Completion tokens reported by the server.
    total_tokens : int, default=0
        Total tokens reported by the server. This is what ``max_total_tokens``
        limits.

    See Also
    --------
    LLMClient.usage : The current usage of a client.

    Examples
    --------
    >>> from tabsift.llm import Usage
    >>> Usage(requests=2, total_tokens=30)
    Usage(requests=2, cached_requests=0, retries=0, failures=0, prompt_tokens=0, completion_tokens=0, total_tokens=30)
    """

    requests: int = 0
    cached_requests: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


_FIELDS = tuple(f.name for f in fields(Usage))


class _UsageMeter:
    """Thread-safe counters plus the budget check, shared by all threads of one client."""

    def __init__(self, counts=None):
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(_FIELDS, 0)
        if counts:
            self._counts.update({k: int(v) for k, v in counts.items() if k in self._counts})
        # Worst-case completion tokens of requests in flight, so that concurrent
        # threads cannot together overrun max_total_tokens.
        self._reserved_tokens = 0

    def snapshot(self):
        with self._lock:
            return Usage(**self._counts)

    def reset(self):
        with self._lock:
            self._counts = dict.fromkeys(_FIELDS, 0)

    def count_cached(self):
        with self._lock:
            self._counts["cached_requests"] += 1

    def begin_request(self, *, retry, max_requests, max_total_tokens, worst_case_tokens):
        """Check the budget and count one request about to be sent; return a reservation."""
        with self._lock:
            counts = self._counts
            if max_requests is not None and counts["requests"] >= max_requests:
                raise BudgetExceededError(
                    f"max_requests={max_requests} reached: {counts['requests']} requests were "
                    "already sent (retries included), so this request was not sent. Raise "
                    "max_requests, or call reset_usage() to start a new budget.",
                    usage=Usage(**counts),
                )
            if max_total_tokens is not None:
                used = counts["total_tokens"] + self._reserved_tokens
                if used >= max_total_tokens or used + worst_case_tokens > max_total_tokens:
                    extra = (
                        f" plus up to {worst_case_tokens} completion tokens for this request "
                        "(n * max_tokens)"
                        if worst_case_tokens
                        else ""
                    )
                    raise BudgetExceededError(
                        f"max_total_tokens={max_total_tokens} would be exceeded: {used} tokens "
                        f"are used or reserved{extra}, so this request was not sent. Raise "
                        "max_total_tokens, lower max_tokens, or call reset_usage() to start a "
                        "new budget.",
                        usage=Usage(**counts),
                    )
            counts["requests"] += 1
            if retry:
                counts["retries"] += 1
            self._reserved_tokens += worst_case_tokens
        return worst_case_tokens

    def end_request(self, reservation, *, usage=None, failed=False):
        with self._lock:
            self._reserved_tokens -= reservation
            if failed:
                self._counts["failures"] += 1
            if usage is not None:
                self._counts["prompt_tokens"] += usage.prompt_tokens
                self._counts["completion_tokens"] += usage.completion_tokens
                self._counts["total_tokens"] += usage.total_tokens
