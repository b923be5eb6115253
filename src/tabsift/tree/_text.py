"""Trees as nested-dict text: writing them into prompts, reading them back from LLM replies.

The format is LLEGO's: an internal node is ``{feature: {"<= t": left, "> t": right}}``,
a leaf ``{"value": v}``; the branch rows with a missing value take carries
``" or missing"`` after its threshold (``"> t or missing"``). Replies are read by a
small tolerant parser (single or double quotes, bare words, code fences, prose around
the tree, ``True``/``None``), never by ``eval``; the structure is then validated against
the data before it becomes a tree. A split written without a missing-value side is
reported as such, and the caller gives it one.

The answer is the LAST tree of a reply (the client has already removed reasoning
blocks; a draft or an example written before the answer is never taken for it).
Reading is linear in the reply's length, and a reply is capped at
:data:`MAX_REPLY_CHARS`: whatever a reply holds, it either gives a tree or raises
:class:`TreeTextError`, whose ``reason`` is counted.
"""

import json
import re

import numpy as np

from tabsift.tree._tree import branch_keys, canonical, format_number, n_positions

# Why an LLM reply did not give a usable tree; these are the keys of the rejection counts.
REJECTION_REASONS = (
    "unparsable",
    "malformed",
    "unknown_feature",
    "threshold_out_of_range",
    "not_complementary",
    "too_deep",
)

#: Longest reply read, in characters (a depth-10 tree is about 80,000); a longer
#: one is rejected as unparsable without being scanned.
MAX_REPLY_CHARS = 200_000

_MAX_NESTING = 32
_MAX_KEY_CHARS = 500
# The work all parse attempts on one reply may do (characters read, plus a charge per
# token), per character of the reply (plus a constant): reading stays linear in its length.
_WORK_PER_CHAR = 3
_WORK_PER_TOKEN = 2
_WORK_EXTRA = 10_000
# No backtracking between two digit runs (``\d+\.?\d*`` is quadratic on long digits).
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# "or missing", "(or missing)", "| NaN", ", missing", ...: the branch missing values take.
_MISSING = r"(?P<missing>\s?\(?\s?(?:or|and|\||,|;|/|\+)?\s?(?:missing|nan|na|null|none)\s?\)?)?"
_LEFT_KEY = re.compile(rf"^\s?(?:<=|=<|≤|<)\s?({_NUMBER}){_MISSING}\s?$", re.IGNORECASE)
_RIGHT_KEY = re.compile(rf"^\s?(?:>=|=>|≥|>)\s?({_NUMBER}){_MISSING}\s?$", re.IGNORECASE)
_NAMED_KEY = re.compile(
    rf"^\s?(.+?)\s?(<=|=<|≤|<|>=|=>|≥|>)\s?({_NUMBER}){_MISSING}\s?$", re.IGNORECASE
)
_LEAF_KEYS = ("value", "class", "prediction", "label", "leaf")
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
_BLANK_TO_END = re.compile(r"\s*\Z")
# Where a non-empty dict may start: "{" before a key (never before "{", "[", ":" or ",").
_OPEN = re.compile(r"\{(?=\s*[^\s{}\[\]:,])")


