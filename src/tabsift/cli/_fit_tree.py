"""``tabsift fit-tree``: evolve a decision tree on a CSV/Parquet table.

Writes to ``--out``: ``tree.txt`` (the tree drawn as text, with its scores and
the table preparation steps), ``tree.json`` (the nested dict, settings, scores
and preparation steps), ``tree.png`` (a drawing), ``history.csv`` (one row per
generation), ``report/`` (HTML page with the tree, training and test scores, for
a classifier the confusion matrix and per-class precision and recall, the
fitness history and the preparation steps, and ``results.json``), and last
``job.json`` (with the preparation steps). Every file is written atomically.

``--test-size`` of the rows (default 0.2; stratified by class, seeded by
``--seed``) are held out before the fit and never seen by it: the scores are
reported on the training rows and on these test rows. The estimator's own
validation rows (``validation_fraction``, drawn from the training rows) pick the
tree among the best of the run, so their fitness is reported apart, named as such.

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
makes the job refuse to start (see :func:`tabsift.cli._job_folder.start_job`). Of the
checkpoints tabsift wrote, one of a job with other settings or input is
replaced by a fresh run; one that fails its checks (damaged or edited) stops
the job with an error naming it, and ``--force`` replaces it. A
``checkpoint.pkl`` of an earlier version is never read, and left in place.
"""

import json
import os
from pathlib import Path

from tabsift.cli._arguments import (
    add_run_arguments,
    add_table_job_arguments,
    add_task_argument,
    llm_client,
    non_negative_int,
    positive_int,
    progress_level,
)
from tabsift.cli._holdout import (
    add_scores_sections,
    add_test_size_argument,
    held_out_scores,
    score_lines,
    split_rows,
)
from tabsift.cli._io import write_table
from tabsift.cli._job_folder import mark_finished, start_job
from tabsift.cli._preparation import (
    add_preparation_section,
    add_prepare_arguments,
    prepare_settings,
    read_prepared_table,
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
    add_test_size_argument(parser)
    add_run_arguments(parser)
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
        "test_size": args.test_size,
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

    # Rows the fit never sees, for an honest score next to the training score.
    X_all, y_all = X, y
    X, X_test, y, y_test, how = split_rows(
        X_all, y_all, task=task, test_size=args.test_size, seed=args.seed
    )

    from tabsift.tree import EvolvedTreeClassifier, EvolvedTreeRegressor

    llm = llm_client(args)
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
        verbose=progress_level(args),
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

    scores = held_out_scores(model, X, y, X_test, y_test, task=task, how=how)
    metric = scores["metric"]
    best = model.hall_of_fame_[0]
    scores["validation_fitness"] = _validation_fitness(best, task)
    header = (
        f"# {estimator_class.__name__} on {args.input.name} (target {args.target!r}), "
        f"{model.n_generations_} generations\n"
        + "".join(f"# {line}\n" for line in score_lines(scores))
        + f"# {X_all.shape[0]} rows, {X_all.shape[1]} feature columns; table preparation: "
        + ("none needed" if not prepared.steps else "; ".join(prepared.describe()))
        + "\n"
    )
    from tabsift.utils import atomic_write_bytes, atomic_write_text

    atomic_write_text(out / "tree.txt", header + model.export_text() + "\n")
    payload = {
        "tree": model.to_dict(),
        "task": task,
        "feature_names": model.feature_names_,
        "metric": metric,
        "train_score": scores["train_score"],
        "test_score": scores["test_score"],
        "scores": scores,
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
    _write_report(model, scores, prepared, args.input.name, out / "report")
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
        "train_score": scores["train_score"],
        "test_score": scores["test_score"],
        "n_rows": int(X_all.shape[0]),
        "preparation": prepared.steps,
    }
    mark_finished(out, fingerprint, summary)
    test = "" if scores["test_score"] is None else f", test {scores['test_score']:.4f}"
    print(
        f"tabsift fit-tree: depth-{model.tree_.depth} tree with {model.tree_.n_leaves} leaves, "
        f"{metric} training {scores['train_score']:.4f}{test}; results in {out}"
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


def _validation_fitness(best, task):
    """Return the estimator's internal validation fitness of the chosen tree, named for what it is."""
    import math

    value = best["validation_fitness"]
    return {
        "value": None if not math.isfinite(value) else float(value),
        "training_value": float(best["train_fitness"]),
        "fitness": "balanced accuracy" if task == "classification" else "R^2",
        "rows": "the estimator's validation rows, drawn from the training rows; they picked "
        "this tree among the best of the run, so the value is not an independent test",
    }


def _tree_figure(model):
    from matplotlib.figure import Figure

    tree = model.tree_
    fig = Figure(figsize=(max(4.0, 1.7 * tree.n_leaves), 1.4 * (tree.depth + 1) + 0.6))
    model.plot(ax=fig.subplots())
    return fig


def _write_report(model, scores, prepared, input_name, folder):
    from matplotlib.figure import Figure

    from tabsift.report import Report

    report = Report(f"tabsift fit-tree: {input_name}")
    tree = model.tree_
    report.add_section(
        "Tree",
        text=f"{type(model).__name__}: depth {tree.depth}, {tree.n_leaves} leaves, after "
        f"{model.n_generations_} generations. " + " ".join(score_lines(scores)),
        code=model.export_text(),
        figure=_tree_figure(model),
        data={"tree": model.to_dict(), "feature_names": model.feature_names_},
    )
    add_scores_sections(report, scores)
    fitness = scores["validation_fitness"]
    fig = Figure(figsize=(6.5, 3.6), layout="constrained")
    model.plot_history(ax=fig.subplots())
    text = (
        f"Best and mean {fitness['fitness']} of the population per generation, on the "
        "training rows and, dashed, on the estimator's validation rows (drawn from the "
        "training rows; they pick the final tree, so they are not an independent test: "
        "the test split above is)."
    )
    if fitness["value"] is not None:
        text += (
            f" The chosen tree: {fitness['training_value']:.4f} on the training rows, "
            f"{fitness['value']:.4f} on the validation rows."
        )
    report.add_section("Fitness history", text=text, figure=fig, data=fitness)
    add_preparation_section(report, prepared)
    report.write(folder)


def _tree_png(model):
    import io

    fig = _tree_figure(model)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()
