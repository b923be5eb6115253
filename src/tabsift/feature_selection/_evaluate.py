"""Cross-validated comparison of feature selectors, with selection inside each fold."""

import time
from operator import attrgetter

import numpy as np
from sklearn.base import clone

from tabsift.feature_selection._common import (
    categorical_columns,
    clean_table,
    is_table,
    n_to_keep,
    plain,
    table_encoder,
)
from tabsift.table import check_column_names, check_target, cv_splitter, infer_task
from tabsift.table._errors import TableError
from tabsift.utils import import_optional_dependency, progress
from tabsift.utils._sklearn_compat import safe_indexing

_DEFAULT_SCORING = {"classification": "f1_macro", "regression": "r2"}


def _default_models(task, random_state):
    """The four models of the KAN feature-selection paper, by name."""
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xgb = import_optional_dependency("xgboost", purpose="evaluate_selectors' default models")
    boost = dict(tree_method="hist", random_state=random_state, n_jobs=1, verbosity=0)
    if task == "classification":
        return {
            "LogisticRegression": make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=1000)
            ),
            "RandomForest": RandomForestClassifier(n_estimators=200, random_state=random_state),
            "GradientBoosting": GradientBoostingClassifier(random_state=random_state),
            "XGBoost": xgb.XGBClassifier(**boost),
        }
    return {
        "Ridge": make_pipeline(StandardScaler(), Ridge()),
        "RandomForest": RandomForestRegressor(n_estimators=200, random_state=random_state),
        "GradientBoosting": GradientBoostingRegressor(random_state=random_state),
        "XGBoost": xgb.XGBRegressor(**boost),
    }


def _check_models(models, task, random_state):
    if models is None:
        return _default_models(task, random_state)
    if isinstance(models, dict):
        if not models:
            raise ValueError("models is an empty dict; pass None for the default four models.")
        for name, model in models.items():
            if not hasattr(model, "fit") or not hasattr(model, "predict"):
                raise TypeError(
                    f"models[{name!r}] must be an estimator with fit and predict, found "
                    f"{type(model).__name__}."
                )
        return dict(models)
    if isinstance(models, str):
        models = [models]
    defaults = _default_models(task, random_state)
    unknown = [m for m in models if m not in defaults]
    if unknown or not models:
        raise ValueError(
            f"models must be a dict of name -> estimator, or a list of default model names "
            f"for {task} ({', '.join(map(repr, defaults))}); found {unknown or models!r}."
        )
    return {name: defaults[name] for name in models}


def _check_retention(retention):
    levels = np.atleast_1d(np.asarray(retention, dtype=float))
    if levels.ndim != 1 or levels.size == 0 or not np.all((levels > 0) & (levels <= 1)):
        raise ValueError(
            f"retention must be fractions of the features in (0, 1], e.g. (0.2, 0.4, 0.6); "
            f"found {retention!r}."
        )
    return sorted({float(r) for r in levels})


def _importance_from_getter(selector):
    """Importances of a fitted SelectFromModel-like selector (estimator_ + importance_getter)."""
    estimator = getattr(selector, "estimator_", None)
    getter = getattr(selector, "importance_getter", "auto")
    if estimator is None:
        return None
    if callable(getter):
        return getter(estimator)
    if getter == "auto":
        for attr in ("coef_", "feature_importances_"):
            if hasattr(estimator, attr):
                return getattr(estimator, attr)
        return None
    try:
        return attrgetter(getter)(estimator)
    except AttributeError:
        return None


def _ranking_scores(selector, n_features):
    """Scores (higher is better) of every feature from a fitted selector, or None.

    Looked up in this order: ``scores_``, ``feature_importances_``, ``|coef_|``
    (summed over rows when 2-D), ``-ranking_``, then the importances of the
    inner ``estimator_`` as ``SelectFromModel`` reads them. An attribute that
    does not hold one value per input feature is skipped (RFE's ``estimator_``
    only sees the kept features).
    """

    def as_scores(values, absolute):
        values = np.asarray(values, dtype=float)
        if absolute:
            values = np.abs(values)
            if values.ndim == 2:
                values = values.sum(axis=0)
        if values.shape != (n_features,):
            return None
        # NaN scores (e.g. an F-test on a constant column) rank last.
        return np.where(np.isnan(values), -np.inf, values)

    candidates = [
        (getattr(selector, "scores_", None), False),
        (getattr(selector, "feature_importances_", None), False),
        (getattr(selector, "coef_", None), True),
    ]
    ranking = getattr(selector, "ranking_", None)
    candidates.append((None if ranking is None else -np.asarray(ranking, float), False))
    candidates.append((_importance_from_getter(selector), True))
    for values, absolute in candidates:
        if values is not None:
            scores = as_scores(values, absolute)
            if scores is not None:
                return scores
    return None


