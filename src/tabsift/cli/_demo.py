"""``tabsift demo``: run every capability on offline data and write an HTML report.

Each section is a function of a :class:`DemoContext` that returns the keyword
arguments of :meth:`tabsift.report.Report.add_section` (``text``, ``figure``,
``table``, ``data``). Sections are listed in ``SECTIONS``; a family writes its
own in a module ``_demo_<family>.py`` (building blocks in
:mod:`tabsift.cli._demo_base`) and adds one import and one ``SECTIONS`` entry here. A
section that raises is recorded in the report as failed, the others still
run, and the command exits with code 1 at the end.
"""

import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from tabsift.cli._demo_base import DemoContext, demo_section
from tabsift.cli._demo_base import figure as _figure
from tabsift.cli._demo_coresets import coresets_section
from tabsift.cli._demo_dsir import dsir_section
from tabsift.cli._demo_residual import residual_section
from tabsift.cli._demo_rules import rules_section
from tabsift.cli._demo_tree import evolved_tree_section
from tabsift.cli._io import non_negative_int as _non_negative_int
from tabsift.cli._io import output_folder as _output_folder


@demo_section("Datasets")
def datasets_section(ctx):
    """Shipped and generated datasets: sizes, tasks and planted ground truth."""
    import pandas as pd

    from tabsift import datasets

    rows = []
    for name in ("breast_cancer", "wine", "diabetes", "digits", "iris", "california_housing"):
        loader = getattr(datasets, f"load_{name}")
        try:
            bunch = loader()
        except FileNotFoundError:
            rows.append(
                {
                    "dataset": f"load_{name}",
                    "source": "not available offline",
                    "rows": None,
                    "columns": None,
                    "task": "regression",
                    "ground_truth": "",
                }
            )
            continue
        rows.append(
            {
                "dataset": f"load_{name}",
                "source": "scikit-learn (bundled)",
                "rows": bunch.data.shape[0],
                "columns": bunch.data.shape[1],
                "task": bunch.task,
                "ground_truth": "",
            }
        )

    n = ctx.size(1000, 300)
    informative = datasets.make_informative(n_samples=n, random_state=ctx.seed)
    rule = datasets.make_boolean_rule(n_samples=n, random_state=ctx.seed)
    tree = datasets.make_planted_tree(n_samples=n, depth=2, random_state=ctx.seed)
    interaction = datasets.make_missing_interaction(n_samples=n, random_state=ctx.seed)
    shift = datasets.make_domain_shift(
        n_pool=ctx.size(5000, 1000), n_target=ctx.size(500, 100), random_state=ctx.seed
    )
    generated = [
        ("make_informative", informative, f"informative: {', '.join(informative.informative)}"),
        ("make_boolean_rule", rule, rule.rule_text),
        (
            "make_planted_tree",
            tree,
            f"depth-2 tree on {', '.join(sorted(_tree_columns(tree.tree)))}",
        ),
        ("make_missing_interaction", interaction, f"mechanism: {interaction.mechanism}"),
    ]
    for name, bunch, truth in generated:
        rows.append(
            {
                "dataset": name,
                "source": "generated",
                "rows": bunch.data.shape[0],
                "columns": bunch.data.shape[1],
                "task": bunch.task,
                "ground_truth": truth,
            }
        )
    rows.append(
        {
            "dataset": "make_domain_shift",
            "source": "generated",
            "rows": len(shift.pool),
            "columns": shift.pool.shape[1],
            "task": shift.task,
            "ground_truth": f"target domain: {shift.target_domain} ({len(shift.target)} rows)",
        }
    )
    table = pd.DataFrame(rows).rename(columns={"ground_truth": "ground truth"})

    # The planted rule, recomputed from its description, must match the labels
    # except for the flipped ones.
    holds = sum(
        (rule.data[lit["column"]] > lit["threshold"]) != lit["negated"]
        for lit in rule.rule["literals"]
    )
    agreement = float(np.mean((holds >= rule.rule["k"]) == rule.target))

    fig, (ax_rule, ax_shift) = _figure(ncols=2)
    first, second = rule.rule["literals"][:2]
    x, y = rule.data[first["column"]], rule.data[second["column"]]
    for label, colour in ((0, "tab:blue"), (1, "tab:orange")):
        mask = rule.target == label
        ax_rule.scatter(x[mask], y[mask], s=8, alpha=0.6, color=colour, label=f"label {label}")
    ax_rule.axvline(first["threshold"], color="grey", linestyle="--", linewidth=1)
    ax_rule.axhline(second["threshold"], color="grey", linestyle="--", linewidth=1)
    ax_rule.set(xlabel=first["column"], ylabel=second["column"])
    ax_rule.set_title(f"make_boolean_rule\n{rule.rule_text}", fontsize=9)
    ax_rule.legend(fontsize=8)
    for domain in shift.domains:
        mask = (shift.pool_domain == domain).to_numpy()
        ax_shift.scatter(
            shift.pool.loc[mask, "x0"], shift.pool.loc[mask, "x1"], s=4, alpha=0.3, label=domain
        )
    ax_shift.scatter(
        shift.target["x0"],
        shift.target["x1"],
        s=10,
        marker="x",
        color="black",
        label=f"target ({shift.target_domain})",
    )
    ax_shift.set(xlabel="x0", ylabel="x1")
    ax_shift.set_title("make_domain_shift: pool by domain, and the target sample", fontsize=9)
    ax_shift.legend(fontsize=7, markerscale=2)

    return {
        "text": (
            "Datasets bundled with scikit-learn, wrapped to return pandas objects and their "
            "task, and generators with planted structure that methods should recover.\n\n"
            f"The planted boolean rule, recomputed from its description, agrees with "
            f"{agreement:.1%} of the labels (the rest were flipped on purpose)."
        ),
        "figure": fig,
        "table": table,
        "data": {
            "datasets": rows,
            "boolean_rule": rule.rule_text,
            "boolean_rule_agreement": agreement,
            "informative": informative.informative,
            "planted_tree": tree.tree,
            "mechanism": interaction.mechanism,
            "target_domain": shift.target_domain,
        },
    }


