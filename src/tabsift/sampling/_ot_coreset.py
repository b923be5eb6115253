"""OTCoresetSelector: coresets that match a validation set in optimal transport (GORACS)."""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from tabsift.backend import column_mean_std, namespace_by_name
from tabsift.sampling._coreset_common import (
    N_SAMPLES_CONSTRAINT,
    STRATIFY_CONSTRAINT,
    CoresetSampler,
    as_is,
    label,
    largest_remainder,
    standardise,
    weighted_moments,
)
from tabsift.sampling._ot_transport import _Costs, ot_select
from tabsift.table import check_finite_columns, encode_table, infer_task, is_plain_numeric
from tabsift.utils._progress import VERBOSE_CONSTRAINT
from tabsift.utils._sklearn_compat import Interval, RealNotInt, StrOptions


def gradient_norms(Z, y, kind, *, rng, max_fit_rows=20_000, model="linear", sample_weight=None):
    """Normalised per-row gradient norms of a proxy model's loss, in [0, 1].

    ``model="linear"``: multinomial logistic regression (classification),
    whose gradient of a row's cross-entropy with respect to the weights (bias
    included) is ``(p - onehot(y)) [z, 1]``, of norm
    ``|p - onehot(y)| * |[z, 1]|``; or ridge regression (regression), norm
    ``|residual| * |[z, 1]|``. ``model="mlp"``: a one-hidden-layer MLP
    (64 ReLU units, scikit-learn's ``MLPClassifier``/``MLPRegressor`` on a
    standardised target); the norm is that of the gradient with respect to
    the output layer, the same formulas with the hidden activations ``h`` in
    place of ``z``. The proxy is fit on at most ``max_fit_rows`` random rows.
    Norms are divided by their 99th percentile and clipped to 1, so one
    outlier does not squash the rest. ``sample_weight`` weighs the proxy's
    fit (and the target's standardisation).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    n = Z.shape[0]
    fit_rows = rng.choice(n, size=max_fit_rows, replace=False) if n > max_fit_rows else slice(None)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    if kind == "classification" and len(np.unique(y[fit_rows])) < 2:
        return np.zeros(n)
    fit_weight = None if sample_weight is None else np.asarray(sample_weight)[fit_rows]
    if kind == "regression":
        y = np.asarray(y, dtype=np.float64)
        centre = np.average(y[fit_rows], weights=fit_weight)
        spread = np.sqrt(np.average((y[fit_rows] - centre) ** 2, weights=fit_weight))
        y = (y - centre) / (spread if spread > 0 else 1.0)
    if model == "mlp":
        size = dict(hidden_layer_sizes=(64,), max_iter=200, random_state=seed)
        proxy = MLPClassifier(**size) if kind == "classification" else MLPRegressor(**size)
        with warnings.catch_warnings():
            # A proxy needs a rough fit only; 200 epochs may stop short of convergence.
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            proxy.fit(Z[fit_rows], y[fit_rows], sample_weight=fit_weight)
        inputs = np.maximum(Z @ proxy.coefs_[0] + proxy.intercepts_[0], 0.0)
    else:
        if kind == "classification":
            proxy = LogisticRegression(max_iter=200).fit(
                Z[fit_rows], y[fit_rows], sample_weight=fit_weight)
        else:
            proxy = Ridge(alpha=1.0).fit(Z[fit_rows], y[fit_rows], sample_weight=fit_weight)
        inputs = Z
    row_norm = np.sqrt(1.0 + np.einsum("ij,ij->i", inputs, inputs, dtype=np.float64))
    if kind == "classification":
        proba = proxy.predict_proba(Z)
        onehot = (y[:, None] == proxy.classes_[None, :]).astype(float)
        g = np.linalg.norm(proba - onehot, axis=1) * row_norm
    else:
        g = np.abs(y - proxy.predict(Z)) * row_norm
    top = np.quantile(g, 0.99)
    if not top > 0:
        return np.zeros(n)
    return np.minimum(g / top, 1.0)


class OTCoresetSelector(CoresetSampler):
    """Select rows whose distribution matches a validation set in optimal transport (GORACS).

    The cost of serving validation row ``j`` with candidate row ``i`` is the
    distance between their embeddings minus ``lam`` times the candidate's
    normalised gradient norm under a proxy model:
    ``C[i, j] = |e_i - e_j| / s - lam * g_i`` (``s``: the typical distance,
    so both terms are of order 1). The objective is the optimal-transport
    cost between uniform weights on the selected rows and on the validation
    rows: the subset must look like the validation data, and prefers rows a
    model still learns from.

    The selection is built greedily, then refined by swaps (ITRA in the
    paper): the OT problem is solved with its dual potentials; the selected
    rows with the largest potentials (the most expensive to keep) and the
    outside rows with the smallest c-transform (the cheapest to add) give
    ``n_swap_candidates`` rows each; the most promising pairs are tried, each
    with a full re-solve, and the first that lowers the objective is kept.
    Costs are computed between candidates and validation rows only (never
    rows by rows), in chunks.

    Parameters
    ----------
    n_samples : int or float, default=0.1
        Rows to select: a count, or a fraction of the rows in (0, 1].
    stratify : {"proportional", "balanced"}, dict or None, default=None
        Per-class budgets (the paper's group-level variant): each class's
        rows are matched to that class's validation rows. See
        :class:`KCenterSelector` for the meaning of each value.
    lam : float, default=0.05
        Weight of the gradient-norm term; 0 matches the distribution only.
        Larger values favour rows the proxy model gets wrong: useful when
        hard rows matter, harmful with label noise (on clean generated data
        ``lam >= 0.3`` lowered downstream accuracy well below random rows).
    validation : int, float or tuple of (X_val, y_val), default=1000
        The validation (target) set. An int or a fraction draws that many
        rows of ``X`` (stratified by class when ``stratify`` is set), which
        are then not candidates; at most half the rows and never fewer
        candidates than the budget. A tuple gives the rows directly (in the
        same columns as ``X``; a DataFrame's by name); every row of ``X`` is
        then a candidate.
    embedding : callable or None, default=None
        ``embedding(X) -> array`` of shape (n_rows, n_dims), applied to
        candidates and validation rows alike: float arrays for numeric
        input, the user's own rows (DataFrame rows, say) for a table that
        needs encoding. None uses the features standardised with the
        candidates' mean and deviation, or, for a table with text,
        categories or missing values, its encoding by
        :func:`tabsift.table.encode_table`, computed once for ``X`` and
        given validation rows together.
    proxy : {"auto", "logistic", "linear", "mlp"}, default="auto"
        The proxy model of the gradient term: logistic regression for
        classification targets, ridge regression for continuous ones
        (``"auto"`` decides from ``y`` with :func:`tabsift.table.infer_task`:
        a target of more than 20 distinct numbers, whole or not, is a
        regression target; pass ``"logistic"`` for more class labels stored
        as numbers), or a small MLP (one hidden layer of
        64 ReLU units, either task), whose output-layer gradient norms also
        single out rows that a linear model cannot tell apart, such as
        mislabelled rows inside a non-linear class region. The MLP costs a
        few seconds per 10,000 proxy rows.
    max_swaps : int, default=20
        Most accepted swaps per class (or overall); each costs at least one
        OT solve.
    n_swap_candidates : int, default=30
        Rows shortlisted to leave and to enter at each swap.
    max_trials : int, default=10
        Pairs tried (OT solves) before a swap round gives up.
    solver : {"auto", "exact", "sinkhorn"}, default="auto"
        Exact network simplex (``ot.emd2``) up to 2e7 cost entries, else
        entropic Sinkhorn in the log domain (``"auto"``), or either forced.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation draw, the proxy model's rows and the claim order.
    verbose : int, bool or "auto", default="auto"
        Progress bars: ``"auto"`` shows them once a step has run a couple of seconds
        in a notebook or terminal, ``0`` never, ``1`` at once.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected,)
        Selected rows of ``X`` (grouped by class with ``stratify``).
    sample_weight_ : ndarray of shape (n_selected,)
        Mass the uniform transport gives each selected row, in rows of
        ``X``: the number of rows of its class (or of all rows) divided by
        the budget there (with ``sample_weight``: its class's mass, so the
        weights sum to the total input weight of the classes selected
        from). With ``stratify="balanced"`` these weights restore the class
        proportions.
    objective_ : float
        Final objective: the OT cost, summed over classes weighted by their
        share of the validation rows.
    objective_history_ : list of float
        The objective after the greedy build and after each accepted swap;
        it never increases.
    n_swaps_ : int
        Accepted swaps.
    task_ : str or None
        ``"classification"`` or ``"regression"``: how the proxy model treats
        ``y`` (always classification with ``stratify``); None when ``y`` is
        None (``lam=0`` and no ``stratify``: nothing reads it).
    gradient_norms_ : ndarray of shape (n_candidates,)
        Normalised gradient norm ``g`` of every candidate row.
    validation_indices_ : ndarray or None
        Rows of ``X`` used as validation (None for a given validation set).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    KCenterSelector : Coverage rather than distribution matching.

    Notes
    -----
    The greedy build: every validation row keeps its cheapest candidates
    (``ceil(k / m) + 8`` of them, found in one chunked pass); the validation
    rows then claim, in rounds and in farthest-first order, their cheapest
    unclaimed candidate until ``k`` rows are claimed, so each validation row
    gets about ``k / m`` rows, as the uniform marginals ask. Swaps then draw
    from these shortlists, in two groups of pairs, up to ``max_trials`` re-solves
    a round. First the pairs for which moving the leaving row's transported
    mass, unchanged, to the entering row (a feasible plan) lowers the cost:
    they are sure to improve. Then the pairs the dual does not rule out:
    keeping the other rows' potentials and giving the entering row its
    c-transform ``u_in`` is feasible for the new problem, so its optimum is
    at least ``objective + (u_in - u_out) / k``, and only pairs with
    ``u_in < u_out`` are re-solved, the largest gap first. With ``k >= m``
    (each selected row serves about one validation row, and the claims
    already gave each its cheapest free row) only the second group exists.

    Sample weights (``fit_resample(X, y, sample_weight=w)``) make the data a
    weighted measure: validation rows drawn from ``X`` carry their weight in
    the transport problem (the target marginal is proportional to it, and
    each validation row claims about ``k`` times its share of rows in the
    build), the proxy model and the standardisation are weighted, per-class
    budgets split ``n_samples`` by class mass, and rows of weight 0 are
    neither candidates nor validation rows. The selected rows keep uniform
    mass in the objective, and ``sample_weight_`` gives each an equal share
    of its class's weight. A given validation set ``(X_val, y_val)`` stays
    uniform. Validation rows are drawn over rows (not copies), so a weighted
    fit matches a fit on repeated rows in budgets and weight totals, not row
    for row.

    Memory is ``O((n + k) m)`` with ``m`` validation rows; time is one pass
    of ``n m d`` for the shortlists plus one OT solve per swap tried. With a
    dask collection each partition selects its proportional share (twice
    over) in parallel and the union is reduced on the client. The triangle
    inequality bounds the distance part of the result's Wasserstein distance
    to the data by the sum of the two levels' distances; unlike k-center
    there is no constant-factor guarantee.

    References
    ----------
    .. [1] Tang et al., "GORACS: Group-level Optimal Transport-guided Coreset
       Selection for LLM-based Recommender Systems", KDD 2025.

    Examples
    --------
    >>> from tabsift.datasets import make_rare_region
    >>> from tabsift.sampling import OTCoresetSelector
    >>> data = make_rare_region(n_samples=600, random_state=0)
    >>> selector = OTCoresetSelector(n_samples=40, validation=200, random_state=0)
    >>> X_small, y_small = selector.fit_resample(data.data, data.target)
    >>> X_small.shape
    (40, 6)
    >>> h = selector.objective_history_
    >>> all(b <= a for a, b in zip(h, h[1:]))
    True
    """

    _accepts_dask = True
    _dask_full_budget = False
    _parameter_constraints = {
        "n_samples": N_SAMPLES_CONSTRAINT,
        "stratify": STRATIFY_CONSTRAINT,
        "lam": [Interval(numbers.Real, 0, None, closed="left")],
        "validation": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            tuple,
        ],
        "embedding": [callable, None],
        "proxy": [StrOptions({"auto", "logistic", "linear", "mlp"})],
        "max_swaps": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_swap_candidates": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_trials": [Interval(numbers.Integral, 1, None, closed="left")],
        "solver": [StrOptions({"auto", "exact", "sinkhorn"})],
        "random_state": ["random_state"],
        "verbose": VERBOSE_CONSTRAINT,
    }

    def __init__(
        self,
        n_samples=0.1,
        *,
        stratify=None,
        lam=0.05,
        validation=1000,
        embedding=None,
        proxy="auto",
        max_swaps=20,
        n_swap_candidates=30,
        max_trials=10,
        solver="auto",
        random_state=None,
        verbose="auto",
    ):
        self.n_samples = n_samples
        self.stratify = stratify
        self.lam = lam
        self.validation = validation
        self.embedding = embedding
        self.proxy = proxy
        self.max_swaps = max_swaps
        self.n_swap_candidates = n_swap_candidates
        self.max_trials = max_trials
        self.solver = solver
        self.random_state = random_state
        self.verbose = verbose

    def _needs_target(self):
        # The proxy model's gradient term reads y.
        return super()._needs_target() or self.lam > 0

    def _why_target(self):
        if self.lam > 0 and self.stratify is None:
            return (
                f"lam={self.lam!r} weighs each row by a proxy model fitted on y; pass lam=0 "
                "to select without y"
            )
        return super()._why_target()

    def _embed(self, X, Xv, plain):
        """Encode the rows (and given validation rows, together); keep the raw rows for
        a custom ``embedding``."""
        if not isinstance(self.validation, tuple):
            values, context = super()._embed(X, Xv, plain)
            if context and self.embedding is not None:
                context["raw"] = (X if hasattr(X, "iloc") else Xv, None)
            return values, context
        X_val, y_val = self._validation_rows()
        if plain and np.isfinite(Xv).all() and is_plain_numeric(X_val):
            if np.isfinite(np.asarray(X_val, dtype=np.float64)).all():
                return Xv, {}  # numbers only: _select checks X_val as it always did
        # One encoding for the pool rows and the validation rows: one yardstick for both.
        n = Xv.shape[0]
        encoded = encode_table(_stack_rows(X, Xv, X_val), owner=type(self).__name__)
        context = as_is(encoded.values.shape[1])
        context["validation"] = (encoded.values[n:], y_val)
        if self.embedding is not None:
            context["raw"] = (X if hasattr(X, "iloc") else Xv, X_val)
        return encoded.values[:n], context

    def _select(self, X, y, *, mean=None, scale=None, row_weight=None, validation=None,
                raw=None, sample_weight=None):
        # validation: the given validation rows, already encoded with X; raw: the user's
        # rows (pool, given validation or None) for a custom embedding, when X was encoded.
        rng = check_random_state(self.random_state)
        n = X.shape[0]
        total, budgets = self._budgets(y, n, sample_weight)
        if sample_weight is not None:
            row_weight = sample_weight
        if budgets is not None:
            kind = "classification"
        elif y is None:
            kind = None  # lam=0 and no stratify: the selection does not read y
            y = np.zeros(n)  # carried through the bookkeeping, never read
        elif self.proxy in ("auto", "mlp"):
            kind = infer_task(y, owner=type(self).__name__)
        else:
            kind = "classification" if self.proxy == "logistic" else "regression"
        self.task_ = kind

        # Validation rows: given, or drawn from X (and then not candidates).
        if isinstance(self.validation, tuple):
            X_val, y_val = validation if validation is not None else self._given_validation(X)
            cand = np.arange(n)
            self.validation_indices_ = None
        else:
            val_rows = self._draw_validation(y, n, total, budgets, rng)
            X_val, y_val = X[val_rows], y[val_rows]
            cand = np.setdiff1d(np.arange(n), val_rows)
            self.validation_indices_ = val_rows
        X_cand, y_cand = X[cand], y[cand]
        row_weight = np.ones(n) if row_weight is None else np.asarray(row_weight, dtype=float)
        if budgets is not None:
            for c, b in budgets.items():
                have = int(np.sum(y_cand == c))
                if b > have:
                    # Only when the validation draw took rows the class needed.
                    raise ValueError(
                        f"class {label(c)} has {have} candidate rows once the validation rows "
                        f"are set aside, fewer than its budget of {b}; lower n_samples or "
                        "validation."
                    )

        if self.embedding is None:
            if mean is None and sample_weight is not None:
                mean, scale = weighted_moments(X_cand, sample_weight[cand])
            elif mean is None:
                mean, scale = column_mean_std(X_cand, xp=namespace_by_name("numpy"))
            E_cand = standardise(X_cand, mean=mean, scale=scale)
            E_val = standardise(X_val, mean=mean, scale=scale)
            Zc = E_cand
        else:
            if raw is None:
                inputs_cand, inputs_val = X_cand, X_val
            else:
                table, table_val = raw
                inputs_cand = _take(table, cand)
                inputs_val = _take(table, val_rows) if table_val is None else table_val
            E_cand = np.asarray(self.embedding(inputs_cand), dtype=np.float32)
            E_val = np.asarray(self.embedding(inputs_val), dtype=np.float32)
            if E_cand.ndim != 2 or E_cand.shape[0] != len(X_cand):
                raise ValueError(
                    f"embedding must return a 2D array with one row per input row; got shape "
                    f"{E_cand.shape} for {len(X_cand)} rows."
                )
            check_finite_columns(
                E_cand, owner=type(self).__name__,
                fix="embedding(X) returned them; make it return finite numbers",
            )
            # The proxy model reads the features: standardised numbers, or the encoding as is.
            Zc = standardise(X_cand) if raw is None else standardise(X_cand, mean=mean,
                                                                     scale=scale)
        if self.lam > 0:
            model = "mlp" if self.proxy == "mlp" else "linear"
            g = gradient_norms(Zc, y_cand, kind, rng=rng, model=model,
                               sample_weight=None if sample_weight is None
                               else sample_weight[cand])
        else:
            g = np.zeros(len(cand))
        self.gradient_norms_ = g

        indices, weights, group_histories = [], [], []
        if budgets is None:
            plan = [(np.arange(len(cand)), np.arange(len(X_val)), total)]
        else:
            budgets = {c: b for c, b in budgets.items() if b > 0}
            plan = [(np.flatnonzero(y_cand == c), np.flatnonzero(y_val == c), b)
                    for c, b in budgets.items()]
        for (rows, vrows, k), c in zip(plan, budgets or [None], strict=False):
            # A class without validation rows is matched to its own rows.
            E_target = E_val[vrows] if len(vrows) else E_cand[rows]
            costs = _Costs(E_cand[rows], g[rows], E_target, self.lam, rng)
            target_weight = None  # given validation rows: uniform
            if sample_weight is not None and not len(vrows):
                target_weight = sample_weight[cand[rows]]
            elif sample_weight is not None and self.validation_indices_ is not None:
                # The target measure: validation rows drawn from X keep their weight.
                target_weight = sample_weight[self.validation_indices_[vrows]]
            if target_weight is not None:
                target_weight = target_weight / target_weight.sum()
            local, group_history = ot_select(
                costs, k, rng=rng, solver=self.solver, max_swaps=self.max_swaps,
                n_swap_candidates=self.n_swap_candidates, max_trials=self.max_trials,
                target_weight=target_weight, verbose=self.verbose,
            )
            share = len(vrows) / len(X_val) if (budgets is not None and len(X_val)) else 1.0
            group_histories.append((share, group_history))
            indices.append(cand[rows[local]])
            mass = row_weight.sum() if c is None else row_weight[y == c].sum()
            weights.append(np.full(len(local), mass / k))
        # One running total over groups: the builds, then each group's swaps in
        # turn (groups are independent, so every entry is the exact total).
        total_value = sum(share * h[0] for share, h in group_histories)
        history = [total_value]
        for share, h in group_histories:
            for before, after in zip(h, h[1:], strict=False):
                total_value += share * (after - before)
                history.append(total_value)
        self.objective_history_ = [float(v) for v in history]
        self.objective_ = self.objective_history_[-1]
        self.n_swaps_ = len(history) - 1
        return np.concatenate(indices), np.concatenate(weights)

    def _rows_dropped(self, alive, n_rows):
        if self.validation_indices_ is not None:
            self.validation_indices_ = alive[self.validation_indices_]

    def _validation_rows(self):
        """The given ``(X_val, y_val)`` as the user passed them, with their lengths checked."""
        if len(self.validation) != 2:
            raise ValueError(
                "validation must be an int, a fraction or a tuple (X_val, y_val); got a tuple "
                f"of length {len(self.validation)}."
            )
        X_val, y_val = self.validation
        y_val = np.asarray(y_val)
        if y_val.shape[0] != np.shape(X_val)[0]:
            raise ValueError(
                f"validation's y_val has {y_val.shape[0]} values for {np.shape(X_val)[0]} rows."
            )
        return X_val, y_val

    def _given_validation(self, X):
        """The given validation rows as floats, for numeric X (and the dask path)."""
        from sklearn.utils.validation import check_array

        X_val, y_val = self._validation_rows()
        X_val = check_array(X_val, dtype=np.float64, ensure_all_finite=False)
        if X_val.shape[1] != X.shape[1]:
            raise ValueError(
                f"validation's X_val has {X_val.shape[1]} columns but X has {X.shape[1]}; give "
                "validation rows in the same columns."
            )
        check_finite_columns(X_val, owner="OTCoresetSelector (validation X_val)")
        return X_val, y_val

    def _draw_validation(self, y, n, total, budgets, rng):
        if isinstance(self.validation, numbers.Integral):
            m = int(self.validation)
        else:
            m = max(1, int(round(self.validation * n)))
        m = max(0, min(m, n - total, n // 2))
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        if budgets is None:
            return np.sort(rng.choice(n, size=m, replace=False))
        classes = list(budgets)
        sizes = np.array([np.sum(y == c) for c in classes])
        # Each class keeps at least its budget as candidates.
        room = np.array([np.sum(y == c) - budgets[c] for c in classes])
        want = np.minimum(largest_remainder(m, sizes), room)
        rows = [rng.choice(np.flatnonzero(y == c), size=int(w), replace=False)
                for c, w in zip(classes, want, strict=True) if w > 0]
        return np.sort(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)


def _take(table, rows):
    """Rows of a DataFrame (by position) or of an array."""
    return table.iloc[rows] if hasattr(table, "iloc") else np.asarray(table)[rows]


def _stack_rows(X, Xv, X_val):
    """The pool rows followed by the given validation rows, in the pool's columns."""
    import pandas as pd

    from tabsift.table import TableError

    if hasattr(X, "iloc"):
        if hasattr(X_val, "columns"):
            missing = [c for c in X.columns if c not in X_val.columns]
            if missing:
                raise TableError(
                    f"validation's X_val lacks the column(s) {missing!r} of X; give validation "
                    "rows in the same columns."
                )
            X_val = X_val[list(X.columns)]
        else:
            X_val = _same_width(np.asarray(X_val, dtype=object), X.shape[1])
            X_val = pd.DataFrame(X_val, columns=X.columns).infer_objects()
        return pd.concat([X, X_val], ignore_index=True)
    if Xv.dtype.kind == "f" and is_plain_numeric(X_val):
        return np.concatenate([Xv, _same_width(np.asarray(X_val, dtype=Xv.dtype), Xv.shape[1])])
    X_val = _same_width(np.asarray(X_val, dtype=object), Xv.shape[1])
    return np.concatenate([np.asarray(Xv, dtype=object), X_val])


def _same_width(X_val, width):
    if X_val.ndim != 2 or X_val.shape[1] != width:
        raise ValueError(
            f"validation's X_val has shape {X_val.shape} but X has {width} columns; give "
            "validation rows in the same columns."
        )
    return X_val
