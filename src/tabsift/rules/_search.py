"""Simulated annealing over Boolean rules, with incremental vectorised evaluation.

The search follows BoolXAI (Rosenberg et al. 2023): start from a random
operator over 2 or more literals, propose one local move per iteration
(remove / expand / swap a literal, remove an operator, add a literal, swap an
operator), accept it with the Metropolis rule under a geometric temperature
schedule, and keep the best rule by ``score - regularization * complexity``.

What makes it fast: every node caches its boolean vector over the rows (and
an operator the per-row count of true children). A proposal copies the few
node objects of the tree (never the vectors), changes one node, and updates
only that node and its ancestors: an ancestor's count changes by
``new_child - old_child``, two uint8 vector operations. Scoring a rule is two
``count_nonzero`` calls (true positives and fired rows) instead of a
scikit-learn metric call, and the single-literal baseline scores every
literal at once with one matrix product.

The search runs on NumPy whatever ``tabsift``'s array backend: its moves are
sequential, each touching a few vectors of at most ``max_samples`` rows, so
its time is per-move Python overhead that a GPU array library would only add
to (a kernel launch and a device sync per move). Evaluating a learned rule
on new data (:meth:`Rule.evaluate`, :meth:`Binarizer.transform`,
``predict``) runs on the input's namespace.
"""

import math
import random
from itertools import cycle

import numpy as np

from tabsift.rules._rule import OPERATORS, PARAMETRIZED, Constant, Literal, Operator

_LIT = 0
_CODES = {name: i + 1 for i, name in enumerate(OPERATORS)}  # And=1, Or=2, AtLeast=3, ...
_NAMES = {code: name for name, code in _CODES.items()}
_PARAM_CODES = frozenset(_CODES[name] for name in PARAMETRIZED)
_AND, _OR, _ATLEAST, _ATMOST, _CHOOSE = (_CODES[name] for name in OPERATORS)
METRICS = ("balanced_accuracy", "accuracy", "f1", "matthews")


# ----------------------------------------------------------------------------- scoring
class Scorer:
    """Scores boolean predictions against a boolean target, from confusion counts."""

    def __init__(self, y, metric):
        self.y = np.ascontiguousarray(y, dtype=bool)
        self.n = self.y.size
        self.n_pos = int(np.count_nonzero(self.y))
        self.n_neg = self.n - self.n_pos
        self.metric = metric

    def from_counts(self, tp, fired):
        """Metric from true positives and fired counts (scalars or arrays)."""
        metric = self.metric
        P, N, n = self.n_pos, self.n_neg, self.n
        fp = fired - tp
        fn = P - tp
        tn = N - fp
        if metric == "balanced_accuracy":
            # One class absent from the sample: balanced accuracy is that of the other class.
            if P == 0:
                return tn / N
            if N == 0:
                return tp / P
            return 0.5 * (tp / P + tn / N)
        if metric == "accuracy":
            return (tp + tn) / n
        if metric == "f1":
            denom = 2 * tp + fp + fn
            return (
                np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
                if np.ndim(denom)
                else (2 * tp / denom if denom else 0.0)
            )
        # Matthews correlation coefficient; 0 when a margin is empty.
        denom = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
        if np.ndim(denom):
            denom = np.asarray(denom, dtype=np.float64)
            return np.where(denom > 0, (tp * tn - fp * fn) / np.sqrt(np.maximum(denom, 1)), 0.0)
        return (tp * tn - fp * fn) / math.sqrt(denom) if denom else 0.0

    def __call__(self, pred):
        if callable(self.metric):
            return float(self.metric(self.y.astype(np.int64), pred.astype(np.int64)))
        return float(self.from_counts(np.count_nonzero(pred & self.y), np.count_nonzero(pred)))


