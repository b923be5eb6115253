"""A table with a rare but important region, which random row samples miss."""

import numpy as np

from tabsift.datasets._checks import (
    check_float,
    check_int,
    column_names,
    random_generator,
    table_bunch,
)


def make_rare_region(
    n_samples=2000,
    n_features=6,
    *,
    rare_fraction=0.01,
    rare_distance=6.0,
    random_state=None,
):
    """Generate a classification table with a small, distant region whose labels break the rule.

    The bulk of the rows are standard normal with label ``x0 + x1 > 0``. A
    fraction ``rare_fraction`` of the rows forms a tight cluster (standard
    deviation 0.3) centred at ``rare_distance`` on ``x0`` and ``x1``, where the
    bulk's rule would say 1 but the label is 0. A model trained on a small
    random sample rarely sees the cluster and gets it wrong; a coreset that
    covers the space does not.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of rows, at least 2.
    n_features : int, default=6
        Number of columns, at least 2.
    rare_fraction : float, default=0.01
        Fraction of rows in the rare region, in (0, 0.5); at least one row.
    rare_distance : float, default=6.0
        Coordinate of the rare cluster's centre on ``x0`` and ``x1``.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` (DataFrame), ``target`` (Series of 0/1), ``frame``,
        ``feature_names``, ``task`` and the ground truth ``rare`` (ndarray
        of bool: the rows of the rare region).

    Examples
    --------
    >>> from tabsift.datasets import make_rare_region
    >>> data = make_rare_region(n_samples=1000, random_state=0)
    >>> data.data.shape, int(data.rare.sum())
    ((1000, 6), 10)
    >>> int(data.target[data.rare].sum())  # every rare row has label 0
    0
    """
    import pandas as pd

    n_samples = check_int(n_samples, "n_samples", min_value=2)
    n_features = check_int(n_features, "n_features", min_value=2)
    rare_fraction = check_float(rare_fraction, "rare_fraction", min_value=0.0, max_value=0.5,
                                max_inclusive=False)
    rare_distance = check_float(rare_distance, "rare_distance", min_value=0.0)
    rng = random_generator(random_state)

    n_rare = max(1, int(round(rare_fraction * n_samples)))
    X = rng.standard_normal((n_samples, n_features))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    rare = np.zeros(n_samples, dtype=bool)
    rare[rng.choice(n_samples, size=n_rare, replace=False)] = True
    X[rare] = 0.3 * rng.standard_normal((n_rare, n_features))
    X[rare, :2] += rare_distance
    y[rare] = 0
    data = pd.DataFrame(X, columns=column_names(n_features))
    descr = (
        f"Synthetic table (classification): {n_samples} rows, {n_features} columns; label "
        f"x0 + x1 > 0 except in a rare cluster of {n_rare} rows at x0 = x1 = {rare_distance}, "
        "labelled 0."
    )
    return table_bunch(data, y, task="classification", rare=rare, DESCR=descr)
