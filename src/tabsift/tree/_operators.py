"""The LLM-free genetic operators, and the random-forest initial population.

Each operator takes and returns ``(feature, threshold)`` arrays of one tree
(see :mod:`tabsift.tree._tree`); leaves are never mutated because they are
refit on the data after every operator. Thresholds are drawn from a fixed grid
of candidate cut points per column (quantile midpoints), so mutations move
between cuts that change which rows go where.
"""

import numpy as np

from tabsift.tree._tree import canonical, level, n_positions, reachable

# Candidate cut points per column (fewer when a column has fewer distinct values).
N_CUTS = 32
# Mutation kinds and their probabilities: change a split's feature, move its threshold,
# grow a leaf into a split, prune a split into a leaf, and pick the best threshold for
# one node among all its column's cut points (a vectorised local search), or regrow the
# subtree under a node with CART on the rows reaching it (random columns per split).
MUTATIONS = ("feature", "threshold", "grow", "prune", "tune", "regrow")
MUTATION_WEIGHTS = np.array([0.2, 0.2, 0.15, 0.1, 0.15, 0.2])
# Columns a "tune" mutation tries at its node when it may change the column.
TUNE_COLUMNS = 8


def cut_points(X, n_cuts=N_CUTS):
    """Per column, sorted candidate thresholds: midpoints between distinct quantiles."""
    cuts = []
    for column in X.T:
        values = np.unique(column)
        if values.size > n_cuts + 1:
            values = np.unique(np.quantile(column, np.linspace(0, 1, n_cuts + 1)))
        cuts.append((values[:-1] + values[1:]) / 2 if values.size > 1 else values.copy())
    return cuts


def _internal(feature):
    return np.flatnonzero(reachable(feature) & (feature >= 0))


def _random_split(rng, cuts, usable):
    j = int(rng.choice(usable))
    return j, float(cuts[j][rng.randint(len(cuts[j]))])


def copy_subtree(src_f, src_t, src_pos, dst_f, dst_t, dst_pos):
    """Copy the subtree at ``src_pos`` to ``dst_pos``; nodes that would fall below the last
    level become leaves (the subtree is truncated to fit)."""
    size = dst_f.shape[0]
    stack = [(src_pos, dst_pos)]
    while stack:
        s, d = stack.pop()
        if src_f[s] >= 0 and 2 * d + 2 < size and 2 * s + 2 < src_f.shape[0]:
            dst_f[d], dst_t[d] = src_f[s], src_t[s]
            stack.append((2 * s + 1, 2 * d + 1))
            stack.append((2 * s + 2, 2 * d + 2))
        else:
            dst_f[d], dst_t[d] = -1, 0.0


def lift_empty_split(feature, threshold, counts):
    """Replace the first split with a child that no row reaches by its other child.

    Returns ``(feature, threshold, changed)``; the predictions on the counted
    rows do not change. Call again with fresh counts until ``changed`` is False.
    """
    for i in np.flatnonzero(reachable(feature) & (feature >= 0)):
        left, right = 2 * i + 1, 2 * i + 2
        if counts[i] > 0 and (counts[left] == 0) != (counts[right] == 0):
            keep = right if counts[left] == 0 else left
            f, t = feature.copy(), threshold.copy()
            copy_subtree(feature, threshold, keep, f, t, i)
            f, t = canonical(f, t)
            return f, t, True
    return feature, threshold, False


def subtree_crossover(a, b, rng):
    """Replace a random node of tree ``a`` by a random subtree of ``b`` (truncated to fit)."""
    fa, ta = a[0].copy(), a[1].copy()
    fb, tb = b
    nodes_a = np.flatnonzero(reachable(fa))
    nodes_b = np.flatnonzero(reachable(fb))
    # Replacing a's root would just copy b: prefer a proper node when there is one.
    if nodes_a.size > 1:
        nodes_a = nodes_a[1:]
    i = int(rng.choice(nodes_a))
    internal_b = _internal(fb)
    j = int(rng.choice(internal_b if internal_b.size else nodes_b))
    copy_subtree(fb, tb, j, fa, ta, i)
    return canonical(fa, ta)


