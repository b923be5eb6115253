"""What each column of a table holds: numbers, categories, text, numbers stored as text, nothing.

Raw public tables store numbers as strings, mark missing values with tokens
such as ``?`` or ``n/a``, and mix categories with numbers. Every estimator and
job reads a column's kind here, so they all agree on what a column is.
"""

from dataclasses import dataclass

import numpy as np

#: Tokens read as a missing value in a text column (compared after stripping spaces).
PLACEHOLDERS = frozenset(
    {"", "?", "-", "--", ".", "na", "n/a", "nan", "null", "none", "#n/a", "missing", "<na>"}
)

#: The kinds a column can have.
KINDS = ("numeric", "boolean", "numeric_text", "categorical", "text", "datetime", "empty")

# A text column whose values are mostly distinct and average this many words is free text.
_TEXT_WORDS = 3.0


@dataclass(frozen=True)
class ColumnInfo:
    """What one column holds.

    Attributes
    ----------
    name : str
        The column's name (``x3`` for an unnamed array column).
    kind : str
        One of :data:`KINDS`. ``numeric_text`` is numbers stored as strings;
        ``empty`` is a column without a single value.
    n_missing : int
        Missing values, placeholder tokens included.
    n_placeholders : int
        Values that were placeholder tokens (``?``, ``n/a``, ...), counted in
        ``n_missing``.
    n_unique : int or None
        Distinct values that are not missing (None: not counted, for plain
        numeric input where nobody asks).

    Examples
    --------
    >>> from tabsift.table import describe_column
    >>> info = describe_column("age", ["41", "?", "35"])
    >>> info.kind, info.is_numeric, info.n_placeholders
    ('numeric_text', True, 1)
    """

    name: str
    kind: str
    n_missing: int
    n_placeholders: int
    n_unique: int

    @property
    def is_numeric(self):
        """True when the column can be used as numbers (after coercion for ``numeric_text``)."""
        return self.kind in ("numeric", "boolean", "numeric_text", "datetime")

    @property
    def is_constant(self):
        """True when the column has fewer than two distinct values (empty ones included)."""
        return self.n_unique is not None and self.n_unique < 2


def _is_pandas(X):
    return type(X).__module__.startswith("pandas")


def is_dataframe(X):
    """Return True for a pandas DataFrame, recognised without importing pandas."""
    return _is_pandas(X) and hasattr(X, "columns") and hasattr(X, "iloc")


def table_columns(X):
    """Each column of a DataFrame (as a Series) or of a 2-d array (as a 1-d array)."""
    if is_dataframe(X):
        return [X.iloc[:, j] for j in range(X.shape[1])]
    array = np.asarray(X)
    return [array[:, j] for j in range(array.shape[1])]


def column_names(X):
    """Return the column names of a DataFrame (as strings), ``x0, x1, ...`` otherwise."""
    if _is_pandas(X) and hasattr(X, "columns"):
        return [str(c) for c in X.columns]
    return [f"x{j}" for j in range(np.shape(X)[1])]


def _columns(X):
    """Each column as a 1-d object or numeric array, with its name."""
    names = column_names(X)
    if not is_dataframe(X) and np.ndim(X) != 2:
        raise ValueError(f"expected a 2-d table, got an array of shape {np.shape(X)}")
    return list(zip(names, table_columns(X), strict=True))


def _strip_placeholders(values, placeholders):
    """Object array of the column with placeholders and missing values as None, and counts."""
    import pandas as pd

    values = np.asarray(values, dtype=object)
    missing = np.asarray(pd.isna(values), dtype=bool) if values.size else np.zeros(0, bool)
    out = values.copy()
    out[missing] = None
    n_placeholders = 0
    is_text = np.array([isinstance(v, str) for v in out], dtype=bool)
    if is_text.any():
        stripped = np.array([v.strip() for v in out[is_text]], dtype=object)
        hit = np.array([s.lower() in placeholders for s in stripped], dtype=bool)
        n_placeholders = int(hit.sum())
        stripped[hit] = None
        out[is_text] = stripped
    return out, n_placeholders


