"""``tabsift select-rows --method hybrid|kcenter|ot|gais|random|llm-choice``: same rows as the
estimators."""

import json

import pandas as pd
import pytest

from tabsift.cli import main
from tabsift.datasets import make_rare_region
from tabsift.sampling import HybridCoresetSelector, KCenterSelector, OTCoresetSelector


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coreset")
    data = make_rare_region(n_samples=600, random_state=0)
    data.frame.to_csv(folder / "pool.csv", index=False)
    data.frame.iloc[:100].to_csv(folder / "target.csv", index=False)
    return folder, data


def _run(folder, out, method, *extra, n="30"):
    return main([
        "select-rows", "--pool", str(folder / "pool.csv"), "--target",
        str(folder / "target.csv"), "--n", n, "--out", str(out), "--method", method,
        "--seed", "1", *extra,
    ])


def test_kcenter_job_matches_the_estimator(files, tmp_path, capsys):
    folder, data = files
    assert _run(folder, tmp_path, "kcenter", "--label", "target", "--stratify", "balanced") == 0
    assert "selected 30 rows with kcenter" in capsys.readouterr().out
    indices = pd.read_csv(tmp_path / "indices.csv")
    expected = KCenterSelector(n_samples=30, stratify="balanced", random_state=1).fit(
        data.data, data.target
    )
    assert sorted(indices["index"]) == sorted(expected.sample_indices_.tolist())
    selected = pd.read_csv(tmp_path / "selected.csv")
    assert selected["target"].value_counts().tolist() == [15, 15]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["radius"] == pytest.approx(expected.radius_)


def test_hybrid_job_matches_the_estimator(files, tmp_path, capsys):
    folder, data = files
    assert _run(folder, tmp_path, "hybrid", "--label", "target") == 0
    assert "selected 30 rows with hybrid" in capsys.readouterr().out
    indices = pd.read_csv(tmp_path / "indices.csv")
    selector = HybridCoresetSelector(n_samples=30, random_state=1)
    selector.fit_resample(data.data, data.target)
    expected = dict(zip(selector.sample_indices_.tolist(), selector.sample_weight_, strict=True))
    assert sorted(indices["index"]) == sorted(expected)
    assert indices["weight"].tolist() == pytest.approx([expected[i] for i in indices["index"]])
    assert (tmp_path / "report" / "index.html").is_file()


@pytest.mark.parametrize("proxy", ["auto", "mlp"])
def test_ot_job_uses_the_target_as_validation(files, tmp_path, proxy):
    folder, data = files
    options = ["--label", "target", "--max-swaps", "3", "--proxy", proxy, "--lam", "0.3"]
    assert _run(folder, tmp_path, "ot", *options) == 0
    indices = pd.read_csv(tmp_path / "indices.csv")
    target = data.frame.iloc[:100]
    expected = OTCoresetSelector(
        n_samples=30, max_swaps=3, random_state=1, proxy=proxy, lam=0.3,
        validation=(target[data.feature_names].to_numpy(), target["target"].to_numpy()),
    ).fit(data.data, data.target)
    assert sorted(indices["index"]) == sorted(expected.sample_indices_.tolist())
    assert "weight" in indices


@pytest.mark.parametrize("method", ["gais", "random", "llm-choice"])
def test_other_methods_run(files, tmp_path, method):
    folder, _ = files
    extra = ["--epochs", "5"] if method == "gais" else []
    assert _run(folder, tmp_path, method, "--label", "target", *extra) == 0
    assert len(pd.read_csv(tmp_path / "selected.csv")) == 30


def test_methods_that_need_labels_say_so(files, tmp_path, capsys):
    folder, _ = files
    assert _run(folder, tmp_path, "gais") != 0
    assert "needs the class column: give it with --label COL" in capsys.readouterr().err
    assert _run(folder, tmp_path / "k", "kcenter") == 0  # unlabelled is fine


def test_coreset_methods_need_no_target_but_dsir_does(files, tmp_path, capsys):
    folder, data = files
    pool = str(folder / "pool.csv")
    argv = ["select-rows", "--pool", pool, "--n", "30", "--seed", "1", "--label", "target"]
    assert main([*argv, "--out", str(tmp_path / "k"), "--method", "kcenter"]) == 0
    indices = pd.read_csv(tmp_path / "k" / "indices.csv")
    expected = KCenterSelector(n_samples=30, random_state=1).fit(data.data, data.target)
    # Without --target, every pool column but the label is a feature.
    assert sorted(indices["index"]) == sorted(expected.sample_indices_.tolist())
    summary = json.loads((tmp_path / "k" / "summary.json").read_text())
    assert summary["target"] is None and summary["features"] == list(data.feature_names)
    assert main([*argv, "--out", str(tmp_path / "d"), "--method", "dsir"]) == 1
    assert "--method dsir needs --target" in capsys.readouterr().err
    assert not (tmp_path / "d" / "job.json").exists()


