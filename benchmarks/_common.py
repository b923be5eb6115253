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
# A run is flagged BUSY when other processes used more than this many cores, on average,
# while it ran: measured as the machine's busy CPU time (/proc/stat) minus this process's
# and its children's. (The 1-minute load average cannot tell: a benchmark's own previous
# repeat keeps it near 1 on an otherwise idle machine.)
BUSY_OTHER_CORES = 0.25


def load_average():
    """The 1-minute load average (os.getloadavg), or nan where the OS has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def machine_busy_seconds():
    """CPU seconds every process on the machine has used (Linux /proc/stat), or nan."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return float("nan")
    # user nice system idle iowait irq softirq steal ...: all but idle and iowait are busy.
    ticks = [int(v) for v in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def cpu_seconds():
    """CPU seconds of this process (all threads) plus its finished child processes."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn):
    """Run ``fn()`` once: ``{"result", "wall", "cpu", "others", "load_before", "load_after",
    "busy"}``.

    ``cpu`` counts this process's threads and the child processes that finished during
    the call (worker pools are joined before ``fn`` returns), so it is the per-core cost.
    ``others`` is the number of cores other processes kept busy, on average, meanwhile.
    """
    before = load_average()
    m0, c0, w0 = machine_busy_seconds(), cpu_seconds(), time.perf_counter()
    result = fn()
    wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
    others = max(0.0, (machine_busy_seconds() - m0 - cpu) / wall)
    after = load_average()
    busy = not others <= BUSY_OTHER_CORES  # nan (no /proc/stat) counts as busy
    return {"result": result, "wall": wall, "cpu": cpu, "others": others,
            "load_before": before, "load_after": after, "busy": busy}


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
    """``"others 0.02 cores, load 0.9-1.1"`` over ``timed`` results, BUSY when any run was."""
    loads = [r["load_before"] for r in runs] + [r["load_after"] for r in runs]
    busy = any(r["busy"] for r in runs)
    others = max(r["others"] for r in runs)
    text = f"others {others:.2f} cores, load {min(loads):.1f}-{max(loads):.1f}"
    return text + (" **BUSY**" if busy else "")
