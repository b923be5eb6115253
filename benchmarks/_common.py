"""Small helpers shared by the benchmark scripts: timing and machine description."""

import os
import platform
import time


def best_of(fn, *, repeat=3, number=1):
    """Best wall-clock time of ``repeat`` runs of ``number`` calls of ``fn`` (seconds per call)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number)
    return min(times)


def machine():
    """One line naming the machine, for RESULTS.md."""
    import numpy as np

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )


def markdown_table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return "\n".join(lines)
