"""Input sample weights in the coreset selectors, and FitOnSelection (issue 16)."""

import numpy as np
import pytest
import sklearn
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tabsift.sampling import (
    FitOnSelection,
    GraphAttentionSelector,
    HybridCoresetSelector,
    KCenterSelector,
    LLMChoiceSelector,
    OTCoresetSelector,
    StratifiedRandomSelector,
)
from tabsift.sampling._coreset_budgets import class_budgets


def _data(n=80, seed=1):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y, rng


SELECTORS = {
    "kcenter": lambda: KCenterSelector(n_samples=12, random_state=0),
    "kcenter-strat": lambda: KCenterSelector(n_samples=12, stratify="balanced", random_state=0),
    "random": lambda: StratifiedRandomSelector(n_samples=12, random_state=0),
    "ot": lambda: OTCoresetSelector(n_samples=12, validation=20, random_state=0),
    "ot-strat": lambda: OTCoresetSelector(n_samples=12, validation=20, stratify="proportional",
                                          random_state=0),
    "gais": lambda: GraphAttentionSelector(reduction=0.85, epochs=5, hidden=4, random_state=0),
    "llm": lambda: LLMChoiceSelector(None, n_samples=8, random_state=0),
    "hybrid": lambda: HybridCoresetSelector(n_samples=12, random_state=0),
}


@pytest.mark.parametrize("name", list(SELECTORS))
def test_output_weights_total_the_input_weight_and_zero_rows_are_never_kept(name):
    X, y, rng = _data()
    w = rng.randint(0, 4, len(y)).astype(float) * 0.5
    selector = SELECTORS[name]()
    X_res, y_res = selector.fit_resample(X, y, sample_weight=w)
    assert np.isclose(selector.sample_weight_.sum(), w.sum(), rtol=1e-12)
    assert (w[selector.sample_indices_] > 0).all()
    assert np.array_equal(X_res, X[selector.sample_indices_])
    assert np.array_equal(y_res, y[selector.sample_indices_])
    if name in ("kcenter", "ot"):
        return  # without classes: a kept row stands for rows of any class
    # Per class: each class's kept weight is its input weight.
    for c in (0, 1):
        kept = selector.sample_weight_[y[selector.sample_indices_] == c].sum()
        assert np.isclose(kept, w[y == c].sum())


