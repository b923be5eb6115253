"""Plain-language descriptions of rules: templates offline, LLM-written and checked online."""

import re

from tabsift.rules._export import labelled_rules
from tabsift.rules._nodes import Constant, Literal
from tabsift.utils import plain

_QUANTIFIER = {
    "And": "all of",
    "Or": "at least one of",
    "AtLeast": "at least {k} of",
    "AtMost": "at most {k} of",
    "Choose": "exactly {k} of",
}
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def describe_node(node):
    """English for one node: ``at least 2 of: glucose > 127; bmi > 30; age <= 45``."""
    if isinstance(node, Constant):
        return "always" if node.value else "never"
    if isinstance(node, Literal):
        return node.text()
    if node.kind == "And" and all(isinstance(c, Literal) for c in node.children):
        inner = " and ".join(c.text() for c in node.children)
    elif node.kind == "Or" and all(isinstance(c, Literal) for c in node.children):
        inner = " or ".join(c.text() for c in node.children)
    else:
        parts = [
            describe_node(c) if isinstance(c, Literal) else f"({describe_node(c)})"
            for c in node.children
        ]
        inner = _QUANTIFIER[node.kind].format(k=node.k) + ": " + "; ".join(parts)
    return f"not ({inner})" if node.negated else inner


def describe_rule(rule, positive, negative):
    """One sentence: when the rule predicts ``positive`` and what it predicts otherwise."""
    root = rule.root
    if isinstance(root, Constant):
        return f"Always predict {positive if root.value else negative!r}."
    return f"Predict {positive!r} when {describe_node(root)}; otherwise predict {negative!r}."


def _numbers(text):
    return {float(m) for m in _NUMBER.findall(text)}


def allowed_numbers(rules, extra_text=""):
    """Numbers a description may mention: thresholds, categories, counts, class labels."""
    allowed = set()
    for rule in rules:
        for lit in rule.literals():
            allowed |= _numbers(str(lit.value)) | _numbers(lit.name)
        stack = [rule.root]
        while stack:
            node = stack.pop()
            children = getattr(node, "children", None)
            if children:
                allowed.add(float(len(children)))
                if node.k is not None:
                    allowed.add(float(node.k))
                stack.extend(children)
    return allowed | _numbers(extra_text)


def check_description(text, rules, all_columns, extra_text=""):
    """Return None if ``text`` mentions only the rules' columns and numbers, else why not."""
    used = {c for rule in rules for c in rule.columns()}
    lowered = text.lower()
    others = [
        c
        for c in all_columns
        if c not in used
        and re.search(r"(?<![\w])" + re.escape(str(c).lower()) + r"(?![\w])", lowered)
    ]
    if others:
        return f"it mentions column(s) not in the rule: {others}"
    stray = sorted(_numbers(text) - allowed_numbers(rules, extra_text))
    if stray:
        return f"it mentions numbers that are not in the rule: {[f'{v:g}' for v in stray]}"
    return None


def describe_model(estimator):
    """Return the template description of a fitted classifier: its rule(s) and training score."""
    metric = estimator.metric if isinstance(estimator.metric, str) else "score"
    classes = estimator.classes_
    if classes.size == 2:
        sentence = describe_rule(estimator.rule_, plain(classes[1]), plain(classes[0]))
        return f"{sentence} On the training rows: {metric} {estimator.score_:.2f}."
    lines = [
        f"Predict {plain(label)!r} when {describe_node(rule.root)}."
        for label, rule in labelled_rules(estimator)
    ]
    lines.append(
        "When several rules fire, the class whose rule was most precise in training wins; "
        f"when none fires, predict {plain(estimator.fallback_class_)!r}."
    )
    return " ".join(lines)
