"""The ``tabsift demo`` section of the Boolean rule family (:mod:`tabsift.rules`)."""

from tabsift.cli._demo_base import demo_section, figure


@demo_section("Boolean rules")
def rules_section(ctx):
    """Recover a planted AtLeast2 rule from raw numeric columns; learn one rule per iris class."""
    import pandas as pd

    from tabsift.datasets import load_iris, make_boolean_rule
    from tabsift.rules import Binarizer, BooleanRuleClassifier

    n = ctx.size(1500, 600)
    bunch = make_boolean_rule(n_samples=n, random_state=ctx.seed)
    cut = (2 * n) // 3
    X_train, X_test = bunch.data.iloc[:cut], bunch.data.iloc[cut:]
    y_train, y_test = bunch.target.iloc[:cut], bunch.target.iloc[cut:]
    search = {"n_iterations": 500, "n_starts": 10}  # BoolXAI's defaults; under a second
    quantile = BooleanRuleClassifier(random_state=ctx.seed, **search).fit(X_train, y_train)
    thresholds = {lit["column"]: [lit["threshold"]] for lit in bunch.rule["literals"]}
    exact = BooleanRuleClassifier(
        binarizer=Binarizer(thresholds=thresholds), random_state=ctx.seed, **search
    ).fit(X_train, y_train)
    iris = load_iris()
    multi = BooleanRuleClassifier(random_state=ctx.seed, **search).fit(iris.data, iris.target)

    rows = [
        {"learner": "planted rule", "rule": bunch.rule_text, "test accuracy": None},
        {
            "learner": "quantile thresholds (5 per column)",
            "rule": quantile.export_text(),
            "test accuracy": round(float(quantile.score(X_test, y_test)), 3),
        },
        {
            "learner": "the planted thresholds",
            "rule": exact.export_text(),
            "test accuracy": round(float(exact.score(X_test, y_test)), 3),
        },
    ]
    fig, axes = figure(ncols=2, width=5.0, height=3.2)
    exact.plot(ax=axes[0])
    axes[0].set_title("rule learned with the planted thresholds")
    quantile.plot(ax=axes[1])
    axes[1].set_title("rule learned with quantile thresholds")
    return {
        "text": (
            "BooleanRuleClassifier searches Boolean formulas (And, Or, AtLeast, AtMost, Choose "
            "over conditions on raw columns) by simulated annealing. The data's label is "
            f"{bunch.rule_text} with {len(bunch.flipped)} of {n} labels "
            f"({len(bunch.flipped) / n:.1%}) flipped. "
            f"{exact.describe()}\n\nIris, one rule per class:\n{multi.export_text()}"
        ),
        "figure": fig,
        "table": pd.DataFrame(rows),
        "data": {
            "planted": bunch.rule_text,
            "quantile_rule": quantile.to_dict()["rules"],
            "exact_rule": exact.to_dict()["rules"],
            "iris_rules": multi.to_dict()["rules"],
            "iris_training_accuracy": float(multi.score(iris.data, iris.target)),
        },
    }
