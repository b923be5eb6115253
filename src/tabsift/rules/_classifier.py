"""BooleanRuleClassifier: one expressive Boolean rule per class, learned by simulated annealing."""

import json
import numbers
import re
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from tabsift.backend import asarray, device, namespace_name, to_numpy
from tabsift.llm import LLMError, LLMFallbackWarning, LLMSession
from tabsift.rules._binarizer import Binarizer, _input_namespace, _is_device_array
from tabsift.rules._describe import check_description, describe_node, describe_rule
from tabsift.rules._prune import column_importances, drop_redundant
from tabsift.rules._refine import refine_thresholds, reindex
from tabsift.rules._rule import OPERATORS, Constant, Literal, Operator, Rule, host_namespace
from tabsift.rules._search import METRICS, Scorer, anneal, baseline, polish, simplify
from tabsift.table import check_column_names, check_target
from tabsift.utils import progress

# A reply that only echoes the format template ('<your text>', '<text>') is no description.
_PLACEHOLDER = re.compile(r"<\s*(?:your|the)?[\s_-]*(?:text|description|explanation|answer)"
                          r"[^<>]{0,40}>", re.IGNORECASE)


def _run_start(ZT, y, rows, seed, settings):
    """One annealing start (a joblib task): sub-sample the rows, then anneal."""
    if rows is not None:
        ZT, y = np.ascontiguousarray(ZT[:, rows]), y[rows]
    return anneal(ZT, y, seed=seed, **settings)


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


def _plain(value):
    """A numpy scalar as the Python value it holds (so texts read 1, not np.int64(1))."""
    return value.item() if isinstance(value, np.generic) else value


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


