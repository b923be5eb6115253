"""``tabsift select-features``: choose features of a CSV/Parquet table with KANSelector.

The table is prepared as it comes (numbers stored as text read as numbers,
placeholders such as ``?`` read as missing, identifier, constant and empty
columns dropped, missing values imputed: the KAN needs finite numbers);
categorical columns stay categories, which KANSelector encodes and ranks as
one feature each. Every preparation step goes to the report and ``job.json``.

Writes to ``--out``: the selected table (same format as the input: the kept
columns plus the target, every row and value as read, not as prepared),
``scores.csv`` (one row per feature: score, rank, kept, per-fold scores),
``report/`` (HTML page with the preparation steps, the importance and shape
plots, and ``results.json``), and last ``job.json``. Every file is written
atomically. Running the same job again (same input bytes and settings) finds
``job.json`` and does nothing, so a batch of jobs can be restarted after an
interruption and only the unfinished ones run; ``--force`` recomputes.
"""

import sys
from pathlib import Path

from tabsift.cli._arguments import (
    add_run_arguments,
    add_table_job_arguments,
    add_task_argument,
    count_or_fraction,
    positive_int,
    progress_level,
)
from tabsift.cli._io import read_target_table, write_table
from tabsift.cli._job_folder import mark_finished, start_job
from tabsift.cli._preparation import (
    add_preparation_section,
    add_prepare_arguments,
    prepare_settings,
    read_prepared_table,
)
from tabsift.utils import plain

METHODS = ("l1", "l2", "si", "ko")


def _fraction_or_count(text):
    return count_or_fraction(
        text,
        expected="a fraction in (0, 1] or a number of features",
        count="a count of features",
        one_is_count=False,
    )