def baseline(ZT, scorer):
    """Best constant or single (possibly negated) literal: ``(kind, index, negated, score)``.

    Candidates in BoolXAI's order (always-true, always-false, then each literal
    negated and plain); the first best wins ties.
    """
    n, P = scorer.n, scorer.n_pos
    L = ZT.shape[0]
    if callable(scorer.metric):
        scores = [scorer(np.ones(n, bool)), scorer(np.zeros(n, bool))]
        for j in range(L):
            scores += [scorer(~ZT[j]), scorer(ZT[j])]
        scores = np.asarray(scores)
    else:
        fired = np.count_nonzero(ZT, axis=1)
        tp = ZT.view(np.uint8) @ scorer.y.view(np.uint8).astype(np.int64) if L else np.zeros(0)
        fired_all = np.empty(2 * L + 2, dtype=np.int64)
        tp_all = np.empty(2 * L + 2, dtype=np.int64)
        fired_all[:2], tp_all[:2] = (n, 0), (P, 0)
        fired_all[2::2], tp_all[2::2] = n - fired, P - tp
        fired_all[3::2], tp_all[3::2] = fired, tp
        scores = np.asarray(scorer.from_counts(tp_all, fired_all), dtype=np.float64)
    best = int(np.argmax(scores))
    if best < 2:
        return ("constant", best == 0, None, float(scores[best]))
    j, plain = divmod(best - 2, 2)
    return ("literal", j, not plain, float(scores[best]))


# ------------------------------------------------------------------------------- nodes
class _Node:
    """A mutable search node. ``value``/``count`` arrays are shared, never written in place."""

    __slots__ = ("op", "index", "neg", "k", "children", "parent", "value", "count")


def _op_value(node):
    c, op, neg = node.count, node.op, node.neg
    if op == _AND:
        n = len(node.children)
        return c != n if neg else c == n
    if op == _OR:
        return c == 0 if neg else c != 0
    k = node.k
    if op == _ATLEAST:
        return c < k if neg else c >= k
    if op == _ATMOST:
        return c > k if neg else c <= k
    return c != k if neg else c == k


def _full_count(node):
    children = node.children
    count = children[0].value.view(np.uint8) + children[1].value.view(np.uint8)
    for child in children[2:]:
        count += child.value.view(np.uint8)
    return count


def _refresh(node):
    node.count = _full_count(node)
    node.value = _op_value(node)


def _propagate(node, old_value):
    """``node.value`` changed from ``old_value``: update the counts of its ancestors."""
    parent = node.parent
    while parent is not None:
        previous = parent.value
        count = parent.count + node.value.view(np.uint8)
        count -= old_value.view(np.uint8)
        parent.count = count
        parent.value = _op_value(parent)
        node, old_value, parent = parent, previous, parent.parent


def _clone(node, parent, flat):
    new = _Node()
    new.op, new.index, new.neg, new.k = node.op, node.index, node.neg, node.k
    new.value, new.count, new.parent = node.value, node.count, parent
    flat.append(new)
    new.children = None if node.op == _LIT else [_clone(c, new, flat) for c in node.children]
    return new


def _flatten(node, flat):
    flat.append(node)
    if node.op != _LIT:
        for child in node.children:
            _flatten(child, flat)
    return flat


def _level(node):
    level = 0
    while node.parent is not None:
        node, level = node.parent, level + 1
    return level


def _new_literal(index, neg, parent, tables):
    lit = _Node()
    lit.op, lit.index, lit.neg, lit.k = _LIT, index, neg, None
    lit.children, lit.count, lit.parent = None, None, parent
    lit.value = tables[neg][index]
    return lit


