"""Tests for tabsift.datasets: bundled loaders and generators with planted structure."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_selection import mutual_info_classif, mutual_info_regression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from tabsift import datasets
from tabsift.datasets import (
    load_breast_cancer,
    load_california_housing,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_boolean_rule,
    make_domain_shift,
    make_informative,
    make_missing_interaction,
    make_planted_tree,
)

BUNDLED = [
    (load_breast_cancer, (569, 30), "classification", 2),
    (load_wine, (178, 13), "classification", 3),
    (load_iris, (150, 4), "classification", 3),
    (load_diabetes, (442, 10), "regression", None),
    (load_digits, (537, 64), "classification", 3),
]


# ------------------------------------------------------------------ bundled data
@pytest.mark.parametrize(("loader", "shape", "task", "n_classes"), BUNDLED)
def test_bundled_loader_returns_frames_and_task(loader, shape, task, n_classes):
    bunch = loader()
    assert bunch.task == task
    assert isinstance(bunch.data, pd.DataFrame) and bunch.data.shape == shape
    assert isinstance(bunch.target, pd.Series) and len(bunch.target) == shape[0]
    assert list(bunch.feature_names) == list(bunch.data.columns)
    assert bunch.frame.shape == (shape[0], shape[1] + 1)
    np.testing.assert_array_equal(bunch.frame["target"], bunch.target)
    assert isinstance(bunch.DESCR, str) and len(bunch.DESCR) > 100
    assert "filename" not in bunch and "data_module" not in bunch
    if n_classes is not None:
        assert bunch.target.nunique() == n_classes == len(bunch.target_names)


@pytest.mark.parametrize(("loader", "shape", "task", "n_classes"), BUNDLED)
def test_bundled_loader_numpy_and_return_X_y(loader, shape, task, n_classes):
    bunch = loader(as_frame=False)
    assert isinstance(bunch.data, np.ndarray) and bunch.data.shape == shape
    assert isinstance(bunch.target, np.ndarray)
    assert bunch.frame is None
    X, y = loader(return_X_y=True)
    assert isinstance(X, pd.DataFrame) and X.shape == shape and len(y) == shape[0]
    X, y = loader(as_frame=False, return_X_y=True)
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray)


def test_load_digits_n_class():
    assert sorted(load_digits().target.unique()) == [0, 1, 2]
    bunch = load_digits(n_class=10)
    assert bunch.data.shape == (1797, 64)
    assert list(bunch.target_names) == list(range(10))
    assert list(load_digits(n_class=5).target_names) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_class": 0}, ValueError, "n_class must be >= 1"),
        ({"n_class": 11}, ValueError, "n_class must be <= 10, got 11. There are 10 digits."),
        ({"n_class": 2.5}, TypeError, "n_class must be an integer"),
        ({"as_frame": "yes"}, TypeError, "as_frame must be True or False"),
        ({"return_X_y": 1}, TypeError, "return_X_y must be True or False"),
    ],
)
def test_load_digits_validates_parameters(kwargs, error, match):
    with pytest.raises(error, match=re.escape(match)):
        load_digits(**kwargs)


def test_load_diabetes_unscaled():
    scaled, raw = load_diabetes(), load_diabetes(scaled=False)
    assert abs(scaled.data["age"].mean()) < 1e-6
    assert raw.data["age"].mean() > 10
    with pytest.raises(TypeError, match="scaled must be True or False"):
        load_diabetes(scaled="no")


def test_california_housing_not_offline_gives_clear_error(tmp_path):
    # An empty data folder: sklearn must not download, tabsift says why.
    with pytest.raises(FileNotFoundError, match="not available offline") as info:
        load_california_housing(data_home=tmp_path)
    assert str(tmp_path) in str(info.value)
    assert "fetch_california_housing" in str(info.value)


# ------------------------------------------------------------------- generators
GENERATORS = [
    (make_informative, {}),
    (make_boolean_rule, {}),
    (make_planted_tree, {}),
    (make_missing_interaction, {}),
]


@pytest.mark.parametrize(("generator", "kwargs"), GENERATORS)
def test_generator_bunch_layout_and_reproducibility(generator, kwargs):
    bunch = generator(n_samples=120, random_state=3, **kwargs)
    assert bunch.task in ("classification", "regression")
    assert isinstance(bunch.data, pd.DataFrame) and len(bunch.data) == 120
    assert isinstance(bunch.target, pd.Series) and bunch.target.name == "target"
    pd.testing.assert_frame_equal(bunch.frame.drop(columns="target"), bunch.data)
    assert list(bunch.feature_names) == list(bunch.data.columns)
    assert isinstance(bunch.DESCR, str)
    again = generator(n_samples=120, random_state=3, **kwargs)
    pd.testing.assert_frame_equal(bunch.frame, again.frame)
    other = generator(n_samples=120, random_state=4, **kwargs)
    assert not bunch.data.equals(other.data)
    from_state = generator(n_samples=120, random_state=np.random.RandomState(3), **kwargs)
    pd.testing.assert_frame_equal(bunch.frame, from_state.frame)


@pytest.mark.parametrize(("generator", "kwargs"), GENERATORS)
def test_generator_rejects_bad_common_parameters(generator, kwargs):
    with pytest.raises(ValueError, match="n_samples must be >="):
        generator(n_samples=1, **kwargs)
    with pytest.raises(TypeError, match="n_samples must be an integer, got True"):
        generator(n_samples=True, **kwargs)
    with pytest.raises(ValueError, match="random_state must be None, an int"):
        generator(random_state="seed", **kwargs)


def _mi(bunch, seed=0):
    score = mutual_info_classif if bunch.task == "classification" else mutual_info_regression
    return pd.Series(
        score(bunch.data, bunch.target, random_state=seed, n_neighbors=10),
        index=bunch.feature_names,
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_make_informative_informative_columns_have_higher_mutual_information(task, seed):
    bunch = make_informative(n_samples=2000, task=task, random_state=seed)
    informative = bunch.informative
    noise = [c for c in bunch.feature_names if c not in informative]
    mi = _mi(bunch)
    assert mi[informative].min() > mi[noise].max()


def test_make_informative_ground_truth():
    bunch = make_informative(n_samples=500, n_features=12, n_informative=4, random_state=0)
    assert len(bunch.informative) == 4 and set(bunch.informative) <= set(bunch.feature_names)
    assert set(bunch.effects) == set(bunch.coef) == set(bunch.informative)
    assert set(bunch.effects.values()) <= {"linear", "quadratic", "sine"}
    assert set(bunch.target.unique()) == {0, 1}
    assert 0.3 < bunch.target.mean() < 0.7
    # Default size: informative columns carry clearly more information on average.
    default = make_informative(random_state=0)
    mi = _mi(default)
    noise = [c for c in default.feature_names if c not in default.informative]
    assert mi[default.informative].mean() > 3 * mi[noise].mean()
    # Informative columns are drawn at random, not simply the first ones.
    firsts = {
        tuple(make_informative(random_state=s).informative) == ("x0", "x1", "x2", "x3", "x4")
        for s in range(10)
    }
    assert firsts == {False}
    regression = make_informative(task="regression", random_state=0)
    assert regression.target.nunique() == len(regression.target)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_informative": 11}, ValueError, "n_informative must be <= 10, got 11"),
        ({"n_informative": 0}, ValueError, "n_informative must be >= 1"),
        ({"n_features": 0, "n_informative": 1}, ValueError, "n_features must be >= 1"),
        ({"task": "ranking"}, ValueError, "task must be one of ['classification', 'regression']"),
        ({"noise": -0.1}, ValueError, "noise must be >= 0.0"),
        ({"noise": float("nan")}, ValueError, "noise must be a finite number"),
        ({"noise": "low"}, TypeError, "noise must be a number"),
    ],
)
def test_make_informative_validates_parameters(kwargs, error, match):
    with pytest.raises(error, match=re.escape(match)):
        make_informative(**kwargs)


def _apply_rule(rule, data):
    holds = np.zeros(len(data), dtype=int)
    for literal in rule["literals"]:
        assert literal["op"] == ">"
        condition = data[literal["column"]].to_numpy() > literal["threshold"]
        holds += np.logical_not(condition) if literal["negated"] else condition
    assert rule["operator"] == "AtLeast"
    return (holds >= rule["k"]).astype(int)


@pytest.mark.parametrize(("seed", "flip_y"), [(0, 0.05), (1, 0.0), (2, 0.2)])
def test_make_boolean_rule_recomputed_rule_matches_labels(seed, flip_y):
    bunch = make_boolean_rule(n_samples=1000, flip_y=flip_y, random_state=seed)
    predicted = _apply_rule(bunch.rule, bunch.data)
    mismatched = np.flatnonzero(predicted != bunch.target.to_numpy())
    np.testing.assert_array_equal(mismatched, bunch.flipped)
    assert len(mismatched) == round(flip_y * 1000)
    # The rule is not degenerate: both labels are common.
    assert 0.2 < predicted.mean() < 0.8


def test_make_boolean_rule_ground_truth_format():
    bunch = make_boolean_rule(random_state=0)
    assert list(bunch.data.columns) == list("abcdef")
    literals = bunch.rule["literals"]
    assert [lit["negated"] for lit in literals] == [False, False, True]
    assert bunch.rule["k"] == 2 and bunch.rule["operator"] == "AtLeast"
    assert len({lit["column"] for lit in literals}) == 3
    assert bunch.rule_columns == [lit["column"] for lit in literals]
    a, b, c = literals
    expected = (
        f"AtLeast2({a['column']} > {a['threshold']}, {b['column']} > {b['threshold']}, "
        f"~({c['column']} > {c['threshold']}))"
    )
    assert bunch.rule_text == expected
    assert re.fullmatch(
        r"AtLeast2\([a-f] > -?\d+\.\d+, [a-f] > -?\d+\.\d+, ~\([a-f] > -?\d+\.\d+\)\)",
        bunch.rule_text,
    )
    for lit in literals:
        assert lit["threshold"] == round(lit["threshold"], 2)
        assert isinstance(lit["threshold"], float)
    assert list(make_boolean_rule(n_samples=50, n_features=30, random_state=0).data.columns)[
        :2
    ] == ["x0", "x1"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_features": 2}, "n_features must be >= 3, got 2. The planted rule uses three columns."),
        ({"flip_y": 0.5}, "flip_y must be < 0.5, got 0.5"),
        ({"flip_y": -0.01}, "flip_y must be >= 0.0"),
    ],
)
def test_make_boolean_rule_validates_parameters(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        make_boolean_rule(**kwargs)


def _walk_tree(tree, row):
    while "value" not in tree:
        ((feature, branches),) = tree.items()
        (le_key,) = [k for k in branches if k.startswith("<= ")]
        (gt_key,) = [k for k in branches if k.startswith("> ")]
        threshold = float(le_key[3:])
        assert float(gt_key[2:]) == threshold
        tree = branches[le_key] if row[feature] <= threshold else branches[gt_key]
    return tree["value"]


def _tree_depth(tree):
    if "value" in tree:
        return 0
    ((_, branches),) = tree.items()
    return 1 + max(_tree_depth(child) for child in branches.values())


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_make_planted_tree_is_recovered_by_a_tree_of_the_same_depth(depth, seed):
    noise = 0.05
    bunch = make_planted_tree(n_samples=1000, depth=depth, noise=noise, random_state=seed)
    model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(bunch.data, bunch.target)
    accuracy = model.score(bunch.data, bunch.target)
    assert accuracy >= 1 - noise - 0.02
    # One level less is clearly not enough: every split matters.
    if depth > 1:
        shallow = DecisionTreeClassifier(max_depth=depth - 1, random_state=0)
        assert shallow.fit(bunch.data, bunch.target).score(bunch.data, bunch.target) < 0.8


@pytest.mark.parametrize("seed", [0, 1])
def test_make_planted_tree_regression(seed):
    bunch = make_planted_tree(depth=3, task="regression", noise=0.05, random_state=seed)
    model = DecisionTreeRegressor(max_depth=3, random_state=0).fit(bunch.data, bunch.target)
    assert model.score(bunch.data, bunch.target) > 0.98
    values = [_walk_tree(bunch.tree, row) for _, row in bunch.data.head(50).iterrows()]
    np.testing.assert_allclose(values, bunch.target_clean[:50])
    residual = bunch.target.to_numpy() - bunch.target_clean
    assert residual.std() == pytest.approx(0.05 * bunch.target_clean.std(), rel=0.15)


def test_make_planted_tree_ground_truth_reproduces_labels():
    bunch = make_planted_tree(n_samples=400, depth=3, noise=0.1, random_state=5)
    assert _tree_depth(bunch.tree) == 3 == bunch.depth
    recomputed = np.array([_walk_tree(bunch.tree, row) for _, row in bunch.data.iterrows()])
    np.testing.assert_array_equal(recomputed, bunch.target_clean)
    assert np.mean(recomputed != bunch.target.to_numpy()) == pytest.approx(0.1)
    # Each leaf is its own class, numbered left to right.
    assert sorted(np.unique(recomputed)) == list(range(8))

    # No column is split twice on a path.
    def paths(tree, used=()):
        if "value" in tree:
            yield used
            return
        ((feature, branches),) = tree.items()
        for child in branches.values():
            yield from paths(child, (*used, feature))

    assert all(len(set(p)) == len(p) == 3 for p in paths(bunch.tree))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 0}, "depth must be >= 1"),
        ({"depth": 11}, "depth must be <= 10"),
        ({"depth": 3, "n_features": 2}, "n_features must be >= 3, got 2"),
        ({"depth": 4, "n_samples": 10}, "n_samples must be >= 16, got 10"),
        ({"noise": 1.0}, "noise must be < 1.0"),
        ({"noise": -1.0, "task": "regression"}, "noise must be >= 0.0"),
        ({"task": "clustering"}, "task must be one of"),
    ],
)
def test_make_planted_tree_validates_parameters(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        make_planted_tree(**kwargs)


@pytest.mark.parametrize("seed", [0, 1])
def test_make_missing_interaction_mechanism_reproduces_target(seed):
    noise = 0.1
    bunch = make_missing_interaction(n_samples=2000, noise=noise, random_state=seed)
    assert bunch.mechanism == "1.8 * sigmoid(2 * x1 * x2) + 0.4 * x3 ** 2"
    assert bunch.linear_part == {"x1": 0.5, "x2": -0.3, "x3": 0.2}
    X = bunch.data
    assert list(X.columns) == ["x1", "x2", "x3", "x4", "x5"]
    linear = sum(coef * X[column] for column, coef in bunch.linear_part.items())
    mechanism = 1.8 / (1 + np.exp(-2 * X["x1"] * X["x2"])) + 0.4 * X["x3"] ** 2
    leftover = bunch.target - linear - mechanism
    assert leftover.std() == pytest.approx(noise, rel=0.1)
    assert abs(leftover.mean()) < 4 * noise / np.sqrt(2000)
    # The leftover is noise: unrelated to every column.
    for column in X.columns:
        assert abs(np.corrcoef(leftover, X[column])[0, 1]) < 0.1
    # A linear model misses the mechanism: its residual is the mechanism (up to a constant).
    design = np.column_stack([np.ones(len(X)), X.to_numpy()])
    coef, *_ = np.linalg.lstsq(design, bunch.target.to_numpy(), rcond=None)
    residual = bunch.target.to_numpy() - design @ coef
    assert np.corrcoef(residual, mechanism)[0, 1] > 0.9


def test_make_missing_interaction_linear_formula_and_noise_free():
    bunch = make_missing_interaction(n_samples=50, noise=0.0, random_state=0)
    assert bunch.linear_formula == "0.5 * x1 - 0.3 * x2 + 0.2 * x3"
    X = bunch.data
    expected = (
        0.5 * X.x1 - 0.3 * X.x2 + 0.2 * X.x3 + 1.8 / (1 + np.exp(-2 * X.x1 * X.x2)) + 0.4 * X.x3**2
    )
    np.testing.assert_allclose(bunch.target, expected, rtol=1e-12)
    with pytest.raises(ValueError, match=re.escape("noise must be >= 0.0, got -0.5")):
        make_missing_interaction(noise=-0.5)


def test_make_domain_shift_layout():
    bunch = make_domain_shift(n_pool=2000, n_target=200, n_features=4, random_state=0)
    assert bunch.task == "selection"
    assert list(bunch.pool.columns) == ["x0", "x1", "x2", "x3", "channel", "text"]
    assert list(bunch.target.columns) == list(bunch.pool.columns)
    assert bunch.pool.shape == (2000, 6) and bunch.target.shape == (200, 6)
    assert len(bunch.pool_domain) == 2000
    assert set(bunch.pool_domain) == set(bunch.domains)
    assert bunch.target_domain in bunch.domains
    # Every domain is present in the pool with a sensible share.
    shares = bunch.pool_domain.value_counts(normalize=True)
    assert shares.min() >= 0.03
    assert isinstance(bunch.pool["channel"].dtype, pd.CategoricalDtype)
    words = bunch.pool["text"].str.split().str.len()
    assert words.between(3, 7).all()


def test_make_domain_shift_target_looks_like_its_domain():
    bunch = make_domain_shift(n_pool=4000, n_target=400, random_state=1)
    numeric = [c for c in bunch.pool.columns if c.startswith("x")]
    target_mean = bunch.target[numeric].mean()
    distances = {
        domain: float(
            np.linalg.norm(
                bunch.pool.loc[bunch.pool_domain == domain, numeric].mean() - target_mean
            )
        )
        for domain in bunch.domains
    }
    assert min(distances, key=distances.get) == bunch.target_domain

    # The text vocabulary also identifies the domain.
    def vocabulary(texts):
        return set(" ".join(texts).split())

    target_words = vocabulary(bunch.target["text"])
    overlaps = {
        domain: len(target_words & vocabulary(bunch.pool.loc[bunch.pool_domain == domain, "text"]))
        for domain in bunch.domains
    }
    assert max(overlaps, key=overlaps.get) == bunch.target_domain
    # Category frequencies of the target match its domain best.
    target_freq = bunch.target["channel"].value_counts(normalize=True)
    gaps = {
        domain: float(
            (
                bunch.pool.loc[bunch.pool_domain == domain, "channel"].value_counts(normalize=True)
                - target_freq
            )
            .abs()
            .sum()
        )
        for domain in bunch.domains
    }
    assert min(gaps, key=gaps.get) == bunch.target_domain


def test_make_domain_shift_reproducible_and_validated():
    a = make_domain_shift(n_pool=300, n_target=30, random_state=7)
    b = make_domain_shift(n_pool=300, n_target=30, random_state=7)
    pd.testing.assert_frame_equal(a.pool, b.pool)
    pd.testing.assert_frame_equal(a.target, b.target)
    pd.testing.assert_series_equal(a.pool_domain, b.pool_domain)
    with pytest.raises(ValueError, match=re.escape("n_pool must be >= 4, got 3")):
        make_domain_shift(n_pool=3)
    with pytest.raises(ValueError, match="n_target must be >= 1"):
        make_domain_shift(n_target=0)
    with pytest.raises(TypeError, match="n_features must be an integer"):
        make_domain_shift(n_features=2.0)


def test_public_api():
    assert sorted(datasets.__all__) == sorted(
        name for name in dir(datasets) if name.startswith(("load_", "make_"))
    )
    for name in datasets.__all__:
        assert getattr(datasets, name).__doc__
