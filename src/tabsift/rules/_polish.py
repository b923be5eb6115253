"""Tidying a found rule: BoolXAI's simplification and a greedy polish on all rows."""

from tabsift.rules._nodes import PARAMETRIZED, Literal, Operator, host_namespace
from tabsift.rules._rule import Rule


def simplify(node):
    """Merge nested And into And and nested Or (or AtLeast1) into Or, as BoolXAI does."""
    if not isinstance(node, Operator):
        return node
    children = [simplify(c) for c in node.children]

    def is_or(n):
        return (
            isinstance(n, Operator)
            and not n.negated
            and (n.kind == "Or" or (n.kind == "AtLeast" and n.k == 1))
        )

    def is_and(n):
        return isinstance(n, Operator) and not n.negated and n.kind == "And"

    merged = []
    for child in children:
        if (is_or(node) and is_or(child)) or (is_and(node) and is_and(child)):
            merged.extend(child.children)
        else:
            merged.append(child)
    kind, k = node.kind, node.k
    if is_or(node):
        kind, k = "Or", None  # AtLeast1 reads better as Or
    n = len(merged)
    if kind in ("AtMost", "Choose", "AtLeast") and all(isinstance(c, Literal) for c in merged):
        # AtMost_k(x) == AtLeast_{n-k}(~x) and Choose_k(x) == Choose_{n-k}(~x): write the
        # rule with fewer negated literals (AtLeast on a tie), which reads more easily.
        negated = sum(c.negated for c in merged)
        flipped = {"AtMost": "AtLeast", "AtLeast": "AtMost", "Choose": "Choose"}[kind]
        if n - negated < negated or (n - negated == negated and kind == "AtMost"):
            merged = [
                Literal(
                    c.index,
                    c.name,
                    negated=not c.negated,
                    column=c.column,
                    test=c.test,
                    value=c.value,
                )
                for c in merged
            ]
            kind, k = flipped, n - k
    return Operator(kind, merged, k=k, negated=node.negated)


def _replace(node, path, new):
    """Return a copy of ``node`` with the sub-tree at ``path`` (child positions) replaced by ``new``."""
    if not path:
        return new
    children = list(node.children)
    children[path[0]] = _replace(children[path[0]], path[1:], new)
    return Operator(node.kind, children, k=node.k, negated=node.negated)


def _operators_with_paths(node, path=()):
    if isinstance(node, Operator):
        yield path, node
        for i, child in enumerate(node.children):
            yield from _operators_with_paths(child, path + (i,))


def _relabelled(children, operators, negated):
    """Every operator over ``children`` allowed by ``operators``."""
    n = len(children)
    for kind in operators:
        for k in range(1, n) if kind in PARAMETRIZED else (None,):
            yield Operator(kind, children, k=k, negated=negated)


def _variants(root, operators):
    """Rules one simplifying or re-labelling step away from ``root``."""
    for path, op in _operators_with_paths(root):
        # Promote the children of a nested operator into this one and re-label it: the
        # two-move path from And(Or(a, b), c) to AtLeast2(a, b, c) that annealing at a
        # low temperature does not take.
        for i, child in enumerate(op.children):
            if isinstance(child, Operator) and not child.negated:
                merged = op.children[:i] + op.children[i + 1 :] + child.children
                for new in _relabelled(merged, operators, op.negated):
                    yield _replace(root, path, new)
        n = len(op.children)
        for kind in operators:
            for k in range(1, n) if kind in PARAMETRIZED else (None,):
                if (kind, k) != (op.kind, op.k):
                    yield _replace(root, path, Operator(kind, op.children, k=k, negated=op.negated))
        for i in range(n):
            if n == 2:
                if not op.negated:  # the operator collapses into its other child
                    yield _replace(root, path, op.children[1 - i])
                continue
            rest = op.children[:i] + op.children[i + 1 :]
            labels = {(op.kind, min(op.k, n - 2)), (op.kind, op.k - 1)} if op.k else set()
            labels |= {(kind, None) for kind in ("And", "Or") if kind in operators}
            if op.k is None:
                labels.add((op.kind, None))
            for kind, k in sorted(labels, key=str):
                if kind not in PARAMETRIZED or 1 <= k <= n - 2:
                    yield _replace(root, path, Operator(kind, rest, k=k, negated=op.negated))


def polish(root, Z, scorer, regularization, operators, max_rounds=10):
    """Greedily clean up a rule on all rows: drop children, collapse or re-label operators.

    A change is kept while the regularised score does not get worse (strictly better, or
    equal with a smaller rule).
    """
    host = host_namespace()  # the search runs on NumPy whatever the configured backend

    def value(node):
        score = scorer(Rule(node).evaluate(Z, xp=host))
        return score, score - regularization * node.complexity()

    best_score, best_value = value(root)
    for _ in range(max_rounds):
        improved = False
        for candidate in _variants(root, operators):
            if candidate is None:
                continue
            score, val = value(candidate)
            if val > best_value + 1e-12:
                root, best_score, best_value, improved = candidate, score, val, True
        if not improved:
            break
    return root, best_score
