"""Coreset selection time and peak memory as the table grows (k-center, OT, apricot).

Each run happens in a fresh subprocess, so its peak resident memory (``ru_maxrss``) is its
own; the table reports the peak above the memory held once the data exist (the input
itself, float32, is not counted). apricot's FacilityLocationSelection builds a dense
n x n similarity matrix, so it only runs at the small ``--apricot-sizes``; its memory at
the large sizes is extrapolated as 8 n^2 bytes.

``--backend cupy`` runs tabsift's selectors under ``tabsift.config_context(array_backend=
"cupy")``: k-center's distances and OT's candidate-by-validation cost chunks on the GPU (the
data stay NumPy in host memory; the shortlists and OT solves stay on the CPU).

Run: python benchmarks/bench_coreset_scale.py [--sizes 100000x50:1000 1000000x50:10000]
     [--ot-swaps 5] [--apricot-sizes 5000 10000] [--exact] [--backend numpy|cupy]
"""

import argparse
import json
import subprocess
import sys

from _common import machine, markdown_table

CHILD = r"""
import json, resource, sys, time
import numpy as np
method, rows, cols, k, swaps = sys.argv[1], *map(int, sys.argv[2:6])
backend = sys.argv[6]

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024

rng = np.random.default_rng(0)
# A mixture of 20 Gaussian clusters, labels from the cluster (2 classes).
centres = rng.standard_normal((20, cols)).astype(np.float32) * 3
which = rng.integers(0, 20, rows)
X = centres[which] + rng.standard_normal((rows, cols), dtype=np.float32)
y = (which % 2).astype(np.int64)
import sklearn, ot  # noqa: imported before the baseline so their memory is not counted
import tabsift
from tabsift.sampling import KCenterSelector, OTCoresetSelector
context = tabsift.config_context(array_backend=None if backend == "numpy" else backend)
context.__enter__()
if backend == "cupy":
    import cupy
    cupy.zeros(1).sum()  # CUDA context and kernels initialised before timing
if method == "apricot":
    from apricot import FacilityLocationSelection
    # numba compiles on the first call: warm up on a tiny table, not timed.
    FacilityLocationSelection(2, metric="euclidean", optimizer="lazy").fit(X[:50])
base = rss_mb()
start = time.perf_counter()
if method == "kcenter":
    sel = KCenterSelector(n_samples=k, random_state=0).fit(X, y)
    extra = {"algorithm": "two-level" if rows * k > 2e8 else "exact", "radius": sel.radius_}
elif method == "kcenter-exact":
    sel = KCenterSelector(n_samples=k, algorithm="exact", random_state=0).fit(X, y)
    extra = {"algorithm": "exact", "radius": sel.radius_}
elif method == "ot":
    sel = OTCoresetSelector(n_samples=k, max_swaps=swaps, random_state=0).fit(X, y)
    extra = {"swaps": sel.n_swaps_, "objective": sel.objective_history_[-1],
             "build_objective": sel.objective_history_[0]}
else:
    Z = (X - X.mean(0)) / X.std(0)
    FacilityLocationSelection(k, metric="euclidean", optimizer="lazy").fit(Z)
    extra = {}
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"fit_s": elapsed, "peak_extra_mb": peak - base, **extra}))
"""


def run(method, rows, cols, k, swaps, backend="numpy"):
    out = subprocess.run(
        [sys.executable, "-c", CHILD, method, str(rows), str(cols), str(k), str(swaps), backend],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["100000x50:1000", "1000000x50:10000"],
                        help="ROWSxCOLS:K")
    parser.add_argument("--ot-swaps", type=int, default=5)
    parser.add_argument("--apricot-sizes", nargs="*", type=int, default=[5000, 10000])
    parser.add_argument("--exact", action="store_true",
                        help="also run exact k-center at every size (slow at 1M x 10k)")
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                        help="array backend for tabsift's selectors (cupy: on the GPU)")
    args = parser.parse_args()
    table = []
    for size in args.sizes:
        shape, k = size.split(":")
        rows, cols = (int(v) for v in shape.lower().split("x"))
        methods = ["kcenter", "ot"] + (["kcenter-exact"] if args.exact else [])
        for method in methods:
            res = run(method, rows, cols, int(k), args.ot_swaps, args.backend)
            print(method, rows, cols, k, res, flush=True)
            table.append({"method": method, "rows": rows, "cols": cols, "k": k, **res})
    for rows in args.apricot_sizes:
        k = max(1, rows // 100)
        res = run("apricot", rows, 50, k, 0)
        print("apricot", rows, 50, k, res, flush=True)
        table.append({"method": "apricot facility location", "rows": rows, "cols": 50, "k": k,
                      **res})
    for row in table:
        for key in ("fit_s", "peak_extra_mb", "radius", "objective", "build_objective"):
            if key in row:
                row[key] = f"{row[key]:.4g}"
        row.setdefault("note", row.pop("error", ""))
        for key in ("algorithm", "swaps"):
            row.setdefault(key, "")
    print()
    print(f"{machine()}; backend {args.backend}")
    print(markdown_table(table, ["method", "rows", "cols", "k", "fit_s", "peak_extra_mb",
                                 "algorithm", "swaps", "note"]))


if __name__ == "__main__":
    main()
