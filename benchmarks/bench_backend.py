"""Backend kernels against the functions a user would otherwise call.

- nearest-center search: tabsift.backend.min_sq_distances (chunked, array API) vs
  sklearn.metrics.pairwise_distances_argmin_min;
- weighted sampling without replacement: tabsift.backend.gumbel_top_k vs
  numpy's Generator.choice(replace=False, p=...).

Run: python benchmarks/bench_backend.py [--namespace numpy|cupy]
"""

import argparse

import numpy as np
from _common import best_of, machine, markdown_table
from sklearn.metrics import pairwise_distances_argmin_min

from tabsift.backend import asarray, gumbel_top_k, min_sq_distances, namespace_by_name, to_numpy


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namespace", default="numpy")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    xp = namespace_by_name(args.namespace)
    rng = np.random.default_rng(0)
    rows = []

    X = rng.normal(size=(args.rows, 50))
    C = rng.normal(size=(1000, 50))
    Xb, Cb = asarray(X, xp=xp), asarray(C, xp=xp)

    def ours():
        d, i = min_sq_distances(Xb, Cb)
        to_numpy(i)

    t_ours = best_of(ours)
    t_ref = best_of(lambda: pairwise_distances_argmin_min(X, C))
    same = np.array_equal(
        to_numpy(min_sq_distances(Xb, Cb)[1]), pairwise_distances_argmin_min(X, C)[0]
    )
    rows.append(
        {
            "task": f"nearest of 1000 centers, {args.rows}x50",
            "tabsift (s)": f"{t_ours:.3f}",
            "reference (s)": f"{t_ref:.3f}",
            "reference": "sklearn pairwise_distances_argmin_min",
            "reference / tabsift": f"{t_ref / t_ours:.1f}x",
            "same result": same,
        }
    )

    n = 1_000_000
    w = rng.random(n) + 1e-3
    logw = asarray(np.log(w), xp=xp)
    p = w / w.sum()
    t_ours = best_of(lambda: to_numpy(gumbel_top_k(logw, 10_000, random_state=0)))
    t_ref = best_of(lambda: rng.choice(n, size=10_000, replace=False, p=p), repeat=1)
    rows.append(
        {
            "task": "10k of 1M rows, without replacement, prop. to weights",
            "tabsift (s)": f"{t_ours:.3f}",
            "reference (s)": f"{t_ref:.3f}",
            "reference": "numpy Generator.choice(replace=False, p=...)",
            "reference / tabsift": f"{t_ref / t_ours:.1f}x",
            "same result": "same distribution",
        }
    )
    print(f"Machine: {machine()}; namespace: {args.namespace}\n")
    print(
        markdown_table(
            rows, ["task", "tabsift (s)", "reference (s)", "reference", "reference / tabsift", "same result"]
        )
    )


if __name__ == "__main__":
    main()
