"""Feature scores read from a trained engine: KAN-L1, KAN-L2, KAN-SI, KAN-KO.

Each function takes an engine (see :mod:`tabsift.feature_selection._engine`)
and the held-out rows of a fold, and returns one non-negative score per
feature as a numpy array; :class:`KANSelector` normalises and averages them.
A feature encoded as several network inputs (a categorical column's one-hot
columns) is scored as one: see :func:`compute_scores`.
"""

import numpy as np

METHODS = ("l1", "l2", "si", "ko", "pykan")
READINGS = ("contribution", "coefficients")

# Rows per chunk for contributions, about 4M floats (16 MB) of (rows, d, hidden).
_CHUNK_ELEMENTS = 1 << 22


def _torch_weight(sample_weight, like):
    """``sample_weight`` as a float64 tensor on ``like``'s device."""
    import torch

    return torch.as_tensor(sample_weight, dtype=torch.float64, device=like.device).reshape(-1)


def contribution_norms(engine, X, ord, groups=None, n_groups=None, sample_weight=None):
    """KAN-L1 / KAN-L2 as computed in the authors' code, from contributions on data.

    ``ord=1``: ``mean_{n,o} |c[n,j,o]|``; ``ord=2``: ``sqrt(mean_{n,o} c[n,j,o]^2)``.
    Rows are processed in chunks so memory stays bounded; each chunk is one
    batched call. For ``ord=2`` an engine with ``contribution_square_sums``
    (tabsift's) gives the sums of squares from Gram matrices instead.

    With ``groups`` (a mixed table), feature ``g``'s contribution is the sum
    of its network inputs' contributions, ``C[n,g,o] = sum_{j: groups[j] = g}
    c[n,j,o]`` (a categorical column's one-hot inputs together), centred over
    the rows before the norm is taken: every one-hot input adds a constant
    offset to ``C``, so uncentred norms would grow with the number of
    categories whatever the column is worth. Every column of such a table,
    numbers included, is read the same way.

    Parameters
    ----------
    engine : engine
    X : torch.Tensor of shape (n, d)
        Standardised held-out rows.
    ord : {1, 2}
    groups : ndarray of int of shape (d,), default=None
        The feature each network input belongs to; None: each input is a feature.
    n_groups : int, default=None
        Number of features when ``groups`` is given.
    sample_weight : ndarray of shape (n,), default=None
        Row weights: the means over rows (and the centre) are weighted.

    Returns
    -------
    scores : ndarray of shape (d,) or (n_groups,)
    """
    n, d = X.shape
    width = d if groups is None else n_groups
    if n == 0:
        return np.zeros(width)
    weighted = sample_weight is not None
    # The mean over rows divides by the rows' total weight (n without weights).
    total_weight = float(np.sum(sample_weight)) if weighted else n
    # One row tells the hidden width, which sets the chunk size.
    hidden = engine.first_layer_contributions(X[:1]).shape[-1]
    if groups is None and ord == 2 and hasattr(engine, "contribution_square_sums"):
        # The same sums from Gram matrices, without the (n, d, hidden) contributions.
        kwargs = {"sample_weight": sample_weight} if weighted else {}
        return np.sqrt(engine.contribution_square_sums(X, **kwargs) / (total_weight * hidden))
    rows = max(1, _CHUNK_ELEMENTS // max(1, d * hidden))
    w = _torch_weight(sample_weight, X) if weighted else None

    def row_sum(values, start):
        """Sum over rows (weighted) and units of a chunk's (rows, width, hidden) values."""
        if w is None:
            return values.sum(dim=(0, 2)).double()
        return (values.double().sum(dim=2) * w[start : start + values.shape[0], None]).sum(dim=0)

    if groups is None:
        total = np.zeros(width)
        for start in range(0, n, rows):
            contrib = engine.first_layer_contributions(X[start : start + rows])
            values = contrib.abs() if ord == 1 else contrib.square()
            total += row_sum(values, start).cpu().numpy()
        mean = total / (total_weight * hidden)
        return mean if ord == 1 else np.sqrt(mean)

    def grouped(start):
        import torch

        contrib = engine.first_layer_contributions(X[start : start + rows]).double()
        index = torch.as_tensor(groups, dtype=torch.int64, device=contrib.device)
        out = contrib.new_zeros((contrib.shape[0], width, contrib.shape[2]))
        return out.index_add_(1, index, contrib)

    def column_sum(start):
        values = grouped(start)
        if w is not None:
            values = values * w[start : start + values.shape[0], None, None]
        return values.sum(dim=0)

    centre = sum(column_sum(start) for start in range(0, n, rows)) / total_weight
    total = np.zeros(width)
    for start in range(0, n, rows):
        centred = grouped(start) - centre
        values = centred.abs() if ord == 1 else centred.square()
        total += row_sum(values, start).cpu().numpy()
    mean = total / (total_weight * hidden)
    return mean if ord == 1 else np.sqrt(mean)


def weighted_sensitivity(engine, X, sample_weight):
    """KAN-SI with row weights: the weighted mean over rows of ``|d sum |out| / d x_j|``."""
    grads = np.abs(np.asarray(engine.input_gradients(X), dtype=np.float64))
    w = np.asarray(sample_weight, dtype=np.float64)
    return (w @ grads) / w.sum()


def grouped_sensitivity(engine, X, groups, n_groups, sample_weight=None):
    """KAN-SI of the features of a mixed table: the spread of each feature's linearised effect.

    For row ``n`` and feature ``g`` with inputs ``G``, the score is
    ``sqrt(grad_G^T Cov_G grad_G)``: the standard deviation, over the rows of
    ``X``, of the first-order change of ``sum_outputs |out|`` as the feature's
    inputs vary the way they do in the data. For a standardised numeric
    input this is the paper's ``|d sum |out| / d x_j|``; for a categorical
    column's one-hot inputs (``Cov = diag(p) - p p^T``) it does not grow with
    the number of categories, as a sum of the inputs' gradients would. The
    score is the mean over rows; with ``sample_weight`` the covariance and the
    mean are weighted.
    """
    grads = np.asarray(engine.input_gradients(X), dtype=np.float64)
    values = X.double().cpu().numpy() if hasattr(X, "cpu") else np.asarray(X, np.float64)
    groups = np.asarray(groups)
    scores = np.zeros(n_groups)
    if grads.shape[0] == 0:
        return scores
    for g in range(n_groups):
        members = np.flatnonzero(groups == g)
        if not members.size:
            continue
        cov = np.atleast_2d(
            np.cov(values[:, members], rowvar=False, bias=True, aweights=sample_weight)
        )
        part = grads[:, members]
        spread = np.einsum("ni,ij,nj->n", part, cov, part)
        scores[g] = np.average(np.sqrt(np.clip(spread, 0.0, None)), weights=sample_weight)
    return scores


def group_sums(scores, groups, n_groups):
    """Add per-input ``scores`` up to one score per feature (``groups[j]``: input ``j``'s)."""
    out = np.zeros(n_groups)
    np.add.at(out, groups, np.asarray(scores, dtype=np.float64))
    return out


def compute_scores(engine, method, reading, X, y, groups=None, n_groups=None, sample_weight=None):
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
    groups : ndarray of int of shape (d,), default=None
        The feature (input column of the user's table) each network input
        encodes, for a mixed table whose categorical columns became several
        one-hot inputs; None when every network input is a feature (plain
        numeric input: the paper's readings, unchanged). A feature's score
        then reads all its inputs together: L1/L2 are the norms of their
        summed contribution, centred over the rows (of their stacked
        coefficients for ``reading="coefficients"``), SI is the spread of
        the feature's linearised effect (see :func:`grouped_sensitivity`),
        KO replaces their summed contribution by its mean over the
        rows (see the engine's ``knockout_losses``), pykan's scores are
        summed.
    n_groups : int, default=None
        Number of features when ``groups`` is given.
    sample_weight : ndarray of shape (n,), default=None
        Weights of the held-out rows: every mean over rows (contributions,
        gradients, losses, centres) is weighted, so an integer weight counts
        as that many copies of the row. The coefficient reading reads no rows.

    Returns
    -------
    scores : ndarray of shape (d,), or (n_groups,) with ``groups``
    """
    weighted = sample_weight is not None
    if method in ("l1", "l2"):
        ord = 1 if method == "l1" else 2
        if reading == "coefficients":
            scores = engine.coefficient_norms(ord)
            if groups is not None:
                # The norm over the group's stacked coefficients.
                scores = group_sums(np.asarray(scores) ** ord, groups, n_groups) ** (1 / ord)
        else:
            scores = contribution_norms(engine, X, ord, groups, n_groups, sample_weight)
    elif method == "si":
        if groups is None:
            scores = (
                weighted_sensitivity(engine, X, sample_weight) if weighted else engine.sensitivity(X)
            )
        else:
            scores = grouped_sensitivity(engine, X, groups, n_groups, sample_weight)
    elif method == "ko":
        kwargs = {"sample_weight": sample_weight} if weighted else {}
        if groups is None:
            scores = engine.knockout_losses(X, y, **kwargs)
        else:
            knocked = np.asarray(
                engine.knockout_losses(X, y, groups=groups, **kwargs), dtype=np.float64
            )
            # Features without a network input (an empty column) come last or in between.
            scores = np.zeros(n_groups)
            scores[: knocked.size] = knocked
    elif method == "pykan":
        scores = engine.native_scores(X)
        if groups is not None:
            scores = group_sums(scores, groups, n_groups)
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
