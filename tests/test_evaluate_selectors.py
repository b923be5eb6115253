"""evaluate_selectors, SelectorEvaluation, paper_baselines and PermutationImportanceSelector."""

import joblib
import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.feature_selection import (
    RFE,
    SelectKBest,
    SelectorMixin,
    SequentialFeatureSelector,
    f_classif,
    f_regression,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from tabsift.datasets import make_informative
from tabsift.feature_selection import (
    PermutationImportanceSelector,
    SelectorEvaluation,
    ShapSelector,
    evaluate_selectors,
    paper_baselines,
)
from tabsift.feature_selection._evaluate_rankings import _ranking_scores

matplotlib.use("Agg")

TREE = {"tree": DecisionTreeClassifier(max_depth=3, random_state=0)}


class SpySelector(SelectorMixin, BaseEstimator):
    """Scores features by variance; records the row ids (column 0) of every fit."""

    fits = []

    def __init__(self, n_features_to_select=1):
        self.n_features_to_select = n_features_to_select

    def fit(self, X, y):
        X = np.asarray(X)
        SpySelector.fits.append(X[:, 0].astype(int).tolist())
        self.scores_ = X.var(axis=0)
        self.n_features_in_ = X.shape[1]
        return self

    def _get_support_mask(self):
        return np.argsort(-self.scores_) < self.n_features_to_select


class MaskOnlySelector(SelectorMixin, BaseEstimator):
    """Keeps the first n_features_to_select columns; exposes no scores."""

    fits = []

    def __init__(self, n_features_to_select=1):
        self.n_features_to_select = n_features_to_select

    def fit(self, X, y):
        MaskOnlySelector.fits.append(self.n_features_to_select)
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def _get_support_mask(self):
        return np.arange(self.n_features_in_) < self.n_features_to_select


@pytest.fixture(scope="module")
def small():
    return make_informative(n_samples=120, n_features=10, n_informative=3, random_state=0)


def test_results_are_tidy(small):
    selectors = {"anova": SelectKBest(f_classif, k="all"), "shap": ShapSelector(n_estimators=20)}
    models = {"tree": TREE["tree"], "logistic": LogisticRegression()}
    evaluation = evaluate_selectors(
        small.data, small.target, selectors, retention=(0.2, 0.5), models=models, cv=3
    )
    results = evaluation.results
    assert isinstance(evaluation, SelectorEvaluation)
    assert list(results.columns) == [
        "selector",
        "retention",
        "model",
        "fold",
        "score",
        "n_features",
        "selected",
        "fit_time",
    ]
    assert len(results) == 2 * 2 * 2 * 3
    assert results.groupby(["selector", "retention", "model", "fold"]).size().eq(1).all()
    assert set(results["selector"]) == {"anova", "shap"}
    assert set(results["model"]) == {"tree", "logistic"}
    assert results["score"].between(0, 1).all()
    assert (results["fit_time"] > 0).all()
    assert all(set(s) <= set(small.feature_names) for s in results["selected"])
    assert evaluation.scoring == "f1_macro" and evaluation.task == "classification"
    assert "2 selectors x 2 retention levels x 2 models x 3 folds" in repr(evaluation)


def test_selectors_never_see_test_rows():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.arange(60), rng.normal(size=(60, 5))])
    y = rng.integers(0, 2, size=60)
    cv = KFold(4, shuffle=True, random_state=1)
    SpySelector.fits.clear()
    evaluation = evaluate_selectors(
        X, y, {"spy": SpySelector()}, retention=(0.2, 0.5, 1.0), models=TREE, cv=cv
    )
    expected = [sorted(train.tolist()) for train, _ in cv.split(X)]
    # One fit per fold (all retention levels from one ranking), on exactly its training rows.
    assert [sorted(rows) for rows in SpySelector.fits] == expected
    assert len(evaluation.results) == 3 * 4


def test_retention_levels_give_feature_counts(small):
    evaluation = evaluate_selectors(
        small.data,
        small.target,
        {"anova": SelectKBest(f_classif, k=2)},
        retention=(0.6, 0.2, 0.45, 1.0, 0.05),
        models=TREE,
        cv=2,
    )
    results = evaluation.results
    counts = results.groupby("retention")["n_features"].unique()
    assert {r: c.tolist() for r, c in counts.items()} == {
        0.05: [1],
        0.2: [2],
        0.45: [4],  # fractions round down (RFE's convention), at least 1
        0.6: [6],  # 0.6 * 10 rounds to 6, not 7
        1.0: [10],
    }
    assert (results["selected"].map(len) == results["n_features"]).all()
    # Levels come from one ranking, so the selections are nested within a fold.
    fold0 = results[results["fold"] == 0].sort_values("retention")["selected"].map(set).tolist()
    assert all(a <= b for a, b in zip(fold0, fold0[1:], strict=False))


