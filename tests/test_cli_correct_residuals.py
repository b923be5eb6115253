"""`tabsift correct-residuals`: a real correction job on CSV/Parquet files."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from tabsift.cli import main
from tabsift.datasets import make_missing_interaction
from tabsift.residual import FrozenCorrections

FAST = ["--base", "linear", "--rounds", "1", "--cv", "3", "--seed", "0"]


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # The models here are tiny: BLAS threads only add overhead (and stall on a busy CI box).
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def table(tmp_path):
    bunch = make_missing_interaction(n_samples=400, random_state=0)
    path = tmp_path / "data.csv"
    bunch.frame.to_csv(path, index=False)
    return path, bunch


def test_job_finds_corrections_and_writes_every_output(table, tmp_path, capsys):
    path, bunch = table
    out = tmp_path / "out"
    code = main(["correct-residuals", str(path), "--target", "target", "--out", str(out), *FAST])
    assert code == 0, capsys.readouterr().err
    saved = json.loads((out / "corrections.json").read_text())
    assert saved["task"] == "regression"
    columns = [set(c["tree"]["columns"]) for c in saved["corrections"]]
    assert {"x3"} in columns and {"x1", "x2"} in columns
    trace = pd.read_csv(out / "trace.csv")
    assert "accepted" in set(trace["status"])
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == 400
    base_mse = np.mean((predictions["target"] - predictions["base_prediction"]) ** 2)
    assert np.mean((predictions["target"] - predictions["prediction"]) ** 2) < 0.3 * base_mse
    # The exported corrections and base model reproduce the predictions.
    base = pickle.loads((out / "base_model.pkl").read_bytes())
    frozen = FrozenCorrections(base, out / "corrections.json")
    np.testing.assert_allclose(frozen.predict(bunch.data), predictions["prediction"])
    report = json.loads((out / "report" / "results.json").read_text())
    titles = [s["title"] for s in report["sections"]]
    assert titles == [
        "Table preparation",
        "Corrections",
        "Residuals before and after",
        "Search trace",
    ]
    assert list((out / "report").glob("*.png"))
    # The residual plot is drawn against the column the first kept correction reads.
    residuals = report["sections"][2]["data"]["column"]
    assert residuals in saved["corrections"][0]["tree"]["columns"]
    job = json.loads((out / "job.json").read_text())
    assert job["task"] == "regression" and len(job["corrections"]) == 2
    assert job["preparation"] == []  # a clean numeric table needs no step
    assert job["settings"]["preparation"]["prepare"] is True
    assert "kept 2 correction(s)" in capsys.readouterr().out


def test_finished_job_is_not_redone_and_classification_from_parquet(table, tmp_path, capsys):
    path, bunch = table
    out = tmp_path / "out"
    args = ["correct-residuals", str(path), "--target", "target", "--out", str(out), *FAST]
    assert main(args) == 0
    first = (out / "corrections.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "already holds this job's results" in capsys.readouterr().out
    assert (out / "corrections.json").stat().st_mtime_ns == first

    frame = bunch.data.assign(label=np.where(bunch.target > bunch.target.median(), "hi", "lo"))
    parquet = tmp_path / "data.parquet"
    frame.to_parquet(parquet)
    out2 = tmp_path / "out2"
    assert (
        main(["correct-residuals", str(parquet), "--target", "label", "--out", str(out2), *FAST])
        == 0
    )
    saved = json.loads((out2 / "corrections.json").read_text())
    assert saved["task"] == "classification" and saved["classes"] == ["hi", "lo"]
    predictions = pd.read_csv(out2 / "predictions.csv")
    assert {"proba_hi", "proba_lo", "prediction"} <= set(predictions.columns)


def test_bad_target_is_a_clear_error(table, tmp_path, capsys):
    path, _ = table
    code = main(["correct-residuals", str(path), "--target", "nope", "--out", str(tmp_path / "o")])
    assert code != 0
    assert "target column 'nope' is not in data.csv" in capsys.readouterr().err


def test_nothing_kept_says_no_correction_passed(tmp_path, capsys):
    # A purely linear target: the linear base leaves nothing for a correction to find.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(
        y=2 * X[:, 1] + rng.normal(size=300)
    )
    path = tmp_path / "linear.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    args = ["correct-residuals", str(path), "--target", "y", "--corrections", "1", *FAST]
    assert main([*args, "--out", str(out)]) == 0
    assert "kept 0 correction(s) (none passed the acceptance test)" in capsys.readouterr().out
    report = json.loads((out / "report" / "results.json").read_text())
    sections = {s["title"]: s for s in report["sections"]}
    html = (out / "report" / "index.html").read_text()
    assert "No correction passed the acceptance test" in html
    # No empty corrections table: the section has text only.
    corrections_html = html.split("Corrections<span")[1].split("</section>")[0]
    assert "<table>" not in corrections_html
    # The residual plot is drawn against the base model's most important column.
    assert sections["Residuals before and after"]["data"]["column"] == "b"
