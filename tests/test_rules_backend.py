"""Rules on the array backend: evaluation, the literal matrix and prediction on each namespace."""

import numpy as np
import pandas as pd
import pytest

import tabsift
from tabsift.backend import asarray, get_namespace, namespace_name, to_numpy
from tabsift.datasets import load_iris, make_boolean_rule
from tabsift.rules import Binarizer, BooleanRuleClassifier, Constant, Literal, Operator, Rule


def _lits(*indices):
    return [Literal(i, f"z{i}") for i in indices]


RULES = [
    Rule(Literal(2, "z2")),
    Rule(Literal(2, "z2", negated=True)),
    Rule(Constant(True)),
    Rule(Constant(False)),
    Rule(Operator("And", _lits(0, 1))),
    Rule(Operator("Or", _lits(0, 1, 4), negated=True)),
    Rule(Operator("AtLeast", _lits(0, 1, 2, 3), k=2)),
    Rule(Operator("AtMost", _lits(1, 3, 5), k=1)),
    Rule(Operator("Choose", _lits(0, 2, 4, 5), k=2, negated=True)),
    Rule(
        Operator(
            "AtLeast",
            [
                Literal(0, "z0", negated=True),
                Operator("And", _lits(1, 2), negated=True),
                Operator("Choose", _lits(3, 4, 5), k=1),
            ],
            k=2,
        )
    ),
]


def _name(array):
    return namespace_name(get_namespace(array))


def _strict():
    return pytest.importorskip("array_api_strict")


@pytest.mark.parametrize("as_float", [False, True], ids=["bool", "float01"])
def test_rule_evaluates_on_the_namespace_like_numpy(xp, rng, as_float):
    Z = rng.random((200, 6)) < 0.5
    Z_in = Z.astype(np.float64) if as_float else Z
    Z_xp = asarray(Z_in, xp=xp)
    for rule in RULES:
        expected = rule.evaluate(Z)
        out = rule.evaluate(Z_xp)
        assert _name(out) == namespace_name(xp), rule
        assert out.dtype == xp.bool and out.shape == (200,)
        np.testing.assert_array_equal(to_numpy(out), expected, err_msg=str(rule))
        # The nodes evaluate on the namespace too.
        np.testing.assert_array_equal(to_numpy(rule.root.evaluate(Z_xp)), expected)
    # Sanity of the numpy reference itself: AtLeast2 of four columns.
    np.testing.assert_array_equal(RULES[6].evaluate(Z), Z[:, :4].sum(axis=1) >= 2)


def test_rule_evaluation_checks_width_on_any_namespace(xp):
    with pytest.raises(ValueError, match="reads binary feature 5"):
        RULES[-1].evaluate(asarray(np.zeros((3, 4), dtype=bool), xp=xp))
    with pytest.raises(ValueError, match="must be 2-D"):
        RULES[0].evaluate(asarray(np.zeros(3, dtype=bool), xp=xp))


def test_explicit_xp_and_forced_backend_move_numpy_input():
    xps = _strict()
    Z = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0]], dtype=bool)
    rule = Rule(Operator("Or", [Literal(0, "a"), Literal(1, "b", negated=True)]))
    out = rule.evaluate(Z, xp=xps)
    assert type(out).__module__.startswith("array_api_strict")
    assert np.from_dlpack(out).tolist() == [True, True, True]
    with tabsift.config_context(array_backend="array_api_strict"):
        forced = Rule(Operator("And", [Literal(0, "a"), Literal(2, "c")])).evaluate(Z)
    assert type(forced).__module__.startswith("array_api_strict")
    assert np.from_dlpack(forced).tolist() == [True, False, False]


def test_binarizer_literal_matrix_on_the_namespace(xp, rng):
    X = rng.normal(size=(120, 4))
    X[:, 3] = rng.random(120) < 0.3  # a 0/1 column: one literal named as the column
    X[5, 0] = np.nan  # NaN makes every literal of its column false
    binarizer = Binarizer(n_thresholds=3).fit(X)
    expected = binarizer.transform(X)
    assert expected.shape[1] == 3 * 3 + 1 and not expected[5, :3].any()
    Z = binarizer.transform(asarray(X, xp=xp))
    assert _name(Z) == namespace_name(xp)
    assert Z.dtype == xp.bool
    np.testing.assert_array_equal(to_numpy(Z), expected)
    # Integer input is compared as float64, as on the host.
    Xi = rng.integers(-20, 20, size=(60, 3))
    bi = Binarizer(n_thresholds=2).fit(Xi)
    np.testing.assert_array_equal(to_numpy(bi.transform(asarray(Xi, xp=xp))), bi.transform(Xi))
    # Rules evaluate directly on the namespace's literal matrix.
    rule = Rule(Operator("AtLeast", [Literal(0, "a"), Literal(4, "b"), Literal(9, "c")], k=2))
    np.testing.assert_array_equal(to_numpy(rule.evaluate(Z)), rule.evaluate(expected))


def test_binarizer_namespace_input_errors_are_clear(xp, rng):
    X = rng.normal(size=(30, 2))
    binarizer = Binarizer(n_thresholds=2).fit(X)
    bad = X.copy()
    bad[0, 1] = np.inf
    with pytest.raises(ValueError, match="infinit"):
        binarizer.transform(asarray(bad, xp=xp))
    with pytest.raises(ValueError, match="3 features"):
        binarizer.transform(asarray(np.zeros((4, 3)), xp=xp))


