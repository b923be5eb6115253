"""sample_weight and class_weight in the residual agents, and class labels in corrections.

Exact tests: on a fixed training/validation split, a weighted Workspace gives the
coefficients, losses, screening gains and acceptance decisions of the Workspace
of the rows repeated by their (integer) weights. End to end (the split and the
folds are drawn over rows) the tests are behavioural.
"""

import json

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, cross_validate
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from tabsift.expr import parse
from tabsift.residual import (
    Correction,
    FrozenCorrections,
    ResidualAgentClassifier,
    ResidualAgentRegressor,
)
from tabsift.residual._workspace import Workspace

FAST = {"n_rounds": 1, "n_jobs": 1, "random_state": 0}


# ------------------------------------------------------------------ exact: Workspace
def _parts(rng, n_train=40, n_val=30, n_classes=None):
    data_train = {"a": rng.normal(size=n_train), "b": rng.normal(size=n_train)}
    data_val = {"a": rng.normal(size=n_val), "b": rng.normal(size=n_val)}
    if n_classes is None:
        y_train = data_train["a"] * data_train["b"] + rng.normal(scale=0.3, size=n_train)
        y_val = data_val["a"] * data_val["b"] + rng.normal(scale=0.3, size=n_val)
        base_train = 0.1 * data_train["a"]
        base_val = 0.1 * data_val["a"]
    else:
        # Labels drawn from the base probabilities with class 1's logit moved by a * b.
        base_train = rng.dirichlet(np.full(n_classes, 5.0), size=n_train)
        base_val = rng.dirichlet(np.full(n_classes, 5.0), size=n_val)
        y_train, y_val = (
            _draw(rng, base, data["a"] * data["b"])
            for base, data in ((base_train, data_train), (base_val, data_val))
        )
    return data_train, data_val, y_train, y_val, base_train, base_val


def _draw(rng, base, shift):
    logits = np.log(base)
    logits[:, 1] += 2.0 * shift
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return np.array([rng.choice(p.shape[1], p=row) for row in p])


def _repeat(part, w):
    if isinstance(part, dict):
        return {k: np.repeat(v, w, axis=0) for k, v in part.items()}
    return np.repeat(part, w, axis=0)


def _weighted_and_repeated(task, n_classes=None, seed=0):
    rng = np.random.default_rng(seed)
    data_train, data_val, y_train, y_val, base_train, base_val = _parts(rng, n_classes=n_classes)
    # Integer weights, zeros included: a zero is a dropped row, k is k copies.
    w_train = rng.integers(0, 4, size=len(y_train))
    w_val = rng.integers(0, 4, size=len(y_val))
    k = n_classes or 0
    weighted = Workspace(
        task,
        data_train,
        data_val,
        y_train,
        y_val,
        base_train,
        base_val,
        k,
        w_train=w_train.astype(float),
        w_val=w_val.astype(float),
    )
    repeated = Workspace(
        task,
        _repeat(data_train, w_train),
        _repeat(data_val, w_val),
        _repeat(y_train, w_train),
        _repeat(y_val, w_val),
        _repeat(base_train, w_train),
        _repeat(base_val, w_val),
        k,
    )
    return weighted, repeated


def _terms(ws, formulas, target_class=None):
    return [ws.make_term(parse(f), "", "offline", target_class) for f in formulas]


