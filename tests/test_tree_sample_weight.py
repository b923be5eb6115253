"""sample_weight and class_weight in EvolvedTreeClassifier / EvolvedTreeRegressor.

An integer weight ``k`` on a row means "this row repeated k times": the
deterministic parts (a fixed tree's fitness, its leaf refits, the split search,
the impurity-based importances) are tested exactly against repeated rows; the
whole fit, which draws its validation split and forest bootstraps over rows, is
tested by behaviour.
"""

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from tabsift.tree import CheckpointError, EvolvedTreeClassifier, EvolvedTreeRegressor
from tabsift.tree._importance import impurity_decrease
from tabsift.tree._llm import prompt_header
from tabsift.tree._operators import cut_points, forest_population, tune_variants
from tabsift.tree._population import (
    Evaluator,
    apply_population,
    refit_classification,
    refit_regression,
    tune_node,
)
from tabsift.tree._positions import reachable

FAST = dict(population_size=8, n_generations=3, n_crossover_prompts=3, n_mutation_prompts=3)
TIGHT = dict(rtol=1e-12, atol=1e-12)


def _data(task, n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    if task == "classification":
        y = ((X[:, 0] > 0).astype(int) + (X[:, 1] > 0.3)).astype(np.int64)
        flip = rng.random(n) < 0.2
        y[flip] = rng.integers(0, 3, size=flip.sum())
    else:
        y = 2 * X[:, 0] - np.where(X[:, 1] > 0, 1.0, 0.0) + rng.normal(size=n)
    X[rng.random(X.shape) < 0.1] = np.nan
    w = rng.integers(0, 4, size=n)  # zeros included: a dropped row
    return X, y, w


def _population(X, y, task):
    F, T, M = forest_population(
        np.nan_to_num(X), y, task, n_trees=6, max_depth=3, random_state=0
    )
    M[:, 1::2] = False  # some splits send missing values right
    return F, T, M


def _same_tree(a, b):
    return (
        np.array_equal(a.tree_.feature, b.tree_.feature)
        and np.array_equal(a.tree_.threshold, b.tree_.threshold)
        and np.array_equal(a.tree_.missing_go_to_left, b.tree_.missing_go_to_left)
        and np.array_equal(a.tree_.value, b.tree_.value)
    )


# ------------------------------------------- exact: a fixed tree, weights == repeated rows
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_fixed_trees_fitness_and_leaves_equal_repeated_rows(task):
    X, y, w = _data(task)
    F, T, M = _population(X, y, task)
    K = 3 if task == "classification" else None
    X_va, y_va, w_va = _data(task, n=90, seed=1)
    weighted = Evaluator(
        X, y, X_va, y_va, task, n_classes=K, w_train=w.astype(float), w_val=w_va.astype(float)
    ).evaluate(F, T, M)
    repeated = Evaluator(
        np.repeat(X, w, axis=0), np.repeat(y, w), np.repeat(X_va, w_va, axis=0),
        np.repeat(y_va, w_va), task, n_classes=K,
    ).evaluate(F, T, M)
    np.testing.assert_allclose(weighted["train"], repeated["train"], **TIGHT)
    np.testing.assert_allclose(weighted["val"], repeated["val"], **TIGHT)
    np.testing.assert_allclose(weighted["value"], repeated["value"], **TIGHT)
    np.testing.assert_allclose(weighted["counts"], repeated["counts"], **TIGHT)
    # The weights matter: unit weights give other fitness values.
    plain = Evaluator(X, y, X_va, y_va, task, n_classes=K).evaluate(F, T, M)
    assert not np.allclose(plain["train"], weighted["train"])


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_weighted_fitness_is_sklearns_weighted_metric(task):
    from sklearn.metrics import balanced_accuracy_score, r2_score

    X, y, w = _data(task)
    F, T, M = _population(X, y, task)
    K = 3 if task == "classification" else None
    result = Evaluator(X, y, None, None, task, n_classes=K, w_train=w.astype(float)).evaluate(
        F, T, M
    )
    for p in range(len(F)):
        if task == "classification":
            expected = balanced_accuracy_score(y, result["pred"][p], sample_weight=w)
        else:
            expected = r2_score(y, result["pred"][p], sample_weight=w)
        assert result["train"][p] == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_split_search_with_weights_equals_repeated_rows(task):
    X, y, w = _data(task)
    K = 3 if task == "classification" else None
    feature = np.array([0, 1, 2, -1, -1, -1, -1])
    threshold = np.array([0.1, 0.3, -0.2, 0, 0, 0, 0.0])
    missing = np.array([True, False, True, True, True, True, True])
    cuts = cut_points(X)
    X_rep, y_rep = np.repeat(X, w, axis=0), np.repeat(y, w)
    evaluator = Evaluator(X, y, None, None, task, n_classes=K, w_train=w.astype(float))
    for position in (0, 1, 2):
        grid = cuts[feature[position]]
        fast = tune_node(feature, threshold, missing, position, grid, X, y, task,
                         n_classes=K, sample_weight=w.astype(float))
        on_repeats = tune_node(feature, threshold, missing, position, grid, X_rep, y_rep, task,
                               n_classes=K)
        np.testing.assert_allclose(fast, on_repeats, **TIGHT)
        # ... and equals evaluating every cut with the weighted evaluator.
        brute = evaluator.evaluate(*tune_variants(feature, threshold, missing, position, cuts))
        np.testing.assert_allclose(fast.ravel(), brute["train"], **TIGHT)


def test_fractional_weights_scale_free_and_below_one():
    # Weights below 1 are weights, not counts: halving every weight changes nothing.
    X, y, w = _data("regression")
    F, T, M = _population(X, y, "regression")
    leaves = apply_population(F, T, X, missing=M)
    half = refit_regression(F, leaves, y, w * 0.5)
    full = refit_regression(F, leaves, y, w * 1.0)
    np.testing.assert_allclose(half[0], full[0], **TIGHT)
    np.testing.assert_allclose(half[1] * 2, full[1], **TIGHT)
    # Class frequencies: the smoothing pseudo-row is one unit of weight, so light rows
    # are shrunk harder toward the parent; counts are weight totals.
    Xc, yc, wc = _data("classification")
    Fc, Tc, Mc = _population(Xc, yc, "classification")
    leaves = apply_population(Fc, Tc, Xc, missing=Mc)
    light, light_n = refit_classification(Fc, leaves, yc, 3, wc * 0.1)
    heavy, heavy_n = refit_classification(Fc, leaves, yc, 3, wc * 1.0)
    assert light_n.dtype == np.float64
    np.testing.assert_allclose(light_n[:, 0], 0.1 * wc.sum(), **TIGHT)
    np.testing.assert_allclose(light_n, heavy_n * 0.1, **TIGHT)
    for p in range(len(Fc)):
        for leaf in np.flatnonzero(reachable(Fc[p]) & (Fc[p] < 0)):
            rows = leaves[p] == leaf
            by_class = np.bincount(yc[rows], weights=0.1 * wc[rows], minlength=3)
            parent = light[p, (leaf - 1) // 2]
            expected = (by_class + parent) / (by_class.sum() + 1.0)
            np.testing.assert_allclose(light[p, leaf], expected, **TIGHT)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_fitted_leaves_and_importances_equal_a_refit_on_repeated_rows(task):
    X, y, w = _data(task)
    Est = EvolvedTreeClassifier if task == "classification" else EvolvedTreeRegressor
    est = Est(max_depth=3, random_state=0, **FAST).fit(X, y, sample_weight=w)
    tree = est.tree_
    X_rep, y_rep = np.repeat(X, w, axis=0), np.repeat(y, w)
    F = tree.feature[None]
    leaves = apply_population(F, tree.threshold[None], X_rep, missing=tree.missing_go_to_left[None])
    alive = reachable(tree.feature)
    if task == "classification":
        value, counts = refit_classification(F, leaves, y_rep, 3)
        by_column = impurity_decrease(tree, X_rep, y_rep, n_classes=3)
    else:
        value, counts = refit_regression(F, leaves, y_rep)
        by_column = impurity_decrease(tree, X_rep, y_rep)
    # The regressor refits on the standardised target and reports the target's units.
    np.testing.assert_allclose(tree.value[alive], value[0][alive], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tree.weighted_n_node_samples[alive], counts[0][alive], **TIGHT)
    # n_node_samples counts rows (of positive weight), as in scikit-learn's trees.
    kept = w > 0
    assert tree.n_node_samples[0] == kept.sum()
    np.testing.assert_allclose(est.feature_importances_, by_column / by_column.sum(), **TIGHT)
    # Predictions follow the weighted leaves.
    if task == "classification":
        np.testing.assert_array_equal(est.predict(X), tree.classes[np.argmax(value[0], 1)][
            tree.apply(X)])


def test_impurity_decrease_with_weights_equals_repeated_rows():
    X, y, w = _data("classification")
    clf = EvolvedTreeClassifier(max_depth=2, random_state=0, **FAST).fit(X, y)
    weighted = impurity_decrease(clf.tree_, X, y, n_classes=3, sample_weight=w)
    repeated = impurity_decrease(
        clf.tree_, np.repeat(X, w, axis=0), np.repeat(y, w), n_classes=3
    )
    np.testing.assert_allclose(weighted, repeated, **TIGHT)
    assert not np.allclose(weighted, impurity_decrease(clf.tree_, X, y, n_classes=3))


# ------------------------------------------------------------------ behaviour of fit
@pytest.mark.parametrize("Est", [EvolvedTreeClassifier, EvolvedTreeRegressor])
def test_zero_weights_are_the_same_as_dropping_the_rows(Est):
    task = "classification" if Est is EvolvedTreeClassifier else "regression"
    X, y, w = _data(task)
    binary = (w > 0).astype(float)
    weighted = Est(max_depth=3, random_state=0, **FAST).fit(X, y, sample_weight=binary)
    dropped = Est(max_depth=3, random_state=0, **FAST).fit(X[w > 0], y[w > 0])
    assert _same_tree(weighted, dropped)
    np.testing.assert_array_equal(weighted.predict(X), dropped.predict(X))
    np.testing.assert_allclose(weighted.feature_importances_, dropped.feature_importances_)


@pytest.mark.parametrize("Est", [EvolvedTreeClassifier, EvolvedTreeRegressor])
def test_unit_weights_are_the_same_as_no_weights(Est):
    task = "classification" if Est is EvolvedTreeClassifier else "regression"
    X, y, _ = _data(task)
    weighted = Est(max_depth=3, random_state=0, **FAST).fit(X, y, sample_weight=np.ones(len(y)))
    plain = Est(max_depth=3, random_state=0, **FAST).fit(X, y)
    assert _same_tree(weighted, plain)
    assert weighted.history_[-1]["best_train_fitness"] == plain.history_[-1]["best_train_fitness"]


def _mixed_region(n=400, seed=0):
    """x0 <= 0: class 0. x0 > 0: class 1 (60%) or class 2 (40%), at random."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] <= 0, 0, np.where(rng.random(n) < 0.6, 1, 2))
    return X, y


def test_weights_that_change_the_majority_change_the_prediction():
    X, y = _mixed_region()
    params = dict(max_depth=1, random_state=0, **FAST)
    right = X[:, 0] > 0.5
    plain = EvolvedTreeClassifier(**params).fit(X, y)
    assert (plain.predict(X[right]) == 1).mean() > 0.9
    w = np.where(y == 2, 3.0, 1.0)  # class 2 now outweighs class 1 on the right
    weighted = EvolvedTreeClassifier(**params).fit(X, y, sample_weight=w)
    assert (weighted.predict(X[right]) == 2).mean() > 0.9
    leaf = weighted.apply(X[right][:1])[0]
    in_leaf = weighted.apply(X) == leaf
    shares = np.bincount(y[in_leaf], weights=w[in_leaf], minlength=3) / w[in_leaf].sum()
    # The leaf's frequencies are the weighted shares, shrunk by one pseudo-row.
    assert np.argmax(weighted.predict_proba(X[right][:1])[0]) == np.argmax(shares) == 2
    # class_weight is the same weighting, multiplied into sample_weight.
    by_class = EvolvedTreeClassifier(class_weight={0: 1.0, 1: 1.0, 2: 3.0}, **params).fit(X, y)
    assert _same_tree(by_class, weighted)


def test_class_weight_balanced_is_compute_sample_weight():
    # x0 <= 0: class 0 (80%) or 1; x0 > 0: class 1 (70%) or the rare class 2. Balanced
    # weights make class 2 the weighted majority on the right (0.15 / 0.15 > 0.35 / 0.45).
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    u = rng.random(400)
    y = np.where(X[:, 0] <= 0, np.where(u < 0.8, 0, 1), np.where(u < 0.7, 1, 2))
    params = dict(max_depth=1, random_state=0, **FAST)
    balanced = EvolvedTreeClassifier(class_weight="balanced", **params).fit(X, y)
    expected = EvolvedTreeClassifier(**params).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y)
    )
    assert _same_tree(balanced, expected)
    plain = EvolvedTreeClassifier(**params).fit(X, y)
    right = X[:, 0] > 0.5
    assert (plain.predict(X[right]) == 1).mean() > 0.9
    assert (balanced.predict(X[right]) == 2).mean() > 0.9
    # sample_weight and class_weight multiply.
    w = np.linspace(0.5, 2.0, len(y))
    both = EvolvedTreeClassifier(class_weight="balanced", **params).fit(X, y, sample_weight=w)
    product = EvolvedTreeClassifier(**params).fit(
        X, y, sample_weight=w * compute_sample_weight("balanced", y)
    )
    assert _same_tree(both, product)


def test_regression_leaves_are_weighted_means():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = np.where(X[:, 0] > 0, 5.0, -5.0) + rng.normal(size=300)
    w = rng.uniform(0.1, 3.0, size=300)
    reg = EvolvedTreeRegressor(max_depth=1, random_state=0, **FAST).fit(X, y, sample_weight=w)
    leaves = reg.apply(X)
    for leaf in np.unique(leaves):
        rows = leaves == leaf
        assert reg.tree_.value[leaf, 0] == pytest.approx(np.average(y[rows], weights=w[rows]))
        assert reg.tree_.weighted_n_node_samples[leaf] == pytest.approx(w[rows].sum())


def test_weights_are_part_of_the_checkpoint_fingerprint(tmp_path):
    X, y, w = _data("classification")
    path = tmp_path / "run.npz"
    params = dict(max_depth=2, random_state=0, population_size=8, n_crossover_prompts=3,
                  n_mutation_prompts=3, checkpoint=path)
    EvolvedTreeClassifier(n_generations=2, **params).fit(X, y, sample_weight=w)
    resumed = EvolvedTreeClassifier(n_generations=4, **params).fit(X, y, sample_weight=w)
    straight = EvolvedTreeClassifier(
        n_generations=4, **{**params, "checkpoint": None}
    ).fit(X, y, sample_weight=w)
    assert _same_tree(resumed, straight)
    with pytest.raises(CheckpointError, match="another run"):
        EvolvedTreeClassifier(n_generations=4, **params).fit(X, y)


def test_prompt_reports_weighted_label_distribution_and_total():
    X, y = _mixed_region()
    w = np.where(y == 2, 3.0, 1.0)
    clf = EvolvedTreeClassifier(max_depth=1, random_state=0, **FAST).fit(X, y, sample_weight=w)
    summary = clf._target_summary(y, w)
    assert summary == clf._target_summary(np.repeat(y, w.astype(int)))
    assert summary != clf._target_summary(y)
    header = prompt_header({
        "task_description": None, "n_samples": 400, "total_weight": float(w.sum()),
        "n_features": 3, "target_summary": summary, "feature_names": ["a", "b", "c"],
        "x_min": np.zeros(3), "x_max": np.ones(3), "feature_descriptions": {}, "max_depth": 1,
    })
    assert f"400 rows (weighted: total weight {int(w.sum())})" in header
    assert clf._metric(weighted=True) == "sample-weighted balanced accuracy"
    reg = EvolvedTreeRegressor(max_depth=1, random_state=0, **FAST)
    yr = np.array([1.0, 2.0, 2.0, 10.0])
    reg._standardise(yr, np.array([1.0, 2.0, 0.5, 0.5]))
    text = reg._target_summary((yr - reg._y_mean) / reg._y_scale, np.array([1.0, 2.0, 0.5, 0.5]))
    assert "mean 2.75," in text  # (1 + 4 + 1 + 5) / 4


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "weights,match",
    [
        (lambda n: -np.ones(n), "sample_weight has .* negative value.*EvolvedTreeClassifier"),
        (lambda n: np.zeros(n), "sample_weight is zero on every row; EvolvedTreeClassifier"),
        (lambda n: np.r_[1.0, np.zeros(n - 1)], "at least two rows of positive weight"),
        (
            lambda n: np.r_[np.nan, np.ones(n - 1)],
            "sample_weight holds 1 NaN or infinite.*EvolvedTreeClassifier",
        ),
        (lambda n: np.ones(n + 1), "sample_weight.shape"),
    ],
)
def test_bad_weights_are_refused_with_a_message_naming_them(weights, match):
    X, y, _ = _data("classification", n=40)
    with pytest.raises(ValueError, match=match):
        EvolvedTreeClassifier(n_generations=1, random_state=0).fit(
            X, y, sample_weight=weights(len(y))
        )


def test_class_weight_is_validated():
    X, y, _ = _data("classification", n=40)
    with pytest.raises(ValueError, match="class_weight"):
        EvolvedTreeClassifier(class_weight="even", n_generations=1).fit(X, y)
    # A class weight of 0 for every class present leaves no row to learn from.
    with pytest.raises(ValueError, match="sample_weight times class_weight is zero on every row"):
        EvolvedTreeClassifier(class_weight={0: 0, 1: 0, 2: 0}, n_generations=1).fit(X, y)
    assert "class_weight" not in EvolvedTreeRegressor().get_params()


# ------------------------------------------------------------------ metadata routing
@pytest.mark.parametrize("Est", [EvolvedTreeClassifier, EvolvedTreeRegressor])
def test_metadata_routing_reaches_fit_in_a_pipeline(Est):
    task = "classification" if Est is EvolvedTreeClassifier else "regression"
    X, y, w = _data(task, n=160)
    w = w + 0.5
    params = dict(max_depth=2, random_state=0, **FAST)
    cv = KFold(3, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([
            ("scale", StandardScaler().set_fit_request(sample_weight=False)),
            ("est", Est(**params).set_fit_request(sample_weight=True)
             .set_score_request(sample_weight=True)),
        ])
        result = cross_validate(
            pipe, X, y, cv=cv, params={"sample_weight": w}, return_estimator=True
        )
    for fitted, (train, _) in zip(result["estimator"], cv.split(X), strict=True):
        scaled = StandardScaler().fit(X[train]).transform(X[train])
        direct = Est(**params).fit(scaled, y[train], sample_weight=w[train])
        assert _same_tree(fitted.named_steps["est"], direct)
        unweighted = Est(**params).fit(scaled, y[train])
        assert not np.array_equal(fitted.named_steps["est"].tree_.value, unweighted.tree_.value)
