"""What BooleanRuleClassifier's parameters may be: their constraints and the checks across them.

scikit-learn's ``_parameter_constraints`` checks each parameter on its own
(``fit_context``); :func:`check_settings` checks what no single constraint can
say, such as ``temp_low`` not exceeding ``temp_high``.
"""

import numbers

from tabsift.rules._binarizer import Binarizer
from tabsift.rules._nodes import OPERATORS
from tabsift.rules._scoring import METRICS
from tabsift.utils import VERBOSE_CONSTRAINT, Interval, StrOptions

PARAMETER_CONSTRAINTS = {
    "max_depth": [Interval(numbers.Integral, 1, None, closed="left")],
    "max_complexity": [Interval(numbers.Integral, 3, None, closed="left")],
    "operators": [tuple, list],
    "regularization": [Interval(numbers.Real, 0, None, closed="left")],
    "metric": [StrOptions(set(METRICS)), callable],
    "class_weight": [StrOptions({"balanced"}), dict, None],
    "n_iterations": [Interval(numbers.Integral, 0, None, closed="left")],
    "n_starts": [Interval(numbers.Integral, 1, None, closed="left")],
    "max_samples": [Interval(numbers.Integral, 2, None, closed="left"), None],
    "temp_high": [Interval(numbers.Real, 0, None, closed="neither")],
    "temp_low": [Interval(numbers.Real, 0, None, closed="neither")],
    "threshold_moves": ["boolean"],
    "polish": ["boolean"],
    "refine_thresholds": ["boolean"],
    "binarizer": [Binarizer, None],
    "llm": "no_validation",
    "feature_descriptions": [dict, None],
    "llm_feature_selection": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "on_llm_error": [StrOptions({"fallback", "raise"})],
    "n_jobs": [numbers.Integral, None],
    "random_state": ["random_state"],
    "verbose": VERBOSE_CONSTRAINT,
}


def check_settings(estimator):
    """Raise a ValueError naming the parameter when the parameters do not fit together."""
    unknown = [op for op in estimator.operators if op not in OPERATORS]
    if unknown or not estimator.operators:
        raise ValueError(
            f"operators must be a non-empty subset of {OPERATORS}; found "
            f"{tuple(estimator.operators)!r}."
        )
    if estimator.temp_low > estimator.temp_high:
        raise ValueError(
            f"temp_low ({estimator.temp_low}) must not exceed temp_high "
            f"({estimator.temp_high}): the schedule cools from temp_high to temp_low."
        )
    if estimator.llm_feature_selection is not None and estimator.llm is None:
        raise ValueError(
            "llm_feature_selection needs an LLM client: pass llm=LLMClient(...), or leave "
            "llm_feature_selection=None."
        )
