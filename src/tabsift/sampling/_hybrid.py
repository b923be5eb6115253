"""HybridCoresetSelector: a stratified random core, cleaned of mislabelled rows, plus coverage rows."""

import numbers

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state

from tabsift.sampling._coreset_base import CoresetSampler
from tabsift.sampling._coreset_budgets import N_SAMPLES_CONSTRAINT, STRATIFY_CONSTRAINT, groups
from tabsift.sampling._coreset_embedding import standardise, weighted_moments
from tabsift.sampling._coreset_weights import cell_weights
from tabsift.utils import VERBOSE_CONSTRAINT, Interval, StrOptions


def suspect_rows(Z, y, *, n_neighbors, threshold, sample_weight=None, chunk=4096):
    """Rows whose label their neighbourhood contradicts (a boolean mask over rows).

    For each row, the labels of its ``n_neighbors`` nearest other rows are
    counted (weighted by ``sample_weight``) and each class's share is divided
    by that class's share of all rows, so a rare class is judged against its
    own prior. A row is suspect when its own class's prior-adjusted share is
    below ``threshold`` times the largest of the other classes'. With 20%
    of labels flipped at random, a flipped row deep in the other class scores
    about 0.25; a row on a clean class boundary about 1.
    """
    n = Z.shape[0]
    classes, codes = np.unique(y, return_inverse=True)
    codes = codes.ravel()
    n_classes = len(classes)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if n_classes < 2 or n <= n_neighbors:
        return np.zeros(n, dtype=bool)
    prior = np.bincount(codes, weights=w, minlength=n_classes) / w.sum()
    Zf = np.asarray(Z, dtype=np.float64)
    index = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(Zf)
    suspect = np.zeros(n, dtype=bool)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        near = index.kneighbors(Zf[start:stop], return_distance=False)
        own_row = near == np.arange(start, stop)[:, None]
        # Drop the row itself (or, among exact duplicates, the last neighbour found).
        drop = np.where(own_row.any(axis=1), np.argmax(own_row, axis=1), n_neighbors)
        keep = np.ones_like(near, dtype=bool)
        keep[np.arange(stop - start), drop] = False
        near = near[keep].reshape(stop - start, n_neighbors)
        slot = np.repeat(np.arange(stop - start), n_neighbors) * n_classes + codes[near].ravel()
        votes = np.bincount(slot, weights=w[near].ravel(),
                            minlength=(stop - start) * n_classes).reshape(-1, n_classes)
        votes /= prior[None, :]
        mine = codes[start:stop]
        own = votes[np.arange(stop - start), mine]
        votes[np.arange(stop - start), mine] = -np.inf
        suspect[start:stop] = own < threshold * votes.max(axis=1)
    return suspect


def _farthest_first(Z, chosen, k, rng):
    """``k`` more rows of ``Z``, each the farthest from the rows chosen before it."""
    sq = np.einsum("ij,ij->i", Z, Z)
    min_sq = np.full(Z.shape[0], np.inf)
    for c in chosen:
        min_sq = np.minimum(min_sq, sq + sq[c] - 2.0 * (Z @ Z[c]))
    min_sq[chosen] = -1.0
    picked = []
    current = int(np.argmax(min_sq)) if len(chosen) else int(rng.randint(Z.shape[0]))
    for _ in range(k):
        picked.append(current)
        min_sq = np.minimum(min_sq, sq + sq[current] - 2.0 * (Z @ Z[current]))
        min_sq[current] = -1.0
        min_sq[picked] = -1.0
        current = int(np.argmax(min_sq))
    return np.asarray(picked, dtype=np.int64)


def _medoids(Z, chosen, k, rng, sample_weight):
    """``k`` rows of ``Z`` not in ``chosen``: the rows nearest the centres of a k-means."""
    import warnings

    from sklearn.cluster import KMeans

    free = np.setdiff1d(np.arange(Z.shape[0]), chosen)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if k >= len(free):
        return free
    seed = int(rng.randint(np.iinfo(np.int32).max))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct points than clusters
        km = KMeans(n_clusters=k, n_init=1, max_iter=50, random_state=seed).fit(
            Z[free], sample_weight=None if sample_weight is None else sample_weight[free])
    Zf = Z[free]
    d = (np.einsum("ij,ij->i", Zf, Zf)[:, None] - 2.0 * Zf @ km.cluster_centers_.T
         + np.einsum("ij,ij->i", km.cluster_centers_, km.cluster_centers_)[None, :])
    picked = []
    taken = np.zeros(len(free), dtype=bool)
    for j in np.argsort(-np.bincount(km.labels_, minlength=k), kind="stable"):
        col = np.where(taken, np.inf, d[:, j])
        best = int(np.argmin(col))
        taken[best] = True
        picked.append(best)
    return free[np.asarray(picked, dtype=np.int64)]


