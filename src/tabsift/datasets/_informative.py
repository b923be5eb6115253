"""A table where only some columns carry signal about the target."""

import numpy as np

from tabsift.datasets._checks import (
    check_float,
    check_int,
    check_task,
    column_names,
    random_generator,
    table_bunch,
)

_EFFECTS = ("linear", "quadratic", "sine")


def _effect(kind, x):
    if kind == "linear":
        return x
    if kind == "quadratic":
        return x**2 - 1.0
    return np.sin(2.0 * x)


def make_informative(
    n_samples=500,
    n_features=10,
    n_informative=5,
    *,
    task="classification",
    noise=0.1,
    random_state=None,
):
    """Generate a table in which only ``n_informative`` columns drive the target.

    All columns are independent standard normal variables named ``x0``,
    ``x1``, ... The informative columns are drawn at random (so they are not
    simply the first ones) and each enters a latent score through a linear,
    quadratic or sine effect of similar strength; the other columns are pure
    noise. The latent score is standardised, Gaussian noise of standard
    deviation ``noise`` is added, and the target is the score itself
    (regression) or its sign (binary classification).

    Parameters
    ----------
    n_samples : int, default=500
        Number of rows, at least 2.
    n_features : int, default=10
        Number of columns, at least 1.
    n_informative : int, default=5
        Number of columns that drive the target, between 1 and ``n_features``.
    task : {"classification", "regression"}, default="classification"
        Binary labels or a continuous target.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to the standardised
        latent score (before thresholding, for classification).
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` (DataFrame), ``target`` (Series named ``"target"``),
        ``frame`` (both), ``feature_names``, ``task``, ``DESCR`` and the
        ground truth: ``informative`` (list of column names, in column order),
        ``effects`` (dict column -> ``"linear"``, ``"quadratic"`` or
        ``"sine"``) and ``coef`` (dict column -> weight).

    See Also
    --------
    sklearn.datasets.make_classification : Informative features on hypercube vertices.

    Examples
    --------
    >>> from tabsift.datasets import make_informative
    >>> bunch = make_informative(n_samples=200, n_features=6, n_informative=2, random_state=0)
    >>> bunch.data.shape, len(bunch.informative)
    ((200, 6), 2)
    >>> set(bunch.informative) <= set(bunch.feature_names)
    True
    """
    import pandas as pd

    n_samples = check_int(n_samples, "n_samples", min_value=2)
    n_features = check_int(n_features, "n_features", min_value=1)
    n_informative = check_int(
        n_informative,
        "n_informative",
        min_value=1,
        max_value=n_features,
        hint="It cannot exceed n_features.",
    )
    check_task(task)
    noise = check_float(noise, "noise", min_value=0.0)
    rng = random_generator(random_state)

    names = column_names(n_features)
    X = rng.standard_normal((n_samples, n_features))
    chosen = np.sort(rng.choice(n_features, size=n_informative, replace=False))
    # Cycle through the effect shapes, starting at a random one, so every
    # shape appears once there are three informative columns.
    offset = rng.randint(len(_EFFECTS))
    effects, coef = {}, {}
    score = np.zeros(n_samples)
    for rank, j in enumerate(chosen):
        kind = _EFFECTS[(offset + rank) % len(_EFFECTS)]
        weight = float(np.round(rng.choice([-1.0, 1.0]) * rng.uniform(0.8, 1.2), 2))
        contribution = _effect(kind, X[:, j])
        # Each effect is scaled to unit variance so all informative columns are
        # about equally strong, whatever their shape.
        score += weight * contribution / max(contribution.std(), 1e-12)
        effects[names[j]] = kind
        coef[names[j]] = weight
    score = (score - score.mean()) / max(score.std(), 1e-12)
    score = score + noise * rng.standard_normal(n_samples)
    y = (score > 0).astype(np.int64) if task == "classification" else score

    data = pd.DataFrame(X, columns=names)
    informative = [names[j] for j in chosen]
    descr = (
        f"Synthetic table ({task}): {n_samples} rows, {n_features} standard normal columns; "
        f"only {informative} drive the target, through the effects {effects}. "
        f"Gaussian noise of standard deviation {noise} is added to the standardised score."
    )
    return table_bunch(
        data,
        y,
        task=task,
        informative=informative,
        effects=effects,
        coef=coef,
        DESCR=descr,
    )
