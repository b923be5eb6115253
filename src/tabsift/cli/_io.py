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


def read_table(path):
    """Read a CSV, TSV or Parquet file into a DataFrame."""
    import pandas as pd

    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")


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


def read_target_table(path, target):
    """Read a job's table and check that it has the ``--target`` column."""
    frame = read_table(path)
    if target not in frame.columns:
        raise ValueError(
            f"target column {target!r} is not in {Path(path).name}; its columns are: "
            f"{', '.join(map(str, frame.columns))}. Pass the right name with --target."
        )
    return frame


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
