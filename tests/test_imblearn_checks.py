"""imbalanced-learn's sampler checks on every public tabsift row selector.

Row selectors are found by discovery: the classes in ``tabsift.sampling.__all__``
that have ``fit_resample``. They run imbalanced-learn's
``parametrize_with_checks`` next to scikit-learn's (``tests/test_common.py``),
with check-time parameters like its ``CHECK_PARAMS``. Expected failures are balancing-specific
checks only, each with a written reason: these selectors choose a subset of
rows that stands for the data; they do not balance classes.
"""

import inspect

import numpy as np
import pytest
from imblearn.utils import estimator_checks
from imblearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks

import tabsift.sampling
from tabsift.sampling import ImportanceResampler

# Check-time parameters, as in tests/test_common.py: small budgets, few swaps / epochs;
# the checks test the API, not the quality of the selection.
CHECK_PARAMS = {
    "KCenterSelector": {"n_samples": 0.5, "random_state": 0},
    "OTCoresetSelector": {"n_samples": 0.3, "validation": 0.3, "max_swaps": 2, "random_state": 0},
    "GraphAttentionSelector": {"reduction": 0.5, "epochs": 5, "hidden": 4, "random_state": 0},
    "StratifiedRandomSelector": {"n_samples": 0.5, "random_state": 0},
    "HybridCoresetSelector": {"n_samples": 0.5, "random_state": 0},
    "LLMChoiceSelector": {"n_samples": 0.2, "random_state": 0},
}

SELECTORS = sorted(
    (name, getattr(tabsift.sampling, name))
    for name in tabsift.sampling.__all__
    if inspect.isclass(getattr(tabsift.sampling, name))
    and hasattr(getattr(tabsift.sampling, name), "fit_resample")
)

# Balancing-specific checks. imbalanced-learn refuses what cannot be balanced; a selector
# chooses rows that stand for the data and has no such limit.
ONE_LABEL = (
    "balancing-specific: a balancing sampler cannot balance one class and must raise; a "
    "selector picks representative rows of a one-class table as of any other"
)
TARGET_TYPE = (
    "balancing-specific: imbalanced-learn refuses a continuous y because balancing needs "
    "classes; this selector's settings do not read y (it is carried along with the rows), "
    "so a regression target is valid"
)

# Checks a selector is expected to fail: {class name: {check name: reason}}.
EXPECTED_FAILED_CHECKS = {
    "GraphAttentionSelector": {"check_samplers_one_label": ONE_LABEL},
    "ImportanceResampler": {
        "check_samplers_one_label": ONE_LABEL, "check_target_type": TARGET_TYPE,
    },
    "KCenterSelector": {"check_samplers_one_label": ONE_LABEL, "check_target_type": TARGET_TYPE},
    "LLMChoiceSelector": {"check_samplers_one_label": ONE_LABEL},
    "OTCoresetSelector": {
        "check_samplers_one_label": ONE_LABEL,
        "check_target_type": (
            "balancing-specific: imbalanced-learn refuses a continuous y because balancing "
            "needs classes; OTCoresetSelector's proxy model reads a regression y as such"
        ),
    },
    "StratifiedRandomSelector": {"check_samplers_one_label": ONE_LABEL},
    "HybridCoresetSelector": {"check_samplers_one_label": ONE_LABEL},
}


# ImportanceResampler's target is data as wide as the pool (array columns match by
# position), so each check runs with a target of its data's width (tests/test_dsir.py
# does the same for scikit-learn's checks): {check name: width of the check's X}.
IMPORTANCE_RESAMPLER_WIDTHS = {
    "check_target_type": 2, "check_samplers_one_label": 2, "check_samplers_fit": 2,
    "check_samplers_fit_resample": 20, "check_samplers_sampling_strategy_fit_resample": 20,
    "check_samplers_pandas": 20, "check_samplers_pandas_sparse": 20,
    "check_samplers_string": 1, "check_samplers_nan": 1, "check_samplers_list": 20,
    "check_samplers_multiclass_ova": 20, "check_samplers_preserve_dtype": 20,
    "check_samplers_sample_indices": 20, "check_samplers_2d_target": 20,
    "check_sampler_get_feature_names_out": 3, "check_sampler_get_feature_names_out_pandas": 3,
}
# Tokens are hashed with their column's name, so an array pool (columns x0, x1, ...) and a
# DataFrame pool share weights only when no two tokens collide: many buckets for the
# checks that compare them.
MANY_BUCKETS = {"check_samplers_pandas", "check_samplers_pandas_sparse"}


def _importance_resampler(width, num_buckets=64):
    target = np.random.RandomState(0).uniform(size=(4, width)).tolist()
    return ImportanceResampler(target, n_samples=0.5, num_buckets=num_buckets, random_state=0)


def _instances():
    for name, cls in SELECTORS:
        if cls is not ImportanceResampler:
            yield cls(**CHECK_PARAMS.get(name, {}))


def _expected_failed(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def test_discovery_finds_every_row_selector():
    names = [name for name, _ in SELECTORS]
    # Everything public with fit_resample; FitOnSelection (a model) and the displays are not.
    samplers = sorted(n for n in tabsift.sampling.__all__
                      if hasattr(getattr(tabsift.sampling, n), "fit_resample"))
    assert names == samplers
    assert "KCenterSelector" in names and "FitOnSelection" not in names
    assert set(EXPECTED_FAILED_CHECKS) <= set(names)


@parametrize_with_checks(list(_instances()), expected_failed_checks=_expected_failed)
def test_imblearn_compatible_sampler(estimator, check):
    check(estimator)


def test_importance_resampler_runs_every_imblearn_check():
    checks = estimator_checks_generator(_importance_resampler(2), mark=None)
    names = [getattr(check, "func", check).__name__ for _, check in checks]
    assert sorted(names) == sorted(IMPORTANCE_RESAMPLER_WIDTHS)


@pytest.mark.parametrize("check_name", sorted(IMPORTANCE_RESAMPLER_WIDTHS))
def test_importance_resampler_imblearn_check(check_name):
    reason = EXPECTED_FAILED_CHECKS["ImportanceResampler"].get(check_name)
    if reason is not None:
        pytest.xfail(reason)  # the check is run below only when it is expected to pass
    sampler = _importance_resampler(
        IMPORTANCE_RESAMPLER_WIDTHS[check_name],
        num_buckets=2**24 if check_name in MANY_BUCKETS else 64,
    )
    getattr(estimator_checks, check_name)("ImportanceResampler", sampler)


@pytest.mark.parametrize("check_name", sorted(EXPECTED_FAILED_CHECKS["ImportanceResampler"]))
def test_importance_resampler_expected_failures_do_fail(check_name):
    sampler = _importance_resampler(IMPORTANCE_RESAMPLER_WIDTHS[check_name])
    with pytest.raises(AssertionError):
        getattr(estimator_checks, check_name)("ImportanceResampler", sampler)
