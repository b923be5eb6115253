"""Trees as nested-dict text: writing them into prompts, reading them back from LLM replies.

The format is LLEGO's: an internal node is ``{feature: {"<= t": left, "> t": right}}``,
a leaf ``{"value": v}``; the branch rows with a missing value take carries
``" or missing"`` after its threshold (``"> t or missing"``). Replies are read by a
small tolerant parser (single or double quotes, bare words, code fences, prose around
the tree, ``True``/``None``), never by ``eval``; the structure is then validated against
the data before it becomes a tree. A split written without a missing-value side is
reported as such, and the caller gives it one.
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

_MAX_NESTING = 64
_MAX_STARTS = 40
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# "or missing", "(or missing)", "| NaN", ", missing", ...: the branch missing values take.
_MISSING = r"(?P<missing>\s*\(?\s*(?:or|and|\||,|;|/|\+)?\s*(?:missing|nan|na|null|none)\s*\)?)?"
_LEFT_KEY = re.compile(rf"^\s*(?:<=|=<|≤|<)\s*({_NUMBER}){_MISSING}\s*$", re.IGNORECASE)
_RIGHT_KEY = re.compile(rf"^\s*(?:>=|=>|≥|>)\s*({_NUMBER}){_MISSING}\s*$", re.IGNORECASE)
_NAMED_KEY = re.compile(
    rf"^\s*(.+?)\s*(<=|=<|≤|<|>=|=>|≥|>)\s*({_NUMBER}){_MISSING}\s*$", re.IGNORECASE
)
_LEAF_KEYS = ("value", "class", "prediction", "label", "leaf")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<punct>[{}\[\]:,])
      | "(?P<dq>(?:[^"\\]|\\.)*)"
      | '(?P<sq>(?:[^'\\]|\\.)*)'
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<word>[^\s{}\[\]:,"']+(?:[ \t]+[^\s{}\[\]:,"']+)*)
    )""",
    re.VERBOSE,
)
_FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)


class TreeTextError(ValueError):
    """A reply that does not hold a valid tree; ``reason`` is one of ``REJECTION_REASONS``."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


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


def _tokens(text, start):
    pos = start
    n = len(text)
    while pos < n:
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                return
            raise TreeTextError("unparsable", f"unexpected character {text[pos]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match[kind]
        if kind == "punct":
            yield "punct", value
        elif kind in ("dq", "sq"):
            yield "str", _unescape(value)
        elif kind == "number":
            yield "num", float(value)
        else:
            words = {"true": True, "false": False, "null": None, "none": None}
            yield "word", words.get(value.lower(), value)


def _parse_value(tokens, depth):
    if depth > _MAX_NESTING:
        raise TreeTextError("unparsable", "nested too deeply")
    kind, value = next(tokens, ("end", None))
    if kind == "punct" and value == "{":
        result = {}
        kind, value = next(tokens, ("end", None))
        if (kind, value) == ("punct", "}"):
            return result
        while True:
            if kind not in ("str", "num", "word"):
                raise TreeTextError("unparsable", f"expected a key, found {value!r}")
            key = value if kind != "num" else format_number(value)
            colon = next(tokens, ("end", None))
            if colon != ("punct", ":"):
                raise TreeTextError("unparsable", f"expected ':' after key {key!r}")
            result[str(key)] = _parse_value(tokens, depth + 1)
            kind, value = next(tokens, ("end", None))
            if (kind, value) == ("punct", "}"):
                return result
            if (kind, value) != ("punct", ","):
                raise TreeTextError("unparsable", f"expected ',' or '}}', found {value!r}")
            kind, value = next(tokens, ("end", None))
            if (kind, value) == ("punct", "}"):  # a trailing comma
                return result
    if kind == "punct" and value == "[":
        items = []
        while True:
            peek = next(tokens, ("end", None))
            if peek == ("punct", "]"):
                return items
            items.append(_parse_value(_chain(peek, tokens), depth + 1))
            sep = next(tokens, ("end", None))
            if sep == ("punct", "]"):
                return items
            if sep != ("punct", ","):
                raise TreeTextError("unparsable", "expected ',' or ']' in a list")
    if kind in ("str", "num", "word"):
        return value
    raise TreeTextError("unparsable", f"unexpected {value!r}")


def _chain(first, rest):
    yield first
    yield from rest


def parse_literal(text):
    """Return the first ``{...}`` value in ``text`` as Python dicts, lists and scalars.

    Tolerates code fences, prose before and after, single quotes, bare words,
    trailing commas and Python's ``True``/``None``. Raises :class:`TreeTextError`.
    """
    if not isinstance(text, str):
        raise TreeTextError("unparsable", f"the reply is not text ({type(text).__name__})")
    sources = [m[1] for m in _FENCE.finditer(text)] + [text]
    first_error = None
    for source in sources:
        starts = [m.start() for m in re.finditer(r"\{", source)][:_MAX_STARTS]
        for start in starts:
            try:
                value = _parse_value(_tokens(source, start), 0)
            except (TreeTextError, RecursionError) as err:
                if first_error is None:
                    first_error = err
                continue
            if isinstance(value, dict) and value:
                return value
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
            folded.setdefault(name.strip().lower(), []).append(j)
        self._folded = {k: v[0] for k, v in folded.items() if len(v) == 1}

    def column(self, name):
        name = str(name)
        if name in self._index:
            return self._index[name]
        j = self._folded.get(name.strip().strip("`'\"").lower())
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


def _split_of(node):
    """``(feature, threshold, left, right, missing_left)`` of an internal node, or None for a
    leaf; ``missing_left`` is None when the node does not say where missing values go."""
    if not isinstance(node, dict):
        if isinstance(node, (int, float, str, bool)) or node is None:
            return None  # a bare value is a leaf
        raise TreeTextError("malformed", f"a node must be a dict, found {type(node).__name__}")
    keys = [k.strip().lower() for k in node]
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
        parsed = [(_NAMED_KEY.match(k), child) for k, child in node.items()]
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
