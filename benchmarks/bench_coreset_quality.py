"""Downstream accuracy of a model trained on coresets of 1%, 5% and 10% of the training rows.

Selectors: tabsift's random (stratified), k-center, OT (GORACS), GAIS and Add-One-In
(offline criterion, no LLM), side by side with apricot's FacilityLocationSelection and
imbalanced-learn's CondensedNearestNeighbour (CNN picks its own size, reported once per
dataset). Every selector gets per-class proportional budgets where it has them. Each seed
draws a new stratified 70/30 split; the model is fit on the selected rows only and scored on
the whole test part. Datasets are offline: digits, breast cancer, a covertype-like generated
table (54 features, 7 imbalanced classes) and make_rare_region. ``--methods ... ot-mlp`` adds
OT with the MLP proxy (``proxy="mlp"``) for the gradient term; ``gais-<keep_by>`` (for example
``gais-confidence``) GAIS with another ranking score.

Run: python benchmarks/bench_coreset_quality.py [--seeds 5] [--budgets 0.01 0.05 0.1]
     [--datasets digits breast_cancer covertype_like rare_region] [--model logreg|knn|rf]
     [--methods random kcenter ot ot-mlp gais add-one-in apricot-fl cnn hybrid]
(``hybrid``: HybridCoresetSelector. This script trains without the selectors' weights and
scores accuracy; ``bench_coreset_suite.py`` is the weighted, balanced-accuracy comparison.)
"""

import argparse
import time
import warnings

import numpy as np
from _common import machine, markdown_table

warnings.filterwarnings("ignore")


def load(name, seed):
    from sklearn.datasets import load_breast_cancer, load_digits, make_classification

    from tabsift.datasets import make_rare_region

    if name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
    elif name == "covertype_like":
        # Covertype's shape and class shares (581k x 54, 7 classes), scaled down.
        X, y = make_classification(
            n_samples=10_000, n_features=54, n_informative=20, n_redundant=10, n_classes=7,
            n_clusters_per_class=3, weights=[0.365, 0.488, 0.062, 0.005, 0.016, 0.03, 0.035],
            class_sep=1.0, random_state=0,
        )
    else:
        data = make_rare_region(n_samples=5000, random_state=0)
        X, y = data.data.to_numpy(), data.target.to_numpy()
    return X.astype(float), y


def model_for(name, seed):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=1))
    if name == "rf":
        return RandomForestClassifier(n_estimators=100, random_state=seed)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))


