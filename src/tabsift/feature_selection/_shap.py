"""Feature selection by mean absolute SHAP value of a gradient-boosted tree model."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from tabsift.feature_selection._common import (
    TableSelectorMixin,
    clean_table,
    is_table,
    rank_scores,
    validate_table,
)
from tabsift.table import TableError, check_column_names, infer_task
from tabsift.utils import (
    Interval,
    RealNotInt,
    StrOptions,
    check_row_weights,
    fit_context,
    import_optional_dependency,
    plain,
    progress,
)

# verbose="auto" shows progress bars for a fit estimated to take longer than this (seconds).
_AUTO_PROGRESS_SECONDS = 5.0

# Rows explained per SHAP call when a bar follows them (TreeSHAP treats rows independently).
_SHAP_CHUNKS = 20


def _categorical_frame(X, owner):
    """``X`` as XGBoost takes a mixed table: float columns (NaN kept) and pandas categories.

    Numbers stored as text become numbers (placeholders such as ``?`` read as
    missing), text and categories become ``pandas.Categorical`` columns,
    which XGBoost splits on natively (``enable_categorical``), so each input
    column stays one feature of the model.
    """
    import pandas as pd

    frame, infos = clean_table(X, owner=owner)
    for info, name in zip(infos, frame.columns, strict=True):
        if info.kind in ("categorical", "text"):
            frame[name] = pd.Categorical(frame[name])
    return frame


def _round_callback(xgb, bar):
    """Return an XGBoost training callback that advances ``bar`` by one per boosting round."""

    class _Rounds(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            bar.update(1)
            return False  # never stop training

    return _Rounds()


def _take_rows(X, rows):
    """Return the rows of ``X`` (a DataFrame or an array) at positions ``rows``."""
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _shap_values(explainer, rows, verbose):
    """Return the SHAP values of ``rows``, explained in chunks behind a bar when ``verbose``."""
    if not verbose:
        return np.asarray(explainer.shap_values(rows))
    n_rows = rows.shape[0]
    size = max(1, -(-n_rows // _SHAP_CHUNKS))
    chunks = progress(
        range(0, n_rows, size),
        verbose=verbose,
        total=-(-n_rows // size),
        desc="ShapSelector: SHAP values",
        unit="chunk",
    )
    parts = [np.asarray(explainer.shap_values(_take_rows(rows, slice(i, i + size)))) for i in chunks]
    return np.concatenate(parts, axis=0)


def _normalised_scores(values, row_weight, n_features):
    """Return each feature's mean absolute SHAP value, averaged over classes, summing to 1."""
    # (n, d) for regression and binary margins, (n, d, n_classes) for multiclass.
    scores = np.average(np.abs(values), axis=0, weights=row_weight)
    if scores.ndim > 1:
        scores = scores.mean(axis=1)
    total = scores.sum()
    if not np.isfinite(total) or total <= 0:
        # The model made no split: no feature carries any attribution.
        return np.full(n_features, 1.0 / n_features)
    return scores / total


