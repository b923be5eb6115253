"""The error every table check raises."""


class TableError(ValueError):
    """A table (or its target) that tabsift cannot use as given.

    The message names the file, column or parameter at fault and says how to
    fix it. It subclasses :class:`ValueError`, so code that catches scikit-learn's
    input errors catches it too.

    Examples
    --------
    >>> from tabsift.table import TableError, check_target
    >>> try:
    ...     check_target([None, None], owner="MySelector")
    ... except TableError as err:
    ...     print(err)
    y has no values: all 2 are missing; choose the target column that holds what you want to predict.
    """


def quote_names(names, counts=None, *, limit=8):
    """Return ``'a', 'b' (and 3 more)``, or ``'a' (12), 'b' (3)`` with ``counts``."""
    names = [str(n) for n in names]
    if counts is None:
        parts = [repr(n) for n in names[:limit]]
    else:
        parts = [f"{n!r} ({int(c)})" for n, c in zip(names[:limit], counts[:limit], strict=False)]
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(parts) + more