@pytest.mark.parametrize("stratify", [None, "proportional", "balanced"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kcenter_weighted_equals_repeated_rows_exactly(stratify, seed):
    X, y, rng = _data()
    w = rng.randint(1, 4, len(y))
    source = np.repeat(np.arange(len(y)), w)
    make = dict(n_samples=12, stratify=stratify, algorithm="exact", random_state=seed)
    weighted = KCenterSelector(**make).fit(X, y, sample_weight=w)
    repeated = KCenterSelector(**make).fit(X[source], y[source])
    assert np.array_equal(weighted.sample_indices_, source[repeated.sample_indices_])
    assert np.array_equal(weighted.sample_weight_, repeated.sample_weight_)
    assert weighted.radius_ == repeated.radius_


def test_kcenter_zero_weight_equals_dropping_rows():
    X, y, rng = _data()
    w = (rng.uniform(size=len(y)) > 0.3).astype(float)
    keep = np.flatnonzero(w)
    weighted = KCenterSelector(n_samples=10, random_state=3).fit(X, y, sample_weight=w)
    dropped = KCenterSelector(n_samples=10, random_state=3).fit(X[keep], y[keep])
    assert np.array_equal(weighted.sample_indices_, keep[dropped.sample_indices_])
    assert np.array_equal(weighted.sample_weight_, dropped.sample_weight_)


def test_class_budgets_follow_class_mass_as_repeated_rows_do():
    y = np.array([0] * 6 + [1] * 6 + [2] * 3)
    w = np.array([1] * 6 + [3] * 6 + [2] * 3)
    source = np.repeat(np.arange(len(y)), w)
    for stratify in ("proportional", "balanced"):
        weighted = class_budgets(y, 7, stratify, sample_weight=w.astype(float))
        repeated = class_budgets(y[source], 7, stratify)
        assert weighted == repeated
    # Masses 6, 18, 6: one row each, then the 4 left by largest remainder (0.8, 2.4, 0.8).
    budgets = class_budgets(y, 7, "proportional", sample_weight=w.astype(float))
    assert {int(c): b for c, b in budgets.items()} == {0: 2, 1: 3, 2: 2}


def test_stratified_random_draws_heavy_rows_more_often():
    X, y, _ = _data(n=60)
    w = np.ones(60)
    w[:10] = 10.0  # ten heavy rows
    hits = np.zeros(60)
    for seed in range(100):
        s = StratifiedRandomSelector(n_samples=6, stratify=None, random_state=seed)
        s.fit(X, y, sample_weight=w)
        hits[s.sample_indices_] += 1
        assert np.allclose(s.sample_weight_, w.sum() / 6)
    # A heavy row holds 10/150 of the mass: kept far more often than a light one.
    assert hits[:10].mean() > 4 * hits[10:].mean()


def test_ot_weights_the_validation_measure_and_skips_zero_rows():
    X, y, rng = _data(n=120)
    w = rng.randint(0, 3, len(y)).astype(float)
    selector = OTCoresetSelector(n_samples=15, validation=30, random_state=0)
    selector.fit(X, y, sample_weight=w)
    assert (w[selector.validation_indices_] > 0).all()
    assert not set(selector.validation_indices_) & set(selector.sample_indices_)
    h = selector.objective_history_
    assert all(b <= a + 1e-12 for a, b in zip(h, h[1:], strict=False))
    # Heavier validation rows change the target measure, hence the selection.
    plain = OTCoresetSelector(n_samples=15, validation=30, random_state=0).fit(
        X, y, sample_weight=(w > 0).astype(float))
    assert np.array_equal(plain.validation_indices_, selector.validation_indices_)
    assert not np.array_equal(np.sort(plain.sample_indices_), np.sort(selector.sample_indices_))


def test_gais_scores_are_nan_for_rows_of_weight_zero():
    X, y, _ = _data()
    w = np.ones(len(y))
    w[:5] = 0
    s = GraphAttentionSelector(reduction=0.8, epochs=3, hidden=4, random_state=0)
    s.fit(X, y, sample_weight=w)
    assert np.isnan(s.scores_[:5]).all() and np.isfinite(s.scores_[5:]).all()
    assert not set(s.sample_indices_) & set(range(5))


def test_llm_choice_steps_name_rows_of_the_input():
    X, y, _ = _data()
    w = np.ones(len(y))
    w[::2] = 0
    s = LLMChoiceSelector(None, n_samples=6, random_state=0).fit(X, y, sample_weight=w)
    for entry in s.choices_:
        assert entry["chosen"] in entry["window"]
        assert all(i % 2 == 1 for i in entry["window"])


@pytest.mark.parametrize(
    "weight,message",
    [
        (-np.ones(80), r"sample_weight has 80 negative value\(s\).*KCenterSelector needs"),
        (np.zeros(80), "sample_weight is zero on every row; KCenterSelector needs"),
        (np.ones(79), "sample_weight"),
        (np.r_[np.ones(79), np.nan], r"sample_weight holds 1 NaN .*; KCenterSelector needs"),
    ],
)
def test_bad_weights_are_refused_with_a_message(weight, message):
    X, y, _ = _data()
    with pytest.raises(ValueError, match=message):
        KCenterSelector(n_samples=5).fit_resample(X, y, sample_weight=weight)


def test_imblearn_pipeline_routes_weights_to_fit_resample():
    X, y, rng = _data()
    w = rng.randint(0, 4, len(y)).astype(float)
    direct = KCenterSelector(n_samples=12, random_state=0).fit(X, y, sample_weight=w)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = ImbPipeline([
            ("select", KCenterSelector(n_samples=12, random_state=0)
             .set_fit_resample_request(sample_weight=True)),
            ("model", LogisticRegression().set_fit_request(sample_weight=False)),
        ]).fit(X, y, sample_weight=w)
    assert np.array_equal(pipe.named_steps["select"].sample_indices_, direct.sample_indices_)


def test_fit_on_selection_equals_the_direct_weighted_fit():
    X, y, rng = _data()
    w = rng.randint(1, 4, len(y)).astype(float)
    model = FitOnSelection(KCenterSelector(n_samples=15, random_state=0),
                           estimator=LogisticRegression()).fit(X, y, sample_weight=w)
    sel = KCenterSelector(n_samples=15, random_state=0)
    X_sel, y_sel = sel.fit_resample(X, y, sample_weight=w)
    direct = LogisticRegression().fit(X_sel, y_sel, sample_weight=sel.sample_weight_)
    assert np.array_equal(model.estimator_.coef_, direct.coef_)
    assert np.array_equal(model.predict_proba(X), direct.predict_proba(X))
    assert np.array_equal(model.classes_, [0, 1]) and model.n_features_in_ == 3
    unweighted = FitOnSelection(KCenterSelector(n_samples=15, random_state=0),
                                estimator=LogisticRegression(), use_weights=False).fit(X, y)
    plain = LogisticRegression().fit(X[unweighted.selector_.sample_indices_],
                                     y[unweighted.selector_.sample_indices_])
    assert np.array_equal(unweighted.estimator_.coef_, plain.coef_)


def test_fit_on_selection_weighted_equals_repeated():
    X, y, rng = _data()
    w = rng.randint(0, 4, len(y))
    source = np.repeat(np.arange(len(y)), w)
    make = lambda: FitOnSelection(  # noqa: E731
        KCenterSelector(n_samples=15, algorithm="exact", random_state=2),
        estimator=LogisticRegression())
    weighted = make().fit(X, y, sample_weight=w)
    repeated = make().fit(X[source], y[source])
    np.testing.assert_allclose(weighted.estimator_.coef_, repeated.estimator_.coef_, rtol=1e-6)
    assert np.array_equal(weighted.predict(X), repeated.predict(X))


def test_weights_restore_the_class_balance_of_a_balanced_budget():
    # 90 / 10 classes, a balanced budget: the coreset is half minority. Its weights
    # give the classes back their mass, and the model its calibration on all rows.
    rng = np.random.RandomState(0)
    n = 2000
    y = (rng.uniform(size=n) < 0.1).astype(int)
    X = rng.normal(size=(n, 2)) + 1.2 * y[:, None]
    full = LogisticRegression().fit(X, y)
    fits = {}
    for use in (True, False):
        fits[use] = FitOnSelection(
            StratifiedRandomSelector(n_samples=200, stratify="balanced", random_state=0),
            estimator=LogisticRegression(), use_weights=use,
        ).fit(X, y)
    loss = {use: log_loss(y, m.predict_proba(X)) for use, m in fits.items()}
    assert loss[True] < loss[False] - 0.05
    predicted = {use: m.predict_proba(X)[:, 1].mean() for use, m in fits.items()}
    assert abs(predicted[True] - y.mean()) < 0.03 < abs(predicted[False] - y.mean())
    assert abs(fits[True].estimator_.intercept_[0] - full.intercept_[0]) < 0.5


def test_fit_on_selection_in_a_pipeline_and_grid_search():
    X, y, _ = _data(n=200)
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("model", FitOnSelection(KCenterSelector(random_state=0), estimator=LogisticRegression())),
    ])
    grid = GridSearchCV(pipe, {"model__selector__n_samples": [5, 40]}, cv=3).fit(X, y)
    assert grid.best_params_ == {"model__selector__n_samples": 40}
    assert len(grid.best_estimator_["model"].selector_.sample_indices_) == 40
    assert grid.best_estimator_["model"].selector_.sample_weight_.sum() == 200


