"""Positions of a tree stored as arrays over a complete binary tree.

A tree of depth at most ``D`` is stored over the complete binary tree of
``2 ** (D + 1) - 1`` positions in breadth-first order: position ``i`` has
children ``2 i + 1`` (``<=`` side) and ``2 i + 2`` (``>`` side). ``feature[i]``
is the column a node splits on, ``-1`` for a leaf (and for the unused
positions below a leaf), and ``missing_go_to_left[i]`` says which child rows
with a missing value in that column take, so a whole population is one stack
of equal-size arrays and is evaluated in ``D`` vectorised steps.
"""

import math

import numpy as np


def n_positions(max_depth):
    """Return the number of positions of a complete binary tree of depth ``max_depth``."""
    return 2 ** (max_depth + 1) - 1


def depth_of_capacity(n_nodes):
    """Return the ``max_depth`` whose complete tree has ``n_nodes`` positions."""
    return int(round(math.log2(n_nodes + 1))) - 1


def level(position):
    """Depth of a position (the root is at 0)."""
    return int(math.floor(math.log2(position + 1)))


def reachable(feature):
    """Boolean mask of the positions that are part of the tree (internal nodes and leaves).

    Works on one tree ``(size,)`` or a stack ``(..., size)``.
    """
    feature = np.asarray(feature)
    mask = np.zeros(feature.shape, dtype=bool)
    mask[..., 0] = True
    if feature.ndim == 1:  # one small tree: a plain loop beats numpy's per-call overhead
        flags = feature.tolist()
        alive = mask.tolist()
        for i in range((len(flags) - 1) // 2):
            if alive[i] and flags[i] >= 0:
                alive[2 * i + 1] = alive[2 * i + 2] = True
        return np.array(alive)
    for lev in range(depth_of_capacity(feature.shape[-1])):
        pos = np.arange(2**lev - 1, 2 ** (lev + 1) - 1)
        internal = mask[..., pos] & (feature[..., pos] >= 0)
        mask[..., 2 * pos + 1] = internal
        mask[..., 2 * pos + 2] = internal
    return mask


def canonical(feature, threshold, missing):
    """Clear the positions below leaves, so equal trees have equal arrays (in place).

    ``missing`` (missing values go left) is True at leaves and unused positions.
    """
    alive = reachable(feature)
    feature[~alive] = -1
    leaf = feature < 0
    threshold[leaf] = 0.0
    missing[leaf] = True
    return feature, threshold, missing


def merge_same_class_leaves(feature, threshold, missing, value):
    """Turn splits whose two leaves predict their parent's class into a leaf (in place).

    ``value`` holds every node's class frequencies, so a merged node keeps its own
    (its rows are the union of its leaves'). Only splits whose parent predicts the
    same class as both leaves are merged, so no row's prediction changes; merging
    repeats up the tree. Returns ``(feature, threshold, missing, changed)``.
    """
    changed = False
    top = np.argmax(value, axis=1)
    for i in range((feature.shape[0] - 1) // 2 - 1, -1, -1):  # bottom-up
        left, right = 2 * i + 1, 2 * i + 2
        if feature[i] < 0 or feature[left] >= 0 or feature[right] >= 0:
            continue
        if top[left] == top[right] == top[i]:
            feature[i] = -1
            changed = True
    if changed:
        canonical(feature, threshold, missing)
    return feature, threshold, missing, changed
