"""Reading the evolution's checkpoint file: every field checked before anything is used.

The format is described in :mod:`tabsift.tree._checkpoint`. Nothing in the
file can run code when read: the JSON is parsed by :mod:`json`, and each
array's header is parsed and its dtype and shape checked before its bytes are
viewed with :func:`numpy.frombuffer`. :func:`read_checkpoint` checks the
schema version and fingerprint, then every type, shape, index range and count
against the estimator's parameters and data.
"""

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from tabsift.tree._checkpoint import (
    _ARRAYS,
    _HISTORY_FLOATS,
    _HISTORY_INTS,
    _HISTORY_KEYS,
    _HISTORY_OPTIONAL_FLOATS,
    _INT_LIMIT,
    _LLM_COUNTS,
    _MEMBERS,
    _MT_KEYS,
    _PICKLE_PROTOCOL_2_PLUS,
    _ZIP_MAGIC,
    CHECKPOINT_VERSION,
    FORMAT,
    HALL_OF_FAME_SIZE,
    CheckpointError,
    CheckpointMismatchError,
)
from tabsift.tree._positions import n_positions, reachable


def _read_members(path):
    """``(state.json bytes, {name: (shape, fortran_order, dtype, payload)})`` of the archive.

    Nothing is interpreted here beyond the zip structure and the ``.npy`` headers
    (parsed by NumPy's literal-only header reader); every check on content comes later.
    """
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names) or set(names) != _MEMBERS:
            unexpected = sorted(set(names) - _MEMBERS)[:5]
            missing = sorted(_MEMBERS - set(names))[:5]
            raise ValueError(
                f"its members are not those of a checkpoint (unexpected: {unexpected}, "
                f"missing: {missing})"
            )
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                raise ValueError(f"member {info.filename!r} is compressed or encrypted")
        document = archive.read("state.json")
        arrays = {}
        for name in _ARRAYS:
            data = archive.read(f"{name}.npy")
            buffer = io.BytesIO(data)
            version = np.lib.format.read_magic(buffer)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(buffer)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(buffer)
            else:
                raise ValueError(f"member '{name}.npy' has .npy version {version}")
            arrays[name] = (*header, data[buffer.tell() :])
    return document, arrays