def _select(name, selector, X, y, train, ks, n_features, text_columns=()):
    """Fit ``selector`` on the training rows once; return ({k: columns}, fit seconds)."""
    X_train, y_train = safe_indexing(X, train), y[train]
    settable = "n_features_to_select" in selector.get_params(deep=False)

    def fitted(k):
        sel = clone(selector)
        if settable:
            sel.set_params(n_features_to_select=k)
        if not text_columns:
            return sel.fit(X_train, y_train)
        try:
            return sel.fit(X_train, y_train)
        except (ValueError, TypeError) as err:
            if isinstance(err, TableError):
                raise
            listed = ", ".join(map(repr, text_columns[:5]))
            raise TableError(
                f"selector {name!r} ({type(selector).__name__}) could not fit the table, whose "
                f"columns {listed}{' ...' if len(text_columns) > 5 else ''} hold text or "
                f"categories: {str(err).rstrip('.')}. Use tabsift's selectors (KANSelector, ShapSelector, "
                "PermutationImportanceSelector), which rank the columns of a mixed table, or "
                "encode the table first."
            ) from err

    start = time.perf_counter()
    sel = fitted(ks[0])
    fit_time = time.perf_counter() - start
    scores = _ranking_scores(sel, n_features)
    if scores is not None:
        order = np.argsort(-scores, kind="stable")
        return {k: tuple(sorted(order[:k].tolist())) for k in ks}, fit_time
    if not settable:
        raise TypeError(
            f"selector {name!r} ({type(selector).__name__}) exposes no per-feature scores "
            f"(scores_, feature_importances_, coef_, ranking_) and has no "
            f"n_features_to_select parameter, so evaluate_selectors cannot make it keep a "
            f"given number of features."
        )
    # Only a support mask: one fit per retention level.
    columns = {ks[0]: tuple(np.flatnonzero(sel.get_support()).tolist())}
    for k in ks[1:]:
        start = time.perf_counter()
        columns[k] = tuple(np.flatnonzero(fitted(k).get_support()).tolist())
        fit_time += time.perf_counter() - start
    return columns, fit_time


def _score_subset(X, y, train, test, columns, models, scorer, encode=False):
    """Fit every model on the training rows of ``columns``; score on the test rows.

    With ``encode`` (a mixed table, ``X`` from :func:`clean_table`), each model
    is preceded by the table's encoding, fit on the training rows only.
    """
    from sklearn.pipeline import make_pipeline
    X_cols = safe_indexing(X, list(columns), axis=1)
    X_train, X_test = safe_indexing(X_cols, train), safe_indexing(X_cols, test)
    scores = {}
    for name, model in models.items():
        model = make_pipeline(table_encoder(X_cols), clone(model)) if encode else clone(model)
        fitted = model.fit(X_train, y[train])
        scores[name] = float(scorer(fitted, X_test, y[test]))
    return scores


def _run(calls, n_jobs, verbose, desc):
    """Run delayed calls, in parallel when ``n_jobs`` asks, with a progress bar."""
    from sklearn.utils.parallel import Parallel

    results = Parallel(n_jobs=n_jobs, return_as="generator")(calls)
    return list(progress(results, verbose=verbose, total=len(calls), desc=desc))