def add_parser(subparsers):
    """Add the ``select-features`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "select-features",
        help="choose the most important features of a table with a KAN selector",
        description=(
            "Rank the feature columns of a CSV/TSV/Parquet table with KANSelector "
            "(cross-validated Kolmogorov-Arnold network importances), keep the best ones, and "
            "write the selected table, the scores and an HTML report. Rerunning a finished "
            "job with the same input and settings does nothing (use --force to recompute)."
        ),
    )
    add_table_job_arguments(parser, "features")
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="l2",
        help="importance: l1/l2 (contribution norms), si (sensitivity), ko (knock-out); "
        "default: l2",
    )
    parser.add_argument(
        "--keep",
        type=_fraction_or_count,
        default=0.4,
        metavar="K",
        help="features to keep: a fraction in (0, 1] or a count (default: 0.4)",
    )
    add_task_argument(parser)
    parser.add_argument("--engine", choices=("tabsift", "pykan"), default="tabsift")
    parser.add_argument("--epochs", type=positive_int, default=100, help="default: 100")
    parser.add_argument(
        "--cv",
        type=positive_int,
        default=5,
        help="folds; 1 scores on the training rows (default: 5)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads (default: 1; the networks are small, more threads rarely help)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="where the networks train: cpu, cuda, cuda:N or auto (the GPU when torch sees "
        "one); default: cpu",
    )
    add_run_arguments(parser)
    add_prepare_arguments(parser)
    return parser


def run(args):
    """Run the selection job and return the exit code."""
    settings = {
        "target": args.target,
        "method": args.method,
        "keep": args.keep,
        "task": args.task,
        "engine": args.engine,
        "epochs": args.epochs,
        "cv": args.cv,
        "device": args.device,
        "seed": args.seed,
        **prepare_settings(args),
    }
    fingerprint = start_job("select-features", settings, args.input, args.out, force=args.force)
    if fingerprint is None:
        return 0
    out = Path(args.out)

    # The table as read: the selected table is written from it, not from the prepared one.
    frame = read_target_table(args.input, args.target, na_values=args.na_values)
    prepared = read_prepared_table(args, command="select-features", task=args.task, impute=True)
    X, y = prepared.X, prepared.y
    if X.shape[1] < 2:
        from tabsift.table import TableError

        raise TableError(
            f"{args.input.name} has {X.shape[1]} usable feature column(s) besides the target "
            f"{args.target!r} (after preparation: see its steps); feature selection needs at "
            "least 2."
        )

    import torch

    from tabsift.feature_selection import KANSelector

    torch.set_num_threads(args.threads)

    selector = KANSelector(
        method=args.method,
        n_features_to_select=args.keep,
        task=prepared.task,
        engine=args.engine,
        epochs=args.epochs,
        cv=args.cv,
        device=args.device,
        random_state=args.seed,
        verbose=progress_level(args),
    )
    selector.fit(X, y)
    kept = list(selector.get_feature_names_out())

    # Prepared names are the file's names as text; map them back to the frame's own.
    original = {str(c): c for c in frame.columns}
    columns = [original[name] for name in kept] + [args.target]
    write_table(frame[columns], out / f"selected{args.input.suffix.lower()}")
    scores = _scores_table(selector)
    write_table(scores, out / "scores.csv")
    stability = _write_report(selector, scores, settings, args.input.name, out / "report", prepared)
    summary = {
        "input": str(args.input),
        "settings": settings,
        "task": prepared.task,
        "preparation": prepared.steps,
        "kept": kept,
        "n_features": int(X.shape[1]),
        "stability": stability,
    }
    mark_finished(out, fingerprint, summary)
    print(
        f"tabsift select-features: kept {len(kept)} of {X.shape[1]} features "
        f"({', '.join(kept)}); results in {out}"
    )
    if stability["note"]:
        print(f"tabsift select-features: {stability['note']}")
    return 0


def _scores_table(selector):
    import pandas as pd

    names = list(selector.feature_names_in_)
    table = pd.DataFrame(
        {
            "feature": names,
            "score": selector.scores_,
            "rank": selector.ranking_,
            "kept": selector.get_support(),
        }
    )
    for fold, fold_scores in enumerate(selector.scores_per_fold_):
        table[f"score_fold_{fold}"] = fold_scores
    return table.sort_values("rank", kind="stable").reset_index(drop=True)


def _write_report(selector, scores, settings, input_name, folder, prepared):
    from matplotlib.figure import Figure

    from tabsift.report import Report

    report = Report(f"tabsift select-features: {input_name}")
    add_preparation_section(report, prepared)
    fig = Figure(figsize=(7, max(3.0, 0.3 * len(scores) + 1)), layout="constrained")
    selector.plot_importances(ax=fig.subplots())
    stability = selection_stability(selector)
    text = _importances_caption(selector, scores, settings["method"])
    if stability["note"]:
        text += "\n\n" + stability["note"]
    report.add_section(
        "Feature importances",
        text=text,
        figure=fig,
        table=scores,
        data={
            "settings": settings,
            "scores": dict(zip(scores["feature"], scores["score"], strict=True)),
            "stability": stability,
        },
    )
    try:
        shapes = selector.plot_shapes()
        shape_fig = shapes if isinstance(shapes, Figure) else shapes.flat[0].figure
        report.add_section(
            "Learned shapes",
            text=_shapes_caption(selector),
            figure=shape_fig,
        )
    except Exception as exc:  # a plot must never lose the job's results
        print(f"tabsift select-features: shape plot skipped ({exc})", file=sys.stderr)
    report.write(folder)
    return stability


def selection_stability(selector):
    """How settled the ranking and the kept set are, judged by the spread over folds.

    Returns a JSON-ready dict: ``n_folds``; ``fold_std`` (per feature);
    ``fold_agreement`` (the share of folds whose own top-k is exactly the
    kept set) and ``mean_jaccard`` (mean Jaccard index of each fold's top-k
    with the kept set); ``boundary`` (the lowest kept and the highest dropped
    feature with their scores and fold standard deviations, and whether
    their gap is within one fold standard deviation); ``flat`` (whether all
    mean scores lie within the largest fold standard deviation of each
    other); and ``note``, a sentence for the report when the selection is
    within its own fold spread (empty otherwise, and with a single fold,
    which has no spread).
    """
    import numpy as np

    names = [str(n) for n in selector.feature_names_in_]
    mean = np.asarray(selector.scores_, dtype=float)
    folds = np.asarray(selector.scores_per_fold_, dtype=float)
    kept = np.asarray(selector.get_support())
    k = int(kept.sum())
    out = {"n_folds": int(folds.shape[0]), "note": ""}
    if folds.shape[0] < 2 or k in (0, len(names)):
        return out
    std = folds.std(axis=0, ddof=1)
    kept_set = set(np.flatnonzero(kept))
    tops = [set(np.argsort(-fold, kind="stable")[:k]) for fold in folds]
    jaccard = [len(top & kept_set) / len(top | kept_set) for top in tops]
    agreement = float(np.mean([top == kept_set for top in tops]))
    low = min(kept_set, key=lambda j: mean[j])
    high = max(set(range(len(names))) - kept_set, key=lambda j: mean[j])
    gap = float(mean[low] - mean[high])
    overlap = bool(gap <= max(std[low], std[high]))
    flat = bool(np.ptp(mean) <= std.max())
    out.update(
        fold_std=dict(zip(names, std.tolist(), strict=True)),
        fold_agreement=agreement,
        mean_jaccard=float(np.mean(jaccard)),
        boundary={
            "lowest_kept": names[low],
            "lowest_kept_score": float(mean[low]),
            "lowest_kept_std": float(std[low]),
            "highest_dropped": names[high],
            "highest_dropped_score": float(mean[high]),
            "highest_dropped_std": float(std[high]),
            "gap": gap,
            "within_fold_spread": overlap,
        },
        flat=flat,
    )
    if not (overlap or flat):
        return out
    n = folds.shape[0]
    if flat:
        what = (
            f"All {len(names)} scores lie within {np.ptp(mean):.3g} of each other, less than "
            f"the largest fold standard deviation ({std.max():.3g}): the ranking is within its "
            "own fold spread and does not single out any feature."
        )
    else:
        what = (
            f"The kept/dropped boundary is within the fold spread: the lowest kept feature "
            f"{names[low]!r} ({mean[low]:.3g} \u00b1 {std[low]:.3g}) and the highest dropped "
            f"{names[high]!r} ({mean[high]:.3g} \u00b1 {std[high]:.3g}) differ by less than "
            "one fold standard deviation, so which of them is kept is not settled."
        )
    out["note"] = (
        f"Stability: {what} Each fold's own top {k} equals the kept set in "
        f"{round(agreement * n)} of {n} folds (mean Jaccard overlap "
        f"{np.mean(jaccard):.2f}). Treat the selection as tentative: more rows, more "
        "--epochs or more --cv folds may settle it."
    )
    return out


def _importances_caption(selector, scores, method):
    """Return what the importance chart shows, and how the network saw the table."""
    text = (
        f"KANSelector(method={method!r}) scores averaged over "
        f"{len(selector.scores_per_fold_)} held-out folds (error bars: spread over folds). "
        f"Kept: {int(scores['kept'].sum())} of {len(scores)} features."
    )
    if selector.encoding_steps_:
        text += (
            " The network saw the table encoded: "
            + "; ".join(selector.encoding_steps_)
            + ". A categorical column is scored as one feature, over all its categories."
        )
        if method in ("l1", "l2") and any("one-hot" in s for s in selector.encoding_steps_):
            text += (
                " With categorical columns, --method ko or si (which read effects) compare "
                "them with numeric columns better than l1/l2 (which read function sizes)."
            )
    return text


def _shapes_caption(selector):
    """Return what ``plot_shapes`` draws (the response of every fold's network), in words.

    ``plot_shapes(kind="response")``: the whole network's output, through both
    layers, averaged over the fold networks (not the first fold's alone).
    """
    if selector.task_ == "regression":
        output = "the prediction in the target's units"
    elif len(selector.classes_) == 2:
        positive = selector.classes_[1]
        positive = plain(positive)  # no np.int64(1)
        output = f"the log-odds of class {positive!r}"
    else:
        output = "each class's centred logit (one line per class)"
    n_folds = len(selector.models_)
    spread = (
        f"The line is the mean over the {n_folds} fold networks, the band (error bars for "
        "categories) their range."
        if n_folds > 1
        else "One network, trained on every row."
    )
    return (
        f"How the trained networks respond to each kept feature: {output} of the whole "
        "network (through both layers, not one first-layer function) as the feature "
        "moves over its observed range while every other feature stays at its training mean "
        f"(one point per category for a categorical feature). {spread}"
    )
