"""``tabsift fit-rules``: learn a Boolean rule on a CSV/Parquet table with BooleanRuleClassifier.

Writes to ``--out``: ``rule.txt`` (the rule and its plain-language description),
``rule.json`` (:meth:`BooleanRuleClassifier.to_dict` plus settings and scores),
``explanation.csv`` (one row per input row: target, prediction, which conditions
held and why the rule fired or not; a text cell a spreadsheet would run as a
formula starts with ``'``; ``part`` says whether the row was a training or a
test row), ``report/`` (HTML page with the rule drawn as a tree, one panel row
per class, training and test accuracy, the confusion matrix and per-class
precision and recall, the table preparation steps, and ``results.json``), and
last ``job.json`` (with the preparation steps). Every file is written atomically.

The rule learner holds out no rows of its own, so the job does: ``--test-size`` of
the rows (default 0.2; stratified by class, seeded by ``--seed``) are set aside
before the fit, never seen by it, and the rule is scored on them and on the
training rows.
Running the same job again (same input bytes and settings) finds ``job.json``
and does nothing; ``--force`` recomputes.

The table is prepared as every job prepares it (:func:`tabsift.table.prepare_table`):
numbers stored as text are read as numbers, placeholders such as ``?`` as missing,
empty, constant, row-number and identifier columns are dropped. Missing values are
not imputed: a rule's conditions on a missing value are false, and categories stay
categories (``colour == 'red'``; ``--categorical`` makes number-like columns categories).
"""

import json
import sys
from pathlib import Path

