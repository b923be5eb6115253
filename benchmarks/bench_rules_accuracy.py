"""Accuracy of BooleanRuleClassifier against shallow CART trees and imodels rule learners.

Every model gets the raw columns (imodels' learners and CART do their own splitting;
BooleanRuleClassifier its default Binarizer, 5 quantile thresholds per numeric column).
Score: balanced accuracy on held-out folds of a stratified K-fold (seeded), mean and
standard deviation, plus each model's size:

- BooleanRuleClassifier: rule complexity (operators + literals; summed over classes);
- CART: number of leaves;
- imodels: its ``complexity_`` attribute (rules or conditions, as imodels defines it).

Datasets, all offline: breast cancer (binary, 30 numeric), a planted AtLeast2 rule
(``make_boolean_rule``, 1000 rows, 6 columns, 5% label noise), digits 1 vs 2 (binary, 64
pixel columns), wine and iris (3 classes; imodels' rule learners are binary-only, so only
CART is compared there). Pima and heart (the issue's other examples) are not available
offline in this environment.

imodels 2.x imports ``six`` in ``imodels.rule_set.skope_rules`` but does not declare it;
when ``six`` is missing this script registers a two-line stand-in (``string_types``, the
only name imodels uses) before importing imodels. Nothing in site-packages is changed.

Run: python benchmarks/bench_rules_accuracy.py [--folds 5] [--seed 0] [--datasets ...]
"""

import argparse
import sys
import time
import types
import warnings

import numpy as np
from _common import machine, markdown_table
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

from tabsift import datasets
from tabsift.rules import BooleanRuleClassifier


def load(name):
    if name == "planted_rule":
        bunch = datasets.make_boolean_rule(n_samples=1000, random_state=0)
        return bunch.data, bunch.target.to_numpy()
    if name == "digits_1_vs_2":
        bunch = datasets.load_digits()  # tabsift ships digits 0, 1 and 2 (the paper's subset)
        keep = np.isin(bunch.target, [1, 2])
        target = (bunch.target[keep] == 2).astype(int).to_numpy()
        return bunch.data[keep].reset_index(drop=True), target
    bunch = getattr(datasets, f"load_{name}")()
    return bunch.data, np.asarray(bunch.target)


def imodels_learners():
    if "six" not in sys.modules:
        try:
            import six  # noqa: F401
        except ImportError:
            shim = types.ModuleType("six")
            shim.string_types = (str,)
            sys.modules["six"] = shim
            print("note: 'six' is not installed; using a stand-in so imodels imports")
    try:
        import imodels
    except Exception as err:
        print(f"imodels failed to import: {type(err).__name__}: {err}")
        return {}
    return {
        "imodels GreedyRuleList": imodels.GreedyRuleListClassifier(max_depth=5),
        "imodels OneR": imodels.OneRClassifier(),
        "imodels SkopeRules": imodels.SkopeRulesClassifier(random_state=0),
        "imodels BoostedRules": imodels.BoostedRulesClassifier(n_estimators=10),
        "imodels RuleFit": imodels.RuleFitClassifier(max_rules=30, random_state=0),
    }


def size(model):
    if isinstance(model, BooleanRuleClassifier):
        rules = model.rule_ if isinstance(model.rule_, list) else [model.rule_]
        return sum(rule.complexity() for rule in rules)
    if isinstance(model, DecisionTreeClassifier):
        return model.get_n_leaves()
    return getattr(model, "complexity_", float("nan"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["breast_cancer", "planted_rule", "digits_1_vs_2", "wine", "iris"],
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"machine: {machine()}")

    models = {
        "BooleanRuleClassifier": BooleanRuleClassifier(random_state=args.seed),
        "CART depth 2": DecisionTreeClassifier(max_depth=2, random_state=args.seed),
        "CART depth 3": DecisionTreeClassifier(max_depth=3, random_state=args.seed),
        **imodels_learners(),
    }
    rows = []
    for name in args.datasets:
        X, y = load(name)
        binary = np.unique(y).size == 2
        folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(X, y)
        folds = list(folds)
        for label, template in models.items():
            if label.startswith("imodels") and not binary:
                continue
            scores, sizes, times = [], [], []
            for train, test in folds:
                model = clone(template)
                start = time.perf_counter()
                # imodels' learners want numpy arrays; the others take the DataFrame.
                X_fit = X.iloc[train] if not label.startswith("imodels") else X.iloc[train].to_numpy()
                X_eval = X.iloc[test] if not label.startswith("imodels") else X.iloc[test].to_numpy()
                model.fit(X_fit, y[train])
                times.append(time.perf_counter() - start)
                predicted = np.asarray(model.predict(X_eval)).astype(y.dtype)
                scores.append(balanced_accuracy_score(y[test], predicted))
                sizes.append(size(model))
            rows.append(
                {
                    "dataset": name,
                    "model": label,
                    "balanced accuracy": f"{np.mean(scores):.3f} +- {np.std(scores):.3f}",
                    "size": f"{np.mean(sizes):.1f}",
                    "fit (s)": f"{np.mean(times):.2f}",
                }
            )
            print(rows[-1], flush=True)
    print()
    print(markdown_table(rows, ["dataset", "model", "balanced accuracy", "size", "fit (s)"]))


if __name__ == "__main__":
    main()
