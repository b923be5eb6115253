"""Read the last ``{...}`` literal of a free-form reply, tolerantly and in linear time.

Models asked for a nested structure (a decision tree, say) often write it the
way Python prints it: single quotes, bare words, ``True``/``None``, trailing
commas. :func:`extract_literal` reads such text with a small tokenizer (never
``eval``); :func:`~tabsift.llm.extract_json` is the strict reader for JSON.
Both refuse over-long replies unread, remove reasoning first and take the LAST
answer of a reply, through the helpers of ``_reasoning`` and ``_reply_text``.
"""

import re

from tabsift.llm._errors import LLMResponseError
from tabsift.llm._reasoning import strip_reasoning
from tabsift.llm._reply_text import check_text, preview

__all__ = ["extract_literal"]

# Deepest nesting read (a depth-15 tree nests 31 levels).
_MAX_NESTING = 32
# The work all read attempts on one reply may do (characters read, plus a charge per
# token), per character of the reply (plus a constant): reading stays linear in its length.
_WORK_PER_CHAR = 3
_WORK_PER_TOKEN = 2
_WORK_EXTRA = 10_000
# Integers longer than this become floats (``int`` refuses over 4,300 digits).
_MAX_INT_DIGITS = 100
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<punct>[{}\[\]:,])
      | "(?P<dq>(?:[^"\\]|\\.)*)"
      | '(?P<sq>(?:[^'\\]|\\.)*)'
      | (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<word>[^\s{}\[\]:,"']+(?:[ \t]+[^\s{}\[\]:,"']+)*)
    )""",
    re.VERBOSE,
)
_INTEGER = re.compile(r"[-+]?\d+")
_BLANK_TO_END = re.compile(r"\s*\Z")
# Where a non-empty mapping may start: "{" before a key (never before "{", "[", ":" or ",").
_OPEN = re.compile(r"\{(?=\s*[^\s{}\[\]:,])")
_WORDS = {"true": True, "false": False, "null": None, "none": None}
_END = ("end", None, None)


class _Unreadable(Exception):
    """One read attempt failed; the message says where."""


class _OutOfWork(Exception):
    """The read attempts on one reply read more than their budget of characters."""


def _unescape(text):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), text)


class _Reader:
    """Tokens of one reply, from any start, with one reading budget for all attempts."""

    def __init__(self, text):
        self.text = text
        self.budget = _WORK_PER_CHAR * len(text) + _WORK_EXTRA

    def _spend(self, n):
        self.budget -= n
        if self.budget < 0:
            raise _OutOfWork()

    def tokens(self, start):
        """Yield ``(kind, value, end)`` from ``start``; raise _Unreadable at a bad character."""
        text, pos, n = self.text, start, len(self.text)
        while pos < n:
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                if _BLANK_TO_END.match(text, pos):
                    return
                # A string never closed was read to the end of the reply.
                self._spend(n - pos)
                raise _Unreadable(f"unexpected character {text[pos]!r} at position {pos}")
            self._spend(match.end() - pos + _WORK_PER_TOKEN)
            pos = match.end()
            kind = match.lastgroup
            value = match[kind]
            if kind in ("dq", "sq"):
                kind, value = "str", _unescape(value)
            elif kind == "number":
                kind = "num"
            elif kind == "word":
                value = _WORDS.get(value.lower(), value)
            yield kind, value, pos


class _Tracked:
    """An iterator of tokens that remembers where the last one ended."""

    def __init__(self, tokens, start):
        self._tokens = tokens
        self.end = start

    def __iter__(self):
        return self

    def __next__(self):
        token = next(self._tokens)
        self.end = token[2]
        return token


def _number(text):
    if len(text) <= _MAX_INT_DIGITS and _INTEGER.fullmatch(text):
        return int(text)
    return float(text)  # inf when huge: the caller's validation rejects it


def _scalar(kind, value, *, key):
    if kind == "num":
        # A key keeps the text as written ("<= 0.50" stays a split).
        return value if key else _number(value)
    return value


def _parse_mapping(tokens, depth):
    """Read the rest of a ``{...}`` mapping whose ``{`` was just read."""
    result = {}
    kind, value, _ = next(tokens, _END)
    if (kind, value) == ("punct", "}"):
        return result
    while True:
        if kind not in ("str", "num", "word"):
            raise _Unreadable(f"expected a key, found {value!r}")
        key = _scalar(kind, value, key=True)
        if next(tokens, _END)[:2] != ("punct", ":"):
            raise _Unreadable("expected ':' after a key")
        result[str(key)] = _parse_value(tokens, depth + 1)
        kind, value, _ = next(tokens, _END)
        if (kind, value) == ("punct", "}"):
            return result
        if (kind, value) != ("punct", ","):
            raise _Unreadable("expected ',' or '}'")
        kind, value, _ = next(tokens, _END)
        if (kind, value) == ("punct", "}"):  # a trailing comma
            return result


def _parse_list(tokens, depth):
    """Read the rest of a ``[...]`` list whose ``[`` was just read."""
    items = []
    while True:
        peek = next(tokens, _END)
        if peek[:2] == ("punct", "]"):
            return items
        items.append(_parse_value(tokens, depth + 1, peek))
        sep = next(tokens, _END)[:2]
        if sep == ("punct", "]"):
            return items
        if sep != ("punct", ","):
            raise _Unreadable("expected ',' or ']' in a list")


def _parse_value(tokens, depth, first=None):
    if depth > _MAX_NESTING:
        raise _Unreadable(f"nested deeper than {_MAX_NESTING} levels")
    kind, value, _ = first if first is not None else next(tokens, _END)
    if kind == "punct" and value == "{":
        return _parse_mapping(tokens, depth)
    if kind == "punct" and value == "[":
        return _parse_list(tokens, depth)
    if kind in ("str", "num", "word"):
        return _scalar(kind, value, key=False)
    raise _Unreadable(f"unexpected {str(value)[:40]!r}")


def extract_literal(text, *, accept=None, prefer=None, max_chars=None):
    r"""Return the last ``{...}`` mapping of a reply, read tolerantly, as Python data.

    For structures a model writes the way Python prints them: single or double
    quotes, bare words (``{age: {<= 40: yes}}``), ``True``/``False``/``None``
    (and JSON's ``true``/``null``), trailing commas, code fences and prose
    around it. The text is read by a tokenizer, never evaluated. Reasoning is
    removed first (:func:`strip_reasoning`). Every top-level ``{...}`` of the
    reply is read, left to right, and the LAST one that ``accept`` accepts is
    returned, so a draft or an example written before the answer is never
    taken for it. Reading is linear in the length of the reply (one budget of
    work for all attempts) and a reply over ``max_chars`` is refused unread.

    Numbers become ``int`` or ``float`` (a huge one ``inf``); keys are always
    strings, numbers in keys kept as written.

    Parameters
    ----------
    text : str
        A reply from a model.
    accept : callable, default=None
        ``accept(mapping) -> bool``: only mappings it accepts are answers.
        None accepts every non-empty mapping.
    prefer : callable, default=None
        ``prefer(mapping) -> bool``: among the accepted mappings, the last one
        it prefers wins; when it prefers none, the last accepted one is
        returned. E.g. a tree over a bare leaf ``{"value": 1}``.
    max_chars : int, default=None
        Longest reply read; None means :data:`MAX_REPLY_CHARS`.

    Returns
    -------
    value : dict
        The last accepted (preferably preferred) mapping.

    Raises
    ------
    LLMResponseError
        When the reply holds no accepted mapping, is too long or too
        convoluted to read (``reason="unparsable"``).

    See Also
    --------
    extract_json : The strict reader, for JSON objects and arrays.

    Examples
    --------
    >>> from tabsift.llm import extract_literal
    >>> reply = "Draft: {'a': 1}\nFinal:\n```\n{'a': 2, ok: True, tags: [x, 'y',],}\n```"
    >>> extract_literal(reply)
    {'a': 2, 'ok': True, 'tags': ['x', 'y']}
    >>> reply = '{"age": {"<= 40": 0, "> 40": 1}} where a leaf is {"value": 0}'
    >>> extract_literal(reply, prefer=lambda tree: "value" not in tree)
    {'age': {'<= 40': 0, '> 40': 1}}
    """
    check_text(text, max_chars)
    original = text
    text = strip_reasoning(text)
    reader = _Reader(text)
    last = last_preferred = first_error = None
    n_rejected = 0
    resume = 0
    try:
        for match in _OPEN.finditer(text):
            start = match.start()
            if start < resume:
                continue  # inside a value already read
            tokens = _Tracked(reader.tokens(start), start)
            try:
                value = _parse_value(tokens, 0)
            except (_Unreadable, RecursionError) as err:
                if first_error is None:
                    first_error = err
                continue
            resume = tokens.end
            if not value or (accept is not None and not accept(value)):
                n_rejected += 1
                continue
            last = value
            if prefer is not None and prefer(value):
                last_preferred = value
    except _OutOfWork:
        raise LLMResponseError(
            "the reply is too convoluted to read (no clear answer in it). Expected one "
            "{...} mapping. The reply starts with: " + preview(text),
            text=original,
            reason="unparsable",
        ) from None
    if last is not None:
        return last if last_preferred is None else last_preferred
    if n_rejected:
        detail = f"{n_rejected} {{...}} mapping(s) were read but none is an answer"
    elif first_error is not None:
        detail = f"no {{...}} mapping could be read: {first_error}"
    else:
        detail = "the reply holds no '{' before a key"
    raise LLMResponseError(
        f"no answer found in the reply: {detail}. The reply starts with: {preview(text)}",
        text=original,
        reason="unparsable",
    )
