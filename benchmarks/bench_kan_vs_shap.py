"""KANSelector against ShapSelector's cost on 5,000 x 50 (issue 19, "KAN at SHAP's cost").

Times, in one process and interleaved (SHAP, KAN default, KAN paper settings, SHAP, ...),
so that a change in the machine's load falls on every row alike:

- ``ShapSelector()`` (default: XGBoost 200 rounds of depth 4, TreeSHAP on 2,000 rows);
- ``KANSelector()`` (default: early stopping on held-out loss, ``early_stopping="auto"``);
- ``KANSelector(early_stopping=False)``: the paper's 100 epochs at batch 64 (the default
  before issue 19).

Data: ``make_classification(5000, 50, n_informative=5, random_state=0)`` (5 informative
columns, 2 redundant ones, 43 noise; which is which as in ``bench_kan_speed.py``). torch and XGBoost
run one thread each (``--threads``). Each timing records the 1-minute load average before and
after (``os.getloadavg``); wall and CPU seconds are both reported, since the machine may be
shared. A warm-up fit of each selector (imports, first-call costs) is not timed.

Run: python benchmarks/bench_kan_vs_shap.py [--repeats 3] [--threads 1] [--rows 5000]
     [--features 50]
"""

import argparse
import sys

import numpy as np
from _common import interleaved, load_note, machine, markdown_table
from bench_kan_speed import _column_kinds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch and XGBoost threads")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=50)
    args = parser.parse_args()

    import torch
    from sklearn.datasets import make_classification

    from tabsift.feature_selection import KANSelector, ShapSelector

    torch.set_num_threads(args.threads)
    X, y = make_classification(
        n_samples=args.rows, n_features=args.features, n_informative=5, random_state=0
    )
    kinds = _column_kinds(args.rows, args.features)
    selectors = {
        "ShapSelector()": lambda: ShapSelector(random_state=0, n_jobs=args.threads, verbose=0),
        "KANSelector()": lambda: KANSelector(random_state=0, verbose=0),
        "KANSelector(early_stopping=False)": lambda: KANSelector(
            random_state=0, early_stopping=False, verbose=0
        ),
    }
    for make in selectors.values():  # warm-up: imports and first calls
        make().fit(X[:300], y[:300])
    runs = interleaved({name: (lambda m=m: m().fit(X, y)) for name, m in selectors.items()},
                       args.repeats)

    shap_runs = runs["ShapSelector()"]
    rows = []
    for name, timings in runs.items():
        wall = np.array([t["wall"] for t in timings])
        cpu = np.array([t["cpu"] for t in timings])
        ratio_wall = np.median([t["wall"] / s["wall"] for t, s in zip(timings, shap_runs,
                                                                       strict=True)])
        ratio_cpu = np.median([t["cpu"] / s["cpu"] for t, s in zip(timings, shap_runs,
                                                                    strict=True)])
        fitted = timings[-1]["result"]
        top = sorted(int(j) for j in np.argsort(fitted.ranking_)[:5])
        found = [kinds[j] for j in top]
        epochs = getattr(fitted, "n_iter_", None)
        rows.append({
            "selector": name,
            "wall s (each run)": " / ".join(f"{w:.2f}" for w in wall),
            "CPU s (each run)": " / ".join(f"{c:.2f}" for c in cpu),
            "/ SHAP wall": f"{ratio_wall:.2f}",
            "/ SHAP CPU": f"{ratio_cpu:.2f}",
            "epochs per fold": "-" if epochs is None else " ".join(map(str, epochs)),
            "held-out loss": "-" if epochs is None else f"{fitted.fold_losses_.mean():.3f}",
            "top 5": top,
            "informative / redundant / noise": "{} / {} / {}".format(
                *(found.count(k) for k in ("informative", "redundant", "noise"))
            ),
            "load (1 min)": " / ".join(
                f"{t['load_before']:.1f}-{t['load_after']:.1f}" for t in timings
            ),
        })
    all_runs = [t for timings in runs.values() for t in timings]
    print(
        f"`python benchmarks/bench_kan_vs_shap.py {' '.join(sys.argv[1:])}`".replace(" `", "`"),
        "",
        f"Machine: {machine()}, torch {torch.__version__}, {args.threads} thread(s); "
        f"make_classification({args.rows}, {args.features}, 5 informative); "
        f"{args.repeats} interleaved repeats; {load_note(all_runs)}.",
        "",
        markdown_table(rows, list(rows[0])),
        sep="\n",
    )


if __name__ == "__main__":
    main()
