"""What every job subcommand shares: argument types, reading and writing tables, resuming."""

import argparse
import hashlib
import json
from pathlib import Path

from tabsift.utils import atomic_write, atomic_write_text

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def positive_int(text):
    """argparse type: an integer >= 1."""
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def output_folder(text):
    """argparse type: a folder (existing or not), never an existing file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file; give a folder to write results in")
    return path


def input_table(text):
    """argparse type: an existing CSV, TSV or Parquet file."""
    path = Path(text)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a table file tabsift reads; expected one of "
            f"{', '.join(TABLE_SUFFIXES)}"
        )
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"input file {text!r} does not exist")
    return path


def _csv_header(path, sep):
    """The first row of a CSV/TSV file as a list of names (empty for an empty file)."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return next(csv.reader(f, delimiter=sep), [])


def read_table(path, *, na_values=None, allow_empty=False):
    """Read a CSV, TSV or Parquet file into a DataFrame.

    Raises a :class:`~tabsift.table.TableError` naming the file when it is
    empty, has a header but no rows (unless ``allow_empty``), repeats a column
    name (pandas would rename the copy ``a.1`` silently), or cannot be parsed.
    ``na_values`` are extra tokens read as missing values.
    """
    import pandas as pd

    from tabsift.table import TableError
    from tabsift.table._checks import duplicate_names
    from tabsift.table._errors import quote_names

    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise TableError(f"input file {str(path)!r} does not exist; check the path.")
    if path.stat().st_size == 0:
        raise TableError(f"{path.name} is empty (0 bytes); a table needs a header row and data.")
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            header = [str(c) for c in frame.columns]
        else:
            sep = "\t" if suffix == ".tsv" else ","
            header = _csv_header(path, sep)
            # index_col=False: data rows ending in a separator (trailing commas) must not
            # turn the first column into the index and shift every other one.
            frame = pd.read_csv(
                path, sep=sep, na_values=list(na_values or ()), index_col=False
            )
    except pd.errors.EmptyDataError:
        raise TableError(
            f"{path.name} holds no table (no header row); check that it is a "
            f"{suffix.lstrip('.').upper()} file."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as err:
        raise TableError(f"{path.name} could not be read as a table: {err}") from None
    # unnamed columns (R's row names, trailing commas) become 'Unnamed: k', never twice
    twice = duplicate_names(name for name in header if name.strip())
    if twice:
        raise TableError(
            f"{path.name} names column(s) {quote_names(twice)} more than once; rename them so "
            "that every column has its own name."
        )
    if frame.shape[0] == 0 and not allow_empty:
        raise TableError(f"{path.name} has a header but no rows; a job needs data rows.")
    return frame


def write_table(frame, path):
    """Write ``frame`` atomically, in the format its suffix names."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        with atomic_write(path, "wb") as f:
            frame.to_parquet(f, index=False)
    else:
        with atomic_write(path, "w") as f:
            frame.to_csv(f, index=False, sep="\t" if suffix == ".tsv" else ",")


def file_digest(path, *, chunk=1 << 20):
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_target_table(path, target, *, na_values=None):
    """Read a job's table and check that it has the ``--target`` column."""
    from tabsift.table import TableError

    frame = read_table(path, na_values=na_values)
    if target not in frame.columns:
        raise TableError(
            f"target column {target!r} is not in {Path(path).name}; its columns are: "
            f"{', '.join(map(str, frame.columns))}. Pass the right name with --target."
        )
    return frame


def _column_list(text):
    """argparse type: comma-separated column names (spaces around names are kept out)."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


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
        type=_column_list,
        default=[],
        metavar="TOKENS",
        help="extra comma-separated tokens read as missing values (e.g. 'unknown,-999')",
    )
    group.add_argument(
        "--categorical",
        type=_column_list,
        default=[],
        metavar="COLS",
        help="comma-separated columns to treat as categories even if they hold numbers",
    )
    group.add_argument(
        "--drop",
        type=_column_list,
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
    """The preparation options of ``args``, as they enter a job's fingerprint."""
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


def add_table_job_arguments(parser, name, *, target_help="name of the target column"):
    """Add what every one-table job takes: ``INPUT``, ``--target`` and ``--out``.

    The output folder defaults to ``./tabsift-<name>``.
    """
    parser.add_argument("input", type=input_table, help="the table (.csv, .tsv, .parquet)")
    parser.add_argument("--target", required=True, help=target_help)
    parser.add_argument(
        "--out",
        type=output_folder,
        default=Path(f"tabsift-{name}"),
        metavar="DIR",
        help=f"folder for the results (default: ./tabsift-{name})",
    )


def add_task_argument(parser):
    """Add ``--task`` (auto, classification or regression)."""
    parser.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="learning task (default: inferred from the target)",
    )


def start_job(command, settings, input_path, out, *, force):
    """Begin the job ``command`` in ``out``; return its fingerprint, or None when it is done.

    A finished job with the same settings and input bytes is reported and not
    redone unless ``force``. Otherwise the folder's completion marker goes
    first, so an interruption never leaves it next to a mix of old and new
    outputs.
    """
    fingerprint = job_fingerprint(command, settings, input_path)
    if not force and finished_job(out, fingerprint):
        print(f"tabsift {command}: {out} already holds this job's results (--force recomputes)")
        return None
    (Path(out) / "job.json").unlink(missing_ok=True)
    return fingerprint


def job_fingerprint(command, settings, input_path):
    """A fingerprint of a job: the command, its settings and its input's bytes."""
    blob = json.dumps(
        {"command": command, "settings": settings, "input": file_digest(input_path)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def finished_job(out, fingerprint):
    """Return True when ``out`` holds the complete results of the job ``fingerprint``.

    A job writes ``job.json`` (its fingerprint) last, after every other output, so its
    presence with a matching fingerprint means the outputs are complete and current.
    """
    marker = Path(out) / "job.json"
    try:
        return json.loads(marker.read_text()).get("fingerprint") == fingerprint
    except (OSError, ValueError):
        return False


def mark_finished(out, fingerprint, summary):
    """Write ``job.json``: the last file of a job, written atomically."""
    atomic_write_text(
        Path(out) / "job.json",
        json.dumps({"fingerprint": fingerprint, **summary}, indent=2, default=str),
    )
