"""ResidualAgentRegressor and ResidualAgentClassifier: explicit corrections on top of a base model."""

import json
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, clone
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from tabsift.expr._nodes import check_column_name
from tabsift.llm import LLMSession
from tabsift.residual._agents import LLMProposer
from tabsift.residual._correction import (
    Correction,
    apply_corrections,
    column_data,
    term_matrix,
)
from tabsift.residual._format import corrections_to_dict
from tabsift.residual._offline import OfflineProposer
from tabsift.residual._table import TableLayout, accepts_nan
from tabsift.residual._workspace import Workspace
from tabsift.table import (
    check_column_names,
    check_target,
    cv_splitter,
    infer_task,
    is_plain_numeric,
)
from tabsift.utils import atomic_write_text

# Blend weights tried on validation for classification (0 = base model only).
_BLEND_GRID = np.linspace(0.0, 1.0, 11)
# Fewer validation rows than this (or too few training rows for the folds) and
# no correction is searched: the base model is used as it is.
_MIN_VALIDATION_ROWS = 5


def _rows(X, index):
    """Rows ``index`` of an array or a DataFrame (the base model's input)."""
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


class _ResidualAgentBase(BaseEstimator):
    _parameter_constraints = {
        "base_estimator": [HasMethods(["fit", "predict"]), None],
        "llm": [HasMethods(["chat_json"]), None],
        "n_corrections": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_rounds": [Interval(numbers.Integral, 1, None, closed="left")],
        "residual_fraction": [Interval(RealNotInt, 0, 1, closed="right")],
        "max_rows_in_prompt": [Interval(numbers.Integral, 1, None, closed="left")],
        "domain_context": [str, None],
        "feature_descriptions": [dict, None],
        "cv": [Interval(numbers.Integral, 2, None, closed="left"), "cv_object"],
        "validation_fraction": [Interval(RealNotInt, 0, 1, closed="neither")],
        "n_search_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_gain": [Interval(numbers.Real, 0, None, closed="left")],
        "on_llm_error": [StrOptions({"fallback", "raise"})],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _make_base(self, seed):
        """A clone of ``base_estimator``, or the default XGBoost (categories native when the
        table has them)."""
        if self.base_estimator is not None:
            return clone(self.base_estimator)
        return self._default_base(seed, self._layout.base_input == "categories")

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
        verbose=0,
    ):
        self.base_estimator = base_estimator
        self.llm = llm
        self.n_corrections = n_corrections
        self.n_rounds = n_rounds
        self.residual_fraction = residual_fraction
        self.max_rows_in_prompt = max_rows_in_prompt
        self.domain_context = domain_context
        self.feature_descriptions = feature_descriptions
        self.cv = cv
        self.validation_fraction = validation_fraction
        self.n_search_features = n_search_features
        self.min_gain = min_gain
        self.on_llm_error = on_llm_error
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # An LLM's replies can differ between runs even with a seed.
        tags.non_deterministic = self.llm is not None
        # Text and category columns are read as categories (see Notes).
        tags.input_tags.string = True
        base = self.base_estimator
        tags.input_tags.allow_nan = base is None or accepts_nan(base)
        return tags

    # ------------------------------------------------------------ helpers
    def _column_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _base_name(self):
        if self.base_estimator is not None:
            return type(self.base_estimator).__name__
        return self._default_base_name

    def _can_search(self, n, y, splitter):
        n_val = int(np.ceil(self.validation_fraction * n))
        n_train = n - n_val
        n_splits = splitter.get_n_splits()
        if n_val < _MIN_VALIDATION_ROWS or n_train < 2 * n_splits:
            return (
                f"{n} rows are too few to hold out {self.validation_fraction:.0%} for "
                f"validation and run {n_splits}-fold cross-validation on the rest"
            )
        if self._task == "classification":
            counts = np.bincount(y)
            if counts.min() < n_splits + 2:
                return (
                    f"the rarest class has {counts.min()} rows; at least {n_splits + 2} are "
                    "needed for the validation split and the folds"
                )
        return None

    def _check_feature_descriptions(self, names):
        if not self.feature_descriptions:
            return
        unknown = [k for k in self.feature_descriptions if str(k) not in names]
        if unknown:
            raise ValueError(
                f"feature_descriptions names column(s) {unknown[:5]} that are not in X; the "
                f"columns are: {', '.join(names[:20])}. Fix the keys."
            )

    def _read_table(self, X, *, reset, **fit_checks):
        """Validate ``X`` and return ``(numbers, base input, y)`` (see :mod:`._table`).

        Plain numeric input goes through ``validate_data`` as float64, exactly as
        before; any other table is validated as objects and read column by column.
        At fit, ``fit_checks`` holds ``y`` and its checks for ``validate_data``.
        """
        plain = is_plain_numeric(X)
        dtype = np.float64 if plain else None
        y = None
        if fit_checks:
            checked, y = validate_data(
                self, X, reset=reset, dtype=dtype, ensure_all_finite=False, **fit_checks
            )
        else:
            checked = validate_data(self, X, reset=reset, dtype=dtype, ensure_all_finite=False)
        source = X if not plain and type(X).__module__.startswith("pandas") else checked
        if reset:
            self._layout = TableLayout.from_table(
                source,
                self._column_names(),
                native_categories=self.base_estimator is None,
            )
        owner = f"{type(self).__name__} with base {self._base_name()}"
        numbers, cats = self._layout.read(source, owner=owner)
        self._layout.check_numbers(
            numbers,
            owner=owner,
            nan_ok=self.base_estimator is None or accepts_nan(self.base_estimator),
            base_name=self._base_name(),
        )
        return numbers, self._layout.base_matrix(numbers, cats), y

    # ------------------------------------------------------------ fit
    def _fit(self, X, y):
        check_column_names(X, owner=type(self).__name__)
        if y is not None:
            self._check_y(y)
        numbers, X_base, y = self._validate_fit_data(X, y)
        names = self._column_names()
        self._check_feature_descriptions(names)
        formula_names = self._layout.number_names
        usable = [name for name in formula_names if check_column_name(name) is None]
        y_enc, n_classes = self._encode_target(y)

        rng = check_random_state(self.random_state)
        split_seed, base_seed, search_seed = (
            int(s) for s in rng.randint(np.iinfo(np.int32).max, size=3)
        )
        base = self._make_base(base_seed)
        splitter = cv_splitter(self.cv, self._task, random_state=split_seed, y=y_enc)
        self.trace_ = []
        session = LLMSession(self.llm, owner=type(self).__name__, on_llm_error=self.on_llm_error)
        fit, ws = None, None
        problem = self._can_search(numbers.shape[0], y_enc, splitter)
        if problem is None and self.n_corrections > 0 and usable:
            stratify = y_enc if self._task == "classification" else None
            train, val = train_test_split(
                np.arange(numbers.shape[0]),
                test_size=self.validation_fraction,
                random_state=split_seed,
                stratify=stratify,
            )
            ws = self._workspace(
                base, splitter, numbers, X_base, y_enc, train, val, formula_names, n_classes
            )
            fit = self._search(ws, numbers[train], formula_names, usable, search_seed, session)
        else:
            if problem is None and self.n_corrections == 0:
                problem = "n_corrections=0"
            elif problem is None and not formula_names:
                problem = (
                    "X has no number column for a formula to read (category columns reach "
                    "the base model only)"
                )
            elif problem is None:
                problem = "no column name can be used in a formula"
            self.trace_.append(
                {
                    "step": "skip",
                    "status": "skipped",
                    "reason": f"no correction searched: {problem}",
                }
            )
        with threadpool_limits(limits=1, user_api="blas"):
            self._store_fit(ws, fit)
        self.base_estimator_ = clone(base).fit(X_base, y_enc)
        session.finish(self, what="the offline proposer")
        return self

    def _search(self, ws, X_train, names, usable, search_seed, session):
        # The search solves thousands of tiny least-squares and logistic problems: BLAS
        # threads only add overhead there (and stall badly on a busy machine).
        offline = OfflineProposer(
            n_corrections=self.n_corrections,
            n_rounds=self.n_rounds,
            n_features=self.n_search_features,
            min_gain=self.min_gain,
            random_state=search_seed,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
        )
        with threadpool_limits(limits=1, user_api="blas"):
            if self.llm is None:
                return offline.propose(ws, X_train, names, usable, self.trace_)
            proposer = LLMProposer(
                session,
                n_corrections=self.n_corrections,
                n_rounds=self.n_rounds,
                residual_fraction=self.residual_fraction,
                max_rows_in_prompt=self.max_rows_in_prompt,
                domain_context=self.domain_context,
                feature_descriptions=self.feature_descriptions,
                min_gain=self.min_gain,
                class_names=getattr(self, "classes_", None),
                random_state=search_seed,
                verbose=self.verbose,
            )
            fit = proposer.propose(ws, usable, self.trace_)
            if session.report.failed and len(fit.terms) < self.n_corrections:
                # The LLM failed for good: the offline proposer fills the free slots,
                # leaving the corrections the agents had accepted as they are.
                fit = offline.propose(ws, X_train, names, usable, self.trace_, start=fit)
            return fit

    def _workspace(self, base, splitter, numbers, X_base, y, train, val, names, n_classes):
        method = "predict" if self._task == "regression" else "predict_proba"
        X_train, X_val = _rows(X_base, train), _rows(X_base, val)
        oof = cross_val_predict(clone(base), X_train, y[train], cv=splitter, method=method)
        held = clone(base).fit(X_train, y[train])
        base_val = getattr(held, method)(X_val)
        self._validation = {"X": numbers[val], "y": y[val], "names": names}
        return Workspace(
            self._task,
            column_data(numbers[train], names),
            column_data(numbers[val], names),
            y[train],
            y[val],
            np.asarray(oof, dtype=np.float64),
            np.asarray(base_val, dtype=np.float64),
            n_classes,
        )

    def _store_fit(self, ws, fit):
        corrections, intercept, blend = [], self._zero_intercept(), 0.0
        scores = {"metric": self._metric, "base": None, "corrected": None}
        if fit is not None and fit.terms:
            for k, term in enumerate(fit.terms):
                without = ws.fit(fit.terms[:k] + fit.terms[k + 1 :])
                corrections.append(
                    Correction(
                        expression=str(term.expression),
                        coefficient=float(fit.coefficients[k]),
                        explanation=term.explanation,
                        validation_gain=without.val_loss - fit.val_loss,
                        source=term.source,
                        target_class=term.target_class,
                    )
                )
            intercept = fit.intercept
            blend = self._choose_blend(ws, fit)
        if ws is not None:
            scores["base"] = ws.base_val_loss
            scores["corrected"] = self._corrected_val_loss(ws, fit, blend)
            scores["n_train"], scores["n_validation"] = ws.n_train, ws.n_val
            self._validation["before"] = ws.base_val
            self._validation["after"] = self._corrected_val_output(ws, fit, blend)
        self.corrections_ = corrections
        self.intercept_ = intercept if self._task == "classification" else float(intercept)
        self.validation_scores_ = scores
        self._blend_weight = blend

    def _corrected_val_output(self, ws, fit, blend):
        if fit is None or not fit.terms:
            return ws.base_val
        out = ws.val_output(fit)
        if self._task == "regression":
            return out
        return (1 - blend) * ws.base_val + blend * out

    def _corrected_val_loss(self, ws, fit, blend):
        out = self._corrected_val_output(ws, fit, blend)
        if self._task == "regression":
            return float(np.mean((ws.y_val - out) ** 2))
        p = np.clip(out[np.arange(ws.n_val), ws.y_val], 1e-15, 1.0)
        return float(-np.mean(np.log(p)))

    # ------------------------------------------------------------ predict
    def _base_output(self, X_base):
        if self._task == "regression":
            return self.base_estimator_.predict(X_base)
        return self.base_estimator_.predict_proba(X_base)

    def _corrected(self, X):
        check_is_fitted(self, "base_estimator_")
        numbers, X_base, _ = self._read_table(X, reset=False)
        terms = term_matrix(
            self.corrections_,
            column_data(numbers, self._layout.number_names),
            numbers.shape[0],
        )
        return apply_corrections(
            self._task,
            self._base_output(X_base),
            self.intercept_,
            self.corrections_,
            terms,
            self._blend_weight,
        )

    def predict_base(self, X):
        """Predict with the fitted base model alone, reading ``X`` as :meth:`fit` did.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The base model's values (regression) or most probable classes,
            without any correction.

        Examples
        --------
        >>> from sklearn.linear_model import LinearRegression
        >>> from tabsift.datasets import make_missing_interaction
        >>> from tabsift.residual import ResidualAgentRegressor
        >>> data = make_missing_interaction(n_samples=200, random_state=0)
        >>> model = ResidualAgentRegressor(
        ...     LinearRegression(), n_corrections=0, n_jobs=1, random_state=0
        ... ).fit(data.data, data.target)
        >>> bool((model.predict_base(data.data) == model.predict(data.data)).all())
        True
        """
        check_is_fitted(self, "base_estimator_")
        _, X_base, _ = self._read_table(X, reset=False)
        out = self._base_output(X_base)
        if self._task == "regression":
            return out
        return self.classes_[np.argmax(out, axis=1)]

    # ------------------------------------------------------------ export
    def export_corrections(self, path=None):
        """Return the fitted corrections as a JSON-able dict, and write them to ``path``.

        The file is written atomically. :class:`FrozenCorrections` applies it,
        with the prefit ``base_estimator_``, to new data without any LLM call.

        Parameters
        ----------
        path : str or path-like, default=None
            Where to write the JSON file; None only returns the dict.

        Returns
        -------
        data : dict
            Format name and version, task, feature names, classes, intercept,
            blend weight and the corrections (formula text and syntax tree,
            coefficient, explanation, validation gain, source, target class).

        Examples
        --------
        >>> from sklearn.linear_model import LinearRegression
        >>> from tabsift.datasets import make_missing_interaction
        >>> from tabsift.residual import ResidualAgentRegressor
        >>> data = make_missing_interaction(n_samples=300, random_state=0)
        >>> model = ResidualAgentRegressor(
        ...     LinearRegression(), n_corrections=1, n_rounds=1, n_jobs=1, random_state=0
        ... ).fit(data.data, data.target)
        >>> model.export_corrections()["corrections"][0]["expression"]
        'x3 ** 2'
        """
        check_is_fitted(self, "base_estimator_")
        data = corrections_to_dict(
            task=self._task,
            feature_names=self._column_names(),
            classes=getattr(self, "classes_", None),
            intercept=self.intercept_,
            blend_weight=self._blend_weight,
            corrections=self.corrections_,
            extra={
                "estimator": type(self).__name__,
                "base_estimator": type(self.base_estimator_).__name__,
                "validation_scores": self.validation_scores_,
                "table": self._layout.to_dict(),
            },
        )
        if path is not None:
            atomic_write_text(path, json.dumps(data, indent=2))
        return data

    def plot_residuals(self, feature=None, ax=None):
        """Plot validation residuals against implicated features, before and after correction.

        See :func:`tabsift.residual.plot_residuals`.

        Parameters
        ----------
        feature : str, default=None
            The column on the x axis; by default one panel per column the
            corrections read (at most 4), or the first column when there is
            no correction.
        ax : matplotlib Axes, default=None
            Where to draw (needs a single panel); a new figure by default.

        Returns
        -------
        axes : matplotlib Axes or ndarray of Axes
            The Axes when one panel is drawn, else an array of them.

        Examples
        --------
        >>> from sklearn.linear_model import LinearRegression
        >>> from tabsift.datasets import make_missing_interaction
        >>> from tabsift.residual import ResidualAgentRegressor
        >>> data = make_missing_interaction(n_samples=300, random_state=0)
        >>> model = ResidualAgentRegressor(
        ...     LinearRegression(), n_corrections=1, n_rounds=1, n_jobs=1, random_state=0
        ... ).fit(data.data, data.target)
        >>> ax = model.plot_residuals(feature="x1")
        >>> ax.get_xlabel()
        'x1'
        """
        from tabsift.residual._plot import plot_residuals

        return plot_residuals(self, feature=feature, ax=ax)


