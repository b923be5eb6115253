"""Composite candidates for the offline proposer: shapes of products, sums, ratios and waves.

The single-term candidates (``candidate_formulas`` in ``_offline``) transform one
column or multiply two. A mechanism such as ``3 ph salt / (1 + ph salt)`` or
``(x1 + x2) / (1 + x3 + x4)`` is a transform of a combination, so it is reached
here in two stages: first the *inner* combinations of the searched features
(each pair's product ``a * b``, sum ``a + b`` and difference ``a - b``, and
every column or pair sum as a numerator or denominator), then *outer* shapes
of each:

- saturation ``u / (c + abs(u))`` (``c`` = 0.5, 1, 2 times the median of
  ``|u|``) and a step ``where(u > q, 1, 0)`` (``q`` at the quartiles) of
  products and sums; for a difference, its saturation and the comparison
  ``where(a > b, 1, 0)``;
- ``log(c + abs(u))`` of a product, and of a column or sum that is not
  negative (``c`` the 5% quantile and the median of ``|u|``), and the decay
  ``exp(-abs(u) / c)`` of a product;
- a ratio of sums ``num / (c + abs(den))`` over disjoint columns (``c`` = 0.25
  and 1 times the median of ``|den|``);
- thresholded interactions: ``a * where(b > q, 1, 0)`` and
  ``where((a > qa) & (b > qb), 1, 0)`` at the quartiles;
- a wave ``sin(w * x + phi)`` of each column, the frequency and phase fitted
  to what is left to explain by least squares over a grid of 25 frequencies
  (1 to 4 periods over the column's 1%-99% range; the best two are kept).

Constants come from the training rows with a value and a positive weight and
are rounded (4 significant digits, 3 for the wave). Every shape is finite for
any input (``abs`` keeps a logarithm's argument and a denominator positive), so a
kept formula never fails on new rows. No randomness: the list depends only on
the data.
"""

import itertools
from dataclasses import dataclass

import numpy as np

from tabsift.expr import BinaryOp, Call, Column, Compare, Number, UnaryOp, to_source

_SATURATION_SCALES = (0.5, 1.0, 2.0)
_RATIO_SCALES = (0.25, 1.0)
# Periods over a column's 1%-99% range tried for a wave, and how many are kept.
_WAVE_PERIODS = np.linspace(1.0, 4.0, 25)
_WAVES_KEPT = 2


def _num(value, digits=4):
    value = float(f"{float(value):.{digits}g}")
    return UnaryOp("-", Number(-value)) if value < 0 else Number(value)


def _abs(node):
    return Call("abs", (node,))


def _step(condition):
    return Call("where", (condition, Number(1.0), Number(0.0)))


def _add(node, constant):
    """``node + constant``, printed as ``node - |constant|`` for a negative one."""
    value = float(f"{constant:.3g}")
    if value < 0:
        return BinaryOp("-", node, Number(-value))
    return BinaryOp("+", node, Number(value)) if value > 0 else node


class _Values:
    """Finite values of the rows that may set a constant (a value and a positive weight)."""

    def __init__(self, weights):
        self.weights = weights

    def __call__(self, values):
        keep = np.isfinite(values)
        if self.weights is not None:
            keep &= self.weights > 0
        return values[keep], keep


def _quartiles(values):
    return np.unique(np.quantile(values, [0.25, 0.5, 0.75]))


def _logs(node, v, label):
    """``log(c + abs(node))``, ``c`` the 5% quantile and the median of the non-zero ``|v|``."""
    positive = np.abs(v)[np.abs(v) > 0]
    if positive.size == 0:
        return []
    constants = np.unique([float(f"{c:.4g}") for c in np.quantile(positive, [0.05, 0.5])])
    return [
        (Call("log", (BinaryOp("+", _num(c), _abs(node)),)), f"log of {label}") for c in constants
    ]


