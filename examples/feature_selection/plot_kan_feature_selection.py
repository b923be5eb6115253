"""
Choosing features with a Kolmogorov-Arnold network
==================================================

:class:`~tabsift.feature_selection.KANSelector` trains a small Kolmogorov-Arnold network
(KAN) on each cross-validation fold and scores every feature on the fold's held-out rows.
Here three informative columns are planted among twelve; the selector should keep exactly
those three. The figures show the importances with their spread over folds, and the
function the networks learned for each kept feature.
"""

# %%
# Data with planted informative columns
# -------------------------------------
# :func:`~tabsift.datasets.make_informative` draws standard normal columns; only three
# drive the binary target, each through a different effect.
import matplotlib.pyplot as plt
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from tabsift.datasets import make_informative
from tabsift.feature_selection import KANSelector

torch.set_num_threads(1)  # the networks are small: more threads do not help

data = make_informative(
    n_samples=500, n_features=12, n_informative=3, random_state=1
)
X, y = data.data, data.target
print("informative columns:", data.informative)
print("their effects:      ", data.effects)

# %%
# Four ways to read the networks
# ------------------------------
# ``l1``/``l2`` measure the size of each feature's first-layer functions on held-out
# rows, ``si`` the output's sensitivity to the feature, ``ko`` how much the held-out loss
# rises when the feature is knocked out. With the same ``random_state`` all four read
# the very same networks. Small settings keep this fast (the defaults are 100 epochs and
# 5 folds).
settings = dict(n_features_to_select=3, epochs=30, cv=3, random_state=0)
selectors = {
    method: KANSelector(method, **settings).fit(X, y)
    for method in ["l1", "l2", "si", "ko"]
}
for name, selector in selectors.items():
    print(f"{name}: keeps {sorted(selector.get_feature_names_out())}")

scores = pd.DataFrame(
    {name: s.scores_ for name, s in selectors.items()}, index=X.columns
)
scores.insert(0, "informative", scores.index.isin(data.informative))
scores.sort_values("l2", ascending=False).round(3)

# %%
# In a scikit-learn pipeline
# --------------------------
# A :class:`~tabsift.feature_selection.KANSelector` is a regular selector: in a
# :class:`~sklearn.pipeline.Pipeline` it only ever sees the training rows. A
# nearest-neighbour model gains from losing the nine noise columns.
X_train, X_test, y_train, y_test = train_test_split(
    X, y, stratify=y, random_state=0
)
pipe = Pipeline(
    [
        ("select", KANSelector("l2", **settings)),
        ("model", KNeighborsClassifier(15)),
    ]
).set_output(transform="pandas")
pipe.fit(X_train, y_train)
everything = KNeighborsClassifier(15).fit(X_train, y_train)
print("kept:", list(pipe["select"].get_feature_names_out()))
print(f"test accuracy, 3 selected features: {pipe.score(X_test, y_test):.3f}")
print(
    f"test accuracy, all 12 features:     {everything.score(X_test, y_test):.3f}"
)

# %%
# Importances and learned shapes
# ------------------------------
# ``plot_importances`` draws the scores, best first, with the spread over folds as error
# bars; ``plot_shapes`` draws, for each kept feature, the network's response to it in the
# feature's own units. The titles name the planted effect.
selector = selectors["l2"]
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
selector.plot_importances(ax=ax)

fig, axes = plt.subplots(1, 3, figsize=(10, 3), layout="constrained")
selector.plot_shapes(axes=axes)
for ax in axes:
    ax.set_title(
        f"{ax.get_xlabel()} (planted: {data.effects[ax.get_xlabel()]})"
    )
plt.show()

# sphinx_gallery_multi_image = "single"
