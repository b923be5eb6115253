"""
Correction formulas for what a model misses
===========================================

:class:`~tabsift.residual.ResidualAgentRegressor` fits a base model, looks at its
out-of-fold residuals, and adds a few correction terms, each a formula in tabsift's safe
expression language with a fitted coefficient. A term is kept only when it lowers the loss
on held-out validation rows. The search below is offline (no language model); with
``llm=`` encoder, decoder and critic agents write the formulas instead.
"""

# %%
# Regression: the terms a linear model misses
# -------------------------------------------
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_squared_error

from tabsift.datasets import make_missing_interaction
from tabsift.expr import parse
from tabsift.residual import (
    FrozenCorrections,
    ResidualAgentClassifier,
    ResidualAgentRegressor,
)

train = make_missing_interaction(n_samples=600, random_state=0)
test = make_missing_interaction(n_samples=2000, random_state=1)
print("planted:", train.linear_formula, "+", train.mechanism)

model = ResidualAgentRegressor(
    LinearRegression(),
    n_corrections=2,
    n_rounds=2,
    cv=3,
    n_jobs=1,
    random_state=0,
).fit(train.data, train.target)
for c in model.corrections_:
    print(
        f"{c.coefficient:+.3f} * {c.expression:<28} validation gain {c.validation_gain:.3f}"
    )

base = LinearRegression().fit(train.data, train.target)
print(
    f"test MSE, linear base: {mean_squared_error(test.target, base.predict(test.data)):.4f}"
)
print(
    f"test MSE, corrected:   {mean_squared_error(test.target, model.predict(test.data)):.4f}"
)

# %%
# Every step of the search is in ``trace_``: the formula tried, its validation loss,
# and whether it was kept and why.
pd.DataFrame(model.trace_)[
    ["round", "step", "formula", "validation_loss", "status"]
].head(10)

# %%
# Classification: corrections in logit space
# ------------------------------------------
# Each term corrects one class's logit; the corrected probabilities are blended with the
# base ones by a weight chosen on validation rows.
labels = np.array(["low", "mid", "high"])
edges = np.quantile(train.target, [1 / 3, 2 / 3])
y = labels[np.digitize(train.target, edges)]
y_test = labels[np.digitize(test.target, edges)]
clf = ResidualAgentClassifier(
    LogisticRegression(), n_rounds=1, cv=3, n_jobs=1, random_state=0
).fit(train.data, y)
for c in clf.corrections_:
    print(f"class {c.target_class!r}: {c.coefficient:+.3f} * {c.expression}")
print("blend weight:", clf.blend_weight_)
base_clf = LogisticRegression().fit(train.data, y)
print(
    f"test accuracy, base:      {(base_clf.predict(test.data) == y_test).mean():.3f}"
)
print(
    f"test accuracy, corrected: {(clf.predict(test.data) == y_test).mean():.3f}"
)

# %%
# Freezing corrections
# --------------------
# The corrections export to JSON; :class:`~tabsift.residual.FrozenCorrections` applies
# them with the prefit base model, with no search and no refitting.
frozen = FrozenCorrections(
    model.base_estimator_, json.loads(json.dumps(model.export_corrections()))
)
print(frozen)
print(
    "identical predictions:",
    bool((frozen.predict(test.data) == model.predict(test.data)).all()),
)

# %%
# The figure: validation residuals before and after the corrections, against each column
# the corrections read.
used = sorted(
    {name for c in model.corrections_ for name in parse(c.expression).columns}
)
fig, axes = plt.subplots(
    1, len(used), figsize=(4 * len(used), 3.5), layout="constrained"
)
for feature, ax in zip(used, np.atleast_1d(axes), strict=True):
    model.plot_residuals(feature=feature, ax=ax)
plt.show()

# sphinx_gallery_multi_image = "single"
