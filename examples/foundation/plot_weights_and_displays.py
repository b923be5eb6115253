"""
Sample weights in a pipeline, and plots as displays
===================================================

Every tabsift estimator whose method can honour them takes ``sample_weight`` in
``fit`` (an integer weight ``k`` counts a row ``k`` times), classifiers whose
scikit-learn counterparts have it take ``class_weight="balanced"``, and
scikit-learn's metadata routing carries weights through a ``Pipeline`` and
``cross_validate``. A coreset's own weights (how many rows each kept row
stands for) reach the next model through
:class:`~tabsift.sampling.FitOnSelection`.

The plots are scikit-learn style displays: ``Display.from_estimator(fitted)``
draws, and the display keeps ``figure_`` and ``ax_`` for restyling. In a
notebook the figures show under the cell.

The table is ``Pima.tr`` from R's MASS package (diabetes in Pima women; one
third positive), tested on ``Pima.te``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline

from tabsift.datasets import load_r_table
from tabsift.feature_selection import ImportanceDisplay, ShapSelector
from tabsift.sampling import FitOnSelection, KCenterSelector, SelectionDisplay
from tabsift.tree import EvolvedTreeClassifier, TreeDisplay

train, test = load_r_table("Pima.tr"), load_r_table("Pima.te")
X, y = train.drop(columns="type"), train["type"]
X_test, y_test = test.drop(columns="type"), test["type"]
print(y.value_counts().to_dict())

# %%
# Class weights
# -------------
# With ``class_weight="balanced"`` each class carries the same total weight in
# the leaves, so the minority class ("Yes") is predicted more often.
settings = dict(max_depth=2, population_size=12, n_generations=5, random_state=0)
scores = {}
for class_weight in (None, "balanced"):
    tree = EvolvedTreeClassifier(class_weight=class_weight, **settings)
    tree.fit(X, y)
    predicted = tree.predict(X_test)
    scores[str(class_weight)] = {
        "balanced accuracy": balanced_accuracy_score(y_test, predicted),
        "share predicted Yes": np.mean(predicted == "Yes"),
    }
pd.DataFrame(scores).round(3)

# %%
# Weights through a pipeline
# --------------------------
# With metadata routing on, each step asks for the weights it uses with
# ``set_fit_request`` (and ``set_score_request`` for a weighted test score);
# ``cross_validate`` splits them with the rows.
sklearn.set_config(enable_metadata_routing=True)
weights = np.where(y == "Yes", 2.0, 1.0)  # e.g. survey weights
pipe = Pipeline(
    [
        (
            "select",
            ShapSelector(n_features_to_select=4, n_estimators=50).set_fit_request(
                sample_weight=True
            ),
        ),
        (
            "tree",
            EvolvedTreeClassifier(**settings)
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True),
        ),
    ]
)
result = cross_validate(
    pipe, X, y, cv=3, params={"sample_weight": weights}, return_estimator=True
)
print("weighted accuracy per fold:", result["test_score"].round(3))
print(
    "features kept in the first fold:",
    list(result["estimator"][0][:-1].get_feature_names_out()),
)
sklearn.set_config(enable_metadata_routing=False)

# %%
# A coreset's weights reach the model
# -----------------------------------
# :class:`~tabsift.sampling.KCenterSelector` keeps 30 rows and gives each the
# number of rows it covers; ``FitOnSelection`` trains the model on those rows
# with those weights, as if on all 200. Whether 30 rows are enough is for the
# test score to say; ``use_weights=False`` would train on the rows as they are.
coreset = FitOnSelection(
    KCenterSelector(n_samples=30, random_state=0),
    estimator=LogisticRegression(max_iter=1000),
)
coreset.fit(X, y)
print("weights of the kept rows sum to", coreset.selector_.sample_weight_.sum())
print("test accuracy on 30 weighted rows:", round(coreset.score(X_test, y_test), 3))
full = LogisticRegression(max_iter=1000).fit(X, y)
print("test accuracy on all 200 rows:    ", round(full.score(X_test, y_test), 3))

# %%
# Displays
# --------
# Each display draws on the Axes it is given (or on a new figure) and keeps
# them, so the figure can be restyled after the fact.
fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
selector = ShapSelector(n_features_to_select=4, n_estimators=50).fit(X, y)
ImportanceDisplay.from_estimator(selector, ax=axes[0])
tree = EvolvedTreeClassifier(class_weight="balanced", **settings).fit(X, y)
TreeDisplay.from_estimator(tree, ax=axes[1])
display = SelectionDisplay.from_estimator(coreset.selector_, X, y, ax=axes[2])
display.ax_.set_title("30 k-center rows, sized by weight")
plt.show()
