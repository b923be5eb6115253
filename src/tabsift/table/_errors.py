"""The error every table check raises."""


class TableError(ValueError):
    """A table (or its target) that tabsift cannot use as given.

    The message names the file, column or parameter at fault and says how to
    fix it. It subclasses :class:`ValueError`, so code that catches scikit-learn's
    input errors catches it too.
    """


def quote_names(names, counts=None, *, limit=8):
    """``'a', 'b' (and 3 more)``, or ``'a' (12), 'b' (3)`` with ``counts``."""
    names = [str(n) for n in names]
    if counts is None:
        parts = [repr(n) for n in names[:limit]]
    else:
        parts = [f"{n!r} ({int(c)})" for n, c in zip(names[:limit], counts[:limit], strict=False)]
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(parts) + more
