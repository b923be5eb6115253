"""KANSelector fit time and peak memory as the table grows.

Each size runs in a fresh subprocess so its peak resident memory (``ru_maxrss``) is its own.
Defaults follow the paper's settings (hidden width 2d+1, grid 2, order 1, batch 64,
5-fold CV); ``--epochs`` trades fidelity for time on large tables, and the per-epoch time
is reported so a full run can be extrapolated: the child times the networks' training apart
from the rest (data checks, standardisation, scoring the held-out rows), and the last column is
``rest + 100 x training per epoch``.

Run: python benchmarks/bench_kan_scale.py [--sizes 10000x100 100000x500] [--epochs 100]
     [--device cpu|cuda] [--threads 1]
"""

import argparse
import json
import subprocess
import sys

from _common import machine, markdown_table

CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
from sklearn.datasets import make_classification
from tabsift.feature_selection import KANSelector
from tabsift.feature_selection._kan_network import TabsiftKANEngine
rows, cols, epochs, device, threads = sys.argv[1:6]
# Time the training (every order-1 fit goes through _train_stacked) apart from the rest.
train_s = [0.0]
_train = TabsiftKANEngine._train_stacked.__func__
def _timed(cls, *args, **kwargs):
    t = time.perf_counter()
    out = _train(cls, *args, **kwargs)
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    train_s[0] += time.perf_counter() - t
    return out
TabsiftKANEngine._train_stacked = classmethod(_timed)
rows, cols, epochs, threads = int(rows), int(cols), int(epochs), int(threads)
torch.set_num_threads(threads)
X, y = make_classification(n_samples=rows, n_features=cols, n_informative=max(2, cols // 10),
                           random_state=0)
X = X.astype(np.float32)
start = time.perf_counter()
sel = KANSelector(n_features_to_select=0.1, epochs=epochs, device=device,
                  early_stopping=False, random_state=0).fit(X, y)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if device.startswith("cuda"):
    peak_gpu = torch.cuda.max_memory_allocated() / 2**20
else:
    peak_gpu = None
print(json.dumps({"fit_s": elapsed, "train_s": train_s[0], "peak_rss_mb": peak,
                  "peak_gpu_mb": peak_gpu}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["10000x100"])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    table = []
    for size in args.sizes:
        rows, cols = (int(v) for v in size.lower().split("x"))
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(rows),
                str(cols),
                str(args.epochs),
                args.device,
                str(args.threads),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rest = result["fit_s"] - result["train_s"]
        table.append(
            {
                "rows x features": f"{rows} x {cols}",
                "epochs": args.epochs,
                "device": args.device,
                "fit (s)": f"{result['fit_s']:.1f}",
                "training per epoch, 5 folds (s)": f"{result['train_s'] / args.epochs:.2f}",
                "rest (s)": f"{result['fit_s'] - result['train_s']:.1f}",
                "fit at 100 epochs (s)": f"{rest + 100 * result['train_s'] / args.epochs:.0f}",
                "peak RSS (MB)": f"{result['peak_rss_mb']:.0f}",
                "peak GPU (MB)": ""
                if result["peak_gpu_mb"] is None
                else f"{result['peak_gpu_mb']:.0f}",
            }
        )
    print(f"Machine: {machine()}; torch threads: {args.threads}\n")
    print(markdown_table(table, list(table[0])))


if __name__ == "__main__":
    main()
