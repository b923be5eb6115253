"""A scikit-learn transformer that adds formula columns to a table."""

import copy

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from tabsift.expr._errors import ExpressionError
from tabsift.expr._evaluate import _to_namespace, get_namespace
from tabsift.expr._expression import Expression, parse
from tabsift.table import (
    TableError,
    category_values,
    check_column_names,
    describe_columns,
    is_dataframe,
    is_plain_numeric,
    numeric_values,
    table_columns,
)
from tabsift.utils import fit_context

_FLOATS = [np.float64, np.float32]


def _pass_through(X, new, keys):
    """Return the input as it came (text columns included) followed by the formula columns.

    A float array cannot carry text, so a DataFrame comes back as a DataFrame
    (original columns and dtypes, index kept) and an array as an object array.
    """
    if is_dataframe(X):
        out = X.copy()
        for key, values in zip(keys, new, strict=True):
            out[key] = np.asarray(values)
        return out
    columns = [np.asarray(X, dtype=object)] + [np.asarray(v, dtype=object)[:, None] for v in new]
    return np.concatenate(columns, axis=1)


def _has_text(X):
    """Return a 2-D NumPy array of objects or strings (it may hold text columns)."""
    return isinstance(X, np.ndarray) and X.dtype.kind in "OUS" and X.ndim == 2


def _example(values):
    """Return the first value of a column that is not missing, as text."""
    return next((v for v in category_values(values) if v is not None), None)


def _in_formula(err, key):
    """Copy of ``err`` whose message starts by naming the formula."""
    new = copy.copy(err)
    new.reason = f"formula {key!r}: {err.reason}"
    return new


