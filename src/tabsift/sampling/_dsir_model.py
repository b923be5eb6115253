"""The fitted weight model of importance resampling: features -> log importance weights.

Small and picklable on purpose: the Dask path ships it to every partition and
the streaming job checkpoints it.
"""

import os
from collections import deque

import numpy as np

from tabsift.sampling._dsir_core import smoothed
from tabsift.sampling._hashing import counts_matrix


def effective_n_jobs(n_jobs):
    """Worker processes for ``n_jobs``: None -> 1, -1 -> every core this process may use."""
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        return max(1, (cores or os.cpu_count() or 1) + 1 + n_jobs)
    return max(1, int(n_jobs))


def map_in_processes(function, items, n_jobs, *args):
    """``function(item, *args)`` for every item, results in order.

    In ``n_jobs`` worker processes (``concurrent.futures.ProcessPoolExecutor``)
    when ``n_jobs > 1``, else here. At most ``2 * n_jobs`` items are in flight,
    so memory stays a few chunks whatever the number of items. ``function``
    and ``args`` travel pickled to the workers.
    """
    if n_jobs <= 1:
        for item in items:
            yield function(item, *args)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=n_jobs) as executor:
        pending = deque()
        for item in items:
            pending.append(executor.submit(function, item, *args))
            if len(pending) >= 2 * n_jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def chunk_tokens(piece, model):
    """Return the tokens of one chunk (run in a worker process, or here).

    ``piece``: ``(chunk, name_rows)``; the bucket names of the chunk's first
    ``name_rows`` rows come back in ``Tokens.names`` (None when ``name_rows`` is 0).
    """
    chunk, name_rows = piece
    names = {} if name_rows > 0 else None
    tokens = model.tokens(chunk, names=names, name_rows=name_rows)
    tokens.names = names
    return tokens


def chunk_log_weights(chunk, model):
    """Return the log importance weights of one chunk (run in a worker process)."""
    return model.weights_of_tokens(model.tokens(chunk))


class Tokens:
    """The hashed tokens of ``n_rows`` rows, in parts (see ``RowHasher.token_parts``).

    Part ``(rows, cols)``: its token ``i`` belongs to row ``rows[i]``, in bucket
    ``cols[i]``. Sums run part by part, on arrays of a few megabytes.
    ``names``: readable ``bucket -> token`` names met in (some of) the rows, or None.
    """

    def __init__(self, parts, n_rows, names=None):
        self.parts, self.n_rows = parts, n_rows
        self.names = names

    def bucket_counts(self, num_buckets, row_weights=None):
        """Return the tokens per bucket (each row counted ``row_weights`` times)."""
        total = np.zeros(num_buckets)
        for rows, cols in self.parts:
            weights = None if row_weights is None else row_weights[rows]
            total += np.bincount(cols, weights=weights, minlength=num_buckets)
        return total

    def row_sums(self, bucket_values):
        """Return, for every row, the sum of ``bucket_values`` over its tokens.

        Part by part: a row's text tokens are summed in text order within one
        part, so the sums do not depend on how the rows were chunked.
        """
        total = np.zeros(self.n_rows)
        for rows, cols in self.parts:
            total += np.bincount(rows, weights=bucket_values[cols], minlength=self.n_rows)
        return total

    def matrix(self, num_buckets):
        """Return the sparse ``(n_rows, num_buckets)`` count matrix."""
        return counts_matrix(self.parts, self.n_rows, num_buckets)

    @classmethod
    def join(cls, chunks, n_rows):
        """Return one Tokens of the whole frame from ``[(start, Tokens of the chunk at start)]``."""
        wide = n_rows >= 2**31  # row numbers past int32
        parts = []
        for start, tokens in chunks:
            for rows, cols in tokens.parts:
                rows = rows.astype(np.int64) if wide else rows
                parts.append((rows + start if start else rows, cols))
        return cls(parts, n_rows)


