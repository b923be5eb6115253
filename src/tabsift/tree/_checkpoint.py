"""The evolution's checkpoint file: data only, checked in full before anything is used.

A checkpoint is one zip archive in NumPy's ``.npz`` layout, every member stored
uncompressed:

- ``state.json``: ``format`` (``"tabsift-evolved-tree-checkpoint"``),
  ``schema_version``, ``estimator`` (class name), ``fingerprint`` (SHA-256 of
  the data and of the parameters that shape the run), ``generation``,
  ``history`` (one object per generation, ``null`` for a missing validation
  fitness), ``llm_stats`` and ``rng`` (the scalar part of the MT19937 state);
- one ``.npy`` array per population field (``population_feature``,
  ``population_threshold``, ``population_missing``, ``population_train``,
  ``population_val``), per hall-of-fame field (``hof_*``, the same plus
  ``hof_generation``), ``train_idx``, ``val_idx`` and ``rng_keys``.

Nothing in the file can run code when read: the JSON is parsed by :mod:`json`,
and each array's header is parsed and its dtype and shape checked before its
bytes are viewed with :func:`numpy.frombuffer` (no pickled objects, no
``np.load``). A pickle, the format of earlier tabsift checkpoints, is
recognised by its first byte and refused without being read further.
:func:`read_checkpoint` checks the schema version and fingerprint, then every
type, shape, index range and count against the estimator's parameters and
data; any failure is a :class:`CheckpointError` naming the file.
"""

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from tabsift.tree._text import REJECTION_REASONS
from tabsift.utils import atomic_write_bytes, stale_temp_files

#: Schema of the file; 2 and earlier were pickles, which are no longer read.
CHECKPOINT_VERSION = 3
FORMAT = "tabsift-evolved-tree-checkpoint"
#: Trees kept in the hall of fame (best validation fitness seen over the run).
HALL_OF_FAME_SIZE = 10

