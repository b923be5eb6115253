"""The nodes of a Boolean rule: literals, operators and constants.

Leaves are :class:`Literal` objects (one binary feature produced by
:class:`~tabsift.rules.Binarizer`, possibly negated); inner nodes are
:class:`Operator` objects (``And``, ``Or``, ``AtLeast``, ``AtMost``,
``Choose``) that count how many of their children hold; a rule with no
structure at all is a :class:`Constant`. :class:`~tabsift.rules.Rule`
(in ``_rule.py``) wraps the root.
"""

import functools
import numbers
from dataclasses import dataclass, field

import numpy as np

from tabsift._config import get_config
from tabsift.backend import asarray, device, get_namespace, namespace_by_name, namespace_name

OPERATORS = ("And", "Or", "AtLeast", "AtMost", "Choose")
PARAMETRIZED = frozenset({"AtLeast", "AtMost", "Choose"})
_NEGATED_TEST = {">": "<=", "<=": ">", "==": "!=", "!=": "=="}


def _format_value(value):
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"
    return repr(str(value))


def _prepare(Z, xp):
    """Return the namespace to evaluate in, and ``Z`` as an array of it (lists and pandas -> NumPy)."""
    if not hasattr(Z, "__array_namespace__"):
        Z = np.asarray(Z)  # lists, pandas and other array-likes are NumPy input
    if xp is None and type(Z) is np.ndarray and get_config()["array_backend"] is None:
        xp = host_namespace()  # fast path: evaluation on small NumPy inputs is overhead-bound
    xp = get_namespace(Z, xp=xp)
    if type(Z) is np.ndarray and namespace_name(xp) == "numpy":
        return xp, Z
    return xp, asarray(Z, xp=xp)


def _evaluate_node(self, Z, *, xp=None):
    """Return where the node holds on the rows of the binarised matrix ``Z``.

    Computed on ``Z``'s array namespace (or ``xp``) and device; returns a
    boolean array of that namespace, one value per row of ``Z``.
    """
    xp, Z = _prepare(Z, xp)
    return self._evaluate(Z, xp)


@functools.cache
def host_namespace():
    """Return the NumPy array namespace (the search and fit run there)."""
    return namespace_by_name("numpy")


def condition_text(column, test, value):
    """``glucose > 127``: the text of one comparison."""
    return f"{column} {test} {_format_value(value)}"


@dataclass(eq=False)
class Literal:
    """One binary feature of a rule, possibly negated.

    Parameters
    ----------
    index : int
        Column of the binarised matrix (the output of
        :class:`~tabsift.rules.Binarizer`) this literal reads.
    name : str
        Its text when not negated, e.g. ``"glucose > 127"``.
    negated : bool, default=False
        True for the negation of the feature.
    column : str, default=None
        The input column it tests, when known.
    test : {">", "==", "is"}, default=None
        The comparison: ``column > value``, ``column == value``, or ``"is"``
        for a 0/1 column that is itself the literal.
    value : float or object, default=None
        The threshold or the category.

    Examples
    --------
    >>> from tabsift.rules import Literal
    >>> lit = Literal(0, "glucose > 127", negated=True, column="glucose", test=">", value=127)
    >>> lit.text()
    'glucose <= 127'
    """

    index: int
    name: str
    negated: bool = False
    column: str = None
    test: str = None
    value: object = None

    def text(self):
        """Return the literal as a condition a person reads: ``age <= 45`` for a negated ``age > 45``.

        Returns
        -------
        text : str

        Examples
        --------
        >>> from tabsift.rules import Literal
        >>> Literal(2, "c", negated=True).text()
        '~c'
        """
        if not self.negated:
            return self.name
        if self.column is not None and self.test in _NEGATED_TEST:
            return condition_text(self.column, _NEGATED_TEST[self.test], self.value)
        return f"~{self.name}" if " " not in self.name else f"~({self.name})"

    # Evaluation on Z's namespace is shared by every node; _evaluate is the node's own.
    evaluate = _evaluate_node

    def _evaluate(self, Z, xp):
        # astype copies, so the result never aliases Z (callers may write to it).
        column = xp.astype(Z[:, self.index], xp.bool)
        return xp.logical_not(column) if self.negated else column

    def complexity(self):
        """Return 1 (always)."""
        return 1

    def depth(self):
        """Return 0 (always)."""
        return 0

    def literals(self):
        """``[self]``."""
        return [self]

    def to_dict(self):
        """JSON-ready dict."""
        out = {"literal": self.name, "index": int(self.index), "negated": bool(self.negated)}
        if self.column is not None:
            value = self.value
            if isinstance(value, np.generic):
                value = value.item()
            out.update(column=str(self.column), test=self.test, value=value)
        return out

    def __eq__(self, other):
        return (
            isinstance(other, Literal)
            and self.index == other.index
            and self.negated == other.negated
            and self.name == other.name
        )

    __hash__ = None


