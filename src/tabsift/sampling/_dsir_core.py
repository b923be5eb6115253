"""Pieces of importance resampling shared by the in-memory, Dask and streaming paths.

All three paths must select the same rows for the same seed, so everything
random is a function of the *global* row index:

- the pool sample that fits the features is the ``fit_sample_size`` rows with
  the smallest hash of their index (a bottom-k sample: uniform, and
  computable chunk by chunk or partition by partition);
- the Gumbel noise of row ``i`` comes from block ``i // _BLOCK`` of a
  generator seeded with ``(seed, block)``, whatever chunk the row is read in.
"""

import numpy as np
from scipy.stats import entropy

from tabsift.sampling._hashing import mix64

_BLOCK = 1 << 16
_SAMPLE_SALT = np.uint64(0x5EED_D51E)


def sample_ranks(start, stop):
    """Pseudo-random ranks of rows ``start..stop-1``; the smallest form the fit sample."""
    return mix64(np.arange(start, stop, dtype=np.uint64), _SAMPLE_SALT)


def bottom_k(ranks, index, k):
    """Positions of the ``k`` smallest ``(rank, index)`` pairs, in index order."""
    if len(ranks) <= k:
        return np.argsort(index, kind="stable")
    chosen = np.lexsort((index, ranks))[:k]
    return chosen[np.argsort(index[chosen], kind="stable")]


def gumbel_noise(seed, start, stop):
    """Return the standard Gumbel noise for rows ``start..stop-1``, a function of the row index."""
    if stop <= start:
        return np.empty(0)
    first, last = start // _BLOCK, (stop - 1) // _BLOCK
    blocks = [np.random.default_rng([seed, b]).gumbel(size=_BLOCK) for b in range(first, last + 1)]
    offset = first * _BLOCK
    return np.concatenate(blocks)[start - offset : stop - offset]


def top_keys(keys, index, k):
    """Positions of the ``k`` largest keys (ties: smaller index first), best first."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if len(keys) > k:
        kth = np.partition(keys, len(keys) - k)[len(keys) - k]
        candidates = np.flatnonzero(keys >= kth)
    else:
        candidates = np.arange(len(keys))
    order = np.lexsort((index[candidates], -keys[candidates]))
    return candidates[order[:k]]


class RunningTopK:
    """The ``k`` largest keys seen so far over chunks, with their global row indices."""

    def __init__(self, k, keys=None, index=None):
        self.k = k
        self.keys = np.empty(0) if keys is None else np.asarray(keys, dtype=float)
        self.index = np.empty(0, dtype=np.int64) if index is None else np.asarray(index)

    def add(self, keys, index):
        keys = np.concatenate([self.keys, keys])
        index = np.concatenate([self.index, np.asarray(index, dtype=np.int64)])
        keep = top_keys(keys, index, self.k)
        self.keys, self.index = keys[keep], index[keep]
        return self


def smoothed(counts, smoothing):
    """Additively smoothed distribution of bucket ``counts``."""
    counts = np.asarray(counts, dtype=float)
    return (counts + smoothing) / (counts.sum() + smoothing * counts.shape[0])


def kl_divergence(p, q):
    """KL(p || q) of two strictly positive distributions, in nats."""
    return float(entropy(p, q))
