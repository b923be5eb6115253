"""BooleanRuleClassifier, Binarizer and rules as data (tabsift.rules)."""

import json
import random

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, matthews_corrcoef

from tabsift.datasets import load_iris, make_boolean_rule
from tabsift.llm.testing import LocalLLMServer, ScriptedResponder
from tabsift.rules import Binarizer, BooleanRuleClassifier, Constant, Literal, Operator, Rule
from tabsift.rules._scoring import Scorer, baseline
from tabsift.rules._search import _flatten, _Problem, to_public

FAST = {"n_iterations": 300, "n_starts": 4, "random_state": 0}
SEARCH = {"n_iterations": 500, "n_starts": 10, "random_state": 0}  # BoolXAI's defaults


def planted_truth(bunch, X):
    """The noiseless label of the planted rule, computed from its ground-truth dict."""
    holds = np.zeros(len(X), dtype=int)
    for lit in bunch.rule["literals"]:
        condition = X[lit["column"]].to_numpy() > lit["threshold"]
        holds += ~condition if lit["negated"] else condition
    return (holds >= bunch.rule["k"]).astype(int)


# ------------------------------------------------------------------------- rules as data
def test_rule_evaluates_prints_and_round_trips():
    a = Literal(0, "a > 1", column="a", test=">", value=1.0)
    b = Literal(1, "b == 'x'", negated=True, column="b", test="==", value="x")
    c = Literal(2, "c > 0", column="c", test=">", value=0)
    rule = Rule(Operator("AtLeast", [a, b, Operator("And", [a, c])], k=2))
    Z = np.array([[1, 0, 0], [1, 1, 1], [0, 1, 1], [0, 0, 0]], dtype=bool)
    # rows: a,~b -> 2 of 3; a,c -> a and And(a,c) -> 2; only c -> 0; ~b only -> 1
    assert rule.evaluate(Z).tolist() == [True, True, False, False]
    assert rule.export_text() == "AtLeast2(a > 1, b != 'x', And(a > 1, c > 0))"
    assert (rule.complexity(), rule.depth()) == (6, 2)  # BoolXAI: nodes, operator levels
    assert rule.columns() == ["a", "b", "c"]
    data = json.loads(json.dumps(rule.to_dict()))
    again = Rule.from_dict(data)
    assert again == rule and again.export_text() == rule.export_text()
    assert Rule(Constant(True)).evaluate(Z).all()


@pytest.mark.parametrize(
    ("kind", "k", "expected"),
    [
        ("And", None, [False, False, False, True]),
        ("Or", None, [False, True, True, True]),
        ("AtLeast", 2, [False, False, True, True]),
        ("AtMost", 1, [True, True, False, False]),
        ("Choose", 2, [False, False, True, False]),
    ],
)
def test_operators_count_true_children(kind, k, expected):
    lits = [Literal(i, f"x{i}") for i in range(3)]
    Z = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]])
    assert Rule(Operator(kind, lits, k=k)).evaluate(Z).tolist() == expected
    negated = Rule(Operator(kind, lits, k=k, negated=True)).evaluate(Z).tolist()
    assert negated == [not v for v in expected]


def test_bad_rules_are_rejected_with_clear_errors():
    with pytest.raises(ValueError, match="at least 2 children"):
        Operator("And", [Literal(0, "a")])
    with pytest.raises(ValueError, match="needs an integer k"):
        Operator("AtLeast", [Literal(0, "a"), Literal(1, "b")])
    with pytest.raises(ValueError, match="operator must be one of"):
        Operator("Xor", [Literal(0, "a"), Literal(1, "b")])
    with pytest.raises(ValueError, match="neither a constant"):
        Rule.from_dict({"op": "And"})
    with pytest.raises(ValueError, match="only 1 columns"):
        Rule(Literal(3, "d")).evaluate(np.zeros((2, 1)))


# ---------------------------------------------------------------------------- the search
def test_incremental_evaluation_matches_full_evaluation():
    # Every proposed move updates only the changed path; the cached vector must equal a
    # from-scratch evaluation, and the limits must always hold.
    rng = np.random.default_rng(0)
    Z = rng.random((300, 8)) < 0.5
    ZT = np.ascontiguousarray(Z.T)
    neighbours = [((i + 1) % 8,) for i in range(8)]
    problem = _Problem(
        ZT, 3, 7, ("And", "Or", "AtLeast", "AtMost", "Choose"), random.Random(1), neighbours
    )
    current = problem.random_rule()
    complexity = len(current.children) + 1
    for _ in range(400):
        root, complexity_new = problem.propose(current, complexity, _flatten(current, []))
        public = Rule(to_public(root))
        np.testing.assert_array_equal(root.value, public.evaluate(Z))
        assert complexity_new == public.complexity() <= 7
        assert public.depth() <= 3
        if random.Random(_).random() < 0.7:  # accept most moves to explore deep shapes
            current, complexity = root, complexity_new


