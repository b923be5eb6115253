"""``tabsift correct-residuals``: explicit correction formulas for a base model of a table.

Writes to ``--out``: ``corrections.json`` (the exported corrections, which
:class:`tabsift.residual.FrozenCorrections` applies to new data),
``base_model.pkl`` (the refit base model they go with; a pickle, so load it
only from a folder you trust), ``trace.csv`` (what the search tried, step by
step; a text cell a spreadsheet would run as a formula, such as an LLM's
``=HYPERLINK(...)``, starts with ``'``), ``predictions.csv`` (base and
corrected predictions for every row),
``report/`` (HTML page with the table preparation, the residual plot, the
corrections and the validation scores, and ``results.json``), and last
``job.json``. Every file is written atomically; rerunning a finished job with
the same input and settings does nothing (``--force`` recomputes).

The table is read as it comes (:func:`tabsift.table.prepare_table`): numbers
stored as text are read as numbers, placeholders such as ``?`` as missing,
row-number, identifier, constant and empty columns dropped. With the default
``--base xgboost`` missing values and text columns reach the model as they are
(XGBoost takes both natively); with ``--base linear`` missing numbers are
imputed with the median and text columns one-hot encoded, so
``corrections.json`` names the encoded columns (``city=Oslo``). Every step is
listed in the report and in ``job.json`` (``"preparation"``).
"""

import json
import pickle
import sys
from pathlib import Path

from tabsift.cli._arguments import (
    add_run_arguments,
    add_table_job_arguments,
    add_task_argument,
    non_negative_int,
    positive_int,
    progress_level,
)
from tabsift.cli._io import write_table
from tabsift.cli._job_folder import mark_finished, start_job
from tabsift.cli._preparation import (
    add_preparation_section,
    add_prepare_arguments,
    prepare_settings,
    read_prepared_table,
)
from tabsift.utils import atomic_write_bytes, neutralise_formulas


