"""The evolved-tree checkpoint is data: crafted, foreign and damaged files are refused cleanly.

Payloads whose ``__reduce__`` would create a marker file are planted wherever the
estimator or ``tabsift fit-tree`` reads a checkpoint; the marker must never appear.
"""

import io
import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest

from tabsift.cli import main
from tabsift.datasets import make_planted_tree
from tabsift.tree import EvolvedTreeClassifier, EvolvedTreeRegressor
from tabsift.tree._checkpoint import CheckpointError, CheckpointMismatchError

PARAMS = dict(
    max_depth=2, population_size=6, n_crossover_prompts=2, n_mutation_prompts=2, random_state=0
)
FAST = ["--generations", "2", "--population", "6", "--max-depth", "2", "--seed", "0"]


class _Payload:
    """Unpickling this creates ``marker`` (it calls ``open(marker, "w")``)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickle_payload(marker, protocol=4):
    return pickle.dumps(_Payload(marker), protocol=protocol)


@pytest.fixture(scope="module")
def data():
    bunch = make_planted_tree(n_samples=200, n_features=3, depth=2, noise=0.05, random_state=0)
    return bunch.data, bunch.target


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """A real checkpoint after one generation, and the tree its resume gives."""
    path = tmp_path_factory.mktemp("ckpt") / "run.npz"
    EvolvedTreeClassifier(n_generations=1, checkpoint=path, **PARAMS).fit(*data)
    resumed = EvolvedTreeClassifier(n_generations=1, checkpoint=path, **PARAMS).fit(*data)
    return path.read_bytes(), resumed.export_text()


def _resume(path, data):
    return EvolvedTreeClassifier(n_generations=1, checkpoint=path, **PARAMS).fit(*data)


def _members(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {info.filename: archive.read(info.filename) for info in archive.infolist()}


def _archive(members, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _npy(array, **kwargs):
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def _edited(blob, *, state=None, arrays=None):
    """``blob`` with fields of state.json and whole arrays replaced."""
    members = _members(blob)
    doc = json.loads(members["state.json"])
    for key, value in (state or {}).items():
        doc[key] = value
    members["state.json"] = json.dumps(doc).encode()
    for name, array in (arrays or {}).items():
        members[f"{name}.npy"] = _npy(array)
    return _archive(members)


def _array(blob, name):
    return np.load(io.BytesIO(_members(blob)[f"{name}.npy"]), allow_pickle=False)


# ------------------------------------------------------------- crafted files
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pickle_at_the_checkpoint_path_is_refused_and_never_run(data, tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "run.npz"
    path.write_bytes(_pickle_payload(marker, protocol))
    with pytest.raises(CheckpointError, match="run.npz") as info:
        _resume(path, data)
    assert not marker.exists()
    message = str(info.value)
    assert "pass another checkpoint path" in message and "delete it" in message
    if protocol >= 2:
        assert "it is a pickle" in message and "never loads pickles" in message
    assert path.read_bytes() == _pickle_payload(marker, protocol)  # left as it was


def test_an_old_style_pkl_path_holding_a_payload_is_refused(data, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pkl"
    path.write_bytes(_pickle_payload(marker))
    with pytest.raises(ValueError, match=r"checkpoint\.pkl.*it is a pickle"):
        _resume(path, data)
    assert not marker.exists()


def test_a_pickled_object_array_inside_the_archive_is_never_unpickled(data, saved, tmp_path):
    marker = tmp_path / "pwned"
    members = _members(saved[0])
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    members["population_feature.npy"] = _npy(payload, allow_pickle=True)
    path = tmp_path / "run.npz"
    path.write_bytes(_archive(members))
    with pytest.raises(CheckpointError, match="'population_feature' should be an array of dtype"):
        _resume(path, data)
    assert not marker.exists()


def test_compressed_or_foreign_archives_are_refused(data, saved, tmp_path):
    path = tmp_path / "run.npz"
    path.write_bytes(_archive(_members(saved[0]), zipfile.ZIP_DEFLATED))
    with pytest.raises(CheckpointError, match="compressed or encrypted"):
        _resume(path, data)
    path.write_bytes(_archive({"notes.txt": b"hello"}))
    with pytest.raises(CheckpointError, match="not those of a checkpoint"):
        _resume(path, data)
    np.savez(path, x=np.arange(3))  # someone else's .npz
    with pytest.raises(CheckpointError, match="cannot be read"):
        _resume(path, data)


# ------------------------------------------------------------ damaged files
def test_every_sampled_byte_corruption_resumes_cleanly_or_is_refused(data, saved, tmp_path):
    blob, reference = saved
    # The zip headers and central directory (both ends), the first array header, and an
    # even spread over the rest: 120 positions, the same on every run.
    rng = np.random.default_rng(0)
    positions = sorted(
        {*range(0, 40), *range(len(blob) - 40, len(blob)),
         *rng.choice(len(blob), size=40, replace=False).tolist()}
    )
    assert len(positions) >= 100
    path = tmp_path / "run.npz"
    outcomes = {"resumed": 0, "refused": 0}
    for position in positions:
        damaged = bytearray(blob)
        damaged[position] ^= 0xFF
        path.write_bytes(bytes(damaged))
        try:
            tree = _resume(path, data).export_text()
        except CheckpointError as err:
            assert "run.npz" in str(err) and "delete it" in str(err)
            outcomes["refused"] += 1
        else:
            # Only bytes nothing depends on (zip timestamps, attributes) may differ.
            assert tree == reference, f"byte {position} changed the resumed tree"
            outcomes["resumed"] += 1
    assert outcomes["refused"] > 0


@pytest.mark.parametrize("keep", [0, 3, 4, 30, 100, 1000, -200, -22, -1])
def test_a_truncated_checkpoint_is_refused(data, saved, tmp_path, keep):
    path = tmp_path / "run.npz"
    path.write_bytes(saved[0][:keep])
    with pytest.raises(CheckpointError, match=r"run\.npz' cannot be read"):
        _resume(path, data)


def test_regression_without_validation_rows_resumes_exactly(tmp_path):
    # NaN validation fitness (stored as null), missing values and a category column.
    bunch = make_planted_tree(n_samples=150, depth=2, task="regression", random_state=2)
    X = bunch.data.assign(color=["red", "blue", None] * 50)
    X.loc[::9, "x0"] = np.nan
    params = dict(max_depth=2, population_size=6, n_crossover_prompts=2, n_mutation_prompts=2,
                  validation_fraction=0.0, random_state=3)
    full = EvolvedTreeRegressor(n_generations=3, **params).fit(X, bunch.target)
    path = tmp_path / "reg.npz"
    EvolvedTreeRegressor(n_generations=1, checkpoint=path, **params).fit(X, bunch.target)
    resumed = EvolvedTreeRegressor(n_generations=3, checkpoint=path, **params).fit(X, bunch.target)
    assert resumed.export_text() == full.export_text()
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in full.history_]
    again = [{k: v for k, v in row.items() if k != "seconds"} for row in resumed.history_]
    assert json.dumps(again) == json.dumps(strip)  # NaN-aware comparison
    assert np.isnan(resumed.hall_of_fame_[0]["validation_fitness"])


def test_a_clean_copy_resumes_to_the_same_tree(data, saved, tmp_path):
    path = tmp_path / "run.npz"
    path.write_bytes(saved[0])
    assert _resume(path, data).export_text() == saved[1]


# ------------------------------------------------------ inconsistent content
def test_another_schema_version_is_refused_as_a_mismatch(data, saved, tmp_path):
    path = tmp_path / "run.npz"
    path.write_bytes(_edited(saved[0], state={"schema_version": 2}))
    with pytest.raises(CheckpointMismatchError, match="checkpoint schema 2; this version"):
        _resume(path, data)
    path.write_bytes(_edited(saved[0], state={"schema_version": "3"}))
    with pytest.raises(CheckpointMismatchError, match="schema '3'"):
        _resume(path, data)
    path.write_bytes(_edited(saved[0], state={"format": "something else"}))
    with pytest.raises(CheckpointError, match="not a tabsift-evolved-tree-checkpoint document"):
        _resume(path, data)


def test_a_checkpoint_of_another_estimator_belongs_to_another_run(data, saved, tmp_path):
    path = tmp_path / "run.npz"
    path.write_bytes(_edited(saved[0], state={"estimator": "EvolvedTreeRegressor"}))
    with pytest.raises(CheckpointMismatchError, match="belongs to another run"):
        _resume(path, data)


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        ("population_feature", lambda a: np.where(a == a.max(), 99, a), "column indices in"),
        ("population_feature", lambda a: np.where(a < 0, -7, a), "column indices in"),
        ("hof_feature", lambda a: np.full_like(a, 0), "a split below a leaf"),
        ("population_threshold", lambda a: np.where(a != 0, np.nan, a), "finite thresholds"),
        ("population_threshold", lambda a: a + 1.0, "0 at leaves"),
        ("population_feature", lambda a: a[:, :3], "'population_feature.shape' should be (1 to 6, 7)"),
        ("population_feature", lambda a: np.repeat(a, 3, axis=0), "'population_feature.shape' should be (1 to 6, 7)"),
        ("population_feature", lambda a: a.astype(np.int32), "dtype <i8"),
        ("population_train", lambda a: a * 0.5, "does not hold the fitness of its trees"),
        ("hof_val", lambda a: a + 0.01, "'hof_val' does not hold the fitness"),
        ("train_idx", lambda a: np.where(a == a.max(), 10**9, a), "row indices in"),
        ("train_idx", lambda a: np.where(a == a.min(), -5, a), "row indices in"),
        ("val_idx", lambda a: np.sort(a)[::-1], "strictly increasing"),
        ("train_idx", lambda a: a[:-1], "'train_idx.shape'"),
        ("hof_generation", lambda a: a + 50, "generations in"),
        ("rng_keys", lambda a: a[:100], "'rng_keys.shape' should be (624)"),
    ],
)
def test_arrays_out_of_range_are_refused(data, saved, tmp_path, name, edit, message):
    path = tmp_path / "run.npz"
    path.write_bytes(_edited(saved[0], arrays={name: edit(_array(saved[0], name))}))
    with pytest.raises(CheckpointError, match="is damaged or was edited") as info:
        _resume(path, data)
    assert message in str(info.value)
    assert "run.npz" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("generation", 5, "'history' should be a list of 6 rows"),
        ("generation", -1, "'generation' should be a non-negative integer, found -1"),
        ("generation", 1.0, "'generation' should be a non-negative integer, found 1.0"),
        ("generation", True, "'generation' should be a non-negative integer, found True"),
        ("history", "x0", "'history' should be a list"),
        ("llm_stats", {"requests": 0}, "'llm_stats' should be an object with keys"),
        ("rng", {"bit_generator": "PCG64", "pos": 0, "has_gauss": 0, "cached_gaussian": 0.0},
         "'rng.bit_generator'"),
        ("rng", {"bit_generator": "MT19937", "pos": 10**6, "has_gauss": 0,
                 "cached_gaussian": 0.0}, "'rng.pos' should be an integer in [0, 624]"),
        ("rng", [1, 2], "'rng' should be an object"),
    ],
)
def test_state_fields_of_the_wrong_type_or_range_are_refused(
    data, saved, tmp_path, field, value, message
):
    path = tmp_path / "run.npz"
    path.write_bytes(_edited(saved[0], state={field: value}))
    with pytest.raises(CheckpointError) as info:
        _resume(path, data)
    assert message in str(info.value), str(info.value)


def test_history_rows_and_json_are_checked(data, saved, tmp_path):
    members = _members(saved[0])
    doc = json.loads(members["state.json"])
    path = tmp_path / "run.npz"
    bad_rows = [
        ({"population": 10**6}, "history[1].population"),
        ({"seconds": "soon"}, "history[1].seconds"),
        ({"best_train_fitness": None}, "history[1].best_train_fitness"),
        ({"generation": 0}, "history[1].generation"),
        ({"extra": 1}, "history[1]' should be an object with keys"),
    ]
    for change, message in bad_rows:
        rows = [dict(row) for row in doc["history"]]
        rows[1].update(change)
        path.write_bytes(_edited(saved[0], state={"history": rows}))
        with pytest.raises(CheckpointError) as info:
            _resume(path, data)
        assert message in str(info.value), str(info.value)
    for text in (b"{not json", b"\xff\xfe", b"[" * 100_000, b'{"generation": 1' + b"0" * 5000 + b"}"):
        members["state.json"] = text
        path.write_bytes(_archive(members))
        with pytest.raises(CheckpointError, match="state.json"):
            _resume(path, data)


def test_stale_temp_files_of_a_killed_write_are_removed(data, saved, tmp_path):
    path = tmp_path / "run.npz"
    path.write_bytes(saved[0])
    stale = tmp_path / ".run.npz.k3j_a9z0.tmp"
    stale.write_bytes(b"half a checkpoint")
    mine = tmp_path / ".run.npz.my-notes.tmp"  # not a name atomic_write makes
    mine.write_text("keep")
    _resume(path, data)
    assert not stale.exists() and mine.read_text() == "keep"


# ------------------------------------------------------------------ the job
@pytest.fixture
def job_folder(tmp_path, monkeypatch):
    """A folder holding data.csv, the current directory while the test runs."""
    bunch = make_planted_tree(n_samples=150, n_features=3, depth=2, noise=0.0, random_state=0)
    bunch.data.assign(y=bunch.target).to_csv(tmp_path / "data.csv", index=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", ["checkpoint.npz", "checkpoint.pkl"])
def test_fit_tree_refuses_a_planted_pickle_in_its_default_folder(job_folder, capsys, name):
    marker = job_folder / "pwned"
    planted = job_folder / "tabsift-tree" / name
    planted.parent.mkdir()
    planted.write_bytes(_pickle_payload(marker))
    for force in ([], ["--force"]):
        assert main(["fit-tree", "data.csv", "--target", "y", *FAST, *force]) == 1
        err = capsys.readouterr().err
        assert name in err and "did not write" in err
        assert not marker.exists()
        assert planted.read_bytes() == _pickle_payload(marker)  # not deleted, not rewritten
        assert not (job_folder / "tabsift-tree" / "tree.json").exists()


def test_fit_tree_never_reads_the_pickle_checkpoint_of_an_earlier_version(job_folder, capsys):
    # A folder an earlier tabsift wrote (its job.json, no manifest) with its checkpoint.pkl.
    out = job_folder / "tabsift-tree"
    out.mkdir()
    (out / "job.json").write_text(json.dumps({"fingerprint": "0" * 64}))
    marker = job_folder / "pwned"
    legacy = out / "checkpoint.pkl"
    legacy.write_bytes(_pickle_payload(marker))
    assert main(["fit-tree", "data.csv", "--target", "y", *FAST]) == 0
    assert "ignoring tabsift-tree/checkpoint.pkl" in capsys.readouterr().err
    assert not marker.exists()
    assert legacy.read_bytes() == _pickle_payload(marker)
    assert (out / "tree.json").is_file()


def test_fit_tree_replaces_its_own_checkpoint_of_other_settings(job_folder, capsys):
    base = ["fit-tree", "data.csv", "--target", "y", "--population", "6", "--max-depth", "2"]
    assert main([*base, "--generations", "2", "--time-limit", "1e-9"]) == 0
    checkpoint = job_folder / "tabsift-tree" / "checkpoint.npz"
    assert checkpoint.is_file()
    stale = checkpoint.with_name(".checkpoint.npz.abcd1234.tmp")
    stale.write_bytes(b"left by a killed run")
    capsys.readouterr()
    assert main([*base, "--generations", "2", "--seed", "5"]) == 0
    assert "is from a job with other settings or input; starting afresh" in capsys.readouterr().out
    assert not checkpoint.exists() and not stale.exists()
    history = pd.read_csv(job_folder / "tabsift-tree" / "history.csv")
    assert history["generation"].tolist() == [0, 1, 2]


def test_fit_tree_refuses_its_checkpoint_once_damaged_and_force_replaces_it(
    job_folder, capsys
):
    base = ["fit-tree", "data.csv", "--target", "y", *FAST]
    assert main([*base, "--time-limit", "1e-9"]) == 0
    checkpoint = job_folder / "tabsift-tree" / "checkpoint.npz"
    blob = bytearray(checkpoint.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    checkpoint.write_bytes(bytes(blob))
    capsys.readouterr()
    assert main(base) == 1
    err = capsys.readouterr().err
    assert "tabsift: error: checkpoint 'tabsift-tree/checkpoint.npz' cannot be read" in err
    assert "delete it, or run again with --force" in err
    assert checkpoint.read_bytes() == bytes(blob)
    assert main([*base, "--force"]) == 0  # tabsift's own file: --force may replace it
    assert not checkpoint.exists()
    assert (job_folder / "tabsift-tree" / "tree.json").is_file()
