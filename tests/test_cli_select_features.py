"""`tabsift select-features`: a real selection job on CSV/Parquet files."""

import json

import numpy as np
import pandas as pd
import pytest

from tabsift.cli import main
from tabsift.datasets import make_informative

FAST = ["--epochs", "25", "--cv", "3", "--seed", "0"]


@pytest.fixture
def table(tmp_path):
    bunch = make_informative(n_samples=300, n_features=6, n_informative=2, random_state=0)
    frame = bunch.data.assign(label=bunch.target)
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path, sorted(bunch.informative)


def test_job_keeps_informative_columns_and_writes_every_output(table, tmp_path, capsys):
    path, informative = table
    out = tmp_path / "out"
    code = main(
        ["select-features", str(path), "--target", "label", "--keep", "2", "--out", str(out), *FAST]
    )
    assert code == 0, capsys.readouterr().err
    selected = pd.read_csv(out / "selected.csv")
    assert sorted(selected.columns) == sorted([*informative, "label"])
    assert len(selected) == 300
    scores = pd.read_csv(out / "scores.csv")
    assert scores["score"].sum() == pytest.approx(1.0)
    assert sorted(scores.loc[scores["kept"], "feature"]) == informative
    assert {f"score_fold_{i}" for i in range(3)} <= set(scores.columns)
    report = json.loads((out / "report" / "results.json").read_text())
    titles = [s["title"] for s in report["sections"]]
    assert titles[:3] == ["Table preparation", "Feature importances", "Learned shapes"]
    assert (out / "report" / "index.html").is_file()
    job = json.loads((out / "job.json").read_text())
    assert job["kept"] == list(selected.columns[:-1])
    assert "kept 2 of 6 features" in capsys.readouterr().out


def test_finished_job_is_not_redone_unless_forced(table, tmp_path, capsys):
    path, _ = table
    out = tmp_path / "out"
    args = ["select-features", str(path), "--target", "label", "--out", str(out), *FAST]
    assert main(args) == 0
    first = (out / "scores.csv").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "already holds this job's results" in capsys.readouterr().out
    assert (out / "scores.csv").stat().st_mtime_ns == first
    # Other settings are another job: it runs.
    assert main([*args, "--method", "ko"]) == 0
    assert "kept" in capsys.readouterr().out
    assert main([*args, "--force"]) == 0


