"""Boolean rules as data: literals, operators and constants, plus their text and dict forms.

A rule is a tree. Leaves are :class:`Literal` objects (one binary feature
produced by :class:`~tabsift.rules.Binarizer`, possibly negated); inner nodes
are :class:`Operator` objects (``And``, ``Or``, ``AtLeast``, ``AtMost``,
``Choose``) that count how many of their children hold; a rule with no
structure at all is a :class:`Constant`. :class:`Rule` wraps the root and is
what a fitted :class:`~tabsift.rules.BooleanRuleClassifier` exposes.
"""

import functools
import math
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
    """The namespace to evaluate in, and ``Z`` as an array of it (lists and pandas -> NumPy)."""
    if not hasattr(Z, "__array_namespace__"):
        Z = np.asarray(Z)  # lists, pandas and other array-likes are NumPy input
    if xp is None and type(Z) is np.ndarray and get_config()["array_backend"] is None:
        xp = host_namespace()  # fast path: evaluation on small NumPy inputs is overhead-bound
    xp = get_namespace(Z, xp=xp)
    if type(Z) is np.ndarray and namespace_name(xp) == "numpy":
        return xp, Z
    return xp, asarray(Z, xp=xp)


@functools.cache
def host_namespace():
    """The NumPy array namespace (the search and fit run there)."""
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
        """The literal as a condition a person reads: ``age <= 45`` for a negated ``age > 45``.

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

    def evaluate(self, Z, *, xp=None):
        """Rows of the binarised matrix ``Z`` where the literal holds.

        Computed on ``Z``'s array namespace (or ``xp``); returns a boolean
        array of that namespace.
        """
        xp, Z = _prepare(Z, xp)
        return self._evaluate(Z, xp)

    def _evaluate(self, Z, xp):
        # astype copies, so the result never aliases Z (callers may write to it).
        column = xp.astype(Z[:, self.index], xp.bool)
        return xp.logical_not(column) if self.negated else column

    def complexity(self):
        """Always 1."""
        return 1

    def depth(self):
        """Always 0."""
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

    def evaluate(self, Z, *, xp=None):
        """Rows of the binarised matrix ``Z`` where the operator holds.

        Computed on ``Z``'s array namespace (or ``xp``); returns a boolean
        array of that namespace.
        """
        xp, Z = _prepare(Z, xp)
        return self._evaluate(Z, xp)

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

    def evaluate(self, Z, *, xp=None):
        """A boolean array of ``value``, one per row of ``Z``, on ``Z``'s namespace and device."""
        xp, Z = _prepare(Z, xp)
        return self._evaluate(Z, xp)

    def _evaluate(self, Z, xp):
        return xp.full((Z.shape[0],), bool(self.value), dtype=xp.bool, device=device(Z))

    def complexity(self):
        """Always 1."""
        return 1

    def depth(self):
        """Always 0."""
        return 0

    def literals(self):
        """An empty list."""
        return []

    def to_dict(self):
        """JSON-ready dict."""
        return {"constant": bool(self.value)}

    def __eq__(self, other):
        return isinstance(other, Constant) and bool(self.value) == bool(other.value)

    __hash__ = None


def _node_text(node, top=False):
    if isinstance(node, Constant):
        return str(bool(node.value))
    if isinstance(node, Literal):
        return node.text()
    return node.label() + "(" + ", ".join(_node_text(child) for child in node.children) + ")"


def _field(data, key, kinds, path, *, required=True, default=None):
    """``data[key]`` checked to be one of ``kinds`` (bool is never taken for a number)."""
    if key not in data:
        if required:
            raise ValueError(f"{path}: the field {key!r} is missing.")
        return default
    value = data[key]
    if isinstance(value, bool) and bool not in kinds:
        raise ValueError(f"{path}.{key} must be {_kind_names(kinds)}; found {value!r}.")
    numeric = tuple({int: numbers.Integral, float: numbers.Real}.get(k, k) for k in kinds)
    if not isinstance(value, numeric):
        raise ValueError(
            f"{path}.{key} must be {_kind_names(kinds)}; found {type(value).__name__} "
            f"{value!r:.60}."
        )
    return value