from tabsift.cli._arguments import (
    add_run_arguments,
    add_table_job_arguments,
    positive_int,
    progress_level,
)
from tabsift.cli._holdout import (
    add_scores_sections,
    add_test_size_argument,
    held_out_scores,
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
from tabsift.utils import atomic_write_text, is_finite_number, neutralise_formulas

OPERATORS = ("And", "Or", "AtLeast", "AtMost", "Choose")


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _thresholds_file(text):
    """Argparse type: a JSON file ``{column: [thresholds, ...]}``, checked strictly."""
    import argparse

    def bad(problem):
        raise argparse.ArgumentTypeError(
            f"thresholds file {text!r} {problem}; it must hold a JSON object "
            '{"column": [threshold, ...], ...} of finite numbers'
        )

    try:
        raw = Path(text).read_bytes()
    except OSError as err:
        bad(f"cannot be read ({err.strerror or err})")
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        bad("is not UTF-8 text")
    except json.JSONDecodeError as err:
        bad(f"is not valid JSON ({err.msg}: line {err.lineno}, column {err.colno})")
    except (ValueError, RecursionError) as err:
        bad(f"is not valid JSON ({str(err)[:80]})")
    if not isinstance(data, dict):
        bad(f"holds a JSON {type(data).__name__}, not an object")
    for column, values in data.items():
        if not column.strip():
            bad("names an empty column")
        if is_finite_number(values):
            continue
        if not isinstance(values, list) or not values:
            found = "an empty list" if values == [] else f"a JSON {type(values).__name__}"
            bad(f"gives column {column!r} {found}, not a number or a non-empty list")
        for i, value in enumerate(values):
            if not is_finite_number(value):
                shown = json.dumps(value) if not isinstance(value, (list, dict)) else ""
                shown = shown if 0 < len(shown) <= 40 else f"a long JSON {type(value).__name__}"
                bad(f"has {column!r}[{i}] = {shown}, not a finite number")
    return data


def add_parser(subparsers):
    """Add the ``fit-rules`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "fit-rules",
        help="learn an interpretable Boolean rule (BoolXAI-style) on a table",
        description=(
            "Learn one expressive Boolean rule per class (And, Or, AtLeast, AtMost, Choose "
            "over conditions such as 'glucose > 127') on a CSV/TSV/Parquet table with "
            "BooleanRuleClassifier, and write the rule, its explanation per row and an HTML "
            "report. Missing values and text columns are fine: a condition on a missing value "
            "is false. Rerunning a finished job with the same input and settings does nothing "
            "(use --force to recompute)."
        ),
    )
    add_table_job_arguments(parser, "rules", target_help="name of the class column")
    add_prepare_arguments(parser)
    parser.add_argument("--max-depth", type=positive_int, default=3, help="default: 3")
    parser.add_argument(
        "--max-complexity", type=positive_int, default=6, help="operators + literals (default: 6)"
    )
    parser.add_argument(
        "--operators",
        nargs="+",
        choices=OPERATORS,
        default=list(OPERATORS),
        metavar="OP",
        help="operators the rule may use (default: all of And Or AtLeast AtMost Choose)",
    )
    parser.add_argument(
        "--n-thresholds",
        type=positive_int,
        default=5,
        help="quantile thresholds per numeric column (default: 5)",
    )
    parser.add_argument(
        "--thresholds",
        type=_thresholds_file,
        default=None,
        metavar="JSON",
        help="a JSON file {column: [thresholds]} with your own thresholds",
    )
    parser.add_argument("--iterations", type=positive_int, default=500, help="default: 500")
    parser.add_argument("--starts", type=positive_int, default=10, help="default: 10")
    parser.add_argument(
        "--max-samples", type=positive_int, default=2000, help="rows per start (default: 2000)"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="parallel starts, -1 for all cores (default: 1)"
    )
    add_test_size_argument(parser)
    add_run_arguments(parser)
    return parser


def run(args):
    """Run the rule-learning job and return the exit code."""
    settings = {
        "target": args.target,
        "max_depth": args.max_depth,
        "max_complexity": args.max_complexity,
        "operators": list(args.operators),
        "n_thresholds": args.n_thresholds,
        "thresholds": args.thresholds,
        "iterations": args.iterations,
        "starts": args.starts,
        "max_samples": args.max_samples,
        "seed": args.seed,
        "test_size": args.test_size,
        **prepare_settings(args),
    }
    fingerprint = start_job("fit-rules", settings, args.input, args.out, force=args.force)
    if fingerprint is None:
        return 0
    out = Path(args.out)

    # Rules take missing values and categories as they are: nothing is imputed or encoded.
    prepared = read_prepared_table(args, command="fit-rules", task="classification", impute=False)
    X_all, y_all = prepared.X, prepared.y
    # Rows the fit never sees, for an honest score next to the training score.
    X, X_test, y, y_test, how = split_rows(
        X_all, y_all, task="classification", test_size=args.test_size, seed=args.seed
    )

    from tabsift.rules import Binarizer, BooleanRuleClassifier

    clf = BooleanRuleClassifier(
        max_depth=args.max_depth,
        max_complexity=max(3, args.max_complexity),
        operators=tuple(args.operators),
        n_iterations=args.iterations,
        n_starts=args.starts,
        max_samples=args.max_samples,
        binarizer=Binarizer(n_thresholds=args.n_thresholds, thresholds=args.thresholds),
        n_jobs=args.jobs,
        random_state=args.seed,
        verbose=progress_level(args),
    ).fit(X, y)

    text = clf.export_text()
    description = clf.describe()
    atomic_write_text(out / "rule.txt", f"{text}\n\n{description}\n")
    model = clf.to_dict()
    model["settings"] = settings
    scores = held_out_scores(clf, X, y, X_test, y_test, task="classification", how=how)
    model["training_accuracy"] = scores["train_score"]
    model["test_accuracy"] = scores["test_score"]
    model["scores"] = scores
    model["llm_report"] = clf.llm_report_.to_dict()
    atomic_write_text(out / "rule.json", json.dumps(model, indent=2, default=str))
    import pandas as pd

    explanation = clf.explain(X_all)
    explanation.insert(0, args.target, y_all.to_numpy())
    part = pd.Series("train", index=X_all.index)
    if X_test is not None:
        part[X_test.index] = "test"
    explanation.insert(1, "part", part.to_numpy())
    for column in explanation.columns:
        if explanation[column].map(lambda v: isinstance(v, list)).any():
            explanation[column] = explanation[column].map(lambda v: "; ".join(map(str, v)))
    # Reasons and conditions are model text: no cell may run as a spreadsheet formula.
    write_table(neutralise_formulas(explanation), out / "explanation.csv")
    _write_report(
        clf, text, description, explanation, model, prepared, args.input.name, out / "report",
        max_depth=args.max_depth,
    )
    mark_finished(
        out,
        fingerprint,
        {
            "input": str(args.input),
            "settings": settings,
            "rule": text,
            "training_accuracy": scores["train_score"],
            "test_accuracy": scores["test_score"],
            "n_rows": len(X_all),
            "preparation": prepared.steps,
        },
    )
    lines = text.splitlines()
    print(f"tabsift fit-rules: {lines[0]}" + (" ..." if len(lines) > 1 else ""))
    test = "" if scores["test_score"] is None else f", test accuracy {scores['test_score']:.3f}"
    print(
        f"tabsift fit-rules: training accuracy {scores['train_score']:.3f}{test}; "
        f"results in {out}"
    )
    return 0


def _rule_figure(clf, text, max_depth):
    """Return the rules drawn as trees, one panel row per rule, wide enough to read."""
    n_rules = len(clf.classes_) if len(clf.classes_) > 2 else 1
    if n_rules == 1:
        return clf.plot()[0].figure  # plot sizes a single panel to its rule
    from matplotlib.figure import Figure

    longest = max(len(line) for line in text.splitlines())
    fig = Figure(
        figsize=(min(16.0, max(6.0, 0.1 * longest)), n_rules * (0.8 * (max_depth + 1) + 0.6)),
        layout="constrained",
    )
    clf.plot(ax=fig.subplots(n_rules, 1, squeeze=False).ravel())
    return fig


def _write_report(
    clf, text, description, explanation, model, prepared, input_name, folder, *, max_depth
):
    from tabsift.report import Report

    report = Report(f"tabsift fit-rules: {input_name}")
    section = {
        "text": description,
        "code": text,
        "data": {"rules": model["rules"], "fallback_class": model["fallback_class"]},
    }
    try:
        section["figure"] = _rule_figure(clf, text, max_depth)
    except Exception as exc:  # a plot must never lose the job's results
        print(f"tabsift fit-rules: rule plot skipped ({exc})", file=sys.stderr)
    report.add_section("Rule", **section)
    add_scores_sections(report, model["scores"])
    add_preparation_section(report, prepared)
    import pandas as pd

    literals = pd.DataFrame(model["literals"])
    report.add_section(
        "Conditions",
        text=f"The {len(literals)} binary conditions the search could use (from the Binarizer).",
        table=literals,
    )
    report.add_section(
        "Explanations",
        text="Why each row got its prediction, training and test rows alike (column "
        "'part'; first 200 rows; all in explanation.csv).",
        table=explanation.head(200),
    )
    report.write(folder)
