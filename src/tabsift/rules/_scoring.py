"""Scoring a rule's predictions from confusion counts: the metrics the rule search maximises.

A rule's score is two ``count_nonzero`` calls (true positives and fired rows)
instead of a scikit-learn metric call; the single-literal baseline scores
every literal at once with one matrix product.
"""

import math

import numpy as np

METRICS = ("balanced_accuracy", "accuracy", "f1", "matthews")


class Scorer:
    """Scores boolean predictions against a boolean target, from confusion counts.

    With ``sample_weight`` every count is a sum of row weights (a row of
    weight ``k`` counts ``k`` times), so the named metrics are their
    weighted versions; a callable metric gets ``sample_weight=`` too.
    """

    def __init__(self, y, metric, sample_weight=None):
        self.y = np.ascontiguousarray(y, dtype=bool)
        self.metric = metric
        self.weights = None
        if sample_weight is None:
            self.n = self.y.size
            self.n_pos = int(np.count_nonzero(self.y))
            self.n_neg = self.n - self.n_pos
            return
        self.weights = np.ascontiguousarray(sample_weight, dtype=np.float64)
        # Weights of the positive rows (0 elsewhere): true positives are one dot product.
        self.positive_weights = np.where(self.y, self.weights, 0.0)
        self.n_pos = float(self.positive_weights.sum())
        self.n_neg = float(self.weights[~self.y].sum())
        self.n = self.n_pos + self.n_neg

    def from_counts(self, tp, fired):
        """Metric from true positives and fired counts (scalars or arrays)."""
        metric = self.metric
        P, N, n = self.n_pos, self.n_neg, self.n
        fp = fired - tp
        fn = P - tp
        tn = N - fp
        if metric == "balanced_accuracy":
            # One class absent from the sample: balanced accuracy is that of the other class.
            if P == 0:
                return tn / N
            if N == 0:
                return tp / P
            return 0.5 * (tp / P + tn / N)
        if metric == "accuracy":
            return (tp + tn) / n
        if metric == "f1":
            denom = 2 * tp + fp + fn
            return (
                np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
                if np.ndim(denom)
                else (2 * tp / denom if denom else 0.0)
            )
        # Matthews correlation coefficient; 0 when a margin is empty.
        denom = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
        if np.ndim(denom):
            denom = np.asarray(denom, dtype=np.float64)
            return np.where(denom > 0, (tp * tn - fp * fn) / np.sqrt(np.maximum(denom, 1)), 0.0)
        return (tp * tn - fp * fn) / math.sqrt(denom) if denom else 0.0

    def __call__(self, pred):
        if callable(self.metric):
            extra = {} if self.weights is None else {"sample_weight": self.weights}
            return float(self.metric(self.y.astype(np.int64), pred.astype(np.int64), **extra))
        if self.weights is not None:
            pred = pred.view(np.uint8) if pred.dtype == bool else pred
            return float(self.from_counts(pred @ self.positive_weights, pred @ self.weights))
        return float(self.from_counts(np.count_nonzero(pred & self.y), np.count_nonzero(pred)))


def baseline(ZT, scorer):
    """Best constant or single (possibly negated) literal: ``(kind, index, negated, score)``.

    Candidates in BoolXAI's order (always-true, always-false, then each literal
    negated and plain); the first best wins ties.
    """
    n, P = scorer.n, scorer.n_pos
    L = ZT.shape[0]
    if callable(scorer.metric):
        scores = [scorer(np.ones(n, bool)), scorer(np.zeros(n, bool))]
        for j in range(L):
            scores += [scorer(~ZT[j]), scorer(ZT[j])]
        scores = np.asarray(scores)
    else:
        if scorer.weights is None:
            fired = np.count_nonzero(ZT, axis=1)
            tp = ZT.view(np.uint8) @ scorer.y.view(np.uint8).astype(np.int64) if L else np.zeros(0)
            dtype = np.int64
        else:
            fired = ZT.view(np.uint8) @ scorer.weights if L else np.zeros(0)
            tp = ZT.view(np.uint8) @ scorer.positive_weights if L else np.zeros(0)
            dtype = np.float64
        fired_all = np.empty(2 * L + 2, dtype=dtype)
        tp_all = np.empty(2 * L + 2, dtype=dtype)
        fired_all[:2], tp_all[:2] = (n, 0), (P, 0)
        fired_all[2::2], tp_all[2::2] = n - fired, P - tp
        fired_all[3::2], tp_all[3::2] = fired, tp
        scores = np.asarray(scorer.from_counts(tp_all, fired_all), dtype=np.float64)
    best = int(np.argmax(scores))
    if best < 2:
        return ("constant", best == 0, None, float(scores[best]))
    j, plain = divmod(best - 2, 2)
    return ("literal", j, not plain, float(scores[best]))
