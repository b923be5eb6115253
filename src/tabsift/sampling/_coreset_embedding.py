"""The standardised embedding the distance-based coreset selectors work on."""

import numpy as np

from tabsift.backend import column_mean_std, namespace_by_name


def weighted_moments(X, sample_weight=None):
    """Per-column (weighted) mean and deviation in float64 (constant columns get deviation 1).

    Integer weights give the moments of the repeated rows, so the
    standardisation of a weighted table is that of its repeated rows.
    """
    return column_mean_std(
        np.asarray(X, dtype=np.float64), sample_weight=sample_weight, xp=namespace_by_name("numpy")
    )


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
