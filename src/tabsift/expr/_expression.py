"""The public entry points: :func:`parse`, :class:`Expression` and :func:`evaluate`."""

from tabsift.expr._errors import ExpressionError
from tabsift.expr._evaluate import evaluate_expression
from tabsift.expr._nodes import (
    HARD_MAX_DEPTH,
    Column,
    Node,
    node_from_dict,
    node_to_dict,
    to_source,
    tree_height,
    walk,
)
from tabsift.expr._parser import parse_tree

_FORMAT = "tabsift.expr"
_VERSION = 1


def _parse_parts(text, *, columns=None, max_length=2000, max_depth=64):
    try:
        return parse_tree(text, columns=columns, max_length=max_length, max_depth=max_depth)
    except RecursionError as err:  # pragma: no cover - the depth limit is meant to prevent this
        raise ExpressionError(
            "the formula nests too deeply to parse",
            text=text,
            position=0,
            fix="simplify it, or pass a smaller max_depth.",
        ) from err


class Expression:
    """A parsed, validated formula over named columns.

    Build one with :func:`parse`, or from a syntax tree with
    ``Expression(root)``. Expressions are immutable; two are equal when their
    trees are equal.

    Parameters
    ----------
    root : Node
        The syntax tree (:class:`Number`, :class:`Column`, :class:`Constant`,
        :class:`UnaryOp`, :class:`BinaryOp`, :class:`Compare` or :class:`Call`).
        It is checked like parsed text: types (numbers vs conditions), arity
        and depth.

    Attributes
    ----------
    text : str
        The formula as written (the canonical text when built from a tree).
    root : Node
        The syntax tree.
    columns : tuple of str
        Referenced column names, in order of first appearance.

    See Also
    --------
    parse : Parse formula text.
    evaluate : Parse (if needed) and evaluate on data.

    Examples
    --------
    >>> from tabsift.expr import BinaryOp, Column, Expression, Number, parse
    >>> e = parse("log1p( income )/`household size`")
    >>> e.columns
    ('income', 'household size')
    >>> str(e)
    'log1p(income) / `household size`'
    >>> parse(str(e)) == e
    True
    >>> Expression(BinaryOp("*", Column("x"), Number(2))) == parse("x * 2")
    True
    """

    def __init__(self, root):
        if not isinstance(root, Node):
            raise TypeError(f"root must be a syntax tree node, found {type(root).__name__}.")
        if tree_height(root) > HARD_MAX_DEPTH:
            raise ExpressionError(
                f"the tree nests more than {HARD_MAX_DEPTH} levels deep",
                fix="build a smaller formula.",
            )
        # Checking through the parser gives trees exactly the guarantees of parsed text.
        text = to_source(root)
        parsed, kind, spans = _parse_parts(text, max_length=None, max_depth=HARD_MAX_DEPTH)
        if parsed != root:  # pragma: no cover - to_source is built to round-trip
            raise ExpressionError(f"the tree does not round-trip through its text {text!r}")
        self._set(text, root, kind, spans)

    @classmethod
    def _from_parts(cls, text, root, kind, spans):
        self = cls.__new__(cls)
        self._set(text, root, kind, spans)
        return self

    def _set(self, text, root, kind, spans):
        self.text = text
        self.root = root
        self._kind = kind
        self._spans = spans
        seen = {}
        for _, node in walk(root):
            if isinstance(node, Column):
                seen.setdefault(node.name, None)
        self.columns = tuple(seen)

    def _column_position(self, name):
        for path, node in walk(self.root):
            if isinstance(node, Column) and node.name == name:
                span = self._spans.get(path)
                return None if span is None else span[0]
        return None

    def __str__(self):
        return to_source(self.root)

    def __repr__(self):
        return f"Expression({str(self)!r})"

    def __eq__(self, other):
        if not isinstance(other, Expression):
            return NotImplemented
        return self.root == other.root

    def __hash__(self):
        return hash(self.root)

    def evaluate(self, data, *, feature_names=None, xp=None, check_finite=True):
        """Evaluate the formula on every row of ``data`` at once.

        See :func:`evaluate` for the parameters and return value.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.expr import parse
        >>> parse("where(x > 1, x, 0) * 2").evaluate({"x": np.array([0.5, 3.0])})
        array([0., 6.])
        """
        return evaluate_expression(
            self, data, feature_names=feature_names, xp=xp, check_finite=check_finite
        )

    def to_dict(self):
        """Return a JSON-able dict that :meth:`from_dict` turns back into this expression.

        Returns
        -------
        data : dict
            Keys ``format``, ``version``, ``text`` (canonical text),
            ``columns`` and ``root`` (the tree as nested dicts).

        Examples
        --------
        >>> import json
        >>> from tabsift.expr import Expression, parse
        >>> e = parse("sqrt(x) > 2")
        >>> e.to_dict()["root"]["type"]
        'Compare'
        >>> Expression.from_dict(json.loads(json.dumps(e.to_dict()))) == e
        True
        """
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "text": str(self),
            "columns": list(self.columns),
            "root": node_to_dict(self.root),
        }

    @classmethod
    def from_dict(cls, data, *, columns=None):
        """Rebuild an expression from :meth:`to_dict` output, validating it fully.

        Parameters
        ----------
        data : dict
            As returned by :meth:`to_dict`. ``root`` wins when present; its
            canonical text must equal ``text`` if both are given. A dict with
            only ``text`` is parsed.
        columns : sequence of str, default=None
            If given, every referenced column must be one of these.

        Returns
        -------
        expression : Expression

        Examples
        --------
        >>> from tabsift.expr import Expression
        >>> str(Expression.from_dict({"format": "tabsift.expr", "version": 1, "text": "x+1"}))
        'x + 1'
        """
        if not isinstance(data, dict):
            raise ExpressionError(
                f"expected a dict made by Expression.to_dict(), found {type(data).__name__}"
            )
        if data.get("format") != _FORMAT or data.get("version") != _VERSION:
            raise ExpressionError(
                f"expected format={_FORMAT!r} and version={_VERSION}, found "
                f"format={data.get('format')!r} and version={data.get('version')!r}",
                fix="pass the dict made by Expression.to_dict().",
            )
        if "root" in data:
            try:
                root = node_from_dict(data["root"])
            except (TypeError, OverflowError, RecursionError) as err:
                # e.g. an unhashable function name, or a number too large for a float
                raise ExpressionError(
                    f"the stored tree is not a valid formula ({type(err).__name__}: {err})",
                    fix="store the dict made by Expression.to_dict() unchanged.",
                ) from err
            expression = cls(root)
            if "text" in data and data["text"] != expression.text:
                raise ExpressionError(
                    f"the stored text {data['text']!r} does not match the stored tree, which "
                    f"reads {expression.text!r}",
                    fix="store the dict made by Expression.to_dict() unchanged.",
                )
        elif "text" in data:
            if not isinstance(data["text"], str):
                raise ExpressionError(
                    f"the stored text must be a str, found {type(data['text']).__name__}",
                    fix="store the dict made by Expression.to_dict() unchanged.",
                )
            expression = parse(data["text"], max_length=None, max_depth=HARD_MAX_DEPTH)
        else:
            raise ExpressionError("the dict has neither 'root' nor 'text'")
        if columns is not None:
            # Re-parse against the columns for the usual error with a caret.
            parse(expression.text, columns=columns, max_length=None, max_depth=HARD_MAX_DEPTH)
        return expression


