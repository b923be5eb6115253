"""Reading raw table columns for the rules family: checks, names, numbers, array library.

The :class:`~tabsift.rules.Binarizer` and the
:class:`~tabsift.rules.BooleanRuleClassifier` read their input the same way:
through scikit-learn's ``validate_data`` (which records ``n_features_in_`` and
``feature_names_in_`` on the estimator), column by column, with what a column
holds decided by the table layer (:func:`tabsift.table.describe_column`).
"""

import numpy as np
from sklearn.utils.validation import check_array, validate_data

from tabsift.backend import get_namespace, namespace_name, to_numpy
from tabsift.table import column_numbers, describe_column, numeric_values


def _is_device_array(X):
    """Return True for an array of a non-NumPy array library (array_api_strict, CuPy, ...)."""
    root = type(X).__module__.split(".")[0]
    return hasattr(X, "__array_namespace__") and root not in ("numpy", "pandas")


def _input_namespace(X):
    """Return the namespace to compute in, and whether ``X`` is already an array of it.

    The configured ``array_backend`` wins; otherwise an array of another library
    (array_api_strict, CuPy) keeps its own namespace and anything else (NumPy, pandas,
    lists, array-likes) is NumPy.
    """
    xp = get_namespace(X) if _is_device_array(X) else get_namespace()
    native = _is_device_array(X) and type(X).__module__.split(".")[0] == namespace_name(xp)
    return xp, native


def _column_numbers(name, values, info=None):
    """Return a column read as float numbers (NaN where missing), or None when it holds text.

    What the column holds comes from the table layer (:func:`tabsift.table.describe_column`):
    numbers stored as text are parsed, placeholders such as ``?`` are missing values.
    """
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        return np.asarray(values, dtype=np.float64)  # fast path: plain numbers
    info = describe_column(name, values) if info is None else info
    if info.kind == "empty":
        return np.full(len(values), np.nan)
    return numeric_values(values, info) if info.is_numeric else None


def _take_rows(values, keep):
    """Return the rows ``keep`` (a boolean mask) of one column (an ndarray or a pandas Series)."""
    return values.iloc[keep] if hasattr(values, "iloc") else values[keep]


def _numbers_now(name, values):
    """Return a column that held numbers during fit, as numbers; text in it now reads as missing.

    New rows may hold a value no training row had (``'rotary'`` in a column of cylinder
    counts). Like an unseen category, it makes every literal of its column false; a warning
    names the column and the value (:func:`tabsift.table.column_numbers`).
    """
    return column_numbers(name, values, owner="Binarizer")


def input_names(estimator):
    """Return the input column names an estimator saw in fit (``x0``, ``x1``, ... without names)."""
    if hasattr(estimator, "feature_names_in_"):
        return [str(name) for name in estimator.feature_names_in_]
    return [f"x{j}" for j in range(estimator.n_features_in_)]


def check_input(estimator, X, *, reset):
    """Return ``X`` checked by scikit-learn for a rule classifier; a DataFrame stays one.

    An array of another library is copied to NumPy (the fit, and host evaluation, run
    there); a DataFrame keeps each column's dtype (the binariser reads them); other input
    is checked as an array of any dtype, NaN allowed.
    """
    import pandas as pd

    if _is_device_array(X):
        X = to_numpy(X)
    if isinstance(X, pd.DataFrame):
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        return X
    return validate_data(estimator, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")


def read_columns(estimator, X, *, reset):
    """``(names, [values, ...])``, one entry per column of ``X``, after sklearn's checks.

    A DataFrame keeps each column's own dtype (numbers, text, categories); other input is
    checked as an array (NaN allowed, inf refused) and split into its columns. With
    ``reset=False`` the columns must match those ``estimator`` saw in fit.
    """
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        if X.shape[1] == 0 or (reset and X.shape[0] == 0):
            check_array(np.empty(X.shape), ensure_min_samples=1, ensure_min_features=1)
        return input_names(estimator), [column for _, column in X.items()]
    if _is_device_array(X):
        X = to_numpy(X)  # thresholds are chosen on the host (quantiles, a few per column)
    X = validate_data(
        estimator, X, reset=reset, dtype=None, ensure_all_finite="allow-nan", accept_sparse=False
    )
    if X.dtype.kind in "fiub":
        X = X.astype(np.float64, copy=False)
        if np.isinf(X).any():
            raise ValueError(
                "X contains infinite values; Binarizer accepts NaN (no literal holds) but "
                "not inf. Replace them first, e.g. with np.nan_to_num."
            )
    return input_names(estimator), [X[:, j] for j in range(X.shape[1])]
