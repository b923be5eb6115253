"""What every selector of this family decides the same way: the task, and how many to keep."""

import math
import numbers

import numpy as np
from sklearn.utils.multiclass import type_of_target

# A float target with more distinct values than this is a regression target for task="auto",
# even when every value is a whole number (prices, counts stored as floats).
MAX_FLOAT_CLASSES = 20


def resolve_task(y, task, *, owner):
    """Return ``"classification"`` or ``"regression"`` for target ``y``.

    ``task="auto"`` follows :func:`sklearn.utils.multiclass.type_of_target`
    (binary and multiclass targets are classification, continuous ones
    regression), except that a float target with more than
    ``MAX_FLOAT_CLASSES`` distinct values is regression.
    """
    if task == "regression":
        return task
    kind = type_of_target(y, input_name="y")
    if task == "classification":
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"{owner} got task='classification' but y is {kind!r}, not class labels. "
                "Pass task='regression' (or task='auto') for a continuous target."
            )
        return task
    if kind in ("binary", "multiclass"):
        y = np.asarray(y)
        if y.dtype.kind == "f" and np.unique(y).size > MAX_FLOAT_CLASSES:
            return "regression"
        return "classification"
    if kind == "continuous":
        return "regression"
    raise ValueError(
        f"Unknown label type: y is of type {kind!r}; {owner} needs a 1-d target of classes "
        "(binary or multiclass) or of real numbers (continuous). Pass task='classification' "
        "or task='regression' if the type is guessed wrongly."
    )


def n_to_keep(n_features_to_select, n_features, *, owner):
    """Number of features kept for a fraction in (0, 1] (rounded down, at least 1) or a count."""
    k = n_features_to_select
    if isinstance(k, numbers.Integral):
        if k > n_features:
            raise ValueError(
                f"{owner}: n_features_to_select={k} is more than the {n_features} features of "
                f"X; pass at most {n_features}, or a fraction in (0, 1]."
            )
        return int(k)
    # The small epsilon keeps 0.3 * 10 = 3.0000000000000004 and 0.29 * 100 on the right side.
    return max(1, math.floor(k * n_features + 1e-9))


def rank_scores(scores):
    """Rank of each feature by score, 1 for the best; ties go to the earlier column."""
    ranking = np.empty(len(scores), dtype=np.intp)
    ranking[np.argsort(-np.asarray(scores), kind="stable")] = np.arange(1, len(scores) + 1)
    return ranking


def non_numeric_columns(X):
    """Names of the columns of a pandas DataFrame that are not numeric (or bool); [] otherwise."""
    if not type(X).__module__.startswith("pandas") or not hasattr(X, "dtypes"):
        return []
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return [
        str(name)
        for name, dtype in X.dtypes.items()
        if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype))
    ]