_PICKLE_PROTOCOL_2_PLUS = b"\x80"
_ZIP_MAGIC = b"PK\x03\x04"
# (dtype as stored, number of dimensions) of every array member.
_TREE_FIELDS = {"feature": ("<i8", 2), "threshold": ("<f8", 2), "missing": ("|b1", 2)}
_ARRAYS = {
    **{f"population_{k}": v for k, v in _TREE_FIELDS.items()},
    "population_train": ("<f8", 1),
    "population_val": ("<f8", 1),
    **{f"hof_{k}": v for k, v in _TREE_FIELDS.items()},
    "hof_train": ("<f8", 1),
    "hof_val": ("<f8", 1),
    "hof_generation": ("<i8", 1),
    "train_idx": ("<i8", 1),
    "val_idx": ("<i8", 1),
    "rng_keys": ("<u4", 1),
}
_MEMBERS = {"state.json", *(f"{name}.npy" for name in _ARRAYS)}
_HISTORY_INTS = (
    "population", "offspring", "rejected", "duplicates_dropped", "llm_requests", "llm_tokens",
    "llm_errors",
)
_HISTORY_FLOATS = ("best_train_fitness", "mean_train_fitness", "seconds")
_HISTORY_OPTIONAL_FLOATS = ("best_validation_fitness", "mean_validation_fitness")
_HISTORY_KEYS = {"generation", *_HISTORY_INTS, *_HISTORY_FLOATS, *_HISTORY_OPTIONAL_FLOATS}
_LLM_COUNTS = ("requests", "tokens", "errors", "accepted", *(f"rejected_{r}" for r in REJECTION_REASONS))
_MT_KEYS = 624
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_INT_LIMIT = 2**62


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, foreign, damaged or inconsistent.

    Parameters
    ----------
    path : path-like
        The file.
    problem : str
        What is wrong with it, naming the field where there is one.
    remedy : str, default=None
        How to start over; by default deleting the file or passing another
        checkpoint path.

    Examples
    --------
    >>> import os, tempfile
    >>> from tabsift.datasets import make_planted_tree
    >>> from tabsift.tree import CheckpointError, EvolvedTreeClassifier
    >>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
    >>> with open(path, "wb") as f:  # a pickle's first bytes
    ...     _ = f.write(bytes([0x80, 4]) + b"anything")
    >>> data = make_planted_tree(n_samples=100, random_state=0)
    >>> try:
    ...     EvolvedTreeClassifier(n_generations=1, checkpoint=path).fit(data.data, data.target)
    ... except CheckpointError as err:
    ...     print(err.problem[:40])
    cannot be read: it is a pickle (...
    """

    def __init__(self, path, problem, *, remedy=None):
        self.path = str(path)
        self.problem = problem
        self.remedy = remedy or (
            "delete it, or pass another checkpoint path, to start afresh"
        )
        super().__init__(f"checkpoint {self.path!r} {problem}; {self.remedy}.")

    def __reduce__(self):
        return (_rebuild_error, (type(self), self.path, self.problem, self.remedy))


class CheckpointMismatchError(CheckpointError):
    """A valid tabsift checkpoint of another run (other data or parameters) or schema version."""


def _rebuild_error(cls, path, problem, remedy):
    return cls(path, problem, remedy=remedy)


# ------------------------------------------------------------------ writing
def _json_float(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _npy_bytes(array, dtype):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array, dtype=dtype), allow_pickle=False)
    return buffer.getvalue()


def checkpoint_bytes(state, *, estimator):
    """Return the file content of ``state`` (the evolution's state dict, without ``pred``)."""
    history = []
    for row in state["history"]:
        out = {k: int(row[k]) for k in ("generation", *_HISTORY_INTS)}
        out.update({k: _json_float(row[k]) for k in (*_HISTORY_FLOATS, *_HISTORY_OPTIONAL_FLOATS)})
        history.append(out)
    stats = state["llm_stats"]
    name, keys, pos, has_gauss, cached = state["rng"]
    doc = {
        "format": FORMAT,
        "schema_version": CHECKPOINT_VERSION,
        "estimator": estimator,
        "fingerprint": state["fingerprint"],
        "generation": int(state["generation"]),
        "history": history,
        "llm_stats": {
            **{k: int(stats[k]) for k in _LLM_COUNTS},
            "budget_exceeded": bool(stats["budget_exceeded"]),
        },
        "rng": {
            "bit_generator": str(name),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
    }
    hof = state["hof"]
    arrays = {
        **{f"population_{k}": state[k] for k in _TREE_FIELDS},
        "population_train": state["train"],
        "population_val": state["val"],
        **{f"hof_{k}": hof[k] for k in (*_TREE_FIELDS, "train", "val", "generation")},
        "train_idx": state["train_idx"],
        "val_idx": state["val_idx"],
        "rng_keys": keys,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        text = json.dumps(doc, sort_keys=True, allow_nan=False, indent=1)
        archive.writestr(zipfile.ZipInfo("state.json", _FIXED_DATE), text.encode("utf-8"))
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", _FIXED_DATE)
            archive.writestr(info, _npy_bytes(arrays[key], _ARRAYS[key][0]))
    return buffer.getvalue()


def write_checkpoint(path, state, *, estimator):
    """Write ``state`` to ``path`` atomically (see :func:`checkpoint_bytes`)."""
    atomic_write_bytes(Path(path), checkpoint_bytes(state, estimator=estimator))


def remove_stale_temp_files(path):
    """Remove the temporary files a killed write of ``path`` left beside it.

    Only the names :func:`tabsift.utils.atomic_write` gives its temporary files
    (``.<name>.<random characters>.tmp``) are touched
    (:func:`tabsift.utils._atomic.stale_temp_files`).
    """
    path = Path(path)
    for entry in stale_temp_files(path.parent, [path.name]):
        if entry.is_file() and not entry.is_symlink():
            try:
                entry.unlink()
            except OSError:
                pass


# ------------------------------------------------------------------ reading