def parse(text, *, columns=None, max_length=2000, max_depth=64):
    """Parse formula text into an :class:`Expression`.

    Nothing in the text is ever executed: a hand-written tokenizer and
    recursive-descent parser accept only the grammar described in
    :mod:`tabsift.expr`, and reject everything else with an
    :class:`ExpressionError` that points at the problem.

    Parameters
    ----------
    text : str
        The formula, e.g. ``"log1p(income) / `household size`"``.
    columns : sequence of str, default=None
        The available column names. If given, an unknown name is an error
        at parse time, listing close matches and the available columns.
    max_length : int or None, default=2000
        Longest accepted text, in characters; None for no limit.
    max_depth : int, default=64
        Deepest accepted nesting, at most 100: parentheses may nest this
        deep, and the syntax tree may be this high (every operator and call
        adds a level, so a sum of more than 64 terms needs a larger value).

    Returns
    -------
    expression : Expression

    Raises
    ------
    ExpressionError
        If the text is not a valid formula; ``.position`` is the 0-based
        offset of the problem.

    See Also
    --------
    evaluate : Evaluate a formula on data.

    Examples
    --------
    >>> from tabsift.expr import parse
    >>> e = parse("clip(`blood pressure` / 120, 0, 2) ** 2 - e")
    >>> e.columns
    ('blood pressure',)
    >>> e.root.op
    '-'
    >>> parse("x > 1 & y < 2").root
    BinaryOp(op='&', left=Compare(op='>', left=Column(name='x'), right=Number(value=1.0)), right=Compare(op='<', left=Column(name='y'), right=Number(value=2.0)))
    >>> parse("agee * 2", columns=["age", "income"])
    Traceback (most recent call last):
    ...
    tabsift.expr._errors.ExpressionError: unknown column 'agee'; did you mean age? (at position 0)
        agee * 2
        ^
    Fix: use one of the available columns: age, income.
    """
    root, kind, spans = _parse_parts(
        text, columns=columns, max_length=max_length, max_depth=max_depth
    )
    return Expression._from_parts(text, root, kind, spans)