_SHARED_PARAMETERS = """
    base_estimator : estimator, default=None
        The base model, cloned and fit on the table as described in Notes.
        None uses XGBoost (``XGB{kind}(n_estimators=200, max_depth=4,
        learning_rate=0.05)``, with ``enable_categorical=True`` when the
        table has category columns), which takes missing values and
        categories natively. Any scikit-learn {kind_lower}{proba} works; one
        that does not accept NaN (its ``allow_nan`` tag) gets an error naming
        the columns with missing values.
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
    on_llm_error : {{"fallback", "raise"}}, default="fallback"
        With ``llm``: what happens when the LLM fails for good (server down,
        budget spent, a refused request): ``"fallback"`` keeps the
        corrections the agents already accepted, fills the remaining slots
        with the offline proposer and issues one
        :class:`~tabsift.llm.LLMFallbackWarning`; ``"raise"`` lets the error
        propagate out of :meth:`fit`. A single unusable reply is never such a
        failure: it is counted in ``llm_report_`` and the agent goes on.
    cv : int or cross-validation generator, default=5
        Folds for the base model's out-of-fold predictions on the training
        part. An int uses a shuffled {splitter} seeded by ``random_state``.
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
    verbose : int, default=0
        1 shows a progress bar over rounds (offline) or agents (LLM).
"""