def _tree_columns(tree):
    if "value" in tree:
        return set()
    ((feature, branches),) = tree.items()
    return {feature}.union(*(_tree_columns(child) for child in branches.values()))


# ---------------------------------------------------------------- array backend
_NAMESPACES = ("numpy", "array_api_strict", "cupy")


@demo_section("Array backend")
def array_backend_section(ctx):
    """Installed array namespaces and the timing of one kernel in each."""
    import pandas as pd

    import tabsift
    from tabsift.backend import asarray, get_namespace, to_numpy

    n_rows, n_cols = ctx.size(100_000, 20_000), 20
    X = np.random.default_rng(ctx.seed).normal(2.0, 3.0, size=(n_rows, n_cols))
    expected = (X - X.mean(axis=0)) / X.std(axis=0)
    configured = tabsift.get_config()["array_backend"]
    in_use = get_namespace(X).__name__

    rows = []
    for name in _NAMESPACES:
        row = {
            "namespace": name,
            "installed": importlib.util.find_spec(name) is not None,
            "version": None,
            "module": None,
            "best_ms": None,
            "max_abs_diff": None,
            "error": None,
        }
        rows.append(row)
        if not row["installed"]:
            continue
        try:
            row["version"] = getattr(importlib.import_module(name), "__version__", None)
            with tabsift.config_context(array_backend=name):
                xp = get_namespace(X)
                Xb = asarray(X, xp=xp)
                row["module"] = xp.__name__

                def kernel(xp=xp, Xb=Xb):
                    out = (Xb - xp.mean(Xb, axis=0)) / xp.std(Xb, axis=0)
                    # Converting a reduction waits for asynchronous devices (CuPy).
                    float(to_numpy(xp.sum(out)))
                    return out

                kernel()  # warm-up: first calls may compile or allocate
                times = []
                for _ in range(3):
                    start = time.perf_counter()
                    out = kernel()
                    times.append(time.perf_counter() - start)
            row["best_ms"] = 1000 * min(times)
            row["max_abs_diff"] = float(np.max(np.abs(to_numpy(out) - expected)))
        except Exception as exc:  # one broken namespace (e.g. CuPy without a GPU) is a row
            row["error"] = f"{type(exc).__name__}: {exc}"

    numpy_row = rows[0]
    if numpy_row["error"] is not None:
        raise RuntimeError(f"the NumPy namespace failed: {numpy_row['error']}")
    if numpy_row["max_abs_diff"] > 1e-8:
        raise RuntimeError(
            f"standardising with the NumPy namespace differs from NumPy by "
            f"{numpy_row['max_abs_diff']:.3g}; expected < 1e-8."
        )

    timed = [r for r in rows if r["best_ms"] is not None]
    fig, (ax,) = _figure(width=6.0, height=0.6 + 0.6 * len(timed))
    ax.barh([r["namespace"] for r in timed], [r["best_ms"] for r in timed])
    ax.set_xlabel("best of 3, milliseconds")
    ax.set_title(f"Standardising a {n_rows:,} x {n_cols} matrix", fontsize=10)
    ax.invert_yaxis()

    installed = [r["namespace"] for r in rows if r["installed"]]
    return {
        "text": (
            f"Installed array namespaces: {', '.join(installed)}. tabsift computes in the "
            f"namespace of its input unless tabsift.set_config(array_backend=...) forces one; "
            f"the configured backend is {configured!r}, so NumPy input is computed with "
            f"{in_use}.\n\nThe kernel standardises each column, (X - mean) / std, and the "
            f"result is checked against NumPy."
        ),
        "figure": fig,
        "table": pd.DataFrame(rows).rename(
            columns={"best_ms": "best time (ms)", "max_abs_diff": "max abs diff vs NumPy"}
        ),
        "data": {
            "configured_backend": configured,
            "namespace_in_use": in_use,
            "shape": [n_rows, n_cols],
            "namespaces": {
                r["namespace"]: {k: v for k, v in r.items() if k != "namespace"} for r in rows
            },
        },
    }


