"""The rule search of one fit: annealing starts, the best rule per class, then clean-ups.

For each rule class (one for a binary target, one per class otherwise) the
fit runs ``n_starts`` annealing starts (:func:`~tabsift.rules._search.anneal`,
in parallel with ``n_jobs``), keeps the best of them and of the single-literal
baseline by ``score - regularization * complexity``, polishes it on all rows,
refines its quantile thresholds, and drops redundant literals.
"""

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed

from tabsift.rules._columns import _column_numbers, read_columns
from tabsift.rules._literals import add_thresholds, host_literals
from tabsift.rules._nodes import Constant, Literal, Operator, host_namespace
from tabsift.rules._polish import polish, simplify
from tabsift.rules._prune import drop_redundant
from tabsift.rules._refine import refine_thresholds, reindex
from tabsift.rules._rule import Rule
from tabsift.rules._scoring import Scorer, baseline
from tabsift.rules._search import anneal
from tabsift.utils import progress


def _run_start(ZT, y, rows, seed, settings, weights=None):
    """One annealing start (a joblib task): sub-sample the rows, then anneal."""
    if rows is not None:
        ZT, y = np.ascontiguousarray(ZT[:, rows]), y[rows]
        weights = None if weights is None else weights[rows]
    return anneal(ZT, y, seed=seed, sample_weight=weights, **settings)


def _reindex(node, allowed, literals):
    """Give a search node's literals their binariser index, name and condition."""
    if isinstance(node, Literal):
        meta = literals[allowed[node.index]]
        return Literal(
            int(allowed[node.index]),
            meta["name"],
            negated=node.negated,
            column=meta["column"],
            test=meta["test"],
            value=meta["value"],
        )
    if isinstance(node, Operator):
        return Operator(
            node.kind,
            [_reindex(c, allowed, literals) for c in node.children],
            k=node.k,
            negated=node.negated,
        )
    return node


def _threshold_neighbours(literals):
    """For each literal ``c > t``: the literals of the same column with the adjacent thresholds."""
    by_column = {}
    for i, lit in enumerate(literals):
        if lit["test"] == ">":
            by_column.setdefault(lit["column"], []).append(i)
    neighbours = [() for _ in literals]
    for members in by_column.values():
        members = sorted(members, key=lambda i: literals[i]["value"])
        for pos, i in enumerate(members):
            neighbours[i] = tuple(members[max(pos - 1, 0) : pos] + members[pos + 1 : pos + 2])
    return neighbours


def _run_starts(estimator, tasks, ZT, y_idx, settings, weights=None):
    """Every start's ``(rule, score)``, in task order; in parallel when ``n_jobs`` asks."""
    if estimator.n_jobs is None or estimator.n_jobs == 1 or len(tasks) == 1:
        bar = progress(tasks, verbose=estimator.verbose, desc="rule search starts", unit="start")
        return [
            _run_start(ZT, y_idx == target, rows, seed, settings, weights)
            for target, rows, seed in bar
        ]
    # Results come back in task order as they finish, so one bar counts them.
    results = Parallel(n_jobs=estimator.n_jobs, return_as="generator")(
        delayed(_run_start)(ZT, y_idx == target, rows, seed, settings, weights)
        for target, rows, seed in tasks
    )
    return list(
        progress(
            results, verbose=estimator.verbose, total=len(tasks), desc="rule search starts",
            unit="start",
        )
    )


def _refinable_columns(binarizer, X):
    """Training values of the columns whose thresholds came from quantiles."""
    wanted = {c for c, source in binarizer.threshold_source_.items() if source == "quantile"}
    if not wanted:
        return {}
    names, columns = read_columns(binarizer, X, reset=False)
    return {
        name: _column_numbers(name, values)
        for name, values in zip(names, columns, strict=True)
        if name in wanted
    }


def _tasks(estimator, targets, n):
    """``(target, rows, seed)`` per start: seeds from ``random_state``, rows sub-sampled."""
    rng = check_random_state(estimator.random_state)
    subsample = estimator.max_samples is not None and estimator.max_samples < n
    tasks = []
    for target in targets:
        for seed in rng.randint(np.iinfo(np.int32).max, size=estimator.n_starts):
            rows = None
            if subsample:
                rows = np.sort(
                    np.random.default_rng(int(seed)).choice(n, estimator.max_samples, replace=False)
                )
            tasks.append((target, rows, int(seed)))
    return tasks


