"""
Evolving a shallow decision tree
================================

:class:`~tabsift.tree.EvolvedTreeClassifier` evolves a population of shallow decision
trees, started from a random forest's trees (LLEGO). Without a language model, genetic
operators do crossover and mutation; with an :class:`~tabsift.llm.LLMClient` a model does
them. Fitness is measured on held-out validation rows, so the tree kept is the one that
generalises best, not the one that fits the training rows best.

The target here comes from a planted depth-2 tree with 10% label noise, so the best
possible accuracy is about 0.9.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from tabsift.datasets import make_planted_tree
from tabsift.tree import EvolvedTreeClassifier, EvolvedTreeRegressor

data = make_planted_tree(
    n_samples=2000, n_features=6, depth=2, noise=0.1, random_state=0
)
X, y = data.data.iloc[:1000], data.target.iloc[:1000]
X_test, y_test = data.data.iloc[1000:], data.target.iloc[1000:]
print("planted:", data.tree)

clf = EvolvedTreeClassifier(max_depth=2, n_generations=10, random_state=0).fit(
    X, y
)
cart = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
pd.DataFrame(
    {
        "test accuracy": {
            "planted tree": (data.target_clean[1000:] == y_test).mean(),
            "EvolvedTreeClassifier": clf.score(X_test, y_test),
            "CART, depth 2": cart.score(X_test, y_test),
        }
    }
).round(3)

# %%
# The tree and its history
# ------------------------
# ``export_text`` prints the tree; ``history_`` holds one row per generation and
# ``hall_of_fame_`` the best trees seen, with their training and validation fitness.
print(clf.export_text())
pd.DataFrame(clf.history_).tail()

# %%
# Time limits
# -----------
# ``time_limit`` stops the evolution after so many seconds and keeps the best tree so
# far; ``checkpoint=path`` would let an interrupted run resume.
cut = EvolvedTreeClassifier(
    max_depth=2,
    population_size=12,
    n_generations=1000,
    time_limit=0.5,
    random_state=3,
).fit(X, y)
print(
    "stopped by the time limit:",
    cut.stopped_by_time_limit_,
    "after",
    cut.n_generations_,
    "generations",
)

# %%
# Regression works the same way, with a constant in each leaf.
reg_data = make_planted_tree(
    n_samples=1000, depth=2, task="regression", random_state=1
)
reg = EvolvedTreeRegressor(max_depth=2, n_generations=5, random_state=0)
reg.fit(reg_data.data, reg_data.target)
print(
    f"R^2 on the training rows: {reg.score(reg_data.data, reg_data.target):.3f}"
)
print(reg.export_text(decimals=2))

# %%
# The figures: the evolved classifier's tree, and its fitness over the generations.
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
clf.plot(ax=axes[0])
clf.plot_history(ax=axes[1])
plt.show()

# sphinx_gallery_multi_image = "single"