class _Reader:
    """Checks one checkpoint's content; every failure names the file and the field."""

    def __init__(self, path):
        self.path = path

    def fail(self, problem, cls=CheckpointError):
        raise cls(self.path, problem)

    def bad(self, field, expected, found):
        text = repr(found)
        if len(text) > 60:
            text = text[:57] + "..."
        self.fail(f"is damaged or was edited: field {field!r} should be {expected}, found {text}")

    # -- JSON fields
    def integer(self, doc, field, low, high, name=None):
        value = doc.get(field) if isinstance(doc, dict) else None
        if type(value) is not int or not low <= value <= high:
            span = "a non-negative integer" if (low, high) == (0, _INT_LIMIT) else (
                f"an integer in [{low}, {high}]"
            )
            self.bad(name or field, span, value)
        return value

    def number(self, doc, field, name, *, optional=False):
        value = doc.get(field)
        if value is None and optional:
            return float("nan")
        if type(value) not in (int, float) or not math.isfinite(value) or abs(value) > 1e300:
            self.bad(name, "a finite number" + (" or null" if optional else ""), value)
        return float(value)

    def keys(self, doc, expected, name):
        if not isinstance(doc, dict):
            self.bad(name, "an object", doc)
        if set(doc) != set(expected):
            self.bad(name, f"an object with keys {sorted(expected)}", sorted(doc))

    # -- arrays
    def array(self, arrays, name, shape):
        """Return the array ``name`` as native-order data, after its dtype and shape are checked.

        ``shape`` holds ints and ``(low, high)`` ranges for a free dimension.
        """
        found_shape, fortran, dtype, payload = arrays[name]
        expected_dtype, ndim = _ARRAYS[name]
        if dtype != np.dtype(expected_dtype) or dtype.hasobject:
            self.bad(name, f"an array of dtype {expected_dtype}", str(dtype))
        if (
            not isinstance(found_shape, tuple)
            or len(found_shape) != ndim
            or not all(type(n) is int and n >= 0 for n in found_shape)
        ):
            self.bad(name, f"a {ndim}-dimensional array", found_shape)
        ranges = [want if isinstance(want, tuple) else (want, want) for want in shape]
        if not all(low <= n <= high for n, (low, high) in zip(found_shape, ranges, strict=True)):
            text = ", ".join(str(low) if low == high else f"{low} to {high}" for low, high in ranges)
            self.bad(f"{name}.shape", f"({text})", found_shape)
        count = math.prod(found_shape)
        if len(payload) != count * dtype.itemsize:
            self.bad(f"{name} data", f"{count * dtype.itemsize} bytes", len(payload))
        if dtype.kind == "b" and np.frombuffer(payload, dtype=np.uint8).max(initial=0) > 1:
            self.bad(name, "booleans (bytes 0 and 1)", "other bytes")
        order = "F" if fortran else "C"
        values = np.frombuffer(payload, dtype=dtype).reshape(found_shape, order=order)
        return np.array(values, dtype=dtype.newbyteorder("="), order="C")

    def trees(self, arrays, prefix, rows, size, n_features):
        shape = (rows, size)
        F = self.array(arrays, f"{prefix}_feature", shape)
        n = len(F)
        T = self.array(arrays, f"{prefix}_threshold", (n, size))
        M = self.array(arrays, f"{prefix}_missing", (n, size))
        if n and (F.min() < -1 or F.max() >= n_features):
            bad = F[(F < -1) | (F >= n_features)][0]
            self.bad(f"{prefix}_feature", f"column indices in [-1, {n_features - 1}] (-1: leaf)", int(bad))
        # The last level holds leaves only; positions below a leaf are unused (-1).
        first_leaf_level = (size - 1) // 2
        if (F[:, first_leaf_level:] >= 0).any() or (F[~reachable(F)] >= 0).any():
            self.bad(f"{prefix}_feature", "trees (a split below a leaf or the depth limit)", "one")
        if not np.isfinite(T).all():
            self.bad(f"{prefix}_threshold", "finite thresholds", "NaN or infinity")
        leaf = F < 0
        if (T[leaf] != 0).any() or not M[leaf].all():
            self.bad(f"{prefix}_threshold", "0 at leaves (with missing values going left)", "other")
        return F, T, M

    def fitness(self, arrays, prefix, n):
        train = self.array(arrays, f"{prefix}_train", (n,))
        val = self.array(arrays, f"{prefix}_val", (n,))
        if not np.isfinite(train).all():
            self.bad(f"{prefix}_train", "finite fitness values", "NaN or infinity")
        if np.isinf(val).any():
            self.bad(f"{prefix}_val", "finite fitness values (NaN: no validation rows)", "infinity")
        return train, val


def _is_pickle(head):
    # Protocols 2 to 5 open with PROTO (0x80); 0 and 1 have no fixed first byte, and are
    # refused below as "not a zip archive" all the same.
    return head[:1] == _PICKLE_PROTOCOL_2_PLUS


