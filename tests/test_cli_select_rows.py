"""``tabsift select-rows``: the streamed job equals the estimator, resumes, writes atomically."""

import json

import numpy as np
import pandas as pd
import pytest

from tabsift.cli import _select_rows, main
from tabsift.datasets import make_domain_shift
from tabsift.sampling import ImportanceResampler, _dsir_stream


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pool")
    data = make_domain_shift(n_pool=2500, n_target=200, random_state=3)
    pool = data.pool.assign(domain=data.pool_domain)  # an extra column, not a feature
    pool.to_csv(folder / "pool.csv", index=False)
    pool.to_parquet(folder / "pool.parquet")
    data.target.to_csv(folder / "target.csv", index=False)
    return folder, data


def _run(folder, out, *extra, pool="pool.csv"):
    return main(
        [
            "select-rows",
            "--pool",
            str(folder / pool),
            "--target",
            str(folder / "target.csv"),
            "--n",
            "300",
            "--out",
            str(out),
            "--chunksize",
            "400",
            "--seed",
            "4",
            *extra,
        ]
    )


@pytest.mark.parametrize("pool", ["pool.csv", "pool.parquet"])
def test_streamed_job_selects_what_the_estimator_selects(files, tmp_path, pool, capsys):
    folder, data = files
    assert _run(folder, tmp_path / "out", pool=pool) == 0
    assert "selected 300 rows with dsir" in capsys.readouterr().out
    indices = pd.read_csv(tmp_path / "out" / "indices.csv")

    frame = pd.read_csv(folder / "pool.csv")
    target = pd.read_csv(folder / "target.csv")
    sampler = ImportanceResampler(target, n_samples=300, random_state=4).fit(frame)
    np.testing.assert_array_equal(indices["index"], sampler.sample_indices_)
    np.testing.assert_allclose(
        indices["weight"], sampler.log_importance_weights_[sampler.sample_indices_]
    )

    suffix = pool.rsplit(".", 1)[1]
    selected = _select_rows.read_table(tmp_path / "out" / f"selected.{suffix}")
    assert list(selected.columns) == list(frame.columns)
    assert (selected["domain"] == data.target_domain).mean() > 0.95
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_pool"] == 2500 and summary["n_selected"] == 300
    assert summary["kl_reduction"] == pytest.approx(sampler.kl_reduction_)
    assert summary["column_kinds"]["text"] == "text"
    assert not (tmp_path / "out" / ".work").exists()
    # An HTML report like every job's, with the selection and what the method reports.
    report = json.loads((tmp_path / "out" / "report" / "results.json").read_text())
    assert [s["title"] for s in report["sections"]] == [
        "Selection", "What the method reports", "Table preparation", "Settings"
    ]
    assert report["sections"][0]["data"] == {"method": "dsir", "n_selected": 300, "n_pool": 2500}
    html = (tmp_path / "out" / "report" / "index.html").read_text()
    assert "selected 300 rows of 2500 pool rows (12.0%)" in html
    assert report["sections"][0]["figure"] is not None


def test_interrupted_job_resumes_and_writes_what_an_uninterrupted_run_writes(
    files, tmp_path, monkeypatch, capsys
):
    folder, _ = files
    assert _run(folder, tmp_path / "whole") == 0

    scored = []

    def crash_after_third_chunk(number):
        scored.append(number)
        if number == 2:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(_dsir_stream, "_after_chunk", crash_after_third_chunk)
    assert _run(folder, tmp_path / "resumed") == 1
    assert "simulated crash" in capsys.readouterr().err
    assert not (tmp_path / "resumed" / "job.json").exists()
    assert (tmp_path / "resumed" / ".work" / "scores.npz").exists()

    scored.clear()
    monkeypatch.setattr(_dsir_stream, "_after_chunk", scored.append)
    assert _run(folder, tmp_path / "resumed") == 0
    assert scored == [3, 4, 5, 6]  # chunks 0-2 were not scored again (2500 rows / 400)
    for name in ("selected.csv", "indices.csv", "summary.json"):
        assert (tmp_path / "resumed" / name).read_bytes() == (
            tmp_path / "whole" / name
        ).read_bytes()


def test_finished_job_is_skipped_and_force_recomputes(files, tmp_path, capsys):
    folder, _ = files
    assert _run(folder, tmp_path / "out", "--top-k", "--n", "0.1") == 0
    first = (tmp_path / "out" / "indices.csv").read_text()
    assert len(pd.read_csv(tmp_path / "out" / "indices.csv")) == 250
    assert _run(folder, tmp_path / "out", "--top-k", "--n", "0.1") == 0
    assert "already holds this job's results" in capsys.readouterr().out
    assert _run(folder, tmp_path / "out", "--top-k", "--n", "0.1", "--force") == 0
    assert (tmp_path / "out" / "indices.csv").read_text() == first


def test_target_column_missing_from_the_pool_is_named(files, tmp_path, capsys):
    folder, data = files
    data.target.assign(income=1.0).to_csv(tmp_path / "target.csv", index=False)
    code = main(
        [
            "select-rows",
            "--pool",
            str(folder / "pool.csv"),
            "--target",
            str(tmp_path / "target.csv"),
            "--n",
            "10",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 1
    assert "target columns 'income' are not in the pool" in capsys.readouterr().err


def test_methods_registry_entries_are_complete():
    for name, method in _select_rows.METHODS.items():
        assert name.replace("-", "").isalnum()
        assert method.help and callable(method.select)


def test_workers_select_what_one_process_selects_and_are_not_a_setting(files, tmp_path, capsys):
    folder, _ = files
    outs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        assert _run(folder, out, "--workers", workers) == 0
        outs[workers] = pd.read_csv(out / "indices.csv")
        summary = json.loads((out / "summary.json").read_text())
        assert "workers" not in summary["settings"]
    pd.testing.assert_frame_equal(outs["2"], outs["1"])
    # the same job with another --workers is finished already
    assert _run(folder, tmp_path / "w1", "--workers", "2") == 0
    assert "already" in capsys.readouterr().out.lower()
