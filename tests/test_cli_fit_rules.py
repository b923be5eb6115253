"""`tabsift fit-rules`: a real rule-learning job on CSV/Parquet files."""

import json

import pandas as pd
import pytest

from tabsift.cli import main
from tabsift.datasets import load_iris, make_boolean_rule

FAST = ["--iterations", "500", "--starts", "10", "--seed", "0"]  # BoolXAI's defaults
QUICK = ["--iterations", "100", "--starts", "2", "--seed", "0"]


@pytest.fixture
def table(tmp_path):
    bunch = make_boolean_rule(n_samples=400, flip_y=0.0, random_state=0)
    frame = bunch.data.assign(label=bunch.target)
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(
        json.dumps({lit["column"]: [lit["threshold"]] for lit in bunch.rule["literals"]})
    )
    return path, thresholds, bunch


def test_job_writes_rule_explanation_and_report(table, tmp_path, capsys):
    path, thresholds, bunch = table
    out = tmp_path / "out"
    args = ["fit-rules", str(path), "--target", "label", "--out", str(out), *FAST]
    code = main([*args, "--thresholds", str(thresholds)])
    assert code == 0, capsys.readouterr().err
    rule_text = (out / "rule.txt").read_text()
    assert rule_text.startswith("AtLeast2(") and "Predict 1 when at least 2 of" in rule_text
    model = json.loads((out / "rule.json").read_text())
    assert model["training_accuracy"] == 1.0
    # Held out: 80 of the 400 rows, stratified, never seen by the fit.
    assert model["test_accuracy"] == model["scores"]["test_score"] == 1.0
    assert model["scores"]["n_test"] == 80
    assert model["scores"]["split"].startswith("stratified test split of 80 of 400 rows")
    assert model["scores"]["confusion_matrix"][0][1] == model["scores"]["confusion_matrix"][1][0] == 0
    assert sorted({lit["column"] for lit in model["literals"]}) == sorted(bunch.feature_names)
    explanation = pd.read_csv(out / "explanation.csv")
    assert len(explanation) == 400
    assert (explanation["label"] == explanation["prediction"]).all()
    assert explanation["part"].value_counts().to_dict() == {"train": 320, "test": 80}
    assert {"held", "not_held", "reason", "fired"} <= set(explanation.columns)
    report = json.loads((out / "report" / "results.json").read_text())
    assert [s["title"] for s in report["sections"]] == [
        "Rule", "Scores", "Confusion matrix", "Table preparation", "Conditions", "Explanations"
    ]
    scores = report["sections"][1]["data"]
    assert scores["train_score"] == 1.0 and scores["test_score"] == 1.0
    assert (out / "report" / "index.html").is_file()
    assert json.loads((out / "job.json").read_text())["rule"] == model["rules"][0]["text"]
    assert "training accuracy 1.000, test accuracy 1.000" in capsys.readouterr().out


def test_multiclass_report_names_labels_and_gives_each_rule_a_row(tmp_path):
    iris = load_iris()
    names = {0: "setosa", 1: "versicolor", 2: "virginica"}
    frame = iris.data.assign(species=iris.target.map(names))
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["fit-rules", str(path), "--target", "species", "--out", str(out), *QUICK]) == 0
    scores = json.loads((out / "rule.json").read_text())["scores"]
    assert scores["labels"] == ["setosa", "versicolor", "virginica"]
    assert sum(map(sum, scores["confusion_matrix"])) == scores["n_test"] == 30
    assert {row["label"] for row in scores["per_class"]} == set(names.values())
    html = (out / "report" / "index.html").read_text()
    assert "<th>versicolor</th>" in html  # the confusion matrix shows labels, not indices
    from PIL import Image

    width, height = Image.open(out / "report" / "figure-1-rule.png").size
    assert height > width / 2  # one panel row per class, not three squeezed side by side


def test_finished_job_is_not_redone_unless_forced(table, tmp_path, capsys):
    path, _, _ = table
    out = tmp_path / "out"
    args = ["fit-rules", str(path), "--target", "label", "--out", str(out), *QUICK]
    assert main(args) == 0
    first = (out / "rule.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "already holds this job's results" in capsys.readouterr().out
    assert (out / "rule.json").stat().st_mtime_ns == first
    assert main([*args, "--operators", "And", "Or"]) == 0  # other settings: another job
    assert json.loads((out / "job.json").read_text())["settings"]["operators"] == ["And", "Or"]
    assert main([*args, "--force"]) == 0


def test_multiclass_parquet_and_bad_target(tmp_path, capsys):
    iris = load_iris()
    path = tmp_path / "iris.parquet"
    iris.data.assign(species=iris.target_names[iris.target]).to_parquet(path)
    out = tmp_path / "out"
    assert main(["fit-rules", str(path), "--target", "species", "--out", str(out), *QUICK]) == 0
    lines = (out / "rule.txt").read_text().splitlines()
    assert lines[0].startswith("'setosa': ") and lines[3].startswith("otherwise: ")
    capsys.readouterr()
    assert main(["fit-rules", str(path), "--target", "kind", "--out", str(out)]) == 1
    assert "target column 'kind' is not in iris.parquet" in capsys.readouterr().err
