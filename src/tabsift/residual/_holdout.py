"""The training and validation parts of a residual fit, and the base model's outputs on them.

The rows are split once into a training part and a validation part. On the
training part the base model's outputs are out-of-fold (so residuals are not
the in-sample ones a model has memorised); on the validation part they come
from a base model fit on the training part. :func:`make_workspace` gathers
both into the :class:`~tabsift.residual._workspace.Workspace` the proposers
search in.
"""

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import cross_val_predict

from tabsift.residual._correction import column_data
from tabsift.residual._workspace import Workspace

# Fewer validation rows than this (or too few training rows for the folds) and
# no correction is searched: the base model is used as it is.
MIN_VALIDATION_ROWS = 5


def rows(X, index):
    """Rows ``index`` of an array or a DataFrame (the base model's input)."""
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def part(weights, index):
    """Return the weights of rows ``index`` (None stays None)."""
    return None if weights is None else weights[index]


def fit_base(base, X, y, weights):
    """Fit ``base`` on ``(X, y)``, with ``sample_weight`` only when there are weights."""
    if weights is None:
        return base.fit(X, y)
    return base.fit(X, y, sample_weight=weights)


def search_problem(n, y, *, validation_fraction, n_splits, classification):
    """Why ``n`` rows cannot be split for a search (None when they can).

    The validation part needs :data:`MIN_VALIDATION_ROWS` rows, the training
    part two rows per fold and, for classification, the rarest class enough
    rows for the stratified split and the folds.
    """
    n_val = int(np.ceil(validation_fraction * n))
    n_train = n - n_val
    if n_val < MIN_VALIDATION_ROWS or n_train < 2 * n_splits:
        return (
            f"{n} rows are too few to hold out {validation_fraction:.0%} for "
            f"validation and run {n_splits}-fold cross-validation on the rest"
        )
    if classification:
        counts = np.bincount(y)
        if counts.min() < n_splits + 2:
            return (
                f"the rarest class has {counts.min()} rows; at least {n_splits + 2} are "
                "needed for the validation split and the folds"
            )
    return None


def weighted_split_problem(weights, train, val, n_splits):
    """Why the weighted parts cannot be searched (too few rows of positive weight), or None.

    A row of weight 0 is no row at all: the parts need as many rows of positive
    weight as :func:`search_problem` asks of rows.
    """
    if weights is None:
        return None
    needed = {"training": 2 * n_splits, "validation": MIN_VALIDATION_ROWS}
    for name, index in (("training", train), ("validation", val)):
        positive = int((weights[index] > 0).sum())
        if positive < needed[name]:
            return (
                f"the {name} part has {positive} row(s) with a positive sample_weight, "
                f"fewer than the {needed[name]} needed; give more rows a positive weight"
            )
    return None


def weighted_oof(base, splitter, X, y, weights, n_classes):
    """Out-of-fold outputs of ``base`` fit with each fold's weights.

    The folds are drawn over rows, as without weights; each fold's base model is
    fit with the weights of its rows. ``n_classes`` is None for regression
    (predictions) and the number of classes for classification (probabilities).
    """
    oof = np.zeros(len(y)) if n_classes is None else np.zeros((len(y), n_classes))
    for fold_train, fold_test in splitter.split(X, y):
        model = fit_base(clone(base), rows(X, fold_train), y[fold_train], weights[fold_train])
        if n_classes is None:
            oof[fold_test] = model.predict(rows(X, fold_test))
        else:
            # A fold may lack a class: its column stays 0, as in cross_val_predict.
            classes = np.asarray(model.classes_, dtype=np.int64)
            oof[np.ix_(fold_test, classes)] = model.predict_proba(rows(X, fold_test))
    return oof


def make_workspace(task, base, splitter, numbers, X_base, y, parts, names, n_classes, weights):
    """Return the :class:`Workspace` of one fit.

    Parameters
    ----------
    task : {"regression", "classification"}
    base : estimator
        The unfitted base model; clones of it are fit here.
    splitter : cross-validation generator
        Folds for the out-of-fold outputs on the training part.
    numbers : ndarray of shape (n_samples, n_numbers)
        The number columns the formulas read.
    X_base : ndarray or DataFrame
        What the base model reads.
    y : ndarray of shape (n_samples,)
        The target (class positions for classification).
    parts : tuple of ndarray
        Row indices ``(train, val)``.
    names : list of str
        Names of the columns of ``numbers``.
    n_classes : int or None
        None for regression.
    weights : tuple
        ``(weights, base_weights)``: the rows' weights for the corrections and
        for the base model's fits (either None: unweighted).

    Returns
    -------
    workspace : Workspace
    """
    train, val = parts
    weights, base_weights = weights
    method = "predict" if task == "regression" else "predict_proba"
    X_train, X_val = rows(X_base, train), rows(X_base, val)
    if base_weights is None:
        oof = cross_val_predict(clone(base), X_train, y[train], cv=splitter, method=method)
    else:
        oof = weighted_oof(base, splitter, X_train, y[train], base_weights[train], n_classes)
    held = fit_base(clone(base), X_train, y[train], part(base_weights, train))
    base_val = getattr(held, method)(X_val)
    return Workspace(
        task,
        column_data(numbers[train], names),
        column_data(numbers[val], names),
        y[train],
        y[val],
        np.asarray(oof, dtype=np.float64),
        np.asarray(base_val, dtype=np.float64),
        n_classes,
        w_train=part(weights, train),
        w_val=part(weights, val),
    )
