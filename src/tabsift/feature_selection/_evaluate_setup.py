"""What evaluate_selectors checks and builds before any fold runs.

The selectors, the retention levels, the models (the KAN paper's four by
default) and the scorer are checked; ``X`` and ``y`` are validated, class
labels encoded, and a mixed table cleaned for the models.
"""

import numpy as np

from tabsift.feature_selection._common import categorical_columns, clean_table, is_table
from tabsift.table import TableError, check_column_names, check_target, infer_task
from tabsift.utils import import_optional_dependency, plain

_DEFAULT_SCORING = {"classification": "f1_macro", "regression": "r2"}


def _default_models(task, random_state):
    """Return the four models of the KAN feature-selection paper, by name."""
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


def check_models(models, task, random_state):
    """Return the models by name: the defaults, a pick of them by name, or a dict checked."""
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


def check_retention(retention):
    """Return the retention levels, sorted and distinct, each a fraction in (0, 1]."""
    levels = np.atleast_1d(np.asarray(retention, dtype=float))
    if levels.ndim != 1 or levels.size == 0 or not np.all((levels > 0) & (levels <= 1)):
        raise ValueError(
            f"retention must be fractions of the features in (0, 1], e.g. (0.2, 0.4, 0.6); "
            f"found {retention!r}."
        )
    return sorted({float(r) for r in levels})


def check_selectors(selectors):
    """Raise unless ``selectors`` is a non-empty dict of scikit-learn selectors."""
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


def check_scoring(scoring, task):
    """Return ``(scorer, name)`` for a scorer name, a callable, or None (the task's default)."""
    from sklearn.metrics import get_scorer

    if scoring is None:
        scoring = _DEFAULT_SCORING[task]
    if isinstance(scoring, str):
        return get_scorer(scoring), scoring
    if callable(scoring):
        return scoring, getattr(scoring, "__name__", "score")
    raise ValueError(
        f"scoring must be a scorer name such as 'accuracy' or a callable "
        f"scorer(estimator, X, y), found {scoring!r}."
    )


def validated_data(X, y, task):
    """Check ``X`` and ``y``; return ``X``, its column names, ``y`` encoded and the task.

    Class labels become 0, 1, ... (XGBoost needs that); a regression target
    becomes float.
    """
    import pandas as pd
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import check_consistent_length
    from sklearn.utils.validation import check_array, column_or_1d

    check_column_names(X, owner="evaluate_selectors")
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
    else:
        X = check_array(X, dtype=None, ensure_all_finite=False)
        names = [f"x{i}" for i in range(X.shape[1])]
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    check_target(y, owner="evaluate_selectors")
    task = infer_task(y, task, owner="evaluate_selectors")
    if task != "classification":
        return X, names, np.asarray(y, dtype=float), task
    y_given = y
    y = LabelEncoder().fit_transform(y)
    if y.max(initial=0) < 1:
        raise TableError(
            f"y has a single class ({plain(y_given[0])!r}); evaluate_selectors compares "
            "selectors by how well models tell classes apart, so y needs at least 2 "
            "classes (or pass task='regression' for a numeric target)."
        )
    return X, names, y, task


def model_data(X):
    """Return what the models see: ``X``, or a mixed table cleaned, and its text columns.

    A mixed table goes to the selectors as it is and to the models cleaned
    (its encoding is fit per fold); ``encode`` says whether it is one.
    """
    if not is_table(X):
        return X, False, ()
    X_models, infos = clean_table(X, owner="evaluate_selectors")
    return X_models, True, tuple(categorical_columns(infos))