_SHARED_ATTRIBUTES = """
    base_estimator_ : estimator
        The base model refit on all rows (training and validation parts){refit_note}.
    corrections_ : list of Correction
        The kept terms, with formula, coefficient, explanation,
        ``validation_gain`` (how much the validation loss rises when the term
        is dropped and the others refit) and ``source``.
    intercept_ : {intercept_type}
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
"""

_NOTES = """
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
"""


class ResidualAgentRegressor(RegressorMixin, _ResidualAgentBase):
    __doc__ = (
        """Correct a regression model with explicit formulas found in its residuals (MARICL).

    Predicts ``base(x) + intercept_ + sum_k coefficient_k * f_k(x)``, where
    each ``f_k`` is a formula in tabsift's safe expression language, found
    by an offline search (``llm=None``) or by LLM agents, and kept only if it
    lowers the mean squared error on held-out rows.

    Parameters
    ----------"""
        + _SHARED_PARAMETERS.format(
            kind="Regressor", kind_lower="regressor", proba="", splitter="KFold"
        )
        + """
    Attributes
    ----------"""
        + _SHARED_ATTRIBUTES.format(refit_note="", intercept_type="float")
        + """
    See Also
    --------
    ResidualAgentClassifier : The same for classification.
    FrozenCorrections : Apply exported corrections without refitting.
"""
        + _NOTES
        + """
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
    ['x3 ** 2', 'sigmoid(1.98 * x1 * x2)']
    >>> scores = model.validation_scores_
    >>> bool(scores["corrected"] < 0.2 * scores["base"])
    True
    """
    )

    _task = "regression"
    _metric = "mean_squared_error"
    _default_base_name = "XGBRegressor"

    def _default_base(self, seed, categories):
        import xgboost

        return xgboost.XGBRegressor(
            n_estimators=200,
            max_depth=4,
            learning_rate=0.05,
            random_state=seed,
            n_jobs=self.n_jobs,
            enable_categorical=categories,
        )

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

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the base model, find corrections in its out-of-fold residuals, refit the base.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numbers, text and category columns; NaN where the base model
            accepts it (see Notes).
        y : array-like of shape (n_samples,)
            The numeric target (text targets: use
            :class:`ResidualAgentClassifier`).

        Returns
        -------
        self : ResidualAgentRegressor
            The fitted model.
        """
        return self._fit(X, y)

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


class ResidualAgentClassifier(ClassifierMixin, _ResidualAgentBase):
    __doc__ = (
        """Correct a classifier with explicit formulas in logit space (MARICL).

    The corrected probabilities are
    ``(1 - w) * base_proba + w * softmax(log base_proba + intercept_ + sum_k
    coefficient_k * f_k(x) * e_{c_k})``: each formula ``f_k`` corrects the
    logit of one class ``c_k`` (binary: the positive class; multiclass: one
    class per term, the search picks the class), and the blend weight ``w``
    is chosen on the validation rows (log loss, from 0, 0.1, ..., 1).

    Parameters
    ----------"""
        + _SHARED_PARAMETERS.format(
            kind="Classifier",
            kind_lower="classifier",
            proba=" with ``predict_proba``",
            splitter="StratifiedKFold",
        )
        + """
    Attributes
    ----------"""
        + _SHARED_ATTRIBUTES.format(
            refit_note=", on class indices ``0 .. n_classes - 1`` (so its "
            "``predict_proba`` columns follow ``classes_``)",
            intercept_type="ndarray of shape (n_classes,)",
        )
        + """    classes_ : ndarray of shape (n_classes,)
        The class labels.
    blend_weight_ : float
        Weight of the corrected probabilities (0 when there is no correction).

    See Also
    --------
    ResidualAgentRegressor : The same for regression.
    FrozenCorrections : Apply exported corrections without refitting.