def test_fit_on_selection_takes_routed_weights():
    X, y, rng = _data(n=120)
    w = rng.randint(1, 4, len(y)).astype(float)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([
            ("scale", StandardScaler().set_fit_request(sample_weight=False)),
            ("model", FitOnSelection(KCenterSelector(n_samples=20, random_state=0),
                                     estimator=LogisticRegression())
             .set_fit_request(sample_weight=True).set_score_request(sample_weight=True)),
        ])
        result = cross_validate(pipe, X, y, cv=2, params={"sample_weight": w},
                                return_estimator=True, return_indices=True)
    for est, train in zip(result["estimator"], result["indices"]["train"], strict=True):
        direct = FitOnSelection(KCenterSelector(n_samples=20, random_state=0),
                                estimator=LogisticRegression())
        direct.fit(StandardScaler().fit_transform(X[train]), y[train], sample_weight=w[train])
        assert np.array_equal(est["model"].estimator_.coef_, direct.estimator_.coef_)
        assert est["model"].selector_.sample_weight_.sum() == w[train].sum()


def test_fit_on_selection_errors_name_the_fix():
    X, y, _ = _data()
    from sklearn.neighbors import KNeighborsClassifier

    with pytest.raises(ValueError, match="use_weights=False"):
        FitOnSelection(KCenterSelector(n_samples=10), estimator=KNeighborsClassifier()).fit(X, y)
    from imblearn.under_sampling import RandomUnderSampler

    with pytest.raises(ValueError, match="sample_weight_"):
        FitOnSelection(RandomUnderSampler(), estimator=LogisticRegression()).fit(X, y)
