"""KANSelector's folds: each fold's rows standardised by its training rows, ready to train.

A fold's inputs are standardised by the mean and standard deviation of its
training rows (weighted when row weights are given), a regression target
likewise; with early stopping a share of the training rows is set aside,
stratified where the classes allow. :func:`prepare_fold` returns a
:class:`Fold` of torch tensors on the training device.
"""

from typing import NamedTuple

import numpy as np

from tabsift.backend import column_mean_std


class Fold(NamedTuple):
    """One fold, standardised: what its network trains on and is scored on."""

    X_train: object
    y_train: object
    X_test: object
    y_test: object
    w_train: object
    w_test: object
    validation: object  # (X_val, y_val, w_val) with early stopping, else None
    mean: np.ndarray
    scale: np.ndarray
    y_stats: tuple  # (mean, scale) of a regression target; (0.0, 1.0) for classes


def _column_range(X):
    """Each column's minimum and maximum as NumPy arrays (X: NumPy array or torch tensor)."""
    if isinstance(X, np.ndarray):
        return X.min(axis=0), X.max(axis=0)
    low, high = X.aminmax(dim=0)
    return low.double().cpu().numpy(), high.double().cpu().numpy()


def _varying_features(x_min, x_max, groups, n_features):
    """Features whose values vary; raise when none does.

    With ``groups`` (each encoded column's feature) a feature varies when one
    of its encoded columns does (empty ones never do).
    """
    varies = x_max > x_min
    if groups is not None:
        by_column = np.zeros(n_features, dtype=bool)
        np.logical_or.at(by_column, groups, varies)
        varies = by_column
    if not varies.any():
        raise ValueError("every column of X is constant; there is nothing to select from.")
    return varies


def _standardised_fold(X, train, test, device, as_is=None, weight=None):
    """Return a fold's rows standardised by its training rows, as float32 tensors on ``device``.

    ``X`` is a float64 NumPy array or a torch tensor (then every step runs on
    its device). Returns ``(X_train, X_test, mean, scale)``, the last two as
    NumPy arrays; a column constant on the training rows keeps scale 1.
    Columns marked in ``as_is`` (NumPy input only) keep their values (mean 0,
    scale 1). With ``weight`` (the training rows' weights, a NumPy array) the
    mean and standard deviation are weighted, as over rows repeated by their
    weights.
    """
    import torch

    if isinstance(X, np.ndarray):
        rows, held = X[train], X[test]
    else:
        rows = X.index_select(0, torch.as_tensor(train, device=X.device)).double()
        held = X.index_select(0, torch.as_tensor(test, device=X.device)).double()
    if weight is None and isinstance(X, np.ndarray):
        mean, scale = column_mean_std(rows)
    elif weight is None:
        mean, scale = rows.mean(dim=0), rows.std(dim=0, correction=0)
    elif isinstance(X, np.ndarray):
        mean = np.average(rows, axis=0, weights=weight)
        scale = np.sqrt(np.average((rows - mean) ** 2, axis=0, weights=weight))
    else:
        w = torch.as_tensor(weight, dtype=torch.float64, device=rows.device).unsqueeze(1)
        mean = (rows * w).sum(dim=0) / w.sum()
        scale = (((rows - mean) ** 2 * w).sum(dim=0) / w.sum()).sqrt()
    scale[~(scale > 0)] = 1.0
    if isinstance(X, np.ndarray):
        if as_is is not None:
            mean[as_is], scale[as_is] = 0.0, 1.0
        X_train = torch.as_tensor((rows - mean) / scale, dtype=torch.float32, device=device)
        X_test = torch.as_tensor((held - mean) / scale, dtype=torch.float32, device=device)
        return X_train, X_test, mean, scale
    X_train = ((rows - mean) / scale).to(device=device, dtype=torch.float32)
    X_test = ((held - mean) / scale).to(device=device, dtype=torch.float32)
    return X_train, X_test, mean.cpu().numpy(), scale.cpu().numpy()


def _validation_split(y_train, fraction, seed, classification):
    """Positions of a fold's training rows kept for training and set aside for stopping."""
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(y_train))
    if classification:
        try:
            return train_test_split(
                positions, test_size=fraction, random_state=seed, stratify=y_train
            )
        except ValueError:
            pass  # a class too small to stratify: a plain split below
    return train_test_split(positions, test_size=fraction, random_state=seed)


def _standardised_target(y_train, y_test, w_train):
    """Return a regression target standardised by the training rows: (y_train, y_test, (mean, scale))."""
    if w_train is None:
        y_mean, y_scale = y_train.mean(), y_train.std()
    else:
        y_mean = np.average(y_train, weights=w_train)
        y_scale = np.sqrt(np.average((y_train - y_mean) ** 2, weights=w_train))
    y_scale = y_scale if y_scale > 0 else 1.0
    return (y_train - y_mean) / y_scale, (y_test - y_mean) / y_scale, (y_mean, y_scale)


def prepare_fold(X, target, train, test, *, task, device, as_is, weights, validation, seed):
    """Standardise one fold and set aside its early-stopping rows.

    Parameters
    ----------
    X : ndarray or torch.Tensor of shape (n_samples, n_inputs)
    target : ndarray of shape (n_samples,)
        Class indices or the numeric target.
    train, test : ndarray of int
        The fold's training and held-out rows.
    task : {"classification", "regression"}
    device : torch.device
    as_is : ndarray of bool or None
        Inputs kept unstandardised (one-hot indicators).
    weights : tuple
        The training and held-out rows' weights, ``(None, None)`` without weights.
    validation : float or None
        Share of the training rows set aside for early stopping; None for none.
    seed : int
        The fold's seed (draws the early-stopping rows).

    Returns
    -------
    fold : Fold
    """
    import torch

    w_train, w_test = weights
    X_train, X_test, mean, scale = _standardised_fold(X, train, test, device, as_is, weight=w_train)
    y_train, y_test = target[train], target[test]
    y_stats = (0.0, 1.0)
    if task == "regression":
        y_train, y_test, y_stats = _standardised_target(y_train, y_test, w_train)
    y_dtype = torch.int64 if task == "classification" else torch.float32
    held_out = None
    if validation is not None:
        # From the fold's seed, leaving the selector's random stream as it was.
        keep, held = _validation_split(target[train], validation, seed, task == "classification")
        held_out = (
            X_train[torch.as_tensor(held, device=X_train.device)],
            torch.as_tensor(y_train[held], dtype=y_dtype, device=device),
            None if w_train is None else w_train[held],
        )
        X_train = X_train[torch.as_tensor(keep, device=X_train.device)]
        y_train = y_train[keep]
        w_train = None if w_train is None else w_train[keep]
    return Fold(
        X_train,
        torch.as_tensor(y_train, dtype=y_dtype, device=device),
        X_test,
        torch.as_tensor(y_test, dtype=y_dtype, device=device),
        w_train,
        w_test,
        held_out,
        mean,
        scale,
        (float(y_stats[0]), float(y_stats[1])),
    )