def test_weighted_least_squares_is_the_repeated_rows_fit():
    weighted, repeated = _weighted_and_repeated("regression")
    formulas = ["a * b", "a ** 2", "where(b > 0, 1, 0)"]
    fw = weighted.fit(_terms(weighted, formulas))
    fr = repeated.fit(_terms(repeated, formulas))
    np.testing.assert_allclose(fw.coefficients, fr.coefficients, rtol=1e-10)
    np.testing.assert_allclose(fw.intercept, fr.intercept, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fw.train_loss, fr.train_loss, rtol=1e-10)
    # The acceptance score: the weighted validation loss.
    np.testing.assert_allclose(fw.val_loss, fr.val_loss, rtol=1e-10)
    np.testing.assert_allclose(weighted.base_val_loss, repeated.base_val_loss, rtol=1e-12)
    # ... and the weights changed them (the test can fail).
    unweighted = Workspace(
        "regression",
        weighted.data_train,
        weighted.data_val,
        weighted.y_train,
        weighted.y_val,
        weighted.base_train,
        weighted.base_val,
        0,
    ).fit(_terms(weighted, formulas))
    assert not np.allclose(unweighted.coefficients, fw.coefficients, rtol=1e-3)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_weighted_logistic_fit_is_the_repeated_rows_fit(n_classes):
    weighted, repeated = _weighted_and_repeated("classification", n_classes, seed=1)
    target = 1 if n_classes == 2 else 2
    formulas = ["a * b", "b"]
    fw = weighted.fit(_terms(weighted, formulas, target))
    fr = repeated.fit(_terms(repeated, formulas, target))
    # Same objective up to rounding, minimised by L-BFGS: equal to its tolerance.
    np.testing.assert_allclose(fw.coefficients, fr.coefficients, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fw.intercept, fr.intercept, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fw.val_loss, fr.val_loss, rtol=1e-7)
    np.testing.assert_allclose(weighted.base_val_loss, repeated.base_val_loss, rtol=1e-12)


@pytest.mark.parametrize("task,n_classes,seed", [("regression", None, 2), ("classification", 3, 4)])
def test_acceptance_and_screening_are_those_of_repeated_rows(task, n_classes, seed, monkeypatch):
    weighted, repeated = _weighted_and_repeated(task, n_classes, seed=seed)
    target = None if n_classes is None else 1
    decisions = {"weighted": [], "repeated": []}
    for name, ws in (("weighted", weighted), ("repeated", repeated)):
        old = ws.fit(_terms(ws, ["a"], target))
        new = ws.fit(_terms(ws, ["a", "a * b"], target))
        # Both tests of accepts: the relative gain, then the t-statistic of the gain
        # (scanned through the threshold it must reach).
        for min_gain in np.linspace(0.0, 1.0, 41):
            decisions[name].append(ws.accepts(new, old, min_gain))
        for min_t in np.geomspace(0.5, 200.0, 60):
            monkeypatch.setattr("tabsift.residual._workspace._MIN_T", min_t)
            decisions[name].append(ws.accepts(new, old, 0.0))
        monkeypatch.undo()
        G = np.column_stack([t.values_train for t in _terms(ws, ["a * b", "b ** 2"], target)])
        decisions[name].append(ws.screen(old, G, target))
    flags_w, gains_w = decisions["weighted"][:-1], decisions["weighted"][-1]
    flags_r, gains_r = decisions["repeated"][:-1], decisions["repeated"][-1]
    assert flags_w == flags_r
    # Both grids cross their threshold (the test can fail).
    assert True in flags_w[:41] and False in flags_w[:41]
    assert True in flags_w[41:] and False in flags_w[41:]
    np.testing.assert_allclose(gains_w, gains_r, rtol=1e-8)


def test_acceptance_noise_guard_counts_rows_by_their_weight():
    # Same gain at every scale of the weights, but the total weight is the number of
    # rows the standard error is computed for: just over 1 row, the gain is noise;
    # a million rows, it is clear of it; at most 1, too few rows (weight) vary to judge
    # the term at all (the minimum-support rule comes before the t-statistic).
    rng = np.random.default_rng(3)
    data_train, data_val, y_train, y_val, base_train, base_val = _parts(rng, n_val=8)
    args = ("regression", data_train, data_val, y_train, y_val, base_train, base_val, 0)
    verdicts, gains = [], []
    for total in (1.01, 1e6, 0.5):
        w_val = np.full(len(y_val), total / len(y_val))
        ws = Workspace(*args, w_train=np.ones(len(y_train)), w_val=w_val)
        old, new = ws.fit([]), ws.fit(_terms(ws, ["a * b"]))
        verdicts.append(ws.accepts(new, old, 0.0))
        gains.append(old.val_loss - new.val_loss)
    assert verdicts == [False, True, False]
    np.testing.assert_allclose(gains, gains[0], rtol=1e-12)
    assert gains[0] > 0


