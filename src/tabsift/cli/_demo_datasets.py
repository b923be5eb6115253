"""``tabsift demo`` section: the shipped and generated datasets (:mod:`tabsift.datasets`)."""

import numpy as np

from tabsift.cli._demo_base import demo_section, figure


@demo_section("Datasets")
def datasets_section(ctx):
    """Shipped and generated datasets: sizes, tasks and planted ground truth."""
    import pandas as pd

    from tabsift import datasets

    rows = []
    for name in ("breast_cancer", "wine", "diabetes", "digits", "iris", "california_housing"):
        loader = getattr(datasets, f"load_{name}")
        try:
            bunch = loader()
        except FileNotFoundError:
            rows.append(
                {
                    "dataset": f"load_{name}",
                    "source": "not available offline",
                    "rows": None,
                    "columns": None,
                    "task": "regression",
                    "ground_truth": "",
                }
            )
            continue
        rows.append(
            {
                "dataset": f"load_{name}",
                "source": "scikit-learn (bundled)",
                "rows": bunch.data.shape[0],
                "columns": bunch.data.shape[1],
                "task": bunch.task,
                "ground_truth": "",
            }
        )

    n = ctx.size(1000, 300)
    informative = datasets.make_informative(n_samples=n, random_state=ctx.seed)
    rule = datasets.make_boolean_rule(n_samples=n, random_state=ctx.seed)
    tree = datasets.make_planted_tree(n_samples=n, depth=2, random_state=ctx.seed)
    interaction = datasets.make_missing_interaction(n_samples=n, random_state=ctx.seed)
    shift = datasets.make_domain_shift(
        n_pool=ctx.size(5000, 1000), n_target=ctx.size(500, 100), random_state=ctx.seed
    )
    generated = [
        ("make_informative", informative, f"informative: {', '.join(informative.informative)}"),
        ("make_boolean_rule", rule, rule.rule_text),
        (
            "make_planted_tree",
            tree,
            f"depth-2 tree on {', '.join(sorted(_tree_columns(tree.tree)))}",
        ),
        ("make_missing_interaction", interaction, f"mechanism: {interaction.mechanism}"),
    ]
    for name, bunch, truth in generated:
        rows.append(
            {
                "dataset": name,
                "source": "generated",
                "rows": bunch.data.shape[0],
                "columns": bunch.data.shape[1],
                "task": bunch.task,
                "ground_truth": truth,
            }
        )
    rows.append(
        {
            "dataset": "make_domain_shift",
            "source": "generated",
            "rows": len(shift.pool),
            "columns": shift.pool.shape[1],
            "task": shift.task,
            "ground_truth": f"target domain: {shift.target_domain} ({len(shift.target)} rows)",
        }
    )
    table = pd.DataFrame(rows).rename(columns={"ground_truth": "ground truth"})

    # The planted rule, recomputed from its description, must match the labels
    # except for the flipped ones.
    holds = sum(
        (rule.data[lit["column"]] > lit["threshold"]) != lit["negated"]
        for lit in rule.rule["literals"]
    )
    agreement = float(np.mean((holds >= rule.rule["k"]) == rule.target))

    fig, (ax_rule, ax_shift) = figure(ncols=2)
    first, second = rule.rule["literals"][:2]
    x, y = rule.data[first["column"]], rule.data[second["column"]]
    for label, colour in ((0, "tab:blue"), (1, "tab:orange")):
        mask = rule.target == label
        ax_rule.scatter(x[mask], y[mask], s=8, alpha=0.6, color=colour, label=f"label {label}")
    ax_rule.axvline(first["threshold"], color="grey", linestyle="--", linewidth=1)
    ax_rule.axhline(second["threshold"], color="grey", linestyle="--", linewidth=1)
    ax_rule.set(xlabel=first["column"], ylabel=second["column"])
    ax_rule.set_title(f"make_boolean_rule\n{rule.rule_text}", fontsize=9)
    ax_rule.legend(fontsize=8)
    for domain in shift.domains:
        mask = (shift.pool_domain == domain).to_numpy()
        ax_shift.scatter(
            shift.pool.loc[mask, "x0"], shift.pool.loc[mask, "x1"], s=4, alpha=0.3, label=domain
        )
    ax_shift.scatter(
        shift.target["x0"],
        shift.target["x1"],
        s=10,
        marker="x",
        color="black",
        label=f"target ({shift.target_domain})",
    )
    ax_shift.set(xlabel="x0", ylabel="x1")
    ax_shift.set_title("make_domain_shift: pool by domain, and the target sample", fontsize=9)
    ax_shift.legend(fontsize=7, markerscale=2)

    return {
        "text": (
            "Datasets bundled with scikit-learn, wrapped to return pandas objects and their "
            "task, and generators with planted structure that methods should recover.\n\n"
            f"The planted boolean rule, recomputed from its description, agrees with "
            f"{agreement:.1%} of the labels; {len(rule.flipped)} of {len(rule.target)} labels "
            f"({len(rule.flipped) / len(rule.target):.1%}) were flipped on purpose."
        ),
        "figure": fig,
        "table": table,
        "data": {
            "datasets": rows,
            "boolean_rule": rule.rule_text,
            "boolean_rule_agreement": agreement,
            "informative": informative.informative,
            "planted_tree": tree.tree,
            "mechanism": interaction.mechanism,
            "target_domain": shift.target_domain,
        },
    }


def _tree_columns(tree):
    if "value" in tree:
        return set()
    ((feature, branches),) = tree.items()
    return {feature}.union(*(_tree_columns(child) for child in branches.values()))
