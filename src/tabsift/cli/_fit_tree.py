"""``tabsift fit-tree``: evolve a decision tree on a CSV/Parquet table.

Writes to ``--out``: ``tree.txt`` (the tree drawn as text, with its scores and
the table preparation steps), ``tree.json`` (the nested dict, settings, scores
and preparation steps), ``tree.png`` (a drawing), ``history.csv`` (one row per
generation), and last ``job.json`` (with the preparation steps). Every file is
written atomically.

The table is prepared as every job prepares it (:func:`tabsift.table.prepare_table`):
numbers stored as text are read as numbers, placeholders such as ``?`` as missing,
empty, constant, row-number and identifier columns are dropped, rows without a
target left out. Nothing is imputed or encoded: the trees route missing values at
each split and one-hot encode categories themselves. While it runs, the evolution state is saved
to ``checkpoint.npz`` after each generation: an interrupted job (or one
stopped by ``--time-limit``) started again resumes where it stopped, also
with more ``--generations`` or another time limit; a finished job (same input
bytes and settings) is not run again unless ``--force`` is given.

The checkpoint is data only (JSON and ``.npy`` arrays in a zip archive, see
:mod:`tabsift.tree._checkpoint`) and is checked in full before it is used;
nothing in it is ever executed. A ``checkpoint.*`` file tabsift did not write
makes the job refuse to start (see :func:`tabsift.cli._io.start_job`). Of the
checkpoints tabsift wrote, one of a job with other settings or input is
replaced by a fresh run; one that fails its checks (damaged or edited) stops
the job with an error naming it, and ``--force`` replaces it. A
``checkpoint.pkl`` of an earlier version is never read, and left in place.
"""

import json
import os
from pathlib import Path

from tabsift.cli._io import (
    add_prepare_arguments,
    add_table_job_arguments,
    add_task_argument,
    mark_finished,
    non_negative_int,
    positive_int,
    prepare_settings,
    read_prepared_table,
    start_job,
    write_table,
)


