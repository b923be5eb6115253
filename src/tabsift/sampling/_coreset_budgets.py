"""Budgets of the coreset selectors: a count or a fraction of rows, split per class.

``n_samples`` becomes a number of rows; ``stratify`` splits it over the
classes (in proportion, evenly, or as the user's per-class counts), by class
mass when rows carry weights.
"""

import math
import numbers

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

from tabsift.utils import Interval, RealNotInt, StrOptions, plain

# Constraint shared by every selector's budget parameter.
N_SAMPLES_CONSTRAINT = [
    Interval(RealNotInt, 0, 1, closed="right"),
    Interval(numbers.Integral, 1, None, closed="left"),
]
STRATIFY_CONSTRAINT = [StrOptions({"proportional", "balanced"}), dict, None]


def label(c):
    """Return a class label as users wrote it (``1``, not ``np.int64(1)``)."""
    return repr(plain(c))


def resolve_n_samples(n_samples, n_rows, *, name="n_samples"):
    """Turn a count or a fraction into a number of rows, checked against ``n_rows``."""
    if isinstance(n_samples, numbers.Integral):
        k = int(n_samples)
        if k > n_rows:
            raise ValueError(
                f"{name}={k} is larger than the number of rows in X ({n_rows}): ask for at "
                f"most {n_rows} rows, or give a fraction in (0, 1]."
            )
        return k
    return max(1, min(n_rows, int(math.floor(float(n_samples) * n_rows + 0.5))))


def largest_remainder(total, sizes, caps=None):
    """Split ``total`` in proportion to ``sizes`` (integers summing to ``total``).

    Every group with at least one row gets at least one slot when ``total``
    allows it, so a rare class is never dropped by rounding. ``sizes`` may be
    weighted masses; ``caps`` (default: ``sizes``) bounds each group's count
    by the rows it holds.
    """
    sizes = np.asarray(sizes, dtype=float)
    n_groups = len(sizes)
    if total >= np.count_nonzero(sizes):
        base = (sizes > 0).astype(np.int64)
        rest = total - base.sum()
        share = sizes / sizes.sum() * rest
    else:
        base = np.zeros(n_groups, dtype=np.int64)
        share = sizes / sizes.sum() * total
        rest = total
    counts = base + np.floor(share).astype(np.int64)
    left = int(total - counts.sum())
    # Leftover slots go to the largest fractional parts (ties: the larger group, then order).
    order = np.lexsort((np.arange(n_groups), -sizes, -(share - np.floor(share))))
    for g in order[:left]:
        counts[g] += 1
    if caps is None:
        caps = sizes
    return np.minimum(counts, np.asarray(caps).astype(np.int64))


def class_budgets(y, total, stratify, *, estimator="This selector", sample_weight=None):
    """Per-class budgets ``{class: count}`` for ``stratify``, with errors that say how to fix them.

    ``"proportional"`` splits ``total`` in proportion to class sizes (largest
    remainder, at least one row per class when the budget allows);
    ``"balanced"`` gives every class the same share (the remainder to the
    largest classes); a dict gives each class's count (classes left out get
    none). With ``sample_weight`` a class's size is its summed weight (its
    mass), so integer weights give the budgets of the repeated rows.
    """
    check_classification_targets(y)
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    mass = counts if sample_weight is None else np.bincount(
        codes.ravel(), weights=sample_weight, minlength=len(classes))
    if isinstance(stratify, dict):
        unknown = [c for c in stratify if c not in set(classes.tolist())]
        if unknown:
            raise ValueError(
                f"stratify names classes {unknown!r} that are not in y; the classes are "
                f"{classes.tolist()!r}."
            )
        budgets = {}
        for c in classes:
            want = stratify.get(plain(c), 0)
            if isinstance(want, bool) or not isinstance(want, numbers.Integral) or want < 0:
                raise ValueError(
                    f"stratify[{label(c)}] must be a non-negative integer, got {want!r}."
                )
            budgets[c] = int(want)
        if sum(budgets.values()) == 0:
            raise ValueError("stratify asks for 0 rows in total: give at least one class a count.")
    elif stratify == "balanced":
        n_classes = len(classes)
        share = np.full(n_classes, total // n_classes, dtype=np.int64)
        share[np.argsort(-mass, kind="stable")[: total % n_classes]] += 1
        budgets = dict(zip(classes, share.tolist(), strict=True))
    else:
        split = largest_remainder(total, mass, caps=counts)
        budgets = dict(zip(classes, split.tolist(), strict=True))
    for c, n_c in zip(classes, counts, strict=True):
        if budgets[c] > n_c:
            raise ValueError(
                f"class {label(c)} has {n_c} rows, fewer than its budget of {budgets[c]} rows "
                f"(stratify={stratify!r}); {estimator} cannot select more rows than a class "
                "holds: lower n_samples, use stratify='proportional', or give per-class "
                "counts as a dict."
            )
    return budgets


def groups(y, budgets, n_rows=None):
    """``[(class, row indices, budget)]`` or one group of all rows when ``budgets`` is None.

    ``n_rows`` counts the rows when ``y`` is None (a selection that does not read it).
    """
    if budgets is None:
        return [(None, np.arange(len(y) if n_rows is None else n_rows), None)]
    return [(c, np.flatnonzero(y == c), b) for c, b in budgets.items() if b > 0]
