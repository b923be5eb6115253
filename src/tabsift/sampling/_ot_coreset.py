"""OTCoresetSelector: coresets that match a validation set in optimal transport (GORACS)."""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from tabsift.backend import column_mean_std, namespace_by_name
from tabsift.sampling._coreset_base import CoresetSampler
from tabsift.sampling._coreset_budgets import (
    N_SAMPLES_CONSTRAINT,
    STRATIFY_CONSTRAINT,
    label,
)
from tabsift.sampling._coreset_embedding import as_is, standardise, weighted_moments
from tabsift.sampling._coreset_input import take_table_rows
from tabsift.sampling._ot_proxy import gradient_norms
from tabsift.sampling._ot_transport import _Costs, ot_select
from tabsift.sampling._ot_validation import (
    draw_validation_rows,
    given_validation_rows,
    numeric_validation_rows,
    stack_rows,
)
from tabsift.table import check_finite_columns, encode_table, infer_task, is_plain_numeric
from tabsift.utils import VERBOSE_CONSTRAINT, Interval, RealNotInt, StrOptions


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
        """Encode the rows (and given validation rows, together).

        The user's raw rows are kept for a custom ``embedding``.
        """
        if not isinstance(self.validation, tuple):
            values, context = super()._embed(X, Xv, plain)
            if context and self.embedding is not None:
                context["raw"] = (X if hasattr(X, "iloc") else Xv, None)
            return values, context
        X_val, y_val = given_validation_rows(self.validation)
        if plain and np.isfinite(Xv).all() and is_plain_numeric(X_val):
            if np.isfinite(np.asarray(X_val, dtype=np.float64)).all():
                return Xv, {}  # numbers only: _select checks X_val as it always did
        # One encoding for the pool rows and the validation rows: one yardstick for both.
        n = Xv.shape[0]
        encoded = encode_table(stack_rows(X, Xv, X_val), owner=type(self).__name__)
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
        self.task_ = kind = self._proxy_task(y, budgets)
        if y is None:
            y = np.zeros(n)  # lam=0 and no stratify: carried through the bookkeeping, never read
        X_val, y_val, cand = self._split_validation(X, y, total, budgets, rng, validation)
        y_cand = y[cand]
        row_weight = np.ones(n) if row_weight is None else np.asarray(row_weight, dtype=float)
        if budgets is not None:
            _check_candidates_per_class(budgets, y_cand)
        cand_weight = None if sample_weight is None else sample_weight[cand]
        E_cand, E_val, Zc = self._embeddings(X[cand], X_val, cand, mean, scale, raw, cand_weight)
        if self.lam > 0:
            model = "mlp" if self.proxy == "mlp" else "linear"
            g = gradient_norms(Zc, y_cand, kind, rng=rng, model=model, sample_weight=cand_weight)
        else:
            g = np.zeros(len(cand))
        self.gradient_norms_ = g
        plan = _group_plan(budgets, total, y, y_cand, y_val, row_weight)
        indices, weights, group_histories = [], [], []
        for rows, vrows, k, mass in plan:
            # A class without validation rows is matched to its own rows.
            E_target = E_val[vrows] if len(vrows) else E_cand[rows]
            costs = _Costs(E_cand[rows], g[rows], E_target, self.lam, rng)
            local, group_history = ot_select(
                costs, k, rng=rng, solver=self.solver, max_swaps=self.max_swaps,
                n_swap_candidates=self.n_swap_candidates, max_trials=self.max_trials,
                target_weight=self._target_weight(sample_weight, cand[rows], vrows),
                verbose=self.verbose,
            )
            share = len(vrows) / len(X_val) if (budgets is not None and len(X_val)) else 1.0
            group_histories.append((share, group_history))
            indices.append(cand[rows[local]])
            weights.append(np.full(len(local), mass / k))
        self.objective_history_ = _running_objective(group_histories)
        self.objective_ = self.objective_history_[-1]
        self.n_swaps_ = len(self.objective_history_) - 1
        return np.concatenate(indices), np.concatenate(weights)

    def _proxy_task(self, y, budgets):
        """Return how the proxy model reads ``y``: a task, or None when nothing reads it."""
        if budgets is not None:
            return "classification"
        if y is None:
            return None  # lam=0 and no stratify: the selection does not read y
        if self.proxy in ("auto", "mlp"):
            return infer_task(y, owner=type(self).__name__)
        return "classification" if self.proxy == "logistic" else "regression"

    def _split_validation(self, X, y, total, budgets, rng, validation):
        """Return ``(X_val, y_val, candidate rows)``: validation rows given, or drawn from X.

        Rows drawn from ``X`` are not candidates; ``validation_indices_``
        records them (None for a given validation set).
        """
        n = X.shape[0]
        if isinstance(self.validation, tuple):
            if validation is None:
                validation = numeric_validation_rows(self.validation, X)
            self.validation_indices_ = None
            return validation[0], validation[1], np.arange(n)
        val_rows = draw_validation_rows(self.validation, y, n, total, budgets, rng)
        self.validation_indices_ = val_rows
        return X[val_rows], y[val_rows], np.setdiff1d(np.arange(n), val_rows)

    def _embeddings(self, X_cand, X_val, cand, mean, scale, raw, cand_weight):
        """Return the candidates' and validation rows' embeddings, and the proxy's features.

        Without ``embedding`` the features are standardised by the
        candidates' (weighted) mean and deviation, or used as is when the
        table was encoded (``mean=0, scale=1``); the proxy then reads the
        same matrix. A custom ``embedding`` gets the user's rows (``raw``)
        when the table was encoded.
        """
        if self.embedding is None:
            if mean is None and cand_weight is not None:
                mean, scale = weighted_moments(X_cand, cand_weight)
            elif mean is None:
                mean, scale = column_mean_std(X_cand, xp=namespace_by_name("numpy"))
            E_cand = standardise(X_cand, mean=mean, scale=scale)
            return E_cand, standardise(X_val, mean=mean, scale=scale), E_cand
        if raw is None:
            inputs_cand, inputs_val = X_cand, X_val
        else:
            table, table_val = raw
            inputs_cand = take_table_rows(table, cand)
            inputs_val = (take_table_rows(table, self.validation_indices_)
                          if table_val is None else table_val)
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
        Zc = standardise(X_cand) if raw is None else standardise(X_cand, mean=mean, scale=scale)
        return E_cand, E_val, Zc

    def _target_weight(self, sample_weight, cand_rows, vrows):
        """Return the target measure of one group's transport, or None for uniform.

        Validation rows drawn from ``X`` keep their weight; a group matched to
        its own rows (no validation rows) uses theirs; a given validation
        set stays uniform.
        """
        if sample_weight is None:
            return None
        if not len(vrows):
            target_weight = sample_weight[cand_rows]
        elif self.validation_indices_ is not None:
            target_weight = sample_weight[self.validation_indices_[vrows]]
        else:
            return None
        return target_weight / target_weight.sum()

    def _rows_dropped(self, alive, n_rows):
        if self.validation_indices_ is not None:
            self.validation_indices_ = alive[self.validation_indices_]


