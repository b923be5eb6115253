"""The learning task of a target, the target's checks, and the CV splitter for that task."""

import numbers

import numpy as np

from tabsift.table._errors import TableError
from tabsift.utils import plain

#: A numeric target with more distinct values than this is a regression target for
#: ``task="auto"``, even when every value is a whole number (prices, counts).
MAX_AUTO_CLASSES = 20

TASKS = ("classification", "regression")


def _as_1d(y):
    import pandas as pd

    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise TableError(
                f"y has {y.shape[1]} columns; tabsift needs one target column. Pass one "
                "column, e.g. df['price']."
            )
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        dtype = y.dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        values = y.to_numpy(dtype=np.float64, na_value=np.nan) if numeric else y.to_numpy(
            dtype=object
        )
    else:
        values = np.asarray(y)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise TableError(
            f"y has shape {values.shape}; tabsift needs a 1-d target (one value per row)."
        )
    return values


def _numeric(values):
    """``values`` as floats, or None when some present value is not a number."""
    import pandas as pd

    if values.dtype.kind in "iuf":
        return values.astype(np.float64)
    if values.dtype.kind in "bc":
        return None
    present = ~np.asarray(pd.isna(values), dtype=bool)
    if any(isinstance(v, (bool, np.bool_, str, bytes)) for v in values[present]):
        return None
    try:
        return np.array([np.nan if not p else float(v) for v, p in zip(values, present, strict=True)])
    except (TypeError, ValueError):
        return None


def check_target(y, *, owner, name="y"):
    """Raise a :class:`TableError` for a target no estimator can learn from.

    Checked: at least one value, no missing values (the message gives the count
    and how to drop those rows). Returns the target as a 1-d array.

    Examples
    --------
    >>> from tabsift.table import check_target
    >>> check_target([1.0, None, 2.0], owner="MyModel")
    Traceback (most recent call last):
    ...
    tabsift.table._errors.TableError: y has 1 missing value(s) of 3; MyModel needs a target ...
    """
    import pandas as pd

    values = _as_1d(y)
    if values.size == 0:
        raise TableError(f"{name} is empty; {owner} needs one target value per row of X.")
    missing = np.asarray(pd.isna(values), dtype=bool)
    if missing.all():
        raise TableError(
            f"{name} has no values: all {values.size} are missing; choose the target column "
            "that holds what you want to predict."
        )
    if missing.any():
        raise TableError(
            f"{name} has {int(missing.sum())} missing value(s) of {values.size}; {owner} needs a "
            "target for every row: drop those rows first, e.g. keep = y.notna(); "
            "X, y = X[keep], y[keep]."
        )
    return values


def class_codes(y, *, owner, hint=""):
    """Return ``(classes, codes)`` of a classification target that has at least two classes.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels (scikit-learn's ``check_classification_targets`` applies).
    owner : str
        The estimator, named in the error.
    hint : str, default=""
        Advice appended to the error for one class (e.g. a regression setting).

    Returns
    -------
    classes : ndarray
        The sorted distinct labels.
    codes : ndarray of int64
        Each row's index into ``classes``.

    Examples
    --------
    >>> from tabsift.table import class_codes
    >>> class_codes(["b", "a", "b"], owner="MyEstimator")[1].tolist()
    [1, 0, 1]
    >>> class_codes(["a", "a"], owner="MyEstimator")
    Traceback (most recent call last):
    ...
    tabsift.table._errors.TableError: y has only 1 class ('a'); MyEstimator needs at least 2 classes.
    """
    from sklearn.utils.multiclass import check_classification_targets

    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise TableError(
            f"y has only 1 class ({plain(classes[0])!r}); {owner} needs at least 2 classes{hint}."
        )
    return classes, codes.astype(np.int64)


