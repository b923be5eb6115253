"""The steps of BooleanRuleClassifier.fit, in order: check, weigh, binarise, choose, search.

Each step sets the fitted attributes it owns on the estimator; the search itself
is :mod:`._orchestration`'s and the decision state :mod:`._decision`'s.
"""

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_consistent_length, column_or_1d

from tabsift.llm import LLMFallbackWarning
from tabsift.rules._binarizer import Binarizer
from tabsift.rules._classifier_params import check_settings
from tabsift.rules._columns import check_input, input_names
from tabsift.rules._decision import decision_state
from tabsift.rules._literals import host_literals
from tabsift.rules._llm_columns import fit_session, llm_select
from tabsift.rules._orchestration import search_rules
from tabsift.rules._prune import column_importances
from tabsift.rules._scoring import Scorer
from tabsift.rules._weights import fit_weights
from tabsift.table import check_column_names, check_target, class_codes

_OWNER = "BooleanRuleClassifier"


def fit_classifier(estimator, X, y, sample_weight):
    """Fit ``estimator`` (a BooleanRuleClassifier) on ``X``, ``y``; return it."""
    check_settings(estimator)
    X, y = _check_data(estimator, X, y)
    weights = fit_weights(estimator, X, y, sample_weight, owner=_OWNER)
    if weights is not None:
        # A row of weight 0 is not there: every step sees the same rows as a fit on the
        # rows of positive weight, repeated by their weight.
        keep = weights > 0
        X, y, weights = _take(X, keep), y[keep], weights[keep]
    y_idx = np.searchsorted(estimator.classes_, y)
    Z = _binarize_and_choose_columns(estimator, X, y, weights)
    _search(estimator, X, Z, y_idx, weights)
    return estimator


def _take(X, rows):
    """Return the rows ``rows`` (a boolean mask) of a DataFrame or an array."""
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _check_data(estimator, X, y):
    """Return ``X`` and ``y`` checked, with ``classes_`` set (at least 2 classes)."""
    if y is None:
        raise ValueError(f"{_OWNER} requires y to be passed, but the target y is None.")
    check_column_names(X, owner=_OWNER)
    X = check_input(estimator, X, reset=True)
    y = column_or_1d(y, warn=True)
    check_target(y, owner=_OWNER)
    check_consistent_length(X, y)
    estimator.classes_ = class_codes(y, owner=_OWNER)[0]
    return X, y


def _binarize_and_choose_columns(estimator, X, y, weights):
    """Fit the binariser and choose the columns the rule may use; return the literal matrix.

    Sets ``binarizer_``, ``selected_features_`` and ``llm_feature_selection_``, and
    finishes the fit's LLM session (``llm_report_``).
    """
    binarizer = clone(estimator.binarizer) if estimator.binarizer is not None else Binarizer()
    with warnings.catch_warnings():
        # The binariser's LLM record joins this estimator's: one warning, from finish().
        warnings.simplefilter("ignore", LLMFallbackWarning)
        if weights is None:
            binarizer.fit(X)
        else:
            binarizer.fit(X, sample_weight=weights)
    # The search runs on NumPy whatever the configured array backend (see _search.py).
    Z = host_literals(binarizer, X)
    session = fit_session(estimator, binarizer)
    check_consistent_length(Z, y)
    estimator.binarizer_ = binarizer
    names = input_names(estimator)
    estimator.selected_features_ = names
    estimator.llm_feature_selection_ = None
    if estimator.llm_feature_selection is not None:
        estimator.selected_features_, estimator.llm_feature_selection_ = llm_select(
            estimator, session, names, y
        )
    if binarizer.llm_report_.failed:
        session.report.failed = True
    session.finish(estimator, what="the offline method (quantile thresholds, every column)")
    return Z


def _search(estimator, X, Z, y_idx, weights):
    """Search the rule(s) and set the rule, score, decision and importance attributes."""
    n_classes = estimator.classes_.size
    targets = [1] if n_classes == 2 else list(range(n_classes))
    rules, scores, start_rules, start_scores, Z = search_rules(
        estimator, X, Z, y_idx, targets, weights
    )
    estimator.precision_, estimator._fallback, estimator._cell_freq = decision_state(
        rules, Z, y_idx, n_classes, weights
    )
    estimator.fallback_class_ = estimator.classes_[estimator._fallback]
    scorers = [Scorer(y_idx == target, estimator.metric, weights) for target in targets]
    estimator.feature_importances_ = column_importances(
        rules, Z, scorers, input_names(estimator)
    )
    if n_classes == 2:
        estimator.rule_, estimator.score_ = rules[0], float(scores[0])
        estimator.rules_ = start_rules[0]
        estimator.start_scores_ = np.asarray(start_scores[0])
    else:
        estimator.rule_, estimator.score_ = rules, np.asarray(scores)
        estimator.rules_, estimator.start_scores_ = start_rules, np.asarray(start_scores)