class BooleanRuleClassifier(ClassifierMixin, BaseEstimator):
    """Learn one expressive Boolean rule (per class) over raw table columns.

    Columns are first binarised by a :class:`Binarizer` (numeric ``c > t``
    for quantile or given thresholds, categorical ``c == v``). A rule is a
    tree of operators ``And``, ``Or``, ``AtLeast(k)``, ``AtMost(k)`` and
    ``Choose(k)`` (exactly ``k``) over those literals and their negations,
    e.g. ``AtLeast2(glucose > 127, bmi > 30, age <= 45)``. It is found by
    simulated annealing as in BoolXAI [1]_: ``n_starts`` independent runs of
    ``n_iterations`` local moves, each on at most ``max_samples`` rows, under
    a geometric temperature schedule from ``temp_high`` to ``temp_low``,
    maximising ``metric - regularization * complexity``. The constant rules
    and every single literal (plain and negated) are always candidates too.

    Binary targets get one rule: it fires -> ``classes_[1]``, else
    ``classes_[0]``. Multiclass targets get one rule per class
    (one-vs-rest); a row is given, among the classes whose rule fires, the
    one whose rule had the highest precision on the training rows (ties:
    the earlier class); when no rule fires, the most frequent class among
    the training rows where no rule fired (the overall majority class if
    there were none). This is ``fallback_class_``.

    Parameters
    ----------
    max_depth : int, default=3
        Most levels of operators (an operator over literals has depth 1).
    max_complexity : int, default=6
        Most nodes (operators plus literals), at least 3.
    operators : tuple of str, default=("And", "Or", "AtLeast", "AtMost", "Choose")
        The operators the search may use.
    regularization : float, default=1e-4
        Penalty per unit of complexity.
    metric : {"balanced_accuracy", "accuracy", "f1", "matthews"} or callable, \
default="balanced_accuracy"
        What a rule maximises on the training rows (positive class = the
        rule's class). A callable ``metric(y_true, y_pred)`` on 0/1 arrays is
        accepted but much slower than the named metrics, which are computed
        from two counts.
    n_iterations : int, default=500
        Moves proposed per start.
    n_starts : int, default=10
        Independent annealing runs (per class); the best rule wins.
    max_samples : int or None, default=2000
        Rows per start, drawn without replacement (all rows when None or
        when there are fewer); each start's best rule is then re-scored on
        all rows.
    temp_high, temp_low : float, default=0.2, 1e-6
        First and last temperature of the geometric schedule.
    threshold_moves : bool, default=True
        Half of the literal swaps move a threshold literal to the next lower
        or higher threshold of the same column (a small step), the other half
        to any literal as in BoolXAI. False gives BoolXAI's moves exactly.
    polish : bool, default=True
        After the search, greedily simplify the best rule on all rows: drop
        a child, collapse an operator into a child, or change an operator or
        its ``k``, while ``score - regularization * complexity`` improves.
        False returns the annealing result as BoolXAI does.
    refine_thresholds : bool, default=True
        Then move each ``column > t`` literal of the rule whose column got
        quantile thresholds to the best of 49 finer quantiles of the column
        (one literal at a time, the rest of the rule fixed, only when the
        training score strictly improves), as a decision tree searches a
        split. The new thresholds are added to ``binarizer_``. Thresholds
        you or the LLM gave are never moved.
    binarizer : Binarizer, default=None
        How raw columns become literals (cloned); ``Binarizer()`` by default.
        Pass ``Binarizer(strategy="llm", llm=...)`` for LLM thresholds.
    llm : LLMClient, default=None
        Used by ``llm_feature_selection`` and by :meth:`describe` /
        :meth:`explain` (when they are not given their own client).
    feature_descriptions : dict of {str: str}, default=None
        What each column means, for the LLM prompts.
    llm_feature_selection : int, default=None
        If given, ask ``llm`` to rank the columns by domain relevance and let
        the rule use only the best ``llm_feature_selection`` of them. Names
        the LLM invents are dropped; if none is valid, every column is kept
        (``llm_feature_selection_`` records what happened).
    on_llm_error : {"fallback", "raise"}, default="fallback"
        What happens when ``llm`` fails for good (server down, budget spent)
        during :meth:`fit`, :meth:`describe` or :meth:`explain`:
        ``"fallback"`` finishes offline (every column kept, template text)
        and issues one :class:`~tabsift.llm.LLMFallbackWarning`; ``"raise"``
        lets the error propagate. A ``Binarizer(strategy="llm")`` follows its
        own ``on_llm_error``.
    n_jobs : int, default=None
        Parallel jobs over starts (joblib); None means 1.
    random_state : int, RandomState instance or None, default=None
        Seeds the starts and their row samples; an int gives identical rules
        on every fit.
    verbose : int, default=0
        ``1`` shows a progress bar over starts.

    Attributes
    ----------
    rule_ : Rule or list of Rule
        The learned rule (binary), or one rule per class in the order of
        ``classes_`` (multiclass).
    score_ : float or ndarray
        Training ``metric`` of ``rule_`` (per class for multiclass).
    rules_ : list of Rule (or list of lists for multiclass)
        The best rule of each start, scored on all rows.
    start_scores_ : ndarray
        Their training scores, shape ``(n_starts,)`` or ``(n_classes, n_starts)``.
    precision_ : ndarray of shape (n_rules,)
        Training precision of each rule (share of its firing rows that are
        of its class).
    fallback_class_ : object
        The class predicted when no rule fires (multiclass).
    feature_importances_ : ndarray of shape (`n_features_in_`,)
        Per input column, the drop in the training ``metric`` when every
        literal on that column is removed from the rule(s), summed over the
        rules (one per class for multiclass). A removed literal leaves its
        operator, which counts over its remaining children with the same kind
        and ``k`` (``And``: all remaining hold; ``Or``: at least one does; an
        operator with no child left holds for ``And``, ``AtMost`` and
        ``Choose0``, not for ``Or`` and ``AtLeast``); a rule that is a single
        literal on the column never fires. Negative drops count as 0; the
        drops are normalised to sum 1, or all zeros when no column matters
        (e.g. a constant rule). Columns the rule does not read get 0.
    binarizer_ : Binarizer
        The fitted binariser.
    selected_features_ : list of str
        The columns the rule may use (all, unless ``llm_feature_selection``).
    llm_feature_selection_ : dict or None
        The LLM's ranking, unknown names dropped, and any fallback.
    llm_report_ : LLMReport
        What the LLM did during :meth:`fit`, the binariser's LLM thresholds
        included (requests, accepted answers, rejections by reason, offline
        fallbacks, errors); all zeros when no LLM was used.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input column names, when ``X`` has string column names.

    See Also
    --------
    Binarizer : Turns raw columns into the literals a rule uses.
    Rule : The learned rule as a data structure.

    Notes
    -----
    Last, a rule never keeps two literals on one column inside one operator
    where one implies the other (``AtLeast3(a > 0.22, a > -0.92, ...)``):
    one of them is dropped (``k`` kept or lowered by one) whenever the
    simpler rule's predictions on every training row stay identical, so the
    scores do not change.

    Each move changes one node; only that node and its ancestors are
    re-evaluated (see :mod:`tabsift.rules`), and the named metrics come from
    two counts, which is where the speed-up over the ``boolxai`` package
    comes from (``benchmarks/bench_rules_boolxai.py``).

    The search runs on NumPy (``fit`` copies arrays of other libraries to
    the host): its moves are sequential on at most ``max_samples`` rows, so
    per-move overhead, which a GPU would only increase, dominates.
    :meth:`predict` and :meth:`predict_proba` run on the input's array
    namespace (see :meth:`predict`).

    References
    ----------
    .. [1] G. Rosenberg et al., "Explainable Artificial Intelligence Using
       Expressive Boolean Formulas", Machine Learning and Knowledge
       Extraction 5(4), 2023. arXiv:2306.03976.

    Examples
    --------
    >>> from tabsift.datasets import make_boolean_rule
    >>> from tabsift.rules import BooleanRuleClassifier
    >>> data = make_boolean_rule(n_samples=400, flip_y=0.0, random_state=0)
    >>> clf = BooleanRuleClassifier(n_iterations=300, n_starts=4, random_state=0)
    >>> clf = clf.fit(data.data, data.target)
    >>> clf.rule_.complexity() <= 6
    True
    >>> clf.score(data.data, data.target) > 0.9
    True
    """

    _parameter_constraints = {
        "max_depth": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_complexity": [Interval(numbers.Integral, 3, None, closed="left")],
        "operators": [tuple, list],
        "regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "metric": [StrOptions(set(METRICS)), callable],
        "n_iterations": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_starts": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_samples": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "temp_high": [Interval(numbers.Real, 0, None, closed="neither")],
        "temp_low": [Interval(numbers.Real, 0, None, closed="neither")],
        "threshold_moves": ["boolean"],
        "polish": ["boolean"],
        "refine_thresholds": ["boolean"],
        "binarizer": [Binarizer, None],
        "llm": "no_validation",
        "feature_descriptions": [dict, None],
        "llm_feature_selection": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "on_llm_error": [StrOptions({"fallback", "raise"})],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        max_depth=3,
        *,
        max_complexity=6,
        operators=OPERATORS,
        regularization=1e-4,
        metric="balanced_accuracy",
        n_iterations=500,
        n_starts=10,
        max_samples=2000,
        temp_high=0.2,
        temp_low=1e-6,
        threshold_moves=True,
        polish=True,
        refine_thresholds=True,
        binarizer=None,
        llm=None,
        feature_descriptions=None,
        llm_feature_selection=None,
        on_llm_error="fallback",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.max_depth = max_depth
        self.max_complexity = max_complexity
        self.operators = operators
        self.regularization = regularization
        self.metric = metric
        self.n_iterations = n_iterations
        self.n_starts = n_starts
        self.max_samples = max_samples
        self.temp_high = temp_high
        self.temp_low = temp_low
        self.threshold_moves = threshold_moves
        self.polish = polish
        self.refine_thresholds = refine_thresholds
        self.binarizer = binarizer
        self.llm = llm
        self.feature_descriptions = feature_descriptions
        self.llm_feature_selection = llm_feature_selection
        self.on_llm_error = on_llm_error
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_settings(self):
        unknown = [op for op in self.operators if op not in OPERATORS]
        if unknown or not self.operators:
            raise ValueError(
                f"operators must be a non-empty subset of {OPERATORS}; found "
                f"{tuple(self.operators)!r}."
            )
        if self.temp_low > self.temp_high:
            raise ValueError(
                f"temp_low ({self.temp_low}) must not exceed temp_high ({self.temp_high}): the "
                "schedule cools from temp_high to temp_low."
            )
        if self.llm_feature_selection is not None and self.llm is None:
            raise ValueError(
                "llm_feature_selection needs an LLM client: pass llm=LLMClient(...), or leave "
                "llm_feature_selection=None."
            )

    def _column_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _fit_session(self, binarizer):
        """The LLM session of one fit, holding the fitted binariser's LLM record already."""
        by_binarizer = binarizer.llm if binarizer.strategy == "llm" else None
        client = self.llm if self.llm_feature_selection is not None else by_binarizer
        session = LLMSession(client, owner=type(self).__name__, on_llm_error=self.on_llm_error)
        report = binarizer.llm_report_
        session.merge(report, source="Binarizer")
        if report.failed and (client is by_binarizer or client is None):
            session.report.failed = True  # the same server: do not ask it again
        return session

    # --------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Binarise ``X`` and search the best rule (per class).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Raw numeric and/or categorical columns: numbers stored as text,
            placeholders such as ``?`` (missing) and NaN allowed (see
            :class:`Binarizer`; a column without any value is left out).
        y : array-like of shape (n_samples,)
            Class labels (numbers, text or bool), at least 2 classes.

        Returns
        -------
        self : BooleanRuleClassifier

        Raises
        ------
        TableError
            If ``X`` has duplicate column names, or ``y`` has missing values.
        """
        self._check_settings()
        if y is None:
            raise ValueError(
                "BooleanRuleClassifier requires y to be passed, but the target y is None."
            )
        check_column_names(X, owner="BooleanRuleClassifier")
        X = self._check_X(X, reset=True)
        y = column_or_1d(y, warn=True)
        check_target(y, owner="BooleanRuleClassifier")
        check_classification_targets(y)
        binarizer = clone(self.binarizer) if self.binarizer is not None else Binarizer()
        # The search runs on NumPy whatever the configured array backend (see _search.py).
        host = host_namespace()
        with warnings.catch_warnings():
            # The binariser's LLM record joins this estimator's: one warning, from finish().
            warnings.simplefilter("ignore", LLMFallbackWarning)
            binarizer.fit(X)
        Z = binarizer._transform_host(X)
        session = self._fit_session(binarizer)
        check_consistent_length(Z, y)
        self.binarizer_ = binarizer
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                f"y has only 1 class ({self.classes_[0]!r}); BooleanRuleClassifier needs at "
                "least 2 classes."
            )
        literals = binarizer.literals_
        names = self._column_names()
        self.selected_features_ = names
        self.llm_feature_selection_ = None
        if self.llm_feature_selection is not None:
            self.selected_features_ = self._llm_select(session, names, y)
        if binarizer.llm_report_.failed:
            session.report.failed = True
        session.finish(self, what="the offline method (quantile thresholds, every column)")
        chosen = set(self.selected_features_)
        allowed = np.asarray(
            [i for i, lit in enumerate(literals) if lit["column"] in chosen], dtype=np.intp
        )
        ZT = np.ascontiguousarray(Z[:, allowed].T)
        neighbours = _threshold_neighbours([literals[i] for i in allowed])

        n = Z.shape[0]
        targets = [1] if self.classes_.size == 2 else list(range(self.classes_.size))
        rng = check_random_state(self.random_state)
        settings = dict(
            max_depth=self.max_depth,
            max_complexity=self.max_complexity,
            operators=tuple(self.operators),
            n_iterations=self.n_iterations,
            temp_high=self.temp_high,
            temp_low=self.temp_low,
            regularization=self.regularization,
            metric=self.metric,
            neighbours=neighbours if self.threshold_moves else None,
        )
        subsample = self.max_samples is not None and self.max_samples < n
        tasks = []
        for target in targets:
            for seed in rng.randint(np.iinfo(np.int32).max, size=self.n_starts):
                rows = None
                if subsample:
                    rows = np.sort(
                        np.random.default_rng(int(seed)).choice(n, self.max_samples, replace=False)
                    )
                tasks.append((target, rows, int(seed)))
        results = self._run(tasks, ZT, y_idx, settings)

        rules, scores, start_rules, start_scores = [], [], [], []
        added, refine_columns = {}, None
        for t, target in enumerate(targets):
            yb = y_idx == target
            scorer = Scorer(yb, self.metric)
            candidates = []
            for rule, _ in results[t * self.n_starts : (t + 1) * self.n_starts]:
                rule = Rule(_reindex(simplify(rule), allowed, literals))
                candidates.append((rule, scorer(rule.evaluate(Z, xp=host))))
            start_rules.append([r for r, _ in candidates])
            start_scores.append([s for _, s in candidates])
            kind, index, negated, base_score = baseline(ZT, scorer)
            if kind == "constant":
                base = Rule(Constant(index))
            else:
                base = Rule(_reindex(Literal(index, "", negated=negated), allowed, literals))
            best, best_score = base, base_score
            best_value = base_score - self.regularization * base.complexity()
            for rule, score in candidates:
                value = score - self.regularization * rule.complexity()
                if value > best_value:
                    best, best_score, best_value = rule, score, value
            if self.polish and not isinstance(best.root, (Constant, Literal)):
                root, best_score = polish(
                    best.root, Z, scorer, self.regularization, tuple(self.operators)
                )
                best = Rule(simplify(root))
            if self.refine_thresholds:
                if refine_columns is None:
                    refine_columns = self._refinable_columns(X)
                best, best_score, new = refine_thresholds(best, Z, refine_columns, scorer)
                for column, values in new.items():
                    added.setdefault(column, []).extend(values)
            rules.append(best)
            scores.append(best_score)

        if added:
            # The binariser learns the refined thresholds, so transform() yields their
            # literals; every rule is re-indexed by literal name.
            binarizer._add_thresholds(added)
            index_of = {lit["name"]: i for i, lit in enumerate(binarizer.literals_)}
            rules = [reindex(rule, index_of) for rule in rules]
            start_rules = [[reindex(rule, index_of) for rule in per] for per in start_rules]
            Z = binarizer._transform_host(X)

        # No two literals on one column where one implies the other, when dropping one
        # keeps every training prediction (so the scores stay as they are).
        rules = [drop_redundant(rule, Z) for rule in rules]
        self._set_decision(rules, Z, y_idx)
        self.feature_importances_ = column_importances(
            rules, Z, [Scorer(y_idx == target, self.metric) for target in targets], names
        )
        if self.classes_.size == 2:
            self.rule_, self.score_ = rules[0], float(scores[0])
            self.rules_, self.start_scores_ = start_rules[0], np.asarray(start_scores[0])
        else:
            self.rule_, self.score_ = rules, np.asarray(scores)
            self.rules_, self.start_scores_ = start_rules, np.asarray(start_scores)
        return self

    def _refinable_columns(self, X):
        """Training values of the columns whose thresholds came from quantiles."""
        from tabsift.rules._binarizer import _column_numbers

        sources = self.binarizer_.threshold_source_
        wanted = {c for c, source in sources.items() if source == "quantile"}
        if not wanted:
            return {}
        names, columns = self.binarizer_._columns(X, reset=False)
        return {
            name: _column_numbers(name, values)
            for name, values in zip(names, columns, strict=True)
            if name in wanted
        }

    def _run(self, tasks, ZT, y_idx, settings):
        if self.n_jobs is None or self.n_jobs == 1 or len(tasks) == 1:
            bar = progress(tasks, verbose=self.verbose, desc="rule search starts", unit="start")
            return [
                _run_start(ZT, y_idx == target, rows, seed, settings) for target, rows, seed in bar
            ]
        from joblib import Parallel, delayed

        return Parallel(n_jobs=self.n_jobs, verbose=10 if self.verbose else 0)(
            delayed(_run_start)(ZT, y_idx == target, rows, seed, settings)
            for target, rows, seed in tasks
        )

    def _set_decision(self, rules, Z, y_idx):
        """Precision of each rule, the multiclass fallback, and per-decision class frequencies."""
        n_classes = self.classes_.size
        host = host_namespace()
        fired = self._fired(Z, host, rules)
        owners = [1] if n_classes == 2 else list(range(n_classes))
        precision = []
        for j, owner in enumerate(owners):
            hits = fired[:, j]
            precision.append(float(np.mean(y_idx[hits] == owner)) if hits.any() else 0.0)
        self.precision_ = np.asarray(precision)
        if n_classes == 2:
            self.fallback_class_ = self.classes_[0]
            self._fallback = 0
        else:
            none = ~fired.any(axis=1)
            pool = y_idx[none] if none.any() else y_idx
            self._fallback = int(np.bincount(pool, minlength=n_classes).argmax())
            self.fallback_class_ = self.classes_[self._fallback]
        decided = self._decide(fired, host)
        freq = np.ones((n_classes, n_classes))
        np.add.at(freq, (decided, y_idx), 1.0)
        self._cell_freq = freq / freq.sum(axis=1, keepdims=True)

    def _decide(self, fired, xp):
        """Index of the predicted class per row, on ``fired``'s namespace ``xp``."""
        if self.classes_.size == 2:
            return xp.astype(fired[:, 0], xp.int64)
        where = device(fired)
        precision = xp.reshape(xp.asarray(self.precision_, dtype=xp.float64, device=where), (1, -1))
        missing = xp.asarray(-1.0, dtype=xp.float64, device=where)
        # argmax returns the first of tied maxima (array API), like NumPy.
        decided = xp.argmax(xp.where(fired, precision, missing), axis=1)
        fallback = xp.asarray(self._fallback, dtype=decided.dtype, device=where)
        return xp.where(xp.any(fired, axis=1), decided, fallback)

    def _llm_select(self, session, names, y):
        """Ask the LLM for the most relevant columns; keep only real, distinct names."""
        k = min(self.llm_feature_selection, len(names))
        descriptions = self.feature_descriptions or {}
        target = getattr(y, "name", None) or "the target"
        # Names, descriptions and labels are data: they enter the prompt as JSON strings.
        lines = [
            f"- {json.dumps(n)}"
            + (f": {json.dumps(str(descriptions[n]))}" if n in descriptions else "")
            for n in names
        ]
        classes = json.dumps([str(_plain(c)) for c in self.classes_])
        prompt = (
            f"Rank table columns by how relevant they are, from domain knowledge, to predicting "
            f"{json.dumps(str(target))} (classes: {classes}). Name the {k} most relevant "
            "columns, most relevant first, using the exact names below (given as JSON "
            "strings).\n\nColumns:\n"
            + "\n".join(lines)
            + '\n\nReply with JSON only, an object of the form {"features": ["column name", '
            "...]}."
        )
        schema = {
            "type": "object",
            "properties": {"features": {"type": "array", "items": {"type": "string"}}},
            "required": ["features"],
        }
        record = {"requested": k, "reply": None, "unknown": [], "fallback": None}
        messages = [{"role": "user", "content": prompt}]

        box = {}

        def question(llm):
            box["reply"] = llm.chat_json(messages, schema=schema)[0]
            return box["reply"]

        def validate(reply):
            if not any(name in names for name in reply["features"]):
                raise ValueError("the LLM named no existing column")

        reply = session.ask(question, validate=validate)
        if "reply" in box:
            record["reply"] = list(box["reply"]["features"])
            record["unknown"] = [n for n in record["reply"] if n not in names]
        if reply is None:
            if "reply" in box:
                record["fallback"] = "the LLM named no existing column; using every column"
            else:
                last = session.report.errors[-1] if session.report.errors else "no usable reply"
                record["fallback"] = f"the LLM request failed ({last}); using every column"
            session.fallback()
            self.llm_feature_selection_ = record
            return names
        kept = []
        for name in record["reply"]:
            if name in names and name not in kept:
                kept.append(name)
        record["selected"] = kept[:k]
        self.llm_feature_selection_ = record
        return record["selected"]

    # ----------------------------------------------------------------- predict
    def _check_X(self, X, reset):
        import pandas as pd

        if _is_device_array(X):
            X = to_numpy(X)  # fit (and host evaluation) copies other libraries' arrays to NumPy
        if isinstance(X, pd.DataFrame):
            # Columns keep their own dtypes (numeric / categorical): the binariser reads them.
            validate_data(self, X, reset=reset, skip_check_array=True)
            return X
        return validate_data(self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")

    def _binarize(self, X):
        """The literal matrix of ``X`` and the namespace it lives in (see :meth:`predict`)."""
        check_is_fitted(self, "rule_")
        xp, native = _input_namespace(X)
        if native:
            # An array of another library stays there: only its shape and names are checked
            # here (the binariser checks dtype and values there).
            validate_data(self, X, reset=False, skip_check_array=True)
            return self.binarizer_.transform(X), xp
        return self.binarizer_.transform(self._check_X(X, reset=False)), xp

    def _rules(self):
        return [self.rule_] if self.classes_.size == 2 else list(self.rule_)

    def _fired(self, Z, xp, rules=None):
        rules = self._rules() if rules is None else rules
        return xp.stack([rule.evaluate(Z, xp=xp) for rule in rules], axis=1)

    def predict(self, X):
        """Predict classes with the rule(s).

        Runs on ``X``'s array namespace: an ``array_api_strict`` or CuPy
        ``X`` is binarised and evaluated there (a CuPy ``X`` stays on its
        GPU), as is NumPy or pandas input when
        ``tabsift.set_config(array_backend=...)`` forces a backend.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, `n_features_in_`)

        Returns
        -------
        y_pred : array of shape (n_samples,)
            A NumPy array for NumPy or pandas input; otherwise an array of
            the namespace the rule was evaluated in when the class labels
            are numbers or booleans, and a NumPy array (labels such as
            strings cannot live there) when they are not.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.rules import BooleanRuleClassifier
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
        >>> clf.fit(X, [0, 0, 1, 1]).predict(X).tolist()
        [0, 0, 1, 1]
        """
        Z, xp = self._binarize(X)
        decided = self._decide(self._fired(Z, xp), xp)
        if namespace_name(xp) == "numpy":
            return self.classes_[decided]
        if self.classes_.dtype.kind not in "biuf":
            return self.classes_[to_numpy(decided)]
        return xp.take(asarray(self.classes_, xp=xp), decided, axis=0)

    def predict_proba(self, X):
        """Class probabilities that agree with :meth:`predict`.

        A rule gives a hard decision. The probability averages that decision
        (one-hot, weight 1/2) with the class frequencies among the training
        rows that got the same decision (Laplace-smoothed, weight 1/2), so
        the predicted class always has probability above 1/2 and the others
        show how often the decision was wrong in training.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, `n_features_in_`)

        Returns
        -------
        proba : array of shape (n_samples, n_classes)
            Of the namespace the rule was evaluated in (see :meth:`predict`).
        """
        Z, xp = self._binarize(X)
        decided = self._decide(self._fired(Z, xp), xp)
        where = device(decided)
        onehot = xp.take(
            xp.eye(self.classes_.size, dtype=xp.float64, device=where), decided, axis=0
        )
        freq = xp.take(asarray(self._cell_freq, xp=xp, dtype="float64"), decided, axis=0)
        return 0.5 * onehot + 0.5 * freq

    # ------------------------------------------------------------ presentation
    def _label_rules(self):
        if self.classes_.size == 2:
            return [(self.classes_[1], self.rule_)]
        return list(zip(self.classes_, self.rule_, strict=True))

    def export_text(self):
        """The rule as text; one ``class: rule`` line per class for multiclass.

        Returns
        -------
        text : str

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.rules import BooleanRuleClassifier
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
        >>> clf.fit(X, [0, 0, 1, 1]).export_text()
        'x0 > 1'
        """
        check_is_fitted(self, "rule_")
        if self.classes_.size == 2:
            return self.rule_.export_text()
        lines = [f"{_plain(label)!r}: {rule.export_text()}" for label, rule in self._label_rules()]
        lines.append(f"otherwise: {_plain(self.fallback_class_)!r}")
        return "\n".join(lines)

    def to_dict(self):
        """Everything needed to read (and re-evaluate) the model, JSON-ready.

        Returns
        -------
        data : dict
            ``classes``, ``rules`` (one per rule class: ``class``, ``rule``
            (:meth:`Rule.to_dict`), ``precision``, ``score``, ``text``),
            ``fallback_class``, ``metric`` and ``literals`` (the binariser's).

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.rules import BooleanRuleClassifier
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
        >>> clf.fit(X, [0, 0, 1, 1]).to_dict()["rules"][0]["text"]
        'x0 > 1'
        """
        check_is_fitted(self, "rule_")

        scores = np.atleast_1d(self.score_)
        return {
            "classes": [_plain(c) for c in self.classes_],
            "rules": [
                {
                    "class": _plain(label),
                    "rule": rule.to_dict(),
                    "text": rule.export_text(),
                    "precision": float(self.precision_[i]),
                    "score": float(scores[i]),
                    "complexity": rule.complexity(),
                }
                for i, (label, rule) in enumerate(self._label_rules())
            ],
            "fallback_class": _plain(self.fallback_class_),
            "metric": self.metric if isinstance(self.metric, str) else repr(self.metric),
            "literals": [
                {k: _plain(v) for k, v in lit.items()} for lit in self.binarizer_.literals_
            ],
        }

    def plot(self, ax=None):
        """Draw the rule(s) as trees: one panel per rule.

        The return type does not depend on the number of classes: always a
        1-D ndarray of Axes, one per rule (one for a binary target, one per
        class otherwise), as scikit-learn's multi-panel displays keep their
        axes in an ndarray (``PartialDependenceDisplay.axes_``).

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw, one Axes per rule (a single Axes is accepted for
            a binary target); a new figure by default.

        Returns
        -------
        axes : ndarray of matplotlib Axes of shape (n_rules,)
            Their ``figure`` attribute is the figure drawn on.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.rules import BooleanRuleClassifier
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
        >>> axes = clf.fit(X, [0, 0, 1, 1]).plot()
        >>> axes.shape, axes[0].texts[0].get_text()
        ((1,), 'x0 > 1')
        """
        from tabsift.rules._plot import plot_rule

        check_is_fitted(self, "rule_")
        labelled = self._label_rules()
        if ax is None and len(labelled) == 1:
            axes = np.empty(1, dtype=object)  # plot_rule sizes the figure to the rule
        elif ax is None:
            from tabsift.utils._figures import new_figure

            widths = [
                max(3.0, sum(0.075 * len(lit.text()) + 0.45 for lit in r.literals()))
                for _, r in labelled
            ]
            fig = new_figure(figsize=(sum(widths), 3.6), layout="constrained")
            axes = fig.subplots(
                1, len(labelled), squeeze=False, gridspec_kw={"width_ratios": widths}
            ).ravel()
        else:
            axes = np.empty(np.size(ax), dtype=object)
            axes[:] = list(np.asarray(ax, dtype=object).ravel())
            if axes.size != len(labelled):
                raise ValueError(
                    f"ax must hold one Axes per rule ({len(labelled)}); found {axes.size}."
                )
        for i, (label, rule) in enumerate(labelled):
            title = (
                f"predict {_plain(label)!r} when" if len(labelled) == 1
                else f"class {_plain(label)!r}"
            )
            axes[i] = plot_rule(rule, ax=axes[i], title=title)
        return axes

    def explain(self, X, *, llm=None, max_llm_rows=20):
        """Say, for each row, which conditions held and why the rule fired or not.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, `n_features_in_`)
        llm : LLMClient, default=None
            If given (or if the estimator has ``llm``), the first
            ``max_llm_rows`` rows also get an LLM-written sentence in
            ``llm_explanation``, checked like :meth:`describe` (the template
            reason is used when the check fails). When the LLM fails for good
            the remaining rows get the template reason, with one
            :class:`~tabsift.llm.LLMFallbackWarning` (``on_llm_error="raise"``:
            the error propagates).
        max_llm_rows : int, default=20
            Most rows sent to the LLM.

        Returns
        -------
        explanation : pandas.DataFrame
            One row per input row: ``prediction``, ``fired`` (the predicted
            class's rule fired; for multiclass ``fired_classes`` too),
            ``held`` and ``not_held`` (the rule's conditions, as text, that
            held or not), and ``reason``.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.rules import BooleanRuleClassifier
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
        >>> table = clf.fit(X, [0, 0, 1, 1]).explain(X[2:3])
        >>> table.loc[0, "reason"]
        'x0 > 1 held, so the rule fired: predict 1.'
        """
        import pandas as pd

        # The explanation is a pandas table: it is built on the host whatever X's namespace
        # or the configured backend.
        check_is_fitted(self, "rule_")
        host = host_namespace()
        Z = self.binarizer_._transform_host(self._check_X(X, reset=False))
        fired = self._fired(Z, host)
        decided = self._decide(fired, host)
        rules = self._rules()
        records = []
        for i in range(Z.shape[0]):
            d = int(decided[i])
            record = {"prediction": _plain(self.classes_[d])}
            if self.classes_.size == 2:
                rule, rule_class = rules[0], self.classes_[1]
                did_fire = bool(fired[i, 0])
            else:
                rule, rule_class = rules[d], self.classes_[d]
                did_fire = bool(fired[i, d])
                record["fired_classes"] = [
                    _plain(self.classes_[j]) for j in np.flatnonzero(fired[i])
                ]
            row = Z[i : i + 1]
            held = [lit.text() for lit in rule.literals() if lit.evaluate(row, xp=host)[0]]
            missed = [lit.text() for lit in rule.literals() if not lit.evaluate(row, xp=host)[0]]
            record.update(fired=did_fire, held="; ".join(held), not_held="; ".join(missed))
            record["reason"] = self._reason(rule, row, did_fire, rule_class, record, fired[i])
            records.append(record)
        table = pd.DataFrame.from_records(records)
        client = llm if llm is not None else self.llm
        if client is not None and len(table):
            session = self._text_session(client)
            table["llm_explanation"] = None
            for i in range(min(max_llm_rows, len(table))):
                table.loc[i, "llm_explanation"] = self._llm_local(session, table.loc[i])
            session.finish(what="the template reason")
        return table

    def _reason(self, rule, row, did_fire, rule_class, record, fired_row):
        host = host_namespace()
        root = rule.root
        outcome = "the rule fired" if did_fire else "the rule did not fire"
        if isinstance(root, Constant):
            why = f"the rule is constant ({bool(root.value)})"
        elif isinstance(root, Literal):
            held = bool(root.evaluate(row, xp=host)[0])
            why = f"{root.text()} {'held' if held else 'did not hold'}"
        else:
            parts = [bool(child.evaluate(row, xp=host)[0]) for child in root.children]
            count = sum(parts)
            rule_needs = {
                "And": f"all {len(parts)}",
                "Or": "at least 1",
                "AtLeast": f"at least {root.k}",
                "AtMost": f"at most {root.k}",
                "Choose": f"exactly {root.k}",
            }[root.kind]
            why = (
                f"{count} of its {len(parts)} conditions held and {root.label()} needs "
                f"{rule_needs}" + (" (negated)" if root.negated else "")
            )
        if self.classes_.size == 2:
            return f"{why}, so {outcome}: predict {record['prediction']!r}."
        if did_fire:
            return (
                f"the rule for {_plain(rule_class)!r} fired ({why}); it has the highest training "
                f"precision ({self.precision_[list(self.classes_).index(rule_class)]:.2f}) among "
                f"the rules that fired."
            )
        return f"no rule fired, so predict the fallback class {_plain(self.fallback_class_)!r}."

    def describe(self, *, llm=None):
        """A plain-language description of the model, for a reader who is not an expert.

        Without an LLM it is built from templates. With one (``llm`` here, or
        the estimator's ``llm``), the LLM rewrites it with the
        ``feature_descriptions``; the result is checked to mention no column
        outside the rule and no number that is not one of the rule's
        thresholds or counts, and the template is returned when the check
        (or the request) fails. ``description_check_`` records which was
        used and why. A reply that only repeats the format template is
        rejected. When the LLM fails for good, the template is returned with
        one :class:`~tabsift.llm.LLMFallbackWarning` (``on_llm_error="raise"``:
        the error propagates).

        Parameters
        ----------
        llm : LLMClient, default=None

        Returns
        -------
        text : str

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.rules import BooleanRuleClassifier
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> clf = BooleanRuleClassifier(n_iterations=10, n_starts=1, random_state=0)
        >>> print(clf.fit(X, [0, 0, 1, 1]).describe())
        Predict 1 when x0 > 1; otherwise predict 0. On the training rows: balanced_accuracy 1.00.
        """
        template = self._template()
        client = llm if llm is not None else self.llm
        self.description_check_ = {"source": "template", "reason": None}
        if client is None:
            return template
        session = self._text_session(client)
        text, reason = self._llm_text(
            session,
            "Rewrite this description of a classification rule for a non-expert, in at most "
            "three sentences. Mention only the conditions it contains; do not add other "
            "columns or numbers.",
            template,
        )
        session.finish(what="the template")
        if reason is not None:
            self.description_check_ = {"source": "template", "reason": reason}
            return template
        self.description_check_ = {"source": "llm", "reason": None}
        return text

    def _template(self):
        check_is_fitted(self, "rule_")
        metric = self.metric if isinstance(self.metric, str) else "score"
        if self.classes_.size == 2:
            sentence = describe_rule(self.rule_, _plain(self.classes_[1]), _plain(self.classes_[0]))
            return f"{sentence} On the training rows: {metric} {self.score_:.2f}."
        lines = [
            f"Predict {_plain(label)!r} when {describe_node(rule.root)}."
            for label, rule in self._label_rules()
        ]
        lines.append(
            "When several rules fire, the class whose rule was most precise in training wins; "
            f"when none fires, predict {_plain(self.fallback_class_)!r}."
        )
        return " ".join(lines)

    def _text_session(self, client):
        """The LLM session of one :meth:`describe` or :meth:`explain` call."""
        return LLMSession(
            client,
            owner=f"{type(self).__name__}.describe/explain",
            on_llm_error=getattr(self, "on_llm_error", "fallback"),
        )

    def _llm_text(self, session, instruction, template):
        """LLM-written text checked against the rule; ``(text, None)`` or ``(None, why)``."""
        descriptions = self.feature_descriptions or {}
        used = sorted({c for rule in self._rules() for c in rule.columns()})
        context = "\n".join(
            f"- {json.dumps(c)}: {json.dumps(str(descriptions[c]))}"
            for c in used
            if c in descriptions
        )
        prompt = (
            f"{instruction}\n\nDescription:\n{template}\n"
            + (f"\nWhat the columns mean (names as JSON strings):\n{context}\n" if context else "")
            + '\nReply with JSON only: an object with one key, "text", whose value is your '
            "wording as a string."
        )
        schema = {
            "type": "object",
            "properties": {"text": {"type": "string", "minLength": 1}},
            "required": ["text"],
        }
        messages = [{"role": "user", "content": prompt}]
        extra = template + " " + " ".join(map(str, self.classes_)) + " " + context

        why = {}

        def question(llm):
            try:
                return llm.chat_json(messages, schema=schema)[0]
            except LLMError as err:
                why["reason"] = f"the LLM request failed: {err}"
                raise

        def validate(reply):
            text = reply["text"].strip()
            if not text or _PLACEHOLDER.search(text):
                why["reason"] = f"the reply repeats the format template: {text[:60]!r}"
            else:
                why["reason"] = check_description(
                    text, self._rules(), self._column_names(), extra_text=extra
                )
            if why["reason"]:
                raise ValueError(why["reason"])

        if not session.active:
            return None, "the LLM failed earlier in this call"
        reply = session.ask(question, validate=validate)
        if reply is None:
            session.fallback()
            return None, why.get("reason") or "the LLM request failed"
        return reply["text"].strip(), None

    def _llm_local(self, session, record):
        text, reason = self._llm_text(
            session,
            "Explain to a non-expert, in one or two sentences, why this row got this "
            "prediction. Mention only the conditions listed.",
            f"Prediction: {record['prediction']!r}. Conditions that held: "
            f"{record['held'] or 'none'}. Conditions that did not hold: "
            f"{record['not_held'] or 'none'}. {record['reason']}",
        )
        return text if reason is None else record["reason"]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.non_deterministic = self.llm is not None or (
            self.binarizer is not None and self.binarizer.strategy == "llm"
        )
        return tags
