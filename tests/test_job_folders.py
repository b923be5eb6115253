"""Job folders a user can trust: state is data, and a job only touches what tabsift wrote.

Crafted checkpoints (a pickle whose ``__reduce__`` would write a marker, scores that
point outside the pool, object arrays) give a clear error and exit code 1, never code
execution or attacker-chosen output; the user's own files in ``--out`` survive
byte-identical; an unwritable ``--out`` is refused before any computation; the
temporary files of a killed run are removed by the next one.
"""

import json
import os
import pickle

import numpy as np
import pytest

from tabsift.cli import _job_folder, main
from tabsift.datasets import make_boolean_rule, make_domain_shift, make_informative
from tabsift.sampling import _dsir_stream
from tabsift.utils import atomic_write_text
from tabsift.utils._atomic import stale_temp_files

MARKER_NAME = "pwned.txt"


class Payload:
    """Unpickling this calls ``open(marker, "w")``: the marker appears if code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def pool_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pool")
    data = make_domain_shift(n_pool=1200, n_target=100, random_state=3)
    data.pool.to_csv(folder / "pool.csv", index=False)
    data.target.to_csv(folder / "target.csv", index=False)
    return folder


def _select_rows(folder, out, *extra):
    return main(
        [
            "select-rows", "--pool", str(folder / "pool.csv"), "--target",
            str(folder / "target.csv"), "--n", "100", "--out", str(out), "--chunksize", "400",
            "--seed", "4", *extra,
        ]
    )


@pytest.fixture(scope="module")
def whole_run(pool_files, tmp_path_factory):
    """The outputs of an uninterrupted run."""
    out = tmp_path_factory.mktemp("whole") / "out"
    assert _select_rows(pool_files, out) == 0
    return out


@pytest.fixture
def interrupted(pool_files, tmp_path, monkeypatch, capsys):
    """An --out folder left by a run killed after the first of three chunks was scored."""

    def crash(number):
        if number == 0:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(_dsir_stream, "_after_chunk", crash)
    out = tmp_path / "out"
    assert _select_rows(pool_files, out) == 1
    monkeypatch.setattr(_dsir_stream, "_after_chunk", lambda number: None)
    capsys.readouterr()
    assert (out / ".work" / "scores.npz").is_file()
    return out


def _snapshot(folder):
    """Every file under ``folder`` (relative path -> bytes)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _plant_user_files(out, files):
    for rel, content in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


