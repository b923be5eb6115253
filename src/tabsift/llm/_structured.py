"""Find JSON values and fenced code blocks in free-form LLM replies."""

import json
import re
from dataclasses import dataclass

from tabsift.llm._errors import LLMResponseError

__all__ = ["extract_block", "extract_json"]

_PREVIEW = 200
# The fallback scan tries at most this many opening brackets.
_MAX_FALLBACK_STARTS = 1000
# Deepest nesting of a candidate JSON value (far beyond any real reply).
_MAX_DEPTH = 200

_JSON_LANGUAGES = ("json", "json5", "jsonc", "")

_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*?)[ \t]*$")
_ONE_LINE_BLOCK = re.compile(r"^[ \t]*(?P<fence>`{3,})(?P<lang>[\w+.-]*)[ \t]+(?P<body>.*?)(?P=fence)[ \t]*$")


@dataclass(frozen=True)
class _Block:
    language: str
    content: str
    closed: bool
    lines: range  # the lines of the block, fences included


def _preview(text):
    text = text.strip()
    return repr(text if len(text) <= _PREVIEW else text[:_PREVIEW] + "...")


def _iter_blocks(text):
    """Yield the fenced code blocks of ``text`` in order (CommonMark-like, lenient)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        one = _ONE_LINE_BLOCK.match(line)
        if one:
            yield _Block(one["lang"].lower(), one["body"], True, range(i, i + 1))
            i += 1
            continue
        opening = _FENCE_OPEN.match(line)
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        fence = opening["fence"]
        info = opening["info"].split()
        language = info[0].lower() if info else ""
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body = []
        first = i
        i += 1
        closed = False
        while i < len(lines):
            if closing.match(lines[i]):
                closed = True
                i += 1
                break
            body.append(lines[i])
            i += 1
        # An unclosed fence runs to the end of the text (a reply cut by max_tokens).
        yield _Block(language, "\n".join(body), closed, range(first, i))


def extract_block(text, language=None):
    """Return the content of the first fenced code block in ``text``.

    Blocks are fenced with three or more backticks or tildes, as in Markdown.
    A fence left open runs to the end of the text (a reply cut by
    ``max_tokens``).

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
        When no such block is found.

    See Also
    --------
    extract_json : Find a JSON value, fenced or not.

    Examples
    --------
    >>> from tabsift.llm import extract_block
    >>> reply = "Here is the tree:\\n```tree\\nage <= 30\\n  yes: 1\\n```\\nDone."
    >>> print(extract_block(reply, "tree"))
    age <= 30
      yes: 1
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, found {type(text).__name__}.")
    wanted = None if language is None else str(language).strip().lower()
    found = []
    for block in _iter_blocks(text):
        if wanted is None or block.language == wanted:
            return block.content
        found.append(block.language or "(no language)")
    fence = f"```{wanted}" if wanted else "```"
    seen = f"; the blocks found are labelled: {', '.join(found)}" if found else ""
    raise LLMResponseError(
        f"no {fence} code block found in the reply{seen}. Expected the answer between a "
        f"line '{fence}' and a line '```'. The reply starts with: {_preview(text)}",
        text=text,
    )


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON; use null or a finite number")


def _loads(text):
    return json.loads(text, parse_constant=_reject_constant)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _bracket_spans(text):
    """Balanced ``{...}``/``[...]`` spans, found in one pass that skips JSON strings.

    Quotes only open a string inside brackets, so apostrophes and quotes in the
    surrounding prose do not derail the scan. Returns ``(start, end, depth)``
    triples sorted by start, where ``depth`` is the nesting depth of the span.
    """
    pairs = {"}": "{", "]": "["}
    spans = []
    stack = []  # [opening char, position, deepest nesting inside]
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = bool(stack)
        elif ch == "{" or ch == "[":
            stack.append([ch, i, 0])
        elif ch == "}" or ch == "]":
            if stack and stack[-1][0] == pairs[ch]:
                _, start, inner = stack.pop()
                spans.append((start, i + 1, inner + 1))
                if stack:
                    stack[-1][2] = max(stack[-1][2], inner + 1)
            else:
                # A mismatched closer: none of the open brackets starts valid JSON.
                stack.clear()
    spans.sort()
    return spans


