"""PermutationImportanceSelector: features ranked by held-out permutation importance."""

from numbers import Integral, Real

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils.validation import has_fit_parameter, validate_data

from tabsift.feature_selection._common import (
    TableSelectorMixin,
    clean_table,
    has_missing,
    is_table,
    rank_scores,
    table_encoder,
    validate_table,
)
from tabsift.table import TableError, check_column_names, infer_task
from tabsift.utils import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
    check_row_weights,
    fit_context,
    plain,
    progress,
)

# verbose="auto" shows the permutation bar when the scoring passes should take longer than
# this (seconds), judged from the time of the first pass.
_AUTO_PROGRESS_SECONDS = 5.0


class _CountingScorer:
    """A scorer that advances a progress bar at each call, opened at the first one.

    ``permutation_importance`` scores the intact rows once, then every column
    ``n_repeats`` times; the first call's duration tells ``verbose="auto"``
    whether the rest is long enough for a bar. The scores are those of
    ``scorer`` unchanged.
    """

    def __init__(self, scorer, *, verbose, total, desc):
        self.scorer, self.verbose, self.total, self.desc = scorer, verbose, total, desc
        self.bar = None

    def __call__(self, estimator, X, y, **kwargs):
        import time

        start = time.perf_counter()
        score = self.scorer(estimator, X, y, **kwargs)
        if self.bar is None:
            verbose = self.verbose
            if verbose == "auto":
                long = (time.perf_counter() - start) * self.total > _AUTO_PROGRESS_SECONDS
                verbose = "auto" if long else 0
            self.bar = progress(total=self.total, verbose=verbose, desc=self.desc, unit="pass")
        self.bar.update(1)
        return score

    def close(self):
        if self.bar is not None:
            self.bar.close()


