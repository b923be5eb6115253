"""Spreadsheet-safe CSV text: neutralise cells a spreadsheet would run as a formula."""

import re

# OWASP "CSV Injection": a cell starting with one of these is read as a formula
# by Excel, LibreOffice and Google Sheets (tab and carriage return too, as some
# readers strip them first).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# A plain number written as text ("-0.5", "+3", "1e-4") is a number to a
# spreadsheet, never a formula: it is left as it is.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_cell(value):
    r"""Return ``value`` with a leading ``'`` when a spreadsheet would read it as a formula.

    Only text is changed: numbers, missing values and text that is a plain
    number (``"-0.5"``) are returned as they are.

    Parameters
    ----------
    value : object
        One cell.

    Returns
    -------
    value : object

    Examples
    --------
    >>> from tabsift.utils._csv import neutralise_cell
    >>> neutralise_cell('=HYPERLINK("http://x", "click")')
    '\'=HYPERLINK("http://x", "click")'
    >>> neutralise_cell("-0.5"), neutralise_cell(-0.5), neutralise_cell("x > 1")
    ('-0.5', -0.5, 'x > 1')
    """
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def neutralise_formulas(frame):
    """Return a copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    Follows the OWASP advice for CSV export: a text cell starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single
    quote, which spreadsheets show as text. Number columns, missing values
    and text that is a plain number (``"-0.5"``) are unchanged, and so are
    the column names. Use it on every table of model or LLM text written to
    CSV.

    Parameters
    ----------
    frame : pandas.DataFrame

    Returns
    -------
    safe : pandas.DataFrame
        A copy; ``frame`` is not changed.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabsift.utils import neutralise_formulas
    >>> frame = pd.DataFrame({"text": ["=1+2", "@SUM(A1)", "-x1 * x2", "-0.5", "ok"],
    ...                       "score": [-0.5, 1.0, 2.0, 3.0, 4.0]})
    >>> neutralise_formulas(frame)
           text  score
    0     '=1+2   -0.5
    1  '@SUM(A1)    1.0
    2  '-x1 * x2    2.0
    3      -0.5    3.0
    4        ok    4.0
    """
    import pandas as pd

    out = frame.copy()
    for j in range(out.shape[1]):
        column = out.iloc[:, j]
        if not (
            pd.api.types.is_object_dtype(column.dtype)
            or pd.api.types.is_string_dtype(column.dtype)
            or isinstance(column.dtype, pd.CategoricalDtype)
        ):
            continue
        values = column.astype(object).map(neutralise_cell, na_action="ignore")
        if pd.api.types.is_string_dtype(column.dtype) and not pd.api.types.is_object_dtype(
            column.dtype
        ):
            values = values.astype(column.dtype)
        # By position: column names may repeat.
        out.isetitem(j, values)
    return out
