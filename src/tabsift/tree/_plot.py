"""Drawings of a tree and of a run's fitness history (matplotlib, imported lazily)."""

import numpy as np


def _new_axes(ax, size):
    if ax is not None:
        return ax
    from tabsift.utils import new_figure

    return new_figure(figsize=size, layout="constrained").subplots()


def plot_tree(tree, ax=None, *, decimals=2, fontsize=8):
    """Draw one box per node at its depth; leaves spread evenly left to right.

    The edge to the ``<=`` child reads "yes", the other "no"; the one missing
    values take adds "or missing".
    """
    feature = tree.feature
    xs, ys = {}, {}
    counter = [0]

    def place(i, depth):
        ys[i] = -depth
        if feature[i] < 0:
            xs[i] = counter[0]
            counter[0] += 1
            return
        place(2 * i + 1, depth + 1)
        place(2 * i + 2, depth + 1)
        xs[i] = (xs[2 * i + 1] + xs[2 * i + 2]) / 2

    place(0, 0)
    n_leaves = max(counter[0], 1)
    depth = max(1, -min(ys.values()))
    ax = _new_axes(ax, (max(4.0, 1.6 * n_leaves), max(2.5, 1.3 * (depth + 1))))
    box = dict(boxstyle="round,pad=0.3", fc="#eef3fb", ec="#4a6fa5")
    leaf_box = dict(boxstyle="round,pad=0.3", fc="#f4f9ee", ec="#5b8c2a")
    for i in xs:
        if feature[i] >= 0:
            text = f"{tree.feature_names[feature[i]]}\n<= {tree.threshold[i]:.{decimals}f}"
            style = box
            # "yes" is the <= side; the side missing values take says so.
            left = bool(tree.missing_go_to_left[i])
            labels = ("yes or missing", "no") if left else ("yes", "no or missing")
            for child, label in zip((2 * i + 1, 2 * i + 2), labels, strict=True):
                ax.plot([xs[i], xs[child]], [ys[i], ys[child]], color="#888888", lw=1, zorder=1)
                ax.annotate(
                    label,
                    ((xs[i] + xs[child]) / 2, (ys[i] + ys[child]) / 2),
                    fontsize=fontsize - 1,
                    color="#555555",
                    ha="center",
                )
        else:
            n = int(tree.n_node_samples[i])
            if tree.classes is None:
                text = f"{tree.value[i, 0]:.{decimals}f}\nn={n}"
            else:
                k = int(np.argmax(tree.value[i]))
                text = f"{tree.classes[k]}\np={tree.value[i, k]:.2f}, n={n}"
            style = leaf_box
        ax.text(xs[i], ys[i], text, ha="center", va="center", fontsize=fontsize, bbox=style, zorder=2)
    ax.set_xlim(-0.7, n_leaves - 0.3)
    ax.set_ylim(-depth - 0.5, 0.5)
    ax.set_axis_off()
    return ax


def plot_history(history, *, metric, ax=None):
    """Best and mean training (and validation) fitness per generation."""
    ax = _new_axes(ax, (5.0, 3.5))
    gen = [row["generation"] for row in history]
    for key, label, style in (
        ("best_train_fitness", "best (train)", "-"),
        ("mean_train_fitness", "mean (train)", ":"),
        ("best_validation_fitness", "best (validation)", "--"),
    ):
        values = [row[key] for row in history]
        if not all(np.isnan(values)):
            ax.plot(gen, values, style, label=label)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # generations are whole numbers
    ax.set_xlabel("generation")
    ax.set_ylabel(metric)
    ax.legend(loc="lower right", fontsize=8)
    return ax
