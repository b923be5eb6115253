"""EvolvedTreeClassifier / EvolvedTreeRegressor in the LLM-free mode, and the Tree structure."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from tabsift.datasets import make_planted_tree
from tabsift.tree import EvolvedTreeClassifier, EvolvedTreeRegressor, Tree
from tabsift.tree._operators import forest_population, subtree_crossover
from tabsift.tree._population import apply_population, refit_classification
from tabsift.tree._positions import reachable
from tabsift.tree._text import TreeSchema, text_to_arrays

SMALL = dict(population_size=10, n_crossover_prompts=4, n_mutation_prompts=4)


def _history(est):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in est.history_]


def _same_tree(a, b):
    return np.array_equal(a.tree_.feature, b.tree_.feature) and np.array_equal(
        a.tree_.threshold, b.tree_.threshold
    )


@pytest.fixture(scope="module")
def planted():
    return make_planted_tree(n_samples=1200, n_features=5, depth=2, noise=0.05, random_state=3)


# ----------------------------------------------------------------- quality
def test_planted_depth2_tree_is_recovered(planted):
    X, y = planted.data.iloc[:800], planted.target.iloc[:800]
    X_test, y_test = planted.data.iloc[800:], planted.target.iloc[800:]
    clf = EvolvedTreeClassifier(max_depth=2, n_generations=8, random_state=0, **SMALL).fit(X, y)
    truth = (planted.target_clean[800:] == y_test).mean()  # accuracy of the planted tree
    assert clf.score(X_test, y_test) >= truth - 0.03
    # The planted root split is found: same column, threshold within 0.1.
    ((root, branches),) = planted.tree.items()
    threshold = float(next(iter(branches))[3:])
    assert clf.tree_.feature_names[clf.tree_.feature[0]] == root
    assert abs(clf.tree_.threshold[0] - threshold) < 0.1
    assert clf.tree_.depth == 2
    # Evolution does not lose fitness: the best tree is kept each generation.
    best = [row["best_train_fitness"] for row in clf.history_]
    assert best == sorted(best)


def test_regressor_recovers_planted_regression_tree():
    data = make_planted_tree(n_samples=800, depth=2, task="regression", noise=0.05, random_state=1)
    reg = EvolvedTreeRegressor(max_depth=2, n_generations=6, random_state=0, **SMALL)
    reg.fit(data.data, data.target)
    assert reg.score(data.data, data.target) > 0.97
    # Leaves are means of the target in its own units.
    leaves = reg.apply(data.data)
    for leaf in np.unique(leaves):
        assert reg.tree_.value[leaf, 0] == pytest.approx(data.target[leaves == leaf].mean())


def test_predict_proba_is_leaf_class_frequency(planted):
    clf = EvolvedTreeClassifier(max_depth=2, n_generations=2, random_state=0, **SMALL)
    clf.fit(planted.data, planted.target)
    proba = clf.predict_proba(planted.data)
    assert proba.shape == (len(planted.target), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    leaves = clf.apply(planted.data)
    leaf = np.bincount(leaves).argmax()
    rows = leaves == leaf
    freq = np.bincount(planted.target[rows], minlength=4) / rows.sum()
    np.testing.assert_allclose(proba[rows][0], freq, atol=2.0 / rows.sum())


# ------------------------------------------------------- reproducibility, resume
def test_same_seed_same_run(planted):
    params = dict(max_depth=2, n_generations=3, random_state=7, **SMALL)
    a = EvolvedTreeClassifier(**params).fit(planted.data, planted.target)
    b = EvolvedTreeClassifier(**params).fit(planted.data, planted.target)
    assert _same_tree(a, b) and _history(a) == _history(b)


def test_time_limit_is_honoured(planted):
    clf = EvolvedTreeClassifier(n_generations=100_000, time_limit=0.5, random_state=0)
    start = pd.Timestamp.now()
    clf.fit(planted.data, planted.target)
    seconds = (pd.Timestamp.now() - start).total_seconds()
    assert seconds < 4.0  # the limit plus the forest, one cut generation and the final refit
    assert clf.stopped_by_time_limit_
    assert 0 <= clf.n_generations_ < 100_000
    assert len(clf.history_) == clf.n_generations_ + 1


def test_checkpoint_resume_equals_uninterrupted_run(planted, tmp_path):
    X, y = planted.data, planted.target
    params = dict(max_depth=2, random_state=1, **SMALL)
    full = EvolvedTreeClassifier(n_generations=5, **params).fit(X, y)
    path = tmp_path / "run.npz"
    # Interrupted after 2 generations, then started again with the full budget.
    EvolvedTreeClassifier(n_generations=2, checkpoint=path, **params).fit(X, y)
    assert path.is_file()
    resumed = EvolvedTreeClassifier(n_generations=5, checkpoint=path, **params).fit(X, y)
    assert _same_tree(full, resumed)
    assert _history(full) == _history(resumed)


def test_time_limit_interruption_then_resume(planted, tmp_path):
    X, y = planted.data, planted.target
    params = dict(max_depth=2, random_state=2, **SMALL)
    full = EvolvedTreeClassifier(n_generations=4, **params).fit(X, y)
    path = tmp_path / "run.npz"
    cut = EvolvedTreeClassifier(n_generations=4, time_limit=1e-9, checkpoint=path, **params)
    cut.fit(X, y)
    assert cut.stopped_by_time_limit_ and cut.n_generations_ < 4
    resumed = EvolvedTreeClassifier(n_generations=4, checkpoint=path, **params).fit(X, y)
    assert not resumed.stopped_by_time_limit_
    assert _same_tree(full, resumed) and _history(full) == _history(resumed)


def test_checkpoint_of_another_run_is_refused(planted, tmp_path):
    path = tmp_path / "run.npz"
    EvolvedTreeClassifier(n_generations=1, checkpoint=path, random_state=0, **SMALL).fit(
        planted.data, planted.target
    )
    other = EvolvedTreeClassifier(n_generations=1, checkpoint=path, random_state=1, **SMALL)
    with pytest.raises(ValueError, match="belongs to another run"):
        other.fit(planted.data, planted.target)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        other.fit(planted.data, planted.target)


def test_warm_start_continues(planted):
    params = dict(max_depth=2, random_state=4, **SMALL)
    full = EvolvedTreeClassifier(n_generations=4, **params).fit(planted.data, planted.target)
    warm = EvolvedTreeClassifier(n_generations=2, warm_start=True, **params)
    warm.fit(planted.data, planted.target)
    warm.set_params(n_generations=4).fit(planted.data, planted.target)
    assert warm.n_generations_ == 4 and _same_tree(full, warm)


# ---------------------------------------------------------------- inputs
def test_categorical_columns_are_one_hot_encoded():
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue"], n),
            "size": rng.normal(size=n),
        }
    )
    y = ((frame["color"] == "red") & (frame["size"] > 0)).astype(int)
    clf = EvolvedTreeClassifier(max_depth=2, n_generations=3, random_state=0, **SMALL)
    clf.fit(frame, y)
    assert clf.feature_names_ == ["color=blue", "color=green", "color=red", "size"]
    assert clf.score(frame, y) == 1.0
    assert "color=red" in clf.export_text()
    # Unseen and missing categories go down the 'not this category' side.
    new = pd.DataFrame({"color": ["purple", None, "red"], "size": [1.0, 1.0, 1.0]})
    assert clf.predict(new).tolist() == [0, 0, 1]
    # A missing number takes its split's missing side; an infinite one is an error.
    assert clf.predict(new.assign(size=[np.nan, 1.0, 1.0])).shape == (3,)
    with pytest.raises(ValueError, match="column 'size' has 1 infinite value"):
        clf.predict(new.assign(size=[np.inf, 1.0, 1.0]))


def test_bad_inputs_have_clear_messages(planted):
    X, y = planted.data, planted.target
    with pytest.raises(ValueError, match="feature_descriptions names unknown column"):
        EvolvedTreeClassifier(n_generations=0, feature_descriptions={"nope": "?"}).fit(X, y)
    with pytest.raises(TypeError, match="llm must be a tabsift.llm.LLMClient"):
        EvolvedTreeClassifier("gpt-4o", n_generations=0).fit(X, y)
    with pytest.raises(ValueError, match="max_depth"):
        EvolvedTreeClassifier(max_depth=0).fit(X, y)
    with pytest.raises(ValueError, match="y has 1 missing value"):
        EvolvedTreeRegressor(n_generations=0).fit(X, np.where(np.arange(len(y)) == 0, np.nan, y))


# ------------------------------------------------------------ the structure
def _toy_tree():
    # x1 <= 0.5 ? (x0 <= -1 ? A : B) : C; a missing bmi goes right, a missing age left
    feature = np.array([1, 0, -1, -1, -1, -1, -1])
    threshold = np.array([0.5, -1.0, 0, 0, 0, 0, 0])
    missing = np.array([False, True, True, True, True, True, True])
    value = np.array([[0.5, 0.5]] * 7)
    value[3], value[4], value[2] = [0.9, 0.1], [0.3, 0.7], [0.2, 0.8]
    return Tree(
        feature, threshold, value, [10, 6, 4, 3, 3, 0, 0], ["age", "bmi"], np.array(["no", "yes"]),
        missing_go_to_left=missing,
    )


def test_export_text_is_pinned():
    assert _toy_tree().export_text() == (
        "|--- bmi <= 0.5\n"
        "|   |--- age <= -1.0 or missing\n"
        "|   |   |--- class: no (n=3, p=0.90)\n"
        "|   |--- age > -1.0\n"
        "|   |   |--- class: yes (n=3, p=0.70)\n"
        "|--- bmi > 0.5 or missing\n"
        "|   |--- class: yes (n=4, p=0.80)"
    )
    assert _toy_tree().to_dict() == {
        "bmi": {
            "<= 0.5": {
                "age": {"<= -1.0 or missing": {"value": "no"}, "> -1.0": {"value": "yes"}}
            },
            "> 0.5 or missing": {"value": "yes"},
        }
    }
    assert _toy_tree().depth == 2 and _toy_tree().n_leaves == 3


def test_text_round_trip_and_prediction():
    tree = _toy_tree()
    schema = TreeSchema(["age", "bmi"], [-5, -5], [5, 5], max_depth=2)
    f, t, m, stated = text_to_arrays(tree.to_text(indent=2), schema)
    np.testing.assert_array_equal(f, tree.feature)
    np.testing.assert_allclose(t, tree.threshold)
    np.testing.assert_array_equal(m, tree.missing_go_to_left)
    assert stated.tolist() == [True, True] + [False] * 5
    X = np.array([[-2.0, 0.0], [0.0, 0.0], [0.0, 1.0], [np.nan, 0.0], [-2.0, np.nan]])
    assert tree.predict(X).tolist() == ["no", "yes", "yes", "no", "yes"]
    assert tree.apply(X).tolist() == [3, 4, 2, 3, 2]


def test_forest_trees_keep_their_partition():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    X[::7, 1] = np.nan  # scikit-learn's forests learn where missing values go; so do ours
    F, T, M = forest_population(X, y, "classification", n_trees=5, max_depth=3, random_state=0)
    forest = RandomForestClassifier(
        n_estimators=5, max_depth=3, max_samples=150, random_state=0, n_jobs=1
    ).fit(X, y)
    ours = apply_population(F, T, X, missing=M)
    for p, estimator in enumerate(forest.estimators_):
        theirs = estimator.apply(X.astype(np.float32))
        # Same rows end together in both representations.
        pairs = set(zip(ours[p].tolist(), theirs.tolist(), strict=True))
        assert len(pairs) == len(set(theirs.tolist())) == len(set(ours[p].tolist()))


def test_population_evaluation_matches_on_every_backend(xp):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    F = np.array([[0, 1, 2, -1, -1, -1, -1], [2, -1, -1, -1, -1, -1, -1]])
    T = np.array([[0.0, 0.3, -0.2, 0, 0, 0, 0], [0.1, 0, 0, 0, 0, 0, 0]])
    expected = apply_population(F, T, X)
    got = apply_population(F, T, xp.asarray(X), xp=xp)
    np.testing.assert_array_equal(got, expected)
    # Leaves only: 3..6 for the first tree, 1..2 for the second.
    assert set(np.unique(expected[0])) <= {3, 4, 5, 6} and set(np.unique(expected[1])) == {1, 2}
    # Missing values take each node's side, on every backend.
    X[::5, 0], X[1::5, 2] = np.nan, np.nan
    M = np.array([[False, True, False, True, True, True, True], [False] + [True] * 6])
    expected = apply_population(F, T, X, missing=M)
    got = apply_population(F, T, xp.asarray(X), missing=M, xp=xp)
    np.testing.assert_array_equal(got, expected)
    assert (expected[0, ::5] >= 5).all()  # root: a missing x0 goes right
    assert (expected[1, 1::5] == 2).all()  # a missing x2 goes right
    # Without flags, a missing value goes left (a comparison with NaN is False).
    assert (apply_population(F, T, X)[1, 1::5] == 1).all()


def test_leaf_refit_smooths_toward_the_parent():
    F = np.array([[0, -1, -1]])
    leaves = np.array([[1, 1, 1, 2]])
    y = np.array([0, 0, 0, 1])
    value, counts = refit_classification(F, leaves, y, 2)
    assert counts[0].tolist() == [4, 3, 1]
    root = (np.array([3, 1]) + np.array([0.75, 0.25])) / 5
    np.testing.assert_allclose(value[0, 0], root)
    np.testing.assert_allclose(value[0, 1], (np.array([3, 0]) + root) / 4)


def test_crossover_keeps_depth_and_valid_structure():
    rng = np.random.RandomState(0)
    left, right = np.ones(7, dtype=bool), np.array([False, False, False] + [True] * 4)
    a = (np.array([0, 1, 1, -1, -1, -1, -1]), np.array([0.0, 1, 2, 0, 0, 0, 0]), left)
    b = (np.array([2, 0, 1, -1, -1, -1, -1]), np.array([5.0, 6, 7, 0, 0, 0, 0]), right)
    for _ in range(50):
        f, t, m = subtree_crossover(a, b, rng)
        alive = reachable(f)
        assert (f[~alive] == -1).all() and m[f < 0].all()
        # A node copied from b keeps b's missing side with its split.
        for i in np.flatnonzero(alive & (f >= 0)):
            assert m[i] == (t[i] < 5)
        # Every internal node has both children inside the array.
        for i in np.flatnonzero(alive & (f >= 0)):
            assert 2 * i + 2 < len(f)


def test_plots_return_axes(planted):
    pytest.importorskip("matplotlib")
    clf = EvolvedTreeClassifier(max_depth=2, n_generations=1, random_state=0, **SMALL)
    clf.fit(planted.data, planted.target)
    ax = clf.plot()
    assert len(ax.texts) == 2 * clf.tree_.n_leaves - 1 + 2 * (clf.tree_.n_leaves - 1)
    assert len(clf.plot_history().lines) >= 2


def test_split_search_equals_evaluating_every_cut():
    from tabsift.tree._operators import cut_points, tune_variants
    from tabsift.tree._population import Evaluator, tune_node

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    feature = np.array([0, 1, 2, -1, -1, -1, -1])
    threshold = np.array([0.1, 0.3, -0.2, 0, 0, 0, 0.0])
    missing = np.array([True, False, True, True, True, True, True])
    targets = {
        "classification": ((X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)).astype(np.int64),
        "regression": X[:, 0] * 2 + rng.normal(size=400),
    }
    X[rng.random(size=X.shape) < 0.15] = np.nan  # both sides for missing values are scored
    cuts = cut_points(X)
    for task, y in targets.items():
        n_classes = 3 if task == "classification" else None
        evaluator = Evaluator(X, y, None, None, task, n_classes=n_classes)
        for position in (0, 1, 2):
            F, T, M = tune_variants(feature, threshold, missing, position, cuts)
            brute = evaluator.evaluate(F, T, M)["train"]
            fast = tune_node(feature, threshold, missing, position, cuts[feature[position]], X, y,
                             task, n_classes=n_classes)
            np.testing.assert_allclose(fast.ravel(), brute, atol=1e-12)


@pytest.mark.parametrize("with_missing", [False, True])
@pytest.mark.parametrize("estimator_class", [EvolvedTreeClassifier, EvolvedTreeRegressor])
def test_forced_backend_gives_the_same_tree(estimator_class, with_missing):
    pytest.importorskip("array_api_strict")
    import tabsift

    task = "classification" if estimator_class is EvolvedTreeClassifier else "regression"
    data = make_planted_tree(n_samples=300, depth=2, task=task, random_state=0)
    X = data.data.to_numpy().copy()
    if with_missing:
        X[np.random.default_rng(0).random(X.shape) < 0.15] = np.nan
    params = dict(max_depth=2, population_size=6, n_generations=2, random_state=0)
    numpy_fit = estimator_class(**params).fit(X, data.target)
    with tabsift.config_context(array_backend="array_api_strict"):
        strict_fit = estimator_class(**params, verbose=1).fit(X, data.target)
    assert _same_tree(numpy_fit, strict_fit)
    np.testing.assert_array_equal(
        numpy_fit.tree_.missing_go_to_left, strict_fit.tree_.missing_go_to_left
    )