def _decode_at(text, start):
    """Decode the JSON value starting at ``start``; raise ValueError if there is none."""
    try:
        return _DECODER.raw_decode(text, start)[0]
    except RecursionError as err:
        raise ValueError("nested too deeply") from err


def extract_json(text):
    """Return the first JSON object or array found in a free-form reply.

    Looks first in fenced code blocks labelled ``json`` (or unlabelled), then
    anywhere in the text with a bracket-matching scan that respects JSON
    strings, so prose around the value, brackets inside strings and stray
    brackets in the prose are handled. The JSON itself must be strict: double
    quotes, no comments, no trailing commas, no NaN.

    Parameters
    ----------
    text : str
        A reply from a model.

    Returns
    -------
    value : dict or list
        The first JSON object or array.

    Raises
    ------
    LLMResponseError
        When the text holds no valid JSON object or array; the message quotes
        the parse error, ready to be sent back to the model.

    See Also
    --------
    validate_json : Check the value against a schema.
    LLMClient.chat_json : Ask, extract, validate and ask again on failure.

    Examples
    --------
    >>> from tabsift.llm import extract_json
    >>> extract_json('Sure! {"threshold": 3.5, "note": "a } in a string"} Hope it helps.')
    {'threshold': 3.5, 'note': 'a } in a string'}
    >>> extract_json("```json\\n[1, 2]\\n```")
    [1, 2]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, found {type(text).__name__}.")

    # 1. Fenced blocks: the model said where its JSON is.
    fenced_error = None
    other_blocks = []
    for block in _iter_blocks(text):
        if block.language not in _JSON_LANGUAGES:
            other_blocks.append(block)
            continue
        try:
            value = _loads(block.content.strip())
        except (ValueError, RecursionError) as err:
            if block.language and fenced_error is None:
                fenced_error = err
            continue
        if isinstance(value, (dict, list)):
            return value
    if fenced_error is not None:
        # Scanning inside a broken ```json block would return a fragment of it.
        raise LLMResponseError(
            f"the ```json block in the reply is not valid JSON: {fenced_error}. Expected strict "
            "JSON: double-quoted keys and strings, no comments, no trailing commas.",
            text=text,
        )

    if other_blocks:
        # A dict literal in a ```python block is code, not the answer: blank
        # such blocks out before scanning the prose.
        lines = text.splitlines()
        for block in other_blocks:
            for k in block.lines:
                lines[k] = " " * len(lines[k])
        text = "\n".join(lines)

    # 2. Balanced bracket spans, leftmost first. Spans nested deeper than any
    # real reply are skipped, which keeps hostile input (a long run of "[")
    # linear instead of quadratic.
    first_error = None
    tried = set()
    for start, _, depth in _bracket_spans(text):
        if depth > _MAX_DEPTH:
            continue
        tried.add(start)
        try:
            return _decode_at(text, start)
        except ValueError as err:
            if first_error is None:
                first_error = (start, err)

    # 3. Fallback for prose that fooled the scan (an unmatched quote inside a
    # bracket): let the JSON decoder try from the other opening brackets.
    for count, match in enumerate(re.finditer(r"[\[{]", text)):
        if count >= _MAX_FALLBACK_STARTS:
            break
        if match.start() in tried:
            continue
        try:
            return _decode_at(text, match.start())
        except ValueError:
            continue

    if first_error is not None:
        start, err = first_error
        snippet = text[start : start + 60]
        detail = (
            f"the text at position {start} ({snippet!r}...) looks like JSON but does not "
            f"parse: {err}. Expected strict JSON: double-quoted keys and strings, no "
            "comments, no trailing commas."
        )
    else:
        detail = 'expected a JSON object such as {"key": 1} or an array such as [1, 2].'
    raise LLMResponseError(
        f"no JSON object or array found in the reply: {detail} The reply starts with: "
        f"{_preview(text)}",
        text=text,
    )
