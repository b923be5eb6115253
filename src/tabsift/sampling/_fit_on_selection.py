"""FitOnSelection: train a model on a selector's rows, weighted by what each row stands for."""

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from tabsift.utils import HasMethods


def _estimator_has(attr):
    """``available_if`` check: the fitted (else the given) estimator has ``attr``."""

    def check(self):
        return hasattr(getattr(self, "estimator_", self.estimator), attr)

    return check


class FitOnSelection(MetaEstimatorMixin, BaseEstimator):
    """Select rows with a selector, then fit an estimator on them with their weights.

    ``fit`` runs ``selector.fit_resample(X, y)`` and fits ``estimator`` on the
    kept rows with ``sample_weight=selector.sample_weight_``, the mass each
    kept row stands for, so the model is trained on the coreset as if on the
    whole table. ``predict``, ``predict_proba``, ``decision_function`` and
    ``score`` are the estimator's.

    imbalanced-learn's ``Pipeline`` cannot do this: a sampler step returns
    rows and targets only, and a ``sample_weight`` routed to the final step
    has one value per input row, not per kept row. Put ``FitOnSelection`` as
    the last step instead (or use it alone); the selector's parameters stay
    tunable, e.g. ``selector__n_samples`` in ``GridSearchCV``.

    Parameters
    ----------
    selector : object
        A sampler with ``fit_resample`` (a tabsift selector, or any
        imbalanced-learn sampler); with ``use_weights=True`` it must set
        ``sample_weight_``. Cloned before fitting.
    estimator : object
        The model trained on the kept rows; with ``use_weights=True`` its
        ``fit`` must take ``sample_weight``. Cloned before fitting.
    use_weights : bool, default=True
        Pass the selector's ``sample_weight_`` to ``estimator.fit``. False
        trains on the kept rows as they are (each counts once).

    Attributes
    ----------
    selector_ : object
        The fitted selector (``sample_indices_``, ``sample_weight_``).
    estimator_ : object
        The estimator fitted on the kept rows.
    classes_ : ndarray of shape (n_classes,)
        The estimator's classes (classifiers only).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    KCenterSelector : A coverage coreset whose weights count the rows covered.
    imblearn.pipeline.Pipeline : Chains samplers and models, without weights.

    Notes
    -----
    ``fit(X, y, sample_weight=w)`` passes ``w`` to the selector, which
    accounts for it in its budgets and in ``sample_weight_`` (the weights of
    the kept rows then sum to the total of ``w``); the estimator gets
    ``sample_weight_`` only. With metadata routing enabled, request it with
    ``set_fit_request(sample_weight=True)`` as for any estimator.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from tabsift.datasets import make_rare_region
    >>> from tabsift.sampling import FitOnSelection, KCenterSelector
    >>> data = make_rare_region(n_samples=2000, random_state=0)
    >>> model = FitOnSelection(KCenterSelector(n_samples=100, random_state=0),
    ...                        estimator=LogisticRegression())
    >>> model.fit(data.data, data.target).predict(data.data.iloc[:3]).shape
    (3,)
    >>> float(model.selector_.sample_weight_.sum())  # the kept rows stand for all 2000
    2000.0
    """

    _parameter_constraints = {
        "selector": [HasMethods(["fit_resample"])],
        "estimator": [HasMethods(["fit"])],
        "use_weights": ["boolean"],
    }

    def __init__(self, selector, *, estimator, use_weights=True):
        self.selector = selector
        self.estimator = estimator
        self.use_weights = use_weights

    def fit(self, X, y, sample_weight=None):
        """Select rows of ``X``, then fit the estimator on them.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The table, in any form the selector and the estimator accept.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Input weights, passed to the selector's ``fit_resample`` (a
            selector that does not take them raises).

        Returns
        -------
        self : object
            The fitted meta-estimator.
        """
        self._validate_params()
        selector = clone(self.selector)
        estimator = clone(self.estimator)
        if self.use_weights and not has_fit_parameter(estimator, "sample_weight"):
            raise ValueError(
                f"use_weights=True passes the selector's sample_weight_ to the estimator, but "
                f"{type(estimator).__name__}.fit does not take sample_weight: choose an "
                "estimator that does, or pass use_weights=False."
            )
        params = {} if sample_weight is None else {"sample_weight": sample_weight}
        X_sel, y_sel = selector.fit_resample(X, y, **params)[:2]
        fit_params = {}
        if self.use_weights:
            weights = getattr(selector, "sample_weight_", None)
            if weights is None:
                raise ValueError(
                    f"use_weights=True needs the selector's sample_weight_, but "
                    f"{type(selector).__name__} does not set it: pass use_weights=False, or "
                    "use a selector that weighs its rows (e.g. KCenterSelector)."
                )
            fit_params["sample_weight"] = np.asarray(weights, dtype=np.float64)
        self.estimator_ = estimator.fit(X_sel, y_sel, **fit_params)
        self.selector_ = selector
        self.n_features_in_ = selector.n_features_in_
        if hasattr(selector, "feature_names_in_"):
            self.feature_names_in_ = selector.feature_names_in_
        return self

    @property
    def classes_(self):
        """The estimator's class labels."""
        check_is_fitted(self)
        return self.estimator_.classes_

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Return the estimator's predictions for ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predictions.
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Return the estimator's class probabilities for ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities, columns in ``classes_`` order.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Return the estimator's log class probabilities for ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log class probabilities.
        """
        check_is_fitted(self)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Return the estimator's decision function for ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray
            The estimator's decision values.
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Return the estimator's score on ``(X, y)``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,)
            True targets.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Weights of the test rows.

        Returns
        -------
        score : float
            Accuracy for classifiers, R^2 for regressors (the estimator's ``score``).
        """
        check_is_fitted(self)
        params = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self.estimator_.score(X, y, **params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.target_tags.required = True
        # The table goes to the selector first: what it accepts (tabsift's selectors take
        # text, categories and missing values), the estimator then sees the kept rows.
        outer = self.selector.__sklearn_tags__().input_tags
        tags.input_tags.sparse = outer.sparse and inner.input_tags.sparse
        tags.input_tags.allow_nan = outer.allow_nan and inner.input_tags.allow_nan
        tags.input_tags.string = outer.string
        return tags
