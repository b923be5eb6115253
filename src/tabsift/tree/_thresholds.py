"""How split thresholds read: the shortest decimal that routes the rows alike, and branch texts.

A learned threshold such as ``126.8437`` is replaced by the shortest decimal
between the largest value sent left and the smallest sent right
(``127``), so printed trees read like a person's, with every training row
reaching the same leaf.
"""


import numpy as np

from tabsift.tree._positions import reachable


def format_number(value):
    """Short, round-trippable enough text for a threshold or leaf value (6 significant digits)."""
    value = float(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def shortest_threshold(threshold, low, high):
    """Return the shortest decimal ``d`` with ``low <= d < high``, nearest ``threshold`` among equals.

    ``low`` is the largest training value sent to the ``<=`` side of a split and
    ``high`` the smallest sent to the ``>`` side, so any such ``d`` keeps the split
    on those rows; the shortest prints at the data's own precision (``5.6``, not
    ``5.644999980926514``). ``threshold`` is returned when no row bounds a side.
    """
    threshold = float(threshold)
    if not (np.isfinite(low) and np.isfinite(high) and low <= threshold < high):
        return threshold
    for k in range(17):
        base = round(threshold, k)
        step = 10.0**-k
        fits = [
            c
            for c in (base, round(base - step, k), round(base + step, k))
            if low <= c < high
        ]
        if fits:
            return float(min(fits, key=lambda c: (abs(c - threshold), c)))
    return threshold


def split_bounds(tree, X):
    """Per node, the largest value sent left and the smallest sent right by the rows of ``X``.

    Returns ``(low, high)`` of shape ``(n_positions,)``; NaN where no row bounds that side.
    """
    path = tree.decision_path(X).tocsc()
    low = np.full(tree.feature.shape[0], np.nan)
    high = np.full(tree.feature.shape[0], np.nan)
    for i in np.flatnonzero(reachable(tree.feature) & (tree.feature >= 0)):
        rows = path.indices[path.indptr[i] : path.indptr[i + 1]]
        x = X[rows, tree.feature[i]]
        x = x[~np.isnan(x)]
        left, right = x[x <= tree.threshold[i]], x[x > tree.threshold[i]]
        if left.size:
            low[i] = left.max()
        if right.size:
            high[i] = right.min()
    return low, high


def round_thresholds(tree, X):
    """Replace each threshold by the shortest decimal that routes the rows of ``X`` alike.

    Every row of ``X`` reaches the same leaf before and after (in place; returns ``tree``).
    """
    low, high = split_bounds(tree, X)
    for i in np.flatnonzero(reachable(tree.feature) & (tree.feature >= 0)):
        tree.threshold[i] = shortest_threshold(tree.threshold[i], low[i], high[i])
    return tree
