"""sample_weight and class_weight in BooleanRuleClassifier and Binarizer.

An integer weight ``k`` means the row repeated ``k`` times: wherever the computation is
deterministic (a metric, a threshold, a whole fit without row sub-sampling) the weighted
result is compared exactly with the one on repeated rows.
"""

import json

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, matthews_corrcoef
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_class_weight_classifiers

from tabsift.datasets import make_boolean_rule
from tabsift.llm.testing import LocalLLMServer
from tabsift.rules import Binarizer, BooleanRuleClassifier, Literal, Operator, Rule
from tabsift.rules._scoring import Scorer, baseline
from tabsift.rules._weights import weighted_quantile

SMALL = {"n_iterations": 150, "n_starts": 3, "random_state": 0}
METRICS = {
    "balanced_accuracy": balanced_accuracy_score,
    "accuracy": accuracy_score,
    "f1": f1_score,
    "matthews": matthews_corrcoef,
}


def _weights(n, seed=0, high=4):
    return np.random.default_rng(seed).integers(0, high, n)


def _fitted_state(clf):
    rules = clf.rule_ if isinstance(clf.rule_, list) else [clf.rule_]
    return {
        "rules": [r.to_dict() for r in rules],
        "score": np.atleast_1d(clf.score_).tolist(),
        "precision": clf.precision_.tolist(),
        "importances": clf.feature_importances_.tolist(),
        "thresholds": clf.binarizer_.thresholds_,
        "fallback": clf.fallback_class_,
    }


# ------------------------------------------------------------------ the metric of a fixed rule
@pytest.mark.parametrize("metric", sorted(METRICS))
def test_metric_of_a_fixed_rule_equals_the_metric_on_repeated_rows(metric):
    rng = np.random.default_rng(1)
    Z = rng.random((120, 3)) < 0.5
    y = rng.random(120) < 0.4
    w = _weights(120, seed=2)
    rule = Rule(Operator("AtLeast", [Literal(0, "a"), Literal(1, "b"), Literal(2, "c")], k=2))
    pred = np.asarray(rule.evaluate(Z))
    weighted = Scorer(y, metric, w)(pred)
    repeated = Scorer(np.repeat(y, w), metric)(np.repeat(pred, w))
    assert weighted == repeated  # exact: integer weights are exact sums
    assert weighted == pytest.approx(METRICS[metric](y, pred, sample_weight=w))
    # A callable metric is given the weights.
    assert Scorer(y, METRICS[metric], w)(pred) == pytest.approx(weighted)


def test_best_single_literal_is_weighted():
    rng = np.random.default_rng(3)
    Z = rng.random((150, 6)) < 0.5
    y = Z[:, 2] ^ (rng.random(150) < 0.2)
    w = _weights(150, seed=4)
    ZT = np.ascontiguousarray(Z.T)
    weighted = baseline(ZT, Scorer(y, "accuracy", w))
    repeated = baseline(np.ascontiguousarray(np.repeat(Z, w, axis=0).T), Scorer(np.repeat(y, w),
                        "accuracy"))
    assert weighted == repeated
    # Weights that make literal 4 the only informative one change the winner.
    w = np.where(Z[:, 4] == y, 50, 1)
    assert baseline(ZT, Scorer(y, "accuracy", w))[:3] == ("literal", 4, False)


# -------------------------------------------------------------------------------- binarizer
def test_weighted_quantile_is_the_quantile_of_repeated_rows():
    rng = np.random.default_rng(5)
    levels = np.arange(1, 50) / 50
    for _ in range(200):
        n = int(rng.integers(1, 25))
        values = rng.normal(size=n).round(1)
        w = rng.integers(0, 4, n)
        if w.sum() == 0:
            continue
        assert np.array_equal(
            weighted_quantile(values, w, levels), np.quantile(np.repeat(values, w), levels)
        )
    # Fractional weights interpolate between those of the rounded cases.
    assert weighted_quantile([0.0, 10.0], [0.5, 0.5], [0.5]) == pytest.approx([0.0])


