"""
Learning a Boolean rule
=======================

:class:`~tabsift.rules.BooleanRuleClassifier` learns one small Boolean formula per class
over conditions on raw columns, for example ``AtLeast2(glucose > 127, bmi > 30, age > 45)``.
Operators ``And``, ``Or``, ``AtLeast(k)``, ``AtMost(k)`` and ``Choose(k)`` count how many
of their children hold, so "two of three risk factors" is one operator. The search is
simulated annealing over rules (BoolXAI); no language model is needed.
"""

# %%
# Recovering a planted rule
# -------------------------
# :func:`~tabsift.datasets.make_boolean_rule` labels rows with a planted rule over three
# of six normal columns and flips 5% of the labels.
import json

import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from tabsift.datasets import load_iris, make_boolean_rule
from tabsift.rules import Binarizer, BooleanRuleClassifier, Rule

data = make_boolean_rule(n_samples=1500, random_state=0)
print("planted:", data.rule_text)
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, random_state=0
)

clf = BooleanRuleClassifier(random_state=0).fit(X_train, y_train)
print("learned:", clf.export_text())
print(clf.describe())
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# The default :class:`~tabsift.rules.Binarizer` offers 5 quantile thresholds per column,
# close to the planted ones. Given thresholds that include the planted ones, the rule
# comes back exactly.
thresholds = {
    lit["column"]: [lit["threshold"]] for lit in data.rule["literals"]
}
exact = BooleanRuleClassifier(
    binarizer=Binarizer(thresholds=thresholds), random_state=0
)
exact.fit(X_train, y_train)
print(
    exact.export_text(), f"| test accuracy {exact.score(X_test, y_test):.3f}"
)

# %%
# Why a row got its prediction
# ----------------------------
# ``explain`` lists, per row, which conditions held. ``rule_`` is data: it evaluates
# itself on the binarised matrix and round-trips through JSON; nothing is evaluated from
# text.
table = exact.explain(X_test.head(5))
print(table[["prediction", "held", "not_held", "reason"]].to_string())
again = Rule.from_dict(json.loads(json.dumps(exact.rule_.to_dict())))
print(again, "| complexity", again.complexity(), "| depth", again.depth())

# %%
# Multiclass: one rule per class
# ------------------------------
# Each class gets a one-vs-rest rule; when several fire, the class whose rule was most
# precise in training wins.
iris = load_iris()
multi = BooleanRuleClassifier(random_state=0).fit(iris.data, iris.target)
print(multi.export_text())
print(f"training accuracy: {multi.score(iris.data, iris.target):.3f}")

# %%
# The figures: the learned and the exact binary rules, then the three iris rules.
fig, axes = plt.subplots(1, 2, figsize=(11, 3), layout="constrained")
clf.plot(ax=axes[0])
exact.plot(ax=axes[1])
fig, axes = plt.subplots(1, 3, figsize=(15, 3.5), layout="constrained")
multi.plot(ax=axes)
plt.show()

# sphinx_gallery_multi_image = "single"
