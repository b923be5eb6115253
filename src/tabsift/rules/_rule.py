"""A Boolean rule as data: :class:`Rule` wraps a tree of nodes, with its text and dict forms.

The nodes (:class:`Literal`, :class:`Operator`, :class:`Constant`) live in
``_nodes.py``; this module reads a rule back from its dict, every field
checked (data, never code), and is what a fitted
:class:`~tabsift.rules.BooleanRuleClassifier` exposes.
"""

import math
import numbers

from tabsift.rules._nodes import Constant, Literal, Operator, _prepare


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
    """Return a node from its dict, every field checked for type and range (data, never code)."""
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
        """Return the number of operators plus literals (BoolXAI's complexity; a constant counts 1)."""
        return self.root.complexity()

    def depth(self):
        """Levels of operators: 0 for a literal or constant, 1 for an operator over literals."""
        return self.root.depth()

    def literals(self):
        """Every literal of the rule, left to right (negation included)."""
        return self.root.literals()

    def columns(self):
        """Return the input columns the rule reads, in order of first use, without repeats."""
        seen = {}
        for lit in self.literals():
            seen.setdefault(lit.column if lit.column is not None else lit.name, None)
        return list(seen)

    def export_text(self):
        """Return the rule on one line, e.g. ``AtLeast2(glucose > 127, bmi > 30, age <= 45)``.

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
