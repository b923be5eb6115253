"""scikit-learn's tree introspection on the evolved trees, and trees a user can read (issue 16)."""

from unittest import mock

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import tabsift.tree._evolution as evolution
from tabsift.datasets import make_planted_tree
from tabsift.tree import EvolvedTreeClassifier, EvolvedTreeRegressor, Tree
from tabsift.tree._importance import impurity_decrease
from tabsift.tree._positions import merge_same_class_leaves, n_positions
from tabsift.tree._thresholds import shortest_threshold, split_bounds


def _from_sklearn(model, names):
    """The same tree as a fitted sklearn tree, in tabsift's positions; and sklearn id -> position."""
    t = model.tree_
    size = n_positions(max(t.max_depth, 1))
    feature = np.full(size, -1)
    threshold = np.zeros(size)
    value = np.zeros((size, t.value.shape[2]))
    counts = np.zeros(size, dtype=int)
    position = {}

    def walk(node, pos):
        position[node] = pos
        value[pos] = t.value[node, 0]
        counts[pos] = t.n_node_samples[node]
        if t.children_left[node] >= 0:
            feature[pos], threshold[pos] = t.feature[node], t.threshold[node]
            walk(t.children_left[node], 2 * pos + 1)
            walk(t.children_right[node], 2 * pos + 2)

    walk(0, 0)
    classes = getattr(model, "classes_", None)
    return Tree(feature, threshold, value, counts, names, classes=classes), position


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_apply_decision_path_importances_match_sklearn(iris):
    X, y = iris
    sk = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    tree, position = _from_sklearn(sk, [f"x{j}" for j in range(4)])
    to_pos = np.vectorize(position.get)
    np.testing.assert_array_equal(tree.apply(X), to_pos(sk.apply(X)))
    assert tree.depth == sk.get_depth() and tree.n_leaves == sk.get_n_leaves()
    ours = tree.decision_path(X).toarray()
    theirs = sk.decision_path(X).toarray()
    mapped = np.zeros_like(ours)
    mapped[:, to_pos(np.arange(theirs.shape[1]))] = theirs
    np.testing.assert_array_equal(ours, mapped)
    gain = impurity_decrease(tree, X, y, n_classes=3)
    np.testing.assert_allclose(gain / gain.sum(), sk.feature_importances_, atol=1e-12)


def test_regression_importances_match_sklearn():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    y = 3 * X[:, 0] + X[:, 2] ** 2 + rng.normal(scale=0.1, size=300)
    sk = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    tree, _ = _from_sklearn(sk, [f"x{j}" for j in range(4)])
    gain = impurity_decrease(tree, X, y)
    np.testing.assert_allclose(gain / gain.sum(), sk.feature_importances_, atol=1e-10)


def test_decision_path_follows_missing_sides():
    tree = Tree([0, 1, -1, -1, -1, -1, -1], [0.0, 0.5, 0, 0, 0, 0, 0],
                [[1.0]] * 7, [4, 2, 2, 1, 1, 0, 0], ["a", "b"],
                missing_go_to_left=[False, True, True, True, True, True, True])
    X = np.array([[np.nan, 0.0], [-1.0, np.nan], [-1.0, 1.0]])
    np.testing.assert_array_equal(tree.apply(X), [2, 3, 4])
    assert tree.decision_path(X).toarray().tolist() == [
        [1, 0, 1, 0, 0, 0, 0],
        [1, 1, 0, 1, 0, 0, 0],
        [1, 1, 0, 0, 1, 0, 0],
    ]