class SelectorEvaluation:
    """Scores of feature selectors at several retention levels, from :func:`evaluate_selectors`.

    Parameters
    ----------
    results : pandas.DataFrame
        One row per selector, retention level, model and fold (see
        :func:`evaluate_selectors`).
    task : str
        ``"classification"`` or ``"regression"``.
    scoring : str
        Name of the score.
    n_features : int
        Number of columns of the evaluated data.

    Attributes
    ----------
    results : pandas.DataFrame
        The tidy table of scores.
    task, scoring, n_features
        As given.

    See Also
    --------
    evaluate_selectors : Produces this object.

    Examples
    --------
    >>> from sklearn.feature_selection import SelectKBest, f_regression
    >>> from sklearn.linear_model import Ridge
    >>> from tabsift.datasets import make_informative
    >>> from tabsift.feature_selection import evaluate_selectors
    >>> data = make_informative(n_samples=100, n_features=5, n_informative=2,
    ...                         task="regression", random_state=0)
    >>> evaluation = evaluate_selectors(
    ...     data.data, data.target, {"f-test": SelectKBest(f_regression, k="all")},
    ...     retention=(0.2, 0.4, 1.0), models={"ridge": Ridge()}, cv=2,
    ... )
    >>> evaluation
    SelectorEvaluation(1 selectors x 3 retention levels x 1 models x 2 folds, scoring='r2')
    >>> evaluation.summary()["mean"].columns.tolist()
    [0.2, 0.4, 1.0]
    """

    def __init__(self, results, *, task, scoring, n_features):
        self.results = results
        self.task = task
        self.scoring = scoring
        self.n_features = n_features

    def __repr__(self):
        selectors = list(dict.fromkeys(self.results["selector"]))
        return (
            f"SelectorEvaluation({len(selectors)} selectors x "
            f"{self.results['retention'].nunique()} retention levels x "
            f"{self.results['model'].nunique()} models x {self.results['fold'].nunique()} "
            f"folds, scoring={self.scoring!r})"
        )

    def summary(self, *, model=None):
        """Mean and standard deviation of the score, by selector and retention level.

        The score is averaged over the models in each fold; ``mean`` and
        ``std`` are then taken over the folds.

        Parameters
        ----------
        model : str, default=None
            Use only this model's scores instead of the average over models.

        Returns
        -------
        table : pandas.DataFrame
            Rows: selectors, in the order given. Columns: a MultiIndex
            (``"mean"`` or ``"std"``, retention level), so
            ``summary()["mean"]`` is a selector x retention table.
        """
        results = self.results
        if model is not None:
            known = list(dict.fromkeys(results["model"]))
            if model not in known:
                raise ValueError(f"model must be one of {known}, found {model!r}.")
            results = results[results["model"] == model]
        per_fold = results.groupby(["selector", "retention", "fold"], sort=False)["score"].mean()
        stats = per_fold.groupby(level=["selector", "retention"], sort=False).agg(["mean", "std"])
        table = stats.unstack("retention")
        table.columns.names = ["stat", "retention"]
        order = list(dict.fromkeys(results["selector"]))
        return table.loc[order].sort_index(axis=1, level=["stat", "retention"])

    def plot(self, ax=None, *, model=None):
        """Plot the score against the retention level, one line per selector.

        Lines show the mean over folds (of the average over models), bands
        one standard deviation either side.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.
        model : str, default=None
            Plot only this model's scores.

        Returns
        -------
        ax : matplotlib Axes
        """
        table = self.summary(model=model)
        if ax is None:
            import_optional_dependency("matplotlib", purpose="SelectorEvaluation.plot")
            from tabsift.utils._figures import new_figure

            ax = new_figure(figsize=(6, 4)).subplots()
        levels = np.asarray(table["mean"].columns, dtype=float)
        for selector in table.index:
            mean = table.loc[selector, "mean"].to_numpy(dtype=float)
            std = np.nan_to_num(table.loc[selector, "std"].to_numpy(dtype=float))
            (line,) = ax.plot(levels, mean, marker="o", label=str(selector))
            ax.fill_between(levels, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.set_xticks(levels, [f"{r:.0%}" for r in levels])
        ax.set_xlabel("features kept")
        ax.set_ylabel(self.scoring)
        ax.set_title("averaged over models" if model is None else str(model))
        ax.legend(fontsize="small")
        return ax


def evaluate_selectors(
    X,
    y,
    selectors,
    *,
    retention=(0.2, 0.4, 0.6),
    models=None,
    cv=5,
    scoring=None,
    task="auto",
    random_state=0,
    n_jobs=None,
    verbose=0,
):
    """Compare feature selectors by the cross-validated score of models on their selections.

    For every cross-validation fold, each selector is cloned and fit on the
    training rows only, the top ``max(1, floor(r * n_features))`` features are kept
    for each retention level ``r``, and each model is fit on the training
    rows of those features and scored on the test rows. The test rows never
    reach the selector, unlike protocols that rank features on all rows
    first and cross-validate afterwards.

    Each selector is fit once per fold when it exposes a full ranking after
    fitting (``scores_``, ``feature_importances_``, ``coef_``, ``ranking_``,
    or the inner ``estimator_``'s importances as in ``SelectFromModel``):
    every retention level is read from that one ranking, which matters for
    expensive selectors such as KAN. Before that fit, a selector with an
    ``n_features_to_select`` parameter gets the smallest count, so RFE's
    ``ranking_`` orders all the features it eliminates. A selector with
    neither scores nor ranking is refit per level with
    ``n_features_to_select`` set to the count. Models are fit once per fold
    and distinct feature subset, so selectors that agree share the work.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        The data; DataFrame column names name the selected features. A mixed
        table (text, category or bool columns, numbers stored as text with
        placeholders such as ``?``) is accepted: the selectors get its
        training rows as they are (tabsift's selectors rank its columns), and
        each model gets the kept columns encoded (numbers median-imputed with
        a missing-value indicator and standardised, categories one-hot
        encoded), the encoding fit on the training rows only.
    y : array-like of shape (n_samples,)
        Target. Class labels are encoded as 0, 1, ... before anything sees
        them (XGBoost needs that).
    selectors : dict of str to selector
        Unfitted selectors (anything with ``fit`` and ``get_support``), by
        name, for example ``paper_baselines(task)``.
    retention : sequence of float, default=(0.2, 0.4, 0.6)
        Fractions of the features to keep, in (0, 1].
    models : dict of str to estimator, or list of str, default=None
        The models scored on each selection. None uses the four models of
        the KAN paper: for classification ``"LogisticRegression"``
        (standardised), ``"RandomForest"`` (200 trees),
        ``"GradientBoosting"`` and ``"XGBoost"``; for regression ``"Ridge"``
        (standardised) and the same three ensembles. A list picks some of
        these by name.
    cv : int, cross-validation splitter or iterable, default=5
        An int gives that many shuffled folds (stratified for
        classification when every class has that many rows), seeded by
        ``random_state`` (:func:`tabsift.table.cv_splitter`).
    scoring : str or callable, default=None
        A scikit-learn scorer; by default ``"f1_macro"`` (classification)
        or ``"r2"`` (regression).
    task : {"auto", "classification", "regression"}, default="auto"
        ``"auto"`` infers it from y with :func:`tabsift.table.infer_task`.
    random_state : int or None, default=0
        Seed of the folds and of the default models. Selectors keep their
        own ``random_state``.
    n_jobs : int, default=None
        Parallel jobs (over selector fits, then over feature subsets).
    verbose : int, default=0
        Show progress bars when positive.

    Returns
    -------
    evaluation : SelectorEvaluation
        ``evaluation.results`` has one row per selector, retention level,
        model and fold, with columns ``selector``, ``retention``, ``model``,
        ``fold``, ``score``, ``n_features``, ``selected`` (tuple of the kept
        feature names) and ``fit_time`` (seconds to fit the selector in that
        fold, for all levels). ``summary()`` and ``plot()`` aggregate it.

    See Also
    --------
    paper_baselines : The baseline selectors of the KAN paper.
    ShapSelector : Selection by mean absolute SHAP value.

    References
    ----------
    .. [1] "Splines-Based Feature Importance in Kolmogorov-Arnold Networks: A
       Framework for Supervised Tabular Data Dimensionality Reduction",
       arXiv:2509.23366.

    Examples
    --------
    >>> from sklearn.feature_selection import SelectKBest, f_classif
    >>> from sklearn.linear_model import LogisticRegression
    >>> from tabsift.datasets import make_informative
    >>> from tabsift.feature_selection import evaluate_selectors
    >>> data = make_informative(n_samples=200, n_features=10, n_informative=3, random_state=0)
    >>> evaluation = evaluate_selectors(
    ...     data.data, data.target, {"anova": SelectKBest(f_classif, k="all")},
    ...     retention=(0.3, 0.6), models={"logistic": LogisticRegression()}, cv=3,
    ... )
    >>> evaluation.results[["selector", "retention", "model", "fold", "n_features"]].head(3)
      selector  retention     model  fold  n_features
    0    anova        0.3  logistic     0           3
    1    anova        0.3  logistic     1           3
    2    anova        0.3  logistic     2           3
    >>> evaluation.summary()["mean"].shape
    (1, 2)
    """
    import pandas as pd
    from sklearn.metrics import get_scorer
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import check_consistent_length
    from sklearn.utils.parallel import delayed
    from sklearn.utils.validation import check_array, column_or_1d

    if not isinstance(selectors, dict) or not selectors:
        raise ValueError(
            f"selectors must be a non-empty dict of name -> unfitted selector, found "
            f"{type(selectors).__name__}."
        )
    for name, selector in selectors.items():
        if not hasattr(selector, "fit") or not hasattr(selector, "get_params"):
            raise TypeError(
                f"selectors[{name!r}] must be a scikit-learn selector (fit, get_params, "
                f"get_support), found {type(selector).__name__}."
            )
    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', found {task!r}.")
    levels = _check_retention(retention)

    check_column_names(X, owner="evaluate_selectors")
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
    else:
        X = check_array(X, dtype=None, ensure_all_finite=False)
        names = [f"x{i}" for i in range(X.shape[1])]
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    check_target(y, owner="evaluate_selectors")
    n_features = len(names)
    task = infer_task(y, task, owner="evaluate_selectors")
    y_given = y
    if task == "classification":
        y = LabelEncoder().fit_transform(y)
        if y.max(initial=0) < 1:
            raise TableError(
                f"y has a single class ({plain(y_given[0])!r}); evaluate_selectors compares "
                "selectors by how well models tell classes apart, so y needs at least 2 "
                "classes (or pass task='regression' for a numeric target)."
            )
    else:
        y = np.asarray(y, dtype=float)
    # A mixed table: selectors see it as it is, models its encoding (fit per fold).
    encode = is_table(X)
    X_models, text_columns = X, ()
    if encode:
        X_models, infos = clean_table(X, owner="evaluate_selectors")
        text_columns = tuple(categorical_columns(infos))

    splitter = cv_splitter(cv, task, random_state=random_state, y=y)
    splits = [(np.asarray(train), np.asarray(test)) for train, test in splitter.split(X, y)]

    models = _check_models(models, task, random_state)
    if scoring is None:
        scoring = _DEFAULT_SCORING[task]
    if isinstance(scoring, str):
        scorer, scoring_name = get_scorer(scoring), scoring
    elif callable(scoring):
        scorer, scoring_name = scoring, getattr(scoring, "__name__", "score")
    else:
        raise ValueError(
            f"scoring must be a scorer name such as 'accuracy' or a callable "
            f"scorer(estimator, X, y), found {scoring!r}."
        )

    ks = sorted({n_to_keep(r, n_features, owner="evaluate_selectors") for r in levels})
    # 1. Each selector, fit once on each training fold.
    jobs = [(name, fold) for name in selectors for fold in range(len(splits))]
    calls = [
        delayed(_select)(name, selectors[name], X, y, splits[fold][0], ks, n_features, text_columns)
        for name, fold in jobs
    ]
    selections = dict(zip(jobs, _run(calls, n_jobs, verbose, "fitting selectors"), strict=True))

    # 2. Every model on every distinct (fold, feature subset).
    subsets = list(
        dict.fromkeys(
            (fold, columns)
            for (_, fold), (chosen, _) in selections.items()
            for columns in chosen.values()
        )
    )
    calls = [
        delayed(_score_subset)(X_models, y, *splits[fold], columns, models, scorer, encode)
        for fold, columns in subsets
    ]
    scored = dict(zip(subsets, _run(calls, n_jobs, verbose, "scoring models"), strict=True))

    rows = []
    for name in selectors:
        for r in levels:
            k = n_to_keep(r, n_features, owner="evaluate_selectors")
            for model in models:
                for fold in range(len(splits)):
                    chosen, fit_time = selections[name, fold]
                    columns = chosen[k]
                    rows.append(
                        {
                            "selector": name,
                            "retention": r,
                            "model": model,
                            "fold": fold,
                            "score": scored[fold, columns][model],
                            "n_features": len(columns),
                            "selected": tuple(names[j] for j in columns),
                            "fit_time": fit_time,
                        }
                    )
    return SelectorEvaluation(
        pd.DataFrame(rows), task=task, scoring=scoring_name, n_features=n_features
    )
