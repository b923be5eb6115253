"""One table contract for every estimator and job.

Everything tabsift does to a table before a method sees it lives here, once:
what each column holds (numbers, numbers stored as text, placeholder tokens
such as ``?``, categories, text, empty columns), the checks on names, missing
values and targets with their messages, the learning task of a target, the
cross-validation splitter for that task, the numeric encoding that distance-,
proxy- and network-based methods use, and the preparation the command-line
jobs apply to raw files. The families and the command line import it; it
imports no family.
"""

from tabsift.table._checks import (
    check_column_names,
    check_finite_columns,
    duplicate_names as duplicate_names,
    non_finite_message,
)
from tabsift.table._encode import MAX_CATEGORIES, EncodedTable, encode_table
from tabsift.table._errors import TableError, quote_names as quote_names
from tabsift.table._prepare import PreparedTable, prepare_table
from tabsift.table._task import (
    MAX_AUTO_CLASSES,
    check_target,
    class_codes,
    cv_splitter,
    infer_task,
)
from tabsift.table._types import (
    KINDS,
    PLACEHOLDERS,
    ColumnInfo,
    category_values as category_values,
    column_names as column_names,
    column_numbers,
    describe_column,
    describe_columns,
    is_dataframe as is_dataframe,
    is_plain_numeric,
    numeric_values as numeric_values,
    table_columns as table_columns,
)

__all__ = [
    "KINDS",
    "MAX_AUTO_CLASSES",
    "MAX_CATEGORIES",
    "PLACEHOLDERS",
    "ColumnInfo",
    "EncodedTable",
    "PreparedTable",
    "TableError",
    "check_column_names",
    "check_finite_columns",
    "check_target",
    "class_codes",
    "column_numbers",
    "cv_splitter",
    "describe_column",
    "describe_columns",
    "encode_table",
    "infer_task",
    "is_plain_numeric",
    "non_finite_message",
    "prepare_table",
]
# Also importable from here, for tabsift's packages only (not in __all__):
# is_dataframe, column_names, table_columns, numeric_values, category_values,
# duplicate_names and quote_names.
