"""Numeric thresholds from data: a column's quantiles, rounded to the column's scale.

The :class:`~tabsift.rules.Binarizer` places its quantile thresholds with them,
and the refinement after the search (:mod:`._refine`) its finer candidates.
Weights count rows as :func:`._weights.weighted_quantile` says.
"""

import math

import numpy as np

from tabsift.rules._weights import weighted_quantile

_SIGNIFICANT = 3


def is_binary(values):
    """Return True for a column whose finite values are exactly 0 and 1 (a literal already)."""
    finite = values[np.isfinite(values)]
    return finite.size > 0 and set(np.unique(finite)) == {0.0, 1.0}


def round_threshold(value, low, high):
    """Round to the column's scale (3 significant digits of its range).

    Thresholds then read ``glucose > 127`` rather than ``glucose > 126.84``; more digits
    only when needed to stay inside ``[low, high)``.
    """
    spread = high - low
    if not (math.isfinite(value) and math.isfinite(spread) and spread > 0):
        return value
    decimals = _SIGNIFICANT - 1 - int(math.floor(math.log10(spread)))
    for extra in range(10):
        rounded = round(value, decimals + extra)
        if low <= rounded < high:
            return float(rounded)
    return value


def finite_quantiles(values, weights, levels):
    """Return ``(quantiles, low, high)`` of a column's finite values, or None when it has none.

    ``low`` and ``high`` are the smallest and largest finite values; with ``weights``
    (one per row of ``values``) the quantiles are weighted.
    """
    finite_rows = np.isfinite(values)
    finite = values[finite_rows]
    if finite.size == 0:
        return None
    low, high = float(finite.min()), float(finite.max())
    if weights is None:
        return np.quantile(finite, levels), low, high
    return weighted_quantile(finite, weights[finite_rows], levels), low, high


def quantile_thresholds(values, weights, n_thresholds):
    """Return up to ``n_thresholds`` distinct rounded thresholds at the column's quantiles.

    Each lies in ``[low, high)`` of the column's finite values, so ``column > t``
    holds on some rows and not on others; a column without finite values gets none.
    """
    levels = np.arange(1, n_thresholds + 1) / (n_thresholds + 1)
    found = finite_quantiles(values, weights, levels)
    if found is None:
        return []
    quantiles, low, high = found
    out = []
    for q in quantiles:
        t = round_threshold(float(q), low, high)
        if low <= t < high and t not in out:
            out.append(t)
    return out
