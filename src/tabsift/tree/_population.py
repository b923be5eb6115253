"""A population of trees evaluated on all rows at once: leaf indices, leaf refits, fitness.

Trees are ``(P, n_positions)`` arrays (see :mod:`tabsift.tree._positions`); routing ``n``
rows through ``P`` trees of depth ``D`` is ``D`` steps of gather and compare over a
``(P, n)`` index array, on the array backend of :func:`tabsift.backend.get_namespace`.
A row whose value is missing (NaN) at a node takes the side the node's ``missing``
flag names (True: the ``<=`` child). Leaf refits and fitness are bincounts over those
indices, on the host.

Every refit and fitness takes optional per-row weights (``sample_weight``): a row of
integer weight ``k`` counts exactly as ``k`` copies of it (weighted class counts, sums
and means, weighted recalls and squared errors); None is one per row.
"""

import numpy as np

from tabsift.backend import asarray, get_namespace, namespace_name, to_numpy
from tabsift.tree._positions import depth_of_capacity

# Pseudo-count of the hierarchical smoothing of class frequencies: a leaf's
# distribution is shrunk toward its parent's by this many rows.
SMOOTHING = 1.0


def apply_population(feature, threshold, X, *, missing=None, xp=None):
    """Leaf position reached by every row in every tree.

    Parameters
    ----------
    feature : int array of shape (P, n_positions)
    threshold : float array of shape (P, n_positions)
    X : array of shape (n, d)
        NaN marks a missing value.
    missing : bool array of shape (P, n_positions), default=None
        Per node, whether rows with a missing value go to the ``<=`` child
        (True) or the ``>`` child; None sends them to the ``<=`` child.
    xp : namespace, default=None
        The backend; chosen from ``X`` (or the configured backend) by default.

    Returns
    -------
    leaves : ndarray of int of shape (P, n), on the host.
    """
    xp = get_namespace(X, xp=xp)
    P, size = feature.shape
    n, d = X.shape
    depth = depth_of_capacity(size)
    if namespace_name(xp) == "numpy":
        return _apply_numpy(
            np.asarray(feature),
            np.asarray(threshold),
            None if missing is None else np.asarray(missing, dtype=bool),
            np.asarray(X),
            depth,
        )
    X = asarray(X, xp=xp, dtype="float64")
    feat = xp.reshape(asarray(feature, xp=xp, dtype="int64"), (-1,))
    thr = xp.reshape(asarray(threshold, xp=xp, dtype="float64"), (-1,))
    # A comparison with NaN is False, so without flags missing values go left.
    right = None
    if missing is not None and bool(xp.any(xp.isnan(X))):
        right = xp.reshape(asarray(~np.asarray(missing, dtype=bool), xp=xp), (-1,))
    flat_x = xp.reshape(X, (-1,))
    rows = xp.reshape(xp.arange(n, dtype=xp.int64) * d, (1, n))
    offset = xp.reshape(xp.arange(P, dtype=xp.int64) * size, (P, 1))
    idx = xp.zeros((P, n), dtype=xp.int64)
    for _ in range(depth):
        node = xp.reshape(idx + offset, (-1,))
        f = xp.reshape(xp.take(feat, node), (P, n))
        t = xp.reshape(xp.take(thr, node), (P, n))
        leaf = f < 0
        column = xp.where(leaf, xp.zeros_like(f), f)
        x = xp.reshape(xp.take(flat_x, xp.reshape(rows + column, (-1,))), (P, n))
        go = x > t
        if right is not None:
            go = xp.where(xp.isnan(x), xp.reshape(xp.take(right, node), (P, n)), go)
        step = 2 * idx + 1 + xp.astype(go, xp.int64)
        idx = xp.where(leaf, idx, step)
    return to_numpy(idx)