class ShapSelector(TableSelectorMixin, BaseEstimator):
    """Select features by their mean absolute SHAP value in a gradient-boosted model.

    An XGBoost model (``XGBClassifier`` or ``XGBRegressor``) is fit on the
    data and explained with ``shap.TreeExplainer`` (exact TreeSHAP, path
    dependent). A feature's score is its mean absolute SHAP value over at most
    ``max_samples`` rows, averaged over classes for multiclass targets, and
    normalised so that the scores sum to 1. The features with the highest
    scores are kept.

    Parameters
    ----------
    n_features_to_select : int or float, default=0.4
        Features to keep: a fraction of the columns in (0, 1] (rounded down,
        at least one, as in :class:`~sklearn.feature_selection.RFE`) or a
        count (at most the number of columns). Ignored when ``threshold`` is given. It is read when
        the support is asked for, so it can be changed with ``set_params``
        after fitting without refitting.
    threshold : float, default=None
        If given, keep every feature whose normalised score is at least
        ``threshold`` (scores sum to 1, so ``1 / n_features`` keeps the
        features that are more important than average).
    n_estimators : int, default=200
        Number of boosting rounds.
    max_depth : int, default=4
        Depth of each tree.
    learning_rate : float, default=0.1
        Boosting learning rate.
    task : {"auto", "classification", "regression"}, default="auto"
        ``"auto"`` follows :func:`tabsift.table.infer_task`: text and bool
        targets, and numeric targets with at most 20 distinct whole values,
        are classification; other numeric targets regression.
    max_samples : int, default=2000
        Largest number of rows explained by SHAP (a seeded random subsample
        when there are more); the model itself is fit on all rows. None
        explains every row.
    random_state : int, RandomState instance or None, default=None
        Seed for the model and for the rows explained.
    n_jobs : int, default=1
        Threads used by XGBoost; None lets XGBoost use every core.
    verbose : "auto" or int, default="auto"
        ``1`` shows a progress bar (``tqdm.auto``: a widget in a notebook)
        for each phase, named in its description: the boosting rounds, then
        the rows explained by SHAP; it also lets XGBoost print its warnings.
        ``0`` is silent. ``"auto"`` shows the bars when the fit is expected
        to take more than a few seconds (estimated from the rows, columns,
        ``n_estimators``, ``max_depth`` and ``max_samples``), so small fits
        stay silent.

    Attributes
    ----------
    scores_ : ndarray of shape (`n_features_in_`,)
        Normalised mean absolute SHAP value of each feature (sums to 1;
        uniform when the model uses no feature, e.g. a constant target).
    ranking_ : ndarray of shape (`n_features_in_`,)
        Rank of each feature by score, 1 for the most important; ties keep
        column order.
    estimator_ : xgboost.XGBClassifier or xgboost.XGBRegressor
        The fitted model (fit on label-encoded classes for classification).
    task_ : str
        ``"classification"`` or ``"regression"``.
    classes_ : ndarray of shape (n_classes,)
        Class labels (classification only).
    n_features_in_ : int
        Number of columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when X has string column names.

    See Also
    --------
    tabsift.feature_selection.evaluate_selectors : Compare selectors by cross-validation.
    sklearn.feature_selection.SelectFromModel : Selection by a model's own importances.

    Notes
    -----
    NaN is accepted in X: XGBoost learns a default direction for missing
    values at every split and TreeSHAP follows it. Infinite values are
    rejected.

    A mixed table (text, category or bool columns, numbers stored as text
    with placeholders such as ``?``) is given to XGBoost with its categories
    as categories (``enable_categorical=True``): a categorical column is one
    feature of the model, split on sets of categories, and gets one SHAP
    value per row, so its score is that of the column; missing numbers and
    categories are routed natively. ``transform`` of a DataFrame returns the
    kept columns as they were.

    SHAP values are in the model's margin units (log-odds for
    classification), so scores compare features with each other, not across
    datasets.

    References
    ----------
    .. [1] S. M. Lundberg et al., "From local explanations to global
       understanding with explainable AI for trees", Nature Machine
       Intelligence 2 (2020).

    Examples
    --------
    >>> from tabsift.datasets import make_informative
    >>> from tabsift.feature_selection import ShapSelector
    >>> data = make_informative(n_samples=300, n_features=8, n_informative=2, random_state=0)
    >>> selector = ShapSelector(n_features_to_select=2, n_estimators=50, random_state=0)
    >>> selector.fit(data.data, data.target).get_feature_names_out().tolist() == data.informative
    True
    >>> round(float(selector.scores_.sum()), 6)
    1.0
    """

    _parameter_constraints = {
        "n_features_to_select": [
            Interval(RealNotInt, 0, 1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "threshold": [Interval(Real, 0, None, closed="left"), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_depth": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "task": [StrOptions({"auto", "classification", "regression"})],
        "max_samples": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": [StrOptions({"auto"}), "verbose"],
    }

    def __init__(
        self,
        n_features_to_select=0.4,
        *,
        threshold=None,
        n_estimators=200,
        max_depth=4,
        learning_rate=0.1,
        task="auto",
        max_samples=2000,
        random_state=None,
        n_jobs=1,
        verbose="auto",
    ):
        self.n_features_to_select = n_features_to_select
        self.threshold = threshold
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.task = task
        self.max_samples = max_samples
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the XGBoost model and score each feature by its mean absolute SHAP value.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numbers, or a mixed table (text, categories, numbers stored as
            text); missing values are allowed.
        y : array-like of shape (n_samples,)
            Class labels or a continuous target.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; an integer weight ``k`` counts as the
            row repeated ``k`` times. They are passed to XGBoost's ``fit``
            (gradients, hessians and the histogram sketch are weighted) and
            the mean absolute SHAP value is the weighted mean over the
            explained rows. When rows are subsampled (``max_samples``), the
            subsample is drawn over the rows with a positive weight, each
            keeping its weight. Routed by scikit-learn's metadata routing
            after ``set_fit_request(sample_weight=True)``.

        Returns
        -------
        self : ShapSelector
        """
        check_column_names(X, owner="ShapSelector")
        X, y, table = self._validated_input(X, y)
        sample_weight = check_row_weights(sample_weight, X.shape[0], owner="ShapSelector")
        task = infer_task(y, self.task, owner="ShapSelector")
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        xgb = import_optional_dependency("xgboost", purpose="ShapSelector")
        with warnings.catch_warnings():
            # shap's import calls matplotlib APIs that newer matplotlib flags as pending
            # deprecations; they are shap's to fix and say nothing to our users.
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            shap = import_optional_dependency("shap", purpose="ShapSelector")

        verbose = self._resolve_verbose(X.shape)
        model = self._fit_model(xgb, X, y, task, sample_weight, seed=seed, verbose=verbose)
        rows, row_weight = self._explained_rows(X, sample_weight, rng)
        values = _shap_values(shap.TreeExplainer(model), rows, verbose)
        if table:
            values = values.astype(np.float64)  # float32 from a categorical model
        scores = _normalised_scores(values, row_weight, X.shape[1])

        self.estimator_ = model
        self.task_ = task
        self.scores_ = scores
        self.ranking_ = rank_scores(scores)
        return self

    def _validated_input(self, X, y):
        """Check ``X`` and ``y``; returns them and whether ``X`` is a mixed table (a DataFrame)."""
        if is_table(X):
            X, y = validate_table(self, X, y, owner="ShapSelector")
            return _categorical_frame(X, "ShapSelector"), y, True
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            y_numeric=self.task == "regression",
        )
        return X, y, False

    def _fit_model(self, xgb, X, y, task, sample_weight, *, seed, verbose):
        """Fit and return the XGBoost model (on label-encoded classes for classification)."""
        rounds = progress(
            total=self.n_estimators,
            verbose=verbose,
            desc="ShapSelector: fitting XGBoost",
            unit="round",
        )
        params = dict(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            tree_method="hist",
            random_state=seed,
            n_jobs=self.n_jobs,
            verbosity=0 if verbose in (0, "auto") else 1,
        )
        if verbose:
            params["callbacks"] = [_round_callback(xgb, rounds)]
        if hasattr(X, "iloc"):  # a mixed table, its categories as pandas categories
            params["enable_categorical"] = True
        if task == "classification":
            check_classification_targets(y)
            encoder = LabelEncoder()
            y_fit = encoder.fit_transform(y)
            if len(encoder.classes_) < 2:
                raise TableError(
                    f"ShapSelector needs at least 2 classes in y, found 1 class "
                    f"({plain(encoder.classes_[0])!r}): no feature can separate a single class. "
                    f"Pass task='regression' if y is a numeric target."
                )
            self.classes_ = encoder.classes_
            model = xgb.XGBClassifier(**params)
        else:
            y_fit = np.asarray(y, dtype=np.float64)
            model = xgb.XGBRegressor(**params)
        model.fit(X, y_fit, sample_weight=sample_weight)
        rounds.close()
        if verbose:
            model.set_params(callbacks=None)  # the fitted model keeps no progress bar
        return model

    def _explained_rows(self, X, sample_weight, rng):
        """Return the rows SHAP explains (at most ``max_samples``) and their weights."""
        rows, row_weight = X, sample_weight
        if sample_weight is None:
            if self.max_samples is not None and X.shape[0] > self.max_samples:
                keep = np.sort(rng.choice(X.shape[0], size=self.max_samples, replace=False))
                rows = _take_rows(X, keep)
        else:
            # Rows of weight 0 add nothing to a weighted mean: explain the others only.
            keep = np.flatnonzero(sample_weight > 0)
            if self.max_samples is not None and keep.size > self.max_samples:
                keep = np.sort(rng.choice(keep, size=self.max_samples, replace=False))
            rows = _take_rows(X, keep)
            row_weight = sample_weight[keep]
        return rows, row_weight

    def _resolve_verbose(self, shape):
        """Return ``verbose`` for the bars: ``"auto"`` only for a fit estimated long, else an int.

        ``"auto"`` stays ``"auto"`` (a bar once the step has run a couple of
        seconds, when someone watches) only for a fit estimated to take over a
        few seconds, else 0; an explicit int is kept.
        """
        if self.verbose != "auto":
            return int(self.verbose)
        n_rows, n_features = shape
        explained = n_rows if self.max_samples is None else min(n_rows, self.max_samples)
        # Calibrated on the 2-core CPU machine, one thread (benchmarks/RESULTS.md): about
        # 14 ns per row, column and round to boost, 26 ns per row, round, leaf and level
        # to explain.
        boosting = 1.4e-8 * self.n_estimators * n_rows * n_features
        explaining = 2.6e-8 * self.n_estimators * explained * 2**self.max_depth * self.max_depth
        return "auto" if boosting + explaining > _AUTO_PROGRESS_SECONDS else 0

    def plot_importances(self, ax=None, *, top=None):
        """Draw the scores as a horizontal bar chart, selected features highlighted.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.
        top : int, default=None
            Show only the ``top`` highest-scoring features.

        Returns
        -------
        ax : matplotlib Axes
        """
        from tabsift.feature_selection._plot import plot_kept_importances

        return plot_kept_importances(self, ax, top, xlabel="mean |SHAP| (normalised)")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # XGBoost routes NaN along a learned default direction; TreeSHAP follows it.
        tags.input_tags.allow_nan = True
        return tags