def mutate(tree, rng, cuts, usable, *, kind=None):
    """Apply one random mutation; returns ``(feature, threshold, kind)``.

    ``kind="tune"`` only marks the node to tune, as ``("tune", position,
    columns)``: the caller puts at that node the best split over the cut points
    of ``columns`` (its own column, or half the time up to ``TUNE_COLUMNS``
    random ones).
    """
    f, t = tree[0].copy(), tree[1].copy()
    max_depth = level(f.shape[0] - 1)
    if kind is None:
        kind = MUTATIONS[rng.choice(len(MUTATIONS), p=MUTATION_WEIGHTS)]
    internal = _internal(f)
    alive = reachable(f)
    growable = np.flatnonzero(alive & (f < 0))
    growable = growable[[level(p) < max_depth for p in growable]] if growable.size else growable
    if kind == "regrow":
        # The caller grows the subtree at the returned node again, greedily.
        nodes = np.flatnonzero(alive)
        nodes = nodes[[level(p) < max_depth for p in nodes]]
        i = int(rng.choice(nodes))
        copy_subtree(f, t, f.shape[0] - 1, f, t, i)  # the last position is always a leaf
        f, t = canonical(f, t)
        return f, t, ("regrow", i)
    if kind in ("feature", "threshold", "prune", "tune") and internal.size == 0:
        kind = "grow"
    if kind == "grow" and growable.size == 0:
        kind = "threshold" if internal.size else "grow"
    if kind == "grow":
        if growable.size == 0:
            return canonical(f, t) + ("none",)
        i = int(rng.choice(growable))
        f[i], t[i] = _random_split(rng, cuts, usable)
    elif kind == "prune":
        i = int(rng.choice(internal))
        f[i], t[i] = -1, 0.0
    elif kind == "feature":
        i = int(rng.choice(internal))
        f[i], t[i] = _random_split(rng, cuts, usable)
    elif kind == "threshold":
        i = int(rng.choice(internal))
        grid = cuts[f[i]]
        k = int(np.searchsorted(grid, t[i]))
        step = int(rng.choice([-3, -2, -1, 1, 2, 3]))
        t[i] = float(grid[int(np.clip(k + step, 0, len(grid) - 1))])
    else:  # tune: the caller searches the cut points (and, half the time, other columns)
        i = int(rng.choice(internal))
        columns = (f[i],)
        if rng.rand() < 0.5:
            k = min(len(usable), TUNE_COLUMNS)
            columns = tuple(int(c) for c in rng.choice(usable, size=k, replace=False))
        f, t = canonical(f, t)
        return f, t, ("tune", i, columns)
    f, t = canonical(f, t)
    return f, t, kind


def tune_variants(feature, threshold, position, cuts):
    """Copies of one tree with node ``position`` at each cut point of its column: (k, size)."""
    grid = cuts[feature[position]]
    F = np.repeat(feature[None], len(grid), axis=0)
    T = np.repeat(threshold[None], len(grid), axis=0)
    T[:, position] = grid
    return F, T


def graft(feature, threshold, position, inner):
    """Write the fitted sklearn tree structure ``inner`` (a ``tree_``) at ``position``, in place;
    levels that do not fit are cut."""
    size = feature.shape[0]
    stack = [(0, position)]
    while stack:
        node, pos = stack.pop()
        left = inner.children_left[node]
        if left < 0 or 2 * pos + 2 >= size:
            feature[pos], threshold[pos] = -1, 0.0
            continue
        feature[pos], threshold[pos] = inner.feature[node], inner.threshold[node]
        stack.append((left, 2 * pos + 1))
        stack.append((inner.children_right[node], 2 * pos + 2))
    return canonical(feature, threshold)


def forest_population(X, y, task, *, n_trees, max_depth, random_state):
    """Trees of a random forest fit on half of the rows, as ``(P, size)`` arrays (LLEGO's start)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    forest_class = RandomForestClassifier if task == "classification" else RandomForestRegressor
    n = X.shape[0]
    forest = forest_class(
        n_estimators=n_trees,
        max_depth=max_depth,
        max_samples=max(1, n // 2) if n >= 2 else None,
        random_state=random_state,
        n_jobs=1,
    )
    forest.fit(X, y)
    size = n_positions(max_depth)
    feature = np.full((n_trees, size), -1, dtype=np.int64)
    threshold = np.zeros((n_trees, size), dtype=np.float64)
    for p, estimator in enumerate(forest.estimators_):
        graft(feature[p], threshold[p], 0, estimator.tree_)
    return feature, threshold