def select(method, X, y, k, seed):
    """Row indices chosen by ``method`` (k rows; CNN chooses its own number)."""
    from tabsift.sampling import (
        GraphAttentionSelector,
        HybridCoresetSelector,
        KCenterSelector,
        LLMChoiceSelector,
        OTCoresetSelector,
        StratifiedRandomSelector,
    )

    common = {"n_samples": k, "random_state": seed}
    if method == "random":
        return StratifiedRandomSelector(**common).fit(X, y).sample_indices_
    if method == "kcenter":
        return KCenterSelector(stratify="proportional", **common).fit(X, y).sample_indices_
    if method == "hybrid":
        return HybridCoresetSelector(**common).fit(X, y).sample_indices_
    if method in ("ot", "ot-mlp"):
        proxy = "mlp" if method == "ot-mlp" else "auto"
        return OTCoresetSelector(stratify="proportional", validation=min(1000, len(X) // 3),
                                 proxy=proxy, **common).fit(X, y).sample_indices_
    if method.startswith("gais"):
        # "gais" is the default scoring; "gais-<keep_by>" another one (e.g. gais-confidence).
        keep_by = method.partition("-")[2] or "combined"
        return GraphAttentionSelector(reduction=1 - k / len(X), epochs=60, keep_by=keep_by,
                                      random_state=seed).fit(X, y).sample_indices_
    if method == "add-one-in":
        return LLMChoiceSelector(stratify="proportional", candidates="diverse",
                                 **common).fit(X, y).sample_indices_
    if method == "apricot-fl":
        from apricot import FacilityLocationSelection

        Z = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
        sel = FacilityLocationSelection(k, metric="euclidean", optimizer="lazy",
                                        random_state=seed).fit(Z)
        return np.asarray(sel.ranking)
    if method == "cnn":
        from imblearn.under_sampling import CondensedNearestNeighbour

        sel = CondensedNearestNeighbour(random_state=seed)
        sel.fit_resample(X, y)
        return sel.sample_indices_
    raise ValueError(method)


METHODS = ["random", "kcenter", "ot", "gais", "add-one-in", "apricot-fl"]


def main():
    import torch
    from sklearn.model_selection import train_test_split

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budgets", nargs="+", type=float, default=[0.01, 0.05, 0.1])
    parser.add_argument("--datasets", nargs="+",
                        default=["digits", "breast_cancer", "covertype_like", "rare_region"])
    parser.add_argument("--methods", nargs="+", default=METHODS + ["cnn"])
    parser.add_argument("--model", default="logreg", choices=["logreg", "knn", "rf"])
    args = parser.parse_args()

    rows, times = [], {}
    for name in args.datasets:
        X_all, y_all = load(name, 0)
        scores = {}
        for seed in range(args.seeds):
            X, X_test, y, y_test = train_test_split(
                X_all, y_all, test_size=0.3, stratify=y_all, random_state=seed
            )
            full = model_for(args.model, seed).fit(X, y).score(X_test, y_test)
            scores.setdefault(("all rows", "-"), []).append(full)
            for method in args.methods:
                budgets = ["own"] if method == "cnn" else args.budgets
                for budget in budgets:
                    k = None if budget == "own" else max(len(np.unique(y)), int(budget * len(X)))
                    t = time.perf_counter()
                    idx = select(method, X, y, k, seed)
                    times.setdefault((name, method), []).append(time.perf_counter() - t)
                    try:
                        acc = model_for(args.model, seed).fit(X[idx], y[idx]).score(X_test, y_test)
                    except ValueError:  # a subset with a single class
                        acc = float(np.mean(y_test == y[idx][0]))
                    key = (method, budget if budget == "own" else f"{budget:.0%}")
                    scores.setdefault(key, []).append(acc)
                    if method == "cnn":
                        scores.setdefault(("cnn size", "own"), []).append(len(idx) / len(X))
            print(f"{name} seed {seed} done", flush=True)
        for budget in [f"{b:.0%}" for b in args.budgets]:
            row = {"dataset": name, "budget": budget,
                   "all rows": f"{np.mean(scores[('all rows', '-')]):.3f}"}
            for method in args.methods:
                if method == "cnn":
                    continue
                vals = scores[(method, budget)]
                row[method] = f"{np.mean(vals):.3f} ± {np.std(vals):.3f}"
            rows.append(row)
        if "cnn" in args.methods:
            vals = scores[("cnn", "own")]
            size = np.mean(scores[("cnn size", "own")])
            rows.append({"dataset": name, "budget": f"CNN: {size:.1%}",
                         "all rows": rows[-1]["all rows"],
                         **{m: "" for m in args.methods if m != "cnn"},
                         "cnn": f"{np.mean(vals):.3f} ± {np.std(vals):.3f}"})
    columns = ["dataset", "budget", "all rows"] + args.methods
    for row in rows:
        for c in columns:
            row.setdefault(c, "")
    print()
    print(machine(), f"model={args.model}, seeds={args.seeds}")
    print(markdown_table(rows, columns))
    print()
    time_rows = [{"dataset": d, "method": m, "mean fit s": f"{np.mean(v):.3g}"}
                 for (d, m), v in times.items()]
    print(markdown_table(time_rows, ["dataset", "method", "mean fit s"]))


if __name__ == "__main__":
    main()