def test_binarizer_weighted_fit_equals_repeated_rows():
    rng = np.random.default_rng(6)
    X = pd.DataFrame(
        {
            "age": rng.uniform(20, 80, 60).round(1),
            "city": rng.choice(["a", "b", "c", "d"], 60),
            "flag": rng.integers(0, 2, 60),
        }
    )
    w = _weights(60, seed=7)
    weighted = Binarizer(n_thresholds=4, max_categories=2).fit(X, sample_weight=w)
    repeated = Binarizer(n_thresholds=4, max_categories=2).fit(X.loc[X.index.repeat(w)])
    assert weighted.thresholds_ == repeated.thresholds_
    assert weighted.categories_ == repeated.categories_
    assert weighted.literals_ == repeated.literals_
    # Weight decides which categories are frequent.
    heavy = np.where(X["city"] == "d", 100, 1)
    assert Binarizer(max_categories=1).fit(X, sample_weight=heavy).categories_["city"] == ["d"]


def test_binarizer_thresholds_follow_the_weight():
    X = np.arange(100.0).reshape(-1, 1)
    light = Binarizer(n_thresholds=1).fit(X).thresholds_["x0"]
    heavy = Binarizer(n_thresholds=1).fit(X, sample_weight=np.r_[np.full(50, 9), np.ones(50)])
    assert light == [49.5]
    assert heavy.thresholds_["x0"][0] < 30  # the median moves into the heavy half


# ----------------------------------------------------------------------- whole fits, exact
@pytest.mark.parametrize("metric", ["balanced_accuracy", "accuracy", "matthews"])
def test_weighted_fit_equals_fit_on_repeated_rows(metric):
    data = make_boolean_rule(n_samples=200, flip_y=0.1, random_state=1)
    X, y = data.data, data.target
    w = _weights(len(y), seed=8)
    params = dict(SMALL, metric=metric)
    weighted = BooleanRuleClassifier(**params).fit(X, y, sample_weight=w)
    repeated = BooleanRuleClassifier(**params).fit(X.loc[X.index.repeat(w)], np.repeat(y, w))
    assert _fitted_state(weighted) == _fitted_state(repeated)
    assert np.array_equal(weighted.predict_proba(X), repeated.predict_proba(X))


def test_weighted_multiclass_fit_equals_fit_on_repeated_rows():
    rng = np.random.default_rng(9)
    X = pd.DataFrame({"a": rng.normal(size=150), "b": rng.normal(size=150),
                      "c": rng.choice(["u", "v", "w"], 150)})
    y = np.where(X["a"] > 0.5, "hi", np.where(X["c"] == "u", "mid", "lo"))
    y = np.where(rng.random(150) < 0.1, "lo", y)
    w = _weights(150, seed=10)
    weighted = BooleanRuleClassifier(**SMALL).fit(X, y, sample_weight=w)
    repeated = BooleanRuleClassifier(**SMALL).fit(X.loc[X.index.repeat(w)], np.repeat(y, w))
    assert _fitted_state(weighted) == _fitted_state(repeated)
    assert np.array_equal(weighted.predict_proba(X), repeated.predict_proba(X))


def test_zero_weight_drops_the_row_even_when_starts_subsample():
    data = make_boolean_rule(n_samples=300, flip_y=0.1, random_state=2)
    X, y = data.data, data.target
    w = (np.random.default_rng(11).random(len(y)) < 0.7).astype(float)
    params = dict(SMALL, max_samples=120)  # each start draws 120 of the ~210 kept rows
    weighted = BooleanRuleClassifier(**params).fit(X, y, sample_weight=w)
    dropped = BooleanRuleClassifier(**params).fit(X[w > 0], y[w > 0])
    assert _fitted_state(weighted) == _fitted_state(dropped)
    assert [r.to_dict() for r in weighted.rules_] == [r.to_dict() for r in dropped.rules_]


def test_class_weight_equals_the_same_sample_weight():
    data = make_boolean_rule(n_samples=200, flip_y=0.1, random_state=3)
    X, y = data.data, data.target
    params = dict(SMALL, metric="accuracy")
    by_class = BooleanRuleClassifier(class_weight={0: 3, 1: 1}, **params).fit(X, y)
    by_row = BooleanRuleClassifier(**params).fit(X, y, sample_weight=np.where(y == 0, 3, 1))
    assert _fitted_state(by_class) == _fitted_state(by_row)
    # class_weight multiplies sample_weight.
    w = _weights(len(y), seed=12)
    both = BooleanRuleClassifier(class_weight={0: 3, 1: 1}, **params).fit(X, y, sample_weight=w)
    product = BooleanRuleClassifier(**params).fit(X, y, sample_weight=w * np.where(y == 0, 3, 1))
    assert _fitted_state(both) == _fitted_state(product)


