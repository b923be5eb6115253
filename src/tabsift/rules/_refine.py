"""Threshold refinement: move a learned rule's quantile thresholds to finer cut-offs.

The binariser offers a few quantile thresholds per column, so the search can only pick the
nearest of them. After the search, each ``column > t`` literal of the rule whose thresholds
came from quantiles is tried at finer quantiles of its column, one literal at a time with the
rest of the rule fixed (as a decision tree searches a split), and moved where the training
score is strictly higher.
"""

import numpy as np

from tabsift.rules._nodes import Constant, Literal, Operator, condition_text
from tabsift.rules._rule import Rule
from tabsift.rules._thresholds import finite_quantiles, round_threshold


def _evaluate(node, Z, override):
    """Evaluate ``node`` on ``Z``, reading the vectors in ``override`` for some literals."""
    if isinstance(node, Literal):
        vector = override.get(id(node))
        if vector is None:
            vector = Z[:, node.index]
        return ~vector if node.negated else vector
    if isinstance(node, Constant):
        return np.full(Z.shape[0], bool(node.value))
    count = sum(_evaluate(child, Z, override).astype(np.int64) for child in node.children)
    out = node.holds(count)
    return ~out if node.negated else out


def refine_thresholds(rule, Z, columns, scorer, n_candidates=50, sample_weight=None):
    """Return ``(rule, score, added)``: a refined copy, its score, and ``{column: [t]}`` used.

    ``columns`` maps the refinable columns to their training values (float, NaN allowed).
    Refined literals get ``index=-1``; the caller re-indexes them once the binariser holds
    the new thresholds. With ``sample_weight`` (positive, one per row) the candidate
    thresholds are weighted quantiles, as the binariser's are.
    """
    rule = Rule.from_dict(rule.to_dict())  # never change the caller's rule
    override = {}
    score = scorer(_evaluate(rule.root, Z, override))
    added = {}
    levels = np.arange(1, n_candidates) / n_candidates
    for lit in rule.literals():
        if lit.test != ">" or lit.column not in columns:
            continue
        values = columns[lit.column]
        found = finite_quantiles(values, sample_weight, levels)
        if found is None:
            continue
        quantiles, low, high = found
        candidates = {round_threshold(float(q), low, high) for q in quantiles}
        best_t, best = None, score
        with np.errstate(invalid="ignore"):
            for t in sorted(c for c in candidates if low <= c < high and c != lit.value):
                trial = scorer(_evaluate(rule.root, Z, {**override, id(lit): values > t}))
                if trial > best + 1e-12:
                    best_t, best = t, trial
            if best_t is not None:
                override[id(lit)] = values > best_t
                lit.value, lit.name, lit.index = best_t, condition_text(lit.column, ">", best_t), -1
                added.setdefault(lit.column, []).append(best_t)
                score = best
    return rule, score, added


def reindex(node, index_of):
    """Return a copy of ``node`` whose literals point at ``index_of[literal name]``."""
    if isinstance(node, Rule):
        return Rule(reindex(node.root, index_of))
    if isinstance(node, Literal):
        return Literal(
            index_of[node.name],
            node.name,
            negated=node.negated,
            column=node.column,
            test=node.test,
            value=node.value,
        )
    if isinstance(node, Operator):
        children = [reindex(child, index_of) for child in node.children]
        return Operator(node.kind, children, k=node.k, negated=node.negated)
    return node
