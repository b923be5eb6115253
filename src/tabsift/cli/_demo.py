"""``tabsift demo``: run every capability on offline data and write an HTML report.

Each section is a function of a :class:`DemoContext` that returns the keyword
arguments of :meth:`tabsift.report.Report.add_section` (``text``, ``figure``,
``table``, ``data``). Sections are listed in ``SECTIONS``; a family writes its
own in a module ``_demo_<family>.py`` (building blocks in
:mod:`tabsift.cli._demo_base`) and adds one import and one ``SECTIONS`` entry here. A
section that raises is recorded in the report as failed, the others still
run, and the command exits with code 1 at the end.
"""

import sys
import time
import traceback

from tabsift.cli._arguments import add_out_argument, non_negative_int as _non_negative_int
from tabsift.cli._demo_backend import array_backend_section
from tabsift.cli._demo_base import DemoContext
from tabsift.cli._demo_coresets import coresets_section
from tabsift.cli._demo_datasets import datasets_section
from tabsift.cli._demo_dsir import dsir_section
from tabsift.cli._demo_expr import safe_expressions_section
from tabsift.cli._demo_kan import kan_selection_section
from tabsift.cli._demo_llm import llm_layer_section
from tabsift.cli._demo_residual import residual_section
from tabsift.cli._demo_rules import rules_section
from tabsift.cli._demo_tree import evolved_tree_section

# One entry per section, in report order; each is imported at the top.
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
    add_out_argument(
        parser, "report", help="folder to write the report in (default: ./tabsift-report)"
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
