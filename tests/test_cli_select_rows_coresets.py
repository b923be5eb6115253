"""``tabsift select-rows --method kcenter|ot|gais|random|llm-choice``: same rows as the estimators."""

import json

import pandas as pd
import pytest

from tabsift.cli import main
from tabsift.datasets import make_rare_region
from tabsift.sampling import KCenterSelector, OTCoresetSelector


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