def _apply_numpy(feature, threshold, missing, X, depth):
    # Leaves point to themselves (threshold +inf, column 0), so each step is a few flat
    # gathers with no branch: look up the node's column and threshold, read the row's
    # value, jump to child 2i+1 or 2i+2 (or stay). A NaN compares False (left); where a
    # node sends missing values right, one more gather sets the step.
    P, size = feature.shape
    n = X.shape[0]
    flat_x = np.ascontiguousarray(X.T).ravel()  # free for a column-major X
    leaf = feature < 0
    base = (np.arange(P) * size)[:, None]
    here = base + np.arange(size)
    pos = np.arange(size)
    child = np.empty((P, size, 2), dtype=np.intp)
    child[:, :, 0] = np.where(leaf, here, base + np.minimum(2 * pos + 1, size - 1))
    child[:, :, 1] = np.where(leaf, here, base + np.minimum(2 * pos + 2, size - 1))
    child = child.ravel()
    column = (np.where(leaf, 0, feature) * n).ravel()
    thr = np.where(leaf, np.inf, threshold).ravel()
    right = None
    if missing is not None and not missing.all() and np.isnan(flat_x).any():
        right = (~missing & ~leaf).ravel()
    rows = np.arange(n)
    node = np.repeat(base, n, axis=1)
    for _ in range(depth):
        x = flat_x.take(column.take(node) + rows)
        go = x > thr.take(node)
        if right is not None:
            go |= np.isnan(x) & right.take(node)
        node = child.take(2 * node + go)
    return node - base


def node_counts(leaves, size, weights=None, minlength=None):
    """Per tree and position, the count (or sum of ``weights``) of rows ending there: (P, size)."""
    P = leaves.shape[0]
    flat = (leaves + (np.arange(P) * size)[:, None]).ravel()
    w = None if weights is None else np.broadcast_to(weights, leaves.shape).ravel()
    return np.bincount(flat, weights=w, minlength=P * size).reshape(P, size)


def _subtree_totals(totals, feature):
    """Add children's totals into internal nodes, bottom-up (``totals`` is (P, size, k))."""
    depth = depth_of_capacity(feature.shape[1])
    for lev in range(depth - 1, -1, -1):
        pos = np.arange(2**lev - 1, 2 ** (lev + 1) - 1)
        internal = (feature[:, pos] >= 0)[..., None]
        children = totals[:, 2 * pos + 1] + totals[:, 2 * pos + 2]
        totals[:, pos] += np.where(internal, children, 0)
    return totals


def _levels(size):
    """``(positions, parents)`` of each level below the root, top-down."""
    for lev in range(1, depth_of_capacity(size) + 1):
        pos = np.arange(2**lev - 1, 2 ** (lev + 1) - 1)
        yield pos, (pos - 1) // 2


def _per_row(weights, shape):
    """``weights`` (one per row) spread over a ``(P, n)`` stack of trees, flattened."""
    return None if weights is None else np.broadcast_to(weights, shape).ravel()


def weighted_var(y, weights=None):
    """Variance of ``y`` (weighted: a row of weight ``k`` counts ``k`` times)."""
    if weights is None:
        return float(np.var(y))
    mean = np.sum(weights * y) / np.sum(weights)
    return float(np.sum(weights * (y - mean) ** 2) / np.sum(weights))


def class_values(feature, counts, prior):
    """Smoothed class frequencies and row counts of every node from the rows ending at leaves.

    ``counts`` is ``(P, size, K)`` (rows ending at each position, by class; weight
    totals when rows are weighted). A node's distribution is ``(counts + s * parent) /
    (n + s)`` with ``s = SMOOTHING``, starting from the class prior at the root, so an
    empty leaf predicts like its parent. The returned counts are integers when
    ``counts`` is, floats (weight totals) otherwise.
    """
    size = feature.shape[1]
    counts = _subtree_totals(np.array(counts, dtype=np.float64), feature)
    n = counts.sum(axis=2)
    value = np.empty_like(counts)
    value[:, 0] = (counts[:, 0] + SMOOTHING * prior) / (n[:, 0, None] + SMOOTHING)
    for pos, parent in _levels(size):
        value[:, pos] = (counts[:, pos] + SMOOTHING * value[:, parent]) / (
            n[:, pos, None] + SMOOTHING
        )
    integral = np.issubdtype(np.asarray(counts).dtype, np.integer)
    return value, n.astype(np.int64) if integral else n