class HybridCoresetSelector(CoresetSampler):
    """A stratified random core plus coverage rows, after dropping rows that look mislabelled.

    Per class (with ``stratify``), three steps:

    1. **Clean.** Rows whose label their ``n_neighbors`` nearest rows
       contradict (see ``denoise``) are set aside; the class's own rows are
       judged against its prior, so a rare class keeps its rows.
    2. **Random core.** ``random_fraction`` of the class's budget is drawn
       at random from the remaining rows: an unbiased sample of where the
       data are dense, which is what random rows do well.
    3. **Coverage.** The rest of the budget goes to the rows nearest the
       centres of a k-means of the rows not yet kept (``fill="kmeans"``) or
       to the rows farthest from those kept (``fill="kcenter"``): regions
       the random rows missed (rare regions, small far clusters) get a row,
       and near-duplicates of a kept row are not picked again.

    Parameters
    ----------
    n_samples : int or float, default=0.1
        Rows to select: a count, or a fraction of the rows in (0, 1].
    stratify : {"proportional", "balanced"}, dict or None, default="proportional"
        Per-class budgets (see :class:`KCenterSelector`). None selects over
        all rows and does not clean them (it then accepts regression
        targets, which are only carried along).
    random_fraction : float, default=0.25
        Share of each class's budget drawn at random (rounded down, so a
        class with a budget of 1 to 3 rows gets coverage rows only; 1.0
        gives stratified random rows from the cleaned rows, 0.0 coverage
        rows only).
    fill : {"kmeans", "kcenter"}, default="kmeans"
        How the coverage rows are chosen: the rows nearest the centres of a
        k-means (representative rows of the regions the core left thin), or
        farthest-first traversal from the core (the rows farthest from any
        kept row, outliers included).
    denoise : float, default=0.5
        Threshold for the cleaning step: a row is set aside when its class's
        share among its neighbours, divided by the class's share of all
        rows, is below ``denoise`` times the largest such ratio of another
        class. 0 disables the cleaning. Never sets aside so many rows that
        a class has fewer left than its budget.
    n_neighbors : int, default=10
        Neighbours read by the cleaning step.
    weights : {"cells", "uniform"}, default="cells"
        ``sample_weight_``: ``"uniform"`` gives every kept row of a class
        an equal share of the class's mass; ``"cells"`` the mass of the
        (cleaned) rows nearest to it, rescaled to the class's mass.
    random_state : int, RandomState instance or None, default=None
        Seeds the random core and the k-means.
    verbose : int, bool or "auto", default="auto"
        Progress: accepted for a uniform interface.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected,)
        Selected rows of ``X``: per class, the random core (sorted) then the
        coverage rows.
    sample_weight_ : ndarray of shape (n_selected,)
        Mass each selected row stands for (see ``weights``); sums to the
        rows (the total weight) of the classes selected from.
    from_core_ : ndarray of shape (n_selected,) of bool
        Whether each selected row was drawn for the random core.
    suspect_ : ndarray of shape (n_samples,) of bool
        Rows set aside by the cleaning step (never selected unless a class
        needed them to fill its budget).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    StratifiedRandomSelector : The random baseline.
    KCenterSelector : Coverage rows only (farthest-first traversal).
    OTCoresetSelector : Rows that match a validation distribution.

    Notes
    -----
    Features are standardised (with ``sample_weight``, by the weighted mean
    and deviation); tables with text, categories or missing values are
    encoded first, as for the other coreset selectors. The cleaning step
    computes every row's nearest neighbours (scikit-learn's
    ``NearestNeighbors``, brute force in many dimensions), so its time grows
    up to ``n_samples**2``: about 5 s at 20,000 x 20 on 2 cores, as much as
    the k-means at a 5% budget. On much larger tables pass ``denoise=0`` and
    ``fill="kcenter"`` (linear in rows), or select from a random subset
    first.
    With ``sample_weight``, neighbours' votes and class priors are weighted,
    the random core is drawn with probability proportional to weight, the
    k-means is weighted, and rows of weight 0 are never selected.

    When to use it rather than random rows: ``benchmarks/RESULTS.md``
    ("Coresets vs random rows", issue 19) compares it with stratified random
    rows on 13 tables, 3 budgets and 2 downstream models.

    References
    ----------
    .. [1] D. L. Wilson, "Asymptotic properties of nearest neighbor rules
       using edited data", IEEE Trans. Systems, Man, and Cybernetics 2(3), 1972.
    .. [2] O. Sener, S. Savarese, "Active Learning for Convolutional Neural
       Networks: A Core-Set Approach", ICLR 2018.

    Examples
    --------
    >>> from tabsift.datasets import make_rare_region
    >>> from tabsift.sampling import HybridCoresetSelector
    >>> data = make_rare_region(n_samples=2000, random_state=0)
    >>> selector = HybridCoresetSelector(n_samples=0.05, random_state=0)
    >>> X_small, y_small = selector.fit_resample(data.data, data.target)
    >>> X_small.shape
    (100, 6)
    >>> round(float(selector.sample_weight_.sum()))
    2000
    """

    _parameter_constraints = {
        "n_samples": N_SAMPLES_CONSTRAINT,
        "stratify": STRATIFY_CONSTRAINT,
        "random_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
        "fill": [StrOptions({"kmeans", "kcenter"})],
        "denoise": [Interval(numbers.Real, 0, 1, closed="both")],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "weights": [StrOptions({"cells", "uniform"})],
        "random_state": ["random_state"],
        "verbose": VERBOSE_CONSTRAINT,
    }

    def __init__(
        self,
        n_samples=0.1,
        *,
        stratify="proportional",
        random_fraction=0.25,
        fill="kmeans",
        denoise=0.5,
        n_neighbors=10,
        weights="cells",
        random_state=None,
        verbose="auto",
    ):
        self.n_samples = n_samples
        self.stratify = stratify
        self.random_fraction = random_fraction
        self.fill = fill
        self.denoise = denoise
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.random_state = random_state
        self.verbose = verbose

    def _select(self, X, y, *, mean=None, scale=None, row_weight=None, sample_weight=None):
        rng = check_random_state(self.random_state)
        total, budgets = self._budgets(y, X.shape[0], sample_weight)
        if sample_weight is not None and mean is None:
            mean, scale = weighted_moments(X, sample_weight)
        Z = np.asarray(standardise(X, mean=mean, scale=scale), dtype=np.float64)
        n = Z.shape[0]
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if budgets is not None and self.denoise > 0:
            suspect = suspect_rows(Z, y, n_neighbors=self.n_neighbors, threshold=self.denoise,
                                   sample_weight=sample_weight)
        else:
            suspect = np.zeros(n, dtype=bool)
        indices, weights, core = [], [], []
        for _, rows, budget in groups(y, budgets, n):
            k = total if budget is None else budget
            pool = rows[~suspect[rows]]
            if len(pool) < k:  # too few clean rows: every clean row, then suspects at random
                pool = np.sort(np.concatenate(
                    [pool, rng.choice(rows[suspect[rows]], k - len(pool), replace=False)]))
            n_core = int(np.floor(self.random_fraction * k))
            p = None if sample_weight is None else w[pool] / w[pool].sum()
            first = np.sort(rng.choice(len(pool), size=n_core, replace=False, p=p))
            Zp = Z[pool]
            if self.fill == "kmeans":
                more = _medoids(Zp, first, k - n_core, rng, w[pool])
            else:
                more = _farthest_first(Zp, first, k - n_core, rng)
            kept = np.concatenate([first, more]).astype(np.int64)
            mass = w[rows].sum()
            if self.weights == "cells":
                cell = cell_weights(Zp, None, kept, w[pool])
                weights.append(cell * (mass / cell.sum()))
            else:
                weights.append(np.full(k, mass / k))
            indices.append(pool[kept])
            core.append(np.arange(k) < n_core)
        self.suspect_ = suspect
        self.from_core_ = np.concatenate(core)
        return np.concatenate(indices), np.concatenate(weights)

    def _rows_dropped(self, alive, n_rows):
        suspect = np.zeros(n_rows, dtype=bool)
        suspect[alive] = self.suspect_
        self.suspect_ = suspect