def _positive_float(text):
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_parser(subparsers):
    """Add the ``fit-tree`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "fit-tree",
        help="evolve a shallow decision tree (LLEGO) on a table",
        description=(
            "Evolve a shallow decision tree on a CSV/TSV/Parquet table with "
            "EvolvedTreeClassifier or EvolvedTreeRegressor (genetic operators, or an "
            "OpenAI-compatible LLM with --llm-model), and write the tree as text, JSON and a "
            "picture, with the fitness history. Missing values and text columns are fine: "
            "each split learns where missing values go. An interrupted job resumes from its "
            "checkpoint; a finished one is not redone (use --force to recompute)."
        ),
    )
    add_table_job_arguments(parser, "tree")
    add_task_argument(parser)
    add_prepare_arguments(parser)
    parser.add_argument("--max-depth", type=positive_int, default=3, help="default: 3")
    parser.add_argument(
        "--generations", type=non_negative_int, default=25, help="default: 25"
    )
    parser.add_argument("--population", type=positive_int, default=25, help="default: 25")
    parser.add_argument(
        "--time-limit", type=_positive_float, default=None, metavar="SECONDS",
        help="stop evolving after this many seconds (default: no limit)",
    )
    parser.add_argument(
        "--description", default=None, help="what the task is about, shown to the LLM"
    )
    parser.add_argument(
        "--llm-model", default=None, help="model name; evolve with an LLM (default: no LLM)"
    )
    parser.add_argument(
        "--llm-base-url", default=None,
        help="OpenAI-compatible API root (default: $OPENAI_BASE_URL or OpenAI's)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="default: 0")
    parser.add_argument("--force", action="store_true", help="recompute a finished job")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="show progress")
    return parser


def _class_labels(y):
    """Whole-number float labels (read as numbers) as integers, so leaves read ``class: 1``."""
    import numpy as np

    values = y.to_numpy()
    if values.dtype.kind == "f" and np.all(values == np.round(values)):
        return y.astype(np.int64)
    return y


def run(args):
    """Run the tree job and return the exit code."""
    settings = {
        "target": args.target,
        "task": args.task,
        "max_depth": args.max_depth,
        "generations": args.generations,
        "population": args.population,
        "time_limit": args.time_limit,
        "description": args.description,
        "llm_model": args.llm_model,
        "llm_base_url": args.llm_base_url,
        "seed": args.seed,
        **prepare_settings(args),
    }
    fingerprint = start_job("fit-tree", settings, args.input, args.out, force=args.force)
    if fingerprint is None:
        return 0
    out = Path(args.out)
    checkpoint = out / "checkpoint.npz"
    _note_legacy_checkpoint(out)
    if args.force and os.path.lexists(checkpoint):
        checkpoint.unlink()

    # Trees take missing values and categories as they are: nothing is imputed or encoded.
    prepared = read_prepared_table(args, command="fit-tree", task=args.task, impute=False)
    X, y, task = prepared.X, prepared.y, prepared.task
    if X.shape[1] < 1:
        from tabsift.table import TableError

        raise TableError(
            f"{args.input.name} has no feature column besides the target {args.target!r}; "
            "a tree needs at least one."
        )
    if task == "classification":
        y = _class_labels(y)
    # --categorical columns stay categories, even where they hold numbers.
    forced = [c for c in args.categorical if c in X.columns]
    if forced:
        X = X.astype({c: "category" for c in forced})

    from tabsift.tree import EvolvedTreeClassifier, EvolvedTreeRegressor

    llm = None
    if args.llm_model is not None or args.llm_base_url is not None:
        from tabsift.llm import LLMClient

        llm = LLMClient(args.llm_model or "gpt-4o-mini", base_url=args.llm_base_url)
    estimator_class = EvolvedTreeClassifier if task == "classification" else EvolvedTreeRegressor
    model = estimator_class(
        llm,
        max_depth=args.max_depth,
        population_size=args.population,
        n_generations=args.generations,
        task_description=args.description,
        time_limit=args.time_limit,
        checkpoint=checkpoint,
        random_state=args.seed,
        verbose=args.verbose,
    )
    from tabsift.tree._checkpoint import CheckpointError, CheckpointMismatchError

    try:
        model.fit(X, y)
    except CheckpointMismatchError:
        # A checkpoint this job wrote with other settings or input (or an older schema):
        # a tabsift file, replaced by a fresh run.
        print(f"tabsift fit-tree: {checkpoint} is from a job with other settings or input; "
              "starting afresh")
        checkpoint.unlink(missing_ok=True)
        model.fit(X, y)
    except CheckpointError as err:
        raise CheckpointError(
            err.path, err.problem,
            remedy="delete it, or run again with --force to start afresh (it is then replaced)",
        ) from None

    score = float(model.score(X, y))
    metric = "accuracy" if task == "classification" else "R^2"
    best = model.hall_of_fame_[0]
    header = (
        f"# {estimator_class.__name__} on {args.input.name} (target {args.target!r}), "
        f"{model.n_generations_} generations; {metric} on all rows: {score:.4f}\n"
        f"# {X.shape[0]} rows, {X.shape[1]} feature columns; table preparation: "
        + ("none needed" if not prepared.steps else "; ".join(prepared.describe()))
        + "\n"
    )
    from tabsift.utils import atomic_write_bytes, atomic_write_text

    atomic_write_text(out / "tree.txt", header + model.export_text() + "\n")
    payload = {
        "tree": model.to_dict(),
        "task": task,
        "feature_names": model.feature_names_,
        "score": score,
        "metric": metric,
        "train_fitness": best["train_fitness"],
        "validation_fitness": best["validation_fitness"],
        "generations": model.n_generations_,
        "stopped_by_time_limit": model.stopped_by_time_limit_,
        "llm_stats": model.llm_stats_,
        "llm_report": model.llm_report_.to_dict(),
        "settings": settings,
        "preparation": prepared.steps,
    }
    atomic_write_text(out / "tree.json", json.dumps(payload, indent=2, default=str))
    atomic_write_bytes(out / "tree.png", _tree_png(model))

    import pandas as pd

    write_table(pd.DataFrame(model.history_), out / "history.csv")
    if model.stopped_by_time_limit_:
        print(
            f"tabsift fit-tree: stopped by --time-limit after {model.n_generations_} "
            f"generations; run again without it (or with a larger one) to continue from "
            f"{checkpoint}"
        )
    else:
        checkpoint.unlink(missing_ok=True)
    summary = {
        "input": str(args.input),
        "settings": settings,
        "score": score,
        "n_rows": int(X.shape[0]),
        "preparation": prepared.steps,
    }
    mark_finished(out, fingerprint, summary)
    print(
        f"tabsift fit-tree: depth-{model.tree_.depth} tree with {model.tree_.n_leaves} leaves, "
        f"{metric} {score:.4f}; results in {out}"
    )
    return 0


def _note_legacy_checkpoint(out):
    """Say that an old pickle checkpoint in ``out`` is ignored (and left where it is)."""
    import sys

    legacy = out / "checkpoint.pkl"
    if os.path.lexists(legacy):
        print(
            f"tabsift fit-tree: ignoring {legacy}: checkpoints are no longer pickles (a pickle "
            "can run code when loaded), so it is not read; the job starts afresh and leaves "
            "the file untouched (delete it if an earlier tabsift wrote it)",
            file=sys.stderr,
        )


def _tree_png(model):
    import io

    from matplotlib.figure import Figure

    tree = model.tree_
    fig = Figure(figsize=(max(4.0, 1.7 * tree.n_leaves), 1.4 * (tree.depth + 1) + 0.6))
    model.plot(ax=fig.subplots())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()