# ------------------------------------------------------------------------------ behaviour
def test_weights_that_change_the_majority_change_the_rule():
    # x > 1 is class 1 on 6 rows and class 0 on 4: accuracy picks "x > 1" unweighted;
    # weighting the four class-0 rows by 5 makes "never fire" the better rule.
    X = np.array([[0.0]] * 10 + [[2.0]] * 10)
    y = np.array([0] * 10 + [1] * 6 + [0] * 4)
    params = dict(SMALL, metric="accuracy", refine_thresholds=False)
    plain = BooleanRuleClassifier(**params).fit(X, y)
    assert plain.predict([[2.0]]).tolist() == [1]
    w = np.where((X[:, 0] > 1) & (y == 0), 5.0, 1.0)
    weighted = BooleanRuleClassifier(**params).fit(X, y, sample_weight=w)
    assert weighted.predict([[2.0]]).tolist() == [0]
    assert weighted.score_ == pytest.approx(accuracy_score(y, np.zeros(20), sample_weight=w))


def test_balanced_class_weight_makes_accuracy_balanced():
    rng = np.random.default_rng(13)
    y = rng.random(300) < 0.15
    pred = rng.random(300) < 0.3
    w = np.where(y, 300 / (2 * y.sum()), 300 / (2 * (~y).sum()))
    assert Scorer(y, "accuracy", w)(pred) == pytest.approx(balanced_accuracy_score(y, pred))
    # End to end, on imbalanced data (8% positives, 40% of them where x0 > 1): plain
    # accuracy settles for a rule that finds few positives; "balanced" weights make the
    # search maximise balanced accuracy, which it reports as its score.
    X = rng.normal(size=(300, 2))
    y = ((X[:, 0] > 1.0) & (rng.random(300) < 0.4)).astype(int)
    params = dict(SMALL, metric="accuracy", refine_thresholds=False)
    plain = BooleanRuleClassifier(**params).fit(X, y)
    balanced = BooleanRuleClassifier(class_weight="balanced", **params).fit(X, y)
    assert balanced.score_ == pytest.approx(balanced_accuracy_score(y, balanced.predict(X)))
    assert balanced.score_ > balanced_accuracy_score(y, plain.predict(X)) + 0.15


def test_weighted_importance_is_the_weighted_drop():
    rng = np.random.default_rng(14)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = ((X["a"] > 0) | (X["b"] > 1)).astype(int).to_numpy()
    binarizer = Binarizer(thresholds={"a": [0.0], "b": [1.0]})
    params = dict(SMALL, binarizer=binarizer, metric="accuracy", refine_thresholds=False)
    # Rows where only b > 1 makes the rule fire carry nearly all the weight: b matters most.
    w = np.where((X["b"] > 1) & (X["a"] <= 0), 50.0, 1.0)
    clf = BooleanRuleClassifier(**params).fit(X, y, sample_weight=w)
    assert clf.export_text() in ("Or(a > 0, b > 1)", "Or(b > 1, a > 0)")
    fires = (X["a"] > 0) | (X["b"] > 1)
    drop_a = accuracy_score(y, fires, sample_weight=w) - accuracy_score(y, X["b"] > 1,
                                                                       sample_weight=w)
    drop_b = accuracy_score(y, fires, sample_weight=w) - accuracy_score(y, X["a"] > 0,
                                                                       sample_weight=w)
    assert clf.feature_importances_ == pytest.approx(np.array([drop_a, drop_b]) / (drop_a + drop_b))
    assert clf.feature_importances_[1] > clf.feature_importances_[0]