"""
        + _NOTES
        + """
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
    )

    _task = "classification"
    _metric = "log_loss"
    _default_base_name = "XGBClassifier"

    def _default_base(self, seed, categories):
        import xgboost

        return xgboost.XGBClassifier(
            n_estimators=200,
            max_depth=4,
            learning_rate=0.05,
            random_state=seed,
            n_jobs=self.n_jobs,
            enable_categorical=categories,
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
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                f"y has only 1 class ({classes[0]!r}); ResidualAgentClassifier needs at least "
                "2 classes."
            )
        self.classes_ = classes
        return y_enc.astype(np.int64), classes.size

    def _zero_intercept(self):
        return np.zeros(self.classes_.size)

    def _choose_blend(self, ws, fit):
        corrected = ws.val_output(fit)
        rows = np.arange(ws.n_val)
        losses = []
        for w in _BLEND_GRID:
            p = (1 - w) * ws.base_val[rows, ws.y_val] + w * corrected[rows, ws.y_val]
            losses.append(-np.mean(np.log(np.clip(p, 1e-15, 1.0))))
        return float(_BLEND_GRID[int(np.argmin(losses))])

    @property
    def blend_weight_(self):
        check_is_fitted(self, "base_estimator_")
        return self._blend_weight

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the base model, find logit corrections in its out-of-fold errors, refit the base.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numbers, text and category columns; NaN where the base model
            accepts it (see Notes).
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : ResidualAgentClassifier
            The fitted model.
        """
        return self._fit(X, y)

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
