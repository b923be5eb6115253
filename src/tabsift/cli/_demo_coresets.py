"""``tabsift demo`` section: coresets against random rows on a table with a rare region."""

from tabsift.cli._demo_base import demo_section, figure, offline_llm


@demo_section("Coresets and instance selection")
def coresets_section(ctx):
    """Select 1.5% of a table with each selector; train 1-NN on it; score the rare region too."""
    import numpy as np
    import pandas as pd
    from sklearn.neighbors import KNeighborsClassifier

    from tabsift.datasets import make_rare_region
    from tabsift.sampling import (
        GraphAttentionSelector,
        KCenterSelector,
        LLMChoiceSelector,
        OTCoresetSelector,
        StratifiedRandomSelector,
    )

    n = ctx.size(4000, 1500)
    train = make_rare_region(n_samples=n, random_state=ctx.seed)
    test = make_rare_region(n_samples=n, random_state=ctx.seed + 1)
    k = max(10, int(0.015 * n))
    seed = ctx.seed
    # A local stand-in model that always picks the first candidate: it shows the
    # prompts and the validation path of LLMChoiceSelector, offline.
    with offline_llm(lambda request: '{"choice": 0, "reason": "stand-in"}') as server:
        selectors = {
            "random (stratified)": StratifiedRandomSelector(n_samples=k, random_state=seed),
            "k-center": KCenterSelector(n_samples=k, random_state=seed),
            "OT (GORACS)": OTCoresetSelector(
                n_samples=k, validation=ctx.size(800, 300), max_swaps=ctx.size(20, 5),
                random_state=seed,
            ),
            "graph attention (GAIS)": GraphAttentionSelector(
                reduction=1 - k / n, epochs=ctx.size(60, 20), random_state=seed
            ),
            "Add-One-In (offline criterion)": LLMChoiceSelector(
                n_samples=k, candidates="diverse", random_state=seed
            ),
            # The same budget as every other method: one request per row kept.
            "Add-One-In (stand-in LLM)": LLMChoiceSelector(
                server.client(), n_samples=k, random_state=seed
            ),
        }
        rows = []
        for name, selector in selectors.items():
            X_small, y_small = selector.fit_resample(train.data, train.target)
            model = KNeighborsClassifier(n_neighbors=1).fit(X_small, y_small)
            pred = model.predict(test.data)
            rows.append({
                "selector": name,
                "rows": len(X_small),
                "accuracy": float((pred == test.target).mean()),
                "rare-region accuracy": float((pred[test.rare] == test.target[test.rare]).mean()),
                "rare rows kept": int(train.rare[selector.sample_indices_].sum()),
            })
    table = pd.DataFrame(rows)
    # How often random rows include the rare region at all: the same selector, other seeds.
    seeds = [seed + i for i in range(5)]
    random_hits = sum(
        bool(train.rare[StratifiedRandomSelector(n_samples=k, random_state=s).fit(
            train.data, train.target).sample_indices_].any())
        for s in seeds
    )

    fig, axes = figure(ncols=3, width=4.0, height=3.6)
    X = train.data.to_numpy()
    for ax, name in zip(axes, ["random (stratified)", "k-center", "OT (GORACS)"], strict=True):
        ax.scatter(X[:, 0], X[:, 1], s=2, c="lightgray")
        idx = selectors[name].sample_indices_
        ax.scatter(X[idx, 0], X[idx, 1], s=12, c=np.asarray(train.target)[idx], cmap="coolwarm")
        ax.set_title(name)
        ax.set_xlabel("x0")
    axes[0].set_ylabel("x1")
    ot = selectors["OT (GORACS)"]
    return {
        "text": _coresets_text(rows, n=n, k=k, rare_share=float(np.mean(train.rare)),
                               random_hits=random_hits, seeds=seeds, ot=ot),
        "figure": fig,
        "table": table,
        "data": {
            "results": rows,
            "budget": k,
            "random_seeds": seeds,
            "random_seeds_with_rare_rows": random_hits,
            "ot_objective_history": ot.objective_history_,
        },
    }


def _names(rows):
    return ", ".join(row["selector"] for row in rows) or "none"


def _coresets_text(rows, *, n, k, rare_share, random_hits, seeds, ot):
    """Return the section's text, every claim read from this run's results."""
    budgets = sorted({row["rows"] for row in rows})
    budget = (
        f"Each selector keeps {k} of {n} rows ({100 * k / n:.1f}%)"
        if budgets == [k]
        else f"The selectors were asked for {k} of {n} rows and kept "
        + ", ".join(f"{row['selector']} {row['rows']}" for row in rows)
    )
    with_rare = [row for row in rows if row["rare rows kept"] > 0]
    without = [row for row in rows if row["rare rows kept"] == 0]
    best = max(rows, key=lambda row: row["rare-region accuracy"])
    return (
        f"{budget}; a 1-nearest-neighbour model is trained on them and scored on fresh data. "
        f"{100 * rare_share:.1f}% of the rows sit in a distant cluster whose labels break the "
        f"bulk's rule (x0 + x1 > 0). In this run, the selections with rows from that region: "
        f"{_names(with_rare)}; without: {_names(without)}. Stratified random rows included "
        f"it in {random_hits} of {len(seeds)} seeds ({seeds[0]} to {seeds[-1]}). Best "
        f"rare-region accuracy: {best['selector']} ({best['rare-region accuracy']:.2f}). "
        f"OT objective through swaps: {ot.objective_history_[0]:.4f} -> "
        f"{ot.objective_history_[-1]:.4f} ({ot.n_swaps_} swaps)."
    )
