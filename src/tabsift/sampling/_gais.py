"""GraphAttentionSelector: instance selection scored by a graph attention network (GAIS)."""

import math
import numbers

import numpy as np
from sklearn.utils import check_random_state

from tabsift.sampling._coreset_base import CoresetSampler
from tabsift.sampling._coreset_budgets import largest_remainder
from tabsift.sampling._coreset_embedding import standardise, weighted_moments
from tabsift.sampling._coreset_weights import cell_weights
from tabsift.utils import VERBOSE_CONSTRAINT, Interval, StrOptions, progress


def _knn_edges(Z, rows, n_neighbors):
    """Edges ``(src, dst)`` from each row of ``rows`` to its nearest neighbours among ``rows``."""
    from tabsift.backend import namespace_by_name, sq_distances

    s = len(rows)
    if s < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    kk = min(n_neighbors, s - 1)
    # Not sklearn's NearestNeighbors: on 20,000 x 20 float32 rows (groups of <= 512) it
    # builds the same graph in about the same time (0.90 s here vs 1.03 s minibatch,
    # 1.02 s vs 0.97 s hashing, one thread), but on tied distances (duplicate rows,
    # integer-coded columns) it keeps other neighbours (7,000 to 63,000 of 45,000 edges
    # differ on 5,000 rows), which would change the selections.
    # One small group at a time, in NumPy whatever backend is configured (np.fill_diagonal
    # and argpartition follow).
    D = sq_distances(Z[rows], Z[rows], xp=namespace_by_name("numpy"))
    np.fill_diagonal(D, np.inf)
    nbr = np.argpartition(D, kk - 1, axis=1)[:, :kk]
    dst = np.repeat(rows, kk)
    src = rows[nbr.ravel()]
    return src, dst


def minibatch_groups(Z, y, batch_size, rng):
    """Stratified, distance-based mini-batches.

    Each class's rows are ordered along a random direction and cut into the
    same number of contiguous slices; batch ``b`` joins slice ``b`` of every
    class, so batches keep the class proportions and hold nearby rows.
    """
    n = len(Z)
    n_batches = max(1, math.ceil(n / batch_size))
    direction = rng.standard_normal(Z.shape[1])
    proj = Z @ direction
    batches = [[] for _ in range(n_batches)]
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        rows = rows[np.argsort(proj[rows], kind="stable")]
        for b, part in enumerate(np.array_split(rows, n_batches)):
            batches[b].append(part)
    return [np.concatenate(b) for b in batches if sum(len(p) for p in b)]


def hashing_groups(Z, n_bits, max_size, rng):
    """Buckets of random-projection (SimHash) codes, large buckets split along a random direction."""
    R = rng.standard_normal((Z.shape[1], n_bits))
    bits = (Z @ R > 0).astype(np.int64)
    codes = bits @ (1 << np.arange(n_bits, dtype=np.int64))
    order = np.argsort(codes, kind="stable")
    cuts = np.flatnonzero(np.diff(codes[order])) + 1
    out = []
    direction = rng.standard_normal(Z.shape[1])
    for bucket in np.split(order, cuts):
        if len(bucket) > max_size:
            bucket = bucket[np.argsort(Z[bucket] @ direction, kind="stable")]
            out.extend(np.array_split(bucket, math.ceil(len(bucket) / max_size)))
        else:
            out.append(bucket)
    return out


