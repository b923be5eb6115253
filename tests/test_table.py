"""The shared table layer: column kinds, checks, task inference, encoding, job preparation."""

import numpy as np
import pandas as pd
import pytest

from tabsift.cli._io import read_table
from tabsift.table import (
    TableError,
    check_column_names,
    check_finite_columns,
    check_target,
    cv_splitter,
    describe_columns,
    encode_table,
    infer_task,
    is_plain_numeric,
    prepare_table,
)


def _raw():
    return pd.DataFrame(
        {
            "age": ["41", "?", "35", " 50 ", "n/a", "29"],
            "city": ["Oslo", "Lima", None, "Oslo", "Lima", "Oslo"],
            "smoker": [True, False, True, False, True, False],
            "income": [1.5, np.nan, 2.0, 3.5, 1.0, 2.5],
            "notes": ["the cat sat on the mat", "dogs bark at night", "it rains a lot here",
                      "a long and winding road", "green eggs and ham", "what is this"],
            "blank": [np.nan] * 6,
        }
    )


def test_column_kinds_of_a_raw_table():
    kinds = {c.name: (c.kind, c.n_missing, c.n_placeholders) for c in describe_columns(_raw())}
    assert kinds == {
        "age": ("numeric_text", 2, 2),
        "city": ("categorical", 1, 0),
        "smoker": ("boolean", 0, 0),
        "income": ("numeric", 1, 0),
        "notes": ("text", 0, 0),
        "blank": ("empty", 6, 0),
    }


def test_object_array_columns_are_typed_like_frame_columns():
    X = np.array([["1", "a"], ["2", "b"], ["?", "a"]], dtype=object)
    assert [c.kind for c in describe_columns(X)] == ["numeric_text", "categorical"]
    assert [c.name for c in describe_columns(X)] == ["x0", "x1"]


def test_plain_numeric_input_is_recognised():
    assert is_plain_numeric(np.ones((3, 2)))
    assert is_plain_numeric(pd.DataFrame({"a": [1, 2], "b": [True, False]}))
    assert not is_plain_numeric(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))


@pytest.mark.parametrize(
    ("y", "expected"),
    [
        (np.arange(100) * 10.0, "regression"),  # whole-number prices stored as float
        (np.arange(100), "regression"),  # and as integers
        (np.array([0.5, 1.5, 0.5]), "regression"),
        ([1, 2, 3, 1], "classification"),
        (np.array([1.0, 2.0, 1.0]), "classification"),
        (["yes", "no", "yes"], "classification"),
        (pd.Series(["a", "b"], dtype="category"), "classification"),
        ([True, False, True], "classification"),
    ],
)
def test_infer_task(y, expected):
    assert infer_task(y) == expected


def test_infer_task_names_y_and_the_classifier_for_text_regression_targets():
    with pytest.raises(TableError, match=r"y holds values such as 'b'; use MyClassifier"):
        infer_task(["b", "a"], "regression", owner="MyRegressor", classifier="MyClassifier")
    with pytest.raises(TableError, match=r"continuous numbers such as 0.5"):
        infer_task([0.5, 1.0], "classification")
    with pytest.raises(TableError, match="task must be"):
        infer_task([1, 2], "clustering")


def test_check_target_messages():
    with pytest.raises(TableError, match=r"y has no values: all 3 are missing"):
        check_target([np.nan, None, np.nan], owner="E")
    with pytest.raises(TableError, match=r"y has 1 missing value\(s\) of 3; E needs a target"):
        check_target([1.0, np.nan, 2.0], owner="E")
    with pytest.raises(TableError, match="y is empty"):
        check_target([], owner="E")


def test_duplicate_column_names_are_named():
    frame = pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"])
    with pytest.raises(TableError, match=r"duplicate column names 'a'; E needs every column"):
        check_column_names(frame, owner="E")
    check_column_names(np.ones((2, 2)), owner="E")  # arrays have no names to repeat


def test_non_finite_message_names_columns_and_counts():
    X = np.array([[1.0, np.nan], [np.inf, np.nan]])
    with pytest.raises(TableError) as info:
        check_finite_columns(X, feature_names=["a", "b"], owner="E")
    assert str(info.value) == (
        "column 'a' has 1 infinite value; column 'b' has 2 NaN values; E does not accept NaN "
        "or infinite values in X: impute or drop them first, e.g. with "
        "sklearn.impute.SimpleImputer."
    )