class PermutationImportanceSelector(TableSelectorMixin, BaseEstimator):
    """Select features by permutation importance measured on held-out rows.

    The data given to :meth:`fit` is split once: the model is fit on one part
    and each feature's importance is the drop in score when that feature's
    values are shuffled in the other part (the validation part), averaged
    over ``n_repeats`` shuffles. Measuring on rows the model has not seen
    avoids the bias of impurity importances towards features the model
    merely memorised.

    Parameters
    ----------
    estimator : estimator, default=None
        The model whose importances are measured; cloned before fitting. By
        default a random forest of 200 trees (classifier or regressor,
        following ``task``).
    n_features_to_select : int or float, default=0.4
        Features to keep: a fraction of the columns in (0, 1] (rounded down,
        at least one) or a count. Read when the support is asked for, so it
        can be changed after fitting.
    validation_fraction : float, default=0.25
        Share of the rows held out to measure importances (stratified by
        class for classification when every class has at least two rows).
    n_repeats : int, default=5
        Number of shuffles of each feature.
    scoring : str or callable, default=None
        Scorer for :func:`sklearn.inspection.permutation_importance`; None
        uses the estimator's ``score`` method.
    task : {"auto", "classification", "regression"}, default="auto"
        Chooses the default estimator and the stratification; ``"auto"``
        infers it from y with :func:`tabsift.table.infer_task`.
    random_state : int, RandomState instance or None, default=None
        Seed for the split, the shuffles and the default estimator.
    n_jobs : int, default=None
        Jobs for the default forest and for the shuffles.
    verbose : "auto" or int, default="auto"
        ``1`` shows a progress bar (``tqdm.auto``) over the scoring passes
        (the intact held-out rows, then each column ``n_repeats`` times),
        named ``PermutationImportanceSelector: permuting features``; ``0`` is
        silent. ``"auto"`` shows it when the first pass, timed, says the
        passes will take more than a few seconds. The bar counts passes in
        this process only, so with ``n_jobs`` other than 1 or None it is
        shown only with ``verbose=1``, as one step.

    Attributes
    ----------
    scores_ : ndarray of shape (`n_features_in_`,)
        Mean drop in validation score per feature (may be negative).
    importances_std_ : ndarray of shape (`n_features_in_`,)
        Standard deviation of the drop over the shuffles.
    ranking_ : ndarray of shape (`n_features_in_`,)
        Rank of each feature by score, 1 for the most important; ties keep
        column order.
    estimator_ : estimator
        The model fit on the training part (for a mixed table, a pipeline of
        the table's encoding and the model).
    task_ : str
        ``"classification"`` or ``"regression"``.
    n_features_in_ : int
        Number of columns seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when X has string column names.

    See Also
    --------
    sklearn.inspection.permutation_importance : The importance measure.
    ShapSelector : Selection by mean absolute SHAP value.

    Notes
    -----
    A mixed table (text, category or bool columns, numbers stored as text
    with placeholders such as ``?``) or numbers with missing values are
    encoded inside the model: numbers median-imputed with a missing-value
    indicator and standardised, categories one-hot encoded (missing ones a
    category of their own), all fit on the training part only. Shuffling an
    input column then shuffles all of its encoded columns together, so each
    score is that of a column the user passed, and ``transform`` of a
    DataFrame returns the kept columns as they were.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from tabsift.datasets import make_informative
    >>> from tabsift.feature_selection import PermutationImportanceSelector
    >>> data = make_informative(n_samples=300, n_features=6, n_informative=1, random_state=0)
    >>> selector = PermutationImportanceSelector(
    ...     DecisionTreeClassifier(max_depth=3, random_state=0), n_features_to_select=1,
    ...     random_state=0,
    ... ).fit(data.data, data.target)
    >>> selector.get_feature_names_out().tolist() == data.informative
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_features_to_select": [
            Interval(RealNotInt, 0, 1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "scoring": [str, callable, None],
        "task": [StrOptions({"auto", "classification", "regression"})],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": [StrOptions({"auto"}), "verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_features_to_select=0.4,
        validation_fraction=0.25,
        n_repeats=5,
        scoring=None,
        task="auto",
        random_state=None,
        n_jobs=None,
        verbose="auto",
    ):
        self.estimator = estimator
        self.n_features_to_select = n_features_to_select
        self.validation_fraction = validation_fraction
        self.n_repeats = n_repeats
        self.scoring = scoring
        self.task = task
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _split(self, y, task, seed):
        """Return the indices of the training and validation rows."""
        from sklearn.model_selection import train_test_split

        n = len(y)
        n_val = min(n - 1, max(1, round(self.validation_fraction * n)))
        stratify = None
        if task == "classification":
            _, counts = np.unique(y, return_counts=True)
            if counts.min() >= 2 and len(counts) <= min(n_val, n - n_val):
                stratify = y
        return train_test_split(np.arange(n), test_size=n_val, random_state=seed, stratify=stratify)

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the model on part of the rows and measure importances on the rest.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numbers, or a mixed table (text, categories, numbers stored as
            text); missing values are allowed.
        y : array-like of shape (n_samples,)
            Class labels or a continuous target.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; an integer weight ``k`` counts as the
            row repeated ``k`` times. The training rows' weights go to the
            model's ``fit`` (which must take ``sample_weight``; the table
            encoder of a mixed table is fit unweighted) and the held-out rows'
            weights to the score of :func:`~sklearn.inspection.permutation_importance`.
            The split into training and held-out rows is drawn over rows,
            whatever their weights; each part needs some positive weight.
            Routed by scikit-learn's metadata routing after
            ``set_fit_request(sample_weight=True)``.

        Returns
        -------
        self : PermutationImportanceSelector
        """
        owner = "PermutationImportanceSelector"
        check_column_names(X, owner=owner)
        X, y, table = self._validated_input(X, y)
        sample_weight = check_row_weights(sample_weight, X.shape[0], owner=owner)
        task = infer_task(y, self.task, owner=owner)
        _check_rows_and_classes(X, y, task)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        estimator = self._estimator(task, seed)
        if sample_weight is not None and not has_fit_parameter(estimator, "sample_weight"):
            raise ValueError(
                f"{owner}: sample_weight was given, but the fit method of "
                f"{type(estimator).__name__} takes no sample_weight; pass an estimator that "
                "does (the default random forest does), or drop sample_weight."
            )
        train, val = self._split(y, task, seed)
        rows = X.iloc if table else X
        if sample_weight is None:
            estimator, val_weight = _fit_unweighted(estimator, X, y, train, table), None
        else:
            estimator = _fit_weighted(estimator, X, y, (train, val), sample_weight, table)
            val_weight = sample_weight[val]
        result = self._permute(estimator, rows[val], y[val], seed, val_weight)
        scores = np.nan_to_num(result.importances_mean, nan=0.0)
        self.estimator_ = estimator
        self.task_ = task
        self.scores_ = scores
        self.importances_std_ = result.importances_std
        self.ranking_ = rank_scores(scores)
        return self

    def _validated_input(self, X, y):
        """Check ``X`` and ``y``; return them and whether ``X`` is a table encoded in the model."""
        if is_table(X) or has_missing(X):
            X, y = validate_table(self, X, y, owner="PermutationImportanceSelector")
            X, _ = clean_table(X, owner="PermutationImportanceSelector")
            return X, y, True
        X, y = validate_data(self, X, y, y_numeric=self.task == "regression")
        return X, y, False

    def _estimator(self, task, seed):
        """Return the unfitted model: a clone of ``estimator``, or the default random forest."""
        if self.estimator is None:
            from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

            forest = RandomForestClassifier if task == "classification" else RandomForestRegressor
            return forest(n_estimators=200, random_state=seed, n_jobs=self.n_jobs)
        estimator = clone(self.estimator)
        if is_classifier(estimator) and task == "regression":
            raise ValueError(
                f"estimator is a classifier ({type(estimator).__name__}) but the task is "
                f"regression; pass a regressor or task='classification'."
            )
        return estimator

    def _permute(self, estimator, X_val, y_val, seed, val_weight):
        """Run :func:`~sklearn.inspection.permutation_importance` on the held-out rows, with a bar."""
        from sklearn.inspection import permutation_importance

        desc = "PermutationImportanceSelector: permuting features"
        if self.n_jobs in (None, 1):
            from sklearn.metrics import check_scoring

            # Each scoring pass runs here: a counting scorer drives the bar.
            scoring = _CountingScorer(
                check_scoring(estimator, scoring=self.scoring),
                verbose=self.verbose,
                total=1 + X_val.shape[1] * self.n_repeats,
                desc=desc,
            )
            bar = None
        else:
            scoring = self.scoring
            # Passes run in worker processes: one step, shown only when asked for.
            shown = self.verbose != "auto" and bool(self.verbose)
            bar = progress(total=1, verbose=shown, desc=desc, unit="step")
        result = permutation_importance(
            estimator,
            X_val,
            y_val,
            scoring=scoring,
            n_repeats=self.n_repeats,
            random_state=seed,
            n_jobs=self.n_jobs,
            sample_weight=val_weight,
        )
        if bar is None:
            scoring.close()
        else:
            bar.update(1)
            bar.close()
        return result

    def plot_importances(self, ax=None, *, top=None):
        """Draw the permutation importances as bars, with their spread over repeats.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.
        top : int, default=None
            Show only the ``top`` highest-scoring features.

        Returns
        -------
        ax : matplotlib Axes
            Selected features are drawn in a stronger colour; error bars are
            the standard deviation over the ``n_repeats`` shuffles.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from tabsift.feature_selection import PermutationImportanceSelector
        >>> X = np.random.default_rng(0).normal(size=(80, 3))
        >>> selector = PermutationImportanceSelector(
        ...     LogisticRegression(), n_features_to_select=1, random_state=0
        ... ).fit(X, X[:, 1] > 0)
        >>> [t.get_text() for t in selector.plot_importances().get_yticklabels()][0]
        'x1'
        """
        from tabsift.feature_selection._plot import plot_kept_importances

        scoring = self.scoring if isinstance(self.scoring, str) else "score"
        return plot_kept_importances(
            self, ax, top, xlabel=f"drop in {scoring} when shuffled", spread=self.importances_std_
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Missing values are imputed (with an indicator) inside the model.
        tags.input_tags.allow_nan = True
        return tags


def _check_rows_and_classes(X, y, task):
    """Raise when there are too few rows to hold some out, or one class only."""
    if X.shape[0] < 2:
        raise ValueError(
            f"PermutationImportanceSelector needs at least 2 samples to hold some out, "
            f"found {X.shape[0]} sample."
        )
    if task == "classification" and len(np.unique(y)) < 2:
        raise TableError(
            f"PermutationImportanceSelector needs at least 2 classes in y, found 1 class "
            f"({plain(np.unique(y)[0])!r}); pass task='regression' if y is a numeric target."
        )


def _fit_unweighted(estimator, X, y, train, table):
    """Fit ``estimator`` on the training rows; a table's encoding goes in front of it."""
    from sklearn.pipeline import make_pipeline

    rows = X.iloc if table else X
    if table:
        # Fit on the training part only; a column is shuffled with all its encoded
        # columns.
        estimator = make_pipeline(table_encoder(X), estimator)
    estimator.fit(rows[train], y[train])
    return estimator


def _fit_weighted(estimator, X, y, split, sample_weight, table):
    """Fit ``estimator`` on the training rows with their weights; returns the fitted model.

    Each part of the split needs some positive weight. A table's encoder is
    fit unweighted and put in front of the fitted model.
    """
    from sklearn.pipeline import make_pipeline

    train, val = split
    for part, index in (("training", train), ("held-out", val)):
        if not sample_weight[index].sum() > 0:
            raise ValueError(
                f"PermutationImportanceSelector: the {part} rows all have sample_weight 0 (the "
                "split is drawn over rows, whatever their weight); give more rows a positive "
                "weight or drop the zero-weight rows."
            )
    if not table:
        estimator.fit(X[train], y[train], sample_weight=sample_weight[train])
        return estimator
    # The steps are fit one by one, so that the weights reach the model whether or not
    # metadata routing is enabled.
    rows = X.iloc
    encoder = table_encoder(X).fit(rows[train], y[train])
    estimator.fit(encoder.transform(rows[train]), y[train], sample_weight=sample_weight[train])
    if sklearn.get_config()["enable_metadata_routing"]:
        # The pipeline's score routes the held-out weights to the model.
        estimator.set_score_request(sample_weight=True)
    return make_pipeline(encoder, estimator)