def test_rfe_is_fit_once_with_the_smallest_count(small):
    # RFE eliminates down to the smallest count; its ranking_ orders the rest.
    rfe = RFE(LogisticRegression(), n_features_to_select=0.9)
    evaluation = evaluate_selectors(
        small.data, small.target, {"rfe": rfe}, retention=(0.2, 0.4), models=TREE, cv=2
    )
    fold0 = evaluation.results.query("fold == 0").set_index("retention")["selected"]
    assert len(fold0[0.2]) == 2 and len(fold0[0.4]) == 4
    assert set(fold0[0.2]) <= set(fold0[0.4])
    # Same as RFE asked for 2 features directly on that fold's training rows.
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    train, _ = next(cv.split(small.data, small.target))
    direct = RFE(LogisticRegression(), n_features_to_select=2).fit(
        small.data.iloc[train], small.target.iloc[train]
    )
    assert set(fold0[0.2]) == set(direct.get_feature_names_out())


def test_mask_only_selector_is_refit_per_level():
    X = np.random.default_rng(0).normal(size=(40, 10))
    y = (X[:, 0] > 0).astype(int)
    MaskOnlySelector.fits.clear()
    evaluation = evaluate_selectors(
        X, y, {"mask": MaskOnlySelector()}, retention=(0.2, 0.5), models=TREE, cv=2
    )
    assert MaskOnlySelector.fits == [2, 5, 2, 5]
    assert evaluation.results.set_index("retention")["selected"].loc[0.5].iloc[0] == (
        "x0",
        "x1",
        "x2",
        "x3",
        "x4",
    )


def test_selector_without_ranking_or_count_is_an_error():
    X = np.random.default_rng(0).normal(size=(40, 5))
    y = (X[:, 0] > 0).astype(int)
    sfs = SequentialFeatureSelector(LogisticRegression(), n_features_to_select=2, cv=2)
    # SequentialFeatureSelector has n_features_to_select: refit per level, works.
    result = evaluate_selectors(X, y, {"sfs": sfs}, retention=(0.2, 0.4), models=TREE, cv=2)
    assert result.results["n_features"].tolist() == [1, 1, 2, 2]

    class Opaque(SelectorMixin, BaseEstimator):
        def fit(self, X, y):
            self.n_features_in_ = np.asarray(X).shape[1]
            return self

        def _get_support_mask(self):
            return np.ones(self.n_features_in_, dtype=bool)

    with pytest.raises(TypeError, match="'opaque' .* no n_features_to_select parameter"):
        evaluate_selectors(X, y, {"opaque": Opaque()}, models=TREE, cv=2)


def test_bad_arguments(small):
    X, y = small.data, small.target
    with pytest.raises(ValueError, match="non-empty dict"):
        evaluate_selectors(X, y, {})
    with pytest.raises(ValueError, match=r"retention must be fractions .* in \(0, 1\]"):
        evaluate_selectors(X, y, {"a": SelectKBest()}, retention=(0.2, 1.5))
    with pytest.raises(ValueError, match="'LogisticRegression', 'RandomForest'"):
        evaluate_selectors(X, y, {"a": SelectKBest()}, models=["Ridge"])
    with pytest.raises(ValueError, match="task must be"):
        evaluate_selectors(X, y, {"a": SelectKBest()}, task="ranking")


def test_informative_features_beat_noise():
    data = make_informative(
        n_samples=300, n_features=10, n_informative=6, task="regression", random_state=0
    )
    evaluation = evaluate_selectors(
        data.data,
        data.target,
        {"shap": ShapSelector(n_estimators=50, random_state=0)},
        retention=(0.2, 0.6),
        # Stumps: an additive model, like the planted target.
        models={"gb": GradientBoostingRegressor(max_depth=1, random_state=0)},
        cv=3,
    )
    assert evaluation.task == "regression" and evaluation.scoring == "r2"
    results = evaluation.results
    # At 60% every fold keeps exactly the 6 informative columns ...
    kept = results.query("retention == 0.6")["selected"].map(set)
    assert all(k == set(data.informative) for k in kept)
    # ... which explains the target far better than the best 2 of them.
    mean = evaluation.summary()["mean"].loc["shap"]
    assert mean[0.6] > mean[0.2] + 0.2


def test_string_labels_and_default_models_by_name():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(90, 4)), columns=["a", "b", "c", "d"])
    y = np.where(X["b"] > 0.3, "high", np.where(X["b"] < -0.3, "low", "mid"))
    evaluation = evaluate_selectors(
        X,
        y,
        {"anova": SelectKBest(f_classif, k="all")},
        retention=(0.25,),
        models=["XGBoost"],
        cv=3,
    )
    assert set(evaluation.results["selected"]) == {("b",)}
    assert evaluation.results["score"].min() > 0.8


def test_custom_scoring_and_regression_defaults():
    data = make_informative(n_samples=80, n_features=5, n_informative=2, task="regression")
    evaluation = evaluate_selectors(
        data.data,
        data.target,
        {"anova": SelectKBest(f_regression, k="all")},
        retention=(0.4,),
        models=["Ridge"],
        scoring="neg_mean_absolute_error",
        cv=2,
    )
    assert evaluation.scoring == "neg_mean_absolute_error"
    assert (evaluation.results["score"] < 0).all()