def add_parser(subparsers):
    """Add the ``correct-residuals`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "correct-residuals",
        help="find explicit correction formulas in a base model's residuals",
        description=(
            "Fit a base model to a CSV/TSV/Parquet table, search its out-of-fold residuals "
            "for correction formulas kept only when they lower the validation loss, and "
            "write the corrections (JSON), a trace, predictions and an HTML report. Without "
            "--llm-model the search is offline. Rerunning a finished job with the same input "
            "and settings does nothing (use --force to recompute)."
        ),
    )
    add_table_job_arguments(parser, "residuals")
    add_task_argument(parser)
    parser.add_argument(
        "--base",
        choices=("linear", "xgboost"),
        default="xgboost",
        help="base model: linear/logistic regression or XGBoost (default: xgboost)",
    )
    parser.add_argument(
        "--corrections",
        type=non_negative_int,
        default=2,
        metavar="K",
        help="most correction terms to keep (default: 2)",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=10,
        metavar="T",
        help="search rounds, or critique rounds per agent with an LLM (default: 10)",
    )
    parser.add_argument("--cv", type=positive_int, default=5, help="folds (>= 2; default: 5)")
    parser.add_argument(
        "--llm-model",
        default=None,
        metavar="NAME",
        help="use LLM agents with this model (OpenAI-compatible server; default: offline)",
    )
    parser.add_argument(
        "--llm-base-url",
        default=None,
        metavar="URL",
        help="the LLM server's API root (default: OPENAI_BASE_URL or OpenAI)",
    )
    parser.add_argument(
        "--context", default=None, metavar="TEXT", help="domain context shown to the LLM agents"
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        help="threads for the XGBoost models (default: all cores)",
    )
    add_run_arguments(parser)
    add_prepare_arguments(parser)
    return parser


def _base_model(name, task, seed):
    if name == "xgboost":
        return None  # the estimators' default: XGBoost
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task == "regression":
        return LinearRegression()
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def run(args):
    """Run the correction job and return the exit code."""
    if args.cv < 2:
        raise ValueError(f"--cv must be at least 2 for out-of-fold residuals, got {args.cv}.")
    settings = {
        "target": args.target,
        "task": args.task,
        "base": args.base,
        "corrections": args.corrections,
        "rounds": args.rounds,
        "cv": args.cv,
        "llm_model": args.llm_model,
        "llm_base_url": args.llm_base_url,
        "context": args.context,
        "seed": args.seed,
        "jobs": args.jobs,
        "preparation": prepare_settings(args),
    }
    fingerprint = start_job("correct-residuals", settings, args.input, args.out, force=args.force)
    if fingerprint is None:
        return 0
    out = Path(args.out)

    # XGBoost takes missing values and categories natively; a linear base needs both
    # filled in and one-hot encoded.
    linear = args.base == "linear"
    prepared = read_prepared_table(
        args, command="correct-residuals", task=args.task, impute=linear, encode=linear
    )
    X, y, task = prepared.X, prepared.y, prepared.task

    from tabsift.residual import ResidualAgentClassifier, ResidualAgentRegressor

    llm = None
    if args.llm_model:
        from tabsift.llm import LLMClient

        llm = LLMClient(args.llm_model, base_url=args.llm_base_url, seed=args.seed)
    cls = ResidualAgentRegressor if task == "regression" else ResidualAgentClassifier
    model = cls(
        _base_model(args.base, task, args.seed),
        llm=llm,
        n_corrections=args.corrections,
        n_rounds=args.rounds,
        domain_context=args.context,
        cv=args.cv,
        n_jobs=args.jobs,
        random_state=args.seed,
        verbose=progress_level(args),
    )
    model.fit(X, y)

    out.mkdir(parents=True, exist_ok=True)
    model.export_corrections(out / "corrections.json")
    atomic_write_bytes(out / "base_model.pkl", pickle.dumps(model.base_estimator_))
    # The trace holds model (and LLM) text: no cell may run as a spreadsheet formula.
    write_table(neutralise_formulas(_trace_table(model)), out / "trace.csv")
    write_table(_predictions(model, X, y, task), out / "predictions.csv")
    _write_report(model, settings, args.input.name, prepared, out / "report")
    summary = {
        "input": str(args.input),
        "settings": settings,
        "task": task,
        "preparation": prepared.steps,
        "corrections": [c.expression for c in model.corrections_],
        "validation_scores": model.validation_scores_,
    }
    if llm is not None:
        summary["llm_usage"] = {"requests": llm.usage.requests, "tokens": llm.usage.total_tokens}
        summary["llm_report"] = model.llm_report_.to_dict()
    mark_finished(out, fingerprint, summary)
    scores = model.validation_scores_
    change = ""
    if scores["base"] is not None:
        change = (
            f"; validation {scores['metric']} {scores['base']:.4g} -> {scores['corrected']:.4g}"
        )
    print(
        f"tabsift correct-residuals: kept {len(model.corrections_)} correction(s)"
        f"{': ' + ', '.join(c.expression for c in model.corrections_) if model.corrections_ else ' (none passed the acceptance test)'}"
        f"{change}; results in {out}"
    )
    return 0


def _trace_table(model):
    import pandas as pd

    columns = [
        "round",
        "agent",
        "step",
        "hypothesis",
        "formula",
        "target_class",
        "validation_loss",
        "critique",
        "status",
        "reason",
    ]
    return pd.DataFrame([{c: row.get(c) for c in columns} for row in model.trace_], columns=columns)


def _corrections_table(model):
    import pandas as pd

    rows = [
        {
            "formula": c.expression,
            "coefficient": c.coefficient,
            "validation_gain": c.validation_gain,
            "target_class": None if c.target_class is None else str(c.target_class),
            "source": c.source,
            "explanation": c.explanation,
        }
        for c in model.corrections_
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "formula",
            "coefficient",
            "validation_gain",
            "target_class",
            "source",
            "explanation",
        ],
    )


def _residual_column(model, X):
    """Return the number column to plot residuals against, and why it was chosen.

    The first column the first kept correction reads; with no correction, the
    column the base model leans on most (impurity importances, or coefficient
    size times the column's spread for a linear base).
    """
    import numpy as np

    numbers = [str(c) for c in X.select_dtypes("number").columns]
    for correction in model.corrections_:
        for column in correction.columns:
            if column in numbers:
                return column, f"the column the first kept correction ({correction.expression}) reads"
    base = model.base_estimator_
    names = [str(c) for c in getattr(base, "feature_names_in_", X.columns)]
    importance = getattr(base, "feature_importances_", None)
    if importance is None and hasattr(base, "coef_"):
        coef = np.abs(np.atleast_2d(base.coef_)).sum(axis=0)
        spread = X.reindex(columns=getattr(base, "feature_names_in_", X.columns)).std()
        importance = coef * np.nan_to_num(spread.to_numpy(dtype=float))
    if importance is not None and len(importance) == len(names):
        ranked = [names[j] for j in np.argsort(-np.asarray(importance), kind="stable")]
        for column in ranked:
            if column in numbers:
                return column, "the base model's most important column (no correction was kept)"
    if not numbers:
        raise ValueError("the table has no number column to plot residuals against")
    return numbers[0], "the first number column (no correction was kept)"


def _predictions(model, X, y, task):
    import numpy as np
    import pandas as pd

    table = pd.DataFrame({"target": y.to_numpy()})
    table["base_prediction"] = model.predict_base(X)
    if task == "regression":
        table["prediction"] = model.predict(X)
    else:
        proba = model.predict_proba(X)
        table["prediction"] = model.classes_[np.argmax(proba, axis=1)]
        for j, label in enumerate(model.classes_):
            table[f"proba_{label}"] = proba[:, j]
    return table


def _write_report(model, settings, input_name, prepared, folder):
    from matplotlib.figure import Figure

    from tabsift.report import Report

    task = prepared.task
    report = Report(f"tabsift correct-residuals: {input_name}")
    add_preparation_section(report, prepared)
    scores = model.validation_scores_
    text = (
        f"{type(model).__name__} with base {type(model.base_estimator_).__name__} "
        f"({'LLM agents' if settings['llm_model'] else 'offline search'}); kept "
        f"{len(model.corrections_)} correction(s)."
    )
    if scores["base"] is not None:
        text += (
            f" Validation {scores['metric']} ({scores['n_validation']} held-out rows): "
            f"{scores['base']:.4g} for the base model, {scores['corrected']:.4g} corrected."
        )
    if not model.corrections_:
        tried = sum(1 for row in model.trace_ if row.get("formula"))
        text += (
            f" No correction passed the acceptance test: none of the {tried} formula(s) the "
            "search tried lowered the validation loss enough to be kept, so the model "
            "predicts as its base model does (the trace below lists each one and why it was "
            "rejected)."
        )
    report.add_section(
        "Corrections",
        text=text,
        table=_corrections_table(model) if model.corrections_ else None,
        data={"settings": settings, "task": task, "validation_scores": scores},
    )
    try:
        column, why = _residual_column(model, prepared.X)
        ax = model.plot_residuals(feature=column)
        fig = ax.figure
        report.add_section(
            "Residuals before and after",
            text=f"Validation residuals (rows the corrections were not fit on) against "
            f"{column!r}, {why}: grey rings for the base model, blue dots corrected"
            + (" (the same here: nothing was kept)." if not model.corrections_ else "."),
            figure=fig if isinstance(fig, Figure) else None,
            data={"column": column},
        )
    except ValueError as exc:  # no validation rows (tiny table): the job still has results
        print(f"tabsift correct-residuals: residual plot skipped ({exc})", file=sys.stderr)
    report.add_section(
        "Search trace",
        text="Every step of the search: accepted and rejected formulas with the reason.",
        table=_trace_table(model),
        data={"trace": json.loads(json.dumps(model.trace_, default=str))},
    )
    report.write(folder)
