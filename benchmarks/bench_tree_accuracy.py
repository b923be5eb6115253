"""Evolved trees (LLM-free mode) against CART with tuned ccp_alpha, and GOSDT, at depth 3 and 4.

Protocol: for each dataset, depth and seed, a stratified (classification) or plain 70/30
train/test split; every method is fit on the training part and scored on the test part:
balanced accuracy (classification) or R^2 (regression). Reported: mean ± std over seeds.

- evolved: EvolvedTreeClassifier / EvolvedTreeRegressor with the paper's defaults
  (population 25, 25 generations), no LLM, ``random_state=seed``.
- CART: sklearn DecisionTree* with the same max_depth and ccp_alpha chosen by 5-fold
  cross-validation on the training part over (at most 20 points of) its pruning path.
- GOSDT (classification only): gosdt's ThresholdGuessBinarizer (40 stumps) then
  GOSDTClassifier(regularization=0.001, depth_budget=depth+1, time_limit=--gosdt-seconds).
  gosdt 1.0.4 predates scikit-learn 1.8 (its predict passes the removed ``force_all_finite``);
  the script patches that one call. A failure or a run past the time limit is recorded.

Datasets (offline): breast_cancer (the paper's "breast"), wine, digits (3 classes), a planted
depth-3 tree (2000 rows, 8 columns, 10% label noise); regression: diabetes, a planted depth-3
regression tree. The paper's OpenML tables (credit-g, Pima diabetes, compas, heart, liver,
vehicle, ...) need a download and are not available here.

The LLM mode cannot be measured for quality without a real model; ``--llm-mechanics`` runs it
against the local server with a responder that answers with the fittest parent shown, and
reports requests per run and the valid-offspring rate.

Run: python benchmarks/bench_tree_accuracy.py [--quick] [--seeds 5] [--depths 3,4]
     [--datasets breast_cancer,wine] [--gosdt-seconds 30] [--llm-mechanics]
"""

import argparse
import time
import warnings

import numpy as np
from _common import machine, markdown_table
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from tabsift import datasets
from tabsift.tree import EvolvedTreeClassifier, EvolvedTreeRegressor


def load(name):
    if name == "planted_cls":
        b = datasets.make_planted_tree(n_samples=2000, n_features=8, depth=3, noise=0.1, random_state=0)
        return b.data, b.target.to_numpy(), "classification"
    if name == "planted_reg":
        b = datasets.make_planted_tree(
            n_samples=2000, n_features=8, depth=3, task="regression", noise=0.3, random_state=0
        )
        return b.data, b.target.to_numpy(), "regression"
    loader = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }[name]
    b = loader()
    task = "regression" if name == "diabetes" else "classification"
    return b.data, np.asarray(b.target), task


def cart(X, y, task, depth, seed):
    model_class = DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor
    base = model_class(max_depth=depth, random_state=seed)
    path = base.cost_complexity_pruning_path(X, y).ccp_alphas
    alphas = np.unique(np.quantile(path[:-1], np.linspace(0, 1, 20))) if len(path) > 1 else [0.0]
    search = GridSearchCV(base, {"ccp_alpha": list(alphas)}, cv=5, n_jobs=1)
    return search.fit(X, y).best_estimator_


def _patch_gosdt():
    """gosdt 1.0.4's predict calls check_array(force_all_finite=...), an argument scikit-learn
    1.8 removed; rename it to ensure_all_finite (this process only)."""
    import gosdt._classifier as module
    from sklearn.utils.validation import check_array

    def compatible(X, **kwargs):
        if "force_all_finite" in kwargs:
            kwargs["ensure_all_finite"] = kwargs.pop("force_all_finite")
        return check_array(X, **kwargs)

    module.check_array = compatible


def gosdt(X, y, depth, seed, seconds):
    from gosdt import GOSDTClassifier, ThresholdGuessBinarizer

    _patch_gosdt()

    binarizer = ThresholdGuessBinarizer(n_estimators=40, max_depth=1, random_state=seed)
    binarizer.set_output(transform="pandas")
    Xb = binarizer.fit_transform(X, y)
    model = GOSDTClassifier(
        regularization=0.001,
        allow_small_reg=True,
        depth_budget=depth + 1,  # GOSDT counts the leaves' level: a stump has budget 2
        time_limit=seconds,
        verbose=False,
    )
    model.fit(Xb, y)
    return binarizer, model


def score(task, y, pred):
    return balanced_accuracy_score(y, pred) if task == "classification" else r2_score(y, pred)