def infer_task(y, task="auto", *, owner="tabsift", classifier=None, regressor=None):
    """Return ``"classification"`` or ``"regression"`` for target ``y``.

    This is the one place where tabsift decides the task; every estimator and
    job with ``task="auto"`` calls it.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The target.
    task : {"auto", "classification", "regression"}, default="auto"
        ``"auto"``: text, bool and categorical targets, and numeric targets
        with at most :data:`MAX_AUTO_CLASSES` distinct values, are
        classification; other numeric targets are regression, whatever their
        values look like (a price stored as whole numbers is regression). An
        explicit task is checked against the target and returned.
    owner : str, default="tabsift"
        Who asks, named in error messages.
    classifier, regressor : str, optional
        The estimator to suggest when a target does not suit ``task``.

    Returns
    -------
    str
        ``"classification"`` or ``"regression"``.

    Raises
    ------
    TableError
        If ``task="regression"`` and ``y`` holds text, or
        ``task="classification"`` and ``y`` is a continuous numeric target
        with more distinct values than rows could support, or ``task`` is not
        one of the three values.

    Examples
    --------
    >>> from tabsift.table import infer_task
    >>> infer_task([326.0, 334.0, 327.0, 335.0] * 6 + [336.0])
    'classification'
    >>> infer_task([float(v) for v in range(300, 330)])
    'regression'
    >>> infer_task(["yes", "no", "yes"])
    'classification'
    """
    import pandas as pd

    if task not in ("auto", *TASKS):
        raise TableError(
            f"task must be 'auto', 'classification' or 'regression', got {task!r}."
        )
    values = _as_1d(y)
    if values.dtype.kind == "c":
        # scikit-learn's wording, which its common checks look for
        raise TableError(
            f"Complex data not supported: y is complex; {owner} needs class labels or real "
            "numbers."
        )
    numbers_ = _numeric(values)
    if task == "regression":
        if numbers_ is None and values.dtype.kind != "b":  # bools regress as 0/1
            example = next((v for v in values if not pd.isna(v)), None)
            example = plain(example)
            fix = f"use {classifier}" if classifier else "pass task='classification'"
            raise TableError(
                f"{owner} needs a numeric target for regression, but y holds values such as "
                f"{example!r}; {fix} for class labels, or convert y to numbers."
            )
        return task
    if task == "classification":
        if numbers_ is not None and values.dtype.kind == "f":
            finite = numbers_[np.isfinite(numbers_)]
            if finite.size and not np.all(finite == np.round(finite)):
                fix = f"use {regressor}" if regressor else "pass task='regression'"
                raise TableError(
                    f"{owner} got task='classification', but y holds continuous numbers such as "
                    f"{float(finite[finite != np.round(finite)][0])!r}; {fix} for a numeric target."
                )
        return task
    if numbers_ is None or values.dtype.kind == "b":
        return "classification"
    present = numbers_[~np.isnan(numbers_)]
    if present.size and not np.all(present == np.round(present)):
        return "regression"
    return "regression" if np.unique(present).size > MAX_AUTO_CLASSES else "classification"


def cv_splitter(cv, task, *, random_state=None, y=None):
    """Return the cross-validation splitter for ``task``.

    An integer ``cv`` gives shuffled :class:`~sklearn.model_selection.StratifiedKFold`
    for classification (plain :class:`~sklearn.model_selection.KFold` when a
    class has fewer rows than folds) and shuffled ``KFold`` for regression;
    anything else goes through :func:`sklearn.model_selection.check_cv`.

    Examples
    --------
    >>> from tabsift.table import cv_splitter
    >>> cv_splitter(5, "classification", random_state=0, y=[0, 1] * 10)
    StratifiedKFold(n_splits=5, random_state=0, shuffle=True)
    >>> cv_splitter(5, "classification", y=[0] * 19 + [1])  # a class of one row
    KFold(n_splits=5, random_state=None, shuffle=True)
    """
    from sklearn.model_selection import KFold, StratifiedKFold, check_cv

    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if task == "classification" and y is not None:
            _, counts = np.unique(np.asarray(y), return_counts=True)
            if counts.min() >= cv:
                return StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=random_state)
        if task == "classification" and y is None:
            return StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=random_state)
        return KFold(n_splits=int(cv), shuffle=True, random_state=random_state)
    return check_cv(cv, y, classifier=task == "classification")
