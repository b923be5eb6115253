"""Impurity-based importance of the columns a fitted tree splits on."""

import numpy as np

from tabsift.tree._positions import reachable


def impurity_decrease(tree, X, y, n_classes=None, sample_weight=None):
    """Total weighted impurity decrease of the splits on each column, on the rows ``(X, y)``.

    Gini impurity for class indices ``y`` (``n_classes`` given), variance for a
    numeric ``y``: ``sum over splits on j of n_t / n * (i(t) - n_l / n_t i(l) -
    n_r / n_t i(r))``, as scikit-learn's ``feature_importances_`` before
    normalising. With ``sample_weight``, the ``n`` are weight totals and the
    impurities weighted (scikit-learn's ``weighted_n_node_samples``). Returns an
    array of shape ``(len(feature_names),)``.
    """
    path = tree.decision_path(X).tocsc().astype(np.float64)
    if sample_weight is None:
        n = max(X.shape[0], 1)
        w = np.ones(X.shape[0])
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        n = float(w.sum()) or 1.0
    counts = np.asarray(path.T @ w).ravel()
    safe = np.where(counts > 0, counts, 1.0)
    if n_classes is not None:
        onehot = np.eye(n_classes)[np.asarray(y, dtype=np.int64)] * w[:, None]
        by_class = np.asarray(path.T @ onehot) / safe[:, None]
        impurity = 1.0 - (by_class**2).sum(axis=1)
    else:
        y = np.asarray(y, dtype=np.float64)
        mean = np.asarray(path.T @ (w * y)).ravel() / safe
        impurity = np.asarray(path.T @ (w * y**2)).ravel() / safe - mean**2
    impurity = np.where(counts > 0, np.maximum(impurity, 0.0), 0.0)
    out = np.zeros(len(tree.feature_names))
    for i in np.flatnonzero(reachable(tree.feature) & (tree.feature >= 0)):
        left, right = 2 * i + 1, 2 * i + 2
        gain = (
            counts[i] * impurity[i] - counts[left] * impurity[left] - counts[right] * impurity[right]
        )
        out[tree.feature[i]] += gain / n
    return out
