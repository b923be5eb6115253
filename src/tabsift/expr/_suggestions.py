"""What a formula's error says about a name it does not know: close matches and the choices.

Used by the parser (unknown functions, unknown columns) and by evaluation (a
column the data lacks), so both say "did you mean ..." the same way.
"""

import difflib

from tabsift.expr._errors import ExpressionError
from tabsift.expr._nodes import FUNCTIONS, column_source, is_bare_name

_MAX_LISTED_COLUMNS = 20


def signature(name):
    """Return how a function is called, e.g. ``clip(x, lower, upper)``."""
    return f"{name}({', '.join(FUNCTIONS[name])})"


def close_matches(name, candidates, n=3):
    """Return up to ``n`` candidates like ``name`` (case, typos, one word of a longer name)."""
    candidates = list(candidates)
    found = [c for c in candidates if c.lower() == name.lower() and c != name]
    found += difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)
    found += [c for c in candidates if name.lower() in c.lower().split() and c != name]
    unique = list(dict.fromkeys(found))
    return unique[:n]


def unknown_column_error(name, available, *, text, position):
    """Return the error for a column that is not among ``available``, with close matches listed."""
    available = list(available)
    matches = close_matches(name, available)
    reason = f"unknown column {name!r}"
    if matches:
        reason += f"; did you mean {', '.join(column_source(m) for m in matches)}?"
    if available:
        listed = ", ".join(column_source(c) for c in available[:_MAX_LISTED_COLUMNS])
        if len(available) > _MAX_LISTED_COLUMNS:
            listed += f", ... ({len(available) - _MAX_LISTED_COLUMNS} more)"
        fix = f"use one of the available columns: {listed}."
        if any(not is_bare_name(c) for c in available[:_MAX_LISTED_COLUMNS] + matches):
            fix += " Names with spaces or symbols go in backticks, e.g. `blood pressure`."
    else:
        fix = "the data has no columns; pass data with the columns the formula uses."
    return ExpressionError(reason, text=text, position=position, fix=fix)
