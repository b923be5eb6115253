"""The literals of a fitted Binarizer: building them, evaluating them, adding thresholds.

A fitted :class:`~tabsift.rules.Binarizer` holds, per input column, numeric
thresholds (``thresholds_``, ``threshold_source_``) or frequent categories
(``categories_``); its ``literals_`` list them column by column. The
functions here turn those public fitted attributes into the literal matrix,
on the host (the rule search's input) or on an array namespace
(:meth:`Binarizer.transform`), and let the classifier's threshold refinement
add thresholds to a fitted binariser.
"""

import numpy as np
from sklearn.utils.validation import validate_data

from tabsift.backend import asarray, device, namespace_name, to_numpy
from tabsift.rules._columns import _is_device_array, _numbers_now, input_names, read_columns
from tabsift.rules._nodes import condition_text
from tabsift.table import category_values


def build_literals(binarizer, names):
    """Return the literal dicts of a binariser's thresholds and categories, column by column."""
    literals = []
    for name in names:
        if binarizer.threshold_source_.get(name) == "binary":
            literals.append({"column": name, "test": "is", "value": True, "name": name})
        elif name in binarizer.thresholds_:
            literals += [
                {"column": name, "test": ">", "value": t, "name": condition_text(name, ">", t)}
                for t in binarizer.thresholds_[name]
            ]
        else:
            literals += [
                {"column": name, "test": "==", "value": v, "name": condition_text(name, "==", v)}
                for v in binarizer.categories_.get(name, [])  # empty columns have none
            ]
    return literals


def add_thresholds(binarizer, added):
    """Add thresholds ``{column: [t, ...]}`` to a fitted binariser's numeric columns.

    Used by the classifier's threshold refinement; the literal order stays column by
    column, thresholds sorted, so :meth:`Binarizer.transform` yields the new literals.
    """
    for name, values in added.items():
        binarizer.thresholds_[name] = sorted(set(binarizer.thresholds_[name]) | set(values))
    binarizer.literals_ = build_literals(binarizer, input_names(binarizer))


def host_literals(binarizer, X):
    """Return the literal matrix of ``X`` as a NumPy bool array (the rule search's input)."""
    names, columns = read_columns(binarizer, X, reset=False)
    n = len(columns[0]) if columns else 0
    Z = np.zeros((n, len(binarizer.literals_)), dtype=bool)
    by_column = dict(zip(names, columns, strict=True))
    position = 0
    for name in names:
        if name in binarizer.thresholds_:
            thresholds = binarizer.thresholds_[name]
            if thresholds:
                values = _numbers_now(name, by_column[name])
                with np.errstate(invalid="ignore"):
                    Z[:, position : position + len(thresholds)] = (
                        values[:, None] > np.asarray(thresholds)[None, :]
                    )
            position += len(thresholds)
        else:
            categories = binarizer.categories_.get(name, [])  # empty columns have none
            if categories:
                keys = category_values(by_column[name])
                for i, value in enumerate(categories):
                    Z[:, position + i] = keys == str(value)
            position += len(categories)
    return Z


def _check_device_array(binarizer, X, xp):
    """Check a non-NumPy array input (sklearn's would copy it to the host)."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D array (rows x columns); got {X.ndim} dimensions. Reshape it, "
            "e.g. X.reshape(-1, 1) for a single column."
        )
    validate_data(binarizer, X, reset=False, skip_check_array=True)
    if X.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={tuple(X.shape)}).")
    if not xp.isdtype(X.dtype, ("bool", "integral", "real floating")):
        raise ValueError(
            f"a {namespace_name(xp)} array input must be numeric (bool, integer or real "
            f"float); found dtype {X.dtype}. Pass text or categorical columns as a pandas "
            "DataFrame."
        )
    X = xp.astype(X, xp.float64)
    if bool(xp.any(xp.isinf(X))):
        raise ValueError(
            "X contains infinite values; Binarizer accepts NaN (no literal holds) but "
            "not inf. Replace them first."
        )
    return X


def namespace_literals(binarizer, X, xp, native):
    """Return the literal matrix on namespace ``xp``: numeric literals compared there.

    ``native`` says ``X`` is already an array of ``xp`` (it stays there, on its device).
    """
    names = input_names(binarizer)
    categorical = [n for n in names if binarizer.categories_.get(n)]
    if native:
        if categorical:
            raise ValueError(
                f"column {categorical[0]!r} was categorical during fit; a "
                f"{namespace_name(xp)} array cannot hold its values. Pass a pandas "
                "DataFrame or a NumPy array."
            )
        X = _check_device_array(binarizer, X, xp)
        numeric = {name: X[:, j : j + 1] for j, name in enumerate(names)}
        by_column, n, where = {}, X.shape[0], device(X)
    else:
        # Host input (pandas, NumPy, lists) with a forced backend, or an array of another
        # library: checked as usual, numeric columns moved once as one float64 matrix.
        if _is_device_array(X):
            X = to_numpy(X)
        names, columns = read_columns(binarizer, X, reset=False)
        by_column = dict(zip(names, columns, strict=True))
        moved = [n for n in names if binarizer.thresholds_.get(n)]
        host = [_numbers_now(name, by_column[name]) for name in moved]
        n = len(columns[0]) if columns else 0
        matrix = asarray(np.column_stack(host) if host else np.zeros((n, 0)), xp=xp)
        numeric = {name: matrix[:, j : j + 1] for j, name in enumerate(moved)}
        where = device(matrix)
    blocks = []
    for name in names:
        if name in binarizer.thresholds_:
            thresholds = binarizer.thresholds_[name]
            if thresholds:
                column = numeric[name]
                cut = xp.asarray(thresholds, dtype=xp.float64, device=device(column))
                # NaN > t is False: missing values make every literal of the column false.
                blocks.append(column > xp.reshape(cut, (1, -1)))
        elif binarizer.categories_.get(name):
            keys = category_values(by_column[name])
            hits = np.column_stack([keys == str(v) for v in binarizer.categories_[name]])
            blocks.append(asarray(hits, xp=xp, dtype="bool"))
    if not blocks:
        return xp.zeros((n, 0), dtype=xp.bool, device=where)
    return xp.concat(blocks, axis=1)
