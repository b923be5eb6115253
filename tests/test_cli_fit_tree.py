"""`tabsift fit-tree`: a real tree job on CSV/Parquet files."""

import json

import pandas as pd
import pytest

from tabsift.cli import main
from tabsift.datasets import make_planted_tree
from tabsift.llm.testing import LocalLLMServer

FAST = ["--generations", "3", "--population", "8", "--max-depth", "2", "--seed", "0"]


@pytest.fixture
def table(tmp_path):
    bunch = make_planted_tree(n_samples=300, n_features=4, depth=2, noise=0.0, random_state=0)
    frame = bunch.data.assign(label=bunch.target, color=["red", "blue", "green"] * 100)
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path, bunch


def test_job_writes_every_output(table, tmp_path, capsys):
    path, bunch = table
    out = tmp_path / "out"
    code = main(["fit-tree", str(path), "--target", "label", "--out", str(out), *FAST])
    assert code == 0, capsys.readouterr().err
    assert "accuracy" in capsys.readouterr().out
    text = (out / "tree.txt").read_text()
    assert text.startswith("# EvolvedTreeClassifier on data.csv") and "|--- " in text
    assert "Test accuracy: " in text and "stratified test split of 60 of 300 rows" in text
    tree = json.loads((out / "tree.json").read_text())
    assert tree["task"] == "classification" and tree["train_score"] > 0.9
    # A held-out score beside the training score, on rows the fit never saw.
    scores = tree["scores"]
    assert tree["test_score"] == scores["test_score"] > 0.8
    assert (scores["n_train"], scores["n_test"]) == (240, 60)
    assert sum(map(sum, scores["confusion_matrix"])) == 60
    assert scores["labels"] == sorted(bunch.target.unique().tolist())
    assert [row["label"] for row in scores["per_class"]] == scores["labels"]
    assert "not an independent test" in scores["validation_fitness"]["rows"]
    assert tree["tree"].keys() == bunch.tree.keys()
    assert "color=red" in tree["feature_names"]
    assert (out / "tree.png").read_bytes()[:4] == b"\x89PNG"
    history = pd.read_csv(out / "history.csv")
    assert history["generation"].tolist() == [0, 1, 2, 3]
    assert not (out / "checkpoint.npz").exists()
    assert json.loads((out / "job.json").read_text())["test_score"] == tree["test_score"]
    # The HTML report, like every job's: the tree keeps its indentation in a <pre> block.
    report = json.loads((out / "report" / "results.json").read_text())
    assert [s["title"] for s in report["sections"]] == [
        "Tree", "Scores", "Confusion matrix", "Fitness history", "Table preparation"
    ]
    assert report["sections"][1]["data"]["test_score"] == tree["test_score"]
    html = (out / "report" / "index.html").read_text()
    assert '<pre class="code">|--- ' in html and "\n|   |--- " in html
    assert "true \\ predicted" in html


def test_test_size_zero_fits_every_row_and_says_so(table, tmp_path):
    path, _ = table
    out = tmp_path / "out"
    args = ["fit-tree", str(path), "--target", "label", "--out", str(out), *FAST]
    assert main([*args, "--test-size", "0"]) == 0
    tree = json.loads((out / "tree.json").read_text())
    assert tree["test_score"] is None and tree["scores"]["n_train"] == 300
    assert tree["scores"]["evaluated_on"] == "training"
    assert "no test split (--test-size 0)" in (out / "tree.txt").read_text()


def test_finished_job_is_not_redone_and_regression_is_inferred(table, tmp_path, capsys):
    path, bunch = table
    out = tmp_path / "out"
    args = ["fit-tree", str(path), "--target", "label", "--out", str(out), *FAST]
    assert main(args) == 0
    first = (out / "tree.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "already holds this job's results" in capsys.readouterr().out
    assert (out / "tree.json").stat().st_mtime_ns == first
    # A continuous target is a regression job; parquet input works too.
    frame = bunch.data.assign(y=bunch.data["x0"] * 2.0 + 0.1)
    parquet = tmp_path / "reg.parquet"
    frame.to_parquet(parquet)
    assert main(["fit-tree", str(parquet), "--target", "y", "--out", str(tmp_path / "r"), *FAST]) == 0
    assert json.loads((tmp_path / "r" / "tree.json").read_text())["task"] == "regression"


def test_job_stopped_by_time_limit_resumes_from_its_checkpoint(table, tmp_path, capsys):
    path, _ = table
    out = tmp_path / "out"
    args = ["fit-tree", str(path), "--target", "label", "--out", str(out), *FAST]
    assert main([*args, "--time-limit", "1e-9"]) == 0
    assert "stopped by --time-limit after 0 generations" in capsys.readouterr().out
    assert (out / "checkpoint.npz").is_file()
    assert main(args) == 0  # continues from generation 0, then removes the checkpoint
    assert not (out / "checkpoint.npz").exists()
    reference = tmp_path / "ref"
    assert main(["fit-tree", str(path), "--target", "label", "--out", str(reference), *FAST]) == 0
    assert (out / "tree.txt").read_text() == (reference / "tree.txt").read_text()
    assert (out / "history.csv").read_text().count("\n") == 5


def test_llm_job_and_errors(table, tmp_path, capsys):
    path, bunch = table
    with LocalLLMServer(lambda request: json.dumps(bunch.tree)) as server:
        out = tmp_path / "llm"
        code = main(
            ["fit-tree", str(path), "--target", "label", "--out", str(out), *FAST,
             "--llm-base-url", server.base_url, "--llm-model", "tabsift-test"]
        )
        assert code == 0, capsys.readouterr().err
        assert len(server.requests) > 0
    assert json.loads((out / "tree.json").read_text())["llm_stats"]["accepted"] > 0
    capsys.readouterr()
    assert main(["fit-tree", str(path), "--target", "nope", "--out", str(tmp_path / "x")]) == 1
    assert "target column 'nope' is not in data.csv" in capsys.readouterr().err