def test_cv_splitter_falls_back_when_a_class_is_smaller_than_the_folds():
    y = np.array([0] * 10 + [1])
    assert type(cv_splitter(5, "classification", y=y)).__name__ == "KFold"
    assert type(cv_splitter(5, "classification", y=np.repeat([0, 1], 10))).__name__ == (
        "StratifiedKFold"
    )
    assert type(cv_splitter(3, "regression")).__name__ == "KFold"


def test_encode_table_groups_encoded_columns_by_input_column():
    encoded = encode_table(_raw(), owner="E")
    assert np.isfinite(encoded.values).all()
    names = [encoded.columns[g].name for g in encoded.groups]
    # every input column but the empty one is represented, each encoded column maps back
    assert set(names) == {"age", "city", "smoker", "income", "notes"}
    assert "age (missing)" in encoded.names and "city=(missing)" in encoded.names
    sums = encoded.group_sums(np.ones(len(encoded.groups)))
    assert sums[5] == 0 and sums[0] == 2  # blank: nothing; age: value + missing indicator
    assert any("numbers stored as text" in s for s in encoded.steps)


def test_encode_table_keeps_plain_numeric_input_unchanged():
    X = np.arange(12.0).reshape(4, 3)
    encoded = encode_table(X, owner="E")
    assert encoded.values is not X or np.shares_memory(encoded.values, X)
    np.testing.assert_array_equal(encoded.values, X)
    np.testing.assert_array_equal(encoded.groups, [0, 1, 2])
    assert encoded.steps == []


def test_encode_table_without_imputation_names_the_missing_numbers():
    with pytest.raises(TableError, match=r"column 'income' has 1 NaN value; E does not accept NaN in X"):
        encode_table(_raw().drop(columns="age"), owner="E", impute=False)


def test_prepare_table_records_every_step():
    raw = _raw()
    raw.insert(0, "Unnamed: 0", range(1, 7))
    raw["y"] = [0, 1, 0, 1, None, 1]
    raw["const"] = 7
    prepared = prepare_table(raw, "y", impute=True)
    assert prepared.task == "classification"
    assert list(prepared.X.columns) == ["age", "city", "smoker", "income"]
    assert prepared.X.shape[0] == 5 and prepared.X.notna().all().all()
    steps = {s["step"]: s["columns"] for s in prepared.steps}
    assert steps["dropped rows without a target"] == ["y"]
    assert steps["dropped unnamed row-number columns"] == ["Unnamed: 0"]
    assert steps["dropped empty columns"] == ["blank"]
    assert steps["dropped constant columns"] == ["const"]
    assert steps["dropped identifier columns (every value differs)"] == ["notes"]
    assert steps["read numbers stored as text"] == ["age"]


def test_prepare_table_options_and_encoding():
    raw = pd.DataFrame({"a": [1, 2, 1, 2], "b": ["x", "unknown", "y", "x"], "y": [1.0, 2, 3, 4]})
    prepared = prepare_table(
        raw, "y", categorical=["a"], na_values=["unknown"], impute=True, encode=True
    )
    assert sorted(prepared.X.columns) == ["a=1", "a=2", "b=(missing)", "b=x", "b=y"]
    assert prepared.task == "classification"  # 4 whole numbers
    assert prepare_table(raw, "y", task="regression").task == "regression"
    with pytest.raises(TableError, match=r"--drop names column\(s\) 'zz' that data.csv does"):
        prepare_table(raw, "y", drop=["zz"], source="data.csv")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"a": [], "y": []}), "data.csv has a header but no rows"),
        (pd.DataFrame({"a": [1.0], "y": [1.0]}), r"data.csv has 1 row\(s\) with a target value"),
        (pd.DataFrame({"a": [1.0, 2.0], "y": ["?", None]}), "target column 'y' of data.csv has "
         "no values"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": ["p", "p", "p"]}), "target column 'y' of "
         "data.csv has a single class"),
        (pd.DataFrame({"a": [np.nan, np.nan], "y": [1, 2]}), "data.csv has no usable feature"),
    ],
)
def test_prepare_table_rejects_bad_tables_by_name(frame, message):
    with pytest.raises(TableError, match=message):
        prepare_table(frame, "y", source="data.csv")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty.csv is empty"),
        ("a,b,y\n", "empty.csv has a header but no rows"),
        ("a,b,a\n1,2,3\n", r"empty.csv names column\(s\) 'a' more than once"),
        ("\n\n", "empty.csv holds no table"),
    ],
)
def test_read_table_rejects_bad_files_by_name(tmp_path, content, message):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(TableError, match=message):
        read_table(path)


def test_read_table_names_a_missing_file(tmp_path):
    with pytest.raises(TableError, match=r"input file '.*nope.csv' does not exist"):
        read_table(tmp_path / "nope.csv")