def _as_numbers(values):
    """Float array of ``values`` (None -> NaN), or None when some value is not a number."""
    import pandas as pd

    present = np.array([v is not None for v in values], dtype=bool)
    parsed = pd.to_numeric(pd.Series(values[present], dtype=object), errors="coerce")
    if parsed.isna().any():
        return None
    numbers = np.full(len(values), np.nan)
    numbers[present] = parsed.to_numpy(dtype=np.float64)
    return numbers


def describe_column(name, values, *, placeholders=PLACEHOLDERS):
    """:class:`ColumnInfo` of one column (a pandas Series or a 1-d array).

    Examples
    --------
    >>> from tabsift.table import describe_column
    >>> describe_column("city", ["Oslo", "n/a", "Lima", "Oslo"])
    ColumnInfo(name='city', kind='categorical', n_missing=1, n_placeholders=1, n_unique=2)
    """
    import pandas as pd
    from pandas.api import types

    dtype = getattr(values, "dtype", None)
    if dtype is not None and types.is_bool_dtype(dtype):
        n_missing = int(pd.isna(values).sum())
        return ColumnInfo(name, "boolean", n_missing, 0, int(pd.Series(values).nunique()))
    if isinstance(dtype, pd.CategoricalDtype):
        series = pd.Series(values)
        return ColumnInfo(name, "categorical", int(series.isna().sum()), 0, int(series.nunique()))
    if dtype is not None and types.is_datetime64_any_dtype(dtype):
        series = pd.Series(values)
        return ColumnInfo(name, "datetime", int(series.isna().sum()), 0, int(series.nunique()))
    if dtype is not None and types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype):
        numbers = np.asarray(pd.Series(values).astype("float64"), dtype=np.float64)
        missing = np.isnan(numbers)
        n_unique = int(np.unique(numbers[~missing]).size)
        kind = "empty" if missing.all() else "numeric"
        return ColumnInfo(name, kind, int(missing.sum()), 0, n_unique)
    cleaned, n_placeholders = _strip_placeholders(values, placeholders)
    present = np.array([v is not None for v in cleaned], dtype=bool)
    n_missing = int((~present).sum())
    if not present.any():
        return ColumnInfo(name, "empty", n_missing, n_placeholders, 0)
    if all(isinstance(v, (bool, np.bool_)) for v in cleaned[present]):
        n_unique = len({bool(v) for v in cleaned[present]})
        return ColumnInfo(name, "boolean", n_missing, n_placeholders, n_unique)
    numbers = _as_numbers(cleaned)
    if numbers is not None:
        n_unique = int(np.unique(numbers[~np.isnan(numbers)]).size)
        return ColumnInfo(name, "numeric_text", n_missing, n_placeholders, n_unique)
    text = [str(v) for v in cleaned[present]]
    n_unique = len(set(text))
    words = np.mean([len(t.split()) for t in text])
    kind = "text" if words >= _TEXT_WORDS and n_unique > 0.5 * len(text) else "categorical"
    return ColumnInfo(name, kind, n_missing, n_placeholders, n_unique)


def describe_columns(X, *, placeholders=PLACEHOLDERS):
    """:class:`ColumnInfo` of every column of ``X`` (a DataFrame or a 2-d array).

    A plain numeric array is described without looking at each value twice.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabsift.table import describe_columns
    >>> frame = pd.DataFrame({"age": ["41", "?", "35"], "city": ["Oslo", "Lima", None]})
    >>> [(c.name, c.kind, c.n_missing) for c in describe_columns(frame)]
    [('age', 'numeric_text', 1), ('city', 'categorical', 1)]
    """
    return [
        describe_column(name, values, placeholders=placeholders) for name, values in _columns(X)
    ]