class TreeTextError(ValueError):
    """A reply that does not hold a valid tree; ``reason`` is one of ``REJECTION_REASONS``."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class _OutOfWork(Exception):
    """The parse attempts on one reply read more than their budget of characters."""


# ----------------------------------------------------------------------- writing
def tree_to_text(feature, threshold, missing, leaf, feature_names, *, labels=None, indent=None):
    """Nested-dict JSON text of one tree; ``leaf[i]`` is a value or an index into ``labels``."""

    def node(i):
        j = int(feature[i])
        if j < 0:
            v = leaf[i]
            value = labels[int(v)] if labels is not None else float(format_number(v))
            if isinstance(value, float) and value == int(value):
                value = int(value)
            return {"value": value}
        left, right = branch_keys(format_number(threshold[i]), missing[i])
        return {feature_names[j]: {left: node(2 * i + 1), right: node(2 * i + 2)}}

    return json.dumps(node(0), indent=indent, default=str, ensure_ascii=False)


# ----------------------------------------------------------------------- reading
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
        """Yield ``(kind, value, end)`` from ``start``; raise TreeTextError at a bad character."""
        text, pos, n = self.text, start, len(self.text)
        while pos < n:
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                if _BLANK_TO_END.match(text, pos):
                    return
                # A string never closed was read to the end of the reply.
                self._spend(n - pos)
                raise TreeTextError("unparsable", f"unexpected character {text[pos]!r}")
            self._spend(match.end() - pos + _WORK_PER_TOKEN)
            pos = match.end()
            kind = match.lastgroup
            value = match[kind]
            if kind in ("dq", "sq"):
                kind, value = "str", _unescape(value)
            elif kind == "number":
                kind = "num"
            elif kind == "word":
                words = {"true": True, "false": False, "null": None, "none": None}
                value = words.get(value.lower(), value)
            yield kind, value, pos


def _scalar(kind, value, *, key):
    if kind == "num":
        # A key keeps the text as written; a value becomes a float (inf when huge).
        return value if key else float(value)
    return value


def _parse_value(tokens, depth, first=None):
    if depth > _MAX_NESTING:
        raise TreeTextError("unparsable", "nested too deeply")
    kind, value, _ = first if first is not None else next(tokens, ("end", None, None))
    if kind == "punct" and value == "{":
        result = {}
        kind, value, _ = next(tokens, ("end", None, None))
        if (kind, value) == ("punct", "}"):
            return result
        while True:
            if kind not in ("str", "num", "word"):
                raise TreeTextError("unparsable", f"expected a key, found {value!r}")
            key = _scalar(kind, value, key=True)
            colon = next(tokens, ("end", None, None))[:2]
            if colon != ("punct", ":"):
                raise TreeTextError("unparsable", "expected ':' after a key")
            result[str(key)] = _parse_value(tokens, depth + 1)
            kind, value, _ = next(tokens, ("end", None, None))
            if (kind, value) == ("punct", "}"):
                return result
            if (kind, value) != ("punct", ","):
                raise TreeTextError("unparsable", "expected ',' or '}'")
            kind, value, _ = next(tokens, ("end", None, None))
            if (kind, value) == ("punct", "}"):  # a trailing comma
                return result
    if kind == "punct" and value == "[":
        items = []
        while True:
            peek = next(tokens, ("end", None, None))
            if peek[:2] == ("punct", "]"):
                return items
            items.append(_parse_value(tokens, depth + 1, peek))
            sep = next(tokens, ("end", None, None))[:2]
            if sep == ("punct", "]"):
                return items
            if sep != ("punct", ","):
                raise TreeTextError("unparsable", "expected ',' or ']' in a list")
    if kind in ("str", "num", "word"):
        return _scalar(kind, value, key=False)
    raise TreeTextError("unparsable", f"unexpected {str(value)[:40]!r}")


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


def _is_leaf(value):
    return any(str(k).strip().lower() in _LEAF_KEYS for k in value)


def parse_literal(text):
    """Return the LAST ``{...}`` value in ``text`` (the final answer) as Python data.

    Tolerates code fences, prose before and after, single quotes, bare words,
    trailing commas and Python's ``True``/``None``. Every top-level ``{...}``
    of the reply is read, left to right, and the last one that is not a bare
    leaf (``{"value": ...}``) is returned, so that a draft or an example before
    the answer is never taken for it. Reading is linear in the reply's length
    (a budget of characters for all attempts) and a reply longer than
    :data:`MAX_REPLY_CHARS` is not read. Raises :class:`TreeTextError` (reason
    ``"unparsable"``).
    """
    if not isinstance(text, str):
        raise TreeTextError("unparsable", f"the reply is not text ({type(text).__name__})")
    if len(text) > MAX_REPLY_CHARS:
        raise TreeTextError(
            "unparsable",
            f"the reply has {len(text)} characters; at most {MAX_REPLY_CHARS} are read",
        )
    reader = _Reader(text)
    found, first_error, resume = [], None, 0
    try:
        for match in _OPEN.finditer(text):
            start = match.start()
            if start < resume:
                continue  # inside a value already read
            tokens = _Tracked(reader.tokens(start), start)
            try:
                value = _parse_value(tokens, 0)
            except (TreeTextError, RecursionError) as err:
                if first_error is None:
                    first_error = err
                continue
            if isinstance(value, dict) and value:
                found.append(value)
                resume = tokens.end
    except _OutOfWork:
        raise TreeTextError(
            "unparsable", "the reply is too convoluted to read (no clear tree in it)"
        ) from None
    if found:
        trees = [value for value in found if not _is_leaf(value)]
        return (trees or found)[-1]
    if first_error is not None:
        raise TreeTextError("unparsable", f"no tree found in the reply: {first_error}")
    raise TreeTextError("unparsable", "the reply holds no '{' at all")


class TreeSchema:
    """What a valid tree may contain: the columns, their observed range and the depth limit."""

    def __init__(self, feature_names, x_min, x_max, max_depth):
        self.feature_names = list(feature_names)
        self.x_min = np.asarray(x_min, dtype=np.float64)
        self.x_max = np.asarray(x_max, dtype=np.float64)
        self.max_depth = int(max_depth)
        self._index = {name: j for j, name in enumerate(self.feature_names)}
        folded = {}
        for j, name in enumerate(self.feature_names):
            folded.setdefault(" ".join(name.split()).lower(), []).append(j)
        self._folded = {k: v[0] for k, v in folded.items() if len(v) == 1}

    def column(self, name):
        name = str(name)
        if name in self._index:
            return self._index[name]
        j = self._folded.get(" ".join(name.strip().strip("`'\"").split()).lower())
        if j is None:
            raise TreeTextError("unknown_feature", f"unknown feature {name!r}")
        return j


def _missing_side(left_marked, right_marked, feature):
    """True (left), False (right) or None (not stated) from the marks on the two branches."""
    if left_marked and right_marked:
        raise TreeTextError(
            "not_complementary", f"both branches of {feature!r} take missing values"
        )
    return True if left_marked else (False if right_marked else None)


def _key(key):
    """``key`` with one space for any run of white space (the key patterns then match in
    linear time); a key too long to be a split is malformed."""
    if len(key) > _MAX_KEY_CHARS:
        raise TreeTextError("malformed", f"a key is longer than {_MAX_KEY_CHARS} characters")
    return " ".join(key.split())


def _split_of(node):
    """``(feature, threshold, left, right, missing_left)`` of an internal node, or None for a
    leaf; ``missing_left`` is None when the node does not say where missing values go."""
    if not isinstance(node, dict):
        if isinstance(node, (int, float, str, bool)) or node is None:
            return None  # a bare value is a leaf
        raise TreeTextError("malformed", f"a node must be a dict, found {type(node).__name__}")
    keys = [_key(k).lower() for k in node]
    if any(k in _LEAF_KEYS for k in keys):
        return None
    if len(node) == 1:
        ((feature, branches),) = node.items()
        if not isinstance(branches, dict) or len(branches) != 2:
            raise TreeTextError(
                "malformed", f"feature {feature!r} needs exactly two branches ('<= t' and '> t')"
            )
        left = right = None
        for key, child in branches.items():
            key = _key(key)
            if (m := _LEFT_KEY.match(key)) is not None:
                left = (float(m[1]), child, bool(m["missing"]))
            elif (m := _RIGHT_KEY.match(key)) is not None:
                right = (float(m[1]), child, bool(m["missing"]))
        if left is None or right is None:
            raise TreeTextError(
                "not_complementary", f"the branches of {feature!r} are not '<= t' and '> t'"
            )
        if not np.isclose(left[0], right[0], rtol=1e-9, atol=1e-12):
            raise TreeTextError(
                "not_complementary",
                f"{feature!r} splits at {left[0]} on one side and {right[0]} on the other",
            )
        return feature, left[0], left[1], right[1], _missing_side(left[2], right[2], feature)
    if len(node) == 2:
        # {"x <= 1": left, "x > 1": right}: the feature inside the keys.
        parsed = [(_NAMED_KEY.match(_key(k)), child) for k, child in node.items()]
        if all(m is not None for m, _ in parsed):
            (m1, c1), (m2, c2) = parsed
            if m1[1] == m2[1] and m1[2][0] != m2[2][0] and np.isclose(float(m1[3]), float(m2[3])):
                if m1[2][0] in "<=≤":
                    (left, lm), (right, rm) = (c1, m1), (c2, m2)
                else:
                    (left, lm), (right, rm) = (c2, m2), (c1, m1)
                side = _missing_side(bool(lm["missing"]), bool(rm["missing"]), m1[1])
                return m1[1], float(m1[3]), left, right, side
            raise TreeTextError("not_complementary", f"keys {list(node)} are not one split")
    raise TreeTextError("malformed", f"a node needs one feature key or a 'value'; found {list(node)}")


def dict_to_arrays(tree, schema):
    """Validate a nested-dict tree and return its arrays.

    Returns ``(feature, threshold, missing, stated)``: ``missing`` is True where
    missing values go to the ``<=`` child (the default where the tree does not
    say), ``stated`` True at the splits that named a side. Raises
    :class:`TreeTextError` naming the first problem.
    """
    size = n_positions(schema.max_depth)
    feature = np.full(size, -1, dtype=np.int64)
    threshold = np.zeros(size, dtype=np.float64)
    missing = np.ones(size, dtype=bool)
    stated = np.zeros(size, dtype=bool)
    stack = [(tree, 0, 0)]
    while stack:
        node, position, depth = stack.pop()
        split = _split_of(node)
        if split is None:
            continue
        if depth >= schema.max_depth:
            raise TreeTextError(
                "too_deep", f"the tree is deeper than max_depth={schema.max_depth}"
            )
        name, t, left, right, side = split
        j = schema.column(name)
        if not (np.isfinite(t) and schema.x_min[j] <= t <= schema.x_max[j]):
            raise TreeTextError(
                "threshold_out_of_range",
                f"threshold {t} of {name!r} is outside its range "
                f"[{schema.x_min[j]:.6g}, {schema.x_max[j]:.6g}]",
            )
        feature[position], threshold[position] = j, t
        if side is not None:
            missing[position], stated[position] = side, True
        stack.append((right, 2 * position + 2, depth + 1))
        stack.append((left, 2 * position + 1, depth + 1))
    return (*canonical(feature, threshold, missing), stated)


def text_to_arrays(text, schema):
    """Parse an LLM reply and validate the tree in it: ``(feature, threshold, missing,
    stated)`` arrays (see :func:`dict_to_arrays`)."""
    value = parse_literal(text)
    # Some replies wrap the tree: {"tree": {...}}.
    if len(value) == 1:
        ((key, inner),) = value.items()
        if str(key).strip().lower() in ("tree", "offspring", "new_tree", "answer") and isinstance(
            inner, dict
        ):
            value = inner
    return dict_to_arrays(value, schema)