class WeightModel:
    """Log importance weights ``log p_target(x) - log p_pool(x)`` of table rows.

    ``kind="generative"``: the paper's bag of hashed tokens; the log weight of
    a row is ``counts(x) . (log p_target - log p_pool)`` over buckets, computed
    as one weighted ``bincount`` over the chunk's tokens (no matrix is built).
    ``kind="discriminative"``: a logistic regression that tells target rows
    from pool rows on the same features (log1p counts); its log odds, corrected
    for the two sample sizes, estimate the same density ratio.
    """

    def __init__(self, hasher, columns, kind, smoothing, chunk_size):
        self.hasher = hasher
        self.columns = columns
        self.kind = kind
        self.smoothing = smoothing
        self.chunk_size = chunk_size

    @property
    def num_buckets(self):
        return self.hasher.num_buckets

    def tokens(self, frame, names=None, name_rows=None):
        parts = self.hasher.token_parts(frame[self.columns], names=names, name_rows=name_rows)
        return Tokens(parts, len(frame))

    def fit(self, pool_tokens, target_tokens):
        """Fit on the tokens of the pool sample and of the target."""
        B = self.num_buckets
        self.pool_distribution = smoothed(pool_tokens.bucket_counts(B), self.smoothing)
        self.target_distribution = smoothed(target_tokens.bucket_counts(B), self.smoothing)
        self.log_ratio = np.log(self.target_distribution) - np.log(self.pool_distribution)
        if self.kind == "discriminative":
            from scipy import sparse
            from sklearn.linear_model import LogisticRegression

            features = sparse.vstack([target_tokens.matrix(B), pool_tokens.matrix(B)]).log1p()
            labels = np.r_[np.ones(target_tokens.n_rows), np.zeros(pool_tokens.n_rows)]
            self.classifier = LogisticRegression(C=1.0, max_iter=1000)
            self.classifier.fit(features, labels)
            # The classifier's odds include the ratio of the two sample sizes.
            self.odds_correction = float(np.log(pool_tokens.n_rows / target_tokens.n_rows))
        return self

    def weights_of_tokens(self, tokens):
        if self.kind == "generative":
            return tokens.row_sums(self.log_ratio)
        features = tokens.matrix(self.num_buckets).log1p()
        return self.classifier.decision_function(features) + self.odds_correction

    def chunks(self, frame, size=None):
        size = size or self.chunk_size
        for start in range(0, len(frame), size):
            yield start, frame.iloc[start : start + size]

    def chunk_size_for(self, n_rows, n_jobs):
        """Rows per chunk: ``chunk_size``, smaller so that every worker gets work."""
        if n_jobs <= 1:
            return self.chunk_size
        return max(1, min(self.chunk_size, -(-n_rows // (2 * n_jobs))))

    def chunk_tokens(self, frame, n_jobs=1, progress=None, name_rows=0):
        """``[(start, Tokens)]`` of the chunks of ``frame``, featurised in ``n_jobs`` processes.

        The chunks that hold the first ``name_rows`` rows of ``frame`` bring back
        the bucket names of those rows (``Tokens.names``), met while hashing them.
        """
        pieces = list(self.chunks(frame, self.chunk_size_for(len(frame), n_jobs)))
        out = []
        work = ((c, max(0, name_rows - start)) for start, c in pieces)
        tokens = map_in_processes(chunk_tokens, work, n_jobs, self)
        for (start, chunk), chunk_tokens_ in zip(pieces, tokens, strict=True):
            out.append((start, chunk_tokens_))
            if progress is not None:
                progress.update(len(chunk))
        return out

    def log_weights(self, frame, progress=None, n_jobs=1):
        """Log importance weights of every row of ``frame``, featurised chunk by chunk."""
        out = np.empty(len(frame), dtype=np.float64)
        pieces = list(self.chunks(frame, self.chunk_size_for(len(frame), n_jobs)))
        weights = map_in_processes(chunk_log_weights, (c for _, c in pieces), n_jobs, self)
        for (start, chunk), w in zip(pieces, weights, strict=True):
            out[start : start + len(chunk)] = w
            if progress is not None:
                progress.update(len(chunk))
        return out

    def bucket_counts(self, frame, row_weights=None):
        """Token counts per bucket over the rows of ``frame`` (each row ``row_weights`` times)."""
        total = np.zeros(self.num_buckets)
        for start, chunk in self.chunks(frame):
            w = None if row_weights is None else row_weights[start : start + len(chunk)]
            total += self.tokens(chunk).bucket_counts(self.num_buckets, w)
        return total