# --------------------------------------------------------------------------------- errors
def test_bad_weights_are_refused_with_clear_errors():
    X = np.arange(8.0).reshape(-1, 1)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    clf = BooleanRuleClassifier(**SMALL)
    with pytest.raises(
        ValueError,
        match=r"sample_weight has 1 negative value\(s\) \(the smallest is -1\); "
        "BooleanRuleClassifier needs weights >= 0",
    ):
        clf.fit(X, y, sample_weight=[1, 1, -1, 1, 1, 1, 1, 1])
    with pytest.raises(
        ValueError, match="sample_weight is zero on every row; BooleanRuleClassifier needs"
    ):
        clf.fit(X, y, sample_weight=np.zeros(8))
    with pytest.raises(ValueError, match="only class 1 has rows of positive sample_weight"):
        clf.fit(X, y, sample_weight=y)
    with pytest.raises(
        ValueError,
        match="sample_weight times class_weight is zero on every row; BooleanRuleClassifier",
    ):
        BooleanRuleClassifier(class_weight={0: 0, 1: 0}, **SMALL).fit(X, y)
    with pytest.raises(ValueError, match="callable without a sample_weight parameter"):
        BooleanRuleClassifier(metric=lambda t, p: float(np.mean(t == p)), **SMALL).fit(
            X, y, sample_weight=np.ones(8)
        )
    with pytest.raises(
        ValueError, match=r"sample_weight has 8 negative value\(s\) .*; Binarizer needs weights"
    ):
        Binarizer().fit(X, sample_weight=-np.ones(8))
    with pytest.raises(
        ValueError, match=r"sample_weight holds 1 NaN or infinite value\(s\); Binarizer needs"
    ):
        Binarizer().fit(X, sample_weight=[1, 1, np.nan, 1, 1, 1, 1, 1])


def test_class_weight_check_passes_with_accuracy():
    # The common check expected to fail with the default metric (see tests/test_common.py).
    check_class_weight_classifiers(
        "BooleanRuleClassifier", BooleanRuleClassifier(metric="accuracy", **SMALL)
    )


# ------------------------------------------------------------------------ metadata routing
def test_sample_weight_is_routed_through_a_pipeline_and_cross_validate():
    data = make_boolean_rule(n_samples=160, flip_y=0.1, random_state=4)
    X, y = data.data, data.target
    w = _weights(len(y), seed=15).astype(float)
    cv = KFold(2, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([
            ("identity", FunctionTransformer()),
            ("rules", BooleanRuleClassifier(**SMALL)
             .set_fit_request(sample_weight=True).set_score_request(sample_weight=True)),
        ])
        result = cross_validate(
            pipe, X, y, cv=cv, params={"sample_weight": w}, return_estimator=True
        )
    for (train, _), fitted in zip(cv.split(X, y), result["estimator"], strict=True):
        direct = BooleanRuleClassifier(**SMALL).fit(
            X.iloc[train], y[train], sample_weight=w[train]
        )
        assert _fitted_state(fitted[-1]) == _fitted_state(direct)
    unweighted = BooleanRuleClassifier(**SMALL).fit(X.iloc[train], y[train])
    assert _fitted_state(direct) != _fitted_state(unweighted)  # the weights mattered


# -------------------------------------------------------------------------- LLM variant
def test_llm_assisted_fit_uses_the_same_weighted_metric():
    rng = np.random.default_rng(16)
    X = pd.DataFrame({"glucose": rng.uniform(60, 200, 120).round(),
                      "bmi": rng.uniform(18, 45, 120).round(1),
                      "age": rng.uniform(21, 80, 120).round()})
    y = ((X["glucose"] > 126) | (X["bmi"] > 35)).astype(int).to_numpy()
    y = np.where(rng.random(120) < 0.1, 1 - y, y)
    w = _weights(120, seed=17)

    def reply(request):
        content = request["messages"][-1]["content"]
        if "Rank table columns" in content:
            return json.dumps({"features": ["glucose", "bmi"]})
        return json.dumps({"thresholds": {"glucose": [100, 126, 160], "bmi": [30, 35]}})

    with LocalLLMServer(reply) as server:
        def fit(X, y, **kw):
            binarizer = Binarizer(strategy="llm", llm=server.client())
            return BooleanRuleClassifier(
                llm=server.client(), llm_feature_selection=2, binarizer=binarizer, **SMALL
            ).fit(X, y, **kw)

        weighted = fit(X, y, sample_weight=w)
        repeated = fit(X.loc[X.index.repeat(w)], np.repeat(y, w))
    assert weighted.binarizer_.threshold_source_["glucose"] == "llm"
    assert weighted.selected_features_ == ["glucose", "bmi"]
    assert _fitted_state(weighted) == _fitted_state(repeated)
    pred = weighted.predict(X)
    assert weighted.score_ == pytest.approx(balanced_accuracy_score(y, pred, sample_weight=w))
