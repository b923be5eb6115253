"""Input conversion for the coreset selectors, on imbalanced-learn's sampler contract.

One-hot targets become labels and back, lists and sparse pandas columns are
selected on a converted copy, and the rows returned are always the user's
own (pandas rows keep their index and dtypes).
"""

import warnings

import numpy as np
from imblearn.utils import check_target_type
from sklearn.utils.multiclass import type_of_target

from tabsift.backend import array_library
from tabsift.table import is_dataframe
from tabsift.utils import plain


def one_hot_to_labels(y):
    """Class labels from a one-hot ``y`` (imbalanced-learn's one-vs-all encoding), else ``y``.

    A multilabel ``y`` (a row with several ones) is refused with
    imbalanced-learn's message.
    """
    if y is None:
        return y
    shape = getattr(y, "shape", None)
    if shape is None:  # a list, or an array-like with only __array__
        shape = np.asarray(y).shape
    if len(shape) != 2 or shape[1] < 2:
        return y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            kind = type_of_target(y)
        except (TypeError, ValueError):
            return y
    if kind != "multilabel-indicator":
        return y
    return check_target_type(np.asarray(y))


def kept_per_class(y_selected):
    """``sampling_strategy_`` of a selector: ``{class: rows kept}``, sorted by class.

    imbalanced-learn's samplers record per class the number of rows they
    resample to; a selector records how many of each class it kept. Empty
    when ``y`` is None or not a set of class labels (a regression target).
    """
    if y_selected is None:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            kind = type_of_target(y_selected)
        except (TypeError, ValueError):
            return {}
    if kind not in ("binary", "multiclass"):
        return {}
    classes, counts = np.unique(y_selected, return_counts=True)
    return {plain(c): int(n)
            for c, n in zip(classes, counts, strict=True)}


def context_rows(context, rows):
    """Return ``_select``'s keyword arguments restricted to ``rows`` where they hold one entry a row."""
    out = dict(context)
    if out.get("raw") is not None:  # (the user's table, given validation rows or None)
        table, table_val = out["raw"]
        out["raw"] = (take_table_rows(table, rows), table_val)
    if out.get("shown") is not None:  # prompt columns: (name, values a row, numeric)
        out["shown"] = [(name, values[rows], numeric) for name, values, numeric in out["shown"]]
    return out


def named_table(X, Xv, plain):
    """Return what to encode: the table itself, or its validated numbers under its column names."""
    if not is_dataframe(X):
        return Xv
    if plain:  # floats with NaN where the frame had NaN, None or pd.NA
        import pandas as pd

        return pd.DataFrame(Xv, columns=X.columns, index=X.index)
    return X


def take_table_rows(table, rows):
    """Return rows of a DataFrame (by position) or of an array."""
    return table.iloc[rows] if hasattr(table, "iloc") else np.asarray(table)[rows]


def has_sparse_columns(X):
    """Return True when ``X`` is a DataFrame with a sparse column."""
    if not is_dataframe(X):
        return False
    import pandas as pd

    return any(isinstance(dtype, pd.SparseDtype) for dtype in X.dtypes)


def dense_frame(X):
    """Return ``X`` with its sparse columns made dense (same values and subtypes)."""
    import pandas as pd

    return X.astype({c: d.subtype for c, d in X.dtypes.items() if isinstance(d, pd.SparseDtype)})


def has_missing(y):
    """Return True when ``y`` holds a missing value (NaN, None, pd.NA)."""
    import pandas as pd

    try:
        return bool(np.asarray(pd.isna(y)).any())
    except (TypeError, ValueError):
        return False


def array_api_library(X):
    """``"cupy"`` or ``"array_api_strict"`` for arrays of those libraries, else None."""
    library = array_library(X)
    return library if library in ("cupy", "array_api_strict") else None


def take_rows(original, validated, indices):
    """Rows ``indices`` of the user's object when it is pandas, else of the validated array."""
    if hasattr(original, "iloc"):
        return original.iloc[indices]
    return validated[indices]
