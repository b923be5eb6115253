"""``tabsift demo`` section: importance resampling (DSIR) on a mixed-domain pool."""

import numpy as np

from tabsift.cli._demo_base import demo_section, figure


@demo_section("Importance resampling (DSIR)")
def dsir_section(ctx):
    """Select the pool rows that match a target sample, and compare with random rows."""
    import pandas as pd

    from tabsift.datasets import make_domain_shift
    from tabsift.sampling import ImportanceResampler

    data = make_domain_shift(
        n_pool=ctx.size(20_000, 4000), n_target=ctx.size(500, 200), random_state=ctx.seed
    )
    n = ctx.size(1000, 300)
    rows, samplers = [], {}
    rng = np.random.RandomState(ctx.seed)
    random_index = np.sort(rng.choice(len(data.pool), size=n, replace=False))
    for estimator in ("generative", "discriminative"):
        sampler = ImportanceResampler(
            data.target, n_samples=n, estimator=estimator, random_state=ctx.seed
        ).fit(data.pool)
        samplers[estimator] = sampler
        rows.append(
            {
                "selection": f"DSIR ({estimator})",
                "rows": n,
                "target-domain share": float(
                    (data.pool_domain.iloc[sampler.sample_indices_] == data.target_domain).mean()
                ),
                "KL(target || rows)": sampler.kl_target_selected_,
            }
        )
    rows.append(
        {
            "selection": "random rows",
            "rows": n,
            "target-domain share": float(
                (data.pool_domain.iloc[random_index] == data.target_domain).mean()
            ),
            "KL(target || rows)": samplers["generative"].kl_to_target(data.pool.iloc[random_index]),
        }
    )
    rows.append(
        {
            "selection": "whole pool",
            "rows": len(data.pool),
            "target-domain share": float((data.pool_domain == data.target_domain).mean()),
            "KL(target || rows)": samplers["generative"].kl_target_pool_,
        }
    )
    table = pd.DataFrame(rows)
    best = samplers["generative"]
    if rows[0]["KL(target || rows)"] >= rows[2]["KL(target || rows)"]:
        raise RuntimeError("the DSIR selection is not closer to the target than random rows")

    fig, (ax_tokens, ax_weights) = figure(ncols=2, width=5.5, height=4.2)
    best.plot(ax=ax_tokens, n_features=8)
    weights = best.log_importance_weights_
    in_domain = (data.pool_domain == data.target_domain).to_numpy()
    bins = np.linspace(weights.min(), weights.max(), 50)
    ax_weights.hist(weights[~in_domain], bins=bins, alpha=0.6, label="other domains")
    ax_weights.hist(weights[in_domain], bins=bins, alpha=0.6, label=f"{data.target_domain}")
    ax_weights.set(xlabel="log importance weight", ylabel="pool rows")
    ax_weights.set_title("Log weights by the rows' (hidden) domain", fontsize=10)
    ax_weights.legend(fontsize=8)
    return {
        "text": (
            f"ImportanceResampler (DSIR, Xie et al. 2023) hashes every row into tokens "
            f"(quantile bins of the numeric columns, the category, word unigrams and bigrams "
            f"of the text) and keeps {n} of {len(data.pool)} pool rows with probability "
            f"proportional to p_target / p_pool. The target sample ({len(data.target)} rows, "
            f"no labels) comes from the {data.target_domain!r} domain, "
            f"{rows[3]['target-domain share']:.1%} of the pool; "
            f"{rows[0]['target-domain share']:.1%} of the generative selection is from it "
            f"(random rows: {rows[2]['target-domain share']:.1%}). KL reduction: "
            f"{best.kl_reduction_:.3f} nats."
        ),
        "figure": fig,
        "table": table,
        "data": {
            "target_domain": data.target_domain,
            "selections": rows,
            "kl_reduction": best.kl_reduction_,
        },
    }
