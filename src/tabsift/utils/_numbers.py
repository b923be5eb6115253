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


def plain(value):
    """Return a NumPy scalar as the Python value it holds; any other value as it is.

    For messages and JSON: a label reads ``1`` or ``'yes'``, not ``np.int64(1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.utils import plain
    >>> plain(np.int64(1)), plain(np.str_("yes")), plain("as is")
    (1, 'yes', 'as is')
    """
    return value.item() if isinstance(value, np.generic) else value
