"""``tabsift demo`` section: KAN feature selection (:class:`tabsift.feature_selection.KANSelector`)."""

from tabsift.cli._demo_base import demo_section, figure


@demo_section("KAN feature selection")
def kan_selection_section(ctx):
    """Rank features with each KAN importance method on data with planted informative columns."""
    import pandas as pd

    from tabsift.datasets import make_informative
    from tabsift.feature_selection import KANSelector

    bunch = make_informative(
        n_samples=ctx.size(600, 300), n_features=8, n_informative=3, random_state=ctx.seed
    )
    informative = set(bunch.informative)
    rows, selectors = [], {}
    for method in ("l1", "l2", "si", "ko"):
        selector = KANSelector(
            method=method,
            n_features_to_select=len(informative),
            epochs=ctx.size(40, 15),
            cv=3,
            random_state=ctx.seed,
        ).fit(bunch.data, bunch.target)
        kept = set(selector.get_feature_names_out())
        selectors[method] = selector
        rows.append(
            {
                "method": method,
                "kept": ", ".join(sorted(kept)),
                "informative recovered": f"{len(kept & informative)} of {len(informative)}",
            }
        )
    fig, axes = figure(ncols=2, width=4.5, height=3.8)
    selectors["l2"].plot_importances(ax=axes[0])
    axes[0].set_title("KAN-L2 importances (fold spread)")
    selectors["ko"].plot_importances(ax=axes[1])
    axes[1].set_title("KAN-KO importances (fold spread)")
    table = pd.DataFrame(rows)
    return {
        "text": (
            "KANSelector trains a Kolmogorov-Arnold network in each cross-validation fold and "
            "scores features on the held-out rows. The data has "
            f"{len(informative)} informative columns ({', '.join(sorted(informative))}) among "
            f"{bunch.data.shape[1]}."
        ),
        "figure": fig,
        "table": table,
        "data": {
            "informative": sorted(informative),
            "methods": {
                m: {
                    "scores": dict(
                        zip(sel.feature_names_in_, map(float, sel.scores_), strict=True)
                    ),
                    "kept": sorted(sel.get_feature_names_out()),
                }
                for m, sel in selectors.items()
            },
        },
    }
