"""How evaluate_selectors reads a ranking from a fitted selector, and fits it per fold.

A selector that exposes one score per feature (or a ranking) is fit once per
training fold and every retention level is read from it; one with only a
support mask is refit per level.
"""

import time
from operator import attrgetter

import numpy as np
from sklearn.base import clone

from tabsift.table import TableError
from tabsift.utils import safe_indexing


def _importance_from_getter(selector):
    """Return the importances of a fitted SelectFromModel-like selector (estimator_ + importance_getter)."""
    estimator = getattr(selector, "estimator_", None)
    getter = getattr(selector, "importance_getter", "auto")
    if estimator is None:
        return None
    if callable(getter):
        return getter(estimator)
    if getter == "auto":
        for attr in ("coef_", "feature_importances_"):
            if hasattr(estimator, attr):
                return getattr(estimator, attr)
        return None
    try:
        return attrgetter(getter)(estimator)
    except AttributeError:
        return None


def _ranking_scores(selector, n_features):
    """Scores (higher is better) of every feature from a fitted selector, or None.

    Looked up in this order: ``scores_``, ``feature_importances_``, ``|coef_|``
    (summed over rows when 2-D), ``-ranking_``, then the importances of the
    inner ``estimator_`` as ``SelectFromModel`` reads them. An attribute that
    does not hold one value per input feature is skipped (RFE's ``estimator_``
    only sees the kept features).
    """

    def as_scores(values, absolute):
        values = np.asarray(values, dtype=float)
        if absolute:
            values = np.abs(values)
            if values.ndim == 2:
                values = values.sum(axis=0)
        if values.shape != (n_features,):
            return None
        # NaN scores (e.g. an F-test on a constant column) rank last.
        return np.where(np.isnan(values), -np.inf, values)

    candidates = [
        (getattr(selector, "scores_", None), False),
        (getattr(selector, "feature_importances_", None), False),
        (getattr(selector, "coef_", None), True),
    ]
    ranking = getattr(selector, "ranking_", None)
    candidates.append((None if ranking is None else -np.asarray(ranking, float), False))
    candidates.append((_importance_from_getter(selector), True))
    for values, absolute in candidates:
        if values is not None:
            scores = as_scores(values, absolute)
            if scores is not None:
                return scores
    return None


def select(name, selector, X, y, train, ks, n_features, text_columns=()):
    """Fit ``selector`` on the training rows once; return ({k: columns}, fit seconds)."""
    X_train, y_train = safe_indexing(X, train), y[train]
    settable = "n_features_to_select" in selector.get_params(deep=False)

    def fitted(k):
        sel = clone(selector)
        if settable:
            sel.set_params(n_features_to_select=k)
        if not text_columns:
            return sel.fit(X_train, y_train)
        try:
            return sel.fit(X_train, y_train)
        except (ValueError, TypeError) as err:
            if isinstance(err, TableError):
                raise
            listed = ", ".join(map(repr, text_columns[:5]))
            raise TableError(
                f"selector {name!r} ({type(selector).__name__}) could not fit the table, whose "
                f"columns {listed}{' ...' if len(text_columns) > 5 else ''} hold text or "
                f"categories: {str(err).rstrip('.')}. Use tabsift's selectors (KANSelector, ShapSelector, "
                "PermutationImportanceSelector), which rank the columns of a mixed table, or "
                "encode the table first."
            ) from err

    start = time.perf_counter()
    sel = fitted(ks[0])
    fit_time = time.perf_counter() - start
    scores = _ranking_scores(sel, n_features)
    if scores is not None:
        order = np.argsort(-scores, kind="stable")
        return {k: tuple(sorted(order[:k].tolist())) for k in ks}, fit_time
    if not settable:
        raise TypeError(
            f"selector {name!r} ({type(selector).__name__}) exposes no per-feature scores "
            f"(scores_, feature_importances_, coef_, ranking_) and has no "
            f"n_features_to_select parameter, so evaluate_selectors cannot make it keep a "
            f"given number of features."
        )
    # Only a support mask: one fit per retention level.
    columns = {ks[0]: tuple(np.flatnonzero(sel.get_support()).tolist())}
    for k in ks[1:]:
        start = time.perf_counter()
        columns[k] = tuple(np.flatnonzero(fitted(k).get_support()).tolist())
        fit_time += time.perf_counter() - start
    return columns, fit_time
