"""``tabsift demo`` section: coresets against random rows on a table with a rare region."""

from tabsift.cli._demo_base import demo_section, figure


@demo_section("Coresets and instance selection")
def coresets_section(ctx):
    """Select 1.5% of a table with each selector; train 1-NN on it; score the rare region too."""
    import numpy as np
    import pandas as pd
    from sklearn.neighbors import KNeighborsClassifier

    from tabsift.datasets import make_rare_region
    from tabsift.llm.testing import LocalLLMServer
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
    with LocalLLMServer(lambda request: '{"choice": 0, "reason": "stand-in"}') as server:
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
            "Add-One-In (stand-in LLM)": LLMChoiceSelector(
                server.client(), n_samples=min(k, 12), random_state=seed
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
        "text": (
            f"Each selector keeps {k} of {n} rows ({100 * k / n:.1f}%); a 1-nearest-neighbour "
            "model is trained on them and scored on fresh data. 1% of the rows sit in a distant "
            "cluster whose labels break the bulk's rule (x0 + x1 > 0): random rows seldom "
            "include it, coverage-based coresets always do. OT objective through swaps: "
            f"{ot.objective_history_[0]:.4f} -> {ot.objective_history_[-1]:.4f} "
            f"({ot.n_swaps_} swaps)."
        ),
        "figure": fig,
        "table": table,
        "data": {"results": rows, "ot_objective_history": ot.objective_history_},
    }
