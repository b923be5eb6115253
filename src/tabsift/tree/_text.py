"""Trees as nested-dict text: writing them into prompts, reading them back from LLM replies.

The format is LLEGO's: an internal node is ``{feature: {"<= t": left, "> t": right}}``,
a leaf ``{"value": v}``; the branch rows with a missing value take carries
``" or missing"`` after its threshold (``"> t or missing"``). Replies are read by
:func:`tabsift.llm.extract_literal`, the tolerant reader shared by every family
(single or double quotes, bare words, code fences, prose around the tree,
``True``/``None``; never ``eval``); the structure is then validated against the
data before it becomes a tree. A split written without a missing-value side is
reported as such, and the caller gives it one.

The answer is the LAST tree of a reply (reasoning blocks are removed; a draft or an
example written before the answer is never taken for it). Reading is linear in the
reply's length, and a reply is capped at :data:`MAX_REPLY_CHARS`: whatever a reply
holds, it either gives a tree or raises :class:`TreeTextError`, whose ``reason`` is
counted.
"""

import json
import re

import numpy as np

from tabsift.llm import LLMResponseError, extract_literal
from tabsift.tree._positions import canonical, n_positions
from tabsift.tree._thresholds import format_number

#: How a branch taken by missing values is marked, in printed trees and nested dicts.
MISSING_MARK = "or missing"


def branch_keys(threshold_text, missing_left):
    """Return the two branch labels of a split: ``"<= t"`` and ``"> t"``, one marked ``or missing``."""
    left, right = f"<= {threshold_text}", f"> {threshold_text}"
    if missing_left:
        return f"{left} {MISSING_MARK}", right
    return left, f"{right} {MISSING_MARK}"


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

_MAX_KEY_CHARS = 500
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
def _is_leaf(value):
    return any(str(k).strip().lower() in _LEAF_KEYS for k in value)


def parse_literal(text):
    """Return the LAST tree-like ``{...}`` value in ``text`` (the final answer) as Python data.

    Reads with :func:`tabsift.llm.extract_literal`, preferring a mapping that is
    not a bare leaf (``{"value": ...}``), so that a leaf example after the tree
    is never taken for it; a reply longer than :data:`MAX_REPLY_CHARS` is not
    read. Raises :class:`TreeTextError` (reason ``"unparsable"``).
    """
    if not isinstance(text, str):
        raise TreeTextError("unparsable", f"the reply is not text ({type(text).__name__})")
    try:
        return extract_literal(
            text, prefer=lambda value: not _is_leaf(value), max_chars=MAX_REPLY_CHARS
        )
    except LLMResponseError as err:
        raise TreeTextError("unparsable", str(err)) from None


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
    """Return True (left), False (right) or None (not stated) from the marks on the two branches."""
    if left_marked and right_marked:
        raise TreeTextError(
            "not_complementary", f"both branches of {feature!r} take missing values"
        )
    return True if left_marked else (False if right_marked else None)


def _key(key):
    """Return ``key`` with one space for any run of white space.

    The key patterns then match in linear time; a key too long to be a split
    is malformed.
    """
    if len(key) > _MAX_KEY_CHARS:
        raise TreeTextError("malformed", f"a key is longer than {_MAX_KEY_CHARS} characters")
    return " ".join(key.split())


def _split_of(node):
    """Return ``(feature, threshold, left, right, missing_left)`` of a node (None for a leaf).

    ``missing_left`` is None when the node does not say where missing values go.
    """
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
    raise TreeTextError(
        "malformed", f"a node needs one feature key or a 'value'; found {list(node)}"
    )


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
            raise TreeTextError("too_deep", f"the tree is deeper than max_depth={schema.max_depth}")
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
    """Parse an LLM reply and validate the tree in it.

    Returns ``(feature, threshold, missing, stated)`` arrays (see
    :func:`dict_to_arrays`).
    """
    value = parse_literal(text)
    # Some replies wrap the tree: {"tree": {...}}.
    if len(value) == 1:
        ((key, inner),) = value.items()
        if str(key).strip().lower() in ("tree", "offspring", "new_tree", "answer") and isinstance(
            inner, dict
        ):
            value = inner
    return dict_to_arrays(value, schema)
