"""The LLM-free genetic operators, and the random-forest initial population.

Each operator takes and returns ``(feature, threshold, missing)`` arrays of one
tree (see :mod:`tabsift.tree._positions`; ``missing`` is True where missing values go
to the ``<=`` child); leaves are never mutated because they are refit on the
data after every operator. Thresholds are drawn from a fixed grid of candidate
cut points per column (quantile midpoints of the values present), so mutations
move between cuts that change which rows go where.
"""

import numpy as np

from tabsift.tree._positions import canonical, level, n_positions, reachable

# Candidate cut points per column (fewer when a column has fewer distinct values).
N_CUTS = 32
# Mutation kinds and their probabilities: change a split's feature, move its threshold,
# grow a leaf into a split, prune a split into a leaf, and pick the best threshold for
# one node among all its column's cut points (a vectorised local search), or regrow the
# subtree under a node with CART on the rows reaching it (random columns per split).
# When some columns have missing values, "missing" sends a split's missing values to
# its other side; its weight comes last, so data without missing values draws exactly
# as before.
MUTATIONS = ("feature", "threshold", "grow", "prune", "tune", "regrow", "missing")
MUTATION_WEIGHTS = np.array([0.2, 0.2, 0.15, 0.1, 0.15, 0.2])
MISSING_WEIGHT = 0.1
# Columns a "tune" mutation tries at its node when it may change the column.
TUNE_COLUMNS = 8


def cut_points(X, n_cuts=N_CUTS):
    """Return per column the sorted candidate thresholds.

    They are midpoints between distinct quantiles of the values present
    (missing values left out; a column without values has no cuts).
    """
    cuts = []
    for column in X.T:
        column = column[~np.isnan(column)]
        values = np.unique(column)
        if values.size > n_cuts + 1:
            values = np.unique(np.quantile(column, np.linspace(0, 1, n_cuts + 1)))
        cuts.append((values[:-1] + values[1:]) / 2 if values.size > 1 else values.copy())
    return cuts


def _internal(feature):
    return np.flatnonzero(reachable(feature) & (feature >= 0))


def _random_split(rng, cuts, usable, gaps):
    """Return a random column and cut; a random missing side where the column has missing values."""
    j = int(rng.choice(usable))
    t = float(cuts[j][rng.randint(len(cuts[j]))])
    return j, t, bool(rng.rand() < 0.5) if gaps[j] else True


def copy_subtree(src, src_pos, dst, dst_pos):
    """Copy the subtree of tree ``src`` at ``src_pos`` to ``dst_pos`` of tree ``dst`` (in place).

    Both trees are ``(feature, threshold, missing)``; nodes that would fall
    below the last level become leaves (the subtree is truncated to fit).
    """
    src_f, src_t, src_m = src
    dst_f, dst_t, dst_m = dst
    size = dst_f.shape[0]
    stack = [(src_pos, dst_pos)]
    while stack:
        s, d = stack.pop()
        if src_f[s] >= 0 and 2 * d + 2 < size and 2 * s + 2 < src_f.shape[0]:
            dst_f[d], dst_t[d], dst_m[d] = src_f[s], src_t[s], src_m[s]
            stack.append((2 * s + 1, 2 * d + 1))
            stack.append((2 * s + 2, 2 * d + 2))
        else:
            dst_f[d], dst_t[d], dst_m[d] = -1, 0.0, True


def _copy(tree):
    return tuple(a.copy() for a in tree)


def lift_empty_split(tree, counts):
    """Replace the first split with a child that no row reaches by its other child.

    Returns ``(feature, threshold, missing, changed)``; the predictions on the
    counted rows do not change. Call again with fresh counts until ``changed``
    is False.
    """
    feature = tree[0]
    for i in np.flatnonzero(reachable(feature) & (feature >= 0)):
        left, right = 2 * i + 1, 2 * i + 2
        if counts[i] > 0 and (counts[left] == 0) != (counts[right] == 0):
            keep = right if counts[left] == 0 else left
            out = _copy(tree)
            copy_subtree(tree, keep, out, i)
            return (*canonical(*out), True)
    return (*tree, False)


def subtree_crossover(a, b, rng):
    """Replace a random node of tree ``a`` by a random subtree of ``b`` (truncated to fit)."""
    out = _copy(a)
    fa, fb = out[0], b[0]
    nodes_a = np.flatnonzero(reachable(fa))
    nodes_b = np.flatnonzero(reachable(fb))
    # Replacing a's root would just copy b: prefer a proper node when there is one.
    if nodes_a.size > 1:
        nodes_a = nodes_a[1:]
    i = int(rng.choice(nodes_a))
    internal_b = _internal(fb)
    j = int(rng.choice(internal_b if internal_b.size else nodes_b))
    copy_subtree(b, j, out, i)
    return canonical(*out)


def mutation_weights(any_gaps):
    """Probabilities of :data:`MUTATIONS`; "missing" only when some column has gaps."""
    if not any_gaps:
        return np.append(MUTATION_WEIGHTS, 0.0)
    weights = np.append(MUTATION_WEIGHTS, MISSING_WEIGHT)
    return weights / weights.sum()