def refit_classification(feature, leaves, y, n_classes, sample_weight=None):
    """Smoothed class frequencies of every node, and row counts: ``(P, size, K)``, ``(P, size)``.

    With ``sample_weight`` the frequencies are weighted and the counts are weight totals.
    """
    P, size = feature.shape
    flat = ((leaves + (np.arange(P) * size)[:, None]) * n_classes + y[None, :]).ravel()
    counts = np.bincount(
        flat, weights=_per_row(sample_weight, leaves.shape), minlength=P * size * n_classes
    ).reshape(P, size, n_classes)
    if sample_weight is None:
        prior = np.bincount(y, minlength=n_classes) / max(len(y), 1)
    else:
        prior = np.bincount(y, weights=sample_weight, minlength=n_classes)
        prior = prior / max(float(np.sum(sample_weight)), np.finfo(np.float64).tiny)
    return class_values(feature, counts, prior)


def regression_values(feature, sums, counts, y_mean):
    """Mean target of every node (an empty node takes its parent's) and row counts.

    ``sums`` and ``counts`` may be weighted (weight totals): the means are then weighted.
    """
    size = feature.shape[1]
    counts_in = counts
    sums = _subtree_totals(np.array(sums, dtype=np.float64)[..., None], feature)[..., 0]
    counts = _subtree_totals(np.array(counts, dtype=np.float64)[..., None], feature)[..., 0]
    value = np.empty_like(sums)
    # Weight totals can be below 1: divide by the total itself wherever it is positive.
    safe = np.where(counts > 0, counts, 1.0)
    value[:, 0] = np.where(counts[:, 0] > 0, sums[:, 0] / safe[:, 0], y_mean)
    for pos, parent in _levels(size):
        value[:, pos] = np.where(counts[:, pos] > 0, sums[:, pos] / safe[:, pos], value[:, parent])
    integral = np.issubdtype(np.asarray(counts_in).dtype, np.integer)
    return value[..., None], counts.astype(np.int64) if integral else counts


def refit_regression(feature, leaves, y, sample_weight=None):
    """Mean target of every node (an empty node takes its parent's), and row counts.

    With ``sample_weight`` the means are weighted and the counts are weight totals.
    """
    size = feature.shape[1]
    if sample_weight is None:
        sums = node_counts(leaves, size, weights=y)
        counts = node_counts(leaves, size)
        return regression_values(feature, sums, counts, y.mean())
    sums = node_counts(leaves, size, weights=sample_weight * y)
    counts = node_counts(leaves, size, weights=sample_weight)
    y_mean = np.sum(sample_weight * y) / np.sum(sample_weight)
    return regression_values(feature, sums, counts, y_mean)


def route_around(feature, threshold, missing, position, X, *, xp=None):
    """Leaves of every row with node ``position`` sending all rows left, then right.

    Returns ``(left, right, through)``: rows with ``left != right`` are those
    reaching the node. Routing does not depend on the node's split, so one call
    serves every candidate split there. :func:`route_around_many` does several
    trees in one pass.
    """
    return route_around_many([(feature, threshold, missing, position)], X, xp=xp)[0]


def route_around_many(items, X, *, xp=None):
    """Run :func:`route_around` for a list of ``(feature, threshold, missing, position)``.

    All the items are routed in one pass.
    """
    if not items:
        return []
    F = np.stack([f for f, _, _, _ in items for _ in (0, 1)])
    T = np.stack([t for _, t, _, _ in items for _ in (0, 1)])
    M = np.stack([m for _, _, m, _ in items for _ in (0, 1)])
    for k, (*_, position) in enumerate(items):
        T[2 * k, position], T[2 * k + 1, position] = np.inf, -np.inf
        M[2 * k, position], M[2 * k + 1, position] = True, False
    leaves = apply_population(F, T, X, missing=M, xp=xp)
    return [
        (leaves[2 * k], leaves[2 * k + 1], leaves[2 * k] != leaves[2 * k + 1])
        for k in range(len(items))
    ]