def test_binarizer_categorical_column_needs_host_input():
    xps = _strict()
    frame = pd.DataFrame({"age": [20.0, 35, 50, 65], "smoker": ["no", "yes", "no", "yes"]})
    binarizer = Binarizer(n_thresholds=1).fit(frame)
    with pytest.raises(ValueError, match="'smoker' was categorical"):
        binarizer.transform(xps.asarray(np.array([[20.0, 1.0]])))


def test_binarizer_forced_backend_with_a_dataframe():
    _strict()
    frame = pd.DataFrame(
        {
            "age": [20.0, 35, np.nan, 65, 41],
            "smoker": ["no", "yes", "no", None, "yes"],
            "flag": [0, 1, 1, 0, 1],
            "city": ["a", "b", "c", "a", "b"],
        }
    )
    binarizer = Binarizer(n_thresholds=2).fit(frame)
    expected = binarizer.transform(frame)
    with tabsift.config_context(array_backend="array_api_strict"):
        Z = binarizer.transform(frame)
    assert type(Z).__module__.startswith("array_api_strict")
    np.testing.assert_array_equal(np.from_dlpack(Z), expected)
    assert expected.any(axis=0).all()  # every literal holds somewhere: a real comparison


def test_binarizer_fit_on_the_namespace_gives_the_same_thresholds(xp, rng):
    X = rng.normal(size=(80, 3))
    assert (
        Binarizer(n_thresholds=4).fit(asarray(X, xp=xp)).thresholds_
        == Binarizer(n_thresholds=4).fit(X).thresholds_
    )


@pytest.fixture(scope="module")
def fitted():
    data = make_boolean_rule(n_samples=300, flip_y=0.05, random_state=0)
    X, y = data.data.to_numpy(), np.asarray(data.target)
    params = dict(n_iterations=150, n_starts=2, random_state=0)
    binary = BooleanRuleClassifier(**params).fit(X, y)
    iris = load_iris()
    Xi = iris.data.to_numpy()
    multi = BooleanRuleClassifier(**params).fit(Xi, np.asarray(iris.target))
    labels = np.array(["a", "b", "c"])[np.asarray(iris.target)]
    text = BooleanRuleClassifier(**params).fit(Xi, labels)
    return {"binary": (binary, X), "multi": (multi, Xi), "text": (text, Xi), "y": y}


@pytest.mark.parametrize("case", ["binary", "multi"])
def test_classifier_predicts_on_the_namespace(xp, fitted, case):
    clf, X = fitted[case]
    expected = clf.predict(X)
    assert isinstance(expected, np.ndarray)
    assert len(np.unique(expected)) == clf.classes_.size  # every class is predicted somewhere
    pred = clf.predict(asarray(X, xp=xp))
    assert _name(pred) == namespace_name(xp)
    np.testing.assert_array_equal(to_numpy(pred), expected)
    proba = clf.predict_proba(asarray(X, xp=xp))
    assert _name(proba) == namespace_name(xp)
    np.testing.assert_allclose(to_numpy(proba), clf.predict_proba(X))
    assert (to_numpy(proba).argmax(axis=1) == np.searchsorted(clf.classes_, expected)).all()
    # explain builds its pandas table on the host from any namespace.
    table = clf.explain(asarray(X[:5], xp=xp))
    assert table["prediction"].tolist() == expected[:5].tolist()


def test_text_labels_come_back_as_numpy(xp, fitted):
    clf, X = fitted["text"]
    pred = clf.predict(asarray(X, xp=xp))
    assert isinstance(pred, np.ndarray)
    np.testing.assert_array_equal(pred, clf.predict(X))
    assert _name(clf.predict_proba(asarray(X, xp=xp))) == namespace_name(xp)


def test_classifier_fit_on_the_namespace_finds_the_same_rule(xp, fitted):
    clf, X = fitted["multi"]
    again = BooleanRuleClassifier(n_iterations=150, n_starts=2, random_state=0)
    again.fit(asarray(X, xp=xp), np.asarray(load_iris().target))
    assert again.rule_ == clf.rule_


def test_forced_backend_fit_and_predict(fitted):
    _strict()
    clf, X = fitted["binary"]
    with tabsift.config_context(array_backend="array_api_strict"):
        forced = BooleanRuleClassifier(n_iterations=150, n_starts=2, random_state=0)
        forced.fit(X, fitted["y"])
        pred = forced.predict(X)
        table = forced.explain(X[:3])
    assert forced.rule_ == clf.rule_  # the search runs on NumPy: same rule
    assert type(pred).__module__.startswith("array_api_strict")
    np.testing.assert_array_equal(np.from_dlpack(pred), clf.predict(X))
    assert table["prediction"].tolist() == clf.predict(X[:3]).tolist()


def test_forced_numpy_backend_brings_other_arrays_home(fitted):
    xps = _strict()
    clf, X = fitted["multi"]
    with tabsift.config_context(array_backend="numpy"):
        pred = clf.predict(xps.asarray(X))
        Z = clf.binarizer_.transform(xps.asarray(X))
        fired = clf.rule_[0].evaluate(xps.asarray(Z.astype(np.float64)))
    assert isinstance(pred, np.ndarray) and isinstance(Z, np.ndarray)
    assert isinstance(fired, np.ndarray)
    np.testing.assert_array_equal(pred, clf.predict(X))
    np.testing.assert_array_equal(fired, clf.rule_[0].evaluate(Z))
