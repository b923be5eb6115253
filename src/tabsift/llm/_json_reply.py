"""Find the JSON value that answers a free-form LLM reply.

The scan is linear in the length of the reply. Reasoning blocks are removed
first (:func:`strip_reasoning`), and the LAST answer of a reply is used: a
reasoning model drafts before it answers.
"""

import json
import math
import re

from tabsift.llm._blocks import iter_blocks
from tabsift.llm._errors import LLMResponseError
from tabsift.llm._reasoning import strip_reasoning
from tabsift.llm._reply_text import check_text, preview

__all__ = ["extract_json"]

# Deepest nesting of a candidate JSON value (far beyond any real reply).
_MAX_DEPTH = 200
# The fallback scan gives up after this many starts nested past the recursion limit.
_MAX_TOO_DEEP = 10

_JSON_LANGUAGES = ("json", "json5", "jsonc", "")
_CONSTANT = re.compile(r"NaN|-?Infinity")


class _Constant:
    """Stands for NaN/Infinity while decoding, so that the value can be rejected."""


_CONSTANT_SENTINEL = _Constant()
_DECODER = json.JSONDecoder(parse_constant=lambda name: _CONSTANT_SENTINEL)


def _has_non_finite(value):
    stack = [value]
    while stack:
        item = stack.pop()
        if item is _CONSTANT_SENTINEL or (isinstance(item, float) and not math.isfinite(item)):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _loads(text):
    value = _DECODER.decode(text)
    if _has_non_finite(value):
        raise ValueError("NaN and Infinity are not valid JSON; use null or a finite number")
    return value


_OUTSIDE = re.compile(r"[\[{]")
_INSIDE = re.compile(r'[\[\]{}"]')
_STRING_END = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_PAIRS = {"}": "{", "]": "["}


def _bracket_spans(text):
    """Balanced ``{...}``/``[...]`` spans, found in one linear pass.

    Quotes only open a string inside brackets, so apostrophes and quotes in the
    surrounding prose do not derail the scan. Returns ``(start, end, height)``
    triples in closing order (increasing end); ``height`` is the nesting
    height of the span.
    """
    spans = []
    chars = []  # the open brackets
    starts = []
    heights = []  # the greatest height closed inside each open bracket
    position = 0
    outside, inside, string_end = _OUTSIDE.search, _INSIDE.search, _STRING_END.match
    while True:
        match = inside(text, position) if chars else outside(text, position)
        if match is None:
            return spans
        ch = match[0]
        i = match.start()
        position = i + 1
        if ch == '"':
            end = string_end(text, position)
            if end is None:
                return spans  # the string runs to the end of the text
            position = end.end()
        elif ch == "{" or ch == "[":
            chars.append(ch)
            starts.append(i)
            heights.append(0)
        elif chars[-1] == _PAIRS[ch]:
            chars.pop()
            height = heights.pop() + 1
            spans.append((starts.pop(), i + 1, height))
            if heights and heights[-1] < height:
                heights[-1] = height
        else:
            # A mismatched closer: none of the open brackets starts valid JSON;
            # the spans closed inside them stay candidates.
            chars.clear()
            starts.clear()
            heights.clear()


def _decode_span(text, start, stop):
    """Decode the span ``text[start:stop]``; return ``(value, None)`` or ``(None, failure)``.

    ``failure`` is ``(position, error)``, where ``position`` is where the
    decoder failed: everything before it is a valid JSON prefix, which decides
    the spans nested in it without decoding them again.
    """
    try:
        value, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as err:
        return None, (max(err.pos, start + 1), err)
    except (ValueError, RecursionError) as err:  # e.g. a number over 4,300 digits
        return None, (start + 1, ValueError(str(err) or "nested too deeply"))
    if end != stop:
        return None, (start + 1, ValueError("the value does not end at its bracket"))
    if _has_non_finite(value):
        constant = _CONSTANT.search(text, start, stop)
        position = constant.start() if constant is not None else start + 1
        return None, (
            position,
            ValueError("NaN and Infinity are not valid JSON; use null or a finite number"),
        )
    return value, None


def _last_value_in_spans(text, spans):
    """Return the last complete JSON value among the bracket spans, and the last error seen.

    Top-level spans are tried first, last first; then the nested ones, by
    decreasing end. Each span is decoded at most once, and a span that starts
    inside the valid prefix of a failed ancestor is decided from the
    ancestor's failure position without decoding, so the work is linear.
    """
    last_error = None
    failed = {}  # start -> failure position, for the top-level spans
    top_start = math.inf
    for start, stop, height in reversed(spans):
        if start > top_start:
            continue  # nested in the last top-level span
        top_start = start
        if height > _MAX_DEPTH:
            failed[start] = start + 1
            continue
        value, failure = _decode_span(text, start, stop)
        if failure is None:
            return value, None
        failed[start] = failure[0]
        if last_error is None:
            last_error = (start, failure[1])
    if len(failed) == len(spans):
        return None, last_error
    # Decreasing end visits ancestors first; ``ancestors`` holds the spans that
    # contain the current one, with the failure position each passes down.
    ancestors = []  # (start, position)
    for start, stop, height in reversed(spans):
        while ancestors and ancestors[-1][0] > start:
            ancestors.pop()
        bound = ancestors[-1][1] if ancestors else 0
        if not ancestors and start in failed:
            position = failed[start]
        elif start < bound and stop > bound:
            position = bound  # fails where its ancestor failed
        elif height > _MAX_DEPTH:
            position = bound
        else:
            value, failure = _decode_span(text, start, stop)
            if failure is None:
                return value, last_error
            position = failure[0]
        ancestors.append((start, position))
    return None, last_error


