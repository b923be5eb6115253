"""Sample weights for the rule learner: a classifier fit's row weights and a weighted quantile.

The convention is scikit-learn's: an integer weight ``k`` on a row means that
row repeated ``k`` times, and a weight of 0 means the row is left out. Both
helpers keep that equivalence exact, so weighted fits can be tested against
fits on repeated rows. The weights themselves are checked by
:func:`tabsift.utils.check_row_weights`.
"""

import inspect

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from tabsift.utils import check_row_weights, plain


def weighted_quantile(values, weights, levels):
    """Quantiles of ``values`` at ``levels`` when row ``i`` counts ``weights[i]`` times.

    The interpolation is NumPy's default (``method="linear"``), applied to the
    rows repeated by their weights: for integer weights the result is exactly
    ``np.quantile(np.repeat(values, weights), levels)``; rows of weight 0 are
    left out; fractional weights count fractionally. ``values`` must be
    finite and at least one weight positive.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64)
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    order = np.argsort(values, kind="stable")
    values, cumulative = values[order], np.cumsum(weights[order])
    total = cumulative[-1]
    # Position h on the repeated, sorted rows (0 .. total - 1), as NumPy computes it.
    virtual = np.clip((total - 1) * levels, 0.0, max(total - 1, 0.0))
    previous = np.floor(virtual)
    gamma = virtual - previous
    # The row at repeated position p is the first whose cumulative weight exceeds p.
    last = len(values) - 1
    below = values[np.minimum(np.searchsorted(cumulative, previous, side="right"), last)]
    above = values[
        np.minimum(np.searchsorted(cumulative, np.minimum(previous + 1, total - 1), side="right"),
                   last)
    ]
    # NumPy's lerp, computed from the nearer end so equal neighbours give their value exactly.
    diff = above - below
    return np.where(gamma >= 0.5, above - diff * (1 - gamma), below + diff * gamma)


def _takes_sample_weight(metric):
    """Whether a callable metric accepts ``sample_weight=`` (by its signature)."""
    try:
        parameters = inspect.signature(metric).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin): assume it does
        return True
    return any(p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in parameters)


def _class_factors(estimator, y, base):
    """Return each row's ``class_weight`` factor (0 on rows of weight 0)."""
    class_weight = estimator.class_weight
    present = base > 0
    if class_weight == "balanced":
        # Classes counted by weight, over the rows that are there (weight > 0).
        classes = np.unique(y[present])
        per_class = compute_class_weight(
            "balanced", classes=classes, y=y[present], sample_weight=base[present]
        )
    else:
        classes = estimator.classes_
        per_class = compute_class_weight(class_weight, classes=classes, y=y)
    factor = np.zeros(len(y))
    factor[present] = per_class[np.searchsorted(classes, y[present])]
    return factor


def fit_weights(estimator, X, y, sample_weight, *, owner):
    """Row weights of a classifier fit: ``sample_weight`` times ``class_weight``.

    None when both are None. ``estimator`` gives ``metric``, ``class_weight`` and the
    fitted ``classes_``, ``owner`` the name errors give; a weighted fit needs a metric that accepts ``sample_weight`` and
    at least 2 classes with positive weight.
    """
    metric, class_weight = estimator.metric, estimator.class_weight
    weighted_fit = sample_weight is not None or class_weight is not None
    if weighted_fit and callable(metric) and not _takes_sample_weight(metric):
        raise ValueError(
            "metric is a callable without a sample_weight parameter, but the fit is "
            "weighted (sample_weight or class_weight); use a metric that accepts "
            "sample_weight=..., as scikit-learn's metrics do, or a named metric."
        )
    weights = check_row_weights(sample_weight, X, owner=owner)
    if class_weight is not None:
        base = np.ones(len(y)) if weights is None else weights
        factor = _class_factors(estimator, y, base)
        weights = check_row_weights(weights, X, owner=owner, class_weights=factor)
    if weights is not None:
        weighted = np.unique(y[weights > 0])
        if weighted.size < 2:
            label = plain(weighted[0])
            raise ValueError(
                f"only class {label!r} has rows of positive sample_weight; "
                f"{owner} needs at least 2 classes with positive weight."
            )
    return weights