@pytest.mark.parametrize("metric", ["balanced_accuracy", "accuracy", "f1", "matthews"])
def test_count_based_metrics_match_sklearn(metric):
    rng = np.random.default_rng(1)
    y = rng.random(200) < 0.3
    pred = rng.random(200) < 0.5
    reference = {
        "balanced_accuracy": balanced_accuracy_score,
        "accuracy": accuracy_score,
        "f1": f1_score,
        "matthews": matthews_corrcoef,
    }[metric]
    assert Scorer(y, metric)(pred) == pytest.approx(reference(y, pred))


def test_baseline_picks_the_best_single_literal():
    rng = np.random.default_rng(2)
    Z = rng.random((200, 5)) < 0.5
    y = ~Z[:, 3]
    kind, index, negated, score = baseline(np.ascontiguousarray(Z.T), Scorer(y, "accuracy"))
    assert (kind, index, negated, score) == ("literal", 3, True, 1.0)


def test_planted_rule_recovered_with_its_thresholds():
    bunch = make_boolean_rule(n_samples=1200, random_state=0)
    X, y = bunch.data, bunch.target
    thresholds = {lit["column"]: [lit["threshold"]] for lit in bunch.rule["literals"]}
    clf = BooleanRuleClassifier(binarizer=Binarizer(thresholds=thresholds), **SEARCH)
    clf.fit(X[:800], y[:800])
    # Same predictions as the planted AtLeast2(a, b, ~c) on rows it never saw.
    held_out = X[800:]
    np.testing.assert_array_equal(clf.predict(held_out), planted_truth(bunch, held_out))
    assert clf.rule_.root.kind == "AtLeast" and clf.rule_.root.k == 2
    assert sorted(clf.rule_.columns()) == sorted(bunch.rule_columns)


def test_planted_rule_found_with_quantile_thresholds():
    bunch = make_boolean_rule(n_samples=1500, random_state=1)
    X, y = bunch.data, bunch.target
    clf = BooleanRuleClassifier(binarizer=Binarizer(n_thresholds=9), **SEARCH)
    clf.fit(X[:1000], y[:1000])
    held_out = X[1000:]
    assert accuracy_score(planted_truth(bunch, held_out), clf.predict(held_out)) > 0.9
    assert set(clf.rule_.columns()) == set(bunch.rule_columns)
    assert clf.rule_.complexity() <= 6 and clf.rule_.depth() <= 3


def test_same_seed_same_rule_and_parallel_starts_agree():
    bunch = make_boolean_rule(n_samples=300, random_state=3)
    params = {"n_iterations": 100, "n_starts": 3, "max_samples": 200, "random_state": 7}
    first = BooleanRuleClassifier(**params).fit(bunch.data, bunch.target)
    second = BooleanRuleClassifier(**params).fit(bunch.data, bunch.target)
    # Threads keep the test fast (processes take seconds to start); the point is that
    # each start's result depends only on its own seed, not on where or when it ran.
    with parallel_config(backend="threading"):
        parallel = BooleanRuleClassifier(n_jobs=2, **params).fit(bunch.data, bunch.target)
    assert first.rule_ == second.rule_ == parallel.rule_
    assert [r.export_text() for r in first.rules_] == [r.export_text() for r in parallel.rules_]
    np.testing.assert_array_equal(first.start_scores_, parallel.start_scores_)


def test_score_is_the_training_metric_and_beats_the_baselines():
    bunch = make_boolean_rule(n_samples=400, random_state=4)
    clf = BooleanRuleClassifier(**FAST).fit(bunch.data, bunch.target)
    predicted = clf.predict(bunch.data)
    assert clf.score_ == pytest.approx(balanced_accuracy_score(bunch.target, predicted))
    assert clf.score_ >= max(clf.start_scores_) - 6e-4  # regularisation may trade a little
    assert len(clf.rules_) == 4 and clf.start_scores_.shape == (4,)