def _check_candidates_per_class(budgets, y_cand):
    """Raise when a class has fewer candidate rows than its budget once validation is drawn."""
    for c, b in budgets.items():
        have = int(np.sum(y_cand == c))
        if b > have:
            # Only when the validation draw took rows the class needed.
            raise ValueError(
                f"class {label(c)} has {have} candidate rows once the validation rows "
                f"are set aside, fewer than its budget of {b}; lower n_samples or "
                "validation."
            )


def _group_plan(budgets, total, y, y_cand, y_val, row_weight):
    """Return ``[(candidate rows, validation rows, budget, mass)]``, one a class or one in all.

    A group's mass is the summed weight of its rows of ``X``, spread evenly
    over the rows it keeps.
    """
    if budgets is None:
        return [(np.arange(len(y_cand)), np.arange(len(y_val)), total, row_weight.sum())]
    return [(np.flatnonzero(y_cand == c), np.flatnonzero(y_val == c), b, row_weight[y == c].sum())
            for c, b in budgets.items() if b > 0]


def _running_objective(group_histories):
    """Return the objective after the builds, then after each group's swaps in turn.

    ``group_histories`` holds ``(share, history)`` per group; groups are
    independent, so one running total over them gives the exact total at
    every step.
    """
    total_value = sum(share * h[0] for share, h in group_histories)
    history = [total_value]
    for share, h in group_histories:
        for before, after in zip(h, h[1:], strict=False):
            total_value += share * (after - before)
            history.append(total_value)
    return [float(v) for v in history]