# ------------------------------------------------------------- safe expressions
_HOSTILE_FORMULAS = (
    "__import__('os').system('echo hi')",
    "x1.__class__.__bases__",
    "open('/etc/passwd').read()",
)


@demo_section("Safe expressions")
def safe_expressions_section(ctx):
    """Evaluate the planted mechanism as a formula, and reject hostile formulas."""
    import pandas as pd

    from tabsift.datasets import make_missing_interaction
    from tabsift.expr import evaluate, parse

    bunch = make_missing_interaction(n_samples=ctx.size(2000, 500), random_state=ctx.seed)
    formula = bunch.mechanism
    expression = parse(formula)
    values = np.asarray(evaluate(formula, bunch.data), dtype=float)
    if values.shape != (len(bunch.data),):
        raise RuntimeError(
            f"evaluate() returned shape {values.shape}; expected ({len(bunch.data)},)."
        )
    linear = sum(coef * bunch.data[column] for column, coef in bunch.linear_part.items())
    residual = (bunch.target - linear).to_numpy()
    r2 = float(np.corrcoef(values, residual)[0, 1] ** 2)
    rmse = float(np.sqrt(np.mean((residual - values) ** 2)))

    rejected = []
    for hostile in _HOSTILE_FORMULAS:
        try:
            evaluate(hostile, bunch.data)
        except Exception as exc:
            rejected.append({"formula": hostile, "error": type(exc).__name__, "message": str(exc)})
        else:
            raise RuntimeError(f"the hostile formula {hostile!r} was evaluated instead of rejected")

    fig, (ax,) = _figure()
    ax.scatter(values, residual, s=6, alpha=0.5)
    lims = [min(values.min(), residual.min()), max(values.max(), residual.max())]
    ax.plot(lims, lims, color="black", linewidth=1, label="y = x")
    ax.set(xlabel=f"evaluate({formula!r})", ylabel="target - linear part")
    ax.set_title(f"make_missing_interaction: R\N{SUPERSCRIPT TWO} = {r2:.3f}", fontsize=10)
    ax.legend()

    return {
        "text": (
            f"The planted mechanism of make_missing_interaction, written as the formula "
            f"{formula!r} (columns: {', '.join(sorted(expression.columns))}), is parsed and "
            f"evaluated on the data by tabsift's own evaluator (never Python's eval or exec). It explains the part of the target that "
            f"the linear terms miss: R\N{SUPERSCRIPT TWO} = {r2:.3f}, residual RMSE {rmse:.3f} "
            f"against noise {bunch.noise}.\n\n"
            f"Formulas that try to reach Python internals are rejected before anything runs."
        ),
        "figure": fig,
        "table": pd.DataFrame(rejected),
        "data": {
            "formula": formula,
            "columns": sorted(expression.columns),
            "r2": r2,
            "rmse": rmse,
            "noise": bunch.noise,
            "rejected": rejected,
        },
    }


