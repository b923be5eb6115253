"""The fitted weight model of importance resampling: features -> log importance weights.

Small and picklable on purpose: the Dask path ships it to every partition and
the streaming job checkpoints it.
"""

import numpy as np

from tabsift.sampling._dsir_core import smoothed
from tabsift.sampling._hashing import counts_matrix


class Tokens:
    """The hashed tokens of ``n_rows`` rows: ``rows[i]`` holds token ``i``, in bucket ``cols[i]``."""

    def __init__(self, rows, cols, n_rows):
        self.rows, self.cols, self.n_rows = rows, cols, n_rows

    def bucket_counts(self, num_buckets, row_weights=None):
        weights = None if row_weights is None else row_weights[self.rows]
        return np.bincount(self.cols, weights=weights, minlength=num_buckets).astype(float)

    def matrix(self, num_buckets):
        return counts_matrix(self.rows, self.cols, self.n_rows, num_buckets)


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

    def tokens(self, frame, names=None):
        rows, cols = self.hasher.token_buckets(frame[self.columns], names=names)
        return Tokens(rows, cols, len(frame))

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
            return np.bincount(
                tokens.rows, weights=self.log_ratio[tokens.cols], minlength=tokens.n_rows
            )
        features = tokens.matrix(self.num_buckets).log1p()
        return self.classifier.decision_function(features) + self.odds_correction

    def chunks(self, frame):
        for start in range(0, len(frame), self.chunk_size):
            yield start, frame.iloc[start : start + self.chunk_size]

    def log_weights(self, frame, progress=None):
        """Log importance weights of every row of ``frame``, featurised chunk by chunk."""
        out = np.empty(len(frame), dtype=np.float64)
        for start, chunk in self.chunks(frame):
            out[start : start + len(chunk)] = self.weights_of_tokens(self.tokens(chunk))
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
