"""Asking for JSON: validate each reply, and ask again with what was wrong."""

import logging

from tabsift.llm._errors import LLMRefusalError, LLMResponseError, LLMTruncatedError
from tabsift.llm._json_reply import extract_json
from tabsift.llm._request import check_number, json_schema_format, normalize_messages
from tabsift.llm._schema import validate_json

logger = logging.getLogger("tabsift.llm")

_ASK_SHORTER = (
    "Your previous reply was cut off at the length limit before it was complete. Reply again "
    "with a shorter answer: only the JSON, no explanation."
)
_ASK_UNFILTERED = (
    "Your previous reply was blocked by a content filter. Reply again with only the JSON the "
    "task asks for."
)


def chat_json(llm, messages, *, schema, validator, max_attempts, chat_kwargs):
    """:meth:`LLMClient.chat_json` for the client ``llm`` (documented there)."""
    check_number("max_attempts", max_attempts, low=1, integer=True)
    if validator is not None and not callable(validator):
        raise TypeError(f"validator must be callable or None, found {validator!r}.")
    if schema is not None and not isinstance(schema, (dict, bool)):
        raise TypeError(f"schema must be a dict or None, found {type(schema).__name__}.")
    msgs = normalize_messages(messages)
    structured = (
        isinstance(schema, dict)
        and llm.structured_output == "auto"
        and "response_format" not in chat_kwargs
    )
    response_format = json_schema_format(schema) if structured else None
    errors = []
    text = None
    first_error = None
    for attempt in range(1, max_attempts + 1):
        kwargs = chat_kwargs
        # Not once the server refused it: the cache key holds what is sent.
        if structured and "response_format" not in llm._quirks.dropped:
            kwargs = dict(chat_kwargs, response_format=response_format)
        response = llm.chat(msgs, **kwargs)
        first_error = None
        for choice in response.choices:
            try:
                value = _accept(choice, schema, validator)
            except ValueError as err:  # LLMResponseError is a ValueError too
                if first_error is None:
                    first_error = err
                continue
            return value, response
        text = response.choices[0].text
        message = str(first_error) or type(first_error).__name__
        errors.append(message)
        logger.info(
            "LLM JSON reply rejected (attempt %d of %d): %s", attempt, max_attempts, message
        )
        msgs = [
            *msgs,
            {"role": "assistant", "content": text or "(no reply)"},
            {"role": "user", "content": _ask_again(first_error, message)},
        ]
    listed = "\n".join(f"  attempt {i}: {e}" for i, e in enumerate(errors, start=1))
    # The class and reason of the last attempt's error: what an estimator counts.
    reason = getattr(first_error, "reason", "invalid")
    if isinstance(first_error, LLMTruncatedError):
        error_class = LLMTruncatedError
    elif isinstance(first_error, LLMRefusalError):
        error_class = LLMRefusalError
    else:
        error_class = LLMResponseError
    raise error_class(
        f"No valid JSON reply after {max_attempts} attempts:\n{listed}\nMake the prompt "
        "state the expected format, or raise max_attempts.",
        errors=errors,
        text=text,
        reason=reason,
    )


def _accept(choice, schema, validator):
    """Return the JSON value of ``choice``, or a ``ValueError`` saying why it is rejected."""
    if choice.finish_reason == "length":
        raise LLMTruncatedError(
            "the reply was cut off at the length limit (finish_reason='length') before it "
            "was complete.",
            text=choice.text,
        )
    if choice.finish_reason == "content_filter":
        raise LLMRefusalError(
            "the reply was blocked by the server's content filter "
            "(finish_reason='content_filter').",
            text=choice.text,
        )
    value = extract_json(choice.text)
    if schema is not None:
        validate_json(value, schema)
    if validator is not None:
        validator(value)
    return value


def _ask_again(error, message):
    """Return the user message that asks for a corrected reply after ``error``."""
    if isinstance(error, LLMTruncatedError):
        return _ASK_SHORTER
    if isinstance(error, LLMRefusalError):
        return _ASK_UNFILTERED
    return (
        f"Your previous reply could not be used: {message}\n"
        "Reply again with only the corrected JSON, and no other text."
    )
