"""scikit-learn's common estimator checks on every public tabsift estimator.

Estimators are found by discovery: every class exported in the ``__all__`` of
a public tabsift subpackage that derives from ``BaseEstimator``. A new family
is covered as soon as it exports its estimators; it only edits this file to
give check-time parameters (e.g. a small ``n_generations``) or an expected
failure, always with a written reason.
"""

import inspect

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from estimator_discovery import discover_estimators

# Parameters that keep the common checks fast: {class name: dict of params}.
CHECK_PARAMS = {
    # target is data: a 3-column sample (the width most checks use), few buckets.
    "ImportanceResampler": {
        "target": [[0.0, 1.0, 2.0], [1.0, 0.5, 0.0], [0.5, 2.0, 1.0], [2.0, 0.0, 0.5]],
        "n_samples": 0.5, "num_buckets": 64, "random_state": 0,
    },
    # Coreset selectors: small budgets, few swaps / epochs; the checks test the API.
    "KCenterSelector": {"n_samples": 0.5, "random_state": 0},
    "OTCoresetSelector": {"n_samples": 0.3, "validation": 0.3, "max_swaps": 2, "random_state": 0},
    "GraphAttentionSelector": {"reduction": 0.5, "epochs": 5, "hidden": 4, "random_state": 0},
    "StratifiedRandomSelector": {"n_samples": 0.5, "random_state": 0},
    "LLMChoiceSelector": {"n_samples": 0.2, "random_state": 0},
    # Tiny networks and 2 folds: the checks test the API, not the quality of the scores.
    "KANSelector": {"epochs": 3, "cv": 2, "hidden_width": 3, "random_state": 0},
    "ShapSelector": {"n_estimators": 10, "max_depth": 2},
    "PermutationImportanceSelector": {
        "estimator": RandomForestClassifier(n_estimators=5, random_state=0),
        "n_repeats": 2,
    },
    # Few moves and starts: the checks test the API, not how good the rule is.
    "BooleanRuleClassifier": {"n_iterations": 60, "n_starts": 2, "random_state": 0},
    "Binarizer": {"n_thresholds": 3},
    # Few small generations: the checks test the API, not how far evolution gets.
    "EvolvedTreeClassifier": {"population_size": 6, "n_generations": 2, "random_state": 0},
    "EvolvedTreeRegressor": {"population_size": 6, "n_generations": 2, "random_state": 0},
    # Offline proposer, linear bases, 2 folds, one round: the checks test the API.
    "ResidualAgentRegressor": {
        "base_estimator": LinearRegression(), "cv": 2, "n_rounds": 1, "n_jobs": 1, "random_state": 0
    },
    "ResidualAgentClassifier": {
        "base_estimator": LogisticRegression(), "cv": 2, "n_rounds": 1, "n_jobs": 1, "random_state": 0
    },
    # A prefit base and its corrections. Its tags skip the common checks, as sklearn's
    # FrozenEstimator's do: the checks fit on their own data, but a frozen model only reads
    # the table it was fit on (tests/test_frozen_estimator.py tests its estimator API).
    "FrozenCorrections": {
        "base_estimator": LinearRegression().fit(np.eye(3), np.arange(3.0)),
        "corrections": {
            "format": "tabsift.residual.corrections", "version": 1, "task": "regression",
            "feature_names": ["x0", "x1", "x2"], "intercept": 0.0,
            "corrections": [{"expression": "x0 * x1", "coefficient": 0.5}],
        },
    },
}

# Checks an estimator is expected to fail: {class name: {check name: reason}}.
EXPECTED_FAILED_CHECKS = {
    # target is data with a fixed number of columns (3 here); these checks fit pools of
    # another width, which is rightly an error (array columns match by position).
    # tests/test_dsir.py::test_common_check_with_a_target_of_its_width runs each of them
    # with a target as wide as the check's data, where they pass.
    "ImportanceResampler": dict.fromkeys(
        (
            "check_estimators_overwrite_params", "check_estimators_fit_returns_self",
            "check_readonly_memmap_input", "check_n_features_in_after_fitting",
            "check_positive_only_tag_during_fit", "check_estimators_dtypes",
            "check_dtype_object", "check_fit2d_1sample", "check_fit2d_1feature",
            "check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in",
        ),
        "target is 3-column data; the check's pool has another width (run with a matching "
        "target in tests/test_dsir.py)",
    ),
}


ESTIMATORS = discover_estimators()


def _instances():
    for name, cls in ESTIMATORS:
        yield cls(**CHECK_PARAMS.get(name, {}))


def _expected_failed(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def test_discovery_finds_estimators_and_nothing_else():
    names = [name for name, _ in ESTIMATORS]
    assert "FormulaTransformer" in names
    for name, cls in ESTIMATORS:
        assert not name.startswith("_")
        assert issubclass(cls, BaseEstimator)
    # Every configured name refers to a discovered estimator (no stale entries).
    assert set(CHECK_PARAMS) <= set(names)
    assert set(EXPECTED_FAILED_CHECKS) <= set(names)


@parametrize_with_checks(list(_instances()), expected_failed_checks=_expected_failed)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# Estimators whose second parameter stays positional: {class name: reason}.
POSITIONAL_EXEMPT = {
    "FrozenCorrections": "FrozenCorrections(base_estimator, corrections) was public API before it "
    "became an estimator; callers (the demo CLI, tests, the user guide) pass both positionally",
}


@pytest.mark.parametrize("name,cls", ESTIMATORS, ids=[n for n, _ in ESTIMATORS])
def test_init_only_stores_parameters(name, cls):
    # STYLE.md: keyword-only parameters after the first, no **kwargs, no work in __init__.
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert all(p.kind is not p.VAR_KEYWORD for p in params), f"{name} takes **kwargs"
    keyword_only_from = 2 if name in POSITIONAL_EXEMPT else 1
    assert all(p.kind is not p.POSITIONAL_OR_KEYWORD for p in params[keyword_only_from:]), (
        f"{name}: parameters after the first must be keyword-only"
    )
    est = cls(**CHECK_PARAMS.get(name, {}))
    assert set(vars(est)) == set(est.get_params(deep=False))
