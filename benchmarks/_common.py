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


# ------------------------------------------------------------ timing under load
# A row timed when the 1-minute load average was above this is flagged: other processes
# shared the cores, so wall times (and, less so, CPU times) are pessimistic.
BUSY_LOAD = 0.5


def load_average():
    """The 1-minute load average (os.getloadavg), or nan where the OS has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def cpu_seconds():
    """CPU seconds of this process (all threads) plus its finished child processes."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn):
    """Run ``fn()`` once: ``{"result", "wall", "cpu", "load_before", "load_after", "busy"}``.

    ``cpu`` counts this process's threads and the child processes that finished during
    the call (worker pools are joined before ``fn`` returns), so it is the per-core cost.
    """
    before = load_average()
    c0, w0 = cpu_seconds(), time.perf_counter()
    result = fn()
    wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
    after = load_average()
    return {"result": result, "wall": wall, "cpu": cpu, "load_before": before,
            "load_after": after, "busy": not before <= BUSY_LOAD}


def interleaved(parts, repeats):
    """Time every ``{name: fn}`` ``repeats`` times, in rotation (a, b, a, b, ...).

    Interleaving spreads a change in machine load over all parts instead of charging it
    to whichever ran during it. Returns ``{name: [timed(...) per repeat]}``.
    """
    runs = {name: [] for name in parts}
    for _ in range(repeats):
        for name, fn in parts.items():
            runs[name].append(timed(fn))
    return runs


def median_ratio(reference, ours, key):
    """Median over repeats of ``reference[i][key] / ours[i][key]`` (paired by repeat)."""
    import numpy as np

    return float(np.median([r[key] / o[key] for r, o in zip(reference, ours, strict=True)]))


def load_note(runs):
    """``"load 0.1-0.3"`` over a list of ``timed`` results, with a BUSY flag when any was."""
    loads = [r["load_before"] for r in runs] + [r["load_after"] for r in runs]
    busy = any(r["busy"] for r in runs)
    text = f"load {min(loads):.1f}-{max(loads):.1f}"
    return text + (" **BUSY**" if busy else "")
