"""BooleanRuleClassifier: one expressive Boolean rule per class, learned by simulated annealing.

The class is thin: its parameters' constraints are :mod:`._classifier_params`',
the steps of a fit :mod:`._classifier_fit`'s (the search :mod:`._orchestration`'s),
the decision from fired rules :mod:`._decision`'s, and the reading methods
(text, dict, plot, explanations, description) are :mod:`._presentation`'s.
"""

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

import tabsift.rules._presentation as _presentation
from tabsift.backend import asarray, device, namespace_name, to_numpy
from tabsift.rules._classifier_fit import fit_classifier
from tabsift.rules._classifier_params import PARAMETER_CONSTRAINTS
from tabsift.rules._columns import _input_namespace, check_input
from tabsift.rules._decision import decide, fired_matrix
from tabsift.rules._nodes import OPERATORS
from tabsift.utils import fit_context


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
        from two counts. With ``sample_weight`` or ``class_weight`` the
        metric is weighted (its counts are sums of row weights) and a
        callable is called as ``metric(y_true, y_pred, sample_weight=w)``,
        as scikit-learn's metrics accept.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight``:
        ``"balanced"`` weighs class ``c`` by ``n_samples / (n_classes *
        n_c)`` (counts summed over ``sample_weight``), a dict gives
        ``{class: weight}`` (1 for classes not named). With the default
        ``metric="balanced_accuracy"`` and a binary target, class weights
        cancel out of the metric; they still change :attr:`precision_`, the multiclass
        fallback class and :meth:`predict_proba`. With ``metric="accuracy"``,
        ``"balanced"`` makes the search maximise balanced accuracy.
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
    verbose : int, bool or "auto", default="auto"
        Progress bar over the search's starts: ``"auto"`` shows it once the fit has run a couple of
        seconds in a notebook or terminal, ``0`` never, ``1`` at once (the
        rule is in :mod:`tabsift.utils`).

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

    _parameter_constraints = PARAMETER_CONSTRAINTS

    def __init__(
        self,
        max_depth=3,
        *,
        max_complexity=6,
        operators=OPERATORS,
        regularization=1e-4,
        metric="balanced_accuracy",
        class_weight=None,
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
        verbose="auto",
    ):
        self.max_depth = max_depth
        self.max_complexity = max_complexity
        self.operators = operators
        self.regularization = regularization
        self.metric = metric
        self.class_weight = class_weight
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

    # --------------------------------------------------------------------- fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Binarise ``X`` and search the best rule (per class).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Raw numeric and/or categorical columns: numbers stored as text,
            placeholders such as ``?`` (missing) and NaN allowed (see
            :class:`Binarizer`; a column without any value is left out).
        y : array-like of shape (n_samples,)
            Class labels (numbers, text or bool), at least 2 classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights (times ``class_weight``, if given). A
            row of integer weight ``k`` counts as ``k`` copies of it: in the
            ``metric`` the search maximises (its confusion counts are sums
            of weights), in the binariser's quantile thresholds and their
            refinement (weighted quantiles), in ``precision_``, the fallback
            class, :meth:`predict_proba`'s class frequencies and
            ``feature_importances_``. Rows of weight 0 are left out. The
            starts' row samples (``max_samples``) are drawn uniformly over
            the rows of positive weight, each row keeping its weight, so a
            fit equals the fit on repeated rows exactly when no start
            sub-samples (both fits have at most ``max_samples`` rows, or
            ``max_samples=None``). ``None`` weighs every row 1.

        Returns
        -------
        self : BooleanRuleClassifier

        Raises
        ------
        TableError
            If ``X`` has duplicate column names, or ``y`` has missing values.
        """
        return fit_classifier(self, X, y, sample_weight)

    # ----------------------------------------------------------------- predict
    def _binarize(self, X):
        """Return the literal matrix of ``X`` and the namespace it lives in (see :meth:`predict`)."""
        check_is_fitted(self, "rule_")
        xp, native = _input_namespace(X)
        if native:
            # An array of another library stays there: only its shape and names are checked
            # here (the binariser checks dtype and values there).
            validate_data(self, X, reset=False, skip_check_array=True)
            return self.binarizer_.transform(X), xp
        return self.binarizer_.transform(check_input(self, X, reset=False)), xp

    def _rules(self):
        return [self.rule_] if self.classes_.size == 2 else list(self.rule_)

    def _decide(self, Z, xp):
        """Return the fired rules and the predicted class index per row of the literal matrix."""
        fired = fired_matrix(self._rules(), Z, xp)
        return fired, decide(fired, self.precision_, self._fallback, self.classes_.size, xp)

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
        _, decided = self._decide(Z, xp)
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
        _, decided = self._decide(Z, xp)
        where = device(decided)
        onehot = xp.take(
            xp.eye(self.classes_.size, dtype=xp.float64, device=where), decided, axis=0
        )
        freq = xp.take(asarray(self._cell_freq, xp=xp, dtype="float64"), decided, axis=0)
        return 0.5 * onehot + 0.5 * freq

    # The reading methods, defined in _presentation.py; assigned here (not inherited) so
    # they are documented as this class's own.
    export_text = _presentation.export_text
    to_dict = _presentation.to_dict
    plot = _presentation.plot
    explain = _presentation.explain
    describe = _presentation.describe

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.non_deterministic = self.llm is not None or (
            self.binarizer is not None and self.binarizer.strategy == "llm"
        )
        return tags
