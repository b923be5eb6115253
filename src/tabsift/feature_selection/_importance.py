"""Feature scores read from a trained engine: KAN-L1, KAN-L2, KAN-SI, KAN-KO.

Each function takes an engine (see :mod:`tabsift.feature_selection._engine`)
and the held-out rows of a fold, and returns one non-negative score per
feature as a numpy array; :class:`KANSelector` normalises and averages them.
"""

import numpy as np

METHODS = ("l1", "l2", "si", "ko", "pykan")
READINGS = ("contribution", "coefficients")

# Rows per chunk for contributions, about 4M floats (16 MB) of (rows, d, hidden).
_CHUNK_ELEMENTS = 1 << 22


def contribution_norms(engine, X, ord):
    """KAN-L1 / KAN-L2 as computed in the authors' code, from contributions on data.

    ``ord=1``: ``mean_{n,o} |c[n,j,o]|``; ``ord=2``: ``sqrt(mean_{n,o} c[n,j,o]^2)``.
    Rows are processed in chunks so memory stays bounded; each chunk is one
    batched call. For ``ord=2`` an engine with ``contribution_square_sums``
    (tabsift's) gives the sums of squares from Gram matrices instead.

    Parameters
    ----------
    engine : engine
    X : torch.Tensor of shape (n, d)
        Standardised held-out rows.
    ord : {1, 2}

    Returns
    -------
    scores : ndarray of shape (d,)
    """
    n, d = X.shape
    if n == 0:
        return np.zeros(d)
    # One row tells the hidden width, which sets the chunk size.
    hidden = engine.first_layer_contributions(X[:1]).shape[-1]
    if ord == 2 and hasattr(engine, "contribution_square_sums"):
        # The same sums from Gram matrices, without the (n, d, hidden) contributions.
        return np.sqrt(engine.contribution_square_sums(X) / (n * hidden))
    rows = max(1, _CHUNK_ELEMENTS // max(1, d * hidden))
    total = np.zeros(d)
    for start in range(0, n, rows):
        contrib = engine.first_layer_contributions(X[start : start + rows])
        values = contrib.abs() if ord == 1 else contrib.square()
        total += values.sum(dim=(0, 2)).double().cpu().numpy()
    mean = total / (n * hidden)
    return mean if ord == 1 else np.sqrt(mean)


def compute_scores(engine, method, reading, X, y):
    """Raw (unnormalised, non-negative) scores of one trained engine on held-out rows.

    Parameters
    ----------
    engine : engine
        A trained engine.
    method : {"l1", "l2", "si", "ko", "pykan"}
    reading : {"contribution", "coefficients"}
        For ``"l1"``/``"l2"`` only: contributions on ``X``, or spline coefficient norms.
    X : torch.Tensor of shape (n, d)
        Standardised held-out rows.
    y : torch.Tensor of shape (n,)
        Held-out targets (used by ``"ko"``).

    Returns
    -------
    scores : ndarray of shape (d,)
    """
    if method in ("l1", "l2"):
        ord = 1 if method == "l1" else 2
        if reading == "coefficients":
            scores = engine.coefficient_norms(ord)
        else:
            scores = contribution_norms(engine, X, ord)
    elif method == "si":
        scores = engine.sensitivity(X)
    elif method == "ko":
        scores = engine.knockout_losses(X, y)
    elif method == "pykan":
        scores = engine.native_scores(X)
    else:
        raise ValueError(f"method must be one of {list(METHODS)}, found {method!r}.")
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    # Non-finite or negative scores (a diverged fold) count as no evidence.
    return np.where(np.isfinite(scores), np.maximum(scores, 0.0), 0.0)


def normalise(scores, mask=None):
    """Scale non-negative ``scores`` to sum 1; all zero gives uniform weights.

    Parameters
    ----------
    scores : ndarray of shape (d,)
    mask : ndarray of bool of shape (d,), default=None
        Features allowed a non-zero score (the others are set to 0); by
        default all.

    Returns
    -------
    normalised : ndarray of shape (d,)

    Examples
    --------
    >>> normalise(np.array([1.0, 3.0])).tolist()
    [0.25, 0.75]
    >>> normalise(np.zeros(3), mask=np.array([True, True, False])).tolist()
    [0.5, 0.5, 0.0]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if mask is None:
        mask = np.ones(scores.shape, dtype=bool)
    scores = np.where(mask, scores, 0.0)
    total = scores.sum()
    if total > 0:
        return scores / total
    return mask / max(mask.sum(), 1)
