"""Fenced code blocks in free-form LLM replies; the last one is the answer."""

import re
from dataclasses import dataclass

from tabsift.llm._errors import LLMResponseError
from tabsift.llm._reasoning import strip_reasoning
from tabsift.llm._reply_text import check_text, preview

__all__ = ["extract_block"]

_LANGUAGE = re.compile(r"[\w+.-]*")


@dataclass(frozen=True)
class Block:
    language: str
    content: str
    closed: bool
    lines: range  # the lines of the block, fences included


def _fence_of(line):
    """``(indent, fence, rest)`` when ``line`` opens with a fence, else None (linear)."""
    body = line.lstrip(" \t")
    if not body or body[0] not in "`~":
        return None
    char = body[0]
    size = len(body) - len(body.lstrip(char))
    if size < 3:
        return None
    return char, size, body[size:]


def iter_blocks(text):
    """Yield the fenced code blocks of ``text`` in order (CommonMark-like, lenient)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _fence_of(lines[i])
        if opening is None:
            i += 1
            continue
        char, size, rest = opening
        if char == "`" and "`" in rest:
            # ```lang body``` on one line; a backtick in the info string is not a fence.
            language = _LANGUAGE.match(rest)[0]
            after = rest[len(language) :]
            tail = after.rstrip(" \t")
            fence = "`" * size
            if after[:1] in (" ", "\t") and tail.endswith(fence) and len(tail.lstrip()) >= size:
                content = tail.lstrip(" \t")[:-size]
                yield Block(language.lower(), content, True, range(i, i + 1))
            i += 1
            continue
        info = rest.split()
        language = info[0].lower() if info else ""
        body = []
        first = i
        i += 1
        closed = False
        while i < len(lines):
            closing = _fence_of(lines[i])
            if (
                closing is not None
                and closing[0] == char
                and closing[1] >= size
                and not closing[2].strip()
            ):
                closed = True
                i += 1
                break
            body.append(lines[i])
            i += 1
        # An unclosed fence runs to the end of the text (a reply cut by max_tokens).
        yield Block(language, "\n".join(body), closed, range(first, i))


def extract_block(text, language=None):
    r"""Return the content of the last fenced code block in ``text``.

    Reasoning is removed first (:func:`strip_reasoning`). Blocks are fenced
    with three or more backticks or tildes, as in Markdown. A fence left open
    runs to the end of the text (a reply cut by ``max_tokens``). When there
    are several blocks the last one is used: a model drafts before it answers.

    Parameters
    ----------
    text : str
        A reply from a model.
    language : str, default=None
        Only consider blocks whose info string starts with this word
        (case-insensitive), e.g. ``"json"``, ``"python"`` or ``"tree"``. None
        accepts any block.

    Returns
    -------
    content : str
        The lines between the fences, without the fences.

    Raises
    ------
    LLMResponseError
        When no such block is found (``reason="unparsable"``).

    See Also
    --------
    extract_json : Find a JSON value, fenced or not.

    Examples
    --------
    >>> from tabsift.llm import extract_block
    >>> reply = "Here is the tree:\n```tree\nage <= 30\n  yes: 1\n```\nDone."
    >>> print(extract_block(reply, "tree"))
    age <= 30
      yes: 1
    """
    check_text(text)
    original = text
    text = strip_reasoning(text)
    wanted = None if language is None else str(language).strip().lower()
    found = []
    last = None
    for block in iter_blocks(text):
        if wanted is None or block.language == wanted:
            last = block
        else:
            found.append(block.language or "(no language)")
    if last is not None:
        return last.content
    fence = f"```{wanted}" if wanted else "```"
    seen = f"; the blocks found are labelled: {', '.join(found)}" if found else ""
    raise LLMResponseError(
        f"no {fence} code block found in the reply{seen}. Expected the answer between a "
        f"line '{fence}' and a line '```'. The reply starts with: {preview(text)}",
        text=original,
        reason="unparsable",
    )
