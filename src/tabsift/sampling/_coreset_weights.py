"""Row weights in a selection: a weighted random pick, and the mass each kept row stands for.

A weight is a row's mass: an integer ``k`` counts as the row repeated ``k``
times, so both helpers give exactly what the repeated rows would give.
"""

import numpy as np


def weighted_pick(rng, sample_weight, n):
    """One index in ``range(n)`` drawn with probability proportional to ``sample_weight``.

    Without weights this is ``rng.randint(n)``. With integer weights it is
    ``rng.randint(total)`` mapped to the row holding that copy, which is
    exactly the draw the repeated rows would make from the same seed.
    """
    if sample_weight is None:
        return int(rng.randint(n))
    cum = np.cumsum(sample_weight)
    if np.all(sample_weight == np.round(sample_weight)) and cum[-1] < np.iinfo(np.int64).max:
        copy = rng.randint(int(round(cum[-1])))
    else:
        copy = rng.random_sample() * cum[-1]
    return int(min(np.searchsorted(cum, copy, side="right"), n - 1))


def cell_weights(Z, y, kept, sample_weight=None, *, chunk=4096):
    """Mass each kept row stands for: the summed weight of the rows nearest to it.

    Rows are assigned to their nearest kept row of the same class (of any
    class when theirs has none kept; ``y`` None: any kept row), so the
    weights sum to the total input weight and keep every class's mass.
    """
    Z = np.asarray(Z, dtype=np.float64)
    n = Z.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    kept = np.asarray(kept, dtype=np.int64)
    K = Z[kept]
    kk = np.einsum("ij,ij->i", K, K)
    y = None if y is None else np.asarray(y)
    owner = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        Zb = Z[start:stop]
        d = np.einsum("ij,ij->i", Zb, Zb)[:, None] - 2.0 * (Zb @ K.T) + kk[None, :]
        if y is not None:
            sc = y[start:stop, None] == y[kept][None, :]
            d = np.where(sc | ~sc.any(axis=1, keepdims=True), d, np.inf)
        owner[start:stop] = np.argmin(d, axis=1)
    owner[kept] = np.arange(len(kept))  # a kept row stands for itself (duplicates included)
    return np.bincount(owner, weights=w, minlength=len(kept))
