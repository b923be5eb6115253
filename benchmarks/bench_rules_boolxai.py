"""BooleanRuleClassifier against the ``boolxai`` package: same binarised data, same settings.

Data: breast cancer (569 rows, 30 numeric columns), split 70/30 (stratified, seed 0), each
column binarised with ``--thresholds`` quantile thresholds by ``tabsift.rules.Binarizer``
fitted on the training rows (10 thresholds: about 300 binary features, as in BoolXAI's
paper). Both learners get the SAME 0/1 matrix; ours sees each 0/1 column as one literal
``col > 0``, so both search the same literals.

Settings (BoolXAI's defaults): max_depth 3, max_complexity 6, all five operators, 500
iterations, 10 starts, at most 2000 rows per start, temperature 0.2 -> 1e-6, regularization
1e-4, balanced accuracy, one process (``num_jobs=1`` / ``n_jobs=None``).

Rows:
- ``boolxai``: ``boolxai.BoolXAI.RuleClassifier(num_jobs=1, random_state=seed)``;
- ``tabsift (BoolXAI moves)``: ``threshold_moves=False, polish=False,
  refine_thresholds=False``: the same search;
- ``tabsift (defaults)``: adds neighbour-threshold moves, the final polish and threshold
  refinement (neighbour moves and refinement act on the thresholds of one column, which do
  not exist here: every column is already 0/1).

- ``tabsift (10x iterations)``: defaults with 5000 iterations per start.

Scores are balanced accuracy on the held-out rows and the training objective; times are
wall-clock seconds of ``fit`` (one run per seed; the boolxai fit is long).

A fit keeps the best of 10 starts, so two seeds say little about search quality. With
``--per-start R M`` the script also runs single annealing starts directly, R of boolxai
(``RuleClassifier._single_start``) and M of tabsift (``tabsift.rules._search.anneal``,
BoolXAI moves), on the same training matrix and settings, and compares the distributions of
the best training score per start.

Run: python benchmarks/bench_rules_boolxai.py [--seeds 0 1] [--iterations 500] [--starts 10]
     [--per-start 8 40] [--skip-fit]
"""

import argparse
import time

import numpy as np
import pandas as pd
from _common import machine, markdown_table
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from tabsift.datasets import load_breast_cancer
from tabsift.rules import Binarizer, BooleanRuleClassifier


def binarised(n_thresholds):
    data = load_breast_cancer()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=0
    )
    binarizer = Binarizer(n_thresholds=n_thresholds).fit(X_train)
    names = list(binarizer.get_feature_names_out())
    Z_train = pd.DataFrame(binarizer.transform(X_train).astype(np.int64), columns=names)
    Z_test = pd.DataFrame(binarizer.transform(X_test).astype(np.int64), columns=names)
    return Z_train, Z_test, np.asarray(y_train), np.asarray(y_test)


