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

from tabsift.table._checks import check_column_names, check_finite_columns, non_finite_message
from tabsift.table._encode import MAX_CATEGORIES, EncodedTable, encode_table
from tabsift.table._errors import TableError
from tabsift.table._prepare import PreparedTable, prepare_table
from tabsift.table._task import MAX_AUTO_CLASSES, check_target, cv_splitter, infer_task
from tabsift.table._types import (
    KINDS,
    PLACEHOLDERS,
    ColumnInfo,
    column_numbers,
    describe_column,
    describe_columns,
    is_plain_numeric,
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