def test_multiclass_one_rule_per_class():
    iris = load_iris()
    X, y = iris.data, iris.target
    clf = BooleanRuleClassifier(**FAST).fit(X, y)
    assert isinstance(clf.rule_, list) and len(clf.rule_) == 3
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    text = clf.export_text().splitlines()
    assert len(text) == 4 and text[-1].startswith("otherwise: ")
    table = clf.explain(X.iloc[:5])
    assert {"prediction", "fired", "fired_classes", "held", "not_held", "reason"} <= set(table)
    assert clf.to_dict()["fallback_class"] in clf.classes_.tolist()


def test_categorical_and_missing_values():
    rng = np.random.default_rng(5)
    n = 400
    colour = rng.choice(["red", "green", "blue"], n)
    size = rng.normal(size=n)
    size[:20] = np.nan
    y = ((colour == "red") & (np.nan_to_num(size, nan=-1) > 0)).astype(int)
    X = pd.DataFrame({"colour": pd.Categorical(colour), "size": size})
    clf = BooleanRuleClassifier(binarizer=Binarizer(thresholds={"size": [0.0]}), **SEARCH)
    clf.fit(X, y)
    assert clf.rule_.root.kind == "And"
    assert sorted(lit.text() for lit in clf.rule_.literals()) == ["colour == 'red'", "size > 0"]
    assert clf.score(X, y) == 1.0
    unseen = pd.DataFrame({"colour": pd.Categorical(["purple", "red"]), "size": [1.0, np.nan]})
    assert clf.predict(unseen).tolist() == [0, 0]


def test_explain_and_describe_binary():
    bunch = make_boolean_rule(n_samples=600, flip_y=0.0, random_state=0)
    assert bunch.rule_text == "AtLeast2(d > 0.36, a > -0.05, ~(b > 0.59))"
    thresholds = {lit["column"]: [lit["threshold"]] for lit in bunch.rule["literals"]}
    clf = BooleanRuleClassifier(binarizer=Binarizer(thresholds=thresholds), **SEARCH)
    clf.fit(bunch.data, bunch.target)
    table = clf.explain(bunch.data.iloc[:20])
    assert (table["fired"] == (table["prediction"] == 1)).all()
    for _, row in table.iterrows():
        n_held = len(row["held"].split("; ")) if row["held"] else 0
        assert row["reason"].startswith(f"{n_held} of its 3 conditions held")
    assert clf.describe() == (
        "Predict 1 when at least 2 of: d > 0.36; b <= 0.59; a > -0.05; otherwise predict 0. "
        "On the training rows: balanced_accuracy 1.00."
    )
    assert clf.description_check_["source"] == "template"
    axes = clf.plot()
    assert axes.shape == (1,)
    assert sorted(t.get_text() for t in axes[0].texts) == sorted(
        ["AtLeast2", "b <= 0.59", "a > -0.05", "d > 0.36"]
    )


def test_bad_parameters_and_targets():
    X, y = np.random.default_rng(0).random((20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match="operators must be a non-empty subset"):
        BooleanRuleClassifier(operators=("And", "Xor")).fit(X, y)
    with pytest.raises(ValueError, match="temp_low"):
        BooleanRuleClassifier(temp_high=0.1, temp_low=0.5).fit(X, y)
    with pytest.raises(ValueError, match="llm_feature_selection needs an LLM client"):
        BooleanRuleClassifier(llm_feature_selection=1).fit(X, y)
    with pytest.raises(ValueError, match="only 1 class"):
        BooleanRuleClassifier().fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="max_complexity"):
        BooleanRuleClassifier(max_complexity=2).fit(X, y)


# ------------------------------------------------------------------------------ Binarizer
def test_binarizer_quantiles_user_thresholds_and_names():
    X = pd.DataFrame({"age": np.arange(100.0), "flag": [True, False] * 50, "city": ["a"] * 100})
    binarizer = Binarizer(n_thresholds=3, thresholds={"age": [18, 65]}).fit(X)
    assert binarizer.get_feature_names_out().tolist() == ["age > 18", "age > 65", "flag"]
    assert binarizer.threshold_source_ == {"age": "user", "flag": "binary"}
    assert binarizer.categories_["city"] == []  # one value: no literal
    Z = binarizer.transform(X)
    assert Z.dtype == bool and Z[:, 0].sum() == 81
    quantile = Binarizer(n_thresholds=3).fit(X[["age"]])
    assert quantile.thresholds_["age"] == [24.8, 49.5, 74.2]  # 3 digits of the range
    frame = Binarizer(n_thresholds=1).set_output(transform="pandas").fit_transform(X[["age"]])
    assert list(frame.columns) == ["age > 49.5"]


