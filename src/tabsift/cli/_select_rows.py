"""``tabsift select-rows``: choose rows of a large pool table (CSV/TSV/Parquet).

Writes to ``--out``: ``selected.<ext>`` (the selected pool rows, in pool order,
same format as the pool, every value as read from the pool, never as
prepared), ``indices.csv`` (their 0-based pool positions, and a weight when
the method has one), ``summary.json`` (settings, the table preparation steps
and what the method reports), ``report/`` (HTML page with the selection, where
the selected rows lie in the pool, their weights, what the method reports, the
preparation steps and settings, and ``results.json``) and, last, ``job.json``
(with the preparation
steps too). Every file is written atomically. A rerun of a finished job (same
pool and target bytes, same settings) does nothing (``--force`` recomputes);
an interrupted job resumes from the checkpoints its method left in
``--out/.work/`` (data files, checked before use: see
:mod:`tabsift.sampling._dsir_stream`). Like every job, it only replaces or
deletes files tabsift wrote (see :func:`tabsift.cli._io.start_job`): the
checkpoints of another job, or of a forced rerun, are removed file by file,
never the whole folder.

The coreset methods read the pool as it comes: the features are prepared by
:func:`tabsift.table.prepare_table` (numbers stored as text read as numbers,
placeholders such as ``?`` read as missing, row-number, identifier, constant
and empty columns dropped, rows without a ``--label`` value dropped;
``--na-values``, ``--categorical``, ``--drop``, ``--no-prepare``) and the
selectors encode what is left (categories one-hot, missing numbers imputed
with an indicator). ``dsir`` tokenises each column itself; of the
preparation options it takes ``--na-values`` and ``--drop``.

Adding a method
---------------
A method is one entry of ``METHODS``: its ``--method`` name mapped to a
:class:`~tabsift.cli._select_rows_base.Method`:

- ``help``: one line for ``--help``;
- ``select(args, pool, target, workdir)`` returns a
  :class:`~tabsift.cli._select_rows_base.Selection`. ``args`` is the parsed
  namespace (shared options and the method's own), ``pool`` a
  :class:`~tabsift.cli._select_rows_base.PoolTable` (``pool.read()`` loads it
  whole; ``pool.chunks()`` iterates over it in ``--chunksize`` chunks, bounded
  memory), ``target`` the target table (a DataFrame, or None when
  ``--target`` is not given: only ``dsir`` requires it) and ``workdir`` a folder
  for checkpoints that survives an interruption (its ``fingerprint.txt`` holds
  the job's fingerprint; what the method writes there with
  :func:`tabsift.utils.atomic_write` is deleted after success);
- ``add_arguments(parser)`` (optional) adds the method's own options. Every
  method's options are on the one parser, so names must be unique; start
  their help with the method name, e.g. ``"(kcenter) ..."``.

``Selection.indices`` are 0-based pool row positions (any order; repeated only
when sampling with replacement); ``weights`` (optional) one number per index;
``rows`` (optional) the selected rows in ascending index order when the
method already has them (otherwise the job reads them from the pool);
``summary`` a JSON-ready dict added to ``summary.json``; ``n_pool`` (optional)
the number of pool rows, which every index must be below; ``preparation`` the
steps taken on the table (``{"step", "columns", "detail"}`` records, see
:class:`tabsift.table.PreparedTable`), written to ``summary.json`` and
``job.json``.
"""

import json
from pathlib import Path

from tabsift.cli._arguments import (
    add_out_argument,
    add_run_arguments,
    count_or_fraction,
    input_table,
    positive_int,
)
from tabsift.cli._io import file_digest, read_table, write_table
from tabsift.cli._job_folder import mark_finished, remove_job_files, start_job
from tabsift.cli._preparation import add_prepare_arguments
from tabsift.cli._select_rows_base import Method, PoolTable, Selection
from tabsift.cli._select_rows_coresets import add_coreset_arguments, make_coreset_select
from tabsift.cli._select_rows_dsir import add_dsir_arguments, dsir_select
from tabsift.cli._select_rows_report import write_report
from tabsift.utils import atomic_write_text

# A method's contract (see "Adding a method") is importable from here.
__all__ = ["METHODS", "Method", "PoolTable", "Selection", "add_parser", "run"]

# One entry per method; see "Adding a method" in the module docstring.
METHODS = {
    "dsir": Method(
        help="importance resampling (DSIR): rows whose hashed-token distribution matches "
        "the target; streams the pool",
        select=dsir_select,
        add_arguments=add_dsir_arguments,
    ),
    "hybrid": Method(
        help="hybrid coreset, the recommended default: a stratified random core cleaned of "
        "mislabelled rows plus coverage rows (in memory)",
        select=make_coreset_select("hybrid"),
        add_arguments=add_coreset_arguments,
    ),
    "kcenter": Method(
        help="greedy k-center coreset: every pool row close to a selected row (in memory)",
        select=make_coreset_select("kcenter"),
    ),
    "ot": Method(
        help="optimal-transport coreset (GORACS) matched to the target rows (in memory)",
        select=make_coreset_select("ot"),
    ),
    "gais": Method(
        help="graph attention instance selection (GAIS); needs --label (in memory)",
        select=make_coreset_select("gais"),
    ),
    "random": Method(
        help="random rows, stratified by --label when given (in memory)",
        select=make_coreset_select("random"),
    ),
    "llm-choice": Method(
        help="Add-One-In: an LLM (or the offline criterion) picks each next row; needs "
        "--label (in memory)",
        select=make_coreset_select("llm-choice"),
    ),
}