@pytest.mark.parametrize("Estimator", [EvolvedTreeClassifier, EvolvedTreeRegressor])
def test_estimator_introspection_is_consistent(Estimator):
    task = "classification" if Estimator is EvolvedTreeClassifier else "regression"
    data = make_planted_tree(n_samples=300, depth=2, task=task, random_state=0)
    X = np.asarray(data.data, dtype=float).copy()
    X[::7, 0] = np.nan
    est = Estimator(max_depth=3, n_generations=3, random_state=0).fit(X, data.target)
    leaves = est.apply(X)
    path = est.decision_path(X)
    assert path.shape == (X.shape[0], n_positions(3))
    dense = path.toarray()
    np.testing.assert_array_equal(dense[np.arange(len(X)), leaves], 1)
    assert (est.tree_.feature[leaves] < 0).all()
    # Each row's path is its leaf and all its ancestors, nothing else.
    for r in range(0, len(X), 37):
        nodes, i = {int(leaves[r])}, int(leaves[r])
        while i:
            i = (i - 1) // 2
            nodes.add(i)
        assert set(np.flatnonzero(dense[r])) == nodes
    value = est.tree_.value[leaves]
    expected = (est.classes_[np.argmax(value, axis=1)] if task == "classification"
                else value[:, 0])
    np.testing.assert_array_equal(est.predict(X), expected)
    assert est.get_depth() == est.tree_.depth <= 3
    assert est.get_n_leaves() == int((est.tree_.feature[np.flatnonzero(dense.any(0))] < 0).sum())
    assert est.feature_importances_.shape == (X.shape[1],)
    assert est.feature_importances_.sum() == pytest.approx(1.0)
    assert (est.feature_importances_ >= 0).all()


def test_importances_on_a_planted_split():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(400, 4))
    y = (X[:, 2] > 0.4).astype(int)
    clf = EvolvedTreeClassifier(max_depth=1, n_generations=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.feature_importances_, [0, 0, 1, 0])


def test_importances_sum_one_hot_columns_back_to_their_input():
    rng = np.random.RandomState(0)
    color = rng.choice(["red", "green", "blue"], size=300)
    X = pd.DataFrame({"noise": rng.normal(size=300), "color": color,
                      "size": rng.uniform(size=300)})
    y = np.where(color == "red", "a", np.where(color == "green", "b", "c"))
    clf = EvolvedTreeClassifier(max_depth=2, n_generations=3, random_state=0).fit(X, y)
    assert clf.score(X, y) == 1.0
    assert clf.feature_importances_.shape == (3,)
    np.testing.assert_allclose(clf.feature_importances_, [0, 1, 0], atol=1e-12)


def test_single_leaf_has_zero_importances():
    X = np.random.RandomState(0).normal(size=(50, 3))
    reg = EvolvedTreeRegressor(max_depth=2, n_generations=1, random_state=0).fit(X, np.ones(50))
    np.testing.assert_array_equal(reg.feature_importances_, np.zeros(3))


# ------------------------------------------------------------------ readable trees
def _noisy_or(seed=0):
    rng = np.random.RandomState(seed)
    X = np.round(rng.uniform(0, 10, size=(300, 3)), 1)
    y = ((X[:, 0] > 5) | (X[:, 1] > 8)).astype(int)
    flip = rng.rand(300) < 0.1
    y[flip] = 1 - y[flip]
    return X, y


def _no_merge(feature, threshold, missing, value):
    return feature, threshold, missing, False


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_merging_leaves_never_changes_predict(seed):
    X, y = _noisy_or()
    params = dict(max_depth=3, n_generations=3, random_state=seed)
    merged = EvolvedTreeClassifier(**params).fit(X, y)
    with mock.patch.object(evolution, "merge_same_class_leaves", _no_merge):
        kept = EvolvedTreeClassifier(**params).fit(X, y)
    assert merged.get_n_leaves() < kept.get_n_leaves()
    rng = np.random.RandomState(1)
    rows = rng.uniform(-1, 11, size=(5000, 3))
    rows[rng.rand(*rows.shape) < 0.1] = np.nan
    for Z in (X, rows):
        np.testing.assert_array_equal(merged.predict(Z), kept.predict(Z))
    # No split is left whose two leaves predict their parent's class.
    tree = merged.tree_
    top = np.argmax(tree.value, axis=1)
    for i in np.flatnonzero(tree.feature >= 0):
        children = (2 * i + 1, 2 * i + 2)
        if all(tree.feature[c] < 0 for c in children):
            assert not top[children[0]] == top[children[1]] == top[i]


