"""The validation rows of OTCoresetSelector: given by the user, or drawn from ``X``.

A given ``(X_val, y_val)`` is checked against ``X``'s columns (and encoded
with ``X`` when the table needs encoding); otherwise the rows are drawn from
``X`` (stratified by class when budgets are per class) and are then not
candidates.
"""

import numbers

import numpy as np
from sklearn.utils.validation import check_array

from tabsift.sampling._coreset_budgets import largest_remainder
from tabsift.table import TableError, check_finite_columns, is_plain_numeric


def given_validation_rows(validation):
    """Return the given ``(X_val, y_val)`` as the user passed them, with their lengths checked."""
    if len(validation) != 2:
        raise ValueError(
            "validation must be an int, a fraction or a tuple (X_val, y_val); got a tuple "
            f"of length {len(validation)}."
        )
    X_val, y_val = validation
    y_val = np.asarray(y_val)
    if y_val.shape[0] != np.shape(X_val)[0]:
        raise ValueError(
            f"validation's y_val has {y_val.shape[0]} values for {np.shape(X_val)[0]} rows."
        )
    return X_val, y_val


def numeric_validation_rows(validation, X):
    """Return the given validation rows as floats, for numeric ``X`` (and the dask path)."""
    X_val, y_val = given_validation_rows(validation)
    X_val = check_array(X_val, dtype=np.float64, ensure_all_finite=False)
    if X_val.shape[1] != X.shape[1]:
        raise ValueError(
            f"validation's X_val has {X_val.shape[1]} columns but X has {X.shape[1]}; give "
            "validation rows in the same columns."
        )
    check_finite_columns(X_val, owner="OTCoresetSelector (validation X_val)")
    return X_val, y_val


def draw_validation_rows(validation, y, n, total, budgets, rng):
    """Draw ``validation`` (a count or a fraction) rows of ``X`` to match; sorted row indices.

    At most half the rows, and never so many that fewer than ``total``
    candidates remain; per class (with ``budgets``) in proportion to the
    class sizes, each class keeping at least its budget as candidates.
    """
    if isinstance(validation, numbers.Integral):
        m = int(validation)
    else:
        m = max(1, int(round(validation * n)))
    m = max(0, min(m, n - total, n // 2))
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    if budgets is None:
        return np.sort(rng.choice(n, size=m, replace=False))
    classes = list(budgets)
    sizes = np.array([np.sum(y == c) for c in classes])
    # Each class keeps at least its budget as candidates.
    room = np.array([np.sum(y == c) - budgets[c] for c in classes])
    want = np.minimum(largest_remainder(m, sizes), room)
    rows = [rng.choice(np.flatnonzero(y == c), size=int(w), replace=False)
            for c, w in zip(classes, want, strict=True) if w > 0]
    return np.sort(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)


def stack_rows(X, Xv, X_val):
    """Return the pool rows followed by the given validation rows, in the pool's columns."""
    import pandas as pd

    if hasattr(X, "iloc"):
        if hasattr(X_val, "columns"):
            missing = [c for c in X.columns if c not in X_val.columns]
            if missing:
                raise TableError(
                    f"validation's X_val lacks the column(s) {missing!r} of X; give validation "
                    "rows in the same columns."
                )
            X_val = X_val[list(X.columns)]
        else:
            X_val = _same_width(np.asarray(X_val, dtype=object), X.shape[1])
            X_val = pd.DataFrame(X_val, columns=X.columns).infer_objects()
        return pd.concat([X, X_val], ignore_index=True)
    if Xv.dtype.kind == "f" and is_plain_numeric(X_val):
        return np.concatenate([Xv, _same_width(np.asarray(X_val, dtype=Xv.dtype), Xv.shape[1])])
    X_val = _same_width(np.asarray(X_val, dtype=object), Xv.shape[1])
    return np.concatenate([np.asarray(Xv, dtype=object), X_val])


def _same_width(X_val, width):
    """Return ``X_val`` when it is 2-D with ``width`` columns, else raise naming the shapes."""
    if X_val.ndim != 2 or X_val.shape[1] != width:
        raise ValueError(
            f"validation's X_val has shape {X_val.shape} but X has {width} columns; give "
            "validation rows in the same columns."
        )
    return X_val
