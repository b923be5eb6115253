"""Table preparation in a one-table job: its options, its settings, and its report section.

See :func:`tabsift.table.prepare_table` for what preparing a table does.
"""

from pathlib import Path

from tabsift.cli._arguments import column_list
from tabsift.cli._io import read_target_table


def add_prepare_arguments(parser):
    """Add the table-preparation options every one-table job takes."""
    group = parser.add_argument_group(
        "table preparation",
        "Raw tables are prepared automatically: numbers stored as text are read as numbers, "
        "placeholders (?, NA, n/a, -, empty) read as missing, row-number, identifier, constant "
        "and empty columns dropped, missing values filled where the method needs it. Every "
        "step is listed in the report and in job.json.",
    )
    group.add_argument(
        "--na-values",
        type=column_list,
        default=[],
        metavar="TOKENS",
        help="extra comma-separated tokens read as missing values (e.g. 'unknown,-999')",
    )
    group.add_argument(
        "--categorical",
        type=column_list,
        default=[],
        metavar="COLS",
        help="comma-separated columns to treat as categories even if they hold numbers",
    )
    group.add_argument(
        "--drop",
        type=column_list,
        default=[],
        metavar="COLS",
        help="comma-separated columns to leave out",
    )
    group.add_argument(
        "--no-prepare",
        dest="prepare",
        action="store_false",
        help="use the feature columns exactly as read (the target is still checked)",
    )


def prepare_settings(args):
    """Return the preparation options of ``args``, as they enter a job's fingerprint."""
    return {
        "na_values": list(args.na_values),
        "categorical": list(args.categorical),
        "drop": list(args.drop),
        "prepare": bool(args.prepare),
    }


def read_prepared_table(args, *, command, task="auto", impute=False, encode=False):
    """Read ``args.input`` and prepare it (see :func:`tabsift.table.prepare_table`).

    Returns the :class:`~tabsift.table.PreparedTable`; its ``steps`` go to the
    job's report (:func:`add_preparation_section`) and ``job.json``.
    """
    from tabsift.table import prepare_table

    frame = read_target_table(args.input, args.target, na_values=args.na_values)
    return prepare_table(
        frame,
        args.target,
        task=task,
        source=Path(args.input).name,
        na_values=args.na_values,
        categorical=args.categorical,
        drop=args.drop,
        impute=impute,
        encode=encode,
        prepare=args.prepare,
        owner=f"tabsift {command}",
    )


def add_preparation_section(report, prepared):
    """Add a "Table preparation" section listing every step (or saying there was none)."""
    import pandas as pd

    rows = [
        {"step": s["step"], "columns": ", ".join(map(str, s["columns"])), "detail": s["detail"]}
        for s in prepared.steps
    ]
    n_rows, n_cols = prepared.X.shape
    text = (
        f"The job used {n_rows} rows and {n_cols} feature columns ({prepared.task}). "
        + ("Steps taken on the raw table:" if rows else "The table needed no preparation.")
    )
    report.add_section(
        "Table preparation",
        text=text,
        table=pd.DataFrame(rows, columns=["step", "columns", "detail"]) if rows else None,
        data={"steps": prepared.steps, "task": prepared.task},
    )