def test_merge_same_class_leaves_on_a_planted_tree():
    # x <= 0: (z <= 0: yes | z > 0: yes) ; x > 0: no
    feature = np.array([0, 1, -1, -1, -1, -1, -1])
    threshold = np.array([0.0, 0.0, 0, 0, 0, 0, 0])
    value = np.array([[0.6, 0.4], [0.9, 0.1], [0.2, 0.8], [0.8, 0.2], [0.95, 0.05],
                      [0.5, 0.5], [0.5, 0.5]])
    missing = np.ones(7, dtype=bool)
    before = Tree(feature, threshold, value, [10, 6, 4, 3, 3, 0, 0], ["x", "z"],
                  classes=np.array(["yes", "no"]))
    rows = np.random.RandomState(0).normal(size=(1000, 2))
    expected = before.predict(rows)
    f, t, m, changed = merge_same_class_leaves(feature.copy(), threshold.copy(),
                                               missing.copy(), value)
    assert changed
    after = Tree(f, t, value, [10, 6, 4, 0, 0, 0, 0], ["x", "z"], classes=np.array(["yes", "no"]))
    np.testing.assert_array_equal(after.predict(rows), expected)
    assert after.export_text() == (
        "|--- x <= 0.0 or missing\n"
        "|   |--- class: yes (n=6, p=0.90)\n"
        "|--- x > 0.0\n"
        "|   |--- class: no (n=4, p=0.80)"
    )


def test_merged_tree_is_pinned():
    X, y = _noisy_or()
    clf = EvolvedTreeClassifier(max_depth=3, n_generations=3, random_state=0).fit(X, y)
    assert clf.export_text() == (
        "|--- x1 <= 8.1 or missing\n"
        "|   |--- x2 <= 9.8 or missing\n"
        "|   |   |--- x0 <= 5.0 or missing\n"
        "|   |   |   |--- class: 0 (n=131, p=0.89)\n"
        "|   |   |--- x0 > 5.0\n"
        "|   |   |   |--- class: 1 (n=113, p=0.91)\n"
        "|   |--- x2 > 9.8\n"
        "|   |   |--- class: 1 (n=1, p=0.74)\n"
        "|--- x1 > 8.1\n"
        "|   |--- class: 1 (n=55, p=0.88)"
    )
    assert clf.to_dict() == {"x1": {
        "<= 8.1 or missing": {"x2": {
            "<= 9.8 or missing": {"x0": {"<= 5.0 or missing": {"value": 0},
                                         "> 5.0": {"value": 1}}},
            "> 9.8": {"value": 1}}},
        "> 8.1": {"value": 1}}}


@pytest.mark.parametrize(
    ("threshold", "low", "high", "expected"),
    [
        (5.644999980926514, 5.6, 5.69, 5.6),
        (2.449999988079071, 2.4, 2.5, 2.4),
        (4.5, 2.0, 8.0, 4.0),
        (0.123456, 0.1234, 0.1235, 0.1234),
        (7.25, 7.0, 7.5, 7.0),
        (-0.35, -0.4, -0.3, -0.4),
        (3.0, np.nan, 4.0, 3.0),
    ],
)
def test_shortest_threshold(threshold, low, high, expected):
    assert shortest_threshold(threshold, low, high) == expected


def test_thresholds_print_at_the_datas_precision(iris):
    X, y = iris  # one decimal everywhere
    clf = EvolvedTreeClassifier(max_depth=3, n_generations=3, random_state=0).fit(X, y)
    tree = clf.tree_
    internal = np.flatnonzero(tree.feature >= 0)
    assert internal.size
    low, high = split_bounds(tree, X)
    for i in internal:
        t = tree.threshold[i]
        assert round(t, 1) == t and len(repr(float(t))) <= 4
        assert low[i] <= t < high[i]
    assert "99999" not in str(clf.to_dict()) and "00000" not in str(clf.to_dict())


def test_history_plot_has_integer_ticks():
    pytest.importorskip("matplotlib")
    data = make_planted_tree(n_samples=200, depth=1, random_state=0)
    clf = EvolvedTreeClassifier(max_depth=1, n_generations=3, random_state=0)
    ax = clf.fit(data.data, data.target).plot_history()
    ticks = ax.xaxis.get_major_locator().tick_values(0, 3)
    np.testing.assert_array_equal(ticks, np.round(ticks))
