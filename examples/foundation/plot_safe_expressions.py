"""
Planted mechanisms and safe formulas
====================================

tabsift's datasets come with their ground truth written as formulas in tabsift's
expression language (:mod:`tabsift.expr`). A formula is parsed and evaluated on whole
columns without ever being handed to Python's ``eval``, so formulas written by a search
or by a language model are safe to run. This example evaluates a planted mechanism,
shows a hostile formula being rejected, and adds formula columns to a scikit-learn
pipeline.
"""

# %%
# A dataset with a planted mechanism
# ----------------------------------
# :func:`~tabsift.datasets.make_missing_interaction` draws five standard normal columns;
# the target is a linear part plus a non-linear mechanism that a linear model misses.
import matplotlib.pyplot as plt
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from tabsift.datasets import make_missing_interaction
from tabsift.expr import ExpressionError, FormulaTransformer, evaluate, parse

bunch = make_missing_interaction(n_samples=1000, noise=0.1, random_state=0)
print("linear part:", bunch.linear_formula)
print("mechanism:  ", bunch.mechanism)

# %%
# :func:`~tabsift.expr.parse` checks a formula against the available columns;
# ``Expression.evaluate`` computes it on every row at once. The mechanism explains
# almost all of what the linear part leaves over; the rest is the noise.
mechanism = parse(bunch.mechanism, columns=bunch.feature_names)
left_over = bunch.target.to_numpy() - evaluate(
    bunch.linear_formula, bunch.data
)
predicted = mechanism.evaluate(bunch.data)
r2 = r2_score(left_over, predicted)
print("columns used:", mechanism.columns)
print(f"R^2 of the planted mechanism on the left-over signal: {r2:.3f}")

# %%
# Hostile formulas are rejected, not run
# --------------------------------------
# Anything outside the small grammar (attribute access, strings, subscripts, dunder
# names) is an :class:`~tabsift.expr.ExpressionError` that points at the problem; a
# typo gets close matches.
for formula in [
    "__import__('os').system('echo pwned')",
    "sigmoid(2 * x1 * x22)",
]:
    try:
        evaluate(formula, bunch.data)
    except ExpressionError as err:
        print(f"{type(err).__name__}: {err}\n")

# %%
# Formula columns in a pipeline
# -----------------------------
# :class:`~tabsift.expr.FormulaTransformer` adds one column per formula: with the two
# planted terms, a plain linear regression fits the non-linear target.
X_train, X_test, y_train, y_test = train_test_split(
    bunch.data, bunch.target, random_state=0
)
plain = LinearRegression().fit(X_train, y_train)
with_formulas = make_pipeline(
    FormulaTransformer(
        {"interaction": "sigmoid(2 * x1 * x2)", "x3_squared": "x3 ** 2"}
    ),
    LinearRegression(),
).fit(X_train, y_train)
print(
    f"test R^2, linear regression:           {plain.score(X_test, y_test):.3f}"
)
print(
    f"test R^2, with the two formula columns: {with_formulas.score(X_test, y_test):.3f}"
)

# %%
# The planted mechanism against what the linear part leaves over, and the test
# predictions of both models.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
axes[0].scatter(predicted, left_over, s=5, alpha=0.4)
axes[0].axline((0, 0), slope=1, color="black", linewidth=1, label="y = x")
axes[0].set(
    xlabel=f"evaluate({bunch.mechanism!r})",
    ylabel="target - linear part",
    title=f"Planted mechanism, R$^2$ = {r2:.3f}",
)
axes[0].legend()
for model, label in [
    (plain, "linear regression"),
    (with_formulas, "with formula columns"),
]:
    axes[1].scatter(y_test, model.predict(X_test), s=5, alpha=0.5, label=label)
axes[1].axline((0, 0), slope=1, color="black", linewidth=1)
axes[1].set(
    xlabel="true target (test rows)",
    ylabel="prediction",
    title="Test predictions",
)
axes[1].legend()
plt.show()

# sphinx_gallery_multi_image = "single"
