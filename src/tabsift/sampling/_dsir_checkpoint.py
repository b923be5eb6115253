"""Checkpoints of a streamed importance resampling, in ``workdir``.

The checkpoints are data, never code, and are checked before anything in
them is used:

- ``model.json``: the fitted model's structure (format name, schema version,
  the caller's fingerprint, the resampler's settings, the pool's row and chunk
  counts, column names and kinds, the hash seeds) and the sha256 of
- ``model.npz``: its arrays (token distributions, numeric bin edges and bucket
  tables, the discriminative classifier's coefficients), read with
  ``allow_pickle=False``;
- ``scores.npz``: the running top-k (keys, pool indices, log weights) after
  ``chunks_done`` chunks holding ``rows_done`` rows, with the fingerprint.

A checkpoint that fails a check raises :class:`StreamStateError`, naming the
file and how to start over.
"""

import hashlib
import io
import json
import math
import numbers

import numpy as np

from tabsift.utils import atomic_write, atomic_write_bytes, atomic_write_text

_MODEL_FORMAT = "tabsift dsir-stream model"
_SCORES_FORMAT = "tabsift dsir-stream scores"
_SCHEMA = 1
_KINDS = ("numeric", "categorical", "text")
# The resampler settings a checkpoint is only valid for.
_PARAMS = (
    "n_samples", "estimator", "num_buckets", "n_bins", "text_columns", "pair_tokens",
    "smoothing", "top_k", "fit_sample_size", "chunk_size", "random_state",
)


class StreamStateError(ValueError):
    """A checkpoint of a streamed selection is damaged, or was written by another run."""


