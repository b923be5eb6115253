"""Cross-validated comparison of feature selectors, with selection inside each fold."""

import numpy as np
from sklearn.base import clone

from tabsift.feature_selection._common import n_to_keep, table_encoder
from tabsift.feature_selection._evaluate_rankings import select
from tabsift.feature_selection._evaluate_result import SelectorEvaluation
from tabsift.feature_selection._evaluate_setup import (
    check_models,
    check_retention,
    check_scoring,
    check_selectors,
    model_data,
    validated_data,
)
from tabsift.table import cv_splitter
from tabsift.utils import progress, safe_indexing


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
    from sklearn.utils.parallel import delayed

    check_selectors(selectors)
    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', found {task!r}.")
    levels = check_retention(retention)
    X, names, y, task = validated_data(X, y, task)
    n_features = len(names)
    # A mixed table: selectors see it as it is, models its encoding (fit per fold).
    X_models, encode, text_columns = model_data(X)

    splitter = cv_splitter(cv, task, random_state=random_state, y=y)
    splits = [(np.asarray(train), np.asarray(test)) for train, test in splitter.split(X, y)]

    models = check_models(models, task, random_state)
    scorer, scoring_name = check_scoring(scoring, task)

    ks = sorted({n_to_keep(r, n_features, owner="evaluate_selectors") for r in levels})
    # 1. Each selector, fit once on each training fold.
    jobs = [(name, fold) for name in selectors for fold in range(len(splits))]
    calls = [
        delayed(select)(name, selectors[name], X, y, splits[fold][0], ks, n_features, text_columns)
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
    rows = _result_rows(list(selectors), selections, scored, levels, models, names)
    return SelectorEvaluation(
        pd.DataFrame(rows), task=task, scoring=scoring_name, n_features=n_features
    )


def _result_rows(selectors, selections, scored, levels, models, names):
    """Return one row per selector, retention level, model and fold.

    ``selections`` maps (selector, fold) to the columns kept at each count and
    the fit time; ``scored`` maps (fold, columns) to each model's score.
    """
    n_features = len(names)
    n_folds = len({fold for _, fold in selections})
    rows = []
    for name in selectors:
        for r in levels:
            k = n_to_keep(r, n_features, owner="evaluate_selectors")
            for model in models:
                for fold in range(n_folds):
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
    return rows