class FormulaTransformer(TransformerMixin, BaseEstimator):
    """Add one column per formula, computed from the input columns.

    Formulas use the safe language of :mod:`tabsift.expr` (never Python's
    ``eval``) and refer to columns by name: the DataFrame's column names, or
    ``x0, x1, ...`` for arrays without names, as in scikit-learn.

    Parameters
    ----------
    formulas : dict or list of str, default=None
        A dict from new column name to formula text (or :class:`Expression`),
        or a list of formula texts, each named by its canonical text
        (``"log(x0)"``). None adds no column, which makes the transformer
        an identity.
    keep_input : bool, default=True
        Whether the output starts with the input columns. If False, only
        the formula columns are returned.
    check_finite : bool, default=True
        Raise :class:`NonFiniteResultError` when a formula gives NaN or
        infinite values (e.g. ``log`` of 0), naming the sub-expression and
        the first row. If False, such values are returned as they are.

    Attributes
    ----------
    expressions_ : dict of str to Expression
        The parsed formulas, by output column name, in output order.
    n_features_in_ : int
        Number of input columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the input columns; only defined when X has string column
        names (formulas on unnamed input use ``x0, x1, ...``).

    See Also
    --------
    tabsift.expr.parse : Parse and check one formula.
    tabsift.expr.evaluate : Evaluate one formula on a table.

    Notes
    -----
    Formula columns are cast to the floating dtype of the output, so
    conditions such as ``x0 > 1`` become 0.0 and 1.0. NaN in the input is
    accepted; it reaches the output of a formula only with
    ``check_finite=False``.

    A DataFrame need not be all numbers. What each column holds is read by
    :func:`tabsift.table.describe_columns`: numbers stored as text are read
    as numbers (placeholders such as ``?`` or ``n/a`` as NaN), bool columns
    as 0 and 1, datetime columns as days since 1970-01-01. A column of text
    or categories raises a :class:`~tabsift.table.TableError` naming it when
    a formula uses it. Otherwise text columns pass through: with
    ``keep_input=True`` the output is the input as it came (a DataFrame keeps
    its columns, dtypes and index; an array becomes an object array, since a
    float array cannot carry text) followed by the formula columns, and with
    ``keep_input=False`` they are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabsift.expr import FormulaTransformer
    >>> df = pd.DataFrame({"mass": [70.0, 90.0], "height": [1.75, 1.80]})
    >>> ft = FormulaTransformer({"bmi": "mass / height ** 2", "heavy": "mass > 80"})
    >>> ft.set_output(transform="pandas").fit_transform(df).round(2)
       mass  height    bmi  heavy
    0  70.0    1.75  22.86    0.0
    1  90.0    1.80  27.78    1.0
    >>> FormulaTransformer(["log(x0)"], keep_input=False).fit_transform([[1.0], [2.0]])
    array([[0.        ],
           [0.69314718]])
    """

    _parameter_constraints = {
        "formulas": [dict, list, tuple, None],
        "keep_input": ["boolean"],
        "check_finite": ["boolean"],
    }

    def __init__(self, formulas=None, *, keep_input=True, check_finite=True):
        self.formulas = formulas
        self.keep_input = keep_input
        self.check_finite = check_finite

    def _input_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _named_formulas(self):
        """Return ``[(key, formula)]`` from ``self.formulas``, checking their types."""
        if self.formulas is None:
            return []
        if isinstance(self.formulas, dict):
            items = list(self.formulas.items())
            for key, _ in items:
                if not isinstance(key, str) or not key:
                    raise ValueError(
                        f"formulas: every key must be a non-empty str naming the new column, "
                        f"found {key!r}."
                    )
        else:
            items = [(f"formulas[{i}]", formula) for i, formula in enumerate(self.formulas)]
        for key, formula in items:
            if not isinstance(formula, (str, Expression)):
                raise ValueError(
                    f"formula {key!r} must be a str or an Expression, found "
                    f"{type(formula).__name__}: {formula!r:.60}."
                )
        return items

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check X and parse every formula against its columns.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric input, or a DataFrame with text columns the formulas do
            not use (see Notes). DataFrame column names name the formula
            columns.
        y : None
            Ignored.

        Returns
        -------
        self : FormulaTransformer

        Raises
        ------
        TableError
            If ``X`` has duplicate column names, or a column holding text is
            used by a formula.
        """
        check_column_names(X, owner="FormulaTransformer")
        _, text_columns = self._validate(X, reset=True)
        names = self._input_names()
        expressions = {}
        for key, formula in self._named_formulas():
            text = str(formula) if isinstance(formula, Expression) else formula
            try:
                expression = parse(text, columns=names)
            except ExpressionError as err:
                raise _in_formula(err, key) from err
            if not isinstance(self.formulas, dict):
                key = str(expression)
            if key in expressions:
                raise ValueError(
                    f"formulas: {key!r} is given twice; each formula column needs its own name."
                )
            if self.keep_input and key in names:
                raise ValueError(
                    f"formulas: the new column {key!r} has the name of an input column; rename "
                    "it, or pass keep_input=False."
                )
            expressions[key] = expression
        self._check_text(text_columns, expressions)
        self.expressions_ = expressions
        return self

    def _validate(self, X, *, reset):
        """``X`` as a float array, and ``[(name, values)]`` of its columns that hold text.

        Numeric input goes through scikit-learn's ``validate_data`` as it always did. A
        DataFrame with other columns (or an array of objects that does not convert) is read
        column by column through the table layer; its text columns are NaN in the array
        and returned, for :meth:`_check_text`.
        """
        if not (is_dataframe(X) and not is_plain_numeric(X)):
            try:
                X = validate_data(
                    self, X, reset=reset, dtype=_FLOATS, ensure_all_finite="allow-nan"
                )
                return X, []
            except ValueError:
                if not _has_text(X):
                    raise
        validate_data(self, X, reset=reset, skip_check_array=True)
        names = self._input_names()
        columns = table_columns(X)
        values = np.full((X.shape[0], X.shape[1]), np.nan)
        text = []
        for j, info in enumerate(describe_columns(X)):
            if info.is_numeric:
                values[:, j] = numeric_values(columns[j], info)
            elif info.kind != "empty":
                text.append((names[j], columns[j]))
        return check_array(values, dtype=_FLOATS, ensure_all_finite="allow-nan"), text

    def _check_text(self, text, expressions):
        """Raise a :class:`TableError` for text columns that a formula or the output needs."""
        if not text:
            return
        used = {}
        for key, expression in expressions.items():
            for column in expression.columns:
                used.setdefault(column, key)
        for name, values in text:
            if name in used:
                raise TableError(
                    f"column {name!r} holds text such as {_example(values)!r}, but formula "
                    f"{used[name]!r} computes with it and formulas need numbers: convert it "
                    "first (pandas.to_numeric for numbers, or encode categories as numbers), "
                    "or leave it out of the formula."
                )

    def transform(self, X):
        """Return the input columns (if ``keep_input``) followed by one column per formula.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Input with the columns seen in :meth:`fit` (see :meth:`fit`).

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_out)
            Floating point; see :meth:`get_feature_names_out` for the names.
        """
        check_is_fitted(self)
        original = X
        X, text = self._validate(X, reset=False)
        self._check_text(text, self.expressions_)
        xp = get_namespace(X)
        X = _to_namespace(X, xp)
        names = self._input_names()
        new = []
        for key, expression in self.expressions_.items():
            try:
                values = expression.evaluate(
                    X, feature_names=names, xp=xp, check_finite=self.check_finite
                )
            except ExpressionError as err:
                raise _in_formula(err, key) from err
            new.append(xp.astype(values, X.dtype))
        if text and self.keep_input:
            return _pass_through(original, new, list(self.expressions_))
        if not new:
            return xp.asarray(X, copy=True) if self.keep_input else X[:, :0]
        added = xp.stack(new, axis=1)
        return xp.concat([X, added], axis=1) if self.keep_input else added

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: the input names (if kept), then the formula names.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input names; by default ``feature_names_in_``, or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        if input_features is None:
            inputs = self._input_names()
        else:
            inputs = [str(name) for name in input_features]
            if len(inputs) != self.n_features_in_:
                raise ValueError(
                    f"input_features has {len(inputs)} names but the transformer was fit on "
                    f"{self.n_features_in_} columns."
                )
            if hasattr(self, "feature_names_in_") and inputs != self._input_names():
                raise ValueError(
                    "input_features is not equal to feature_names_in_; pass None or the "
                    "names seen in fit."
                )
        outputs = (inputs if self.keep_input else []) + list(self.expressions_)
        return np.asarray(outputs, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN passes through; formulas that meet it raise only when check_finite.
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