def test_interrupted_job_leaves_no_marker_and_resumes(table, tmp_path, monkeypatch):
    path, _ = table
    out = tmp_path / "out"
    import tabsift.cli._select_features as job

    def broken(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(job, "_write_report", broken)
    args = ["select-features", str(path), "--target", "label", "--out", str(out), *FAST]
    assert main(args) == 130
    assert not (out / "job.json").exists()
    monkeypatch.undo()
    assert main(args) == 0
    assert (out / "job.json").exists()


def test_parquet_in_parquet_out(table, tmp_path):
    path, informative = table
    parquet = tmp_path / "data.parquet"
    pd.read_csv(path).to_parquet(parquet)
    out = tmp_path / "pq"
    assert (
        main(
            [
                "select-features",
                str(parquet),
                "--target",
                "label",
                "--keep",
                "2",
                "--out",
                str(out),
                *FAST,
            ]
        )
        == 0
    )
    assert sorted(pd.read_parquet(out / "selected.parquet").columns) == sorted(
        [*informative, "label"]
    )


def test_clear_errors(table, tmp_path, capsys):
    path, _ = table
    assert (
        main(["select-features", str(path), "--target", "nope", "--out", str(tmp_path / "o")]) == 1
    )
    err = capsys.readouterr().err
    assert "target column 'nope' is not in data.csv" in err and "--target" in err
    assert main(["select-features", str(tmp_path / "missing.csv"), "--target", "y"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["select-features", str(path), "--target", "label", "--keep", "0"]) == 2
    assert "expected a positive value" in capsys.readouterr().err
    # A constant text column used to stop the job; it is now dropped, and the step recorded.
    bad = tmp_path / "text.csv"
    pd.read_csv(path).assign(city="x").to_csv(bad, index=False)
    out = tmp_path / "o2"
    assert main(["select-features", str(bad), "--target", "label", "--out", str(out), *FAST]) == 0
    steps = json.loads((out / "job.json").read_text())["preparation"]
    assert {"step": "dropped constant columns", "columns": ["city"], "detail": ""} in steps
    # Without preparation, a text column holding a '?' is a missing number the KAN refuses.
    raw = pd.read_csv(path).astype({"x0": object})
    raw.loc[[3, 7], "x0"] = "?"
    raw.to_csv(bad, index=False)
    args = ["select-features", str(bad), "--target", "label", "--no-prepare", *FAST]
    assert main([*args, "--out", str(tmp_path / "o4")]) == 1
    assert "column 'x0' has 2 NaN values; KANSelector does not accept" in capsys.readouterr().err
    device = ["--device", "abacus", "--out", str(tmp_path / "o3"), *FAST]
    assert main(["select-features", str(path), "--target", "label", *device]) == 1
    assert "device must be a torch device or its name" in capsys.readouterr().err


def test_other_job_interrupted_in_the_same_folder_is_not_taken_for_a_finished_one(
    table, tmp_path, monkeypatch, capsys
):
    path, _ = table
    out = tmp_path / "shared"
    job_a = ["select-features", str(path), "--target", "label", "--keep", "2", "--out", str(out)]
    assert main([*job_a, *FAST]) == 0
    import tabsift.cli._select_features as job

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    # Job B (another --keep) overwrites the selected table, then is interrupted.
    monkeypatch.setattr(job, "_write_report", interrupted)
    job_b = ["select-features", str(path), "--target", "label", "--keep", "4", "--out", str(out)]
    assert main([*job_b, *FAST]) == 130
    monkeypatch.undo()
    capsys.readouterr()
    # Job A must run again: the folder no longer holds its complete results.
    assert main([*job_a, *FAST]) == 0
    assert "already holds" not in capsys.readouterr().out
    assert len(pd.read_csv(out / "selected.csv").columns) == 3


def test_epochs_and_folds_must_be_positive(table, capsys):
    path, _ = table
    for option in ("--epochs", "--cv", "--threads"):
        assert main(["select-features", str(path), "--target", "label", option, "0"]) == 2
        assert "expected a positive integer" in capsys.readouterr().err


def test_stability_note_on_a_flat_ranking_not_on_a_clear_one(table, tmp_path, capsys):
    # Clear: two informative columns among six, keep 2: the boundary is far outside the spread.
    path, _ = table
    out = tmp_path / "clear"
    assert main(
        ["select-features", str(path), "--target", "label", "--keep", "2", "--out", str(out), *FAST]
    ) == 0
    assert "Stability:" not in capsys.readouterr().out
    report = json.loads((out / "report" / "results.json").read_text())
    stability = report["sections"][1]["data"]["stability"]
    assert stability["note"] == "" and not stability["boundary"]["within_fold_spread"]
    assert stability["fold_agreement"] >= 2 / 3 and stability["mean_jaccard"] >= 0.75
    assert "Stability:" not in (out / "report" / "index.html").read_text()

    # Flat: a label unrelated to seven noise columns: every score within the fold spread.
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.normal(size=(300, 7)), columns=[f"f{i}" for i in range(7)])
    flat = tmp_path / "flat.csv"
    noise.assign(label=rng.integers(0, 2, 300)).to_csv(flat, index=False)
    out = tmp_path / "flat"
    assert main(
        ["select-features", str(flat), "--target", "label", "--keep", "3", "--out", str(out), *FAST]
    ) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report" / "results.json").read_text())
    stability = report["sections"][1]["data"]["stability"]
    assert stability["flat"] or stability["boundary"]["within_fold_spread"]
    assert stability["note"].startswith("Stability:") and stability["note"] in printed
    agreed = round(stability["fold_agreement"] * 3)
    assert f"equals the kept set in {agreed} of 3 folds" in stability["note"]
    assert stability["mean_jaccard"] < 1.0
    assert "Stability:" in (out / "report" / "index.html").read_text()
    assert json.loads((out / "job.json").read_text())["stability"]["note"] == stability["note"]
    # The shape caption says what the figure shows: all fold networks, both layers.
    shapes = next(s for s in report["sections"] if s["title"] == "Learned shapes")
    assert shapes["status"] == "ok"
    html = (out / "report" / "index.html").read_text()
    assert "mean over the 3 fold networks" in html and "through both layers" in html