# ------------------------------------------------------------------ end to end
def _regions(n=600, seed=0):
    """y = x0 + 3 x1 ** 2 on the rows with group 1, y = x0 on the others."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    group = rng.integers(0, 2, size=n)
    y = X[:, 0] + 3 * X[:, 1] ** 2 * group + rng.normal(scale=0.1, size=n)
    return X, y, group


def test_weights_reach_the_base_model_and_select_the_corrections():
    X, y, group = _regions()
    model = ResidualAgentRegressor(LinearRegression(), n_corrections=1, **FAST)
    # Only the rows of the nonlinear group count: the square of x1 is found.
    on = clone(model).fit(X, y, sample_weight=group.astype(float))
    assert [c.expression for c in on.corrections_] == ["x1 ** 2"]
    assert on.corrections_[0].coefficient == pytest.approx(3.0, rel=0.05)
    # The final base model was fit with the weights.
    expected = LinearRegression().fit(X, y, sample_weight=group.astype(float))
    np.testing.assert_allclose(on.base_estimator_.coef_, expected.coef_, rtol=1e-10)
    # Only the linear group counts: nothing is left to correct.
    off = clone(model).fit(X, y, sample_weight=1.0 - group)
    assert off.corrections_ == []
    assert off.validation_scores_["base"] < 0.05  # the weighted loss: linear rows only


def test_zero_weights_are_dropped_rows_for_base_and_corrections():
    X, y, group = _regions(seed=1)
    w = np.where(group == 1, 1.0, 0.0)
    model = ResidualAgentRegressor(LinearRegression(), n_corrections=1, **FAST)
    weighted = clone(model).fit(X, y, sample_weight=w)
    dropped = clone(model).fit(X[group == 1], y[group == 1])
    assert [c.expression for c in weighted.corrections_] == [
        c.expression for c in dropped.corrections_
    ]
    # Different splits: the coefficients agree to the noise of the data.
    assert weighted.corrections_[0].coefficient == pytest.approx(
        dropped.corrections_[0].coefficient, rel=0.05
    )


def test_all_ones_is_exactly_no_weight():
    X, y, _ = _regions(300, seed=2)
    model = ResidualAgentRegressor(LinearRegression(), **FAST)
    a = clone(model).fit(X, y)
    b = clone(model).fit(X, y, sample_weight=np.ones(len(y)))
    assert a.corrections_ == b.corrections_
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_weights_change_the_classifier_majority():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 2))
    y = (rng.random(400) < 0.3).astype(int)  # features carry no signal: the prior wins
    model = ResidualAgentClassifier(LogisticRegression(), **FAST)
    plain = clone(model).fit(X, y)
    assert (plain.predict(X) == 0).all()
    heavy = clone(model).fit(X, y, sample_weight=np.where(y == 1, 5.0, 1.0))
    assert (heavy.predict(X) == 1).mean() > 0.9


def test_class_weight_is_multiplied_into_sample_weight():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(500, 3))
    logit = X[:, 0] + 2 * X[:, 1] * X[:, 2] - 1.5
    y = np.where(rng.random(500) < 1 / (1 + np.exp(-logit)), "yes", "no")
    w = rng.uniform(0.5, 2.0, size=500)
    cw = ResidualAgentClassifier(LogisticRegression(), class_weight="balanced", **FAST)
    a = cw.fit(X, y, sample_weight=w)
    sw = ResidualAgentClassifier(LogisticRegression(), **FAST)
    b = sw.fit(X, y, sample_weight=w * compute_sample_weight("balanced", y))
    assert a.corrections_ == b.corrections_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = ResidualAgentClassifier(LogisticRegression(), class_weight={"yes": 3.0}, **FAST).fit(X, y)
    d = ResidualAgentClassifier(LogisticRegression(), **FAST).fit(
        X, y, sample_weight=np.where(y == "yes", 3.0, 1.0)
    )
    np.testing.assert_array_equal(c.predict_proba(X), d.predict_proba(X))
    # "balanced" moves the decisions towards the rare class.
    plain = ResidualAgentClassifier(LogisticRegression(), **FAST).fit(X, y)
    assert (a.predict(X) == "yes").sum() > (plain.predict(X) == "yes").sum()


# ------------------------------------------------------------------ errors
def test_weight_errors_name_the_parameter_and_the_fix():
    X, y, _ = _regions(100)
    with pytest.raises(ValueError, match="base_estimator KNeighborsRegressor .*metadata routing"):
        ResidualAgentRegressor(KNeighborsRegressor(), **FAST).fit(
            X, y, sample_weight=np.ones(100) * 2
        )
    w = np.ones(100)
    w[3] = -1
    with pytest.raises(ValueError, match="sample_weight has 1 negative value.*ResidualAgentRegressor"):
        ResidualAgentRegressor(LinearRegression(), **FAST).fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="sample_weight is zero on every row; ResidualAgentRegressor"):
        ResidualAgentRegressor(LinearRegression(), **FAST).fit(X, y, sample_weight=np.zeros(100))
    with pytest.raises(ValueError, match="sample_weight holds 1 NaN or infinite value.*ResidualAgentRegressor"):
        ResidualAgentRegressor(LinearRegression(), **FAST).fit(
            X, y, sample_weight=np.r_[np.inf, np.ones(99)]
        )
    labels = np.where(y > np.median(y), "a", "b")
    with pytest.raises(ValueError, match="only the class \\['a'\\].*2 classes"):
        ResidualAgentClassifier(LogisticRegression(), **FAST).fit(
            X, labels, sample_weight=(labels == "a").astype(float)
        )
    with pytest.raises(ValueError, match="class_weight"):
        ResidualAgentClassifier(LogisticRegression(), class_weight="even", **FAST).fit(X, labels)


def test_a_split_part_without_weight_skips_the_search():
    X, y, _ = _regions(200)
    w = np.zeros(200)
    w[:3] = 1.0  # nearly every row weighs 0: some part of the split has no weight
    model = ResidualAgentRegressor(LinearRegression(), **FAST).fit(X, y, sample_weight=w)
    assert model.corrections_ == []
    assert "with a positive sample_weight" in model.trace_[-1]["reason"]


# ------------------------------------------------------------------ metadata routing
def test_metadata_routing_reaches_the_estimator_and_its_base():
    X, y, group = _regions(400, seed=6)
    w = np.where(group == 1, 2.0, 0.5)
    cv = KFold(3, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        est = ResidualAgentRegressor(
            LinearRegression().set_fit_request(sample_weight=True), n_corrections=1, **FAST
        ).set_fit_request(sample_weight=True)
        est.set_score_request(sample_weight=True)  # a weighted R^2 on each test fold
        pipe = Pipeline(
            [("scale", StandardScaler().set_fit_request(sample_weight=False)), ("est", est)]
        )
        result = cross_validate(
            pipe,
            X,
            y,
            cv=cv,
            params={"sample_weight": w},
            return_estimator=True,
            return_indices=True,
        )
        # A base model whose request is not set gets an error naming it.
        unset = ResidualAgentRegressor(LinearRegression(), **FAST).set_fit_request(
            sample_weight=True
        )
        with pytest.raises(Exception, match="sample_weight"):
            unset.fit(X, y, sample_weight=w)
    assert np.isfinite(result["test_score"]).all() and result["test_score"].min() > 0.5
    for fitted, train in zip(result["estimator"], result["indices"]["train"], strict=True):
        Xs = StandardScaler().fit_transform(X[train])
        direct = ResidualAgentRegressor(LinearRegression(), n_corrections=1, **FAST).fit(
            Xs, y[train], sample_weight=w[train]
        )
        got = fitted.named_steps["est"]
        assert got.corrections_ == direct.corrections_
        np.testing.assert_allclose(got.base_estimator_.coef_, direct.base_estimator_.coef_)
        np.testing.assert_allclose(got.predict(Xs), direct.predict(Xs))


def test_routing_can_weight_the_corrections_only():
    # A base model without sample_weight: with routing the corrections are still
    # weighted (the error without routing suggests exactly this).
    X, y, group = _regions(400, seed=7)
    with sklearn.config_context(enable_metadata_routing=True):
        base = KNeighborsRegressor(20)  # its fit takes no sample_weight: none is routed
        model = ResidualAgentRegressor(base, n_corrections=1, **FAST).set_fit_request(
            sample_weight=True
        )
        on = model.fit(X, y, sample_weight=group.astype(float))
        assert on.validation_scores_["base"] > 0
        off = clone(model).fit(X, y, sample_weight=1.0 - group)
    # The nonlinear rows carry all the residual: their weighted loss is far larger.
    assert on.validation_scores_["base"] > 5 * off.validation_scores_["base"]


# ------------------------------------------------------------------ class labels (issue 16)
@pytest.fixture(scope="module")
def string_multiclass():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(900, 4))
    score = np.column_stack([X[:, 0], 2 * X[:, 1] * X[:, 2], -X[:, 0]])
    y = np.array(["cold", "hot", "warm"])[np.argmax(score + rng.gumbel(size=score.shape), axis=1)]
    return ResidualAgentClassifier(LogisticRegression(), cv=3, **FAST).fit(X, y), X


def test_target_class_is_the_label_everywhere_a_user_reads_it(string_multiclass):
    model, X = string_multiclass
    labels = {"cold", "hot", "warm"}
    assert model.corrections_
    assert {c.target_class for c in model.corrections_} <= labels
    assert all(f"target_class='{c.target_class}'" in repr(c) for c in model.corrections_)
    traced = {t["target_class"] for t in model.trace_ if t.get("target_class") is not None}
    assert traced and traced <= labels
    data = json.loads(json.dumps(model.export_corrections()))
    assert [item["target_class"] for item in data["corrections"]] == [
        c.target_class for c in model.corrections_
    ]
    frozen = FrozenCorrections(model.base_estimator_, data)
    assert frozen.fit(X).corrections_ == model.corrections_
    np.testing.assert_array_equal(frozen.predict_proba(X), model.predict_proba(X))


def test_the_label_decides_which_logit_a_correction_moves(string_multiclass):
    model, X = string_multiclass
    c = model.corrections_[0]
    j = list(model.classes_).index(c.target_class)
    data = model.export_corrections()
    data["corrections"] = [data["corrections"][0]]
    data["intercept"] = [0.0] * 3
    data["blend_weight"] = 1.0
    base = model.base_estimator_.predict_proba(X)
    proba = FrozenCorrections(model.base_estimator_, data).predict_proba(X)
    logits = np.log(np.clip(base, 1e-9, 1))
    logits[:, j] += c.coefficient * np.asarray(
        parse(c.expression).evaluate({f"x{k}": X[:, k] for k in range(X.shape[1])})
    )
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(proba, expected, rtol=1e-12)


def test_old_files_with_class_indices_load_as_labels(string_multiclass):
    model, X = string_multiclass
    old = model.export_corrections()
    del old["target_class_kind"]
    classes = list(old["classes"])
    for item in old["corrections"]:
        item["target_class"] = classes.index(item["target_class"])
    frozen = FrozenCorrections(model.base_estimator_, old).fit(X)
    assert [c.target_class for c in frozen.corrections_] == [
        c.target_class for c in model.corrections_
    ]
    np.testing.assert_array_equal(frozen.predict(X), model.predict(X))


def test_a_correction_for_an_unknown_label_is_a_clear_error(string_multiclass):
    from tabsift.residual._correction import apply_corrections

    model, X = string_multiclass
    bad = [Correction("x0", 1.0, target_class="tepid")]
    with pytest.raises(ValueError, match="targets the class 'tepid'.*one of the classes"):
        apply_corrections(
            "classification",
            np.full((2, 3), 1 / 3),
            np.zeros(3),
            bad,
            np.ones((2, 1)),
            classes=model.classes_,
        )
    with pytest.raises(TypeError, match="target_class must be a class label"):
        Correction("x0", 1.0, target_class=[1])
    assert Correction("x0", 1.0, target_class=np.int64(2)).target_class == 2
    assert type(Correction("x0", 1.0, target_class=np.str_("hot")).target_class) is str
