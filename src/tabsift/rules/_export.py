"""A fitted rule classifier as text and as a JSON-ready dict.

These read only the classifier's public fitted attributes (``rule_``,
``classes_``, ``precision_``, ``score_``, ``fallback_class_``, ``binarizer_``);
drawing is :mod:`tabsift.rules._plot`'s.
"""

import numpy as np

from tabsift.utils import plain


def labelled_rules(estimator):
    """``[(class, rule)]``: the class each rule predicts when it fires."""
    if estimator.classes_.size == 2:
        return [(estimator.classes_[1], estimator.rule_)]
    return list(zip(estimator.classes_, estimator.rule_, strict=True))


def export_text(estimator):
    """Return the rule as text; one ``class: rule`` line per class (and the fallback) for multiclass."""
    if estimator.classes_.size == 2:
        return estimator.rule_.export_text()
    lines = [f"{plain(label)!r}: {rule.export_text()}" for label, rule in labelled_rules(estimator)]
    lines.append(f"otherwise: {plain(estimator.fallback_class_)!r}")
    return "\n".join(lines)


def to_dict(estimator):
    """Return the classes, rules (with precision, score, text), fallback, metric and literals."""
    metric = estimator.metric
    scores = np.atleast_1d(estimator.score_)
    return {
        "classes": [plain(c) for c in estimator.classes_],
        "rules": [
            {
                "class": plain(label),
                "rule": rule.to_dict(),
                "text": rule.export_text(),
                "precision": float(estimator.precision_[i]),
                "score": float(scores[i]),
                "complexity": rule.complexity(),
            }
            for i, (label, rule) in enumerate(labelled_rules(estimator))
        ],
        "fallback_class": plain(estimator.fallback_class_),
        "metric": metric if isinstance(metric, str) else repr(metric),
        "literals": [
            {k: plain(v) for k, v in lit.items()} for lit in estimator.binarizer_.literals_
        ],
    }
