"""What KANSelector accepts: ``X`` on the host or on its device, ``y``, and row weights.

Plain numeric input goes through scikit-learn's ``validate_data``; a mixed
table (or numbers with NaN under ``missing_values="impute"``) is encoded by
:func:`tabsift.table.encode_table`; a CuPy, torch or array-API array is
checked where it lives, handed to torch through DLPack. Every path records
the encoding on the selector (``encoded_feature_names_``, ``encoded_groups_``,
``encoding_steps_``).
"""

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data

from tabsift.feature_selection._common import feature_names, is_table, validate_table
from tabsift.table import (
    TableError,
    check_finite_columns,
    class_codes,
    encode_table,
    non_finite_message,
)
from tabsift.utils import check_row_weights

# Inputs that stay on their device: handed to torch through DLPack, never copied to NumPy.
_DEVICE_LIBRARIES = ("cupy", "torch", "array_api_strict")

_MISSING_FIX = (
    'pass missing_values="impute" (median plus a missing-value input, scored with its '
    "column), or impute or drop them first"
)


def _has_nan(X):
    """Return True when plain numeric host input holds a NaN (it then takes the imputing path)."""
    try:
        values = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return bool(np.isnan(values).any())


def is_device_input(X):
    """Return True when ``X`` is an array that stays on its device (CuPy, torch, array API)."""
    from tabsift.backend import array_library

    return array_library(X) in _DEVICE_LIBRARIES


def validated_input(selector, X, y):
    """Check ``X`` and ``y``; record the encoding. Returns X, y, on_device, groups, indicators.

    ``groups`` (each network input's column) and ``indicators`` (inputs
    that are one-hot indicators) are None for plain numeric input.
    """
    on_device = is_device_input(X)
    encoded = None
    if on_device:
        X, y = _validate_device_data(selector, X, y)
    elif is_table(X) or (selector.missing_values == "impute" and _has_nan(X)):
        encoded, y = _validate_table_data(selector, X, y)
        X = encoded.values
    else:
        X, y = _validate_fit_data(selector, X, y)
    if encoded is None:
        selector.encoded_feature_names_ = np.asarray(feature_names(selector), dtype=object)
        selector.encoded_groups_ = np.arange(selector.n_features_in_)
        selector.encoding_steps_ = []
        return X, y, on_device, None, None
    selector.encoded_feature_names_ = np.asarray(encoded.names, dtype=object)
    selector.encoded_groups_ = np.asarray(encoded.groups)
    selector.encoding_steps_ = list(encoded.steps)
    return X, y, on_device, encoded.groups, _indicator_inputs(encoded)


def _validate_fit_data(selector, X, y):
    """Check plain numeric host input; a NaN or infinite value is an error naming its column."""
    X, y = validate_data(
        selector,
        X,
        y,
        dtype=[np.float64, np.float32],
        ensure_all_finite=False,  # checked below, with the column names
        ensure_min_samples=2,
        ensure_min_features=2,
    )
    check_finite_columns(
        X, feature_names=feature_names(selector), owner="KANSelector", fix=_MISSING_FIX
    )
    return X.astype(np.float64, copy=False), y


def _validate_table_data(selector, X, y):
    """Check and encode a mixed table; the encoded columns remember their input column.

    Numbers (numbers stored as text included) are used as they are, the
    fold standardises them; categories and text are one-hot encoded, a
    missing category being a category of its own. A missing number is an
    error naming the column unless ``missing_values="impute"`` (median and
    a missing-value input, read with their column).
    """
    X, y = validate_table(selector, X, y, owner="KANSelector", min_features=2)
    encoded = encode_table(
        X,
        owner="KANSelector",
        impute=selector.missing_values == "impute",
        standardise=False,
        fix=_MISSING_FIX,
    )
    return encoded, y


def _indicator_inputs(encoded):
    """Return which network inputs are one-hot indicators of a category, as a bool mask."""
    categorical = np.array([c.kind in ("categorical", "text") for c in encoded.columns])
    return categorical[encoded.groups] if encoded.groups.size else np.zeros(0, dtype=bool)


def _check_non_finite_counts(selector, n_nan, n_inf):
    """Raise naming the columns with NaN or infinite values (counts: one per column)."""
    bad = np.flatnonzero((n_nan > 0) | (n_inf > 0))
    if not bad.size:
        return
    names = feature_names(selector)
    raise TableError(
        non_finite_message([names[j] for j in bad], n_nan[bad], n_inf[bad], owner="KANSelector")
    )