def _last_value_by_walk(text, tried):
    """Fallback for prose that fooled the bracket scan (an unmatched quote inside a bracket).

    Decodes from each opening bracket left to right, jumping past every value
    found and every failure position, so the work stays linear.
    """
    found = None
    position = 0
    deep = 0  # starts that nested past the recursion limit
    # A failed decode costs the decoder O(start) (it counts the lines before the
    # error), so failures are charged their start and the walk stops past a budget
    # linear in the reply: a hostile reply ('{a:' a million times) stays linear.
    budget = _WALK_WORK_PER_CHAR * len(text) + _WALK_WORK_EXTRA
    opening = re.compile(r"[\[{]")
    while deep < _MAX_TOO_DEEP and budget > 0:
        match = opening.search(text, position)
        if match is None:
            return found
        start = match.start()
        if start in tried or not _can_open_value(text, start):
            position = start + 1
            continue
        try:
            value, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError as err:
            budget -= start
            position = max(err.pos, start + 1)
            continue
        except RecursionError:
            deep += 1
            position = start + 1
            continue
        except ValueError:
            position = start + 1
            continue
        if not _has_non_finite(value):
            found = value
        position = end
    return found


_WALK_WORK_PER_CHAR = 64
_WALK_WORK_EXTRA = 1 << 22
_VALUE_AFTER = {"{": '"}', "[": '"-0123456789[{tfn]'}


def _can_open_value(text, start):
    """Return whether the bracket at ``start`` can open a JSON value.

    After ``{`` comes a quoted key or ``}``, after ``[`` a value or ``]`` (spaces skipped).
    """
    after = start + 1
    n = len(text)
    while after < n and text[after] in " \t\r\n":
        after += 1
    return after < n and text[after] in _VALUE_AFTER[text[start]]


def extract_json(text):
    r"""Return the last complete JSON object or array of a free-form reply.

    Reasoning is removed first (:func:`strip_reasoning`), so drafts inside
    ``<think>`` blocks are never taken for the answer. Then the last fenced
    code block labelled ``json`` (or unlabelled) that parses is used; without
    one, the last complete JSON value in the text, found with a
    bracket-matching scan that respects JSON strings, so prose around the
    value, brackets inside strings and stray brackets in the prose are
    handled. The JSON itself must be strict: double quotes, no comments, no
    trailing commas, no NaN. The work is linear in the length of the reply;
    replies over :data:`MAX_REPLY_CHARS` characters are refused.

    Parameters
    ----------
    text : str
        A reply from a model.

    Returns
    -------
    value : dict or list
        The last complete JSON object or array.

    Raises
    ------
    LLMResponseError
        When the text holds no valid JSON object or array
        (``reason="unparsable"``); the message quotes the parse error, ready to
        be sent back to the model.

    See Also
    --------
    validate_json : Check the value against a schema.
    LLMClient.chat_json : Ask, extract, validate and ask again on failure.

    Examples
    --------
    >>> from tabsift.llm import extract_json
    >>> extract_json('Sure! {"threshold": 3.5, "note": "a } in a string"} Hope it helps.')
    {'threshold': 3.5, 'note': 'a } in a string'}
    >>> extract_json("```json\n[1, 2]\n```")
    [1, 2]
    >>> extract_json('<think>First idea: {"choice": 0}. No wait, 5.</think>\n{"choice": 5}')
    {'choice': 5}
    """
    check_text(text)
    original = text
    text = strip_reasoning(text)

    # 1. Fenced blocks: the model said where its JSON is; the last one wins.
    fenced_error = None
    fenced = None
    other_blocks = []
    for block in iter_blocks(text):
        if block.language not in _JSON_LANGUAGES:
            other_blocks.append(block)
            continue
        content = block.content.strip()
        if not block.language and content[:1] not in ("{", "["):
            continue
        try:
            value = _loads(content)
        except (ValueError, RecursionError) as err:
            if block.language:
                fenced_error = err
            continue
        if isinstance(value, (dict, list)):
            fenced, fenced_error = value, None
    if fenced is not None:
        return fenced
    if fenced_error is not None:
        # Scanning inside a broken ```json block would return a fragment of it.
        raise LLMResponseError(
            f"the ```json block in the reply is not valid JSON: {fenced_error}. Expected strict "
            "JSON: double-quoted keys and strings, no comments, no trailing commas.",
            text=original,
            reason="unparsable",
        )

    if other_blocks:
        # A dict literal in a ```python block is code, not the answer: blank
        # such blocks out before scanning the prose.
        lines = text.splitlines()
        for block in other_blocks:
            for k in block.lines:
                lines[k] = " " * len(lines[k])
        text = "\n".join(lines)

    # 2. Balanced bracket spans, last first.
    spans = _bracket_spans(text)
    value, error = _last_value_in_spans(text, spans)
    if value is not None:
        return value

    # 3. Fallback for prose that fooled the scan.
    value = _last_value_by_walk(text, {start for start, _, _ in spans})
    if value is not None:
        return value

    if error is not None:
        start, err = error
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
        f"{preview(text)}",
        text=original,
        reason="unparsable",
    )