class _Problem:
    """Everything one annealing run reads: literal tables, limits, operators, randomness."""

    def __init__(self, ZT, max_depth, max_complexity, operators, rng, neighbours=None):
        self.ZT = ZT
        self.neighbours = neighbours
        self.tables = (ZT, ~ZT)  # tables[negated][index]: a literal's vector, never recomputed
        self.L = ZT.shape[0]
        self.max_depth = max_depth
        self.max_complexity = max_complexity
        self.operators = [_CODES[name] for name in operators]
        self.rng = rng
        self.literal_moves = cycle(("remove_literal", "expand_literal", "swap_literal"))
        self.operator_moves = cycle(("remove_operator", "add_literal", "swap_operator"))

    def operator_for(self, n_children):
        op = self.rng.choice(self.operators)
        k = self.rng.randint(1, n_children - 1) if op in _PARAM_CODES else None
        return op, k

    def random_rule(self):
        rng = self.rng
        n_literals = rng.randint(2, min(self.max_complexity - 1, self.L))
        root = _Node()
        root.op, root.k = self.operator_for(n_literals)
        root.index, root.neg, root.parent = None, False, None
        root.children = [
            _new_literal(j, rng.random() < 0.5, root, self.tables)
            for j in rng.sample(range(self.L), n_literals)
        ]
        _refresh(root)
        return root

    # ------------------------------------------------------------------ moves
    def propose(self, current, complexity, flat):
        """Return ``(new_root, new_complexity)``, or None if no legal move was found."""
        rng = self.rng
        for _ in range(200):
            t = rng.randrange(len(flat))
            target = flat[t]
            if target.op == _LIT:
                move = next(self.literal_moves)
                parent = target.parent
                if move == "swap_literal":
                    near = self.neighbours[target.index] if self.neighbours else ()
                    if near and rng.random() < 0.5:
                        # Beyond BoolXAI: half the swaps move to the next threshold of the
                        # same column, so thresholds are tuned by small steps.
                        j = rng.choice(near)
                    else:
                        j = rng.randrange(self.L)
                    if j == target.index:
                        neg = not target.neg
                    elif any(c.op == _LIT and c.index == j for c in parent.children):
                        continue
                    else:
                        neg = rng.random() < 0.5
                    new_flat = []
                    root = _clone(current, None, new_flat)
                    node = new_flat[t]
                    old = node.value
                    node.index, node.neg, node.value = j, neg, self.tables[neg][j]
                    _propagate(node, old)
                    return root, complexity
                if len(parent.children) <= 2:
                    continue
                if move == "remove_literal":
                    new_flat = []
                    root = _clone(current, None, new_flat)
                    node = new_flat[t]
                    p = node.parent
                    p.children = [c for c in p.children if c is not node]
                    if p.k is not None and p.k >= len(p.children):
                        p.k = len(p.children) - 1
                    old = p.value
                    _refresh(p)
                    _propagate(p, old)
                    return root, complexity - 1
                # expand_literal: literal + a sibling literal -> new operator over both.
                if complexity >= self.max_complexity or _level(target) + 1 > self.max_depth:
                    continue
                siblings = [
                    i
                    for i, c in enumerate(parent.children)
                    if c.op == _LIT and c.index != target.index
                ]
                if not siblings:
                    continue
                s = rng.choice(siblings)
                op, k = self.operator_for(2)
                new_flat = []
                root = _clone(current, None, new_flat)
                node = new_flat[t]
                p = node.parent
                sibling = p.children[s]
                new = _Node()
                new.op, new.k, new.neg, new.index = op, k, False, None
                new.children, new.parent = [node, sibling], p
                node.parent = sibling.parent = new
                _refresh(new)
                p.children = [c for c in p.children if c is not node and c is not sibling]
                p.children.append(new)
                if p.k is not None and p.k >= len(p.children):
                    p.k = len(p.children) - 1
                old = p.value
                _refresh(p)
                _propagate(p, old)
                return root, complexity + 1
            move = next(self.operator_moves)
            if move == "swap_operator":
                op, k = self.operator_for(len(target.children))
                if op == target.op and k == target.k:
                    continue
                new_flat = []
                root = _clone(current, None, new_flat)
                node = new_flat[t]
                old = node.value
                node.op, node.k = op, k
                node.value = _op_value(node)
                _propagate(node, old)
                return root, complexity
            if move == "add_literal":
                if complexity >= self.max_complexity:
                    continue
                j = rng.randrange(self.L)
                if any(c.op == _LIT and c.index == j for c in target.children):
                    continue
                neg = rng.random() < 0.5
                new_flat = []
                root = _clone(current, None, new_flat)
                node = new_flat[t]
                lit = _new_literal(j, neg, node, self.tables)
                node.children = node.children + [lit]
                old = node.value
                node.count = node.count + lit.value.view(np.uint8)
                node.value = _op_value(node)
                _propagate(node, old)
                return root, complexity + 1
            # remove_operator: promote its children, except literals already in the parent.
            parent = target.parent
            if parent is None:
                continue
            existing = {c.index for c in parent.children if c.op == _LIT}
            keep = [
                i
                for i, c in enumerate(target.children)
                if not (c.op == _LIT and c.index in existing)
            ]
            if len(parent.children) - 1 + len(keep) < 2:
                continue
            new_flat = []
            root = _clone(current, None, new_flat)
            node = new_flat[t]
            p = node.parent
            promoted = [node.children[i] for i in keep]
            for child in promoted:
                child.parent = p
            p.children = [c for c in p.children if c is not node] + promoted
            old = p.value
            _refresh(p)
            _propagate(p, old)
            return root, len(_flatten(root, []))
        return None