def _device_tensor(X):
    """Return ``X`` as a 2-D real torch tensor on its device (DLPack, no copy)."""
    from tabsift.backend import to_torch

    try:
        X = to_torch(X)
    except (BufferError, RuntimeError, TypeError) as err:
        raise ValueError(
            f"X of type {type(X).__module__}.{type(X).__name__} could not be handed to "
            f"torch through DLPack ({err}); pass a NumPy array or a contiguous CuPy array."
        ) from err
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D array for X, got a {X.ndim}D array of shape {tuple(X.shape)}; "
            "reshape it to (n_samples, n_features)."
        )
    if X.is_complex():
        raise ValueError("X is complex; KANSelector needs real numeric columns.")
    return X


def _validate_device_data(selector, X, y):
    """Validate a CuPy, torch or array-API array without leaving its device.

    ``X`` is handed to torch through DLPack (no copy); every check runs
    there, and only per-column counts come back to the host. ``y`` is
    small and is brought to NumPy (the CV splitters need it there).
    """
    from tabsift.backend import to_numpy

    X = _device_tensor(X)
    n_samples, n_features = X.shape
    for count, what in ((n_samples, "sample"), (n_features, "feature")):
        if count < 2:
            raise ValueError(
                f"Found array with {count} {what}(s) (shape={tuple(X.shape)}) while a "
                "minimum of 2 is required by KANSelector."
            )
    selector.n_features_in_ = n_features
    if hasattr(selector, "feature_names_in_"):
        del selector.feature_names_in_
    if X.is_floating_point():
        _check_non_finite_counts(
            selector, to_numpy(X.isnan().sum(dim=0)), to_numpy(X.isinf().sum(dim=0))
        )
    y = column_or_1d(to_numpy(y), warn=True)
    check_consistent_length(np.empty((n_samples, 0)), y)
    return X, y


def encode_target(y, task):
    """Return ``(classes, target)``: class indices and labels, or a float regression target."""
    if task == "classification":
        hint = " to tell features apart, or task='regression' for a numeric target"
        return class_codes(y, owner="KANSelector", hint=hint)
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"task='regression' needs a numeric target; y has dtype {y.dtype}. Pass "
            "task='classification' for class labels."
        ) from err
    if not np.isfinite(y).all():
        raise ValueError(
            f"y contains {int((~np.isfinite(y)).sum())} NaN or infinite values; drop those "
            "rows or impute the target first."
        )
    if np.ptp(y) == 0:
        raise ValueError(
            "y is constant, so no feature can explain it; KANSelector needs a target that "
            "varies."
        )
    return None, y


def check_kan_weights(sample_weight, n_samples, engine):
    """Return row weights as float64 NumPy, or None when absent or all equal (no effect)."""
    if sample_weight is None:
        return None
    if engine != "tabsift":
        raise ValueError(
            f"sample_weight needs engine='tabsift'; engine={engine!r} trains pykan's "
            "own network, whose loss and attribution scores take no row weights. Pass "
            "engine='tabsift', or repeat rows instead of weighting them."
        )
    if is_device_input(sample_weight):
        from tabsift.backend import to_numpy

        sample_weight = to_numpy(sample_weight)
    sample_weight = check_row_weights(sample_weight, n_samples, owner="KANSelector")
    if np.all(sample_weight == sample_weight[0]):
        return None  # equal weights scale every mean by nothing
    return sample_weight


def fold_weights(sample_weight, train, test, fold, n_folds):
    """Return the training and held-out rows' weights of a fold; each part needs some weight."""
    if sample_weight is None:
        return None, None
    w_train, w_test = sample_weight[train], sample_weight[test]
    for part, w in (("training", w_train), ("held-out", w_test)):
        if not w.sum() > 0:
            raise ValueError(
                f"KANSelector: the {part} rows of fold {fold + 1}/{n_folds} all have "
                "sample_weight 0 (the folds are drawn over rows, whatever their weight); "
                "give more rows a positive weight, pass fewer folds in cv, or drop the "
                "zero-weight rows."
            )
    return w_train, w_test


def take_columns_on_device(selector, X):
    """Return the selected columns of a device array, sliced where it lives (no host copy)."""
    from tabsift.backend import array_library, device, get_namespace, is_torch_tensor
    from tabsift.utils import transform_output

    config = transform_output(selector)
    if config != "default":
        raise ValueError(
            f"set_output(transform={config!r}) builds a host table, but X is a "
            f"{array_library(X)} array; pass a NumPy array (for CuPy, "
            "X.get()) or reset with set_output(transform='default')."
        )
    if X.ndim != 2 or X.shape[1] != selector.n_features_in_:
        raise ValueError(
            f"X has shape {tuple(X.shape)}, but KANSelector was fitted on "
            f"{selector.n_features_in_} features; pass the same columns as in fit."
        )
    columns = np.flatnonzero(selector.support_)
    if is_torch_tensor(X):
        import torch

        return X.index_select(1, torch.as_tensor(columns, device=X.device))
    xp = get_namespace(X)
    return xp.take(X, xp.asarray(columns, device=device(X)), axis=1)