def read_checkpoint(path, *, estimator, fingerprint, expect):
    """Read and check the checkpoint ``path``; return the evolution's state dict.

    Parameters
    ----------
    path : path-like
        An existing file.
    estimator : str
        Class name of the estimator resuming.
    fingerprint : str
        The fingerprint of the data and parameters of this ``fit``.
    expect : dict
        ``n_samples``, ``n_features``, ``max_depth``, ``population_size``,
        ``validation_fraction``: what the arrays must be consistent with.

    Returns
    -------
    state : dict
        As :class:`~tabsift.tree._evolution.Run` keeps it, without ``pred``.

    Raises
    ------
    CheckpointMismatchError
        A tabsift checkpoint of another run or schema version.
    CheckpointError
        Any other file that cannot be used: a pickle, a foreign or damaged
        file, or content inconsistent with the run.
    """
    path = Path(path)
    reader = _Reader(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:
        reader.fail(f"cannot be read ({type(err).__name__}: {err.strerror or err})")
    if _is_pickle(head):
        reader.fail(
            "cannot be read: it is a pickle (the checkpoint format of earlier tabsift "
            "versions, or a file from elsewhere), and tabsift never loads pickles, which can "
            "run code"
        )
    if head != _ZIP_MAGIC:
        reader.fail(f"cannot be read: it is not a tabsift checkpoint (a {FORMAT} zip archive)")
    try:
        document, arrays = _read_members(path)
    # zipfile and NumPy's header parser report damage with many exception types
    # (BadZipFile, EOFError, struct.error, ValueError, ...); all mean the same here.
    except Exception as err:  # noqa: BLE001
        reader.fail(f"cannot be read: it is damaged or not a tabsift checkpoint ({err})")
    try:
        doc = json.loads(document.decode("utf-8"))
    except (ValueError, RecursionError) as err:
        reader.fail(f"cannot be read: its state.json is not valid JSON ({err})")

    # Which run it belongs to, before anything else is looked at.
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        reader.fail(f"cannot be read: its state.json is not a {FORMAT} document")
    version = doc.get("schema_version")
    if version != CHECKPOINT_VERSION or type(version) is not int:
        reader.fail(
            f"was written with checkpoint schema {version!r}; this version of tabsift reads "
            f"schema {CHECKPOINT_VERSION}",
            CheckpointMismatchError,
        )
    if doc.get("estimator") != estimator or doc.get("fingerprint") != fingerprint:
        reader.fail(
            "belongs to another run (different data or parameters)", CheckpointMismatchError
        )
    reader.keys(
        doc,
        ("format", "schema_version", "estimator", "fingerprint", "generation", "history",
         "llm_stats", "rng"),
        "state.json",
    )
    return _state(reader, doc, arrays, fingerprint, expect)


def split_sizes(n, fraction):
    """Rows of the training and validation parts, as ``Run._split`` makes them."""
    n_val = int(round(fraction * n))
    if n_val < 1 or n - n_val < 2:
        return n, 0
    return n - n_val, n_val


def _state(reader, doc, arrays, fingerprint, expect):
    generation = reader.integer(doc, "generation", 0, _INT_LIMIT)

    history = doc["history"]
    if not isinstance(history, list) or len(history) != generation + 1:
        reader.bad("history", f"a list of {generation + 1} rows (generations 0 to {generation})",
                   type(history).__name__ if not isinstance(history, list) else len(history))
    rows = []
    for i, row in enumerate(history):
        name = f"history[{i}]"
        reader.keys(row, _HISTORY_KEYS, name)
        reader.integer(row, "generation", i, i, f"{name}.generation")
        out = {"generation": i}
        for key in _HISTORY_FLOATS + _HISTORY_OPTIONAL_FLOATS:
            out[key] = reader.number(
                row, key, f"{name}.{key}", optional=key in _HISTORY_OPTIONAL_FLOATS
            )
        for key in _HISTORY_INTS:
            out[key] = reader.integer(row, key, 0, _INT_LIMIT, f"{name}.{key}")
        # The row's keys in the order a fresh run makes them.
        rows.append({
            k: out[k] for k in (
                "generation", "best_train_fitness", "mean_train_fitness",
                "best_validation_fitness", "mean_validation_fitness", *_HISTORY_INTS, "seconds",
            )
        })

    stats = doc["llm_stats"]
    reader.keys(stats, (*_LLM_COUNTS, "budget_exceeded"), "llm_stats")
    llm_stats = {k: reader.integer(stats, k, 0, _INT_LIMIT, f"llm_stats.{k}") for k in _LLM_COUNTS}
    if type(stats["budget_exceeded"]) is not bool:
        reader.bad("llm_stats.budget_exceeded", "true or false", stats["budget_exceeded"])
    llm_stats = {
        "requests": llm_stats.pop("requests"),
        "tokens": llm_stats.pop("tokens"),
        "errors": llm_stats.pop("errors"),
        "accepted": llm_stats.pop("accepted"),
        "budget_exceeded": stats["budget_exceeded"],
        **llm_stats,
    }

    rng = doc["rng"]
    reader.keys(rng, ("bit_generator", "pos", "has_gauss", "cached_gaussian"), "rng")
    if rng["bit_generator"] != "MT19937":
        reader.bad("rng.bit_generator", "'MT19937'", rng["bit_generator"])
    pos = reader.integer(rng, "pos", 0, _MT_KEYS, "rng.pos")
    has_gauss = reader.integer(rng, "has_gauss", 0, 1, "rng.has_gauss")
    cached = reader.number(rng, "cached_gaussian", "rng.cached_gaussian")
    keys = reader.array(arrays, "rng_keys", (_MT_KEYS,)).astype(np.uint32)

    size = n_positions(expect["max_depth"])
    d = expect["n_features"]
    F, T, M = reader.trees(arrays, "population", (1, expect["population_size"]), size, d)
    train, val = reader.fitness(arrays, "population", len(F))
    if rows[-1]["population"] != len(F):
        reader.bad(f"history[{generation}].population", f"{len(F)} (the population's size)",
                   rows[-1]["population"])
    hF, hT, hM = reader.trees(arrays, "hof", (1, HALL_OF_FAME_SIZE), size, d)
    h_train, h_val = reader.fitness(arrays, "hof", len(hF))
    h_gen = reader.array(arrays, "hof_generation", (len(hF),))
    if h_gen.size and (h_gen.min() < 0 or h_gen.max() > generation):
        reader.bad("hof_generation", f"generations in [0, {generation}]", int(h_gen.max()))

    n = expect["n_samples"]
    n_train, n_val = split_sizes(n, expect["validation_fraction"])
    train_idx = reader.array(arrays, "train_idx", (n_train,)).astype(np.intp)
    val_idx = reader.array(arrays, "val_idx", (n_val,)).astype(np.intp)
    for name, idx in (("train_idx", train_idx), ("val_idx", val_idx)):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            reader.bad(name, f"row indices in [0, {n - 1}]", int(idx[(idx < 0) | (idx >= n)][0]))
        if (np.diff(idx) <= 0).any():
            reader.bad(name, "strictly increasing row indices", "a repeat or a step back")
    if np.intersect1d(train_idx, val_idx).size:
        reader.bad("val_idx", "rows disjoint from train_idx", "shared rows")

    return {
        "version": CHECKPOINT_VERSION,
        "fingerprint": fingerprint,
        "generation": generation,
        "train_idx": train_idx,
        "val_idx": val_idx,
        "history": rows,
        "llm_stats": llm_stats,
        "hof": {
            "feature": hF, "threshold": hT, "missing": hM,
            "train": h_train, "val": h_val, "generation": h_gen,
        },
        "feature": F,
        "threshold": T,
        "missing": M,
        "train": train,
        "val": val,
        "rng": ("MT19937", keys, pos, has_gauss, cached),
    }


def check_fitness(path, state, result, field):
    """Refuse a checkpoint whose stored fitness is not that of its trees on this data."""
    stored = (state["train"], state["val"]) if field == "population" else (
        state["hof"]["train"], state["hof"]["val"]
    )
    for name, saved, computed in zip(("train", "val"), stored, (result["train"], result["val"]),
                                     strict=True):
        if not np.allclose(saved, computed, rtol=1e-9, atol=1e-12, equal_nan=True):
            raise CheckpointError(
                path,
                f"is damaged or was edited: field '{field}_{name}' does not hold the fitness "
                "of its trees on this data",
            )