# -------------------------------------------------------------------- LLM layer
_THRESHOLD_SCHEMA = {
    "type": "object",
    "properties": {
        "thresholds": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "column": {"type": "string"},
                    "op": {"type": "string", "enum": [">", "<="]},
                    "threshold": {"type": "number"},
                },
                "required": ["column", "op", "threshold"],
            },
        }
    },
    "required": ["thresholds"],
}


def _scripted_thresholds(data, target):
    """What the scripted "model" proposes: cut each column between the class medians."""
    proposals = []
    for column in data.columns:
        low = float(data.loc[target == 0, column].median())
        high = float(data.loc[target == 1, column].median())
        op = ">" if high > low else "<="
        proposals.append({"column": column, "op": op, "threshold": round((low + high) / 2, 2)})
    return {"thresholds": proposals}


@demo_section("LLM layer")
def llm_layer_section(ctx):
    """Ask a local OpenAI-compatible server for thresholds; show the structured-reply retry."""
    import pandas as pd

    from tabsift.datasets import make_boolean_rule
    from tabsift.llm.testing import LocalLLMServer

    bunch = make_boolean_rule(n_samples=ctx.size(1000, 300), random_state=ctx.seed)
    summary = {
        column: {
            "median": round(float(bunch.data[column].median()), 3),
            "median_when_label_1": round(
                float(bunch.data.loc[bunch.target == 1, column].median()), 3
            ),
            "median_when_label_0": round(
                float(bunch.data.loc[bunch.target == 0, column].median()), 3
            ),
        }
        for column in bunch.data.columns
    }
    good_reply = "Proposed cuts:\n" + json.dumps(_scripted_thresholds(bunch.data, bunch.target))
    # The first reply breaks off mid-JSON, as models sometimes do.
    replies = [
        'Sure! {"thresholds": [{"column": "' + bunch.data.columns[0] + '", "thre',
        good_reply,
    ]
    calls = []

    def responder(request):
        calls.append(request)
        return replies[min(len(calls), len(replies)) - 1]

    messages = [
        {
            "role": "system",
            "content": "You propose one threshold per column for a binary label. "
            "Reply with JSON only.",
        },
        {"role": "user", "content": "Column summaries:\n" + json.dumps(summary)},
    ]
    with LocalLLMServer(responder) as server, server.client(timeout=5) as client:
        value, _ = client.chat_json(messages, schema=_THRESHOLD_SCHEMA)
        usage = client.usage

    rows, literals = [], []
    truth = {lit["column"]: lit for lit in bunch.rule["literals"]}
    for proposal in value["thresholds"]:
        column, op, threshold = proposal["column"], proposal["op"], proposal["threshold"]
        holds = bunch.data[column] > threshold
        holds = holds if op == ">" else ~holds
        accuracy = float(np.mean(holds == bunch.target))
        literals.append((accuracy, holds))
        planted = truth.get(column)
        rows.append(
            {
                "column": column,
                "proposed": f"{column} {op} {threshold}",
                "accuracy": accuracy,
                "in planted rule": planted is not None,
                "planted threshold": planted["threshold"] if planted else None,
            }
        )
    # AtLeast2 over the three most accurate proposed conditions.
    best = sorted(literals, key=lambda item: item[0], reverse=True)[:3]
    rule_accuracy = float(np.mean((sum(h.astype(int) for _, h in best) >= 2) == bunch.target))

    usage_data = {
        "requests": usage.requests,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
    }
    return {
        "text": (
            f"A local OpenAI-compatible server (tabsift.llm.testing.LocalLLMServer) plays the "
            f"model with scripted replies. Asked for one threshold per column of the "
            f"boolean-rule data, its first reply breaks off mid-JSON; chat_json sends the parse "
            f"error back and the second reply validates against the schema. "
            f"{usage.requests} requests, {usage.prompt_tokens} prompt and "
            f"{usage.completion_tokens} completion tokens.\n\n"
            f"AtLeast2 over the three most accurate proposed conditions reaches "
            f"{rule_accuracy:.1%} accuracy; the planted rule is {bunch.rule_text}."
        ),
        "table": pd.DataFrame(rows),
        "data": {
            "usage": usage_data,
            "attempts": len(calls),
            "proposals": value["thresholds"],
            "rule_accuracy": rule_accuracy,
            "planted_rule": bunch.rule_text,
        },
    }


