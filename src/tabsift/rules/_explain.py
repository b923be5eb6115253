"""Per-row explanations of a fitted rule classifier: which conditions held, and why it decided.

:meth:`~tabsift.rules.BooleanRuleClassifier.explain` builds one record per
row on the host (the result is a pandas table): the prediction, whether the
predicted class's rule fired, the conditions that held or not, and a
template reason; an LLM may add its own sentence (:mod:`._llm_text`).
"""

import numpy as np

from tabsift.rules._nodes import Constant, Literal, host_namespace
from tabsift.utils import plain

_NEEDS = {
    "And": "all {n}",
    "Or": "at least 1",
    "AtLeast": "at least {k}",
    "AtMost": "at most {k}",
    "Choose": "exactly {k}",
}


def _reason(estimator, rule, row, did_fire, rule_class, prediction):
    """Return the template sentence on why ``row`` got ``prediction``."""
    host = host_namespace()
    root = rule.root
    outcome = "the rule fired" if did_fire else "the rule did not fire"
    if isinstance(root, Constant):
        why = f"the rule is constant ({bool(root.value)})"
    elif isinstance(root, Literal):
        held = bool(root.evaluate(row, xp=host)[0])
        why = f"{root.text()} {'held' if held else 'did not hold'}"
    else:
        parts = [bool(child.evaluate(row, xp=host)[0]) for child in root.children]
        rule_needs = _NEEDS[root.kind].format(n=len(parts), k=root.k)
        why = (
            f"{sum(parts)} of its {len(parts)} conditions held and {root.label()} needs "
            f"{rule_needs}" + (" (negated)" if root.negated else "")
        )
    classes = estimator.classes_
    if classes.size == 2:
        return f"{why}, so {outcome}: predict {prediction!r}."
    if did_fire:
        return (
            f"the rule for {plain(rule_class)!r} fired ({why}); it has the highest training "
            f"precision ({estimator.precision_[list(classes).index(rule_class)]:.2f}) among "
            f"the rules that fired."
        )
    return f"no rule fired, so predict the fallback class {plain(estimator.fallback_class_)!r}."


def explain_records(estimator, Z, fired, decided):
    """One dict per row of the host literal matrix ``Z`` (see ``explain``'s Returns)."""
    host = host_namespace()
    classes = estimator.classes_
    rules = estimator._rules()
    records = []
    for i in range(Z.shape[0]):
        d = int(decided[i])
        record = {"prediction": plain(classes[d])}
        if classes.size == 2:
            rule, rule_class = rules[0], classes[1]
            did_fire = bool(fired[i, 0])
        else:
            rule, rule_class = rules[d], classes[d]
            did_fire = bool(fired[i, d])
            record["fired_classes"] = [plain(classes[j]) for j in np.flatnonzero(fired[i])]
        row = Z[i : i + 1]
        held = [lit.text() for lit in rule.literals() if lit.evaluate(row, xp=host)[0]]
        missed = [lit.text() for lit in rule.literals() if not lit.evaluate(row, xp=host)[0]]
        record.update(fired=did_fire, held="; ".join(held), not_held="; ".join(missed))
        record["reason"] = _reason(estimator, rule, row, did_fire, rule_class, record["prediction"])
        records.append(record)
    return records