# ----------------------------------------------------- crafted checkpoints
def test_crafted_pickle_in_a_fresh_folder_is_refused_as_not_ours(pool_files, tmp_path, capsys):
    out = tmp_path / "out"
    (out / ".work").mkdir(parents=True)
    marker = tmp_path / MARKER_NAME
    (out / ".work" / "model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    assert _select_rows(pool_files, out) == 1
    err = capsys.readouterr().err
    assert ".work/model.pkl" in err and "did not write" in err
    assert not marker.exists()
    assert not (out / "indices.csv").exists()


def test_crafted_pickle_listed_in_the_manifest_is_never_loaded(interrupted, pool_files, capsys):
    out = interrupted
    marker = out.parent / MARKER_NAME
    (out / ".work" / "model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    manifest = json.loads((out / _job_folder.MANIFEST_NAME).read_text())
    manifest["files"].append(".work/model.pkl")  # the attacker edits the manifest too
    (out / _job_folder.MANIFEST_NAME).write_text(json.dumps(manifest))
    assert _select_rows(pool_files, out) == 1
    err = capsys.readouterr().err
    assert "model.pkl" in err and "pickle" in err and "--force" in err
    assert not marker.exists()
    assert not (out / "indices.csv").exists()
    # --force starts over: the listed files go, the job runs.
    assert _select_rows(pool_files, out, "--force") == 0
    assert not marker.exists()


def _rewrite_scores(out, **changes):
    path = out / ".work" / "scores.npz"
    with np.load(path) as saved:
        arrays = {name: saved[name] for name in saved.files}
    arrays.update(changes)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _object_array(marker):
    array = np.empty(3, dtype=object)
    array[:] = [Payload(marker), 1.0, 2.0]
    return array


@pytest.mark.parametrize(
    "case, message",
    [
        ("chunks_done", "says 1000000 chunks were scored; the pool has 3 chunks"),
        ("float_indices", "array 'index' has dtype float64"),
        ("int_indices", "holds row indices from -5 to 1000000000"),
        ("object_array", "cannot be read as a NumPy archive"),
        ("fingerprint", "belongs to another job"),
        ("not_an_archive", "cannot be read as a NumPy archive"),
    ],
)
def test_crafted_scores_give_an_error_naming_the_file(
    interrupted, whole_run, pool_files, capsys, case, message
):
    out = interrupted
    marker = out.parent / MARKER_NAME
    k = 100
    if case == "chunks_done":
        _rewrite_scores(out, chunks_done=np.array(10**6))
    elif case == "float_indices":
        _rewrite_scores(out, index=np.r_[[-5.0, 3.0, 1e9], np.arange(10, 10 + k - 3)])
    elif case == "int_indices":
        _rewrite_scores(out, index=np.r_[[-5, 3, 10**9], np.arange(10, 10 + k - 3)])
    elif case == "object_array":
        _rewrite_scores(out, keys=_object_array(marker))
    elif case == "fingerprint":
        _rewrite_scores(out, fingerprint=np.array("0" * 64))
    else:
        (out / ".work" / "scores.npz").write_bytes(pickle.dumps(Payload(marker)))
    assert _select_rows(pool_files, out) == 1
    err = capsys.readouterr().err
    assert "scores.npz" in err and message in err, err
    assert "--force to start over" in err
    assert "Traceback" not in err
    assert not marker.exists()
    assert not (out / "indices.csv").exists() and not (out / "job.json").exists()
    # Starting over gives what an uninterrupted run gives.
    assert _select_rows(pool_files, out, "--force") == 0
    assert (out / "indices.csv").read_bytes() == (whole_run / "indices.csv").read_bytes()


@pytest.mark.parametrize("case", ["n_pool", "columns", "arrays", "json", "npz_object"])
def test_crafted_model_gives_an_error_naming_the_file(interrupted, pool_files, capsys, case):
    out = interrupted
    marker = out.parent / MARKER_NAME
    model_file = out / ".work" / "model.json"
    meta = json.loads(model_file.read_text())
    expected = "model.json"
    if case == "n_pool":
        meta["n_pool"] = 10**6
    elif case == "columns":
        meta["columns"] = "x0"
    elif case == "arrays":  # consistent digest, wrong shape
        with open(out / ".work" / "model.npz", "rb") as f, np.load(f) as saved:
            arrays = {name: saved[name] for name in saved.files}
        arrays["pool_distribution"] = arrays["pool_distribution"][:5]
        with open(out / ".work" / "model.npz", "wb") as f:
            np.savez(f, **arrays)
        import hashlib

        meta["arrays_sha256"] = hashlib.sha256(
            (out / ".work" / "model.npz").read_bytes()
        ).hexdigest()
        expected = "model.npz"
    elif case == "npz_object":
        with open(out / ".work" / "model.npz", "wb") as f:
            np.savez(f, pool_distribution=_object_array(marker))
        expected = "model.npz"
    if case == "json":
        model_file.write_bytes(b'{"format": "tabsift dsir-stream model", "schema": \xff')
    else:
        model_file.write_text(json.dumps(meta))
    assert _select_rows(pool_files, out) == 1
    err = capsys.readouterr().err
    assert expected in err and "--force to start over" in err, err
    assert "Traceback" not in err
    assert not marker.exists()
    assert not (out / "indices.csv").exists()


def test_discriminative_job_resumes_from_its_data_checkpoint(
    pool_files, tmp_path, monkeypatch, capsys
):
    extra = ("--estimator", "discriminative", "--pair-tokens", "--num-buckets", "512")
    assert _select_rows(pool_files, tmp_path / "whole", *extra) == 0

    def crash(number):
        if number == 1:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(_dsir_stream, "_after_chunk", crash)
    assert _select_rows(pool_files, tmp_path / "resumed", *extra) == 1
    scored = []
    monkeypatch.setattr(_dsir_stream, "_after_chunk", scored.append)
    assert _select_rows(pool_files, tmp_path / "resumed", *extra) == 0
    assert scored == [2]
    for name in ("selected.csv", "indices.csv", "summary.json"):
        assert (tmp_path / "resumed" / name).read_bytes() == (
            tmp_path / "whole" / name
        ).read_bytes()


# --------------------------------------------------------- the user's files
USER_FILES = {
    "summary.json": b'{"mine": true}\n',
    ".work/notes.txt": b"my notes\n",
    ".work/scores.npz": b"my own scores, not an archive",
    "report/index.html": b"<p>my report</p>",
}


def test_select_rows_refuses_a_folder_holding_files_of_its_names(pool_files, tmp_path, capsys):
    out = tmp_path / "out"
    _plant_user_files(out, USER_FILES)
    before = _snapshot(out)
    assert _select_rows(pool_files, out) == 1
    err = capsys.readouterr().err
    assert "summary.json" in err and ".work/scores.npz" in err
    assert "did not write" in err and "another --out" in err
    assert _snapshot(out) == before  # nothing added, nothing changed
    assert _select_rows(pool_files, out, "--force") == 1  # --force does not override it
    assert _snapshot(out) == before


def test_a_file_where_a_job_needs_a_folder_is_refused(pool_files, rules_table, tmp_path, capsys):
    out = tmp_path / "out"
    _plant_user_files(out, {".work": b"my file called .work", "report": b"my report file"})
    before = _snapshot(out)
    assert _select_rows(pool_files, out) == 1
    assert "'.work'" in capsys.readouterr().err
    assert _fit_rules(rules_table, out) == 1
    assert "'report'" in capsys.readouterr().err
    assert _snapshot(out) == before


def test_select_rows_leaves_other_files_of_the_user_alone(pool_files, tmp_path):
    out = tmp_path / "out"
    mine = {".work/notes.txt": b"my notes\n", "notes.csv": b"a,b\n1,2\n", ".notes.tmp": b"x"}
    _plant_user_files(out, mine)
    assert _select_rows(pool_files, out) == 0
    assert _select_rows(pool_files, out, "--seed", "5") == 0  # another job, same folder
    assert _select_rows(pool_files, out, "--force") == 0
    after = _snapshot(out)
    for rel, content in mine.items():
        assert after[rel] == content
    # Only the user's file is left in .work: tabsift removed its own files, not the folder.
    assert sorted(p.name for p in (out / ".work").iterdir()) == ["notes.txt"]


@pytest.fixture
def rules_table(tmp_path):
    bunch = make_boolean_rule(n_samples=200, flip_y=0.0, random_state=0)
    path = tmp_path / "rules.csv"
    bunch.data.assign(label=bunch.target).to_csv(path, index=False)
    return path


def _fit_rules(table, out):
    return main(
        ["fit-rules", str(table), "--target", "label", "--out", str(out),
         "--iterations", "100", "--starts", "2", "--seed", "0"]
    )


@pytest.fixture
def features_table(tmp_path):
    bunch = make_informative(n_samples=120, n_features=4, n_informative=2, random_state=0)
    path = tmp_path / "features.csv"
    bunch.data.assign(label=bunch.target).to_csv(path, index=False)
    return path


def _select_features(table, out):
    return main(
        ["select-features", str(table), "--target", "label", "--keep", "2", "--out", str(out),
         "--epochs", "5", "--cv", "2", "--seed", "0"]
    )


def _no_computation(monkeypatch, module):
    """Make the job fail loudly if it reaches its first computation."""

    def reached(*args, **kwargs):
        raise AssertionError("the job started computing")

    monkeypatch.setattr(module, "read_prepared_table", reached)


@pytest.mark.parametrize(
    "job, files",
    [
        ("fit-rules", {"rule.txt": b"my rule\n", "report/index.html": b"<p>mine</p>",
                       "job.json": b'{"mine": 1}'}),
        ("select-features", {"scores.csv": b"mine\n", "job.json": b"not json",
                             ".work/notes.txt": b"x"}),
    ],
)
def test_other_jobs_refuse_the_users_files_before_computing(
    job, files, rules_table, features_table, tmp_path, monkeypatch, capsys
):
    import tabsift.cli._fit_rules as fit_rules
    import tabsift.cli._select_features as select_features

    out = tmp_path / "out"
    _plant_user_files(out, files)
    before = _snapshot(out)
    _no_computation(monkeypatch, fit_rules if job == "fit-rules" else select_features)
    run = (lambda: _fit_rules(rules_table, out)) if job == "fit-rules" else (
        lambda: _select_features(features_table, out)
    )
    assert run() == 1
    err = capsys.readouterr().err
    assert "did not write" in err and "job.json" in err, err
    assert _snapshot(out) == before


@pytest.mark.parametrize("job", ["fit-rules", "select-features"])
def test_other_jobs_keep_unrelated_files_of_the_user(
    job, rules_table, features_table, tmp_path, capsys
):
    out = tmp_path / "out"
    mine = {"notes.txt": b"mine\n", "report/my-figure.png": b"png", ".selected.csv.tmp": b"x"}
    _plant_user_files(out, mine)
    run = (lambda: _fit_rules(rules_table, out)) if job == "fit-rules" else (
        lambda: _select_features(features_table, out)
    )
    assert run() == 0, capsys.readouterr().err
    assert run() == 0  # finished: nothing redone
    after = _snapshot(out)
    for rel, content in mine.items():
        assert after[rel] == content
    listed = set(json.loads((out / _job_folder.MANIFEST_NAME).read_text())["files"])
    assert "job.json" in listed and not listed & set(mine)


def test_a_write_the_registry_does_not_list_is_still_refused(tmp_path, features_table):
    out = tmp_path / "out"
    out.mkdir()
    (out / "extra.txt").write_text("mine")
    assert _job_folder.start_job("some-job", {}, features_table, out, force=False)
    try:
        with pytest.raises(_job_folder.JobFolderError, match="extra.txt was not written by tabsift"):
            atomic_write_text(out / "extra.txt", "theirs")
        atomic_write_text(out / "new.txt", "ours")
        _job_folder.mark_finished(out, "f" * 64, {})
    finally:
        _job_folder.end_job()
    assert (out / "extra.txt").read_text() == "mine"
    listed = json.loads((out / _job_folder.MANIFEST_NAME).read_text())["files"]
    assert listed == ["job.json", "new.txt"]


@pytest.mark.parametrize(
    "manifest",
    [
        {"format": "tabsift job manifest", "schema": 1, "files": ["../victim.txt"],
         "folders": []},
        {"format": "tabsift job manifest", "schema": 1, "files": ["/etc/passwd"],
         "folders": []},
        {"format": "tabsift job manifest", "schema": 99, "files": [], "folders": []},
        "not a manifest",
    ],
)
def test_a_crafted_manifest_never_deletes_outside_the_folder(tmp_path, manifest, capsys,
                                                             pool_files):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / _job_folder.MANIFEST_NAME).write_text(json.dumps(manifest))
    assert _select_rows(pool_files, out) == 1
    err = capsys.readouterr().err
    assert _job_folder.MANIFEST_NAME in err and "another --out" in err
    assert victim.read_text() == "keep me"
    with pytest.raises(_job_folder.JobFolderError):
        _job_folder.remove_job_files(out, "..")


def test_a_folder_of_an_older_tabsift_is_adopted_through_its_job_json(pool_files, tmp_path):
    out = tmp_path / "out"
    assert _select_rows(pool_files, out) == 0
    (out / _job_folder.MANIFEST_NAME).unlink()  # as written before manifests existed
    assert _select_rows(pool_files, out, "--force") == 0


# ------------------------------------------------------- unwritable folders
@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root writes into read-only folders, so chmod cannot make one",
)
@pytest.mark.parametrize("job", ["fit-rules", "select-rows"])
def test_read_only_out_is_refused_before_computing(
    job, rules_table, pool_files, tmp_path, monkeypatch, capsys
):
    import tabsift.cli._fit_rules as fit_rules
    import tabsift.cli._select_rows as select_rows

    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        _no_computation(monkeypatch, fit_rules)
        monkeypatch.setattr(select_rows, "PoolTable", lambda *a, **k: pytest.fail("computed"))
        code = _fit_rules(rules_table, out) if job == "fit-rules" else _select_rows(
            pool_files, out
        )
    finally:
        out.chmod(0o755)
    assert code == 1
    err = capsys.readouterr().err
    assert f"cannot write the results in the output folder {str(out)!r}" in err
    assert ".tmp" not in err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("job", ["fit-rules", "select-rows"])