def _kind_names(kinds):
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
             list: "a list", type(None): "null"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


_LITERAL_KEYS = {"literal", "index", "negated", "column", "test", "value"}
_OPERATOR_KEYS = {"operator", "children", "k", "negated"}


def _node_from_dict(data, path="rule", depth=0):
    """A node from its dict, every field checked for type and range (data, never code)."""
    if depth > 64:
        raise ValueError(f"{path}: the rule is nested deeper than 64 levels.")
    if not isinstance(data, dict):
        raise ValueError(f"{path} must be a dict; found {type(data).__name__}.")
    if "constant" in data:
        if set(data) != {"constant"}:
            raise ValueError(f"{path}: a constant has only the field 'constant'; found {sorted(data)}.")
        return Constant(_field(data, "constant", (bool,), path))
    if "literal" in data:
        unknown = sorted(set(data) - _LITERAL_KEYS)
        if unknown:
            raise ValueError(f"{path}: unknown field(s) {unknown} in a literal.")
        index = _field(data, "index", (int,), path)
        if index < 0:
            raise ValueError(f"{path}.index must be >= 0; found {index}.")
        test = _field(data, "test", (str, type(None)), path, required=False)
        if test not in (None, ">", "==", "is"):
            raise ValueError(f"{path}.test must be '>', '==' or 'is'; found {test!r}.")
        value = _field(data, "value", (bool, int, float, str, type(None)), path, required=False)
        if isinstance(value, numbers.Real) and not math.isfinite(value):
            raise ValueError(f"{path}.value must be finite; found {value!r}.")
        return Literal(
            index,
            _field(data, "literal", (str,), path),
            negated=_field(data, "negated", (bool,), path, required=False, default=False),
            column=_field(data, "column", (str, type(None)), path, required=False),
            test=test,
            value=value,
        )
    if "operator" in data:
        unknown = sorted(set(data) - _OPERATOR_KEYS)
        if unknown:
            raise ValueError(f"{path}: unknown field(s) {unknown} in an operator.")
        children = _field(data, "children", (list,), path)
        k = _field(data, "k", (int, type(None)), path, required=False)
        if k is not None and k < 0:
            raise ValueError(f"{path}.k must be >= 0; found {k}.")
        return Operator(
            _field(data, "operator", (str,), path),
            [
                _node_from_dict(c, f"{path}.children[{i}]", depth + 1)
                for i, c in enumerate(children)
            ],
            k=k,
            negated=_field(data, "negated", (bool,), path, required=False, default=False),
        )
    raise ValueError(
        f"{path} is neither a constant, a literal nor an operator: expected one of the keys "
        f"'constant', 'literal', 'operator'; found {sorted(data)}."
    )


