"""
Coresets: a few rows that stand in for a whole table
====================================================

:mod:`tabsift.sampling` keeps a small set of rows that stands in for a whole table. The
data here hide a small, distant *rare region* whose labels break the rule that holds
elsewhere. Each selector keeps 45 of 2,000 rows; a 1-nearest-neighbour model trained on
them is scored on fresh rows, overall and in the rare region. The table says, for this
run, which selectors kept rare rows and what that did to the model.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from sklearn.neighbors import KNeighborsClassifier

from tabsift.datasets import make_rare_region
from tabsift.sampling import (
    GraphAttentionSelector,
    KCenterSelector,
    LLMChoiceSelector,
    OTCoresetSelector,
    StratifiedRandomSelector,
)

torch.set_num_threads(1)
train = make_rare_region(n_samples=2000, random_state=0)
test = make_rare_region(n_samples=2000, random_state=1)
print(train.DESCR)


def evaluate(selector):
    X_small, y_small = selector.fit_resample(train.data, train.target)
    pred = (
        KNeighborsClassifier(n_neighbors=1)
        .fit(X_small, y_small)
        .predict(test.data)
    )
    return {
        "rows kept": len(X_small),
        "rare rows kept": int(train.rare[selector.sample_indices_].sum()),
        "accuracy": (pred == test.target).mean(),
        "rare-region accuracy": (
            pred[test.rare] == test.target[test.rare]
        ).mean(),
    }


k = 45
rows = {
    f"random (seed {s})": evaluate(
        StratifiedRandomSelector(n_samples=k, random_state=s)
    )
    for s in range(3)
}
rows["k-center"] = evaluate(KCenterSelector(n_samples=k, random_state=0))
rows["optimal transport (GORACS)"] = evaluate(
    OTCoresetSelector(n_samples=k, validation=400, random_state=0)
)
rows["graph attention (GAIS)"] = evaluate(
    GraphAttentionSelector(
        reduction=1 - k / len(train.data), epochs=25, random_state=0
    )
)
rows["Add-One-In (offline criterion)"] = evaluate(
    LLMChoiceSelector(n_samples=k, candidates="diverse", random_state=0)
)
pd.DataFrame(rows).T.round(3)

# %%
# Per-class budgets and weights
# -----------------------------
# ``stratify="balanced"`` gives each class the same number of rows; ``sample_weight_``
# says how many rows of the table each kept row stands for, so a model trained with it
# sees the original class mix.
imbalanced = train.target.copy()
imbalanced[train.data["x2"] > 1.3] = 2  # a small third class
selector = KCenterSelector(n_samples=60, stratify="balanced", random_state=0)
X_small, y_small = selector.fit_resample(train.data, imbalanced)
print("rows per class:", y_small.value_counts().sort_index().to_dict())
print(
    "weight per class:",
    pd.Series(selector.sample_weight_)
    .groupby(y_small.to_numpy())
    .sum()
    .round(1)
    .to_dict(),
)
print(
    "rows per class in the table:",
    imbalanced.value_counts().sort_index().to_dict(),
)

# %%
# The figures: where random rows and k-center rows fall (grey: all rows, circled: the
# rare region), and the optimal-transport objective of
# :class:`~tabsift.sampling.OTCoresetSelector` over its accepted swaps.
X = train.data.to_numpy()
fig, axes = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
for ax, (name, sel) in zip(
    axes[:2],
    [
        ("random rows", StratifiedRandomSelector(n_samples=k, random_state=0)),
        ("k-center", KCenterSelector(n_samples=k, random_state=0)),
    ],
    strict=True,
):
    idx = sel.fit(train.data, train.target).sample_indices_
    ax.scatter(X[:, 0], X[:, 1], s=2, c="lightgray")
    ax.scatter(
        X[train.rare, 0],
        X[train.rare, 1],
        s=30,
        facecolors="none",
        edgecolors="black",
    )
    ax.scatter(
        X[idx, 0],
        X[idx, 1],
        s=15,
        c=train.target.to_numpy()[idx],
        cmap="coolwarm",
    )
    ax.set(
        title=f"{name}: {int(train.rare[idx].sum())} rare rows kept",
        xlabel="x0",
        ylabel="x1",
    )

ot = OTCoresetSelector(
    n_samples=60, validation=400, max_swaps=15, random_state=0
)
ot.fit(train.data, train.target)
axes[2].plot(ot.objective_history_, marker="o")
axes[2].set(
    xlabel="accepted swaps", ylabel="OT objective", title="OTCoresetSelector"
)
plt.show()

# sphinx_gallery_multi_image = "single"