def test_unwritable_out_is_refused_before_computing_even_as_root(
    job, rules_table, pool_files, tmp_path, monkeypatch, capsys
):
    # What a read-only folder does to a user who is not root, whoever runs the tests.
    import tempfile

    import tabsift.cli._fit_rules as fit_rules
    import tabsift.cli._select_rows as select_rows

    out = tmp_path / "out"
    out.mkdir()
    real_mkstemp = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and os.path.abspath(dir) == str(out):
            raise PermissionError(13, "Permission denied", str(out))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    _no_computation(monkeypatch, fit_rules)
    monkeypatch.setattr(select_rows, "PoolTable", lambda *a, **k: pytest.fail("computed"))
    code = _fit_rules(rules_table, out) if job == "fit-rules" else _select_rows(pool_files, out)
    assert code == 1
    err = capsys.readouterr().err
    assert f"the output folder {str(out)!r}: Permission denied" in err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("job", ["fit-rules", "select-rows"])
def test_out_below_a_file_is_refused_before_computing(
    job, rules_table, pool_files, tmp_path, monkeypatch, capsys
):
    import tabsift.cli._fit_rules as fit_rules
    import tabsift.cli._select_rows as select_rows

    blocker = tmp_path / "a-file.txt"
    blocker.write_text("mine")
    out = blocker / "results"
    _no_computation(monkeypatch, fit_rules)
    monkeypatch.setattr(select_rows, "PoolTable", lambda *a, **k: pytest.fail("computed"))
    code = _fit_rules(rules_table, out) if job == "fit-rules" else _select_rows(pool_files, out)
    assert code == 1
    err = capsys.readouterr().err
    assert f"cannot write the results in the output folder {str(out)!r}" in err
    assert "a part of the path is a file" in err
    assert blocker.read_text() == "mine"


