"""The field-by-field checker behind :func:`load_corrections`.

Every failure raises :class:`CorrectionsFormatError` naming the source and the
field (``corrections[2].coefficient``), and says how to get a good file.
"""

import math
import numbers

import numpy as np

from tabsift.residual._format import CorrectionsFormatError

_FIX = (
    "export the corrections again with export_corrections(path) on the fitted estimator "
    "(in a `tabsift correct-residuals` output folder: rerun the job with --force)"
)


def _describe(value):
    """Return a short, always printable description of a JSON value (huge numbers included)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        digits = int(int(value).bit_length() * math.log10(2)) + 1
        return f"an integer with about {digits} digits" if digits > 30 else repr(int(value))
    if isinstance(value, str):
        text = repr(value)
        return f"the string {text if len(text) <= 60 else text[:57] + '...'}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return f"a {type(value).__name__}"


class _Reader:
    """Checks one document field by field; every failure names the source and the field."""

    def __init__(self, source):
        self.source = source

    def fail(self, field, problem, *, cause=None, detail=None):
        where = f"{field} " if field else ""
        message = f"{self.source} cannot be loaded: {where}{problem}; {_FIX}."
        if detail:
            message += f"\n{detail}"
        error = CorrectionsFormatError(message, source=self.source, field=field)
        if cause is not None:
            raise error from cause
        raise error

    def keys(self, data, field, required, optional=()):
        if not isinstance(data, dict):
            self.fail(field, f"must be a JSON object, found {_describe(data)}")
        prefix = f"{field}." if field else ""
        for key in data:
            if not isinstance(key, str) or key not in (*required, *optional):
                self.fail(
                    f"{prefix}{key}",
                    f"is not a known key; expected some of {[*required, *optional]}",
                )
        for key in required:
            if key not in data:
                self.fail(f"{prefix}{key}", "is missing")

    def text(self, value, field, *, allow_empty=True):
        if not isinstance(value, str):
            self.fail(field, f"must be a string, found {_describe(value)}")
        if not allow_empty and not value.strip():
            self.fail(field, "must not be empty")
        return value

    def number(self, value, field, *, low=None, high=None):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            self.fail(field, f"must be a number, found {_describe(value)}")
        try:
            out = float(value)
        except OverflowError:
            out = math.inf
        if not math.isfinite(out):
            self.fail(field, f"must be a finite number, found {_describe(value)}")
        if (low is not None and out < low) or (high is not None and out > high):
            self.fail(field, f"must be in [{low}, {high}], found {out!r}")
        return out

    def index(self, value, field, n):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            self.fail(field, f"must be a whole number (a class index), found {_describe(value)}")
        if not 0 <= int(value) < n:
            self.fail(field, f"must be a class index in 0..{n - 1}, found {int(value)}")
        return int(value)

    def label(self, value, field, classes):
        """Return the index in ``classes`` of the label ``value``."""
        for j, label in enumerate(classes):
            if (
                isinstance(value, str) == isinstance(label, str)
                and not isinstance(value, (bool, np.bool_))
                and value == label
            ):
                return j
        self.fail(field, f"must be one of the classes {classes[:20]}, found {_describe(value)}")

    def flag(self, value, field):
        if not isinstance(value, (bool, np.bool_)):
            self.fail(field, f"must be true or false, found {_describe(value)}")
        return bool(value)

    def items(self, value, field, *, min_length=0):
        if not isinstance(value, (list, tuple)):
            self.fail(field, f"must be a list, found {_describe(value)}")
        if len(value) < min_length:
            self.fail(field, f"must hold at least {min_length} item(s), found {len(value)}")
        return list(value)

    def names(self, value, field, *, min_length=0):
        names = [
            self.text(name, f"{field}[{i}]", allow_empty=False)
            for i, name in enumerate(self.items(value, field, min_length=min_length))
        ]
        seen = set()
        for i, name in enumerate(names):
            if name in seen:
                self.fail(f"{field}[{i}]", f"repeats the name {name!r}")
            seen.add(name)
        return names
