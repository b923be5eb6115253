"""Rules a user can read: column importances, one plot return type, no redundant literals."""

import numpy as np
import pytest

from tabsift.datasets import make_boolean_rule
from tabsift.rules import BooleanRuleClassifier, Literal, Operator, Rule
from tabsift.rules._prune import drop_redundant, evaluate_without, implies


def _lit(index, column, value, negated=False):
    return Literal(index, f"{column} > {value}", negated=negated, column=column, test=">",
                   value=value)


# ----------------------------------------------------------------- feature_importances_
def test_feature_importances_go_to_the_planted_columns():
    data = make_boolean_rule(n_samples=400, flip_y=0.0, random_state=0)
    clf = BooleanRuleClassifier(n_iterations=300, n_starts=4, random_state=0)
    clf.fit(data.data, data.target)
    imp = clf.feature_importances_
    assert imp.shape == (6,)
    assert np.isclose(imp.sum(), 1.0)
    planted = [list(data.data.columns).index(c) for c in ("a", "d", "e")]
    noise = [j for j in range(6) if j not in planted]
    assert (imp[planted] > 0.1).all()
    assert np.allclose(imp[noise], 0.0)


def test_feature_importances_zero_when_nothing_matters():
    X = np.random.default_rng(0).random((30, 2))
    y = np.r_[np.zeros(15, int), np.ones(15, int)]
    clf = BooleanRuleClassifier(n_iterations=0, n_starts=1, random_state=0, polish=False)
    clf.fit(X, y)
    assert clf.feature_importances_.shape == (2,)
    total = clf.feature_importances_.sum()
    assert np.isclose(total, 1.0) or total == 0.0


def test_removed_literal_semantics():
    a, b, c = _lit(0, "a", 0), _lit(1, "b", 0), _lit(2, "c", 0)
    Z = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 0]], dtype=bool)
    # AtLeast2 over (b, c) once a goes: k is kept.
    rule = Rule(Operator("AtLeast", [a, b, c], k=2))
    assert evaluate_without(rule, Z, "a").tolist() == [False, True, False, False]
    # And over the remaining children; Or likewise; a lone literal never fires.
    assert evaluate_without(Rule(Operator("And", [a, b])), Z, "a").tolist() == [
        False, True, True, False]
    assert evaluate_without(Rule(Operator("Or", [a, b])), Z, "a").tolist() == [
        False, True, True, False]
    assert not evaluate_without(Rule(a), Z, "a").any()


# ------------------------------------------------------------------------------ plot
def test_plot_returns_an_array_of_axes_for_any_number_of_classes():
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    X = rng.random((60, 2))
    binary = BooleanRuleClassifier(n_iterations=50, n_starts=1, random_state=0)
    axes = binary.fit(X, (X[:, 0] > 0.5).astype(int)).plot()
    assert isinstance(axes, np.ndarray) and axes.shape == (1,)
    multi = BooleanRuleClassifier(n_iterations=50, n_starts=1, random_state=0)
    axes = multi.fit(X, np.digitize(X[:, 0], [0.33, 0.66])).plot()
    assert isinstance(axes, np.ndarray) and axes.shape == (3,)
    assert len({id(a.figure) for a in axes}) == 1
    from matplotlib.figure import Figure

    given = Figure().subplots()
    out = binary.plot(ax=given)
    assert out.shape == (1,) and out[0] is given
    with pytest.raises(ValueError, match="one Axes per rule"):
        multi.plot(ax=given)


# ------------------------------------------------------------------- redundant literals
def test_implies():
    assert implies(_lit(0, "a", 0.22), _lit(1, "a", -0.92))
    assert not implies(_lit(1, "a", -0.92), _lit(0, "a", 0.22))
    assert implies(_lit(1, "a", -0.92, negated=True), _lit(0, "a", 0.22, negated=True))
    assert not implies(_lit(0, "a", 0.22), _lit(2, "b", 0.0))
    eq = Literal(3, "c == 'x'", column="c", test="==", value="x")
    ne = Literal(4, "c == 'y'", negated=True, column="c", test="==", value="y")
    assert implies(eq, ne) and not implies(ne, eq)


def test_simplified_rule_prints_without_the_implied_literal():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=200), rng.normal(size=200), rng.normal(size=200)
    Z = np.c_[a > 0.22, a > -0.92, b > 0, c > 0]
    strong, weak, lb, lc = _lit(0, "a", 0.22), _lit(1, "a", -0.92), _lit(2, "b", 0), _lit(3, "c", 0)
    assert str(drop_redundant(Rule(Operator("And", [strong, weak, lb])), Z)) == (
        "And(a > 0.22, b > 0)")
    assert str(drop_redundant(Rule(Operator("Or", [strong, weak, lb])), Z)) == (
        "Or(a > -0.92, b > 0)")
    # Kept when no simpler rule predicts the same on the rows.
    kept = Rule(Operator("AtLeast", [strong, weak, lb, lc], k=3))
    assert drop_redundant(kept, Z) == kept
    # ... and simplified when the rows allow it: here a > -0.92 always holds.
    a = rng.choice([-0.5, 1.0], size=200)
    Z = np.c_[a > 0.22, a > -0.92, b > 0, c > 0]
    simple = drop_redundant(kept, Z)
    assert str(simple) == "AtLeast2(a > 0.22, b > 0, c > 0)"
    assert (simple.evaluate(Z) == kept.evaluate(Z)).all()


def test_fitted_rules_hold_no_droppable_implied_pair():
    data = make_boolean_rule(n_samples=400, flip_y=0.05, random_state=1)
    clf = BooleanRuleClassifier(n_iterations=300, n_starts=4, random_state=0)
    clf.fit(data.data, data.target)
    Z = clf.binarizer_.transform(data.data)
    assert drop_redundant(clf.rule_, Z) == clf.rule_
