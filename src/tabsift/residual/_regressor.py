"""ResidualAgentRegressor: a regression model plus explicit correction formulas (MARICL)."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import mean_squared_error

from tabsift.residual._base import _ResidualAgentBase
from tabsift.table import check_target, infer_task
from tabsift.utils import fit_context


class ResidualAgentRegressor(RegressorMixin, _ResidualAgentBase):
    """Correct a regression model with explicit formulas found in its residuals (MARICL).

    Predicts ``base(x) + intercept_ + sum_k coefficient_k * f_k(x)``, where
    each ``f_k`` is a formula in tabsift's safe expression language, found
    by an offline search (``llm=None``) or by LLM agents, and kept only if it
    lowers the mean squared error on held-out rows.

    Parameters
    ----------
    base_estimator : estimator, default=None
        The base model, cloned and fit on the table as described in Notes.
        None uses XGBoost (``XGBRegressor(n_estimators=200, max_depth=4,
        learning_rate=0.05)``, with ``enable_categorical=True`` when the
        table has category columns), which takes missing values and
        categories natively. Any scikit-learn regressor works; one that does
        not accept NaN (its ``allow_nan`` tag) gets an error naming the
        columns with missing values.
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
        part. An int uses a shuffled KFold seeded by ``random_state``.
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

    Attributes
    ----------
    base_estimator_ : estimator
        The base model refit on all rows (training and validation parts).
    corrections_ : list of Correction
        The kept terms, with formula, coefficient, explanation,
        ``validation_gain`` (how much the validation loss rises when the term
        is dropped and the others refit) and ``source``.
    intercept_ : float
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

    See Also
    --------
    ResidualAgentClassifier : The same for classification.
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

    References
    ----------
    .. [1] "From Residuals to Reasons: LLM-Guided Mechanism Inference from
       Tabular Data", 2026 (MARICL).

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from tabsift.datasets import make_missing_interaction
    >>> from tabsift.residual import ResidualAgentRegressor
    >>> data = make_missing_interaction(n_samples=400, random_state=0)
    >>> model = ResidualAgentRegressor(
    ...     LinearRegression(), n_corrections=2, n_rounds=2, n_jobs=1, random_state=0
    ... ).fit(data.data, data.target)
    >>> [c.expression for c in model.corrections_]
    ['x3 ** 2', 'x1 * x2 / (1.28 + abs(x1 * x2))']
    >>> scores = model.validation_scores_
    >>> bool(scores["corrected"] < 0.2 * scores["base"])
    True
    """

    _task = "regression"
    _metric = "mean_squared_error"
    _default_base_name = "XGBRegressor"

    def _check_y(self, y):
        check_target(y, owner=type(self).__name__)
        infer_task(y, "regression", owner=type(self).__name__, classifier="ResidualAgentClassifier")

    def _validate_fit_data(self, X, y):
        return self._read_table(X, reset=True, y=y, y_numeric=True, ensure_min_samples=2)

    def _encode_target(self, y):
        y = np.asarray(y, dtype=np.float64)
        return y, None

    def _zero_intercept(self):
        return 0.0

    def _choose_blend(self, ws, fit):
        return 1.0

    def _validation_loss(self, ws, out):
        return float(mean_squared_error(ws.y_val, out, sample_weight=ws.w_val))

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the base model, find corrections in its out-of-fold residuals, refit the base.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numbers, text and category columns; NaN where the base model
            accepts it (see Notes).
        y : array-like of shape (n_samples,)
            The numeric target (text targets: use
            :class:`ResidualAgentClassifier`).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights (frequencies; None: all 1). They reach
            the base model's ``fit``, the out-of-fold residuals, each
            correction's coefficient (weighted least squares) and the
            weighted validation loss that accepts it (see Notes).

        Returns
        -------
        self : ResidualAgentRegressor
            The fitted model.
        """
        return self._fit(X, y, sample_weight)

    def predict(self, X):
        """Predict with the base model plus the corrections.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._corrected(X)