def split_scores(
    feature, position, route, bins, n_cuts, y, task, *, n_classes=None, sample_weight=None
):
    """Training fitness of the tree for each cut of each candidate column at ``position``.

    ``route`` comes from :func:`route_around`. ``bins`` is a list with one array per
    candidate column: ``bins[j][r]`` is the number of that column's cuts below row
    ``r``'s value, so row ``r`` goes left at cut ``k`` exactly when ``bins[j][r] <= k``;
    ``n_cuts[j]`` is that column's number of cuts. A row with a missing value has bin
    0 (left at every cut) or ``n_cuts[j]`` (right at every cut), so one candidate per
    side scores where missing values go. Cumulative sums over the bins give every
    cut's leaf counts at once, and fitness follows from the counts (weighted by
    ``sample_weight`` when given, as :func:`fitness` weighs them).

    Returns an array ``(len(bins), max(n_cuts))``, ``-inf`` past a column's last cut.
    """
    left, right, through = route
    size = feature.shape[0]
    J, K = len(bins), max(n_cuts)
    left_t, right_t = left[through], right[through]
    group = np.concatenate([j * (K + 1) + b[through] for j, b in enumerate(bins)])
    left_t, right_t = np.tile(left_t, J), np.tile(right_t, J)
    valid = np.arange(K)[None, :] < np.asarray(n_cuts)[:, None]
    F = np.repeat(feature[None], J * K, axis=0)
    w = sample_weight
    w_t = None if w is None else np.tile(w[through], J)
    if task == "classification":
        C = n_classes
        y_t = np.tile(y[through], J)
        base = np.bincount(right * C + y, weights=w, minlength=size * C)
        base = base.reshape(size, C).astype(np.float64)
        total = J * (K + 1) * size * C
        moved = np.bincount((group * size + left_t) * C + y_t, weights=w_t, minlength=total)
        back = np.bincount((group * size + right_t) * C + y_t, weights=w_t, minlength=total)
        delta = (moved - back).reshape(J, K + 1, size, C)
        counts = (base + np.cumsum(delta, axis=1)[:, :K]).reshape(J * K, size, C)
        per_class = np.bincount(y, weights=w, minlength=C)
        prior = per_class / (len(y) if w is None else np.sum(w))
        value, _ = class_values(F, counts, prior)
        pred = np.argmax(value, axis=2)  # (J*K, size)
        hits = np.take_along_axis(counts, pred[..., None], axis=2)[..., 0]
        by_class = ((pred[..., None] == np.arange(C)) * hits[..., None]).sum(axis=1)
        present = per_class > 0
        scores = (by_class[:, present] / per_class[present]).mean(axis=1)
        return np.where(valid, scores.reshape(J, K), -np.inf)
    stats = []
    length = J * (K + 1) * size
    unit = np.ones_like(y) if w is None else w
    for v in (unit, unit * y, unit * y * y):
        v_t = np.tile(v[through], J)
        base = np.bincount(right, weights=v, minlength=size)
        moved = np.bincount(group * size + left_t, weights=v_t, minlength=length)
        back = np.bincount(group * size + right_t, weights=v_t, minlength=length)
        cum = np.cumsum((moved - back).reshape(J, K + 1, size), axis=1)[:, :K]
        stats.append(base + cum)
    n, s1, s2 = stats
    # An empty leaf (no weight) adds no error; its mean is its parent's.
    sse = np.where(n > 0, s2 - s1 * s1 / np.where(n > 0, n, 1), 0.0).sum(axis=2)
    var = weighted_var(y, w)
    total = len(y) if w is None else float(np.sum(w))
    scores = 1.0 - sse / (total * (var if var > 0 else 1.0))
    return np.where(valid, scores, -np.inf)


def missing_bins(bins, missing_rows, n_cuts):
    """``bins`` of one column with its missing rows sent left (0), then right (``n_cuts``)."""
    return np.where(missing_rows, 0, bins), np.where(missing_rows, n_cuts, bins)


def tune_node(feature, threshold, missing, position, cuts, X, y, task, *, n_classes=None,
              xp=None, sample_weight=None):
    """Return the training fitness of a tree with node ``position`` cut at each of ``cuts``.

    Missing values sent left, then right: ``(2, len(cuts))``.
    """
    route = route_around(feature, threshold, missing, position, X, xp=xp)
    column = to_numpy(X)[:, feature[position]]
    bins = np.searchsorted(cuts, column, side="left")
    sides = missing_bins(bins, np.isnan(column), len(cuts))
    return split_scores(
        feature, position, route, list(sides), [len(cuts)] * 2, y, task, n_classes=n_classes,
        sample_weight=sample_weight,
    )