# ------------------------------------------------------------ raw tables as they come
@pytest.fixture(scope="module")
def raw_files(tmp_path_factory):
    """A pool CSV as public tables come: R's row names, text with gaps, '?' for a missing
    number, an identifier column, a constant column; and a target sample of its rows."""
    import numpy as np

    folder = tmp_path_factory.mktemp("raw")
    rng = np.random.default_rng(0)
    n = 240
    age = rng.integers(18, 80, n).astype(str).astype(object)
    age[rng.random(n) < 0.1] = "?"
    pool = pd.DataFrame({
        "": np.arange(1, n + 1),  # R's row names: pandas reads the column as 'Unnamed: 0'
        "id": [f"c{i:04d}" for i in range(n)],
        "income": np.round(rng.lognormal(10, 1, n), 2),
        "score": np.where(rng.random(n) < 0.2, np.nan, np.round(rng.normal(size=n), 3)),
        "city": rng.choice(np.array(["Oslo", "Lima", "Pune", None], dtype=object), n),
        "age": age,
        "source": "web",
        "zone": rng.integers(1, 5, n),
        "bought": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
    })
    pool.to_csv(folder / "pool.csv", index=False)
    pool.iloc[::6].drop(columns=[""]).to_csv(folder / "sample.csv", index=False)
    return folder


def _raw_run(folder, out, method, *extra, n="24"):
    return main([
        "select-rows", "--pool", str(folder / "pool.csv"), "--n", n, "--out", str(out),
        "--method", method, "--seed", "0", *extra,
    ])


def _selected_rows_are_the_pools(folder, out):
    """selected.csv holds the pool's rows exactly as the file has them."""
    indices = pd.read_csv(out / "indices.csv")["index"].to_numpy()
    raw = pd.read_csv(folder / "pool.csv")
    expected = raw.iloc[sorted(indices)].reset_index(drop=True)
    selected = pd.read_csv(out / "selected.csv")
    for column in expected.columns:  # a subset of a CSV may read with another dtype
        if selected[column].dtype != expected[column].dtype:
            selected[column] = selected[column].astype(str)
            expected[column] = expected[column].astype(str)
    pd.testing.assert_frame_equal(selected, expected)
    assert "?" in set(raw["age"]) and set(selected.columns) == set(raw.columns)
    return indices


@pytest.mark.parametrize(
    "method,extra",
    [
        ("kcenter", ["--label", "bought", "--stratify", "balanced"]),
        ("kcenter", []),
        ("hybrid", ["--label", "bought"]),
        ("hybrid", []),
        ("ot", ["--target", "sample.csv", "--label", "bought", "--max-swaps", "2"]),
        ("ot", ["--max-swaps", "2"]),
        ("gais", ["--label", "bought", "--epochs", "3"]),
        ("random", ["--label", "bought"]),
        ("llm-choice", ["--label", "bought"]),
    ],
)
def test_coreset_methods_take_a_raw_csv(raw_files, tmp_path, method, extra):
    extra = [str(raw_files / e) if e.endswith(".csv") else e for e in extra]
    assert _raw_run(raw_files, tmp_path, method, *extra) == 0
    indices = _selected_rows_are_the_pools(raw_files, tmp_path)
    assert len(indices) == 24 and len(set(indices)) == 24
    job = json.loads((tmp_path / "job.json").read_text())
    summary = json.loads((tmp_path / "summary.json").read_text())
    steps = {s["step"]: s["columns"] for s in job["preparation"]}
    assert summary["preparation"] == job["preparation"]
    # With --target, its columns are the features: the sample has no row names.
    if "--target" not in extra:
        assert steps["dropped unnamed row-number columns"] == ["Unnamed: 0"]
    assert steps["dropped identifier columns (every value differs)"] == ["id"]
    assert steps["dropped constant columns"] == ["source"]
    assert steps["read numbers stored as text"] == ["age"]
    features = ["income", "score", "city", "age", "zone"]
    label = "bought" if "--label" in extra else None
    assert summary["features"] == features + ([] if label else ["bought"])
    assert summary["task"] == ("classification" if label else None)
    if "--stratify" in extra:
        assert pd.read_csv(tmp_path / "selected.csv")["bought"].value_counts().tolist() == [
            12, 12
        ]


