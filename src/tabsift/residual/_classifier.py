"""ResidualAgentClassifier: a classifier plus explicit correction formulas in logit space."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from tabsift.residual._base import _ResidualAgentBase
from tabsift.residual._workspace import weighted_mean
from tabsift.table import check_target, class_codes
from tabsift.utils import StrOptions, fit_context

# Blend weights tried on validation (0 = base model only).
_BLEND_GRID = np.linspace(0.0, 1.0, 11)


def _true_class_log_loss(p_true, weights):
    """Log loss from the probabilities of the true classes, clipped at 1e-15.

    Not :func:`sklearn.metrics.log_loss`: that one clips at the float64 machine
    epsilon (2.2e-16), so a base model confident to below 1e-15 would score
    differently, and it warns when float32 probabilities (XGBoost's) do not sum
    to 1 within 1.5e-8.
    """
    return float(-weighted_mean(np.log(np.clip(p_true, 1e-15, 1.0)), weights))


class ResidualAgentClassifier(ClassifierMixin, _ResidualAgentBase):
    """Correct a classifier with explicit formulas in logit space (MARICL).

    The corrected probabilities are
    ``(1 - w) * base_proba + w * softmax(log base_proba + intercept_ + sum_k
    coefficient_k * f_k(x) * e_{c_k})``: each formula ``f_k`` corrects the
    logit of one class ``c_k`` (binary: the positive class; multiclass: one
    class per term, the search picks the class), and the blend weight ``w``
    is chosen on the validation rows (log loss, from 0, 0.1, ..., 1).

    Parameters
    ----------
    base_estimator : estimator, default=None
        The base model, cloned and fit on the table as described in Notes.
        None uses XGBoost (``XGBClassifier(n_estimators=200, max_depth=4,
        learning_rate=0.05)``, with ``enable_categorical=True`` when the
        table has category columns), which takes missing values and
        categories natively. Any scikit-learn classifier with
        ``predict_proba`` works; one that does not accept NaN (its
        ``allow_nan`` tag) gets an error naming the columns with missing
        values.
    llm : LLMClient, default=None
        With a client, encoder/decoder/critic agents write the corrections
        (see Notes); None uses the offline proposer, which makes no network
        call.
    n_corrections : int, default=2
        Most correction terms kept (the number of agents with ``llm``). 0
        keeps the base model as it is.
    n_rounds : int, default=10
        With ``llm``: critique-and-rewrite rounds per agent. Offline: search
        rounds (each recomputes feature relevance on what is left, tries to
        swap kept terms for better ones and tunes their constants; stops early
        when nothing changes).
    residual_fraction : float, default=0.3
        With ``llm``: the share of training rows with the largest
        out-of-fold error that prompts draw their example rows from.
    max_rows_in_prompt : int, default=15
        With ``llm``: the most example rows shown to an encoder agent.
    domain_context : str, default=None
        With ``llm``: a description of the data, shown to the agents (as
        data: instructions in it are not followed).
    feature_descriptions : dict, default=None
        With ``llm``: a description per column name, shown to the agents.
    on_llm_error : {"fallback", "raise"}, default="fallback"
        With ``llm``: what happens when the LLM fails for good (server down,
        budget spent, a refused request): ``"fallback"`` keeps the
        corrections the agents already accepted, fills the remaining slots
        with the offline proposer and issues one
        :class:`~tabsift.llm.LLMFallbackWarning`; ``"raise"`` lets the error
        propagate out of :meth:`fit`. A single unusable reply is never such a
        failure: it is counted in ``llm_report_`` and the agent goes on.
    cv : int or cross-validation generator, default=5
        Folds for the base model's out-of-fold predictions on the training
        part. An int uses a shuffled StratifiedKFold seeded by ``random_state``.
    validation_fraction : float, default=0.25
        Share of rows held out to choose corrections (and, for
        classification, the blend weight). Coefficients are fit on the rest.
    n_search_features : int, default=5
        Offline: how many of the features most related to the residuals the
        candidate terms are built from.
    min_gain : float, default=0.01
        A term is kept only if it lowers the validation loss by at least this
        fraction of the base model's validation loss, and by at least 1.5
        standard errors of the per-row loss differences.
    n_jobs : int, default=None
        Threads for the default XGBoost base model and the offline relevance
        model.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the folds, the default base model and the
        offline search. With an int and ``llm=None`` two fits are identical.
    verbose : int, bool or "auto", default="auto"
        Progress bar over rounds (offline) or agents (LLM): ``"auto"`` shows
        it once the fit has run a couple of seconds in a notebook or
        terminal, ``0`` never, ``1`` at once (the rule is in
        :mod:`tabsift.utils`).
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as in
        :class:`~sklearn.linear_model.LogisticRegression`: a dict
        ``{label: weight}``, ``"balanced"`` (``n_samples / (n_classes *
        count)``) or None (all 1). They are multiplied into ``sample_weight``
        and go wherever it goes (see Notes), the base model's ``fit``
        included.

    Attributes
    ----------
    base_estimator_ : estimator
        The base model refit on all rows (training and validation parts), on
        class indices ``0 .. n_classes - 1`` (so its ``predict_proba``
        columns follow ``classes_``).
    corrections_ : list of Correction
        The kept terms, with formula, coefficient, explanation,
        ``validation_gain`` (how much the validation loss rises when the term
        is dropped and the others refit) and ``source``.
    intercept_ : ndarray of shape (n_classes,)
        Constant added with the corrections (0 when there is none).
    trace_ : list of dict
        What the search did, step by step: ``round``, ``agent``, ``step``,
        ``hypothesis``, ``formula``, ``validation_loss``, ``critique``,
        ``status`` (accepted, rejected, candidate, info, skipped) and
        ``reason`` (for a rejected formula, the parser's or evaluator's error).
    llm_report_ : LLMReport
        What the LLM did during :meth:`fit`: requests, accepted answers,
        rejections by reason, agents done offline instead, errors (all zeros
        with ``llm=None``).
    validation_scores_ : dict
        ``metric``, and the validation loss of the ``base`` model and of the
        ``corrected`` model (None when no search ran).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    blend_weight_ : float
        Weight of the corrected probabilities (0 when there is no correction).

    See Also
    --------
    ResidualAgentRegressor : The same for regression.
    FrozenCorrections : Apply exported corrections without refitting.

    Notes
    -----
    The rows are split into a training part and a validation part
    (``validation_fraction``). The base model's predictions on the training
    part are out-of-fold (:func:`~sklearn.model_selection.cross_val_predict`
    with ``cv``), so residuals are not the in-sample ones a model has
    memorised; on the validation part they come from a base model fit on the
    training part. Coefficients are fit on the training residuals, and a term
    is kept only if it lowers the *validation* loss. Corrections are never
    clipped to a range. The final base model is refit on all rows.

    Formulas are tabsift expressions (:mod:`tabsift.expr`) over the column
    names (``x0, x1, ...`` for arrays without names). They are parsed, never
    executed: an LLM's formula that does not parse, reads an unknown column,
    gives a non-finite value or is constant is rejected and the error is
    sent back to the agent, at most twice per formula. Columns whose names a
    formula cannot hold (with a backtick or line break, or starting with
    ``__``) are left out of the search.

    Tables: ``X`` may be a raw DataFrame (or array) mixing numbers, numbers
    stored as text, placeholders such as ``?`` for missing values
    (:data:`tabsift.table.PLACEHOLDERS`), text and ``category`` columns.
    Number columns (numbers, numbers as text, booleans, dates as days) are
    read as floats with NaN where a value is missing; text and ``category``
    columns are categories. Formulas read number columns only: categories
    reach the base model alone, as pandas ``category`` columns for the
    default XGBoost base and one-hot encoded for any other base (at most
    20 categories per column, a missing one in ``(missing)``). A category
    seen in fewer than 5 rows at fit is pooled into ``(other)``, and so is
    a category unseen at fit when the column has that pool; otherwise an
    unseen category is missing (XGBoost) or sets no one-hot column.
    On a row where a column a formula reads is missing, that correction
    adds 0 there: the base model's output stands. NaN reaches the base
    model only if it accepts NaN (XGBoost does; otherwise a
    :class:`~tabsift.table.TableError` names the columns and the counts);
    infinite values are always an error. Text found at predict time in a
    column that held numbers at fit is read as missing, with a warning.

    Offline proposer: see :mod:`tabsift.residual` (xgboost TreeSHAP relevance
    on the residuals, candidate products, ratios, squares, saturations,
    thresholds and sigmoid interactions, greedy selection on validation).

    Sample weights (``fit(X, y, sample_weight=...)``) are frequencies: an
    integer weight ``k`` counts a row ``k`` times. They reach the base model's
    ``fit`` (every fold's, the held-out one's and the final refit), the
    coefficient of each correction (weighted least squares, or weighted
    logistic loss), the validation losses that accept a term, choose the
    blend weight and fill ``validation_scores_``, the relevance model of the
    offline search, and the rows shown to LLM agents (never one of weight
    0). The validation split and the folds are drawn over rows, as without
    weights, and each row keeps its weight; so a weighted fit is not the
    fit on repeated rows, whose splits differ, but every coefficient and
    loss on a given split is exactly that of the repeated rows. The total
    weight of the validation rows stands for their number in the noise
    guard of ``min_gain``, so scaling all weights changes that guard only.
    A base model whose ``fit`` has no ``sample_weight`` is an error; with
    metadata routing enabled the base model gets the weights when it
    requests them (``base.set_fit_request(sample_weight=True)``).

    Residuals shown to LLM agents are ``1 - P(true class)``; with more than
    two classes, agent ``k`` corrects the class with the ``k``-th largest
    total error of the base model. The offline search fits its relevance
    model to each class's working residual (one-hot label minus probability)
    and tries every class for every candidate.

    References
    ----------
    .. [1] "From Residuals to Reasons: LLM-Guided Mechanism Inference from
       Tabular Data", 2026 (MARICL).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from tabsift.datasets import make_missing_interaction
    >>> from tabsift.residual import ResidualAgentClassifier
    >>> data = make_missing_interaction(n_samples=600, random_state=0)
    >>> y = (data.target > np.median(data.target)).astype(int)
    >>> model = ResidualAgentClassifier(
    ...     LogisticRegression(), n_corrections=2, n_rounds=1, n_jobs=1, random_state=0
    ... ).fit(data.data, y)
    >>> sorted({column for c in model.corrections_ for column in c.columns})
    ['x1', 'x2', 'x3']
    >>> model.predict_proba(data.data[:2]).shape
    (2, 2)
    """

    _task = "classification"
    _metric = "log_loss"
    _default_base_name = "XGBClassifier"

    _parameter_constraints = {
        **_ResidualAgentBase._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        base_estimator=None,
        *,
        llm=None,
        n_corrections=2,
        n_rounds=10,
        residual_fraction=0.3,
        max_rows_in_prompt=15,
        domain_context=None,
        feature_descriptions=None,
        cv=5,
        validation_fraction=0.25,
        n_search_features=5,
        min_gain=0.01,
        on_llm_error="fallback",
        n_jobs=None,
        random_state=None,
        verbose="auto",
        class_weight=None,
    ):
        super().__init__(
            base_estimator,
            llm=llm,
            n_corrections=n_corrections,
            n_rounds=n_rounds,
            residual_fraction=residual_fraction,
            max_rows_in_prompt=max_rows_in_prompt,
            domain_context=domain_context,
            feature_descriptions=feature_descriptions,
            cv=cv,
            validation_fraction=validation_fraction,
            n_search_features=n_search_features,
            min_gain=min_gain,
            on_llm_error=on_llm_error,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight

    def _class_sample_weight(self, y):
        if self.class_weight is None:
            return None
        return compute_sample_weight(self.class_weight, y)

    def _check_weighted_classes(self, y_enc, weights):
        if weights is None:
            return
        totals = np.bincount(y_enc, weights=weights, minlength=self.classes_.size)
        kept = self.classes_[totals > 0]
        if kept.size < 2:
            raise ValueError(
                f"sample_weight leaves only the class {kept.tolist()} with a positive total "
                "weight; ResidualAgentClassifier needs at least 2 classes of positive weight. "
                "Give rows of another class a positive weight."
            )

    def _check_y(self, y):
        if self.base_estimator is not None and not hasattr(self.base_estimator, "predict_proba"):
            raise ValueError(
                f"base_estimator {type(self.base_estimator).__name__} has no predict_proba; "
                "corrections work on probabilities. Use a probabilistic classifier, or "
                "wrap it in sklearn.calibration.CalibratedClassifierCV."
            )
        check_target(y, owner=type(self).__name__)

    def _validate_fit_data(self, X, y):
        return self._read_table(X, reset=True, y=y, ensure_min_samples=2)

    def _encode_target(self, y):
        classes, y_enc = class_codes(y, owner="ResidualAgentClassifier")
        self.classes_ = classes
        return y_enc, classes.size

    def _zero_intercept(self):
        return np.zeros(self.classes_.size)

    def _choose_blend(self, ws, fit):
        corrected = ws.val_output(fit)
        rows = np.arange(ws.n_val)
        losses = [
            _true_class_log_loss(
                (1 - w) * ws.base_val[rows, ws.y_val] + w * corrected[rows, ws.y_val], ws.w_val
            )
            for w in _BLEND_GRID
        ]
        return float(_BLEND_GRID[int(np.argmin(losses))])

    def _validation_loss(self, ws, out):
        return _true_class_log_loss(out[np.arange(ws.n_val), ws.y_val], ws.w_val)

    @property
    def blend_weight_(self):
        check_is_fitted(self, "base_estimator_")
        return self._blend_weight

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the base model, find logit corrections in its out-of-fold errors, refit the base.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numbers, text and category columns; NaN where the base model
            accepts it (see Notes).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights (frequencies; None: all 1), times
            ``class_weight``. They reach the base model's ``fit``, the
            out-of-fold residuals, each correction's coefficient (weighted
            logistic loss) and the weighted validation log loss that accepts
            it and chooses the blend weight (see Notes).

        Returns
        -------
        self : ResidualAgentClassifier
            The fitted model.
        """
        return self._fit(X, y, sample_weight)

    def predict_proba(self, X):
        """Corrected class probabilities.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return self._corrected(X)

    def predict(self, X):
        """Predict the class with the highest corrected probability.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
