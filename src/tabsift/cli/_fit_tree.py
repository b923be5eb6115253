"""``tabsift fit-tree``: evolve a decision tree on a CSV/Parquet table.

Writes to ``--out``: ``tree.txt`` (the tree drawn as text, with its scores),
``tree.json`` (the nested dict, settings and scores), ``tree.png`` (a
drawing), ``history.csv`` (one row per generation), and last ``job.json``.
Every file is written atomically. While it runs, the evolution state is saved
to ``checkpoint.pkl`` after each generation: an interrupted job (or one
stopped by ``--time-limit``) started again resumes where it stopped, also
with more ``--generations`` or another time limit; a finished job (same input
bytes and settings) is not run again unless ``--force`` is given.
"""

import json
from pathlib import Path

from tabsift.cli._io import (
    add_table_job_arguments,
    add_task_argument,
    mark_finished,
    non_negative_int,
    positive_int,
    read_target_table,
    start_job,
    write_table,
)

# A float target with more distinct values than this is a regression target for --task auto.
_MAX_FLOAT_CLASSES = 20


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
            "picture, with the fitness history. An interrupted job resumes from its "
            "checkpoint; a finished one is not redone (use --force to recompute)."
        ),
    )
    add_table_job_arguments(parser, "tree")
    add_task_argument(parser)
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


def _task(y, requested):
    """``--task auto``: class labels are classification, continuous numbers regression."""
    if requested != "auto":
        return requested
    from sklearn.utils.multiclass import type_of_target

    kind = type_of_target(y.to_numpy(), input_name="y")
    if kind == "continuous":
        return "regression"
    if kind in ("binary", "multiclass"):
        many = y.dtype.kind == "f" and y.nunique() > _MAX_FLOAT_CLASSES
        return "regression" if many else "classification"
    raise ValueError(
        f"target column has values of type {kind!r}; fit-tree needs class labels or numbers. "
        "Pass --task classification or --task regression if the type is guessed wrongly."
    )


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
    }
    fingerprint = start_job("fit-tree", settings, args.input, args.out, force=args.force)
    if fingerprint is None:
        return 0
    out = Path(args.out)
    checkpoint = out / "checkpoint.pkl"
    if args.force:
        checkpoint.unlink(missing_ok=True)

    frame = read_target_table(args.input, args.target)
    frame = frame.dropna(subset=[args.target])
    X = frame.drop(columns=[args.target])
    y = frame[args.target]
    if X.shape[1] < 1:
        raise ValueError(f"{args.input.name} has no feature column besides the target.")
    task = _task(y, args.task)

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
    try:
        model.fit(X, y)
    except ValueError as err:
        if "belongs to another run" not in str(err):
            raise
        # A checkpoint left by a job with other settings: start afresh.
        checkpoint.unlink(missing_ok=True)
        model.fit(X, y)

    score = float(model.score(X, y))
    metric = "accuracy" if task == "classification" else "R^2"
    best = model.hall_of_fame_[0]
    header = (
        f"# {estimator_class.__name__} on {args.input.name} (target {args.target!r}), "
        f"{model.n_generations_} generations; {metric} on all rows: {score:.4f}\n"
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
        "settings": settings,
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
    summary = {"input": str(args.input), "settings": settings, "score": score}
    mark_finished(out, fingerprint, summary)
    print(
        f"tabsift fit-tree: depth-{model.tree_.depth} tree with {model.tree_.n_leaves} leaves, "
        f"{metric} {score:.4f}; results in {out}"
    )
    return 0


def _tree_png(model):
    import io

    from matplotlib.figure import Figure

    tree = model.tree_
    fig = Figure(figsize=(max(4.0, 1.7 * tree.n_leaves), 1.4 * (tree.depth + 1) + 0.6))
    model.plot(ax=fig.subplots())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()
