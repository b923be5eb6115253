"""The private scikit-learn names tabsift relies on, in one place.

scikit-learn documents these for third-party estimators (its developer guide
uses them) but keeps them in private modules, so a release may move them. Every
tabsift module imports them from here: a move touches this file only, and the
CI job that installs the oldest supported scikit-learn (the floor in
``setup.cfg``) runs the estimator checks against it.

- ``Interval``, ``StrOptions``, ``RealNotInt``, ``HasMethods``: the
  ``_parameter_constraints`` vocabulary.
- ``fit_context``: the decorator that validates parameters once per ``fit``.
- ``check_sample_weight``: sample-weight validation with scikit-learn's
  messages (shape, finiteness, all-zero weights).
- ``safe_indexing``: row/column indexing of arrays, frames and lists alike.
- ``routing_enabled``: whether metadata routing is switched on.
- ``transform_output``: the container ``set_output`` asked an estimator for.
"""

import inspect

import numpy as np
from sklearn.base import _fit_context as fit_context
from sklearn.utils import _safe_indexing as safe_indexing
from sklearn.utils._metadata_requests import _routing_enabled as routing_enabled
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "HasMethods",
    "Interval",
    "RealNotInt",
    "StrOptions",
    "check_sample_weight",
    "fit_context",
    "routing_enabled",
    "safe_indexing",
    "transform_output",
]


def transform_output(estimator):
    """Return the ``transform`` container ``set_output`` chose for ``estimator``.

    Parameters
    ----------
    estimator : object
        A fitted or unfitted estimator with scikit-learn's ``set_output``.

    Returns
    -------
    output : str
        ``"default"`` (NumPy), ``"pandas"`` or ``"polars"``.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from tabsift.utils._sklearn_compat import transform_output
    >>> transform_output(StandardScaler()), transform_output(
    ...     StandardScaler().set_output(transform="pandas"))
    ('default', 'pandas')
    """
    from sklearn.utils._set_output import _get_output_config

    return _get_output_config("transform", estimator)["dense"]


# scikit-learn 1.7 added allow_all_zero_weights (all-zero weights are refused by default).
_ZERO_WEIGHTS_ARGUMENT = (
    "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters
)


def check_sample_weight(
    sample_weight, X, *, dtype=None, ensure_non_negative=False, allow_all_zero_weights=False,
    copy=False,
):
    """scikit-learn's sample-weight validation, the same on every supported release.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), float or None
        The weights; ``None`` gives ones, a number gives that number for every row.
    X : array-like of shape (n_samples, n_features)
        The rows the weights belong to (only their number is read).
    dtype : dtype, default=None
        Output dtype (float64 when None and the weights are not float32).
    ensure_non_negative : bool, default=False
        Refuse negative weights.
    allow_all_zero_weights : bool, default=False
        Accept weights that are all zero (refused by default, as from
        scikit-learn 1.7 on).
    copy : bool, default=False
        Copy the weights even when no conversion is needed.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,)
        The validated weights.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.utils._sklearn_compat import check_sample_weight
    >>> check_sample_weight([1, 2], np.zeros((2, 3))).tolist()
    [1.0, 2.0]
    """
    kwargs = {"dtype": dtype, "ensure_non_negative": ensure_non_negative, "copy": copy}
    if _ZERO_WEIGHTS_ARGUMENT:
        kwargs["allow_all_zero_weights"] = allow_all_zero_weights
    weights = _check_sample_weight(sample_weight, X, **kwargs)
    if not _ZERO_WEIGHTS_ARGUMENT and not allow_all_zero_weights and not np.any(weights):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights
