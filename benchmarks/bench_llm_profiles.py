"""Every LLM estimator against every LocalLLMServer profile, and the parsers on hostile replies.

Part 1 runs the cells of ``tests/test_llm_profile_matrix.py`` (the same code, imported
from there) outside pytest: each LLM-powered estimator fits against a local server
imitating one real server (tabsift.llm.testing.PROFILES), whose scripted model thinks
aloud with a wrong draft before its correct answer. It prints, per estimator and
profile, what ``llm_report_`` recorded (requests, accepted answers, rejections by
reason, offline fallbacks), the chat requests the server received (retries,
negotiation and separate requests for n > 1 included), what the profile did, whether
the fitted result holds the final answers (the test's checks), and the best fit time
of ``--repeat`` runs. The server answers at once: the seconds are tabsift's overhead
plus the estimator's own work, not a model's latency.

Part 2 times the two reply parsers, ``tabsift.llm.extract_json`` and the tree-text
parser ``tabsift.tree._text.parse_literal`` (used through ``text_to_arrays``), on
hostile replies of 1 MB (1,000,000 characters) and at each parser's size cap (a
reply over the cap is refused before it is read): best of 3.

Run: python benchmarks/bench_llm_profiles.py [--repeat 3]
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

from _common import best_of, machine, markdown_table

from tabsift.llm import (
    MAX_REPLY_CHARS as JSON_CAP,
    LLMFallbackWarning,
    extract_json,
    extract_literal,
)
from tabsift.llm.testing import PROFILES
from tabsift.tree._text import MAX_REPLY_CHARS as TREE_CAP, parse_literal

# The cells are those of the test matrix, imported from the tests folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_llm_profile_matrix as matrix  # noqa: E402

MB = 1_000_000


def _fill(unit, n):
    return (unit * (n // len(unit) + 1))[:n]


def _nested_think(n):
    pairs = n // len("<think></think>")
    return "<think>" * pairs + "</think>" * pairs


HOSTILE = {
    "digits": lambda n: _fill("1", n),
    "backticks": lambda n: _fill("`", n),
    "'['": lambda n: _fill("[", n),
    "'{\"a\":'": lambda n: _fill('{"a":', n),
    "'{a:'": lambda n: _fill("{a:", n),
    "nested <think>": _nested_think,
}


def _outcome(parse, text):
    try:
        parse(text)
    except Exception as err:  # the parsers raise their own ValueError subclasses
        reason = getattr(err, "reason", None)
        return f"{type(err).__name__}({reason})" if reason else type(err).__name__
    return "parsed"


def parser_rows():
    rows = []
    for kind, make in HOSTILE.items():
        for parser, parse, cap in (
            ("extract_json", extract_json, JSON_CAP),
            ("extract_literal", extract_literal, JSON_CAP),
            ("tree parse_literal", parse_literal, TREE_CAP),
        ):
            for size in sorted({MB, cap}):
                text = make(size)

                half = make(size // 2)

                def run(parse=parse, text=text):
                    try:
                        parse(text)
                    except Exception:
                        pass

                def run_half(parse=parse, text=half):
                    run(parse, text)

                rows.append(
                    {
                        "reply": kind,
                        "parser": parser,
                        "chars": f"{size:,}",
                        "read": "yes" if size <= cap else "no (over the cap)",
                        "outcome": _outcome(parse, text),
                        "best of 3 (ms)": f"{1000 * best_of(run, repeat=3):.1f}",
                        "at half the size (ms)": f"{1000 * best_of(run_half, repeat=3):.1f}",
                    }
                )
    return rows


def _rejected(report):
    return ", ".join(f"{k}: {v}" for k, v in sorted(report.rejected.items())) or "-"


def _events(events):
    shown = {k: v for k, v in events.items() if k != "reasoning"}
    return ", ".join(f"{k}: {v}" for k, v in sorted(shown.items())) or "-"


def matrix_rows(repeat):
    rows = []
    for name in matrix.ESTIMATORS:
        for profile in PROFILES:
            seconds = []
            for _ in range(repeat):
                result = matrix.run_cell(name, profile)
                seconds.append(result.seconds)
            report = result.estimator.llm_report_
            try:
                matrix.CHECKS[name](result.estimator, result)
                final = "yes"
            except AssertionError as err:
                final = f"NO ({str(err).splitlines()[0][:60]})"
            warned = any(issubclass(w.category, LLMFallbackWarning) for w in result.warnings)
            rows.append(
                {
                    "estimator": name,
                    "profile": profile,
                    "requests": report.requests,
                    "accepted": report.accepted,
                    "rejected": _rejected(report),
                    "fallbacks": report.fallbacks,
                    "server requests": result.sent,
                    "profile events": _events(result.events),
                    "final answers used": final,
                    "warning": "LLMFallbackWarning" if warned else "-",
                    "seconds": f"{min(seconds):.2f}",
                }
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fits per cell (best time kept)")
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = matrix_rows(args.repeat)
    columns = list(rows[0])
    print(f"## LLM estimators x server profiles (best of {args.repeat} fits)\n")
    print(markdown_table(rows, columns))
    print(f"\n{len(rows)} cells in {time.perf_counter() - start:.1f} s\n")
    print("## Reply parsers on hostile replies (best of 3)\n")
    print(
        f"extract_json reads at most {JSON_CAP:,} characters, the tree parser "
        f"{TREE_CAP:,}; a longer reply is refused unread.\n"
    )
    rows = parser_rows()
    print(markdown_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