@dataclass(eq=False)
class Operator:
    """An operator over two or more sub-rules: counts how many hold and compares.

    ``And`` holds when all children hold, ``Or`` when at least one does,
    ``AtLeast(k)`` / ``AtMost(k)`` / ``Choose(k)`` when at least / at most /
    exactly ``k`` do.

    Parameters
    ----------
    kind : {"And", "Or", "AtLeast", "AtMost", "Choose"}
        The operator.
    children : list of Literal or Operator
        At least two sub-rules.
    k : int, default=None
        The count for ``AtLeast``, ``AtMost`` and ``Choose`` (required for
        them, ignored otherwise).
    negated : bool, default=False
        True for the negation of the operator.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.rules import Literal, Operator
    >>> rule = Operator("AtLeast", [Literal(0, "a"), Literal(1, "b"), Literal(2, "c")], k=2)
    >>> rule.evaluate(np.array([[1, 1, 0], [1, 0, 0]])).tolist()
    [True, False]
    """

    kind: str
    children: list = field(default_factory=list)
    k: int = None
    negated: bool = False

    def __post_init__(self):
        if self.kind not in OPERATORS:
            raise ValueError(f"operator must be one of {OPERATORS}; found {self.kind!r}.")
        if len(self.children) < 2:
            raise ValueError(
                f"an {self.kind} operator needs at least 2 children; found {len(self.children)}."
            )
        if self.kind in PARAMETRIZED:
            if not isinstance(self.k, numbers.Integral) or not 0 <= self.k <= len(self.children):
                raise ValueError(
                    f"{self.kind} needs an integer k between 0 and its number of children "
                    f"({len(self.children)}); found k={self.k!r}."
                )
            self.k = int(self.k)
        else:
            self.k = None

    def label(self):
        """``"AtLeast2"``, ``"~And"``: the operator's name, count and negation."""
        return (
            ("~" if self.negated else "") + self.kind + (str(self.k) if self.k is not None else "")
        )

    def holds(self, count):
        """Where a vector of child counts satisfies the operator (before negation)."""
        n = len(self.children)
        if self.kind == "And":
            return count == n
        if self.kind == "Or":
            return count >= 1
        if self.kind == "AtLeast":
            return count >= self.k
        if self.kind == "AtMost":
            return count <= self.k
        return count == self.k

    # Evaluation on Z's namespace is shared by every node; _evaluate is the node's own.
    evaluate = _evaluate_node

    def _evaluate(self, Z, xp):
        # One (n_children, n_rows) stack and one sum: array-API functions only.
        fired = xp.stack([child._evaluate(Z, xp) for child in self.children], axis=0)
        out = self.holds(xp.sum(xp.astype(fired, xp.int32), axis=0))
        return xp.logical_not(out) if self.negated else out

    def complexity(self):
        """1 plus the complexity of every child (BoolXAI's definition)."""
        return 1 + sum(child.complexity() for child in self.children)

    def depth(self):
        """1 plus the deepest child; an operator over literals has depth 1."""
        return 1 + max(child.depth() for child in self.children)

    def literals(self):
        """Every literal under the operator, left to right."""
        return [lit for child in self.children for lit in child.literals()]

    def to_dict(self):
        """JSON-ready dict."""
        out = {"operator": self.kind, "negated": bool(self.negated)}
        if self.k is not None:
            out["k"] = self.k
        out["children"] = [child.to_dict() for child in self.children]
        return out

    def __eq__(self, other):
        return (
            isinstance(other, Operator)
            and (self.kind, self.k, self.negated) == (other.kind, other.k, other.negated)
            and self.children == other.children
        )

    __hash__ = None


@dataclass(eq=False)
class Constant:
    """A rule that always (``True``) or never (``False``) holds.

    Parameters
    ----------
    value : bool
        What the rule returns on every row.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.rules import Constant
    >>> Constant(True).evaluate(np.zeros((2, 3))).tolist()
    [True, True]
    """

    value: bool

    # Evaluation on Z's namespace is shared by every node; _evaluate is the node's own.
    evaluate = _evaluate_node

    def _evaluate(self, Z, xp):
        return xp.full((Z.shape[0],), bool(self.value), dtype=xp.bool, device=device(Z))

    def complexity(self):
        """Return 1 (always)."""
        return 1

    def depth(self):
        """Return 0 (always)."""
        return 0

    def literals(self):
        """Return an empty list."""
        return []

    def to_dict(self):
        """JSON-ready dict."""
        return {"constant": bool(self.value)}

    def __eq__(self, other):
        return isinstance(other, Constant) and bool(self.value) == bool(other.value)

    __hash__ = None