def test_preparation_options_are_applied_and_recorded(raw_files, tmp_path):
    options = ["--drop", "income", "--categorical", "zone", "--na-values", "Pune"]
    assert _raw_run(raw_files, tmp_path / "a", "kcenter", "--label", "bought", *options) == 0
    job = json.loads((tmp_path / "a" / "job.json").read_text())
    steps = {s["step"]: s["columns"] for s in job["preparation"]}
    assert steps["dropped columns (--drop)"] == ["income"]
    assert steps["treated as categories (--categorical)"] == ["zone"]
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["features"] == ["score", "city", "age", "zone"]
    assert summary["settings"]["na_values"] == ["Pune"]
    # The rows are written as read: with --na-values, 'Pune' reads as missing.
    selected = pd.read_csv(tmp_path / "a" / "selected.csv")
    assert "Pune" not in set(selected["city"].dropna())
    # --no-prepare: every column as read (the selector encodes them), nothing dropped.
    assert _raw_run(raw_files, tmp_path / "b", "kcenter", "--no-prepare") == 0
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["preparation"] == [] and summary["features"][:2] == ["Unnamed: 0", "id"]
    _selected_rows_are_the_pools(raw_files, tmp_path / "b")
    # Another option is another job: the fingerprint holds the preparation settings.
    assert _raw_run(raw_files, tmp_path / "b", "kcenter") == 0
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["preparation"]


def test_dsir_takes_drop_and_na_values_but_not_categorical(raw_files, tmp_path, capsys):
    sample = str(raw_files / "sample.csv")
    assert _raw_run(raw_files, tmp_path / "d", "dsir", "--target", sample, "--drop", "id") == 0
    job = json.loads((tmp_path / "d" / "job.json").read_text())
    assert job["preparation"] == [
        {"step": "dropped columns (--drop)", "columns": ["id"], "detail": "not tokenised"}
    ]
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert "id" not in summary["column_kinds"]
    _selected_rows_are_the_pools(raw_files, tmp_path / "d")
    assert _raw_run(raw_files, tmp_path / "e", "dsir", "--target", sample,
                    "--categorical", "zone") == 1
    assert "--categorical does not apply to --method dsir" in capsys.readouterr().err


def _error(capsys):
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_bad_pools_get_errors_naming_the_file_and_column(raw_files, tmp_path, capsys):
    pool = pd.read_csv(raw_files / "pool.csv")
    pool.iloc[:1].to_csv(tmp_path / "one.csv", index=False)
    argv = ["select-rows", "--n", "1", "--method", "kcenter", "--out", str(tmp_path / "o")]
    assert main([*argv, "--pool", str(tmp_path / "one.csv")]) == 1
    assert _error(capsys) == (
        "tabsift: error: one.csv has 1 data row; select-rows needs at least 2."
    )
    pool.assign(bought=None).to_csv(tmp_path / "nolabel.csv", index=False)
    assert main([*argv, "--pool", str(tmp_path / "nolabel.csv"), "--label", "bought"]) == 1
    assert _error(capsys) == (
        "tabsift: error: --label column 'bought' of nolabel.csv has no values (all 240 are "
        "missing); pass the column to predict with --label."
    )
    (tmp_path / "dup.csv").write_text("a,b,a\n1,2,3\n4,5,6\n")
    assert main([*argv, "--pool", str(tmp_path / "dup.csv")]) == 1
    assert "dup.csv names column(s) 'a' more than once" in _error(capsys)
    assert main([*argv, "--pool", str(raw_files / "pool.csv"), "--drop", "incom"]) == 1
    assert _error(capsys).startswith(
        "tabsift: error: --drop names column(s) 'incom' that pool.csv does not have; its "
        "columns are: 'Unnamed: 0', 'id', 'income'"
    )
    assert main([*argv, "--pool", str(raw_files / "pool.csv"), "--label", "income",
                 "--stratify", "balanced"]) == 1
    assert _error(capsys).startswith(
        "tabsift: error: --stratify needs a class column, but --label 'income' of pool.csv "
        "holds a regression target"
    )
    assert main([*argv, "--pool", str(raw_files / "pool.csv"), "--label", "income",
                 "--method", "gais"]) == 1
    assert "--method gais needs a class column, but --label 'income'" in _error(capsys)
