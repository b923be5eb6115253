"""Checks on numbers read from files and model replies."""

import math
import numbers

import numpy as np


def is_finite_number(value):
    """Return True for a finite int or float that is not a bool.

    An int too large for a float (4,000 digits, from a file or an LLM) is not
    finite here, instead of raising ``OverflowError``.

    Examples
    --------
    >>> from tabsift.utils._numbers import is_finite_number
    >>> [is_finite_number(v) for v in (1, 2.5, True, float("nan"), 10**4000, "3")]
    [True, True, False, False, False, False]
    """
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