def _shapes(kind, node, values, label, pick):
    """Saturation, steps, logarithm and decay of one inner combination ``node``."""
    v, _ = pick(values)
    if v.size == 0:
        return []
    out = []
    med = float(np.median(np.abs(v)))
    if med > 0:
        scales = _SATURATION_SCALES if kind != "difference" else (1.0,)
        for k in scales:
            sat = BinaryOp("/", node, BinaryOp("+", _num(k * med), _abs(node)))
            out.append((sat, f"saturating effect of {label}"))
    if kind == "difference":
        a, b = node.left, node.right
        out.append((_step(Compare(">", a, b)), f"step where {a} exceeds {b}"))
    else:
        for q in _quartiles(v):
            out.append((_step(Compare(">", node, _num(q))), f"step where {label} > {q:.4g}"))
    if kind == "product" or (kind == "sum" and float(np.quantile(v, 0.01)) >= 0):
        out.extend(_logs(node, v, label))
    if kind == "product" and med > 0:
        decay = BinaryOp("*", _num(-1.0 / med, 3), _abs(node))
        out.append((Call("exp", (decay,)), f"decaying effect of {label}"))
    return out


def _waves(name, x, target, weights, pick):
    """``sin(w * x + phi)`` at the frequencies that best fit ``target`` (least squares)."""
    v, keep = pick(x)
    if v.size < 10 or target is None:
        return []
    lo, hi = np.quantile(v, [0.01, 0.99])
    if hi <= lo:
        return []
    t = target[keep]
    w_rows = None if weights is None else weights[keep]
    gains, fitted = [], []
    for periods in _WAVE_PERIODS:
        w = 2 * np.pi * periods / (hi - lo)
        design = np.column_stack([np.sin(w * v), np.cos(w * v), np.ones_like(v)])
        dw = design if w_rows is None else design * w_rows[:, None]
        coef, *_ = np.linalg.lstsq(dw.T @ design, dw.T @ t, rcond=None)
        fitted_t = design @ coef
        gains.append(float(np.average((fitted_t - fitted_t.mean()) ** 2, weights=w_rows)))
        fitted.append((w, float(np.arctan2(coef[1], coef[0]))))
    order = np.argsort(gains)[::-1]
    out, used = [], []
    for i in order:
        # Two distinct frequencies, not neighbours on the grid.
        if any(abs(int(i) - j) <= 1 for j in used):
            continue
        used.append(int(i))
        w, phase = fitted[i]
        arg = _add(BinaryOp("*", _num(w, 3), Column(name)), phase)
        period = 2 * np.pi / w
        out.append((Call("sin", (arg,)), f"periodic effect of {name} (period {period:.3g})"))
        if len(used) == _WAVES_KEPT:
            break
    return out


def composite_formulas(data_train, features, weights=None, target=None):
    """``[(node, explanation)]``: syntax trees of composite shapes over ``features``.

    ``target`` (what is left to explain on the training rows, 1-D) sets the
    frequency and phase of the waves; without it there are none. Rows whose
    weight is 0 give no constant.
    """
    pick = _Values(weights)
    cols = {name: np.asarray(data_train[name], dtype=np.float64) for name in features}
    out = []
    for name in features:
        col, x = Column(name), cols[name]
        v, _ = pick(x)
        if v.size and float(np.quantile(v, 0.01)) >= 0:
            out.extend(_logs(col, v, name))
        out.extend(_waves(name, x, target, weights, pick))
    sums = {}
    for a, b in itertools.combinations(features, 2):
        A, B, xa, xb = Column(a), Column(b), cols[a], cols[b]
        sums[(a, b)] = (BinaryOp("+", A, B), xa + xb)
        for kind, node, values, label in (
            ("product", BinaryOp("*", A, B), xa * xb, f"{a} * {b}"),
            ("sum", sums[(a, b)][0], xa + xb, f"{a} + {b}"),
            ("difference", BinaryOp("-", A, B), xa - xb, f"{a} - {b}"),
        ):
            out.extend(_shapes(kind, node, values, label, pick))
        for gate, slope in ((a, b), (b, a)):
            g, _ = pick(cols[gate])
            for q in _quartiles(g) if g.size else ():
                node = BinaryOp("*", Column(slope), _step(Compare(">", Column(gate), _num(q))))
                out.append((node, f"effect of {slope} where {gate} > {q:.4g}"))
        qa, qb = pick(xa)[0], pick(xb)[0]
        if qa.size and qb.size:
            for ta, tb in itertools.product(_quartiles(qa), _quartiles(qb)):
                both = BinaryOp("&", Compare(">", A, _num(ta)), Compare(">", B, _num(tb)))
                out.append((_step(both), f"step where {a} > {ta:.4g} and {b} > {tb:.4g}"))
    # Ratios of sums: a column or a pair sum over a disjoint column or pair sum.
    parts = [((name,), Column(name), cols[name]) for name in features]
    parts += [(pair, node, values) for pair, (node, values) in sums.items()]
    for (num_cols, num, _), (den_cols, den, den_values) in itertools.product(parts, parts):
        if set(num_cols) & set(den_cols):
            continue
        d, _ = pick(den_values)
        med = float(np.median(np.abs(d))) if d.size else 0.0
        if med <= 0:
            continue
        for k in _RATIO_SCALES:
            ratio = BinaryOp("/", num, BinaryOp("+", _num(k * med), _abs(den)))
            out.append((ratio, f"{' + '.join(num_cols)} over {' + '.join(den_cols)}, damped"))
    return out