def test_binarizer_errors_name_the_column():
    X = pd.DataFrame({"age": [1.0, 2.0, 3.0], "city": ["a", "b", "c"]})
    with pytest.raises(ValueError, match="'height', which is not in X"):
        Binarizer(thresholds={"height": [1]}).fit(X)
    with pytest.raises(ValueError, match="list of finite numbers"):
        Binarizer(thresholds={"age": ["old"]}).fit(X)
    with pytest.raises(ValueError, match="'city'.*not numeric"):
        Binarizer(thresholds={"city": [1]}).fit(X)
    with pytest.raises(ValueError, match="strategy='llm' needs an LLM client"):
        Binarizer(strategy="llm").fit(X)


def _clinical():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "glucose": rng.uniform(60, 200, 300),
            "bmi": rng.uniform(18, 45, 300),
            "age": rng.uniform(21, 80, 300),
            "pressure": rng.uniform(50, 120, 300),
        }
    )


def test_llm_thresholds_are_validated_and_fall_back_per_feature():
    X = _clinical()
    reply = {
        "thresholds": {
            "glucose": [126, 140, 999],  # 999 is outside the observed range: dropped
            "bmi": [10, 50],  # nothing inside the range: quantiles
            "age": ["old"],  # not numbers: quantiles
            "cholesterol": [200],  # not a column: ignored
        }  # "pressure" missing: quantiles
    }
    with LocalLLMServer(lambda request: json.dumps(reply)) as server:
        binarizer = Binarizer(
            n_thresholds=3,
            strategy="llm",
            llm=server.client(),
            feature_descriptions={"glucose": "plasma glucose, mg/dL"},
        ).fit(X)
        prompt = server.requests[0]["messages"][-1]["content"]
    # Names and descriptions are data: they reach the prompt as JSON strings.
    assert '"glucose": "plasma glucose, mg/dL"' in prompt and "observed range" in prompt
    assert binarizer.thresholds_["glucose"] == [126.0, 140.0]
    assert binarizer.threshold_source_ == {
        "glucose": "llm",
        "bmi": "quantile",
        "age": "quantile",
        "pressure": "quantile",
    }
    assert set(binarizer.llm_fallbacks_) == {"glucose", "bmi", "age", "pressure"}
    assert "dropped [999.0]" in binarizer.llm_fallbacks_["glucose"]
    assert binarizer.llm_unknown_columns_ == ["cholesterol"]
    low, high = X["bmi"].min(), X["bmi"].max()
    assert all(low <= t < high for t in binarizer.thresholds_["bmi"])


def test_llm_thresholds_too_many_or_unparsable_fall_back():
    X = _clinical()[["glucose"]]
    too_many = json.dumps({"thresholds": {"glucose": [70, 80, 90, 100, 110, 120]}})
    with LocalLLMServer(lambda request: too_many) as server:
        b = Binarizer(n_thresholds=3, strategy="llm", llm=server.client()).fit(X)
    assert b.threshold_source_["glucose"] == "quantile"
    assert "more than n_thresholds=3" in b.llm_fallbacks_["glucose"]
    with LocalLLMServer(lambda request: "I cannot answer that.") as server:
        b = Binarizer(n_thresholds=3, strategy="llm", llm=server.client()).fit(X)
        assert len(server.requests) == 3  # chat_json re-asked, then gave up
    assert b.threshold_source_["glucose"] == "quantile"
    assert "the LLM request failed" in b.llm_fallbacks_["glucose"]


def test_llm_feature_selection_keeps_only_real_columns():
    X = _clinical()
    y = ((X["glucose"] > 126) | (X["bmi"] > 35)).astype(int)
    replies = ScriptedResponder(['{"features": ["glucose", "insulin", "bmi", "glucose"]}'])
    with LocalLLMServer(replies) as server:
        clf = BooleanRuleClassifier(llm=server.client(), llm_feature_selection=2, **FAST)
        clf.fit(X, y)
    assert clf.selected_features_ == ["glucose", "bmi"]
    assert clf.llm_feature_selection_["unknown"] == ["insulin"]
    assert set(clf.rule_.columns()) <= {"glucose", "bmi"}
    assert clf.score(X, y) > 0.9
    with LocalLLMServer(lambda request: '{"features": ["insulin"]}') as server:
        clf = BooleanRuleClassifier(llm=server.client(), llm_feature_selection=2, **FAST)
        clf.fit(X, y)
    assert clf.selected_features_ == list(X.columns)
    assert "no existing column" in clf.llm_feature_selection_["fallback"]


