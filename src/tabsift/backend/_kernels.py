"""Numerical kernels written once against the array API, run on any backend.

Each takes and returns arrays of one namespace (found with
:func:`~tabsift.backend.get_namespace`); memory stays linear in rows where the
kernel compares rows with rows (distances are computed in chunks).
"""

import numpy as np

from tabsift.backend._namespace import get_namespace, namespace_name


def column_mean_std(X, *, sample_weight=None, xp=None):
    """Column means and standard deviations, with zero deviations replaced by 1.

    The one standardisation of tabsift: ``(X - mean) / scale``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    sample_weight : array of shape (n_samples,), default=None
        Each row's mass: integer weights give the moments of the repeated rows
        (the same numbers as ``numpy.average`` with ``weights``).
    xp : module, default=None

    Returns
    -------
    mean, scale : arrays of shape (n_features,)
        ``(X - mean) / scale`` standardises ``X``; constant columns are
        centred only.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import column_mean_std
    >>> mean, scale = column_mean_std(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> mean.tolist(), scale.tolist()
    ([1.0, 5.0], [1.0, 1.0])
    >>> mean, scale = column_mean_std(np.array([[0.0], [4.0]]), sample_weight=np.array([3.0, 1.0]))
    >>> mean.tolist(), scale.tolist()
    ([1.0], [1.7320508075688772])
    """
    xp = get_namespace(X, xp=xp)
    if sample_weight is None:
        mean = xp.mean(X, axis=0)
        std = xp.std(X, axis=0)
    else:
        # numpy.average's operations, in this order: weighted sums over the summed weight.
        w = xp.reshape(xp.asarray(sample_weight, dtype=X.dtype), (-1, 1))
        total = xp.sum(w, axis=0)
        mean = xp.sum(X * w, axis=0) / total
        std = xp.sqrt(xp.sum((X - mean) ** 2 * w, axis=0) / total)
    scale = xp.where(std > 0, std, xp.ones_like(std))
    return mean, scale


def sigmoid(x, *, xp=None):
    """Numerically stable logistic function ``1 / (1 + exp(-x))``.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import sigmoid
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    xp = get_namespace(x, xp=xp)
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def sq_distances(A, B, *, xp=None):
    """Squared Euclidean distances between the rows of ``A`` and ``B``.

    Parameters
    ----------
    A : array of shape (n_a, n_features)
    B : array of shape (n_b, n_features)

    Returns
    -------
    D : array of shape (n_a, n_b)
        Clipped at 0 (the expansion ``|a|^2 - 2ab + |b|^2`` can round below 0).

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import sq_distances
    >>> sq_distances(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]])).tolist()
    [[25.0]]
    """
    xp = get_namespace(A, B, xp=xp)
    aa = xp.sum(A * A, axis=1)[:, None]
    bb = xp.sum(B * B, axis=1)[None, :]
    d = aa + bb - 2.0 * (A @ xp.matrix_transpose(B))
    return xp.maximum(d, xp.zeros_like(d))


def min_sq_distances(X, centers, *, chunk_size=None, xp=None):
    """For each row of ``X``, the squared distance to its nearest row of ``centers``.

    Rows are processed in chunks so memory is ``O(chunk_size * n_centers)``,
    not ``O(n_samples * n_centers)``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    centers : array of shape (n_centers, n_features)
    chunk_size : int, default=None
        Rows per chunk; by default about a million distances (8 MB in
        float64) are held at a time, which keeps them in cache.

    Returns
    -------
    dist : array of shape (n_samples,)
    index : array of shape (n_samples,)
        Index of the nearest center.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import min_sq_distances
    >>> d, i = min_sq_distances(np.array([[0.0], [9.0]]), np.array([[1.0], [10.0]]))
    >>> d.tolist(), i.tolist()
    ([1.0, 1.0], [0, 1])
    """
    xp = get_namespace(X, centers, xp=xp)
    n, n_centers = X.shape[0], centers.shape[0]
    if chunk_size is None:
        chunk_size = max(1, (1 << 20) // max(n_centers, 1))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if n == 0:
        return xp.zeros((0,), dtype=X.dtype), xp.zeros((0,), dtype=xp.int64)
    # |x - c|^2 = |x|^2 + (|c|^2 - 2 x.c): the argmin needs only the bracket, so the
    # full chunk-by-centers matrix sees one matrix product, one addition and one argmin.
    minus_2ct = -2.0 * xp.matrix_transpose(centers)
    cc = xp.sum(centers * centers, axis=1)[None, :]
    dists, idx = [], []
    for start in range(0, n, chunk_size):
        chunk = X[start : min(start + chunk_size, n), ...]
        partial = chunk @ minus_2ct + cc
        best = xp.argmin(partial, axis=1)
        nearest = xp.take_along_axis(partial, best[:, None], axis=1)[:, 0]
        d = nearest + xp.sum(chunk * chunk, axis=1)
        dists.append(xp.maximum(d, xp.zeros_like(d)))
        idx.append(best)
    return xp.concat(dists), xp.concat(idx)


def gumbel_top_k(log_weights, k, *, random_state=None, top_k=False, xp=None):
    """Sample ``k`` indices without replacement, with probability proportional to ``exp(log_weights)``.

    Adds Gumbel noise to the log weights and keeps the ``k`` largest (the
    Gumbel top-k trick). The noise is drawn with NumPy from ``random_state``
    and moved to the backend, so a seed selects the same rows on every backend.

    Parameters
    ----------
    log_weights : array of shape (n,)
        Unnormalised log weights; ``-inf`` rows are never picked.
    k : int
        Number of indices, ``0 <= k <= n``.
    random_state : int, RandomState instance or None, default=None
    top_k : bool, default=False
        Skip the noise: the ``k`` largest weights (deterministic).

    Returns
    -------
    indices : array of shape (k,)
        Selected indices, in decreasing order of perturbed weight.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import gumbel_top_k
    >>> gumbel_top_k(np.log(np.array([1.0, 5.0, 1.0, 9.0])), 2, top_k=True).tolist()
    [3, 1]
    """
    xp = get_namespace(log_weights, xp=xp)
    n = log_weights.shape[0]
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and the number of rows ({n}), got k={k}.")
    keys = log_weights
    if not top_k:
        from sklearn.utils import check_random_state

        rng = check_random_state(random_state)
        noise = rng.gumbel(size=n)
        if namespace_name(xp) != "numpy":
            noise = xp.asarray(noise, dtype=log_weights.dtype)
        keys = keys + noise
    if namespace_name(xp) == "numpy" and 0 < k < n:
        return _numpy_top_k(np.asarray(keys), k)
    order = xp.argsort(keys, descending=True, stable=True)
    return order[:k]


def _numpy_top_k(keys, k):
    """Return the indices of the ``k`` largest keys, exactly as a stable descending argsort orders them.

    A partition finds the k-th largest value in linear time; ties at that value are
    broken by index, as the stable sort breaks them, so every backend agrees.
    """
    n = keys.shape[0]
    kth = np.partition(keys, n - k)[n - k]
    above = np.flatnonzero(keys > kth)
    ties = np.flatnonzero(keys == kth)[: k - above.shape[0]]
    chosen = np.concatenate([above, ties])
    return chosen[np.lexsort((chosen, -keys[chosen]))]