@dataclass(eq=False)
class NetCandidate:
    """A term net of its linear part, with values for ranking; checked only when shortlisted."""

    node: object
    explanation: str
    values_train: np.ndarray
    values_val: np.ndarray
    target_class: int | None = None
    # The source term's: subtracting a linear part makes every value distinct, but the
    # rows that carry the shape (a step's smaller side) stay as few.
    support: tuple = (np.inf, np.inf)

    @property
    def key(self):
        # Printed only when the ranking reaches it (printing is the slow part).
        return (to_source(self.node), self.target_class)


def _stack(data, names):
    X = np.column_stack([np.asarray(data[name], dtype=np.float64) for name in names])
    complete = np.isfinite(X).all(axis=1)
    return np.where(complete[:, None], X, 0.0), complete


def net_versions(ws, terms):
    """Each term minus its least-squares fit on its own columns: ``g - b1 * x1 - ...``.

    Returns one list per term: its net version, or nothing.

    A base model that is linear in a column takes up the linear part of a missed
    effect of that column, so the residuals hold only what is left: for
    ``3 ph salt / (1 + ph salt)`` under a linear base, the term alone fits the
    residuals with a coefficient near 0.3, where the term net of its linear part
    in ``ph`` and ``salt`` fits them with the true 3. The net version is offered
    when the linear part is 5% to 95% of the term's variance on the training rows.
    """
    groups = {}
    for index, term in enumerate(terms):
        groups.setdefault(tuple(term.expression.columns), []).append(index)
    w = ws.w_train
    out = [[] for _ in terms]
    for names, indices in groups.items():
        group = [terms[i] for i in indices]
        if not names:
            continue
        X_train, complete = _stack(ws.data_train, names)
        X_val, complete_val = _stack(ws.data_val, names)
        rows = complete if w is None else complete & (w > 0)
        if rows.sum() <= len(names) + 2:
            continue
        root = np.ones(rows.sum()) if w is None else np.sqrt(w[rows])
        design = np.column_stack([np.ones(rows.sum()), X_train[rows]]) * root[:, None]
        G = np.column_stack([t.values_train for t in group])
        coef, *_ = np.linalg.lstsq(design, G[rows] * root[:, None], rcond=None)
        fitted = design @ coef
        G_w = G[rows] * root[:, None]
        total = ((G_w - root[:, None] * np.average(G[rows], axis=0, weights=root**2)) ** 2).sum(0)
        share = 1 - ((G_w - fitted) ** 2).sum(axis=0) / np.where(total > 0, total, np.inf)
        for k, term in enumerate(group):
            if not 0.05 <= share[k] <= 0.95:
                continue
            # A column whose share is under 1% of the term's spread is left out (readability).
            spread = np.sqrt(total[k] / (root**2).sum())
            sizes = np.abs(coef[1:, k]) * X_train[rows].std(axis=0)
            beta = np.array(
                [
                    float(f"{b:.3g}") if size >= 0.01 * spread else 0.0
                    for b, size in zip(coef[1:, k], sizes, strict=True)
                ]
            )
            node = term.expression.root
            for b, name in zip(beta, names, strict=True):
                if b != 0:
                    op = "-" if b > 0 else "+"
                    node = BinaryOp(op, node, BinaryOp("*", Number(abs(b)), Column(name)))
            out[indices[k]].append(
                NetCandidate(
                    node,
                    f"{term.explanation}, net of its linear part in {', '.join(names)}",
                    np.where(complete, term.values_train - X_train @ beta, 0.0),
                    np.where(complete_val, term.values_val - X_val @ beta, 0.0),
                    term.target_class,
                    term.support,
                )
            )
    return out
