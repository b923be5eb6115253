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

from tabsift.rules._nodes import OPERATORS, PARAMETRIZED, Constant, Literal, Operator
from tabsift.rules._scoring import Scorer, baseline

_LIT = 0
_CODES = {name: i + 1 for i, name in enumerate(OPERATORS)}  # And=1, Or=2, AtLeast=3, ...
_NAMES = {code: name for name, code in _CODES.items()}
_PARAM_CODES = frozenset(_CODES[name] for name in PARAMETRIZED)
_AND, _OR, _ATLEAST, _ATMOST, _CHOOSE = (_CODES[name] for name in OPERATORS)
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
        """Return ``(new_root, new_complexity)``, or None if no legal move was found.

        Each try picks a node at random and the next move of its kind (literal moves
        and operator moves take turns within their kind); a move that is not legal
        there returns None and the next try begins.
        """
        for _ in range(200):
            t = self.rng.randrange(len(flat))
            target = flat[t]
            moves = self.literal_moves if target.op == _LIT else self.operator_moves
            proposal = getattr(self, f"_{next(moves)}")(current, complexity, t, target)
            if proposal is not None:
                return proposal
        return None

    def _swap_literal(self, current, complexity, t, target):
        """Give the literal ``target`` another literal (or its negation) in its place."""
        rng = self.rng
        near = self.neighbours[target.index] if self.neighbours else ()
        if near and rng.random() < 0.5:
            # Beyond BoolXAI: half the swaps move to the next threshold of the
            # same column, so thresholds are tuned by small steps.
            j = rng.choice(near)
        else:
            j = rng.randrange(self.L)
        if j == target.index:
            neg = not target.neg
        elif any(c.op == _LIT and c.index == j for c in target.parent.children):
            return None
        else:
            neg = rng.random() < 0.5
        root, node = _copy_at(current, t)
        old = node.value
        node.index, node.neg, node.value = j, neg, self.tables[neg][j]
        _propagate(node, old)
        return root, complexity

    def _remove_literal(self, current, complexity, t, target):
        """Drop the literal ``target`` from an operator of 3 or more children."""
        if len(target.parent.children) <= 2:
            return None
        root, node = _copy_at(current, t)
        parent = node.parent
        parent.children = [c for c in parent.children if c is not node]
        _fit_k(parent)
        _recount(parent)
        return root, complexity - 1

    def _expand_literal(self, current, complexity, t, target):
        """Put the literal ``target`` and a sibling literal under a new operator."""
        parent = target.parent
        if len(parent.children) <= 2:
            return None
        if complexity >= self.max_complexity or _level(target) + 1 > self.max_depth:
            return None
        siblings = [
            i
            for i, c in enumerate(parent.children)
            if c.op == _LIT and c.index != target.index
        ]
        if not siblings:
            return None
        s = self.rng.choice(siblings)
        op, k = self.operator_for(2)
        root, node = _copy_at(current, t)
        parent = node.parent
        sibling = parent.children[s]
        new = _Node()
        new.op, new.k, new.neg, new.index = op, k, False, None
        new.children, new.parent = [node, sibling], parent
        node.parent = sibling.parent = new
        _refresh(new)
        parent.children = [c for c in parent.children if c is not node and c is not sibling]
        parent.children.append(new)
        _fit_k(parent)
        _recount(parent)
        return root, complexity + 1

    def _swap_operator(self, current, complexity, t, target):
        """Give the operator ``target`` another kind or ``k``."""
        op, k = self.operator_for(len(target.children))
        if op == target.op and k == target.k:
            return None
        root, node = _copy_at(current, t)
        old = node.value
        node.op, node.k = op, k
        node.value = _op_value(node)
        _propagate(node, old)
        return root, complexity

    def _add_literal(self, current, complexity, t, target):
        """Add a random literal, not already a child, to the operator ``target``."""
        rng = self.rng
        if complexity >= self.max_complexity:
            return None
        j = rng.randrange(self.L)
        if any(c.op == _LIT and c.index == j for c in target.children):
            return None
        neg = rng.random() < 0.5
        root, node = _copy_at(current, t)
        lit = _new_literal(j, neg, node, self.tables)
        node.children = node.children + [lit]
        old = node.value
        node.count = node.count + lit.value.view(np.uint8)
        node.value = _op_value(node)
        _propagate(node, old)
        return root, complexity + 1

    def _remove_operator(self, current, complexity, t, target):
        """Replace the operator ``target`` by its children (bar literals already in the parent)."""
        parent = target.parent
        if parent is None:
            return None
        existing = {c.index for c in parent.children if c.op == _LIT}
        keep = [
            i
            for i, c in enumerate(target.children)
            if not (c.op == _LIT and c.index in existing)
        ]
        if len(parent.children) - 1 + len(keep) < 2:
            return None
        root, node = _copy_at(current, t)
        parent = node.parent
        promoted = [node.children[i] for i in keep]
        for child in promoted:
            child.parent = parent
        parent.children = [c for c in parent.children if c is not node] + promoted
        _recount(parent)
        return root, len(_flatten(root, []))


def _copy_at(current, t):
    """Return a copy of the tree ``current`` and its node at position ``t`` of the flat order."""
    flat = []
    root = _clone(current, None, flat)
    return root, flat[t]


def _fit_k(node):
    """Lower the ``k`` of a parametrised operator that lost children below ``k + 1``."""
    if node.k is not None and node.k >= len(node.children):
        node.k = len(node.children) - 1


def _recount(node):
    """Recompute an operator whose children changed, then its ancestors."""
    old = node.value
    _refresh(node)
    _propagate(node, old)


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
    sample_weight=None,
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
    sample_weight : ndarray of shape (n_rows,), default=None
        Row weights of the metric (see :class:`Scorer`).

    Returns
    -------
    rule : Literal, Operator or Constant
        The best rule of the run (literals carry only their index).
    score : float
        Its unregularised score on these rows.
    """
    scorer = Scorer(y, metric, sample_weight)
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