def _best_rule(estimator, candidates, base, base_score):
    """Return the candidate (or ``base``) of highest ``score - regularization * complexity``."""
    best, best_score = base, base_score
    best_value = base_score - estimator.regularization * base.complexity()
    for rule, score in candidates:
        value = score - estimator.regularization * rule.complexity()
        if value > best_value:
            best, best_score, best_value = rule, score, value
    return best, best_score


def search_rules(estimator, X, Z, y_idx, targets, weights=None):
    """Search the rule of each class in ``targets`` for a fit of ``estimator``.

    ``Z`` is the host literal matrix of ``X`` by ``estimator.binarizer_``, which learns
    any refined thresholds. Returns ``(rules, scores, start_rules, start_scores, Z)``, one
    entry per target, ``Z`` with the literals of the refined thresholds.
    """
    binarizer = estimator.binarizer_
    literals = binarizer.literals_
    host = host_namespace()  # the search runs on NumPy whatever the configured backend
    chosen = set(estimator.selected_features_)
    allowed = np.asarray(
        [i for i, lit in enumerate(literals) if lit["column"] in chosen], dtype=np.intp
    )
    ZT = np.ascontiguousarray(Z[:, allowed].T)
    neighbours = _threshold_neighbours([literals[i] for i in allowed])
    settings = dict(
        max_depth=estimator.max_depth,
        max_complexity=estimator.max_complexity,
        operators=tuple(estimator.operators),
        n_iterations=estimator.n_iterations,
        temp_high=estimator.temp_high,
        temp_low=estimator.temp_low,
        regularization=estimator.regularization,
        metric=estimator.metric,
        neighbours=neighbours if estimator.threshold_moves else None,
    )
    results = _run_starts(
        estimator, _tasks(estimator, targets, Z.shape[0]), ZT, y_idx, settings, weights
    )

    rules, scores, start_rules, start_scores = [], [], [], []
    added, refine_columns = {}, None
    n_starts = estimator.n_starts
    for t, target in enumerate(targets):
        scorer = Scorer(y_idx == target, estimator.metric, weights)
        candidates = []
        for rule, _ in results[t * n_starts : (t + 1) * n_starts]:
            rule = Rule(_reindex(simplify(rule), allowed, literals))
            candidates.append((rule, scorer(rule.evaluate(Z, xp=host))))
        start_rules.append([r for r, _ in candidates])
        start_scores.append([s for _, s in candidates])
        kind, index, negated, base_score = baseline(ZT, scorer)
        if kind == "constant":
            base = Rule(Constant(index))
        else:
            base = Rule(_reindex(Literal(index, "", negated=negated), allowed, literals))
        best, best_score = _best_rule(estimator, candidates, base, base_score)
        if estimator.polish and not isinstance(best.root, (Constant, Literal)):
            root, best_score = polish(
                best.root, Z, scorer, estimator.regularization, tuple(estimator.operators)
            )
            best = Rule(simplify(root))
        if estimator.refine_thresholds:
            if refine_columns is None:
                refine_columns = _refinable_columns(binarizer, X)
            best, best_score, new = refine_thresholds(
                best, Z, refine_columns, scorer, sample_weight=weights
            )
            for column, values in new.items():
                added.setdefault(column, []).extend(values)
        rules.append(best)
        scores.append(best_score)

    if added:
        # The binariser learns the refined thresholds, so transform() yields their
        # literals; every rule is re-indexed by literal name.
        add_thresholds(binarizer, added)
        index_of = {lit["name"]: i for i, lit in enumerate(binarizer.literals_)}
        rules = [reindex(rule, index_of) for rule in rules]
        start_rules = [[reindex(rule, index_of) for rule in per] for per in start_rules]
        Z = host_literals(binarizer, X)

    # No two literals on one column where one implies the other, when dropping one
    # keeps every training prediction (so the scores stay as they are).
    rules = [drop_redundant(rule, Z) for rule in rules]
    return rules, scores, start_rules, start_scores, Z