def _params_of(resampler):
    """Return the resampler settings a checkpoint is valid for, as JSON values."""

    def plain(value):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return f"<{type(value).__name__}>"  # e.g. a RandomState: never equal to a saved one

    return {name: plain(getattr(resampler, name)) for name in _PARAMS}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class Checkpoints:
    """Reads and writes the checkpoints of one streamed selection in ``workdir``."""

    def __init__(self, workdir, fingerprint, start_over):
        self.workdir = workdir
        self.fingerprint = "" if fingerprint is None else str(fingerprint)
        self.start_over = start_over or f"Delete the folder {workdir} to start over."
        self.model_file = None if workdir is None else workdir / "model.json"
        self.arrays_file = None if workdir is None else workdir / "model.npz"
        self.scores_file = None if workdir is None else workdir / "scores.npz"

    def error(self, path, problem, *, damaged=True):
        why = ". It is damaged or was not written by this job, and" if damaged else "; it"
        return StreamStateError(f"checkpoint {path} {problem}{why} was not used. {self.start_over}")

    def has_model(self):
        # model.npz is written first: without model.json it is a model still being saved.
        return self.model_file is not None and self.model_file.exists()

    def has_scores(self):
        return self.scores_file is not None and self.scores_file.exists()

    # ------------------------------------------------------------------ model
    def save_model(self, resampler, n_pool, n_chunks):
        model = resampler.model_
        hasher = model.hasher
        arrays = {
            "pool_distribution": np.asarray(model.pool_distribution, dtype=np.float64),
            "target_distribution": np.asarray(model.target_distribution, dtype=np.float64),
        }
        for i, name in enumerate(hasher.columns_):
            if hasher.kinds_[name] == "numeric":
                arrays[f"edges_{i}"] = np.asarray(hasher.edges_[name], dtype=np.float64)
                arrays[f"buckets_{i}"] = np.asarray(hasher.bucket_tables_[name], dtype=np.uint64)
        classifier = None
        if model.kind == "discriminative":
            clf = model.classifier
            arrays["coef"] = np.asarray(clf.coef_, dtype=np.float64)
            arrays["intercept"] = np.asarray(clf.intercept_, dtype=np.float64)
            classifier = {
                "odds_correction": float(model.odds_correction),
                "n_iter": int(np.max(clf.n_iter_)),
            }
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        blob = buffer.getvalue()
        atomic_write_bytes(self.arrays_file, blob)
        meta = {
            "format": _MODEL_FORMAT,
            "schema": _SCHEMA,
            "fingerprint": self.fingerprint,
            "params": _params_of(resampler),
            "n_pool": int(n_pool),
            "n_chunks": int(n_chunks),
            "seed": int(resampler._seed),
            "columns": list(hasher.columns_),
            "kinds": dict(hasher.kinds_),
            "hash_seeds": {name: int(seed) for name, seed in hasher.seeds_.items()},
            "classifier": classifier,
            "bucket_names": [[int(b), str(t)] for b, t in resampler.bucket_names_.items()],
            "arrays": self.arrays_file.name,
            "arrays_sha256": hashlib.sha256(blob).hexdigest(),
        }
        atomic_write_text(self.model_file, json.dumps(meta))

    def _read_json(self, path):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as err:
            raise self.error(path, f"cannot be read as JSON ({type(err).__name__}: {err})") from None

    def _read_npz(self, path, names, max_bytes, *, sha256=None):
        """Return the arrays of an ``.npz`` holding exactly ``names``, read without pickle."""
        try:
            if sha256 is not None:
                blob = path.read_bytes()
                if hashlib.sha256(blob).hexdigest() != sha256:
                    raise self.error(
                        path, f"does not match the sha256 that {self.model_file.name} records"
                    )
                source = io.BytesIO(blob)
            else:
                source = path
            with np.load(source, allow_pickle=False) as data:
                if not isinstance(data, np.lib.npyio.NpzFile):
                    raise self.error(path, "is not a NumPy .npz archive")
                found = set(data.files)
                if found != set(names):
                    raise self.error(
                        path,
                        f"holds the arrays {sorted(found)}; expected {sorted(names)}",
                    )
                size = sum(info.file_size for info in data.zip.infolist())
                if size > max_bytes:
                    raise self.error(
                        path, f"holds {size} bytes of arrays, more than this job can write"
                    )
                return {name: data[name] for name in names}
        except StreamStateError:
            raise
        except Exception as err:  # zip, npy header, pickle refused, I/O: all mean damaged
            raise self.error(
                path, f"cannot be read as a NumPy archive ({type(err).__name__}: {err})"
            ) from None

    def load_model(self, resampler):
        """Restore the fitted model onto ``resampler``; return ``(n_pool, n_chunks)``."""
        meta = self._read_json(self.model_file)
        n_pool, n_chunks, seed = self._check_header(meta, resampler)
        columns, kinds, hash_seeds = self._check_columns(meta, resampler)
        names, classifier, digest = self._check_model_fields(meta, resampler)
        array, numeric = self._model_arrays(resampler, columns, kinds, digest)
        distributions, edges, tables = self._hashing_arrays(array, numeric, columns, resampler)
        model = _rebuild_model(
            resampler, columns, kinds, hash_seeds, edges, tables, distributions, array, classifier
        )
        resampler.n_features_in_ = len(columns)
        resampler.feature_names_in_ = np.asarray(columns, dtype=object)
        resampler.feature_columns_ = list(columns)
        resampler.column_kinds_ = dict(kinds)
        resampler.model_ = model
        resampler.bucket_names_ = {b: t for b, t in names}
        resampler.pool_distribution_ = model.pool_distribution
        resampler.target_distribution_ = model.target_distribution
        resampler._seed = seed
        return n_pool, n_chunks

    def _bad(self, meta, field, expected):
        value = meta.get(field) if isinstance(meta, dict) else None
        return self.error(
            self.model_file, f"field {field!r} is {str(value)[:80]!r}; expected {expected}"
        )

    def _check_header(self, meta, resampler):
        """Format, schema, owner and settings of ``model.json``; ``(n_pool, n_chunks, seed)``."""
        path = self.model_file

        def bad(field, expected):
            return self._bad(meta, field, expected)

        if not isinstance(meta, dict) or meta.get("format") != _MODEL_FORMAT:
            raise self.error(path, f"is not a {_MODEL_FORMAT!r} file")
        if meta.get("schema") != _SCHEMA or not _is_int(meta.get("schema")):
            raise bad("schema", f"{_SCHEMA} (the version this tabsift writes)")
        if meta.get("fingerprint") != self.fingerprint:
            raise self.error(path, "belongs to another job (its fingerprint differs)")
        if meta.get("params") != _params_of(resampler):
            raise self.error(path, "was written with other resampler settings")
        n_pool, n_chunks = meta.get("n_pool"), meta.get("n_chunks")
        if not _is_int(n_pool) or not 1 <= n_pool < 2**62:
            raise bad("n_pool", "a positive number of rows")
        if not _is_int(n_chunks) or not 1 <= n_chunks <= n_pool:
            raise bad("n_chunks", f"a number of chunks from 1 to n_pool ({n_pool})")
        seed = meta.get("seed")
        if not _is_int(seed) or not 0 <= seed < np.iinfo(np.int32).max:
            raise bad("seed", "an integer in [0, 2**31 - 1)")
        return n_pool, n_chunks, seed

    def _check_columns(self, meta, resampler):
        """Return the featurised columns, their kinds and hash seeds, checked against the target."""

        def bad(field, expected):
            return self._bad(meta, field, expected)

        columns = meta.get("columns")
        if (
            not isinstance(columns, list)
            or not columns
            or not all(isinstance(c, str) for c in columns)
            or len(set(columns)) != len(columns)
        ):
            raise bad("columns", "a non-empty list of distinct column names")
        target = resampler.target
        if hasattr(target, "columns") and columns != [str(c) for c in target.columns]:
            raise bad("columns", f"the target's columns {[str(c) for c in target.columns]}")
        if not hasattr(target, "columns") and len(columns) != 1:
            raise bad("columns", "one column (the target is a sequence of texts)")
        kinds = meta.get("kinds")
        if (
            not isinstance(kinds, dict)
            or list(kinds) != columns
            or not all(kinds[c] in _KINDS for c in columns)
        ):
            raise bad("kinds", f"one of {_KINDS} for each column, in column order")
        hash_seeds = meta.get("hash_seeds")
        if (
            not isinstance(hash_seeds, dict)
            or list(hash_seeds) != columns
            or not all(_is_int(v) and 0 <= v < 2**32 for v in hash_seeds.values())
        ):
            raise bad("hash_seeds", "an integer in [0, 2**32) for each column, in column order")
        return columns, kinds, hash_seeds

    def _check_model_fields(self, meta, resampler):
        """Bucket names, the classifier's scalars and the arrays' sha256."""

        def bad(field, expected):
            return self._bad(meta, field, expected)

        B = resampler.num_buckets
        names = meta.get("bucket_names")
        if not isinstance(names, list) or not all(
            isinstance(e, list) and len(e) == 2 and _is_int(e[0]) and 0 <= e[0] < B
            and isinstance(e[1], str)
            for e in names
        ):
            raise bad("bucket_names", f"a list of [bucket in [0, {B}), name] pairs")
        discriminative = resampler.estimator == "discriminative"
        classifier = meta.get("classifier")
        if discriminative:
            if (
                not isinstance(classifier, dict)
                or set(classifier) != {"odds_correction", "n_iter"}
                or not isinstance(classifier["odds_correction"], (int, float))
                or isinstance(classifier["odds_correction"], bool)
                or not math.isfinite(classifier["odds_correction"])
                or not _is_int(classifier["n_iter"])
                or classifier["n_iter"] < 0
            ):
                raise bad("classifier", "{'odds_correction': a finite number, 'n_iter': int}")
        elif classifier is not None:
            raise bad("classifier", "null for the generative estimator")
        digest = meta.get("arrays_sha256")
        if meta.get("arrays") != self.arrays_file.name or not isinstance(digest, str):
            raise bad("arrays", f"{self.arrays_file.name!r} with its sha256")

        return names, classifier, digest

    def _model_arrays(self, resampler, columns, kinds, digest):
        """``model.npz`` read and checked: an ``array(name, kind, shape)`` reader, numeric columns."""
        B = resampler.num_buckets
        discriminative = resampler.estimator == "discriminative"
        numeric = [i for i, c in enumerate(columns) if kinds[c] == "numeric"]
        expected = {"pool_distribution", "target_distribution"}
        expected |= {f"edges_{i}" for i in numeric} | {f"buckets_{i}" for i in numeric}
        if discriminative:
            expected |= {"coef", "intercept"}
        max_bytes = 8 * (4 * B + 2 * len(numeric) * (resampler.n_bins + 3)) + (1 << 16)
        arrays = self._read_npz(self.arrays_file, expected, max_bytes, sha256=digest)

        def array(name, kind, shape):
            value = arrays[name]
            if value.dtype.kind not in kind or value.shape != shape:
                raise self.error(
                    self.arrays_file,
                    f"array {name!r} has dtype {value.dtype} and shape {value.shape}; "
                    f"expected {'floats' if kind == 'f' else 'unsigned integers'} of shape "
                    f"{shape}",
                )
            if kind == "f" and not np.all(np.isfinite(value)):
                raise self.error(self.arrays_file, f"array {name!r} holds non-finite numbers")
            return value

        array.raw = arrays.__getitem__
        return array, numeric

    def _hashing_arrays(self, array, numeric, columns, resampler):
        """Token distributions, and each numeric column's bin edges and bucket table."""
        B = resampler.num_buckets
        distributions = {}
        for name in ("pool_distribution", "target_distribution"):
            value = array(name, "f", (B,)).astype(np.float64)
            if not np.all(value > 0):
                raise self.error(self.arrays_file, f"array {name!r} is not strictly positive")
            distributions[name] = value
        edges, tables = {}, {}
        for i in numeric:
            name = columns[i]
            value = array.raw(f"edges_{i}")
            if value.ndim != 1 or value.shape[0] > max(resampler.n_bins - 1, 0):
                raise self.error(
                    self.arrays_file,
                    f"array 'edges_{i}' has shape {value.shape}; expected at most "
                    f"{resampler.n_bins - 1} bin edges",
                )
            value = array(f"edges_{i}", "f", value.shape).astype(np.float64)
            if np.any(np.diff(value) <= 0):
                raise self.error(self.arrays_file, f"array 'edges_{i}' is not increasing")
            edges[name] = value
            tables[name] = array(f"buckets_{i}", "u", (len(value) + 2,)).astype(np.uint64)

        return distributions, edges, tables

    # ----------------------------------------------------------------- scores
    def save_scores(self, keys, index, weights, chunks_done, rows_done):
        if self.scores_file is None:
            return
        with atomic_write(self.scores_file, "wb") as f:
            np.savez(
                f,
                format=np.array(_SCORES_FORMAT),
                schema=np.array(_SCHEMA),
                fingerprint=np.array(self.fingerprint),
                keys=np.asarray(keys, dtype=np.float64),
                index=np.asarray(index, dtype=np.int64),
                weights=np.asarray(weights, dtype=np.float64),
                chunks_done=np.array(chunks_done, dtype=np.int64),
                rows_done=np.array(rows_done, dtype=np.int64),
            )

    def load_scores(self, *, n_pool, n_chunks, k, top_k):
        """Return the running top-k after the finished chunks, checked against the pool's counts."""
        path = self.scores_file
        names = ("format", "schema", "fingerprint", "keys", "index", "weights",
                 "chunks_done", "rows_done")
        max_bytes = 3 * 8 * min(k, n_pool) + 4 * len(self.fingerprint) + (1 << 16)
        data = self._read_npz(path, names, max_bytes)

        def scalar(name, kind):
            value = data[name]
            if value.ndim != 0 or value.dtype.kind not in kind:
                raise self.error(
                    path, f"array {name!r} has dtype {value.dtype} and shape {value.shape}; "
                    "expected a single " + ("text" if kind == "U" else "integer")
                )
            return value.item()

        if scalar("format", "U") != _SCORES_FORMAT:
            raise self.error(path, f"is not a {_SCORES_FORMAT!r} file")
        if scalar("schema", "iu") != _SCHEMA:
            raise self.error(path, f"has schema {data['schema'].item()!r}; expected {_SCHEMA}")
        if scalar("fingerprint", "U") != self.fingerprint:
            raise self.error(path, "belongs to another job (its fingerprint differs)")
        done = scalar("chunks_done", "iu")
        if not 1 <= done <= n_chunks:
            raise self.error(
                path, f"says {done} chunks were scored; the pool has {n_chunks} chunks"
            )
        rows_done = scalar("rows_done", "iu")
        if not done <= rows_done <= n_pool or (done == n_chunks and rows_done != n_pool):
            raise self.error(
                path,
                f"says {rows_done} rows were scored in {done} chunks; the pool has "
                f"{n_pool} rows in {n_chunks} chunks",
            )
        size = min(k, rows_done)
        arrays = {}
        for name, kind in (("keys", "f"), ("index", "iu"), ("weights", "f")):
            value = data[name]
            if value.ndim != 1 or value.dtype.kind not in kind or len(value) != size:
                raise self.error(
                    path,
                    f"array {name!r} has dtype {value.dtype} and shape {value.shape}; expected "
                    f"{size} {'numbers' if kind == 'f' else 'integers'} (the best {size} of "
                    f"{rows_done} rows scored)",
                )
            if kind == "f" and not np.all(np.isfinite(value)):
                raise self.error(path, f"array {name!r} holds non-finite numbers")
            arrays[name] = value
        index = arrays["index"]
        if size and (index.min() < 0 or index.max() >= rows_done):
            raise self.error(
                path,
                f"holds row indices from {index.min()} to {index.max()}; the rows scored are "
                f"0 to {rows_done - 1}",
            )
        index = index.astype(np.int64)
        if len(np.unique(index)) != size:
            raise self.error(path, "holds a row index more than once")
        keys = arrays["keys"].astype(np.float64)
        weights = arrays["weights"].astype(np.float64)
        if top_k and not np.array_equal(keys, weights):
            raise self.error(path, "holds keys that are not the log weights (top-k selection)")
        return keys, index, weights, done, rows_done