def run(names, depths, seeds, gosdt_seconds, quick):
    rows = []
    for name in names:
        X, y, task = load(name)
        for depth in depths:
            results = {"evolved": [], "CART": [], "GOSDT": []}
            times = {"evolved": [], "CART": [], "GOSDT": []}
            notes = set()
            for seed in range(seeds):
                strat = y if task == "classification" else None
                X_tr, X_te, y_tr, y_te = train_test_split(
                    X, y, test_size=0.3, random_state=seed, stratify=strat
                )
                est_class = EvolvedTreeClassifier if task == "classification" else EvolvedTreeRegressor
                params = dict(max_depth=depth, random_state=seed)
                if quick:
                    params.update(n_generations=8)
                t = time.perf_counter()
                evolved = est_class(**params).fit(X_tr, y_tr)
                times["evolved"].append(time.perf_counter() - t)
                results["evolved"].append(score(task, y_te, evolved.predict(X_te)))
                t = time.perf_counter()
                tree = cart(X_tr, y_tr, task, depth, seed)
                times["CART"].append(time.perf_counter() - t)
                results["CART"].append(score(task, y_te, tree.predict(X_te)))
                if task == "classification" and gosdt_seconds > 0:
                    try:
                        t = time.perf_counter()
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            binarizer, model = gosdt(X_tr, y_tr, depth, seed, gosdt_seconds)
                        elapsed = time.perf_counter() - t
                        times["GOSDT"].append(elapsed)
                        if elapsed > gosdt_seconds * 1.5:
                            notes.add(f"GOSDT ran {elapsed:.0f} s past its {gosdt_seconds} s limit")
                        status = str(getattr(model, "result_", None) and model.result_.status)
                        if "TIMEOUT" in status.upper():
                            notes.add("GOSDT hit its time limit (best tree so far)")
                        pred = model.predict(binarizer.transform(X_te))
                        results["GOSDT"].append(score(task, y_te, pred))
                    except Exception as exc:  # record, do not abort the benchmark
                        notes.add(f"GOSDT failed: {type(exc).__name__}: {str(exc)[:80]}")
            row = {"dataset": name, "task": task, "depth": depth}
            for method, values in results.items():
                row[method] = f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "-"
                row[f"{method} s"] = f"{np.mean(times[method]):.1f}" if times[method] else "-"
            row["notes"] = "; ".join(sorted(notes)) or ""
            rows.append(row)
            print(row, flush=True)
    return rows


def llm_mechanics(generations):
    import re

    from tabsift.llm.testing import LocalLLMServer

    pattern = re.compile(r"^Tree \d+[^:]*: (\{.*\})$", re.MULTILINE)

    def responder(request):
        trees = pattern.findall(request["messages"][-1]["content"])
        return "```python\n" + trees[-1].replace('"', "'") + "\n```"

    X, y, _ = load("breast_cancer")
    with LocalLLMServer(responder) as server:
        t = time.perf_counter()
        clf = EvolvedTreeClassifier(
            server.client(), n_generations=generations, n_jobs=4, random_state=0
        ).fit(X, y)
        elapsed = time.perf_counter() - t
    stats = clf.llm_stats_
    rejected = sum(v for k, v in stats.items() if k.startswith("rejected_"))
    return {
        "generations": generations,
        "requests": stats["requests"],
        "requests per generation": stats["requests"] / generations,
        "valid offspring": stats["accepted"],
        "valid rate": f"{stats['accepted'] / max(stats['accepted'] + rejected, 1):.3f}",
        "tokens": stats["tokens"],
        "seconds": f"{elapsed:.1f}",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 datasets, 2 seeds, 8 generations")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--depths", default="3,4")
    parser.add_argument(
        "--datasets",
        default="breast_cancer,wine,digits,planted_cls,diabetes,planted_reg",
    )
    parser.add_argument("--gosdt-seconds", type=int, default=30, help="0 skips GOSDT")
    parser.add_argument("--llm-mechanics", action="store_true")
    parser.add_argument("--llm-generations", type=int, default=5)
    args = parser.parse_args()
    names = args.datasets.split(",")
    seeds = args.seeds
    if args.quick:
        names, seeds = names[:2], min(seeds, 2)
    depths = [int(d) for d in args.depths.split(",")]
    print(machine())
    rows = run(names, depths, seeds, args.gosdt_seconds, args.quick)
    columns = ["dataset", "depth", "evolved", "CART", "GOSDT", "evolved s", "CART s", "GOSDT s", "notes"]
    print()
    print(markdown_table(rows, columns))
    if args.llm_mechanics:
        mech = llm_mechanics(args.llm_generations)
        print()
        print(markdown_table([mech], list(mech)))


if __name__ == "__main__":
    main()
