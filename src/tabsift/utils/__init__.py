"""Small shared utilities: optional imports, atomic file writes, progress bars.

The second group of names is what tabsift's own packages share (the row-weight
check, figure and number helpers, and, outside ``__all__``, scikit-learn's
parameter-validation names through one compatibility module). Every package
imports them from here, so no package reaches into another's private modules.
"""

from tabsift.utils._atomic import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    set_write_guard,
    stale_temp_files,
)
from tabsift.utils._csv import neutralise_formulas
from tabsift.utils._figures import new_figure
from tabsift.utils._numbers import is_finite_number, plain as plain
from tabsift.utils._optional import import_optional_dependency
from tabsift.utils._progress import (
    VERBOSE_CONSTRAINT as VERBOSE_CONSTRAINT,
    progress,
    progress_settings,
)
from tabsift.utils._sklearn_compat import (
    HasMethods as HasMethods,
    Interval as Interval,
    RealNotInt as RealNotInt,
    StrOptions as StrOptions,
    check_sample_weight,
    fit_context as fit_context,
    routing_enabled as routing_enabled,
    safe_indexing as safe_indexing,
    transform_output as transform_output,
)
from tabsift.utils._weights import check_row_weights

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "import_optional_dependency",
    "neutralise_formulas",
    "progress",
    # shared by tabsift's packages
    "check_row_weights",
    "check_sample_weight",
    "is_finite_number",
    "new_figure",
    "progress_settings",
    "set_write_guard",
    "stale_temp_files",
]
# Also importable from here, for tabsift's packages only (not in __all__, not
# documented): scikit-learn's private parameter-validation and metadata names
# (HasMethods, Interval, RealNotInt, StrOptions, fit_context, routing_enabled,
# safe_indexing, transform_output), VERBOSE_CONSTRAINT and plain (a NumPy scalar as its
# Python value, for messages). They come from one
# module, ``_sklearn_compat``, so a scikit-learn release touches one file.