class Rule:
    """A Boolean rule over binarised features: a tree of operators and literals.

    Rules are data: :meth:`evaluate` computes them with vectorised
    array-API code (boolean columns; an operator counts its true children
    with one sum) on the binarised matrix's own namespace, NumPy,
    ``array_api_strict`` or CuPy (see :func:`tabsift.backend.get_namespace`),
    :meth:`export_text`, :meth:`to_dict` and :meth:`plot` show them, and
    nothing is ever evaluated from a string.

    Parameters
    ----------
    root : Literal, Operator or Constant
        The rule's top node.

    Attributes
    ----------
    root : Literal, Operator or Constant

    See Also
    --------
    BooleanRuleClassifier : Learns a rule from data.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.rules import Literal, Operator, Rule
    >>> a, b = Literal(0, "a > 1"), Literal(1, "b > 2", negated=True)
    >>> rule = Rule(Operator("Or", [a, b]))
    >>> rule.export_text()
    'Or(a > 1, ~(b > 2))'
    >>> rule.evaluate(np.array([[0, 1], [0, 0]])).tolist()
    [False, True]
    >>> rule.complexity(), rule.depth()
    (3, 1)
    >>> Rule.from_dict(rule.to_dict()) == rule
    True
    """

    def __init__(self, root):
        if not isinstance(root, (Literal, Operator, Constant)):
            raise TypeError(
                f"a Rule's root must be a Literal, Operator or Constant; found "
                f"{type(root).__name__}."
            )
        self.root = root

    def evaluate(self, Z, *, xp=None):
        """Evaluate the rule on a binarised matrix.

        The computation runs on ``Z``'s array namespace and device (a CuPy
        ``Z`` stays on its GPU); lists and pandas objects count as NumPy, and
        ``tabsift.set_config(array_backend=...)`` forces a backend.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_literals)
            0/1 or boolean features, in the column order of the binariser
            the rule was learned on (literal ``index`` = column).
        xp : module, default=None
            Array namespace to compute in; by default
            :func:`tabsift.backend.get_namespace` of ``Z``.

        Returns
        -------
        fired : array of bool of shape (n_samples,)
            An array of the namespace the rule was computed in.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.rules import Literal, Rule
        >>> Rule(Literal(1, "b")).evaluate(np.array([[0, 1], [1, 0]])).tolist()
        [True, False]
        """
        xp, Z = _prepare(Z, xp)
        if Z.ndim != 2:
            raise ValueError(f"Z must be 2-D (rows x binary features); found {Z.ndim} dimensions.")
        needed = max((lit.index for lit in self.literals()), default=-1) + 1
        if Z.shape[1] < needed:
            raise ValueError(
                f"the rule reads binary feature {needed - 1}, but Z has only {Z.shape[1]} "
                "columns; pass the output of the binariser the rule was learned with."
            )
        return self.root._evaluate(Z, xp)

    def complexity(self):
        """Number of operators plus literals (BoolXAI's complexity; a constant counts 1)."""
        return self.root.complexity()

    def depth(self):
        """Levels of operators: 0 for a literal or constant, 1 for an operator over literals."""
        return self.root.depth()

    def literals(self):
        """Every literal of the rule, left to right (negation included)."""
        return self.root.literals()

    def columns(self):
        """The input columns the rule reads, in order of first use, without repeats."""
        seen = {}
        for lit in self.literals():
            seen.setdefault(lit.column if lit.column is not None else lit.name, None)
        return list(seen)

    def export_text(self):
        """The rule on one line, e.g. ``AtLeast2(glucose > 127, bmi > 30, age <= 45)``.

        A negated literal is written as the opposite comparison when it has
        one (``age <= 45`` for ``~(age > 45)``), else with ``~``.

        Returns
        -------
        text : str

        Examples
        --------
        >>> from tabsift.rules import Constant, Rule
        >>> Rule(Constant(False)).export_text()
        'False'
        """
        return _node_text(self.root)

    def to_dict(self):
        """JSON-ready nested dict; :meth:`from_dict` reads it back.

        Returns
        -------
        data : dict

        Examples
        --------
        >>> from tabsift.rules import Literal, Rule
        >>> Rule(Literal(0, "a")).to_dict()
        {'literal': 'a', 'index': 0, 'negated': False}
        """
        return self.root.to_dict()

    @classmethod
    def from_dict(cls, data):
        """Build a rule from :meth:`to_dict`'s output (checked, never evaluated as code).

        Parameters
        ----------
        data : dict

        Returns
        -------
        rule : Rule

        Examples
        --------
        >>> from tabsift.rules import Rule
        >>> Rule.from_dict({"constant": True}).export_text()
        'True'
        """
        return cls(_node_from_dict(data))

    def plot(self, ax=None):
        """Draw the rule as a tree: operators on top, literals as leaves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.

        Returns
        -------
        ax : matplotlib Axes

        Examples
        --------
        >>> from tabsift.rules import Literal, Operator, Rule
        >>> rule = Rule(Operator("And", [Literal(0, "a"), Literal(1, "b")]))
        >>> len(rule.plot().texts)
        3
        """
        from tabsift.rules._plot import plot_rule

        return plot_rule(self, ax=ax)

    def __eq__(self, other):
        return isinstance(other, Rule) and self.root == other.root

    __hash__ = None

    def __str__(self):
        return self.export_text()

    def __repr__(self):
        return f"Rule({self.export_text()})"