def anneal(
    ZT,
    y,
    *,
    max_depth,
    max_complexity,
    operators,
    n_iterations,
    temp_high,
    temp_low,
    regularization,
    metric,
    seed,
    neighbours=None,
):
    """One simulated-annealing start on the (already sub-sampled) rows.

    Parameters
    ----------
    ZT : ndarray of bool of shape (n_literals, n_rows), C-contiguous
        The binarised data, transposed so each literal's vector is contiguous.
    y : ndarray of bool of shape (n_rows,)
    neighbours : list of tuple of int, default=None
        For each literal, the literals of the next lower and higher threshold
        of the same column; None gives BoolXAI's moves exactly.

    Returns
    -------
    rule : Literal, Operator or Constant
        The best rule of the run (literals carry only their index).
    score : float
        Its unregularised score on these rows.
    """
    scorer = Scorer(y, metric)
    kind, index, negated, base_score = baseline(ZT, scorer)
    if kind == "constant":
        base_rule, base_complexity = Constant(index), 1
    else:
        base_rule, base_complexity = Literal(index, str(index), negated=negated), 1
    best = (base_rule, base_score, base_score - regularization * base_complexity)
    if ZT.shape[0] < 2 or scorer.n_pos == 0 or scorer.n_neg == 0:
        return best[0], best[1]
    problem = _Problem(
        ZT, max_depth, max_complexity, operators, random.Random(int(seed)), neighbours
    )
    rng = problem.rng
    current = problem.random_rule()
    complexity = len(current.children) + 1
    score = scorer(current.value)
    regularized = score - regularization * complexity
    best_node = None
    if regularized > best[2]:
        best_node, best = current, (None, score, regularized)
    flat = _flatten(current, [])
    temperatures = np.geomspace(temp_high, temp_low, n_iterations).tolist() if n_iterations else []
    for temperature in temperatures:
        proposal = problem.propose(current, complexity, flat)
        if proposal is None:
            break
        root, new_complexity = proposal
        new_score = scorer(root.value)
        new_regularized = new_score - regularization * new_complexity
        delta = new_regularized - regularized
        if delta >= 0 or rng.random() < math.exp(delta / temperature):
            current, complexity, score, regularized = (
                root,
                new_complexity,
                new_score,
                new_regularized,
            )
            flat = _flatten(current, [])
            if regularized > best[2]:
                best_node, best = current, (None, score, regularized)
    if best_node is not None:
        return to_public(best_node), best[1]
    return best[0], best[1]


def to_public(node):
    """Convert a search node into :class:`Literal` / :class:`Operator` objects (names later)."""
    if node.op == _LIT:
        return Literal(int(node.index), str(node.index), negated=bool(node.neg))
    return Operator(
        _NAMES[node.op], [to_public(c) for c in node.children], k=node.k, negated=bool(node.neg)
    )


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
    """A copy of ``node`` with the sub-tree at ``path`` (child positions) replaced by ``new``."""
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
    """Greedy clean-up on all rows: drop children, collapse or re-label operators while the
    regularised score does not get worse (strictly better, or equal with a smaller rule)."""
    from tabsift.rules._rule import Rule, host_namespace

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