def _rebuild_model(resampler, columns, kinds, hash_seeds, edges, tables, distributions, array,
                   classifier):
    """Return the ``WeightModel`` a checkpoint describes, with its hasher (and classifier)."""
    from sklearn.linear_model import LogisticRegression

    from tabsift.sampling._dsir_model import WeightModel
    from tabsift.sampling._hashing import RowHasher

    B = resampler.num_buckets
    discriminative = resampler.estimator == "discriminative"
    hasher = RowHasher(
        num_buckets=B,
        n_bins=resampler.n_bins,
        text_columns=resampler.text_columns,
        pair_tokens=resampler.pair_tokens,
    )
    hasher.columns_ = list(columns)
    hasher.kinds_ = dict(kinds)
    hasher.edges_ = edges
    hasher.seeds_ = dict(hash_seeds)
    hasher.bucket_tables_ = {c: tables.get(c) for c in columns}
    model = WeightModel(
        hasher, list(columns), resampler.estimator, resampler.smoothing, resampler.chunk_size
    )
    model.pool_distribution = distributions["pool_distribution"]
    model.target_distribution = distributions["target_distribution"]
    model.log_ratio = np.log(model.target_distribution) - np.log(model.pool_distribution)
    if discriminative:
        clf = LogisticRegression(C=1.0, max_iter=1000)
        clf.coef_ = array("coef", "f", (1, B)).astype(np.float64)
        clf.intercept_ = array("intercept", "f", (1,)).astype(np.float64)
        clf.classes_ = np.array([0.0, 1.0])
        clf.n_features_in_ = B
        clf.n_iter_ = np.array([classifier["n_iter"]], dtype=np.int32)
        model.classifier = clf
        model.odds_correction = float(classifier["odds_correction"])
    return model