def mutate(tree, rng, cuts, usable, gaps=None, *, kind=None):
    """Apply one random mutation; returns ``(feature, threshold, missing, kind)``.

    ``gaps[j]`` says whether column ``j`` has missing values in the training
    rows (None: no column has). ``kind="tune"`` only marks the node to tune,
    as ``("tune", position, columns)``: the caller puts at that node the best
    split over the cut points of ``columns`` (its own column, or half the
    time up to ``TUNE_COLUMNS`` random ones), and the best side for missing
    values.
    """
    f, t, m = _copy(tree)
    if gaps is None:
        gaps = np.zeros(len(cuts), dtype=bool)
    max_depth = level(f.shape[0] - 1)
    if kind is None:
        kind = MUTATIONS[rng.choice(len(MUTATIONS), p=mutation_weights(bool(gaps.any())))]
    internal = _internal(f)
    alive = reachable(f)
    growable = np.flatnonzero(alive & (f < 0))
    growable = growable[[level(p) < max_depth for p in growable]] if growable.size else growable
    if kind == "regrow":
        # The caller grows the subtree at the returned node again, greedily.
        nodes = np.flatnonzero(alive)
        nodes = nodes[[level(p) < max_depth for p in nodes]]
        i = int(rng.choice(nodes))
        tree = (f, t, m)
        copy_subtree(tree, f.shape[0] - 1, tree, i)  # the last position is always a leaf
        return (*canonical(f, t, m), ("regrow", i))
    if kind == "missing":
        flippable = internal[gaps[f[internal]]] if internal.size else internal
        if flippable.size:
            i = int(rng.choice(flippable))
            m[i] = not m[i]
            return (*canonical(f, t, m), kind)
        kind = "grow"
    if kind in ("feature", "threshold", "prune", "tune") and internal.size == 0:
        kind = "grow"
    if kind == "grow" and growable.size == 0:
        kind = "threshold" if internal.size else "grow"
    if kind == "grow":
        if growable.size == 0:
            return (*canonical(f, t, m), "none")
        i = int(rng.choice(growable))
        f[i], t[i], m[i] = _random_split(rng, cuts, usable, gaps)
    elif kind == "prune":
        i = int(rng.choice(internal))
        f[i], t[i], m[i] = -1, 0.0, True
    elif kind == "feature":
        i = int(rng.choice(internal))
        f[i], t[i], m[i] = _random_split(rng, cuts, usable, gaps)
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
        return (*canonical(f, t, m), ("tune", i, columns))
    return (*canonical(f, t, m), kind)


def tune_variants(feature, threshold, missing, position, cuts):
    """Return copies of one tree with node ``position`` at each cut point of its column.

    First with missing values sent left, then the same sent right: ``(2 k, size)`` arrays.
    """
    grid = cuts[feature[position]]
    F = np.repeat(feature[None], 2 * len(grid), axis=0)
    T = np.repeat(threshold[None], 2 * len(grid), axis=0)
    M = np.repeat(missing[None], 2 * len(grid), axis=0)
    T[:, position] = np.tile(grid, 2)
    M[:, position] = np.repeat([True, False], len(grid))
    return F, T, M


def graft(tree, position, inner, x_max=None):
    """Write the sklearn tree structure ``inner`` (a ``tree_``) at ``position`` of ``tree``.

    In place; levels that do not fit are cut.

    scikit-learn splits "value present / missing" with an infinite threshold;
    it becomes the column's largest value ``x_max[j]``, which sends the same
    training rows the same way and stays printable.
    """
    feature, threshold, missing = tree
    size = feature.shape[0]
    sides = getattr(inner, "missing_go_to_left", None)
    stack = [(0, position)]
    while stack:
        node, pos = stack.pop()
        left = inner.children_left[node]
        if left < 0 or 2 * pos + 2 >= size:
            feature[pos], threshold[pos], missing[pos] = -1, 0.0, True
            continue
        j, t = inner.feature[node], inner.threshold[node]
        if not np.isfinite(t) and x_max is not None:
            t = x_max[j]
        feature[pos], threshold[pos] = j, t
        missing[pos] = True if sides is None else bool(sides[node])
        stack.append((left, 2 * pos + 1))
        stack.append((inner.children_right[node], 2 * pos + 2))
    return canonical(feature, threshold, missing)


def forest_population(X, y, task, *, n_trees, max_depth, random_state, sample_weight=None):
    """Return the trees of a random forest fit on half of the rows (LLEGO's start).

    As ``(P, size)`` arrays ``(feature, threshold, missing)``. scikit-learn's
    forests learn where missing values go.

    ``sample_weight`` goes to the forest: each tree's bootstrap is drawn over rows and
    each drawn row counts with its weight.
    """
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
    forest.fit(X, y, sample_weight=sample_weight)
    size = n_positions(max_depth)
    feature = np.full((n_trees, size), -1, dtype=np.int64)
    threshold = np.zeros((n_trees, size), dtype=np.float64)
    missing = np.ones((n_trees, size), dtype=bool)
    x_max = _column_max(X)
    for p, estimator in enumerate(forest.estimators_):
        graft((feature[p], threshold[p], missing[p]), 0, estimator.tree_, x_max)
    return feature, threshold, missing


def _column_max(X):
    """Largest value present per column (0 for a column without values)."""
    present = ~np.isnan(X)
    return np.where(present.any(axis=0), np.max(np.where(present, X, -np.inf), axis=0), 0.0)