def build_graph(Z, y, *, graph, hashing, n_neighbors, batch_size, n_bits, n_levels, n_views, rng):
    """Edge list ``(src, dst)`` (self-loops included, duplicates removed)."""
    n = len(Z)
    groups_list = []
    if graph == "minibatch":
        groups_list = minibatch_groups(Z, y, batch_size, rng)
    else:
        views = n_views if hashing == "multi-view" else 1
        levels = n_levels if hashing == "multi-level" else 1
        for _ in range(views):
            for level in range(levels):
                # Coarser levels (fewer bits) join more rows per bucket.
                bits = max(1, n_bits - 2 * level)
                groups_list.extend(hashing_groups(Z, bits, 2 * batch_size, rng))
    src_parts, dst_parts = [np.arange(n)], [np.arange(n)]
    for rows in groups_list:
        s, d = _knn_edges(Z, rows, n_neighbors)
        src_parts.append(s)
        dst_parts.append(d)
    src = np.concatenate(src_parts)
    dst = np.concatenate(dst_parts)
    key = np.unique(src * n + dst)
    return key // n, key % n


def _gat_modules(n_in, hidden, n_heads, n_classes, generator):
    """Return a two-layer graph attention network written in plain torch (no torch_geometric)."""
    import torch

    class GATLayer(torch.nn.Module):
        def __init__(self, n_in, n_out, heads, concat):
            super().__init__()
            self.heads, self.n_out, self.concat = heads, n_out, concat
            self.weight = torch.nn.Parameter(torch.empty(n_in, heads * n_out))
            self.att_src = torch.nn.Parameter(torch.empty(heads, n_out))
            self.att_dst = torch.nn.Parameter(torch.empty(heads, n_out))
            self.bias = torch.nn.Parameter(torch.zeros(heads * n_out if concat else n_out))
            for p in (self.weight, self.att_src, self.att_dst):
                torch.nn.init.xavier_uniform_(p, generator=generator)

        def forward(self, x, src, dst):
            n = x.shape[0]
            h = (x @ self.weight).view(n, self.heads, self.n_out)
            score = (h * self.att_src).sum(-1)[src] + (h * self.att_dst).sum(-1)[dst]
            score = torch.nn.functional.leaky_relu(score, 0.2)  # (edges, heads)
            # Softmax over each node's incoming edges (scatter max, exp, scatter sum).
            top = torch.full((n, self.heads), -torch.inf, dtype=x.dtype)
            top = top.scatter_reduce(0, dst[:, None].expand_as(score), score, "amax")
            ex = torch.exp(score - top[dst])
            denom = torch.zeros((n, self.heads), dtype=x.dtype).index_add(0, dst, ex)
            alpha = ex / denom[dst]
            out = torch.zeros_like(h).index_add(0, dst, alpha[..., None] * h[src])
            out = out.reshape(n, -1) if self.concat else out.mean(dim=1)
            return out + self.bias, alpha

    class GAT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer1 = GATLayer(n_in, hidden, n_heads, concat=True)
            self.layer2 = GATLayer(hidden * n_heads, n_classes, 1, concat=False)

        def forward(self, x, src, dst):
            h, alpha = self.layer1(x, src, dst)
            logits, _ = self.layer2(torch.nn.functional.elu(h), src, dst)
            return logits, alpha

    return GAT()


def _rank01(v):
    """Ranks scaled to [0, 1] (ties share the average rank)."""
    from scipy.stats import rankdata

    if len(v) < 2:
        return np.zeros(len(v))
    return (rankdata(v) - 1.0) / (len(v) - 1.0)


