"""The machinery shared by ResidualAgentRegressor and ResidualAgentClassifier.

:class:`_ResidualAgentBase` holds the parameters, reads the table, runs the
search (offline or with LLM agents) on the training and validation parts of
:mod:`._holdout` and stores what it kept; :mod:`._fitted` applies it at
predict time, exports and plots it. The two estimators add what differs by
task: the target, the default base model, the validation loss and, for
classification, the class weights and blend weight.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data
from threadpoolctl import threadpool_limits

from tabsift.expr import check_column_name
from tabsift.llm import LLMSession
from tabsift.residual._agents import LLMProposer
from tabsift.residual._correction import Correction
from tabsift.residual._fitted import _FittedCorrectionsMixin
from tabsift.residual._holdout import (
    fit_base,
    make_workspace,
    search_problem,
    weighted_split_problem,
)
from tabsift.residual._offline import OfflineProposer
from tabsift.residual._table import TableLayout, accepts_nan
from tabsift.residual._weights import _SampleWeightMixin
from tabsift.table import check_column_names, cv_splitter, is_plain_numeric
from tabsift.utils import (
    VERBOSE_CONSTRAINT,
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
    plain,
)


class _ResidualAgentBase(_FittedCorrectionsMixin, _SampleWeightMixin, BaseEstimator):
    """Base class of the residual estimators; use the regressor or the classifier.

    A subclass sets ``_task``, ``_metric`` and ``_default_base_name`` (the
    XGBoost class used when ``base_estimator`` is None) and implements the
    task's ``_check_y``, ``_validate_fit_data``, ``_encode_target``,
    ``_zero_intercept``, ``_choose_blend`` and ``_validation_loss``.
    """

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
        "verbose": VERBOSE_CONSTRAINT,
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
    def _make_base(self, seed):
        """Return a clone of ``base_estimator``, or the default XGBoost.

        The default takes categories natively when the table has them.
        """
        if self.base_estimator is not None:
            return clone(self.base_estimator)
        return self._default_base(seed, self._layout.base_input == "categories")

    def _default_base(self, seed, categories):
        import xgboost

        return getattr(xgboost, self._default_base_name)(
            n_estimators=200,
            max_depth=4,
            learning_rate=0.05,
            random_state=seed,
            n_jobs=self.n_jobs,
            enable_categorical=categories,
        )

    def _column_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _base_name(self):
        if self.base_estimator is not None:
            return type(self.base_estimator).__name__
        return self._default_base_name

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
    def _fit(self, X, y, sample_weight=None):
        check_column_names(X, owner=type(self).__name__)
        if y is not None:
            self._check_y(y)
        numbers, X_base, y = self._validate_fit_data(X, y)
        self._check_feature_descriptions(self._column_names())
        formula_names = self._layout.number_names
        usable = [name for name in formula_names if check_column_name(name) is None]
        y_enc, n_classes = self._encode_target(y)
        weights = self._check_weights(sample_weight, numbers, y)
        self._check_weighted_classes(y_enc, weights)
        base_weights = weights if self._base_takes_weights(sample_weight, weights) else None

        rng = check_random_state(self.random_state)
        split_seed, base_seed, search_seed = (
            int(s) for s in rng.randint(np.iinfo(np.int32).max, size=3)
        )
        base = self._make_base(base_seed)
        splitter = cv_splitter(self.cv, self._task, random_state=split_seed, y=y_enc)
        self.trace_ = []
        session = LLMSession(self.llm, owner=type(self).__name__, on_llm_error=self.on_llm_error)
        fit, ws, validation = None, None, {}
        problem = self._no_search_reason(numbers.shape[0], y_enc, splitter, formula_names, usable)
        if problem is None:
            # The split is drawn over rows; each row keeps its weight.
            train, val = train_test_split(
                np.arange(numbers.shape[0]),
                test_size=self.validation_fraction,
                random_state=split_seed,
                stratify=y_enc if self._task == "classification" else None,
            )
            problem = weighted_split_problem(weights, train, val, splitter.get_n_splits())
        if problem is None:
            ws = make_workspace(
                self._task,
                base,
                splitter,
                numbers,
                X_base,
                y_enc,
                (train, val),
                formula_names,
                n_classes,
                (weights, base_weights),
            )
            validation = {"X": numbers[val], "y": y_enc[val], "names": formula_names}
            fit = self._search(ws, numbers[train], formula_names, usable, search_seed, session)
        else:
            self.trace_.append(
                {
                    "step": "skip",
                    "status": "skipped",
                    "reason": f"no correction searched: {problem}",
                }
            )
        with threadpool_limits(limits=1, user_api="blas"):
            self._store_fit(ws, fit, validation)
        self._label_trace()
        self.base_estimator_ = fit_base(clone(base), X_base, y_enc, base_weights)
        session.finish(self, what="the offline proposer")
        return self

    def _no_search_reason(self, n, y, splitter, formula_names, usable):
        """Why no correction is searched (None when the search runs)."""
        problem = search_problem(
            n,
            y,
            validation_fraction=self.validation_fraction,
            n_splits=splitter.get_n_splits(),
            classification=self._task == "classification",
        )
        if problem is not None:
            return problem
        if self.n_corrections == 0:
            return "n_corrections=0"
        if not formula_names:
            return (
                "X has no number column for a formula to read (category columns reach "
                "the base model only)"
            )
        if not usable:
            return "no column name can be used in a formula"
        return None

    def _check_weighted_classes(self, y_enc, weights):
        pass

    def _label(self, target_class):
        """Return the label a user reads for an internal class position (None stays None)."""
        if target_class is None:
            return None
        return plain(self.classes_[target_class])

    def _label_trace(self):
        # The search works on class positions; what a user reads names the class.
        if self._task != "classification":
            return
        for entry in self.trace_:
            if entry.get("target_class") is not None:
                entry["target_class"] = self._label(entry["target_class"])

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

    def _store_fit(self, ws, fit, validation):
        """Set the fitted attributes from the search's ``fit`` (None: no search ran).

        ``validation`` holds the validation rows' numbers, target and column names;
        the base and corrected outputs on them are added for :func:`plot_residuals`.
        """
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
                        target_class=self._label(term.target_class),
                    )
                )
            intercept = fit.intercept
            blend = self._choose_blend(ws, fit)
        if ws is not None:
            after = self._corrected_val_output(ws, fit, blend)
            scores["base"] = ws.base_val_loss
            scores["corrected"] = self._validation_loss(ws, after)
            scores["n_train"], scores["n_validation"] = ws.n_train, ws.n_val
            validation = {**validation, "before": ws.base_val, "after": after}
        self.corrections_ = corrections
        self.intercept_ = intercept if self._task == "classification" else float(intercept)
        self.validation_scores_ = scores
        self._blend_weight = blend
        self._validation = validation

    def _corrected_val_output(self, ws, fit, blend):
        if fit is None or not fit.terms:
            return ws.base_val
        out = ws.val_output(fit)
        if self._task == "regression":
            return out
        return (1 - blend) * ws.base_val + blend * out
