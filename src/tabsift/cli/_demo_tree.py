"""``tabsift demo`` section: an evolved decision tree against CART on a planted tree."""

from tabsift.cli._demo_base import demo_section, figure, offline_llm


@demo_section("Evolved decision trees (LLEGO)")
def evolved_tree_section(ctx):
    """Evolve a depth-2 tree (LLM-free operators) on data from a planted tree; compare with CART."""
    import json

    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    from tabsift.datasets import make_planted_tree
    from tabsift.tree import EvolvedTreeClassifier

    n = ctx.size(2000, 800)
    bunch = make_planted_tree(n_samples=n, n_features=6, depth=2, noise=0.1, random_state=ctx.seed)
    half = n // 2
    X, y = bunch.data.iloc[:half], bunch.target.iloc[:half]
    X_test, y_test = bunch.data.iloc[half:], bunch.target.iloc[half:]
    evolved = EvolvedTreeClassifier(
        max_depth=2,
        population_size=ctx.size(25, 12),
        n_generations=ctx.size(15, 5),
        random_state=ctx.seed,
        verbose=max(ctx.verbose - 1, 0),
    ).fit(X, y)
    cart = DecisionTreeClassifier(max_depth=2, random_state=ctx.seed).fit(X, y)

    # The LLM operators, run against a local stand-in model that answers with the
    # fittest tree it is shown: it shows the prompts and the mechanics, offline.
    def stand_in(request):
        lines = [ln for ln in request["messages"][-1]["content"].splitlines() if ln.startswith("Tree ")]
        return "```\n" + lines[-1].split(": ", 1)[1] + "\n```"

    with offline_llm(stand_in) as server:
        llm_run = EvolvedTreeClassifier(
            server.client(),
            max_depth=2,
            population_size=8,
            n_generations=2,
            n_crossover_prompts=3,
            n_mutation_prompts=3,
            task_description="Predict the class of a synthetic planted-tree table.",
            random_state=ctx.seed,
        ).fit(X, y)

    fig, axes = figure(ncols=2, width=5.0, height=3.6)
    evolved.plot(ax=axes[0])
    axes[0].set_title("evolved tree (LLM-free)")
    evolved.plot_history(ax=axes[1])
    axes[1].set_title("fitness per generation")
    table = pd.DataFrame(
        [
            {"model": "planted tree (truth)", "test accuracy": float((bunch.target_clean[half:] == y_test).mean())},
            {"model": "EvolvedTreeClassifier", "test accuracy": float(evolved.score(X_test, y_test))},
            {"model": "CART (depth 2)", "test accuracy": float(cart.score(X_test, y_test))},
        ]
    )
    noisy = float((bunch.target_clean != bunch.target).mean())
    return {
        "text": (
            "EvolvedTreeClassifier evolves a population of depth-2 trees started from a random "
            "forest's trees. Without an LLM, genetic operators (subtree crossover, mutations, "
            "threshold search) do LLEGO's crossover and mutation. The data come from a planted "
            f"depth-2 tree; {noisy:.1%} of the labels differ from its clean labels. Test "
            f"accuracy: evolved {table['test accuracy'][1]:.3f}, CART "
            f"{table['test accuracy'][2]:.3f}. Evolved tree:\n{evolved.export_text()}\n"
            f"LLM mode against a local stand-in model: {llm_run.llm_stats_['requests']} requests, "
            f"{llm_run.llm_stats_['accepted']} valid trees accepted."
        ),
        "figure": fig,
        "table": table,
        "data": {
            "planted_tree": json.loads(json.dumps(bunch.tree)),
            "evolved_tree": evolved.to_dict(),
            "history": evolved.history_,
            "llm_stats": llm_run.llm_stats_,
        },
    }