def _fitted_clinical():
    X = _clinical()
    y = ((X["glucose"] > 126) & (X["bmi"] > 30)).astype(int)
    binarizer = Binarizer(thresholds={"glucose": [126], "bmi": [30]})
    return BooleanRuleClassifier(binarizer=binarizer, **FAST).fit(X, y), X


def test_llm_description_used_only_when_it_mentions_the_rule_only():
    clf, X = _fitted_clinical()
    assert clf.export_text() == "And(glucose > 126, bmi > 30)"
    good = '{"text": "High risk when glucose is above 126 and BMI is above 30."}'
    with LocalLLMServer(lambda request: good) as server:
        assert clf.describe(llm=server.client()).startswith("High risk when glucose")
    assert clf.description_check_ == {"source": "llm", "reason": None}
    other_column = '{"text": "High risk when glucose > 126, bmi > 30 and age over 50."}'
    with LocalLLMServer(lambda request: other_column) as server:
        text = clf.describe(llm=server.client())
    assert text == clf.describe()  # the template
    with LocalLLMServer(lambda request: other_column) as server:
        clf.describe(llm=server.client())
    assert "not in the rule: ['age']" in clf.description_check_["reason"]
    new_number = '{"text": "High risk when glucose is above 140 and bmi above 30."}'
    with LocalLLMServer(lambda request: new_number) as server:
        clf.describe(llm=server.client())
    assert "numbers that are not in the rule: ['140']" in clf.description_check_["reason"]


def test_llm_local_explanations_checked_per_row():
    clf, X = _fitted_clinical()
    replies = ScriptedResponder(
        [
            '{"text": "Glucose above 126 and BMI above 30, so high risk."}',
            '{"text": "Because pressure is high."}',
        ]
    )
    with LocalLLMServer(replies) as server:
        table = clf.explain(X.iloc[:2], llm=server.client())
    assert table.loc[0, "llm_explanation"].startswith("Glucose above 126")
    assert table.loc[1, "llm_explanation"] == table.loc[1, "reason"]  # 'pressure': rejected


def test_callable_metric_matches_the_named_one_and_arrays_of_text_work():
    bunch = make_boolean_rule(n_samples=300, random_state=6)
    params = {"n_iterations": 100, "n_starts": 2, "random_state": 0}
    named = BooleanRuleClassifier(metric="accuracy", **params).fit(bunch.data, bunch.target)
    given = BooleanRuleClassifier(metric=accuracy_score, **params).fit(bunch.data, bunch.target)
    assert named.rule_ == given.rule_ and named.score_ == pytest.approx(given.score_)
    # A numpy array of text: every column categorical, literals named x0 == '...'.
    X = np.array([["red", "s"], ["blue", "m"], ["red", "m"], ["blue", "s"]] * 10)
    y = (X[:, 0] == "red").astype(int)
    clf = BooleanRuleClassifier(**params).fit(X, y)
    assert clf.export_text() in ("x0 == 'red'", "x0 != 'blue'")
    assert clf.score(X, y) == 1.0


def test_refined_thresholds_move_towards_the_planted_ones():
    bunch = make_boolean_rule(n_samples=1000, random_state=0)
    X, y = bunch.data, bunch.target
    coarse = BooleanRuleClassifier(refine_thresholds=False, **SEARCH).fit(X, y)
    fine = BooleanRuleClassifier(**SEARCH).fit(X, y)
    assert fine.score_ > coarse.score_
    planted = {lit["column"]: lit["threshold"] for lit in bunch.rule["literals"]}
    assert {lit.column for lit in fine.rule_.literals()} == set(planted)
    for lit in fine.rule_.literals():
        assert abs(lit.value - planted[lit.column]) < 0.1
    # The binariser learned the new thresholds, so the rule and predict agree.
    Z = fine.binarizer_.transform(X)
    np.testing.assert_array_equal(fine.rule_.evaluate(Z), fine.predict(X) == 1)
    assert all(lit.name in fine.binarizer_.get_feature_names_out() for lit in fine.rule_.literals())