# ------------------------------------------------------------------- KAN selection
@demo_section("KAN feature selection")
def kan_selection_section(ctx):
    """Rank features with each KAN importance method on data with planted informative columns."""
    import pandas as pd

    from tabsift.datasets import make_informative
    from tabsift.feature_selection import KANSelector

    bunch = make_informative(
        n_samples=ctx.size(600, 300), n_features=8, n_informative=3, random_state=ctx.seed
    )
    informative = set(bunch.informative)
    rows, selectors = [], {}
    for method in ("l1", "l2", "si", "ko"):
        selector = KANSelector(
            method=method,
            n_features_to_select=len(informative),
            epochs=ctx.size(40, 15),
            cv=3,
            random_state=ctx.seed,
        ).fit(bunch.data, bunch.target)
        kept = set(selector.get_feature_names_out())
        selectors[method] = selector
        rows.append(
            {
                "method": method,
                "kept": ", ".join(sorted(kept)),
                "informative recovered": f"{len(kept & informative)} of {len(informative)}",
            }
        )
    fig, axes = _figure(ncols=2, width=4.5, height=3.8)
    selectors["l2"].plot_importances(ax=axes[0])
    axes[0].set_title("KAN-L2 importances (fold spread)")
    selectors["ko"].plot_importances(ax=axes[1])
    axes[1].set_title("KAN-KO importances (fold spread)")
    table = pd.DataFrame(rows)
    return {
        "text": (
            "KANSelector trains a Kolmogorov-Arnold network in each cross-validation fold and "
            "scores features on the held-out rows. The data has "
            f"{len(informative)} informative columns ({', '.join(sorted(informative))}) among "
            f"{bunch.data.shape[1]}."
        ),
        "figure": fig,
        "table": table,
        "data": {
            "informative": sorted(informative),
            "methods": {
                m: {
                    "scores": dict(
                        zip(sel.feature_names_in_, map(float, sel.scores_), strict=True)
                    ),
                    "kept": sorted(sel.get_feature_names_out()),
                }
                for m, sel in selectors.items()
            },
        },
    }


# One entry per section; a family module's section is imported at the top.
SECTIONS = (
    datasets_section,
    array_backend_section,
    safe_expressions_section,
    llm_layer_section,
    kan_selection_section,
    evolved_tree_section,
    rules_section,
    residual_section,
    dsir_section,
    coresets_section,
)


# ---------------------------------------------------------------------- command
def add_parser(subparsers):
    """Add the ``demo`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "demo",
        help="run every capability on offline data and write an HTML report",
        description=(
            "Run every tabsift capability available in this installation on shipped and "
            "generated data, offline, and write an HTML report (index.html, figures, "
            "results.json) to a folder."
        ),
    )
    parser.add_argument(
        "--out",
        type=_output_folder,
        default=Path("tabsift-report"),
        metavar="DIR",
        help="folder to write the report in (default: ./tabsift-report)",
    )
    parser.add_argument("--quick", action="store_true", help="use smaller data")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="print each section as it runs (-vv: with progress bars)"
    )
    parser.add_argument(
        "--seed", type=_non_negative_int, default=0, help="random seed for the data (default: 0)"
    )
    return parser


def run(args):
    """Run the demo sections, write the report, return the exit code."""
    from tabsift.report import Report

    ctx = DemoContext(quick=args.quick, seed=args.seed, verbose=args.verbose)
    debug = getattr(args, "debug", False)
    report = Report("tabsift demo")
    for number, section in enumerate(SECTIONS, start=1):
        start = time.perf_counter()
        try:
            content = dict(section(ctx))
            elapsed = time.perf_counter() - start
            data = dict(content.pop("data", None) or {})
            data["elapsed_s"] = round(elapsed, 3)
            report.add_section(section.title, data=data, **content)
            status = "ok"
        except Exception as exc:
            elapsed = time.perf_counter() - start
            if debug:
                traceback.print_exc()
            report.add_section(
                section.title,
                text="This section raised an error; the other sections still ran.",
                data={"elapsed_s": round(elapsed, 3)},
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
            )
            status = f"FAILED ({type(exc).__name__}: {exc})"
        if ctx.verbose:
            print(f"[{number}/{len(SECTIONS)}] {section.title}: {status} ({elapsed:.1f} s)")
    index = report.write(args.out)
    print(f"tabsift demo: report written to {index}")
    failed = report.failed_sections
    if failed:
        print(
            f"tabsift: error: {len(failed)} of {len(SECTIONS)} demo sections failed "
            f"({', '.join(failed)}); see the report for each error.",
            file=sys.stderr,
        )
        return 1
    return 0