def _count_or_fraction(text):
    return count_or_fraction(
        text,
        expected="a number of rows or a fraction in (0, 1)",
        count="a number of rows",
        one_is_count=True,
    )


def _column_list(text):
    if text == "auto":
        return "auto"
    names = [name.strip() for name in text.split(",") if name.strip()]
    return names or None


def add_parser(subparsers):
    """Add the ``select-rows`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "select-rows",
        help="choose the rows of a large pool table that match a target sample",
        description=(
            "Select N rows of a CSV/TSV/Parquet pool with the chosen method and write them, "
            "their pool positions and a summary. The dsir method streams the pool in chunks "
            "(bounded memory) and resumes after an interruption. Rerunning a finished job "
            "with the same inputs and settings does nothing (use --force to recompute)."
        ),
    )
    parser.add_argument(
        "--pool", type=input_table, required=True, help="the pool table (.csv, .tsv, .parquet)"
    )
    parser.add_argument(
        "--target",
        type=input_table,
        default=None,
        help="a sample of the rows wanted; its columns are the features (required by dsir; "
        "for ot, the rows to match; other methods: optional, default every pool column)",
    )
    parser.add_argument(
        "--n",
        type=_count_or_fraction,
        required=True,
        help="rows to select: a count, or a fraction of the pool in (0, 1)",
    )
    add_out_argument(parser, "rows")
    parser.add_argument(
        "--method",
        choices=tuple(METHODS),
        default="dsir",
        help="; ".join(f"{name}: {m.help}" for name, m in METHODS.items()) + " (default: dsir)",
    )
    parser.add_argument(
        "--chunksize",
        type=positive_int,
        default=100_000,
        help="pool rows read at once (default: 100000)",
    )
    parser.add_argument(
        "--text-columns",
        type=_column_list,
        default="auto",
        metavar="COLS",
        help="comma-separated text columns, or 'auto': non-numeric columns averaging at "
        "least 3 words (default: auto)",
    )
    add_run_arguments(parser)
    for method in METHODS.values():
        if method.add_arguments is not None:
            method.add_arguments(parser)
    add_prepare_arguments(parser)
    return parser


# Not part of a job's identity (--workers changes the speed, not the selection).
_NOT_SETTINGS = {
    "pool", "target", "out", "force", "verbose", "quiet", "run", "debug", "command", "workers",
}


def run(args):
    """Run the selection job and return the exit code."""
    import numpy as np
    import pandas as pd

    settings = {key: value for key, value in sorted(vars(args).items()) if key not in _NOT_SETTINGS}
    if args.target is None and args.method == "dsir":
        raise ValueError(
            "select-rows --method dsir needs --target: a sample of the rows wanted."
        )
    settings["target_sha256"] = None if args.target is None else file_digest(args.target)
    fingerprint = start_job("select-rows", settings, args.pool, args.out, force=args.force)
    if fingerprint is None:
        return 0
    out = Path(args.out)

    # Checkpoints belong to one job: another job's (or a forced rerun's) are discarded,
    # file by file; start_job has refused a folder holding checkpoint names it did not write.
    workdir = out / ".work"
    stamp = workdir / "fingerprint.txt"
    if args.force or _stamp_of(stamp) != fingerprint:
        remove_job_files(out, ".work")
    atomic_write_text(stamp, fingerprint)

    target = None if args.target is None else read_table(args.target, na_values=args.na_values)
    pool = PoolTable(args.pool, args.chunksize, na_values=args.na_values)
    selection = METHODS[args.method].select(args, pool, target, workdir)

    indices = _checked_indices(selection, args.method)
    order = np.argsort(indices, kind="stable")
    indices = indices[order]
    rows = selection.rows if selection.rows is not None else pool.take(indices)
    table = pd.DataFrame({"index": indices})
    if selection.weights is not None:
        table["weight"] = np.asarray(selection.weights)[order]

    write_table(rows, out / f"selected{args.pool.suffix.lower()}")
    write_table(table, out / "indices.csv")
    summary = {
        "pool": str(args.pool),
        "target": None if args.target is None else str(args.target),
        "settings": settings,
        "n_selected": int(len(indices)),
        "preparation": selection.preparation,
        **selection.summary,
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str))
    write_report(args, selection, indices, table, summary, out / "report")
    mark_finished(
        out, fingerprint,
        {"n_selected": int(len(indices)), "preparation": selection.preparation},
    )
    remove_job_files(out, ".work")
    print(f"tabsift select-rows: selected {len(indices)} rows with {args.method}; results in {out}")
    return 0


def _stamp_of(stamp):
    """Return the fingerprint in ``.work/fingerprint.txt``, or None (missing or unreadable)."""
    try:
        text = stamp.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text


def _checked_indices(selection, method):
    """Return the selection's indices as int64, checked to be pool positions before any is written."""
    import numpy as np

    indices = np.asarray(selection.indices)
    if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
        raise RuntimeError(
            f"--method {method} returned row indices of dtype {indices.dtype} and shape "
            f"{indices.shape}; expected whole numbers, one per selected row. Nothing was "
            "written; run again with --force to start over."
        )
    n_pool = selection.n_pool
    if indices.size and (indices.min() < 0 or (n_pool is not None and indices.max() >= n_pool)):
        raise RuntimeError(
            f"--method {method} returned row indices from {indices.min()} to {indices.max()}, "
            f"outside the pool's rows 0 to {n_pool - 1 if n_pool is not None else '...'}. "
            "Nothing was written; run again with --force to start over."
        )
    return indices.astype(np.int64)
