"""Row weights: the one check every family runs on ``sample_weight``.

A weight is how many times a row counts: an integer weight ``k`` is the row
repeated ``k`` times, 0 leaves the row out. So weights are finite and
non-negative, and some row must count.
"""

import numbers

import numpy as np

from tabsift.utils._sklearn_compat import check_sample_weight


def check_row_weights(sample_weight, X, *, owner, class_weights=None, what="fit"):
    """``sample_weight`` as float64, one finite weight >= 0 a row of ``X``; None stays None.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), float or None
        The weights given by the user (a number gives that weight to every row).
    X : array-like of shape (n_samples, n_features) or int
        The rows the weights belong to, or their number.
    owner : str
        The estimator's name, for the error messages.
    class_weights : ndarray of shape (n_samples,) or None, default=None
        Per-row class weights (from ``class_weight``), multiplied in before the
        check that some row counts.
    what : str, default="fit"
        The call the weights were given to, for the error messages.

    Returns
    -------
    weights : ndarray of shape (n_samples,) or None
        None when neither ``sample_weight`` nor ``class_weights`` is given.

    Raises
    ------
    ValueError
        For weights of the wrong length or type (scikit-learn's message, which
        names ``sample_weight``), NaN or infinite weights, negative weights,
        and weights that are zero on every row.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.utils import check_row_weights
    >>> check_row_weights([1, 2, 0], np.zeros((3, 2)), owner="MySelector").tolist()
    [1.0, 2.0, 0.0]
    >>> check_row_weights([1, -2, 0], 3, owner="MySelector")
    Traceback (most recent call last):
    ...
    ValueError: sample_weight has 1 negative value(s) (the smallest is -2); MySelector ...
    """
    weights = None
    if sample_weight is not None:
        rows = np.empty((X, 0)) if isinstance(X, numbers.Integral) else X
        finite = _finite_values(sample_weight)
        if finite is not None and not finite.all():
            raise ValueError(
                f"sample_weight holds {int((~finite).sum())} NaN or infinite value(s); "
                f"{owner} needs finite weights >= 0: a weight is how many times a row counts."
            )
        weights = check_sample_weight(
            sample_weight, rows, dtype=np.float64, allow_all_zero_weights=True, copy=True
        )
        if (weights < 0).any():
            raise ValueError(
                f"sample_weight has {int((weights < 0).sum())} negative value(s) (the smallest "
                f"is {weights.min():g}); {owner} needs weights >= 0: a weight is how many "
                "times a row counts, 0 leaves the row out."
            )
    if class_weights is not None:
        class_weights = np.asarray(class_weights, dtype=np.float64)
        if (class_weights < 0).any():
            raise ValueError(f"class_weight gives negative weights; {owner} needs them >= 0.")
        weights = class_weights if weights is None else weights * class_weights
    if weights is not None and not (weights > 0).any():
        given = "sample_weight" if class_weights is None else "sample_weight times class_weight"
        raise ValueError(
            f"{given} is zero on every row; {owner} needs at least one row with a positive "
            f"weight. Check the weights passed to {what}."
        )
    return weights


def _finite_values(sample_weight):
    """Which weights are finite, or None when they are not numbers (scikit-learn says so)."""
    try:
        values = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return np.isfinite(values)
