"""The genetic operators of an evolution: parents, GP crossover and mutation, CART regrowth.

:class:`OperatorsMixin` is the part of :class:`~tabsift.tree._evolution.Run`
that makes offspring without the LLM (vectorised subtree crossover and
mutation, with split searches and CART regrowth of emptied subtrees), learns
missing-value sides, and scores novelty for the LLM's mutation.
"""


import numpy as np

import tabsift.tree._operators as _operators
from tabsift.backend import gumbel_top_k, namespace_by_name
from tabsift.tree._population import (
    apply_population,
    missing_bins,
    route_around_many,
    split_scores,
    weighted_var,
)
from tabsift.tree._positions import level, reachable


class OperatorsMixin:
    """Genetic operators of a :class:`~tabsift.tree._evolution.Run` (see the module)."""

    def _parent_sets(self, state, n_sets, by_fitness):
        """``n_sets`` sets of ``n_parents`` population indices (fitness-proportional or uniform)."""
        P = len(state["train"])
        k = min(self.est.n_parents, P)
        if by_fitness:
            f = state["train"]
            span = float(np.ptp(f))
            w = f - f.min() + (0.01 * span if span > 0 else 1.0)
            p = w / w.sum()
        else:
            p = None
        return [self.rng.choice(P, size=k, replace=False, p=p) for _ in range(n_sets)]

    def _tree(self, state, k):
        return state["feature"][k], state["threshold"][k], state["missing"][k]

    def _gp_crossover(self, state, parents, n_children):
        children = []
        for _ in range(n_children):
            if len(parents) >= 2:
                a, b = self.rng.choice(parents, size=2, replace=False)
            else:
                a = b = parents[0]
            f, t, m = _operators.subtree_crossover(
                self._tree(state, a), self._tree(state, b), self.rng
            )
            # Fitness-guided, as the LLM is asked to beat its parents: the child's split at
            # one random node is moved to the best cut point of its column.
            internal = np.flatnonzero(reachable(f) & (f >= 0))
            kind = "crossover"
            if internal.size:
                i = int(self.rng.choice(internal))
                kind = ("tune", i, (int(f[i]),))
            children.append((f, t, m, kind))
        return self._resolve_tunes(children)

    def _gp_mutation_candidates(self, state, parents, n_candidates):
        out = []
        for _ in range(n_candidates):
            k = int(self.rng.choice(parents))
            out.append(
                _operators.mutate(self._tree(state, k), self.rng, self.cuts, self.usable, self.gaps)
            )
        return out

    def _resolve_tunes(self, candidates):
        """Finish the marked candidates.

        'tune' gets the best split at its node (all such nodes routed in one
        pass), 'regrow' its subtree grown again greedily.
        """
        def tune(kind):
            return isinstance(kind, tuple) and kind[0] == "tune"

        jobs = [(f, t, m, kind[1], kind[2]) for f, t, m, kind in candidates if tune(kind)]
        tuned = iter(self._best_splits(jobs))
        out = []
        for f, t, m, kind in candidates:
            if tune(kind):
                out.append(next(tuned))
            elif isinstance(kind, tuple):
                out.append(self._regrow(f, t, m, kind[1]))
            else:
                out.append((f, t, m))
        return out

    def _regrow(self, f, t, m, position):
        """Grow the subtree at ``position`` again with CART on the rows reaching it.

        Greedy impurity splits (random columns per split, as in a random forest) find
        structure that whole-tree accuracy, flat for a lone split among many classes,
        does not see; the regrown tree then competes on fitness like any other.
        """
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        leaves = apply_population(
            f[None], t[None], self.X_train, missing=m[None], xp=self.evaluator.xp
        )[0]
        rows = leaves == position
        depth = self.est.max_depth - level(position)
        if rows.sum() < 2 or depth < 1:
            return f, t, m
        model = DecisionTreeClassifier if self.task == "classification" else DecisionTreeRegressor
        cart = model(
            max_depth=depth,
            max_features="sqrt" if self.rng.rand() < 0.5 else None,
            random_state=int(self.rng.randint(np.iinfo(np.int32).max)),
        ).fit(
            self.X_train[rows],
            self.y_train[rows],
            sample_weight=None if self.w_train is None else self.w_train[rows],
        )
        tree = (f.copy(), t.copy(), m.copy())
        f, t, m = _operators.graft(tree, position, cart.tree_, self.x_max)
        return f, t, self._settle(f, m)

    def _candidates(self, columns):
        """Return the split-search candidates of ``columns``: ``(column, side, bins)``.

        A column with missing training values gives two, its missing values
        sent left, then right.
        """
        out = []
        for j in columns:
            if self.gaps[j]:
                left, right = missing_bins(self.bins[:, j], self.nan_rows[:, j], len(self.cuts[j]))
                out += [(j, True, left), (j, False, right)]
            else:
                out.append((j, True, self.bins[:, j]))
        return out

    def _best_splits(self, jobs):
        """Return the tree with the best split at ``position`` for each job.

        A job is ``(feature, threshold, missing, position, columns)``; the split
        of best training fitness is searched over the cut points of ``columns``
        (and the two sides for missing values).

        The rows are routed around all the nodes in one vectorised pass.
        """
        routes = route_around_many(
            [(f, t, m, p) for f, t, m, p, _ in jobs], self.X_train, xp=self.evaluator.xp
        )
        out = []
        for (f, t, m, position, columns), route in zip(jobs, routes, strict=True):
            candidates = self._candidates(columns)
            scores = split_scores(
                f, position, route, [b for _, _, b in candidates],
                [len(self.cuts[j]) for j, _, _ in candidates], self.y_train, self.task,
                n_classes=self.n_classes, sample_weight=self.w_train,
            )
            # The first best (column order, then cut order), as a loop would find it.
            c, k = np.unravel_index(int(np.argmax(scores)), scores.shape)
            j, side, _ = candidates[c]
            best_f, best_t, best_m = f.copy(), t.copy(), m.copy()
            best_f[position] = j
            best_t[position] = self.cuts[j][k]
            best_m[position] = side
            out.append((best_f, best_t, best_m))
        return out

    def _learn_sides(self, trees):
        """Return the LLM trees with a missing-value side on every split.

        Each tree is ``(feature, threshold, missing, stated)``; a split that did
        not state its side gets the side of better training fitness.

        Top-down, one routing pass per level for all the trees; only splits on columns
        with missing training values are decided (elsewhere the side does not matter).
        """
        out = [(f, t, self._settle(f, m.copy())) for f, t, m, _ in trees]
        for lev in range(self.est.max_depth):
            positions = range(2**lev - 1, 2 ** (lev + 1) - 1)
            jobs = [
                (k, p)
                for k, (f, *_, stated) in enumerate(trees)
                for p in positions
                if f[p] >= 0 and not stated[p] and self.gaps[f[p]]
            ]
            if not jobs:
                continue
            routes = route_around_many(
                [(*out[k], p) for k, p in jobs], self.X_train, xp=self.evaluator.xp
            )
            for (k, p), route in zip(jobs, routes, strict=True):
                f, t, m = out[k]
                j = f[p]
                above = (self.X_train[:, j] > t[p]).astype(np.intp)  # one cut: 0 left, 1 right
                sides = missing_bins(above, self.nan_rows[:, j], 1)
                scores = split_scores(
                    f, p, route, list(sides), [1, 1], self.y_train, self.task,
                    n_classes=self.n_classes, sample_weight=self.w_train,
                )
                m[p] = bool(scores[0, 0] >= scores[1, 0])
        return out

    def _row_mean(self, values):
        """Mean over the training rows (the last axis), weighted by the rows' weights."""
        if self.w_train is None:
            return values.mean(axis=-1)
        return (values * self.w_train).sum(axis=-1) / np.sum(self.w_train)

    def _novelty(self, state, cand_pred):
        """How much each candidate's training predictions differ from the population's, in [0, 1]."""
        pop = state["pred"]
        if self.task == "classification":
            votes = np.zeros((pop.shape[1], self.n_classes))
            rows = np.arange(pop.shape[1])
            for p in pop:
                votes[rows, p] += 1
            agree = votes[rows[None, :], cand_pred] / len(pop)
            return 1.0 - self._row_mean(agree)
        scale = float(np.sqrt(weighted_var(self.y_train, self.w_train))) or 1.0
        centre = pop.mean(axis=0)
        return np.minimum(self._row_mean(np.abs(cand_pred - centre[None, :])) / scale, 1.0)

    def _choose(self, log_weights):
        # Host-side choice (a handful of weights), whatever the configured backend.
        weights = np.asarray(log_weights, dtype=np.float64)
        return int(gumbel_top_k(weights, 1, random_state=self.rng, xp=namespace_by_name("numpy"))[0])

