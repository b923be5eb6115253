"""From fired rules to a predicted class: rule precision, the fallback class, class frequencies.

A binary target has one rule: it fires -> ``classes_[1]``, else ``classes_[0]``.
With one rule per class, a row gets the class whose firing rule was most
precise in training (ties: the earlier class), or the fallback class when no
rule fires. Everything here runs on the array namespace of the fired matrix.
"""

import numpy as np

from tabsift.backend import device
from tabsift.rules._nodes import host_namespace


def fired_matrix(rules, Z, xp):
    """``(n_rows, n_rules)`` bools: where each rule fires on the literal matrix ``Z``."""
    return xp.stack([rule.evaluate(Z, xp=xp) for rule in rules], axis=1)


def decide(fired, precision, fallback, n_classes, xp):
    """Index of the predicted class per row, on ``fired``'s namespace ``xp``."""
    if n_classes == 2:
        return xp.astype(fired[:, 0], xp.int64)
    where = device(fired)
    precision = xp.reshape(xp.asarray(precision, dtype=xp.float64, device=where), (1, -1))
    missing = xp.asarray(-1.0, dtype=xp.float64, device=where)
    # argmax returns the first of tied maxima (array API), like NumPy.
    decided = xp.argmax(xp.where(fired, precision, missing), axis=1)
    fallback = xp.asarray(fallback, dtype=decided.dtype, device=where)
    return xp.where(xp.any(fired, axis=1), decided, fallback)


def decision_state(rules, Z, y_idx, n_classes, weights=None):
    """``(precision, fallback, cell_freq)`` learned from the training rows.

    ``precision`` per rule is the share (by weight) of its firing rows of its class;
    ``fallback`` is the index of the class predicted when no rule fires (the most frequent
    among the rows where none fired, else overall); ``cell_freq[d, c]`` is the
    Laplace-smoothed frequency of class ``c`` among the rows decided ``d``. With
    ``weights`` each row counts by its weight.
    """
    host = host_namespace()
    fired = fired_matrix(rules, Z, host)
    w = np.ones(y_idx.size) if weights is None else weights
    owners = [1] if n_classes == 2 else list(range(n_classes))
    precision = []
    for j, owner in enumerate(owners):
        hits = fired[:, j]
        precision.append(
            float(w[hits & (y_idx == owner)].sum() / w[hits].sum()) if hits.any() else 0.0
        )
    precision = np.asarray(precision)
    if n_classes == 2:
        fallback = 0
    else:
        none = ~fired.any(axis=1)
        pool = none if none.any() else np.ones_like(none)
        fallback = int(np.bincount(y_idx[pool], weights=w[pool], minlength=n_classes).argmax())
    decided = decide(fired, precision, fallback, n_classes, host)
    freq = np.ones((n_classes, n_classes))
    np.add.at(freq, (decided, y_idx), w)
    return precision, fallback, freq / freq.sum(axis=1, keepdims=True)
