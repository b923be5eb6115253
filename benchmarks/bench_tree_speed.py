"""Speed of evolved trees: population evaluation, and a full LLM-free run with a profile.

1. Population evaluation: route ``--rows`` rows (default 100,000 then 2,000; 10 columns) through 25
   depth-``--depth`` trees taken from a random forest, refit their leaves and compute their
   balanced accuracy. Side by side in this process:
   - tabsift: one vectorised pass for the whole population (``tabsift.tree`` internals);
   - sklearn: the 25 fitted DecisionTreeClassifier objects, ``predict`` one by one (C code,
     leaves fixed at fit: it does less work, no refit);
   - nested dicts: LLEGO's representation evaluated per tree with recursive numpy masks
     (how a dict tree is evaluated without converting it).
2. A full run: EvolvedTreeClassifier with the paper's defaults (population 25, 25
   generations), no LLM, on ``--run-rows`` rows (default 10,000) of a planted depth-3 tree;
   best of ``--repeat`` runs, then a cProfile of one run (top functions by own time).
   Goal: under 30 s on 2 CPU cores.

Run: python benchmarks/bench_tree_speed.py [--rows 100000,2000] [--run-rows 10000] [--repeat 2]
     [--depth 3] [--no-profile]
"""

import argparse
import cProfile
import io
import pstats
import time

import numpy as np
from _common import best_of, machine, markdown_table
from sklearn.ensemble import RandomForestClassifier

from tabsift.datasets import make_planted_tree
from tabsift.tree import EvolvedTreeClassifier
from tabsift.tree._operators import forest_population
from tabsift.tree._population import (
    apply_population,
    fitness,
    predictions,
    refit_classification,
)


def dict_tree(estimator, names):
    inner = estimator.tree_

    def node(i):
        if inner.children_left[i] < 0:
            return {"value": int(np.argmax(inner.value[i]))}
        t = float(inner.threshold[i])
        return {
            names[inner.feature[i]]: {
                f"<= {t!r}": node(inner.children_left[i]),
                f"> {t!r}": node(inner.children_right[i]),
            }
        }

    return node(0)


def eval_dict(tree, columns):
    """Evaluate one nested-dict tree with recursive masks (LLEGO-style)."""
    n = len(next(iter(columns.values())))
    if "value" in tree:
        return np.full(n, tree["value"])
    ((feature, branches),) = tree.items()
    le_key = next(k for k in branches if k.startswith("<="))
    gt_key = next(k for k in branches if k.startswith(">"))
    go_left = columns[feature] <= float(le_key[2:])
    return np.where(go_left, eval_dict(branches[le_key], columns), eval_dict(branches[gt_key], columns))


def population_benchmark(n_rows, depth, repeat):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_rows, 10))
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.3) + (X[:, 2] > -0.2)
    X_fit = X[:5000]
    F, T, M = forest_population(X_fit, y[:5000], "classification", n_trees=25, max_depth=depth, random_state=0)
    forest = RandomForestClassifier(
        n_estimators=25, max_depth=depth, max_samples=2500, random_state=0, n_jobs=1
    ).fit(X_fit, y[:5000])
    Xf = np.asfortranarray(X)
    names = [f"x{j}" for j in range(10)]
    trees = [dict_tree(e, names) for e in forest.estimators_]
    columns = {name: X[:, j] for j, name in enumerate(names)}
    n_classes = 4

    def ours():
        leaves = apply_population(F, T, Xf, missing=M)
        value, _ = refit_classification(F, leaves, y, n_classes)
        pred = predictions(value, leaves, "classification")
        return fitness(pred, y, "classification", n_classes=n_classes)

    def sklearn_loop():
        return [e.predict(X) for e in forest.estimators_]

    def dict_loop():
        return [eval_dict(tree, columns) for tree in trees]

    X32 = X.astype(np.float32)  # sklearn trees compare in float32; time their own dtype

    def sklearn_loop32():
        return [e.predict(X32) for e in forest.estimators_]

    rows = []
    t_ours = best_of(ours, repeat=repeat)
    for label, fn in (
        ("tabsift population pass (route + refit + fitness)", ours),
        ("sklearn trees, predict one by one (float64 input)", sklearn_loop),
        ("sklearn trees, predict one by one (float32 input)", sklearn_loop32),
        ("nested dicts, recursive masks per tree", dict_loop),
    ):
        t = t_ours if fn is ours else best_of(fn, repeat=repeat)
        rows.append({"method": label, "ms": f"{1000 * t:.1f}", "vs tabsift": f"{t / t_ours:.2f}x"})
    return rows


def run_benchmark(n_rows, repeat, profile):
    data = make_planted_tree(n_samples=n_rows, n_features=10, depth=3, noise=0.1, random_state=0)
    X, y = data.data, data.target

    def fit():
        return EvolvedTreeClassifier(random_state=0).fit(X, y)

    model = fit()
    seconds = best_of(fit, repeat=repeat)
    result = {
        "rows": n_rows,
        "population x generations": "25 x 25",
        "seconds (best)": f"{seconds:.2f}",
        "train balanced acc.": f"{model.history_[-1]['best_train_fitness']:.3f}",
        "accuracy (all rows)": f"{model.score(X, y):.3f}",
        "planted-tree accuracy": f"{(data.target_clean == data.target).mean():.3f}",
    }
    text = ""
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        fit()
        profiler.disable()
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(8)
        text = buffer.getvalue()
    return result, text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", default="100000,2000", help="comma-separated row counts for part 1"
    )
    parser.add_argument("--run-rows", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    print(machine())
    t = time.perf_counter()
    for n_rows in (int(r) for r in args.rows.split(",")):
        rows = population_benchmark(n_rows, args.depth, args.repeat)
        print(f"\nPopulation evaluation: 25 trees of depth {args.depth} x {n_rows} rows")
        print(markdown_table(rows, ["method", "ms", "vs tabsift"]))
    result, profile = run_benchmark(args.run_rows, args.repeat, not args.no_profile)
    print("\nFull LLM-free run")
    print(markdown_table([result], list(result)))
    if profile:
        print("\nProfile of one run (top functions by own time):")
        print(profile)
    print(f"total {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