def per_start(Z_train, y_train, n_ref, n_mine, iterations, with_reference):
    """Best training score of single annealing starts: boolxai's and tabsift's."""
    from tabsift.rules._search import anneal

    X, y = Z_train.to_numpy(), np.asarray(y_train)
    ZT = np.ascontiguousarray(X.T.astype(bool))
    common = dict(max_depth=3, max_complexity=6, n_iterations=iterations, temp_high=0.2,
                  temp_low=1e-6, regularization=1e-4)
    results = {"tabsift anneal (BoolXAI moves)": [], "boolxai _single_start": []}
    times = {name: [] for name in results}
    for seed in range(n_mine):
        start = time.perf_counter()
        _, score = anneal(ZT, y.astype(bool), operators=("And", "Or", "AtLeast", "AtMost",
                          "Choose"), metric="balanced_accuracy", seed=seed, **common)
        times["tabsift anneal (BoolXAI moves)"].append(time.perf_counter() - start)
        results["tabsift anneal (BoolXAI moves)"].append(score)
    if with_reference:
        from boolxai.classifiers.rule_classifier import RuleClassifier
        from boolxai.rules import all_operator_classes

        for seed in range(n_ref):
            start = time.perf_counter()
            _, score, _ = RuleClassifier._single_start(
                X, y, None, seed, 6, 3, all_operator_classes, iterations, 0.2, 1e-6, 1e-4,
                balanced_accuracy_score, True, None, None,
            )
            times["boolxai _single_start"].append(time.perf_counter() - start)
            results["boolxai _single_start"].append(score)
            print(f"boolxai start {seed}: {score:.4f} in {times['boolxai _single_start'][-1]:.1f} s")
    rows = [
        {"start": name, "starts": len(v), "mean best score": f"{np.mean(v):.4f}",
         "std": f"{np.std(v):.4f}", "max": f"{np.max(v):.4f}",
         "mean time / start (s)": f"{np.mean(times[name]):.3f}"}
        for name, v in results.items() if v
    ]
    print(markdown_table(rows, ["start", "starts", "mean best score", "std", "max",
                                "mean time / start (s)"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--thresholds", type=int, default=10)
    parser.add_argument("--per-start", type=int, nargs=2, default=None, metavar=("R", "M"))
    parser.add_argument("--skip-fit", action="store_true", help="only the per-start comparison")
    args = parser.parse_args()

    Z_train, Z_test, y_train, y_test = binarised(args.thresholds)
    print(f"machine: {machine()}")
    print(f"data: breast cancer, {Z_train.shape[0]} training rows x {Z_train.shape[1]} binary features")
    try:
        from boolxai import BoolXAI
    except Exception as err:  # record exactly why the reference could not run
        print(f"boolxai failed to import: {type(err).__name__}: {err}")
        BoolXAI = None

    settings = dict(
        max_depth=3, max_complexity=6, n_iterations=args.iterations, n_starts=args.starts,
        max_samples=2000, temp_high=0.2, temp_low=1e-6, regularization=1e-4,
    )
    learners = {
        "tabsift (BoolXAI moves)": lambda seed: BooleanRuleClassifier(
            threshold_moves=False,
            polish=False,
            refine_thresholds=False,
            random_state=seed,
            **settings,
        ),
        "tabsift (defaults)": lambda seed: BooleanRuleClassifier(random_state=seed, **settings),
        "tabsift (10x iterations)": lambda seed: BooleanRuleClassifier(
            random_state=seed, **{**settings, "n_iterations": 10 * args.iterations}
        ),
    }
    if BoolXAI is not None:
        learners = {
            "boolxai": lambda seed: BoolXAI.RuleClassifier(
                max_depth=3, max_complexity=6, num_iterations=args.iterations,
                num_starts=args.starts, max_samples=2000, temp_high=0.2, temp_low=1e-6,
                regularization=1e-4, num_jobs=1, random_state=seed,
            ),
            **learners,
        }

    if args.per_start:
        per_start(Z_train, y_train, *args.per_start, args.iterations, BoolXAI is not None)
    if args.skip_fit:
        return
    rows = []
    for name, make in learners.items():
        for seed in args.seeds:
            model = make(seed)
            start = time.perf_counter()
            if name == "boolxai":
                model.fit(Z_train.to_numpy(), y_train)
                elapsed = time.perf_counter() - start
                rule = model.best_rule_.to_str(list(Z_train.columns))
                complexity = model.best_rule_.complexity()
                train = model.best_score_
                test = balanced_accuracy_score(y_test, model.predict(Z_test.to_numpy()))
            else:
                model.fit(Z_train, y_train)
                elapsed = time.perf_counter() - start
                rule = model.export_text()
                complexity = model.rule_.complexity()
                train = model.score_
                test = balanced_accuracy_score(y_test, model.predict(Z_test))
            rows.append(
                {
                    "learner": name, "seed": seed, "fit (s)": f"{elapsed:.2f}",
                    "train bal. acc.": f"{train:.4f}", "test bal. acc.": f"{test:.4f}",
                    "complexity": complexity, "rule": rule, "_t": elapsed, "_train": train,
                    "_test": test,
                }
            )
            print(f"{name} seed {seed}: {elapsed:.2f} s, train {train:.4f}, test {test:.4f}: {rule}")

    print()
    print(markdown_table(rows, ["learner", "seed", "fit (s)", "train bal. acc.", "test bal. acc.",
                                "complexity", "rule"]))
    summary = []
    ref = [r for r in rows if r["learner"] == "boolxai"]
    for name in learners:
        mine = [r for r in rows if r["learner"] == name]
        t = np.mean([r["_t"] for r in mine])
        entry = {
            "learner": name, "mean fit (s)": f"{t:.2f}",
            "mean train": f"{np.mean([r['_train'] for r in mine]):.4f}",
            "mean test": f"{np.mean([r['_test'] for r in mine]):.4f}",
            "boolxai time / time": "",
        }
        if ref:
            entry["boolxai time / time"] = f"{np.mean([r['_t'] for r in ref]) / t:.1f}x"
        summary.append(entry)
    print()
    print(markdown_table(summary, ["learner", "mean fit (s)", "mean train", "mean test",
                                   "boolxai time / time"]))


if __name__ == "__main__":
    main()