def is_plain_numeric(X):
    """Return True for input every numeric estimator already takes: numbers only, nothing to coerce.

    NumPy arrays of a real or bool dtype and DataFrames whose columns are all
    numeric or bool qualify; missing values do not change the answer.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.table import is_plain_numeric
    >>> is_plain_numeric(np.zeros((2, 3))), is_plain_numeric(np.array([["a", "1"]]))
    (True, False)
    """
    from pandas.api import types

    if _is_pandas(X) and hasattr(X, "dtypes"):
        return all(
            (types.is_numeric_dtype(d) and not types.is_complex_dtype(d)) or types.is_bool_dtype(d)
            for d in X.dtypes
        )
    dtype = getattr(X, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(X).dtype
        except (TypeError, ValueError):
            return False
    return isinstance(dtype, np.dtype) and dtype.kind in "fiub"


def numeric_values(values, info, *, placeholders=PLACEHOLDERS):
    """Float array of a column that ``info`` says is numeric (NaN for missing)."""
    import pandas as pd

    if info.kind == "datetime":
        stamps = pd.to_datetime(pd.Series(values))
        numbers = stamps.astype("int64").to_numpy(dtype=np.float64) / 86400e9  # days
        numbers[stamps.isna().to_numpy()] = np.nan
        return numbers
    if info.kind == "numeric_text" or (info.kind == "boolean" and _has_objects(values)):
        cleaned, _ = _strip_placeholders(values, placeholders)
        if info.kind == "boolean":
            return np.array([np.nan if v is None else float(v) for v in cleaned])
        return _as_numbers(cleaned)
    return np.asarray(pd.Series(values).astype("float64"), dtype=np.float64)


def _has_objects(values):
    dtype = getattr(values, "dtype", None)
    return dtype is None or getattr(dtype, "kind", None) == "O"


def category_values(values, *, placeholders=PLACEHOLDERS):
    """Object array of a column's categories as strings, None where missing or a placeholder."""
    cleaned, _ = _strip_placeholders(values, placeholders)
    return np.array([None if v is None else str(v) for v in cleaned], dtype=object)


def column_numbers(name, values, *, owner, strict=False, placeholders=PLACEHOLDERS):
    """Return a column that held numbers when ``owner`` was fitted, read as numbers now.

    New rows may hold a value no training row had: text in a column of
    numbers (``'rotary'`` among cylinder counts). Like an unseen category it
    is read as a missing value, and one :class:`UserWarning` names the
    column, the count and the values. A column holding only text now is a
    :class:`TableError` (``strict=True``: any text is one), since the columns
    were most likely passed in another order.

    Examples
    --------
    >>> import warnings
    >>> from tabsift.table import column_numbers
    >>> column_numbers("cyl", ["4", "?", "6"], owner="MyModel")
    array([ 4., nan,  6.])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     column_numbers("cyl", ["4", "rotary", "6"], owner="MyModel")
    array([ 4., nan,  6.])
    >>> print(caught[0].message)
    column 'cyl' held numbers when MyModel was fitted; 1 value(s) that are not numbers ('rotary') are read as missing values.
    """
    import warnings

    import pandas as pd

    from tabsift.table._errors import TableError

    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        return np.asarray(values, dtype=np.float64)  # plain numbers: nothing to read
    info = describe_column(str(name), values, placeholders=placeholders)
    if info.kind == "empty":
        return np.full(len(values), np.nan)
    if info.is_numeric:
        return numeric_values(values, info, placeholders=placeholders)
    text = category_values(values, placeholders=placeholders)
    present = np.array([v is not None for v in text], dtype=bool)
    numbers = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64
    )
    bad = present & np.isnan(numbers)
    examples = ", ".join(repr(v) for v in dict.fromkeys(text[bad]))
    if strict or bad.sum() == present.sum():
        raise TableError(
            f"column {str(name)!r} held numbers when {owner} was fitted but holds text now "
            f"(such as {examples.split(', ')[0]}); pass the same columns, in the same order, "
            "as in fit."
        )
    warnings.warn(
        f"column {str(name)!r} held numbers when {owner} was fitted; {int(bad.sum())} value(s) "
        f"that are not numbers ({examples[:200]}) are read as missing values.",
        UserWarning,
        stacklevel=3,
    )
    return numbers
