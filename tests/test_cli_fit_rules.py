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
    assert sorted({lit["column"] for lit in model["literals"]}) == sorted(bunch.feature_names)
    explanation = pd.read_csv(out / "explanation.csv")
    assert len(explanation) == 400
    assert (explanation["label"] == explanation["prediction"]).all()
    assert {"held", "not_held", "reason", "fired"} <= set(explanation.columns)
    report = json.loads((out / "report" / "results.json").read_text())
    assert [s["title"] for s in report["sections"]] == [
        "Rule", "Table preparation", "Conditions", "Explanations"
    ]
    assert (out / "report" / "index.html").is_file()
    assert json.loads((out / "job.json").read_text())["rule"] == model["rules"][0]["text"]
    assert "training accuracy 1.000" in capsys.readouterr().out


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
