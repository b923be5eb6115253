"""Retry and deadline policy: one request, sent until it succeeds, fails for good or runs out."""

import json
import logging
import math
import threading
import time
from collections import Counter

from tabsift.llm._connection import import_openai, redact, resolve_base_url
from tabsift.llm._errors import LLMError, LLMRefusalError, LLMUnavailableError
from tabsift.llm._negotiation import NEGOTIABLE, ONE_CHOICE, error_text, is_content_filter
from tabsift.llm._reply import MalformedReply, charged_usage, parse_completion

logger = logging.getLogger("tabsift.llm")

_MAX_BACKOFF = 60.0  # seconds, cap of the exponential backoff
_MAX_RETRY_AFTER = 60.0  # seconds, cap of a server's Retry-After
# Seconds a request may run past ``timeout`` before it is abandoned.
_DEADLINE_MARGIN = 0.05


class DeadlineExceeded(Exception):
    """The request did not finish within the client's total deadline."""


class RequestFailed(Exception):
    """A redacted stand-in for the openai exception, chained as ``__cause__``.

    The openai exception is never chained: it holds the request, whose headers
    carry the API key.
    """


def retry_after(response):
    """Seconds the server asked to wait (Retry-After / retry-after-ms), capped, or None."""
    if response is None:
        return None
    headers = response.headers
    seconds = None
    try:
        if headers.get("retry-after-ms") is not None:
            seconds = float(headers["retry-after-ms"]) / 1000.0
        elif headers.get("retry-after") is not None:
            value = headers["retry-after"]
            try:
                seconds = float(value)
            except ValueError:
                import email.utils  # only for the rare HTTP-date form

                when = email.utils.parsedate_to_datetime(value)
                seconds = when.timestamp() - time.time()
    except (TypeError, ValueError, OverflowError):
        return None
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def classify(err, timeout):
    """Return ``(description, retryable, retry_after)`` for a failed request."""
    openai = import_openai()
    if isinstance(err, MalformedReply):
        return f"unreadable reply: {err}", True, None
    if isinstance(err, DeadlineExceeded):
        return f"timeout (no complete answer within timeout={timeout}s)", True, None
    if isinstance(err, (json.JSONDecodeError, UnicodeDecodeError)):
        return f"unreadable reply: invalid JSON ({err})", True, None
    if isinstance(err, openai.APITimeoutError):
        return f"timeout (no answer within timeout={timeout}s)", True, None
    if isinstance(err, openai.APIConnectionError):
        cause = err.__cause__
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else str(err)
        return f"connection error ({detail})", True, None
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        retryable = (status in (408, 429) or status >= 500) and not ONE_CHOICE.search(
            error_text(err)
        )
        return f"HTTP {status}", retryable, retry_after(err.response) if retryable else None
    if isinstance(err, openai.APIResponseValidationError):
        return f"unreadable reply: {err}", True, None
    return f"{type(err).__name__}: {err}", False, None


def describe_failure(err, key, timeout, base_url):
    """Return ``(what, retryable, wait, error, status)`` for a failed request, key redacted.

    ``error`` is an exception to raise at once (a refusal), else None.
    """
    openai = import_openai()
    what, retryable, wait = classify(err, timeout)
    what = redact(what, key)
    status = None
    if isinstance(err, openai.APIStatusError):
        detail = redact(error_text(err), key)
        status = (err.status_code, detail)
        if err.status_code in (400, 403, 422) and is_content_filter(err, detail):
            refusal = LLMRefusalError(
                f"The LLM server at {base_url} refused the request with {what} (a content "
                f"filter): {detail}. It is not retried; rephrase the prompt or relax the "
                "gateway's content filter.",
                reason="refused",
            )
            return what, False, None, refusal, status
    return what, retryable, wait, None, status


def rejected_error(what, status, *, base_url, model, api_key_env):
    """Return the :class:`LLMError` for a request the server rejected for good."""
    if status is not None:
        code, detail = status
        if code in (401, 403):
            hint = f"Check the API key (environment variable {api_key_env!r} or api_key=...)."
        elif code == 404:
            hint = f"Check model={model!r} and base_url={base_url!r}."
        else:
            hint = "Fix the request (model name, parameters); it is not retried."
        return LLMError(
            f"The LLM server at {base_url} rejected the request with {what}: {detail}. {hint}"
        )
    return LLMError(f"The request to the LLM server at {base_url} failed: {what}.")