def test_summary_and_plot(small):
    import matplotlib.pyplot as plt

    selectors = {"anova": SelectKBest(f_classif, k="all"), "spy": SpySelector()}
    models = {"tree": TREE["tree"], "logistic": LogisticRegression()}
    evaluation = evaluate_selectors(
        small.data, small.target, selectors, retention=(0.2, 0.6), models=models, cv=3
    )
    table = evaluation.summary()
    assert table.index.tolist() == ["anova", "spy"]
    assert table.columns.names == ["stat", "retention"]
    assert table["mean"].columns.tolist() == [0.2, 0.6]
    # mean over folds of the per-fold average over models; std over folds.
    part = evaluation.results.query("selector == 'anova' and retention == 0.6")
    per_fold = part.groupby("fold")["score"].mean()
    assert table.loc["anova", ("mean", 0.6)] == pytest.approx(per_fold.mean())
    assert table.loc["anova", ("std", 0.6)] == pytest.approx(per_fold.std())
    only_tree = evaluation.summary(model="tree")
    tree_part = part[part["model"] == "tree"]["score"]
    assert only_tree.loc["anova", ("mean", 0.6)] == pytest.approx(tree_part.mean())
    with pytest.raises(ValueError, match="model must be one of"):
        evaluation.summary(model="svm")

    ax = evaluation.plot()
    assert [line.get_label() for line in ax.get_lines()] == ["anova", "spy"]
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [0.2, 0.6])
    assert ax.get_ylabel() == "f1_macro"
    plt.close("all")


def test_parallel_matches_sequential(small):
    kwargs = dict(retention=(0.3,), models=TREE, cv=2)
    selectors = {"anova": SelectKBest(f_classif, k="all")}
    one = evaluate_selectors(small.data, small.target, selectors, **kwargs).results
    # Threads rather than processes: the same code path without process start-up time.
    with joblib.parallel_config(backend="threading"):
        two = evaluate_selectors(small.data, small.target, selectors, n_jobs=2, **kwargs).results
    pd.testing.assert_frame_equal(one.drop(columns="fit_time"), two.drop(columns="fit_time"))


@parametrize_with_checks(
    [
        PermutationImportanceSelector(
            RandomForestClassifier(n_estimators=5, random_state=0), n_repeats=2
        )
    ]
)
def test_permutation_selector_sklearn_compatible(estimator, check):
    check(estimator)


def test_permutation_selector_finds_the_informative_feature():
    data = make_informative(n_samples=300, n_features=6, n_informative=2, random_state=2)
    selector = PermutationImportanceSelector(
        RandomForestClassifier(n_estimators=30, random_state=0),
        n_features_to_select=2,
        random_state=0,
    ).fit(data.data, data.target)
    assert selector.get_feature_names_out().tolist() == data.informative
    assert selector.task_ == "classification"
    assert selector.importances_std_.shape == (6,)
    with pytest.raises(ValueError, match="classifier .* but the task is regression"):
        PermutationImportanceSelector(DecisionTreeClassifier(), task="regression").fit(
            data.data, data.target
        )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_paper_baselines_fit_and_rank(task):
    # Linear signal in the first two columns, so linear baselines can find it too.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 8))
    y = 2 * X[:, 0] - 2 * X[:, 1] + 0.3 * rng.normal(size=150)
    if task == "classification":
        y = (y > 0).astype(int)
    baselines = paper_baselines(task, random_state=0)
    assert list(baselines) == ["LASSO", "RandomForest", "MutualInfo", "SVM-RFE", "SHAP"]
    for name, selector in baselines.items():
        if name == "RandomForest":
            # A smaller forest than the paper's 200 trees keeps the test fast.
            forest = RandomForestClassifier if task == "classification" else RandomForestRegressor
            selector.set_params(estimator=forest(n_estimators=20, random_state=0))
        selector.fit(X, y)
        scores = _ranking_scores(selector, 8)
        assert scores is not None, name
        assert sorted(np.argsort(-scores, kind="stable")[:2]) == [0, 1], name


def test_paper_baselines_needs_a_task():
    with pytest.raises(ValueError, match="'auto' is not possible"):
        paper_baselines("auto")


def test_ranking_scores_lookup():
    lin = LinearRegression().fit(np.eye(3), [1.0, -3.0, 2.0])
    np.testing.assert_allclose(_ranking_scores(lin, 3), np.abs(lin.coef_))
    assert _ranking_scores(lin, 4) is None  # one value per feature, or skipped
    rfe = RFE(LinearRegression(), n_features_to_select=1).fit(np.eye(3), [1.0, -3.0, 2.0])
    # RFE's estimator_ only sees the kept feature: ranking_ is used instead.
    np.testing.assert_array_equal(_ranking_scores(rfe, 3), -rfe.ranking_)
