"""Guards on a reply's text: the length limit, and the preview that error messages show.

Every scan of a reply is linear in its length, and replies longer than
:data:`MAX_REPLY_CHARS` are refused unread, so a hostile or runaway reply
cannot stall an estimator.
"""

from tabsift.llm._errors import LLMResponseError

__all__ = ["MAX_REPLY_CHARS"]

#: Longest reply (in characters) that :func:`extract_json` and
#: :func:`extract_block` accept.
MAX_REPLY_CHARS = 1_000_000

_PREVIEW = 200


def preview(text):
    text = text.strip()
    return repr(text if len(text) <= _PREVIEW else text[:_PREVIEW] + "...")


def check_text(text, limit=None):
    """Refuse a non-string and, unread, a reply over ``limit`` (:data:`MAX_REPLY_CHARS`)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, found {type(text).__name__}.")
    limit = MAX_REPLY_CHARS if limit is None else limit
    if len(text) > limit:
        raise LLMResponseError(
            f"the reply is {len(text):,} characters long, over the limit of "
            f"{limit:,}; it was not parsed. Ask for a shorter answer (set max_tokens).",
            text=text[:_PREVIEW],
            reason="unparsable",
        )