class GraphAttentionSelector(CoresetSampler):
    """Select rows with a graph attention network trained on a graph of the rows (GAIS).

    Rows become nodes of a graph (over the standardised features, or the
    encoding of a table with text, categories or missing values, see
    :func:`tabsift.table.encode_table`) whose edges join near neighbours inside
    groups of rows (never all pairs): stratified distance-based mini-batches,
    or buckets of random-projection hashing. A two-layer graph attention
    network (written in plain torch) learns to classify the nodes. Each row
    is then ranked within its class by the network's confidence in its label
    (``p(y_i)``, ``keep_by="confidence"``, the default: rows typical of their
    class, which the paper's selection by confidence scores points to), or
    by its uncertainty (``1 - p(y_i)``: rows near the class boundary), by
    the attention its neighbours pay to it (rows that represent their
    neighbourhood), or by the mean of the uncertainty and attention ranks
    (``"combined"``, the default before 2026-11-23; see
    ``benchmarks/RESULTS.md`` for the comparison that changed it).
    With ``spread=True`` (default) each class is cut into as many cells as it
    keeps rows (a k-center partition) and the best-ranked row of each cell is
    kept, so the kept rows also cover the class; with ``spread=False`` the
    best ``1 - reduction`` of each class are kept outright.

    Parameters
    ----------
    reduction : float, default=0.9
        Fraction of the rows removed, in (0, 1); ``1 - reduction`` is kept,
        split across classes in proportion to their sizes (at least one row
        per class).
    graph : {"minibatch", "hashing"}, default="minibatch"
        How neighbourhoods are formed. ``"minibatch"``: each class is ordered
        along a random direction and cut into slices; a batch joins one slice
        of every class, and each row is linked to its ``n_neighbors`` nearest
        rows within its batch. ``"hashing"``: rows sharing a SimHash code
        (signs of ``n_bits`` random projections) form a bucket, linked by
        nearest neighbours inside it.
    hashing : {"single", "multi-level", "multi-view"}, default="single"
        With ``graph="hashing"``: one hash table; ``n_levels`` tables with
        ``n_bits, n_bits - 2, ...`` bits (coarse to fine); or ``n_views``
        independent tables. Edges of all tables are joined.
    n_neighbors : int, default=8
        Neighbours per row within each batch or bucket.
    batch_size : int, default=256
        Rows per mini-batch (buckets are split above twice this size).
    n_bits : int, default=6
        Bits of the SimHash code.
    n_levels : int, default=3
        Tables for ``hashing="multi-level"``.
    n_views : int, default=3
        Tables for ``hashing="multi-view"``.
    hidden : int, default=16
        Hidden units per attention head.
    n_heads : int, default=2
        Attention heads of the first layer.
    epochs : int, default=100
        Full-graph training epochs (Adam).
    learning_rate : float, default=0.01
        Adam's learning rate.
    keep_by : {"confidence", "uncertainty", "attention", "combined"}, default="confidence"
        Which score ranks the rows (see above).
    spread : bool, default=True
        Keep the best row of each cell of a k-center partition of the class
        rather than the best rows overall. Without it the kept rows crowd
        the class boundary, which hurt downstream accuracy in the
        benchmarks (``benchmarks/RESULTS.md``).
    random_state : int, RandomState instance or None, default=None
        Seeds the graph, the network's initial weights and the cells.
    verbose : int, bool or "auto", default="auto"
        Progress bar over epochs: ``"auto"`` shows it once the fit has run a couple of
        seconds in a notebook or terminal, ``0`` never, ``1`` at once.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected,)
        Kept rows of ``X`` (by class, best score first).
    sample_weight_ : ndarray of shape (n_selected,)
        Rows each kept row stands for (with ``sample_weight``: their summed
        weight): the rows of its class nearer to it than to any other kept
        row of the class. Sums to the number of rows (the total weight).
    scores_ : ndarray of shape (n_rows,)
        The ranking score of every row (NaN for rows of weight 0).
    confidence_ : ndarray of shape (n_rows,)
        The network's probability of each row's own label.
    attention_ : ndarray of shape (n_rows,)
        Attention each row receives from its neighbours (first layer, heads
        averaged, self-loops excluded).
    n_edges_ : int
        Edges of the graph, self-loops included.
    loss_curve_ : list of float
        Training loss per epoch.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    KCenterSelector : Coverage-based selection, no model.

    Notes
    -----
    The paper publishes no code; the scoring rule here (uncertainty plus
    received attention, ranked within each class) is tabsift's reading of
    "attention/confidence scores decide what is kept". Memory is linear in
    rows: the graph has at most ``n (n_neighbors + 1)`` edges per table.

    Sample weights (``fit_resample(X, y, sample_weight=w)``): the kept
    budget splits over classes by class mass, the network's training loss is
    the weighted mean cross-entropy, the standardisation is weighted, and
    rows of weight 0 are left out of the graph (as if dropped). The graph
    links rows, not copies (a repeated row would be its own neighbour), so a
    weighted fit matches a fit on repeated rows in budgets and weight totals
    only.

    References
    ----------
    .. [1] "GAIS: A Novel Approach to Instance Selection with Graph Attention
       Networks", AI Open, 2025, arXiv:2502.20293.

    Examples
    --------
    >>> from tabsift.datasets import make_rare_region
    >>> from tabsift.sampling import GraphAttentionSelector
    >>> data = make_rare_region(n_samples=500, random_state=0)
    >>> selector = GraphAttentionSelector(reduction=0.9, epochs=30, random_state=0)
    >>> X_small, y_small = selector.fit_resample(data.data, data.target)
    >>> X_small.shape
    (50, 6)
    """

    _needs_classes = True
    _parameter_constraints = {
        "reduction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "graph": [StrOptions({"minibatch", "hashing"})],
        "hashing": [StrOptions({"single", "multi-level", "multi-view"})],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_bits": [Interval(numbers.Integral, 1, 30, closed="both")],
        "n_levels": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_views": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_heads": [Interval(numbers.Integral, 1, None, closed="left")],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "keep_by": [StrOptions({"combined", "uncertainty", "confidence", "attention"})],
        "spread": ["boolean"],
        "random_state": ["random_state"],
        "verbose": VERBOSE_CONSTRAINT,
    }

    def __init__(
        self,
        reduction=0.9,
        *,
        graph="minibatch",
        hashing="single",
        n_neighbors=8,
        batch_size=256,
        n_bits=6,
        n_levels=3,
        n_views=3,
        hidden=16,
        n_heads=2,
        epochs=100,
        learning_rate=0.01,
        keep_by="confidence",
        spread=True,
        random_state=None,
        verbose="auto",
    ):
        self.reduction = reduction
        self.graph = graph
        self.hashing = hashing
        self.n_neighbors = n_neighbors
        self.batch_size = batch_size
        self.n_bits = n_bits
        self.n_levels = n_levels
        self.n_views = n_views
        self.hidden = hidden
        self.n_heads = n_heads
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.keep_by = keep_by
        self.spread = spread
        self.random_state = random_state
        self.verbose = verbose

    def _stratify_param(self):
        return "proportional"

    def _select(self, X, y, *, mean=None, scale=None, row_weight=None, sample_weight=None):
        rng = check_random_state(self.random_state)
        n = X.shape[0]
        self.classes_, y_codes = np.unique(y, return_inverse=True)
        keep_total = max(1, int(math.floor((1.0 - self.reduction) * n + 0.5)))
        sizes = np.bincount(y_codes, minlength=len(self.classes_))
        if sample_weight is None:
            budgets = largest_remainder(keep_total, sizes)
        else:
            mass = np.bincount(y_codes, weights=sample_weight, minlength=len(self.classes_))
            budgets = largest_remainder(keep_total, mass, caps=sizes)
            if mean is None:
                mean, scale = weighted_moments(X, sample_weight)

        Z = standardise(X, mean=mean, scale=scale)
        src, dst = build_graph(
            Z, y_codes, graph=self.graph, hashing=self.hashing, n_neighbors=self.n_neighbors,
            batch_size=self.batch_size, n_bits=self.n_bits, n_levels=self.n_levels,
            n_views=self.n_views, rng=rng,
        )
        self.n_edges_ = len(src)
        proba, alpha = self._train(Z, y_codes, src, dst, rng, sample_weight)
        self.confidence_ = proba[np.arange(n), y_codes]
        not_self = src != dst
        self.attention_ = np.bincount(src[not_self], weights=alpha[not_self], minlength=n)

        indices = []
        scores = np.zeros(n)
        for code, k in enumerate(budgets):
            rows = np.flatnonzero(y_codes == code)
            s = self._row_scores(rows)
            scores[rows] = s
            if self.spread and 0 < k < len(rows):
                indices.append(rows[_spread_pick(Z[rows], rows, s, k, rng)])
            else:
                order = np.lexsort((rows, -s))
                indices.append(rows[order[:k]])
        self.scores_ = scores
        indices = np.concatenate(indices)
        return indices, cell_weights(Z, y_codes, indices, sample_weight)

    def _train(self, Z, y_codes, src, dst, rng, sample_weight):
        """Train the attention network on the graph; return class probabilities and attention.

        Sets ``loss_curve_``. Returns ``(proba, alpha)``: each row's class
        probabilities and each edge's attention averaged over heads.
        """
        import torch

        generator = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
        model = _gat_modules(Z.shape[1], self.hidden, self.n_heads, len(self.classes_), generator)
        x = torch.as_tensor(Z, dtype=torch.float32)
        target = torch.as_tensor(y_codes, dtype=torch.int64)
        src_t = torch.as_tensor(src, dtype=torch.int64)
        dst_t = torch.as_tensor(dst, dtype=torch.int64)
        if sample_weight is not None:
            weight_t = torch.as_tensor(sample_weight / sample_weight.sum(), dtype=torch.float32)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.learning_rate, weight_decay=5e-4)
        self.loss_curve_ = []
        for _ in progress(range(self.epochs), verbose=self.verbose, desc="GAIS", unit="epoch"):
            optimizer.zero_grad()
            logits, _ = model(x, src_t, dst_t)
            if sample_weight is None:
                loss = torch.nn.functional.cross_entropy(logits, target)
            else:
                per_row = torch.nn.functional.cross_entropy(logits, target, reduction="none")
                loss = (per_row * weight_t).sum()
            loss.backward()
            optimizer.step()
            self.loss_curve_.append(float(loss.detach()))
        with torch.no_grad():
            logits, alpha = model(x, src_t, dst_t)
            proba = torch.softmax(logits, dim=1).numpy().astype(np.float64)
            alpha = alpha.mean(dim=1).numpy().astype(np.float64)
        return proba, alpha

    def _row_scores(self, rows):
        """Return the ``keep_by`` score of rows of one class (higher is kept first), in [0, 1]."""
        uncertainty = _rank01(1.0 - self.confidence_[rows])
        attention = _rank01(self.attention_[rows])
        if self.keep_by == "uncertainty":
            return uncertainty
        if self.keep_by == "confidence":
            return 1.0 - uncertainty
        if self.keep_by == "attention":
            return attention
        return 0.5 * (uncertainty + attention)

    def _rows_dropped(self, alive, n_rows):
        # Rows of weight 0 were not in the graph: no score.
        for name in ("scores_", "confidence_", "attention_"):
            full = np.full(n_rows, np.nan)
            full[alive] = getattr(self, name)
            setattr(self, name, full)


def _spread_pick(Zc, rows, s, k, rng):
    """Return ``k`` positions in one class: the best-scoring row of each k-center cell.

    The cells partition the class (``Zc``, its rows of ``Z``), so the kept
    rows cover it; when duplicate rows leave cells empty, the best of the
    other rows fill in. Ties go to the earlier row.
    """
    from tabsift.sampling._kcenter import greedy_k_center

    _, _, cell = greedy_k_center(Zc, k, first=rng.randint(len(rows)))
    order = np.lexsort((rows, -s, cell))
    first = np.r_[True, cell[order][1:] != cell[order][:-1]]
    chosen = order[first]
    if len(chosen) < k:
        rest = np.setdiff1d(np.arange(len(rows)), chosen)
        rest = rest[np.lexsort((rows[rest], -s[rest]))][: k - len(chosen)]
        chosen = np.concatenate([chosen, rest])
    return chosen