def create_with_deadline(client, kwargs, timeout, deadline=None):
    """Call the server with a total deadline of ``timeout`` seconds (sooner at ``deadline``)."""
    box = {}

    def work():
        try:
            box["raw"] = client.chat.completions.create(**kwargs)
        except BaseException as err:  # handed to the calling thread
            box["error"] = err

    worker = threading.Thread(target=work, name="tabsift-llm-request", daemon=True)
    worker.start()
    wait = float(timeout) + _DEADLINE_MARGIN
    if deadline is not None:
        wait = min(wait, max(deadline - time.monotonic(), 0.0) + _DEADLINE_MARGIN)
    worker.join(wait)
    if worker.is_alive():
        # The read timeout of the HTTP client ends the abandoned request later.
        raise DeadlineExceeded
    if "error" in box:
        raise box["error"]
    return box["raw"]


def backoff_wait(backoff, attempt, rng):
    """Seconds before retry ``attempt``: doubled each time, capped, with jitter in [0.5, 1]."""
    wait = min(backoff * 2 ** (attempt - 1), _MAX_BACKOFF)
    return wait * (0.5 + 0.5 * rng.random())


def send_once(llm, request, deadline=None):
    """Send ``request`` for the :class:`LLMClient` ``llm``: negotiated, retried, budgeted.

    Uses ``llm``'s settings, its openai client, usage meter and what it knows
    of the server; returns a :class:`ChatResponse`. May raise
    :class:`SingleChoiceOnly` when the server refuses ``n > 1``.
    """
    openai = import_openai()
    client = llm._openai_client()
    key = client.api_key
    base_url = resolve_base_url(llm.base_url)
    worst_case = (request["n"] * request["max_tokens"]) if request["max_tokens"] else 0
    attempts = llm.max_retries + 1
    negotiations = len(NEGOTIABLE)
    failures = []
    attempt = 0
    retry = False
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            raise LLMUnavailableError(
                f"The caller's time limit ran out before the LLM server at {base_url} answered "
                f"({attempt} attempt(s) made); raise the time limit to wait longer.",
                attempts=attempt,
                errors=failures,
            )
        kwargs = llm._quirks.create_kwargs(request)
        reservation = llm._meter.begin_request(
            retry=retry,
            max_requests=llm.max_requests,
            max_total_tokens=llm.max_total_tokens,
            worst_case_tokens=worst_case,
        )
        retry = True
        failure = None
        try:
            raw = create_with_deadline(client, kwargs, llm.timeout, deadline)
            response = parse_completion(raw, request["model"])
        except (
            openai.OpenAIError,
            MalformedReply,
            DeadlineExceeded,
            json.JSONDecodeError,
            UnicodeDecodeError,
        ) as err:
            llm._meter.end_request(reservation, failed=True)
            failure = describe_failure(err, key, llm.timeout, base_url)
            changed = None
            if negotiations > 0:
                changed = llm._quirks.learn(err, kwargs, base_url)  # may raise SingleChoiceOnly
        if failure is None:
            break
        what, retryable, wait, error, status = failure
        failures.append(what)
        if error is not None:
            raise error from RequestFailed(what)
        if changed is not None:
            negotiations -= 1
            logger.info("LLM request refused (%s); sent again with %s", what, changed)
            continue
        attempt += 1
        if not retryable:
            raise rejected_error(
                what, status, base_url=base_url, model=llm.model, api_key_env=llm.api_key_env
            ) from RequestFailed(what)
        if attempt >= attempts:
            summary = ", ".join(f"{n}x {w}" for w, n in Counter(failures).items())
            raise LLMUnavailableError(
                f"The LLM server at {base_url} (model {llm.model!r}) did not answer after "
                f"{attempts} attempts (max_retries={llm.max_retries}). Failures: {summary}. "
                f"Last error: {what}. Check that the server is running and reachable, or "
                "raise max_retries or timeout.",
                attempts=attempts,
                errors=failures,
            ) from RequestFailed(what)
        if wait is None:
            wait = backoff_wait(llm.backoff, attempt, llm._rng)
        logger.info(
            "LLM request failed (%s); retry %d of %d in %.2f s",
            what,
            attempt,
            llm.max_retries,
            wait,
        )
        if deadline is not None:
            wait = min(wait, max(deadline - time.monotonic(), 0.0))
        time.sleep(wait)
    llm._meter.end_request(reservation, usage=charged_usage(request, response))
    logger.debug(
        "LLM reply: model=%s choices=%d tokens=%d attempts=%d",
        response.model,
        len(response.choices),
        response.usage.total_tokens,
        attempt + 1,
    )
    return response
