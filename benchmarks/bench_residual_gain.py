"""Offline residual corrections: held-out gain over linear and XGBoost base models.

For each dataset, base model and seed, the rows are split 70/30 (stratified for
classification). ResidualAgentRegressor / ResidualAgentClassifier (offline proposer,
``n_corrections=2``, ``n_rounds=3``, ``cv=5``) is fit on the 70%; its refit
``base_estimator_`` is the base model (fit on the same rows), so the two columns differ
only by the corrections. Reported on the 30%: R^2 and MAE (regression), macro-F1 and log
loss (classification), mean ± standard deviation over seeds, plus how many corrections
were kept and the most frequent formulas.

There is no released reference implementation to run side by side (the MARICL code
needs an LLM API and is not packaged); the comparison is with the base model alone.

Datasets (all offline): diabetes; make_missing_interaction (1000 rows, planted
``1.8 sigmoid(2 x1 x2) + 0.4 x3^2``); sklearn's make_friedman1 (1000 rows, noise 1:
``10 sin(pi x1 x2) + 20 (x3 - 0.5)^2 + 10 x4 + 5 x5``); california housing only when
scikit-learn's cache holds it. Classification: breast_cancer, wine, and the planted
mechanism thresholded at its median (binary).

Run: python benchmarks/bench_residual_gain.py [--seeds 5] [--quick] [--datasets a,b]
"""

import argparse
import collections
import time
import warnings

import numpy as np
from _common import machine, markdown_table


def _regression_data(name, seed):
    from sklearn.datasets import make_friedman1

    from tabsift import datasets

    if name == "diabetes":
        b = datasets.load_diabetes()
        return b.data, b.target.to_numpy()
    if name == "planted":
        b = datasets.make_missing_interaction(n_samples=1000, random_state=seed)
        return b.data, b.target.to_numpy()
    if name == "friedman1":
        import pandas as pd

        X, y = make_friedman1(n_samples=1000, noise=1.0, random_state=seed)
        return pd.DataFrame(X, columns=[f"x{j + 1}" for j in range(X.shape[1])]), y
    if name == "california":
        b = datasets.load_california_housing()
        return b.data.iloc[:3000], b.target.to_numpy()[:3000]
    raise ValueError(name)


def _classification_data(name, seed):
    from tabsift import datasets

    if name == "breast_cancer":
        b = datasets.load_breast_cancer()
        return b.data, b.target.to_numpy()
    if name == "wine":
        b = datasets.load_wine()
        return b.data, b.target.to_numpy()
    if name == "planted_binary":
        b = datasets.make_missing_interaction(n_samples=1000, random_state=seed)
        return b.data, (b.target > b.target.median()).to_numpy().astype(int)
    raise ValueError(name)


def _base(kind, task, seed):
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "xgboost":
        return None
    if task == "regression":
        return LinearRegression()
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def run_one(task, name, kind, seed, rounds):
    from sklearn.metrics import f1_score, log_loss, mean_absolute_error, r2_score
    from sklearn.model_selection import train_test_split

    from tabsift.residual import ResidualAgentClassifier, ResidualAgentRegressor

    load = _regression_data if task == "regression" else _classification_data
    X, y = load(name, seed)
    stratify = y if task == "classification" else None
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=stratify
    )
    cls = ResidualAgentRegressor if task == "regression" else ResidualAgentClassifier
    model = cls(
        _base(kind, task, seed),
        n_corrections=2,
        n_rounds=rounds,
        cv=5,
        n_jobs=1,
        random_state=seed,
    )
    start = time.perf_counter()
    model.fit(X_tr, y_tr)
    elapsed = time.perf_counter() - start
    Xn = X_te.to_numpy(dtype=float)
    if task == "regression":
        base, corr = model.base_estimator_.predict(Xn), model.predict(X_te)
        scores = {
            "base_r2": r2_score(y_te, base),
            "r2": r2_score(y_te, corr),
            "base_mae": mean_absolute_error(y_te, base),
            "mae": mean_absolute_error(y_te, corr),
        }
    else:
        base_p, corr_p = model.base_estimator_.predict_proba(Xn), model.predict_proba(X_te)
        classes = model.classes_
        scores = {
            "base_f1": f1_score(y_te, classes[base_p.argmax(1)], average="macro"),
            "f1": f1_score(y_te, classes[corr_p.argmax(1)], average="macro"),
            "base_ll": log_loss(y_te, base_p, labels=classes),
            "ll": log_loss(y_te, corr_p, labels=classes),
        }
    scores["k"] = len(model.corrections_)
    scores["formulas"] = [c.expression for c in model.corrections_]
    scores["seconds"] = elapsed
    return scores


def _code(formula):
    # Markdown code span; formulas with backticked column names need a double-backtick span.
    return f"`` {formula} ``" if "`" in formula else f"`{formula}`"


def _pm(values, digits=3):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 3 datasets")
    parser.add_argument("--datasets", default=None, help="comma-separated subset")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    seeds = range(2 if args.quick else args.seeds)
    regression = ["diabetes", "planted", "friedman1", "california"]
    classification = ["breast_cancer", "wine", "planted_binary"]
    if args.quick:
        regression, classification = ["diabetes", "planted"], ["planted_binary"]
    if args.datasets:
        wanted = set(args.datasets.split(","))
        regression = [d for d in regression if d in wanted]
        classification = [d for d in classification if d in wanted]

    print(f"Machine: {machine()} (shared and contended: timings are indicative only)")
    reg_rows, clf_rows = [], []
    for task, names, rows in (
        ("regression", regression, reg_rows),
        ("classification", classification, clf_rows),
    ):
        for name in names:
            for kind in ("linear", "xgboost"):
                try:
                    runs = [run_one(task, name, kind, s, args.rounds) for s in seeds]
                except FileNotFoundError as err:
                    print(f"skipped {name}: {err}")
                    break
                formulas = collections.Counter(f for r in runs for f in r["formulas"])
                common = "; ".join(f"{_code(f)} ({n})" for f, n in formulas.most_common(2))
                row = {
                    "dataset": name,
                    "base": kind,
                    "kept (mean)": f"{np.mean([r['k'] for r in runs]):.1f}",
                    "fit s": f"{np.mean([r['seconds'] for r in runs]):.1f}",
                    "most kept": common or "-",
                }
                if task == "regression":
                    row |= {
                        "R² base": _pm([r["base_r2"] for r in runs]),
                        "R² corrected": _pm([r["r2"] for r in runs]),
                        "MAE base": _pm([r["base_mae"] for r in runs]),
                        "MAE corrected": _pm([r["mae"] for r in runs]),
                    }
                else:
                    row |= {
                        "macro-F1 base": _pm([r["base_f1"] for r in runs]),
                        "macro-F1 corrected": _pm([r["f1"] for r in runs]),
                        "log loss base": _pm([r["base_ll"] for r in runs]),
                        "log loss corrected": _pm([r["ll"] for r in runs]),
                    }
                rows.append(row)
                print(row, flush=True)
    print()
    print(
        markdown_table(
            reg_rows,
            [
                "dataset",
                "base",
                "R² base",
                "R² corrected",
                "MAE base",
                "MAE corrected",
                "kept (mean)",
                "most kept",
                "fit s",
            ],
        )
    )
    print()
    print(
        markdown_table(
            clf_rows,
            [
                "dataset",
                "base",
                "macro-F1 base",
                "macro-F1 corrected",
                "log loss base",
                "log loss corrected",
                "kept (mean)",
                "most kept",
                "fit s",
            ],
        )
    )


if __name__ == "__main__":
    main()
