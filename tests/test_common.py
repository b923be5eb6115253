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
import sklearn
from packaging.version import parse as parse_version
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from estimator_discovery import discover_estimators
from tabsift.sampling import KCenterSelector

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
    "HybridCoresetSelector": {"n_samples": 0.5, "random_state": 0},
    "LLMChoiceSelector": {"n_samples": 0.2, "random_state": 0},
    # A coverage coreset of half the rows and a linear model: the checks test the API.
    "FitOnSelection": {
        "selector": KCenterSelector(n_samples=0.5, random_state=0),
        "estimator": LogisticRegression(),
    },
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
    # Its n_samples=0.5 is a fraction of the rows, and a table of repeated rows has more rows
    # than the weighted one, so the two coresets differ in size. With an int n_samples and
    # algorithm="exact" the coresets (rows and weights) are equal, and so are the models:
    # tests/test_sampling_weights.py::test_fit_on_selection_weighted_equals_repeated.
    "FitOnSelection": {
        "check_sample_weight_equivalence_on_dense_data": "n_samples=0.5 is a fraction of rows, "
        "not of weight: the repeated table keeps more rows (the int n_samples case is exact, "
        "see tests/test_sampling_weights.py)",
        "check_estimators_nan_inf": "missing values are the estimator's to refuse, and it "
        "sees only the kept rows: a NaN in a row the selector leaves out is never an error "
        "(checking X against the estimator's tags would refuse a Pipeline that imputes, "
        "whose tags do not say it accepts NaN)",
    },
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
    # The validation holdout and the forest's bootstraps are drawn over rows (a row of
    # weight k is one draw, k repeated rows are k draws), so the weighted and the
    # repeated fit are different runs. What is deterministic (a fixed tree's fitness,
    # leaf refits, split search, importances) is tested exactly against repeated rows,
    # and zero weights exactly against dropped rows, in tests/test_tree_sample_weight.py.
    **{
        name: {
            "check_sample_weight_equivalence_on_dense_data": "validation split and forest "
            "bootstraps are drawn over rows; exact per-tree equivalence is tested in "
            "tests/test_tree_sample_weight.py",
        }
        for name in ("EvolvedTreeClassifier", "EvolvedTreeRegressor")
    },
    # The residual agents draw a validation split over rows and run their folds on the
    # training part: repeating a row is not the same draw as weighting it, and the check's
    # cv (folds over all rows) cannot be folds of the training part. Every coefficient and
    # loss on a given split is tested against repeated rows in
    # tests/test_residual_sample_weight.py.
    **dict.fromkeys(
        ("ResidualAgentRegressor", "ResidualAgentClassifier"),
        {
            "check_sample_weight_equivalence_on_dense_data": "the validation split and the "
            "folds are drawn over rows, so weights are not repeated rows end to end; the "
            "fits and losses on a fixed split are (tests/test_residual_sample_weight.py)",
        },
    ),
    # The default metric, balanced accuracy, divides each class's weighted hits by that
    # class's total weight, so class weights cancel out of it by construction (as in
    # sklearn's balanced_accuracy_score with sample_weight). The check passes with
    # metric="accuracy": tests/test_rules_sample_weight.py::test_class_weight_check_passes_with_accuracy.
    "BooleanRuleClassifier": {
        "check_class_weight_classifiers": "class weights cancel out of the default metric "
        "(balanced accuracy); run with metric='accuracy' in tests/test_rules_sample_weight.py",
    },
}

# Permutation importance shuffles each column over the rows: a row of weight k is shuffled as
# one row, k repeated rows as k, so the weighted and the repeated fit draw different
# permutations and their scores differ by the shuffling noise. The check passes where the
# kept features' lead exceeds that noise (scikit-learn 1.9's check data), not in general;
# tests/test_feature_selection_sample_weight.py pins what is exact (the model's weighted fit
# and permutation_importance's weighted scoring).
EXPECTED_FAILED_CHECKS.setdefault("PermutationImportanceSelector", {})[
    "check_sample_weight_equivalence_on_dense_data"
] = "permutations are drawn per row, so weighted and repeated rows are shuffled differently"

# The floor that .ci/run also tests (scikit-learn 1.6): its check_positive_only_tag_during_fit
# casts X to int32 for an estimator tagged `categorical` that refuses NaN, then subtracts a
# float mean in place, which raises inside the check before the estimator is called
# (scikit-learn 1.7 fixed the check).
if parse_version(sklearn.__version__) < parse_version("1.7"):
    EXPECTED_FAILED_CHECKS.setdefault("KANSelector", {})[
        "check_positive_only_tag_during_fit"
    ] = "scikit-learn < 1.7: the check itself fails on int32 X for categorical-tagged estimators"


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