def evaluate(expression, data, *, feature_names=None, xp=None, check_finite=True):
    """Evaluate a formula on every row of ``data`` at once.

    Parameters
    ----------
    expression : str or Expression
        The formula; text is parsed with :func:`parse` defaults.
    data : DataFrame, mapping or 2-D array
        A pandas DataFrame; a mapping from column name to 1-D array; or a
        2-D array whose columns are named by ``feature_names``.
    feature_names : sequence of str, default=None
        Names of the columns of a 2-D array; by default ``x0, x1, ...`` as
        in scikit-learn.
    xp : module, default=None
        Array namespace to compute in; by default that of the data (see
        :func:`tabsift.backend.get_namespace`: NumPy for pandas and NumPy,
        CuPy for CuPy, or the configured ``array_backend``).
    check_finite : bool, default=True
        Raise :class:`NonFiniteResultError` if the result holds NaN or
        infinite values, naming the innermost sub-expression that produced
        them, how many rows are affected and the first one. Condition
        (boolean) results are never checked. Pass False to get the values.

    Returns
    -------
    values : array of shape (n_rows,)
        Floating point for arithmetic, bool for conditions, in the array
        namespace and on the device of the data. Numbers and constants
        broadcast to every row.

    Raises
    ------
    ExpressionError
        If the formula is invalid or uses a column missing from ``data``.
    NonFiniteResultError
        If ``check_finite`` and the result is not finite.

    See Also
    --------
    parse : Parse once, evaluate many times.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.expr import evaluate
    >>> X = np.array([[1.0, 4.0], [2.0, 0.0]])
    >>> evaluate("sqrt(x1) + x0", X)
    array([3., 2.])
    >>> evaluate("(a > 1) | (b == 0)", X, feature_names=["a", "b"])
    array([False,  True])
    >>> evaluate("log(b)", X, feature_names=["a", "b"], check_finite=False)
    array([1.38629436,       -inf])
    """
    if not isinstance(expression, Expression):
        expression = parse(expression)
    return expression.evaluate(data, feature_names=feature_names, xp=xp, check_finite=check_finite)
