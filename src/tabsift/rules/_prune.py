"""After the search: redundant literals dropped, and each input column's importance.

Two literals on one column can say the same thing twice inside one operator
(``AtLeast3(a > 0.22, a > -0.92, ...)``: the first implies the second). Such a
pair is simplified only when the simpler rule predicts exactly the same on every
training row. A column's importance is the drop in the training metric when all
of its literals are removed from the rule (see :func:`column_importances`).
"""

import numpy as np

from tabsift.rules._nodes import PARAMETRIZED, Constant, Literal, Operator, host_namespace
from tabsift.rules._polish import _operators_with_paths, _replace
from tabsift.rules._rule import Rule


def literal_column(lit):
    """Return the input column a literal tests (its name when the column is unknown)."""
    return lit.column if lit.column is not None else lit.name


def implies(a, b):
    """Return True when literal ``a`` holding means literal ``b`` holds on every row.

    Both test one column: ``c > s`` implies ``c > t`` for ``s >= t``;
    ``c <= s`` implies ``c <= t`` for ``s <= t``; ``c == u`` implies
    ``c != v`` for ``u != v``; and a literal implies its duplicate. Missing
    values keep every implication (``c > t`` and ``c == v`` are false there).
    """
    if a.column is None or a.column != b.column or a.test != b.test:
        return False
    try:
        if a.test == ">":
            if a.negated != b.negated:
                return False
            return bool(a.value <= b.value) if a.negated else bool(a.value >= b.value)
        if a.test == "==":
            if a.negated == b.negated:
                return bool(a.value == b.value)
            return not a.negated and bool(a.value != b.value)
    except TypeError:
        return False
    return a.index == b.index and a.negated == b.negated


def _flip(lit):
    return Literal(
        lit.index, lit.name, negated=not lit.negated, column=lit.column, test=lit.test,
        value=lit.value,
    )


def _without(node, drop):
    """Candidate replacements of operator ``node`` with its child ``drop`` removed."""
    children = [c for i, c in enumerate(node.children) if i != drop]
    if len(children) >= 2:
        ks = [node.k, node.k - 1] if node.kind in PARAMETRIZED else [None]
        for k in ks:
            if k is None or 0 <= k <= len(children):
                yield Operator(node.kind, children, k=k, negated=node.negated)
        return
    (child,) = children
    if isinstance(child, Literal):
        yield _flip(child) if node.negated else child
        yield child if node.negated else _flip(child)


def drop_redundant(rule, Z):
    """Return a copy of ``rule`` without implied literal pairs, predicting the same on ``Z``.

    For each operator holding two literals where one implies the other
    (:func:`implies`), one of them is removed (``AtLeast``/``AtMost``/``Choose``
    keep ``k`` or lower it by one; an operator left with one child becomes
    that child, or its negation). A removal is kept only when the rule's
    predictions on every row of ``Z`` are unchanged; repeated until no pair
    can go.

    Parameters
    ----------
    rule : Rule
    Z : ndarray of shape (n_samples, n_literals)
        The binarised training rows.

    Returns
    -------
    rule : Rule
    """
    host = host_namespace()
    reference = np.asarray(rule.evaluate(Z, xp=host))
    root = rule.root
    changed = True
    while changed:
        changed = False
        for path, node in list(_operators_with_paths(root)):
            lits = [(i, c) for i, c in enumerate(node.children) if isinstance(c, Literal)]
            drops = []
            for i, a in lits:
                for j, b in lits:
                    if i != j and implies(a, b):
                        # In And-like operators the implied (weaker) literal says nothing
                        # more; in Or-like ones the implying (stronger) one. Try both.
                        drops.extend([j, i] if node.kind in ("And", "AtLeast") else [i, j])
            for drop in dict.fromkeys(drops):
                for new in _without(node, drop):
                    candidate = _replace(root, path, new)
                    if np.array_equal(np.asarray(Rule(candidate).evaluate(Z, xp=host)), reference):
                        root, changed = candidate, True
                        break
                if changed:
                    break
            if changed:
                break
    return Rule(root)


def _evaluate_without(node, Z, column):
    """``node`` on ``Z`` with every literal on ``column`` absent (None: the node is absent)."""
    if isinstance(node, Literal):
        if literal_column(node) == column:
            return None
        vector = Z[:, node.index].astype(bool)
        return ~vector if node.negated else vector
    if isinstance(node, Constant):
        return np.full(Z.shape[0], bool(node.value))
    parts = [_evaluate_without(child, Z, column) for child in node.children]
    kept = [p for p in parts if p is not None]
    count = sum((p.astype(np.int64) for p in kept), np.zeros(Z.shape[0], dtype=np.int64))
    n = len(kept)
    if node.kind == "And":
        out = count == n
    elif node.kind == "Or":
        out = count >= 1
    else:
        out = node.holds(count)
    return ~out if node.negated else out


def evaluate_without(rule, Z, column):
    """Where ``rule`` fires on ``Z`` once every literal on ``column`` is removed.

    A removed literal leaves its operator, which then counts over its
    remaining children with the same kind and ``k`` (``And``: all remaining
    hold, ``Or``: one does; an operator with no child left sees a count of 0,
    so ``And`` holds and ``Or`` does not). A rule that is a single literal on
    ``column`` never fires.
    """
    out = _evaluate_without(rule.root, np.asarray(Z), column)
    return np.zeros(np.asarray(Z).shape[0], dtype=bool) if out is None else out


def column_importances(rules, Z, scorers, columns):
    """Per column: the summed drop, over ``rules``, of the metric once its literals go.

    Negative drops count as 0; the result is normalised to sum 1 when any
    drop is positive, all zeros otherwise.
    """
    drops = np.zeros(len(columns))
    for rule, scorer in zip(rules, scorers, strict=True):
        full = scorer(np.asarray(rule.evaluate(Z, xp=host_namespace())))
        used = set(rule.columns())
        for j, column in enumerate(columns):
            if column in used:
                drops[j] += max(full - scorer(evaluate_without(rule, Z, column)), 0.0)
    total = drops.sum()
    return drops / total if total > 0 else drops