def predictions(value, leaves, task):
    """Per tree and row: predicted class index (classification) or value: (P, n)."""
    P, size = value.shape[:2]
    flat = (leaves + (np.arange(P) * size)[:, None]).ravel()
    if task == "classification":
        node_class = np.argmax(value, axis=2).ravel()
        return node_class[flat].reshape(leaves.shape)
    return value[..., 0].ravel()[flat].reshape(leaves.shape)


def fitness(pred, y, task, *, n_classes=None, y_var=None, sample_weight=None):
    """Balanced accuracy (classification) or R^2 = 1 - MSE / var (regression), per tree: (P,).

    R^2 is LLEGO's fitness, the MSE on the standardised target, turned so higher is better.
    With ``sample_weight``, each class's recall is the weight of its correctly predicted
    rows over its total weight (scikit-learn's weighted ``balanced_accuracy_score``), and
    the MSE is the weighted mean squared error (``y_var`` stays the caller's).
    """
    P, n = pred.shape
    if n == 0:
        return np.full(P, np.nan)
    if task == "classification":
        correct = (pred == y[None, :]).astype(np.float64)
        if sample_weight is not None:
            correct = correct * sample_weight[None, :]
        flat = ((np.arange(P) * n_classes)[:, None] + y[None, :]).ravel()
        hits = np.bincount(flat, weights=correct.ravel(), minlength=P * n_classes)
        per_class = np.bincount(y, weights=sample_weight, minlength=n_classes)
        present = per_class > 0
        recall = hits.reshape(P, n_classes)[:, present] / per_class[present]
        return recall.mean(axis=1)
    if sample_weight is None:
        mse = ((pred - y[None, :]) ** 2).mean(axis=1)
    else:
        mse = ((pred - y[None, :]) ** 2 * sample_weight[None, :]).sum(axis=1)
        mse = mse / np.sum(sample_weight)
    return 1.0 - mse / (y_var if y_var and y_var > 0 else 1.0)


class Evaluator:
    """Evaluate populations on fixed training (and validation) rows.

    Holds the data once; ``evaluate(feature, threshold, missing)`` refits every
    tree's leaves on the training rows and returns its values, train and
    validation fitness and training predictions. ``w_train`` and ``w_val``
    (None: one per row) weigh the rows in the refits and the fitness.
    """

    def __init__(self, X_train, y_train, X_val, y_val, task, n_classes=None, xp=None, *,
                 w_train=None, w_val=None):
        self.X_train, self.y_train = X_train, y_train
        self.X_val, self.y_val = X_val, y_val
        self.w_train, self.w_val = w_train, w_val
        self.task = task
        self.n_classes = n_classes
        self.xp = xp
        self.y_var = weighted_var(y_train, w_train) if task == "regression" else None
        # On another backend, the data go to the device once.
        if xp is not None and namespace_name(xp) != "numpy":
            self._X_train_dev = asarray(X_train, xp=xp, dtype="float64")
            self._X_val_dev = None if X_val is None else asarray(X_val, xp=xp, dtype="float64")
        else:
            self._X_train_dev, self._X_val_dev = X_train, X_val

    def refit(self, feature, leaves):
        if self.task == "classification":
            return refit_classification(
                feature, leaves, self.y_train, self.n_classes, self.w_train
            )
        return refit_regression(feature, leaves, self.y_train, self.w_train)

    def leaves(self, feature, threshold, missing):
        """Leaf of every training row in every tree: (P, n_train)."""
        return apply_population(
            feature, threshold, self._X_train_dev, missing=missing, xp=self.xp
        )

    def evaluate(self, feature, threshold, missing):
        leaves = self.leaves(feature, threshold, missing)
        value, counts = self.refit(feature, leaves)
        pred = predictions(value, leaves, self.task)
        train = fitness(
            pred, self.y_train, self.task, n_classes=self.n_classes, y_var=self.y_var,
            sample_weight=self.w_train,
        )
        if self.X_val is not None and len(self.y_val):
            val_leaves = apply_population(
                feature, threshold, self._X_val_dev, missing=missing, xp=self.xp
            )
            val_pred = predictions(value, val_leaves, self.task)
            val = fitness(
                val_pred, self.y_val, self.task, n_classes=self.n_classes, y_var=self.y_var,
                sample_weight=self.w_val,
            )
        else:
            val = np.full(feature.shape[0], np.nan)
        return {"value": value, "counts": counts, "train": train, "val": val, "pred": pred}
