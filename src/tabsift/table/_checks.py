"""Checks every estimator runs on a table, each with one message wording."""

import numpy as np

from tabsift.table._errors import TableError, quote_names


def duplicate_names(names):
    """Return the names that appear more than once in ``names``, in order of first repeat.

    Examples
    --------
    >>> from tabsift.table._checks import duplicate_names
    >>> duplicate_names(["a", "b", "a", "c", "b", "a"])
    ['a', 'b']
    """
    seen, twice = set(), []
    for name in map(str, names):
        if name in seen and name not in twice:
            twice.append(name)
        seen.add(name)
    return twice


def check_column_names(X, *, owner):
    """Raise a :class:`TableError` when a DataFrame has duplicate column names.

    scikit-learn (and narwhals below it) cannot tell such columns apart, and a
    selection or a split naming one of them would be ambiguous.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabsift.table import check_column_names
    >>> check_column_names(pd.DataFrame([[1, 2]], columns=["a", "a"]), owner="MyModel")
    Traceback (most recent call last):
    ...
    tabsift.table._errors.TableError: X has duplicate column names 'a'; MyModel needs ...
    """
    columns = getattr(X, "columns", None)
    if columns is None or not type(X).__module__.startswith("pandas"):
        return
    twice = duplicate_names(columns)
    if twice:
        raise TableError(
            f"X has duplicate column names {quote_names(twice)}; {owner} needs every column "
            "named once: rename them first, e.g. X.columns = [...] or "
            "X = X.loc[:, ~X.columns.duplicated()]."
        )


def non_finite_message(names, n_nan, n_inf, *, owner, fix=None):
    """Return the message for columns holding NaN or infinite values (one wording everywhere).

    It names only what was found: an estimator that accepts NaN but met
    infinite values says so, without claiming NaN is the problem.

    Examples
    --------
    >>> from tabsift.table import non_finite_message
    >>> print(non_finite_message(["age"], [3], [0], owner="MyModel"))
    column 'age' has 3 NaN values; MyModel does not accept NaN in X: impute or drop them first, e.g. with sklearn.impute.SimpleImputer.
    """
    parts = []
    for name, nan, inf in zip(names, n_nan, n_inf, strict=True):
        what = []
        if nan:
            what.append(f"{int(nan)} NaN value{'s' if nan != 1 else ''}")
        if inf:
            what.append(f"{int(inf)} infinite value{'s' if inf != 1 else ''}")
        parts.append(f"column {str(name)!r} has {' and '.join(what)}")
    more = f" (and {len(parts) - 5} more columns)" if len(parts) > 5 else ""
    found = [w for w, n in (("NaN", sum(n_nan)), ("infinite values", sum(n_inf))) if n]
    fix = fix or "impute or drop them first, e.g. with sklearn.impute.SimpleImputer"
    return (
        f"{'; '.join(parts[:5])}{more}; {owner} does not accept {' or '.join(found)} in X: "
        f"{fix}."
    )


def check_finite_columns(X, *, feature_names=None, owner="This estimator", fix=None):
    """Raise a :class:`TableError` naming the columns of a float array with NaN or inf.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Float data.
    feature_names : sequence of str, optional
        Column names for the message (``x0, x1, ...`` when None).
    owner : str
        The estimator, named in the message.
    fix : str, optional
        How to fix it, when the default advice (impute with ``SimpleImputer``)
        does not fit.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.table import check_finite_columns
    >>> check_finite_columns(np.array([[1.0, np.inf]]), feature_names=["a", "b"], owner="M")
    Traceback (most recent call last):
    ...
    tabsift.table._errors.TableError: column 'b' has 1 infinite value; M does not accept ...
    """
    finite = np.isfinite(X)
    if finite.all():
        return
    bad = np.flatnonzero(~finite.all(axis=0))
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(X.shape[1])]
    nan = np.isnan(X[:, bad]).sum(axis=0)
    inf = np.isinf(X[:, bad]).sum(axis=0)
    raise TableError(
        non_finite_message([feature_names[j] for j in bad], nan, inf, owner=owner, fix=fix)
    )
