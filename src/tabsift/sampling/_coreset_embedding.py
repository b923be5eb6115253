"""The standardised embedding the distance-based coreset selectors work on."""

import numpy as np

from tabsift.backend import column_mean_std, namespace_by_name


def weighted_moments(X, sample_weight=None, *, block_rows=65_536):
    """Per-column (weighted) mean and deviation in float64 (constant columns get deviation 1).

    Integer weights give the moments of the repeated rows, so the
    standardisation of a weighted table is that of its repeated rows. A table
    of more than ``block_rows`` rows is read ``block_rows`` at a time (two
    passes: means, then squared deviations), so no float64 copy of it is made.
    """
    X = np.asarray(X)
    if X.shape[0] <= block_rows:
        return column_mean_std(
            np.asarray(X, dtype=np.float64),
            sample_weight=sample_weight,
            xp=namespace_by_name("numpy"),
        )
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    total = float(X.shape[0]) if w is None else float(w.sum())
    blocks = [slice(i, i + block_rows) for i in range(0, X.shape[0], block_rows)]
    sums = np.zeros(X.shape[1])
    low, high = np.full(X.shape[1], np.inf), np.full(X.shape[1], -np.inf)
    for rows in blocks:
        part = np.asarray(X[rows], dtype=np.float64)
        sums += part.sum(axis=0) if w is None else w[rows] @ part
        np.minimum(low, part.min(axis=0), out=low)
        np.maximum(high, part.max(axis=0), out=high)
    mean = sums / total
    squares = np.zeros(X.shape[1])
    for rows in blocks:
        part = (np.asarray(X[rows], dtype=np.float64) - mean) ** 2
        squares += part.sum(axis=0) if w is None else w[rows] @ part
    std = np.sqrt(squares / total)
    # A constant column is centred only, even where summing left a rounding residue.
    return mean, np.where((std > 0) & (high > low), std, 1.0)


def standardise(X, *, dtype=np.float32, mean=None, scale=None):
    """``(X - mean) / scale`` per column in NumPy (constant columns centred only).

    ``mean`` and ``scale`` default to the columns' own; the dask path passes
    the global ones so every partition is measured with one yardstick. One
    copy of ``X`` in ``dtype`` is made and updated in place.
    """
    X = np.asarray(X)
    if mean is None:
        mean, scale = weighted_moments(X, None)
    Z = np.array(X, dtype=dtype, order="C", copy=True)
    Z -= np.asarray(mean, dtype=dtype)
    Z /= np.asarray(scale, dtype=dtype)
    return Z


def to_backend(Z):
    """Move ``Z`` to the namespace forced by ``tabsift.set_config(array_backend=...)``, if any."""
    from tabsift import get_config

    name = get_config().get("array_backend")
    if name in (None, "numpy"):
        return Z
    return namespace_by_name(name).asarray(Z)


def as_is(n_columns):
    """``mean=0, scale=1``: ``standardise`` then leaves an embedding as it is."""
    return {"mean": np.zeros(n_columns), "scale": np.ones(n_columns)}