# ------------------------------------------------------------ temp files
def test_temp_files_of_a_killed_run_are_removed_by_the_next_run(
    interrupted, whole_run, pool_files
):
    out = interrupted
    leftovers = [
        ".selected.csv.xyz.tmp", ".indices.csv.k3j_x9a2.tmp", ".job.json.abcdefgh.tmp",
        ".work/.scores.npz.q1w2e3r4.tmp", ".work/.model.npz.zz9_aa01.tmp",
    ]
    mine = [".notes.tmp", ".my.csv.abcdefgh.tmp", ".work/.notes.tmp", ".selected.csv.tmp"]
    for rel in leftovers + mine:
        (out / rel).write_text("x")
    assert _select_rows(pool_files, out) == 0
    for rel in leftovers:
        assert not (out / rel).exists(), rel
    for rel in mine:
        assert (out / rel).read_text() == "x", rel
    assert (out / "indices.csv").read_bytes() == (whole_run / "indices.csv").read_bytes()


def test_stale_temp_files_matches_only_atomic_write_names(tmp_path):
    for name in (".out.csv.k2x9_0ab.tmp", ".out.csv.tmp", ".out.csv.A-B.tmp", "out.csv",
                 ".other.csv.k2x9_0ab.tmp", ".figure-1-a.png.abc.tmp"):
        (tmp_path / name).write_text("")
    found = stale_temp_files(tmp_path, ["out.csv", "figure-*.png"])
    assert [p.name for p in found] == [".figure-1-a.png.abc.tmp", ".out.csv.k2x9_0ab.tmp"]
    assert stale_temp_files(tmp_path / "missing", ["out.csv"]) == []


def test_indices_outside_the_pool_are_never_written(pool_files, tmp_path, monkeypatch, capsys):
    from tabsift.cli import _select_rows as job

    def crafted(args, pool, target, workdir):
        return job.Selection(indices=np.array([-5, 3, 10**9]), n_pool=1200)

    monkeypatch.setitem(job.METHODS, "random", job.Method(help="x", select=crafted))
    code = main(["select-rows", "--pool", str(pool_files / "pool.csv"), "--n", "3",
                 "--method", "random", "--out", str(tmp_path / "out")])
    assert code == 1
    assert "outside the pool's rows 0 to 1199" in capsys.readouterr().err
    assert not (tmp_path / "out" / "indices.csv").exists()
