"""The command-line arguments every job subcommand shares, and their argparse types."""

import argparse
from pathlib import Path

from tabsift.cli._io import TABLE_SUFFIXES


def non_negative_int(text):
    """Argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def positive_int(text):
    """Argparse type: an integer >= 1."""
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def output_folder(text):
    """Argparse type: a folder (existing or not), never an existing file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file; give a folder to write results in")
    return path


def input_table(text):
    """Argparse type: an existing CSV, TSV or Parquet file."""
    path = Path(text)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a table file tabsift reads; expected one of "
            f"{', '.join(TABLE_SUFFIXES)}"
        )
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"input file {text!r} does not exist")
    return path


def count_or_fraction(text, *, expected, count, one_is_count):
    """Argparse type helper: a fraction of a whole, or a whole count above it.

    ``expected`` and ``count`` name what is wanted in the error messages (e.g.
    ``"a number of rows or a fraction in (0, 1)"`` and ``"a number of rows"``);
    ``one_is_count`` says whether ``1`` means one item or the whole.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive value, got {text!r}")
    if value > 1 or (one_is_count and value == 1):
        if value != int(value):
            raise argparse.ArgumentTypeError(f"{count} must be whole, got {text!r}")
        return int(value)
    return value


def column_list(text):
    """Argparse type: comma-separated column names (spaces around names are kept out)."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def add_table_job_arguments(parser, name, *, target_help="name of the target column"):
    """Add what every one-table job takes: ``INPUT``, ``--target`` and ``--out``.

    The output folder defaults to ``./tabsift-<name>``.
    """
    parser.add_argument("input", type=input_table, help="the table (.csv, .tsv, .parquet)")
    parser.add_argument("--target", required=True, help=target_help)
    add_out_argument(parser, name)


def add_out_argument(parser, name, *, help=None):
    """Add ``--out DIR``, the output folder, by default ``./tabsift-<name>``."""
    parser.add_argument(
        "--out",
        type=output_folder,
        default=Path(f"tabsift-{name}"),
        metavar="DIR",
        help=help or f"folder for the results (default: ./tabsift-{name})",
    )


def add_task_argument(parser):
    """Add ``--task`` (auto, classification or regression)."""
    parser.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="learning task (default: inferred from the target)",
    )


def llm_client(args):
    """Return the :class:`~tabsift.llm.LLMClient` that ``--llm-model`` and ``--llm-base-url`` name.

    None when neither is given (the method then runs without an LLM).
    """
    if args.llm_model is None and args.llm_base_url is None:
        return None
    from tabsift.llm import LLMClient

    return LLMClient(args.llm_model or "gpt-4o-mini", base_url=args.llm_base_url)


def add_progress_arguments(parser):
    """``-v`` (progress at once, repeat for more) and ``-q`` (no progress) for a job."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="show progress bars at once (default: for steps that take more than a couple "
        "of seconds, when stderr is a terminal)",
    )
    group.add_argument("-q", "--quiet", action="store_true", help="show no progress bars")


def add_run_arguments(parser):
    """Add the options every job ends with: ``--seed``, ``--force``, ``-v`` and ``-q``."""
    parser.add_argument("--seed", type=non_negative_int, default=0, help="default: 0")
    parser.add_argument("--force", action="store_true", help="recompute a finished job")
    add_progress_arguments(parser)


def progress_level(args):
    """Return the ``verbose`` a job passes to its estimator.

    That is 0 for ``-q``, the ``-v`` count, else ``"auto"`` (a bar for long steps when someone
    watches, see :mod:`tabsift.utils`).
    """
    if getattr(args, "quiet", False):
        return 0
    return args.verbose or "auto"
