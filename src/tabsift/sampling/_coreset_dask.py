"""Composable coresets over dask collections: select per partition in parallel, then on the union."""

import math

import numpy as np
from sklearn.base import clone

from tabsift.sampling._coreset_budgets import class_budgets, resolve_n_samples
from tabsift.table import TableError, check_finite_columns, quote_names

# How to fix a dask collection the partitions cannot use as it is.
_IN_MEMORY = (
    "call .compute() and pass the table in memory, where {owner} encodes it (categories "
    "one-hot, missing numbers imputed), or {what} first"
)


def _check_numeric_columns(X, owner):
    """Raise a TableError naming the columns of a dask DataFrame that are not numbers."""
    from pandas.api import types

    bad = [
        str(c) for c, d in X.dtypes.items()
        if not (types.is_numeric_dtype(d) or types.is_bool_dtype(d)) or types.is_complex_dtype(d)
    ]
    if bad:
        raise TableError(
            f"X is a dask DataFrame with non-numeric column(s) {quote_names(bad)}; {owner} "
            "selects partition by partition on numbers only: "
            + _IN_MEMORY.format(owner=owner, what="encode or drop those columns")
            + "."
        )


def _partitions(X, y, owner):
    """``(list of delayed X blocks, list of delayed y blocks, columns or None)``, row-aligned."""
    import dask.array as da

    columns = None
    if hasattr(X, "columns"):  # dask DataFrame
        columns = list(X.columns)
        _check_numeric_columns(X, owner)
        x_parts = X.to_delayed()
        if hasattr(y, "to_delayed"):
            y_parts = y.to_delayed()
        else:
            raise TypeError(
                "With a dask DataFrame X, y must be a dask Series with the same partitions "
                "(for example a column of the same DataFrame)."
            )
    else:
        if X.dtype.kind not in "fiub":
            raise TableError(
                f"X is a dask array of dtype {X.dtype}; {owner} selects partition by partition "
                "on numbers only: " + _IN_MEMORY.format(owner=owner, what="encode it") + "."
            )
        X = X.rechunk({1: -1})
        if not isinstance(y, da.Array):
            y = da.from_array(np.asarray(y), chunks=(X.chunks[0],))
        else:
            y = y.rechunk((X.chunks[0],))
        x_parts = list(X.to_delayed().ravel())
        y_parts = list(y.to_delayed().ravel())
    if len(x_parts) != len(y_parts):
        raise ValueError(
            f"X has {len(x_parts)} partitions but y has {len(y_parts)}; give y with the "
            "same partitions as X."
        )
    return x_parts, y_parts, columns


def _level_one(selector, X_part, y_part, budget_of, mean, scale, columns):
    """Select inside one partition; returns its rows, targets, local indices and weights."""
    Xp = np.asarray(X_part, dtype=np.float64)
    yp = np.asarray(y_part)
    if len(Xp) == 0:
        return Xp, yp, np.zeros(0, dtype=np.int64), np.zeros(0), 0.0
    owner = type(selector).__name__
    check_finite_columns(
        Xp, feature_names=None if columns is None else [str(c) for c in columns], owner=owner,
        fix="the dask path needs finite numbers: impute or drop them first, or call .compute() "
        "and pass the table in memory, where missing numbers are imputed",
    )
    local = clone(selector)
    n_samples, stratify = budget_of(yp, len(Xp))
    if n_samples == 0:
        return Xp[:0], yp[:0], np.zeros(0, dtype=np.int64), np.zeros(0), 0.0
    local.set_params(n_samples=n_samples, stratify=stratify)
    idx, w = local._select(Xp, yp, mean=mean, scale=scale)
    return Xp[idx], yp[idx], idx, w, getattr(local, "radius_", 0.0)


def fit_resample_dask(selector, X, y):
    """Two-level (composable) selection of a dask array or DataFrame.

    Each partition is standardised with the global column means and
    deviations and selects its rows in parallel (on whichever dask scheduler
    is active); the union is then reduced to the budget on the client.
    """
    import dask

    selector._validate_params()
    x_parts, y_parts, columns = _partitions(X, y, type(selector).__name__)
    lengths = dask.compute(*[dask.delayed(len)(p) for p in x_parts])
    n = int(sum(lengths))
    stats = dask.compute(X.mean(axis=0), X.std(axis=0, ddof=0))
    mean = np.asarray(stats[0], dtype=np.float64)
    scale = np.asarray(stats[1], dtype=np.float64)
    if not (np.isfinite(mean).all() and np.isfinite(scale).all()):
        # Let the first offending partition name its column.
        scale = np.where(np.isfinite(scale), scale, 1.0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
    scale = np.where(scale > 0, scale, 1.0)
    total = resolve_n_samples(selector.n_samples, n)
    stratify = selector.stratify
    if stratify is not None:
        y_all = np.concatenate([np.asarray(p) for p in dask.compute(*y_parts)])
        budgets = class_budgets(y_all, total, stratify, estimator=type(selector).__name__)
    else:
        budgets = None

    def budget_of(yp, n_p):
        # k-center keeps the full budget per partition (the 4-approximation);
        # OT keeps twice the partition's proportional share.
        def cap(b, have):
            if selector._dask_full_budget:
                return min(b, have)
            return min(have, max(1, math.ceil(2 * b * have / max(n, 1))))

        if budgets is None:
            return cap(total, n_p), None
        per = {}
        for c, b in budgets.items():
            have = int(np.sum(yp == c))
            per[c] = cap(b, have) if (b > 0 and have > 0) else 0
        return sum(per.values()), {c: v for c, v in per.items() if c in set(yp.tolist())}

    tasks = [
        dask.delayed(_level_one)(selector, xp, yp, budget_of, mean, scale, columns)
        for xp, yp in zip(x_parts, y_parts, strict=True)
    ]
    results = dask.compute(*tasks)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    X_union = np.concatenate([r[0] for r in results])
    y_union = np.concatenate([r[1] for r in results])
    global_idx = np.concatenate([r[2] + off for r, off in zip(results, offsets, strict=True)])
    union_weight = np.concatenate([r[3] for r in results])

    final = clone(selector)
    if budgets is None:
        final.set_params(n_samples=min(total, len(X_union)))
    else:
        have = {c: int(np.sum(y_union == c)) for c in budgets}
        final.set_params(n_samples=1, stratify={c: min(b, have[c]) for c, b in budgets.items()})
    idx, w = final._select(X_union, y_union, mean=mean, scale=scale, row_weight=union_weight)
    for name, value in vars(final).items():
        if name.endswith("_") and not name.startswith("_"):
            setattr(selector, name, value)
    selector.n_features_in_ = X_union.shape[1]
    if columns is not None and all(isinstance(c, str) for c in columns):
        selector.feature_names_in_ = np.asarray(columns, dtype=object)
    selector.sample_indices_ = global_idx[idx]
    selector.sample_weight_ = np.asarray(w, dtype=np.float64)
    selector.n_partitions_ = len(x_parts)
    if hasattr(final, "radius_"):
        # Every row is within its partition's radius of a union row, which is
        # within the final radius of a selected row.
        selector.radius_ = max(r[4] for r in results) + final.radius_
    X_out, y_out = X_union[idx], y_union[idx]
    if columns is not None:
        import pandas as pd

        X_out = pd.DataFrame(X_out, columns=columns, index=selector.sample_indices_)
        y_out = pd.Series(y_out, index=selector.sample_indices_, name=getattr(y, "name", None))
    return X_out, y_out
