"""The picture of an importance resampling: pool, target and selection on the most shifted tokens."""

import numpy as np


def plot_token_shift(resampler, ax, n_features):
    """Draw pool, target and selection shares of the ``n_features`` most shifted buckets.

    A bucket's shift is its contribution to ``KL(target || pool)`` plus its
    contribution to ``KL(pool || target)``; the bars are labelled with the
    bucket's readable token (``bucket_names_``). Returns ``ax``.
    """
    if ax is None:
        from tabsift.utils import new_figure

        ax = new_figure(figsize=(7, 0.45 * n_features + 1.2), layout="constrained").subplots()
    p_pool, p_target = resampler.pool_distribution_, resampler.target_distribution_
    shift = np.abs(p_target * (np.log(p_target) - np.log(p_pool)))
    shift += np.abs(p_pool * (np.log(p_pool) - np.log(p_target)))
    top = np.argsort(-shift, kind="stable")[:n_features]
    labels = [resampler.bucket_names_.get(int(b), f"bucket {b}") for b in top]
    y = np.arange(len(top))
    height = 0.27
    for offset, dist, name in (
        (-height, p_pool, "pool"),
        (0.0, p_target, "target"),
        (height, resampler.selected_distribution_, "selection"),
    ):
        ax.barh(y + offset, dist[top], height=height, label=name)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("share of hashed tokens")
    ax.set_title(
        f"Most shifted tokens (KL reduction {resampler.kl_reduction_:.3f} nats)", fontsize=10
    )
    ax.legend(fontsize=8)
    return ax
