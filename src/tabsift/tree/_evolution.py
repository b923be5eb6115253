"""The evolution behind EvolvedTree*: population, operators, LLM calls, selection, state.

One :class:`Run` holds the data of one ``fit`` and evolves the population generation by
generation; its ``state`` (a dict of arrays and counters, no estimator) is what checkpoints
and ``warm_start`` keep, so a resumed run continues exactly.

A tree is three arrays ``(feature, threshold, missing)``; ``missing`` (missing values go
to the ``<=`` child) is part of what evolves where the training rows have missing values
in a node's column, and True elsewhere, so that trees differing only there are one tree.
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.utils import check_random_state

from tabsift.backend import get_namespace, gumbel_top_k, namespace_by_name
from tabsift.tree import _llm, _operators
from tabsift.tree._checkpoint import (
    CHECKPOINT_VERSION,
    HALL_OF_FAME_SIZE,
    check_fitness,
    split_sizes,
)
from tabsift.tree._population import (
    Evaluator,
    apply_population,
    missing_bins,
    refit_classification,
    refit_regression,
    route_around_many,
    split_scores,
)
from tabsift.tree._text import (
    REJECTION_REASONS,
    TreeSchema,
    TreeTextError,
    text_to_arrays,
    tree_to_text,
)
from tabsift.tree._tree import (
    Tree,
    level,
    merge_same_class_leaves,
    n_positions,
    reachable,
    round_thresholds,
)
from tabsift.utils import progress


def present_range(X):
    """Smallest and largest value present per column (NaN for a column without values)."""
    present = ~np.isnan(X)
    has = present.any(axis=0)
    low = np.where(has, np.min(np.where(present, X, np.inf), axis=0), np.nan)
    high = np.where(has, np.max(np.where(present, X, -np.inf), axis=0), np.nan)
    return low, high


class Run:
    """One evolution: the data, the operators and the state saved between generations."""

    def __init__(self, est, X, y, names, descriptions, fingerprint, state, *, source=None):
        from tabsift.llm import LLMSession

        self.est = est
        self.task = est._task
        self.timed_out = False
        # This fit's LLM accounting: the failure policy, and counts not kept in checkpoints.
        self.session = LLMSession(est.llm, owner=est._owner(), on_llm_error=est.on_llm_error)
        self.extra_stats = {
            "rejected_truncated": 0,
            "rejected_refused": 0,
            "mutation_without_logprobs": 0,
        }
        self.start = time.monotonic()
        size = n_positions(est.max_depth)
        self.size = size
        self.n_classes = len(est.classes_) if self.task == "classification" else None

        if state is None:
            rng = check_random_state(est.random_state)
            # A copy, so the caller's RandomState object is not advanced by the checkpointed run.
            rng = np.random.RandomState(rng.randint(np.iinfo(np.int32).max))
            train_idx, val_idx = self._split(len(y), rng)
        else:
            rng = np.random.RandomState()
            rng.set_state(state["rng"])
            train_idx, val_idx = state["train_idx"], state["val_idx"]
        self.rng = rng
        self.train_idx, self.val_idx = train_idx, val_idx
        # Column-major copies: routing reads one column per step, and X.T is then contiguous.
        X_tr, y_tr = np.asfortranarray(X[train_idx]), y[train_idx]
        X_va, y_va = (np.asfortranarray(X[val_idx]), y[val_idx]) if len(val_idx) else (None, None)
        self.X_train, self.y_train = X_tr, y_tr
        self.evaluator = Evaluator(
            X_tr, y_tr, X_va, y_va, self.task, n_classes=self.n_classes, xp=get_namespace(X)
        )
        self.cuts = _operators.cut_points(X_tr)
        # Missing values in the training rows: where a split's missing side matters.
        self.nan_rows = np.isnan(X_tr)
        self.gaps = self.nan_rows.any(axis=0)
        # Per row and column, the number of cut points below the value (for split search);
        # a missing value counts as above every cut until a side is chosen for it.
        self.bins = np.column_stack(
            [np.searchsorted(c, X_tr[:, j], side="left") for j, c in enumerate(self.cuts)]
        ) if X_tr.shape[1] else np.zeros((len(X_tr), 0), dtype=np.intp)
        low, high = present_range(X_tr)
        self.usable = np.array([j for j, c in enumerate(self.cuts) if len(c) and high[j] > low[j]])
        if self.usable.size == 0:
            self.usable = np.array([j for j, c in enumerate(self.cuts) if len(c)])
        self.x_min, self.x_max = present_range(X)
        self.schema = TreeSchema(names, self.x_min, self.x_max, est.max_depth)
        self.names = names
        self.context = {
            "task_description": est.task_description,
            "n_samples": len(y_tr),
            "n_features": len(names),
            "target_summary": est._target_summary(y_tr),
            "feature_names": names,
            "x_min": self.x_min,
            "x_max": self.x_max,
            "n_missing": self.nan_rows.sum(axis=0),
            "feature_descriptions": descriptions,
            "max_depth": est.max_depth,
        }
        self.labels = (
            [c.item() if isinstance(c, np.generic) else c for c in est.classes_]
            if self.task == "classification"
            else None
        )
        self.state = state if state is not None else self._initial_state(fingerprint)
        if "pred" not in self.state:
            result = self.evaluator.evaluate(*self._trees(self.state))
            self.state["pred"] = result["pred"]
            if source is not None:
                # A checkpoint's fitness values steer selection: they must be its trees'.
                check_fitness(source, self.state, result, "population")
                hof = self.state["hof"]
                hof_result = self.evaluator.evaluate(hof["feature"], hof["threshold"], hof["missing"])
                check_fitness(source, self.state, hof_result, "hof")

    def _split(self, n, rng):
        order = rng.permutation(n)
        _, n_val = split_sizes(n, self.est.validation_fraction)
        if n_val == 0:
            return np.sort(order), np.array([], dtype=np.intp)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def elapsed(self):
        return time.monotonic() - self.start

    def out_of_time(self):
        limit = self.est.time_limit
        return limit is not None and self.elapsed() > limit

    # --------------------------------------------------------- population
    def _trees(self, state):
        return state["feature"], state["threshold"], state["missing"]

    def _settle(self, F, M):
        """``M`` with True wherever the side does not matter: leaves, and splits on a
        column without missing values in the training rows (in place)."""
        M[(F < 0) | ~self.gaps[np.maximum(F, 0)]] = True
        return M

    def _initial_state(self, fingerprint):
        est = self.est
        seed = int(self.rng.randint(np.iinfo(np.int32).max))
        F, T, M = _operators.forest_population(
            self.X_train,
            self.y_train,
            self.task,
            n_trees=est.population_size,
            max_depth=est.max_depth,
            random_state=seed,
        )
        stats = {"requests": 0, "tokens": 0, "errors": 0, "accepted": 0, "budget_exceeded": False}
        stats.update({f"rejected_{r}": 0 for r in REJECTION_REASONS})
        state = {
            "version": CHECKPOINT_VERSION,
            "fingerprint": fingerprint,
            "generation": 0,
            "train_idx": self.train_idx,
            "val_idx": self.val_idx,
            "history": [],
            "llm_stats": stats,
            "hof": {
                "feature": np.zeros((0, self.size), dtype=np.int64),
                "threshold": np.zeros((0, self.size)),
                "missing": np.zeros((0, self.size), dtype=bool),
                "train": np.zeros(0),
                "val": np.zeros(0),
                "generation": np.zeros(0, dtype=np.int64),
            },
        }
        M = self._settle(F, M)
        result = self.evaluator.evaluate(F, T, M)
        keep = self._select(F, result, len(F))
        self._adopt(state, F[keep], T[keep], M[keep], result, keep)
        self._record(state, offspring=0, rejected=0, duplicates=len(F) - len(keep), llm=(0, 0, 0))
        state["rng"] = self.rng.get_state()
        self._save_checkpoint_state(state)
        return state

    def _select(self, F, result, n_keep):
        """Indices of the best trees, without trees whose training predictions repeat."""
        train = result["train"]
        leaves = (reachable(F) & (F < 0)).sum(axis=1)
        order = np.lexsort((np.arange(len(F)), leaves, -train))
        keep, seen = [], set()
        for k in order:
            key = result["pred"][k].tobytes()
            if key in seen:
                continue
            seen.add(key)
            keep.append(int(k))
            if len(keep) == n_keep:
                break
        return np.array(keep)

    def _adopt(self, state, F, T, M, result, keep):
        state["feature"], state["threshold"], state["missing"] = F, T, M
        state["train"], state["val"] = result["train"][keep], result["val"][keep]
        state["pred"] = result["pred"][keep]
        self._update_hall_of_fame(state)

    def _update_hall_of_fame(self, state):
        hof = state["hof"]
        F = np.concatenate([hof["feature"], state["feature"]])
        T = np.concatenate([hof["threshold"], state["threshold"]])
        M = np.concatenate([hof["missing"], state["missing"]])
        train = np.concatenate([hof["train"], state["train"]])
        val = np.concatenate([hof["val"], state["val"]])
        gen = np.concatenate([hof["generation"], np.full(len(state["feature"]), state["generation"])])
        score = np.where(np.isnan(val), train, val)
        order = np.lexsort((np.arange(len(F)), -train, -score))
        keep, seen = [], set()
        for k in order:
            key = F[k].tobytes() + T[k].tobytes() + M[k].tobytes()
            if key not in seen:
                seen.add(key)
                keep.append(k)
            if len(keep) == HALL_OF_FAME_SIZE:
                break
        state["hof"] = {
            "feature": F[keep],
            "threshold": T[keep],
            "missing": M[keep],
            "train": train[keep],
            "val": val[keep],
            "generation": gen[keep],
        }

    def _record(self, state, *, offspring, rejected, duplicates, llm):
        val = state["val"]
        has_val = not np.all(np.isnan(val))
        state["history"].append(
            {
                "generation": state["generation"],
                "best_train_fitness": float(np.max(state["train"])),
                "mean_train_fitness": float(np.mean(state["train"])),
                "best_validation_fitness": float(np.max(val)) if has_val else float("nan"),
                "mean_validation_fitness": float(np.mean(val)) if has_val else float("nan"),
                "population": int(len(state["train"])),
                "offspring": int(offspring),
                "rejected": int(rejected),
                "duplicates_dropped": int(duplicates),
                "llm_requests": int(llm[0]),
                "llm_tokens": int(llm[1]),
                "llm_errors": int(llm[2]),
                "seconds": round(self.elapsed(), 4),
            }
        )

    # ----------------------------------------------------------- operators
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
        """Finish the marked candidates: 'tune' gets the best split at its node (all such
        nodes routed in one pass), 'regrow' its subtree grown again greedily."""
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
        does not see; the regrown tree then competes on fitness like any other."""
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
        ).fit(self.X_train[rows], self.y_train[rows])
        tree = (f.copy(), t.copy(), m.copy())
        f, t, m = _operators.graft(tree, position, cart.tree_, self.x_max)
        return f, t, self._settle(f, m)

    def _candidates(self, columns):
        """Split-search candidates of ``columns``: ``(column, side, bins)``; a column with
        missing training values gives two, its missing values sent left, then right."""
        out = []
        for j in columns:
            if self.gaps[j]:
                left, right = missing_bins(self.bins[:, j], self.nan_rows[:, j], len(self.cuts[j]))
                out += [(j, True, left), (j, False, right)]
            else:
                out.append((j, True, self.bins[:, j]))
        return out

    def _best_splits(self, jobs):
        """For each ``(feature, threshold, missing, position, columns)``, the tree with the
        split at ``position`` of best training fitness over the cut points of ``columns``
        (and the two sides for missing values).

        The rows are routed around all the nodes in one vectorised pass."""
        routes = route_around_many(
            [(f, t, m, p) for f, t, m, p, _ in jobs], self.X_train, xp=self.evaluator.xp
        )
        out = []
        for (f, t, m, position, columns), route in zip(jobs, routes, strict=True):
            candidates = self._candidates(columns)
            scores = split_scores(
                f, position, route, [b for _, _, b in candidates],
                [len(self.cuts[j]) for j, _, _ in candidates], self.y_train, self.task,
                n_classes=self.n_classes,
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
        """LLM trees ``(feature, threshold, missing, stated)`` with the missing-value side of
        each split that did not state one set to the side of better training fitness.

        Top-down, one routing pass per level for all the trees; only splits on columns
        with missing training values are decided (elsewhere the side does not matter)."""
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
                    n_classes=self.n_classes,
                )
                m[p] = bool(scores[0, 0] >= scores[1, 0])
        return out

    def _novelty(self, state, cand_pred):
        """How much each candidate's training predictions differ from the population's, in [0, 1]."""
        pop = state["pred"]
        if self.task == "classification":
            votes = np.zeros((pop.shape[1], self.n_classes))
            rows = np.arange(pop.shape[1])
            for p in pop:
                votes[rows, p] += 1
            agree = votes[rows[None, :], cand_pred] / len(pop)
            return 1.0 - agree.mean(axis=1)
        scale = float(np.std(self.y_train)) or 1.0
        centre = pop.mean(axis=0)
        return np.minimum(np.abs(cand_pred - centre[None, :]).mean(axis=1) / scale, 1.0)

    def _choose(self, log_weights):
        # Host-side choice (a handful of weights), whatever the configured backend.
        weights = np.asarray(log_weights, dtype=np.float64)
        return int(gumbel_top_k(weights, 1, random_state=self.rng, xp=namespace_by_name("numpy"))[0])

    # --------------------------------------------------------------- LLM
    def _llm_active(self, state):
        return self.session.active and not state["llm_stats"]["budget_exceeded"]

    def _ask_all(self, jobs):
        """Send every prompt (in parallel with n_jobs threads); results in job order.

        Each result is ``("ok", response)``, ``("error", exception)`` or
        ``("skipped", None)`` (out of time, or another request of this
        generation failed for good: the rest are not sent). Only the sending
        happens in the threads; the answers go through the session in the
        caller's thread."""
        from tabsift.llm import LLMError, LLMResponseError

        stop = threading.Event()

        def work(job):
            prompt, n, logprobs = job
            if stop.is_set() or self.out_of_time():
                return ("skipped", None)
            limit = self.est.time_limit
            deadline = None if limit is None else self.start + limit
            try:
                return (
                    "ok",
                    _llm.request(self.est.llm, prompt, n, logprobs=logprobs, deadline=deadline),
                )
            except LLMResponseError as err:  # this prompt's reply only (e.g. refused)
                return ("error", err)
            except LLMError as err:  # outage, budget, replay miss: for good
                if self.out_of_time():
                    return ("skipped", None)  # the time limit ended the wait, not the server
                stop.set()
                return ("error", err)

        n_jobs = self.est.n_jobs
        if n_jobs is not None and n_jobs < 0:
            workers = os.cpu_count() or 1
        else:
            workers = n_jobs or 1
        if workers <= 1 or len(jobs) <= 1:
            return [work(job) for job in jobs]
        with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            return list(pool.map(work, jobs))

    def _take(self, results, stats):
        """Each prompt's valid trees (with their log-probabilities) through the session.

        Answers are taken before failures (a failure for good stops the session,
        and what was finished is kept). A reply whose choices give no valid tree
        is a rejection of the session, by the reason of its first choice. Returns
        ``(trees per prompt, rejected choices, errors)``."""
        from tabsift.llm import BudgetExceededError, LLMResponseError

        out = [[] for _ in results]
        rejected = errors = 0
        order = sorted(range(len(results)), key=lambda i: results[i][0] != "ok")
        for i in order:
            status, payload = results[i]
            if status == "skipped":
                continue
            if status == "error" and not isinstance(payload, LLMResponseError):
                errors += 1
                if isinstance(payload, BudgetExceededError):
                    stats["budget_exceeded"] = True

            def question(llm, status=status, payload=payload):
                if status == "error":
                    raise payload
                return payload

            def validate(response, i=i):
                nonlocal rejected
                reasons = []
                for text, logp, finish in _llm.replies(response):
                    tree, reason = self._parse(text, finish, stats)
                    if tree is None:
                        rejected += 1
                        reasons.append(reason)
                    else:
                        out[i].append((tree, logp))
                if not out[i]:
                    reason = reasons[0] if reasons else "unparsable"
                    raise LLMResponseError(
                        f"no valid tree in the {len(reasons)} choice(s) of the reply",
                        reason=reason,
                    )

            self.session.ask(question, validate=validate)
        return out, rejected, errors

    def _parse(self, text, finish, stats):
        """``(tree, None)`` for a valid tree, else ``(None, reason of the session)``."""
        if finish == "length":
            self.extra_stats["rejected_truncated"] += 1
            return None, "truncated"
        if finish == "content_filter":
            self.extra_stats["rejected_refused"] += 1
            return None, "refused"
        try:
            tree = text_to_arrays(text, self.schema)
        except TreeTextError as err:
            stats[f"rejected_{err.reason}"] += 1
            return None, "unparsable" if err.reason == "unparsable" else "invalid"
        stats["accepted"] += 1
        return tree, None

    def _learn_all(self, parsed):
        """The trees of each prompt with their missing-value sides learned where unstated."""
        learned = iter(self._learn_sides([tree for valid in parsed for tree, _ in valid]))
        return [[(next(learned), logp) for _, logp in valid] for valid in parsed]

    def _texts(self, state):
        labels = self.labels
        value = self.evaluator.refit(state["feature"], self._leaves(state))[0]
        if self.task == "classification":
            leaf = np.argmax(value, axis=2)
        else:  # back to the target's units
            leaf = value[..., 0] * self.est._y_scale + self.est._y_mean
        return [
            tree_to_text(*self._tree(state, k), leaf[k], self.names, labels=labels)
            for k in range(len(state["feature"]))
        ]

    def _leaves(self, state):
        return self.evaluator.leaves(*self._trees(state))

    # ---------------------------------------------------------- generation
    def _generation(self, state):
        """Offspring of one generation; None when the time limit cut it."""
        est = self.est
        stats = state["llm_stats"]
        cross_sets = self._parent_sets(state, est.n_crossover_prompts, by_fitness=True)
        mut_sets = self._parent_sets(state, est.n_mutation_prompts, by_fitness=False)
        cross_children, mut_choices = [], []
        rejected = errors = 0
        llm_counts = (0, 0)

        parsed = [[] for _ in range(len(cross_sets) + len(mut_sets))]
        if self._llm_active(state):
            usage0 = est.llm.usage
            texts = self._texts(state)
            header = _llm.prompt_header(self.context)
            jobs = []
            for parents in cross_sets:
                fit = state["train"][parents]
                target = fit.max() + est.alpha * (fit.max() - fit.min())
                prompt = _llm.crossover_prompt(
                    header, [texts[k] for k in parents], fit, target, self.est._metric()
                )
                jobs.append((prompt, est.n_crossover_completions, False))
            for parents in mut_sets:
                prompt = _llm.mutation_prompt(header, [texts[k] for k in parents])
                jobs.append((prompt, est.n_mutation_completions, True))
            results = self._ask_all(jobs)
            parsed, rejected, errors = self._take(results, stats)
            usage1 = est.llm.usage
            llm_counts = (
                usage1.requests - usage0.requests,
                usage1.total_tokens - usage0.total_tokens,
            )
            stats["requests"] += llm_counts[0]
            stats["tokens"] += llm_counts[1]
            stats["errors"] += errors
            if self.out_of_time():
                return None

        parsed = self._learn_all(parsed)
        cross_parsed, mut_parsed = parsed[: len(cross_sets)], parsed[len(cross_sets) :]

        # Crossover: LLM offspring first; the GP operator fills what the LLM did not give.
        for parents, valid in zip(cross_sets, cross_parsed, strict=True):
            trees = [tree for tree, _ in valid]
            missing = max(est.n_crossover_completions - len(trees), 0)
            self.session.fallback(missing)
            cross_children += trees + self._gp_crossover(state, parents, missing)

        # Mutation: one offspring per prompt, chosen among its candidates for novelty.
        pending = []
        for parents, llm_valid in zip(mut_sets, mut_parsed, strict=True):
            valid = [(*tree, "llm") for tree, _ in llm_valid]
            logps = [logp for _, logp in llm_valid]
            if valid and any(logp is None for logp in logps):
                # No (finite) log-probabilities: novelty is the substitute weight.
                self.extra_stats["mutation_without_logprobs"] += 1
            if not valid:
                self.session.fallback(1)
                valid = self._gp_mutation_candidates(state, parents, est.n_mutation_completions)
                logps = [None] * len(valid)
            pending.append((valid, logps))
        if self.out_of_time():
            return None
        flat = [c for valid, _ in pending for c in valid]
        resolved = self._resolve_tunes(flat) if flat else []
        if resolved:
            F, T, M = (np.stack(arrays) for arrays in zip(*resolved, strict=True))
            result = self.evaluator.evaluate(F, T, self._settle(F, M))
            novelty = self._novelty(state, result["pred"])
        start = 0
        for valid, logps in pending:
            block = slice(start, start + len(valid))
            log_w = _llm.mutation_log_weights(logps, novelty[block], est.tau)
            mut_choices.append(resolved[start + self._choose(log_w)])
            start += len(valid)
        if self.out_of_time():
            return None
        children = cross_children + mut_choices
        return children, rejected, errors, llm_counts

    def evolve(self):
        est = self.est
        state = self.state
        todo = est.n_generations - state["generation"]
        bar = progress(total=max(todo, 0), verbose=est.verbose, desc=f"{est._owner()} generations", unit="gen")
        while state["generation"] < est.n_generations:
            if self.out_of_time():
                self.timed_out = True
                break
            out = self._generation(state)
            if out is None:
                # The cut generation is dropped: the state stays that of the last full one,
                # the same as the checkpoint, so a resumed run continues exactly.
                self.timed_out = True
                rng = np.random.RandomState()
                rng.set_state(state["rng"])
                self.rng = rng
                break
            children, rejected, errors, llm_counts = out
            F, T, M = self._trees(state)
            if children:
                F, T, M = (
                    np.concatenate([old, np.stack(new)])
                    for old, new in zip((F, T, M), zip(*children, strict=True), strict=True)
                )
            M = self._settle(F, M)
            result = self.evaluator.evaluate(F, T, M)
            keep = self._select(F, result, est.population_size)
            unique = len({p.tobytes() for p in result["pred"]})
            state["generation"] += 1
            self._adopt(state, F[keep], T[keep], M[keep], result, keep)
            self._record(
                state,
                offspring=len(children),
                rejected=rejected,
                duplicates=len(F) - unique,
                llm=(llm_counts[0], llm_counts[1], errors),
            )
            state["rng"] = self.rng.get_state()
            self._save_checkpoint_state(state)
            bar.update(1)
            bar.set_postfix(best=f"{state['train'].max():.4f}")
        bar.close()
        return state

    def _save_checkpoint_state(self, state):
        # Training predictions are recomputed on resume: they would dominate the file.
        self.est._save_checkpoint({k: v for k, v in state.items() if k != "pred"})

    # ------------------------------------------------------------- trees
    def make_tree(self, feature, threshold, missing, X=None, y=None):
        """A :class:`Tree` with leaves fit on ``(X, y)`` (the training rows by default).

        A split on a column without missing values in the training rows sends missing
        values to its child with more rows (scikit-learn's rule): its side was never
        tested, so the printed tree shows the most likely one. Then (classification)
        splits whose two leaves predict their parent's class are merged, and each
        threshold becomes the shortest decimal that sends the rows of ``X`` the same
        way; neither changes a prediction on those rows. Only the returned tree is
        touched: the population and the checkpoint keep the evolved arrays."""
        X = self.X_train if X is None else X
        y = self.y_train if y is None else y
        F, T, M = feature[None].copy(), threshold[None].copy(), missing[None].copy()

        def refit():
            leaves = apply_population(F, T, X, missing=M)
            if self.task == "classification":
                return refit_classification(F, leaves, y, self.n_classes)
            return refit_regression(F, leaves, y)

        while True:
            value, counts = refit()
            # A split that sends no row one way only makes the printed tree longer.
            f, t, m, changed = _operators.lift_empty_split((F[0], T[0], M[0]), counts[0])
            if not changed:
                break
            F, T, M = f[None], t[None], m[None]
        internal = np.flatnonzero(reachable(F[0]) & (F[0] >= 0))
        untested = internal[~self.gaps[F[0, internal]]]
        if untested.size:
            M[0, untested] = counts[0, 2 * untested + 1] >= counts[0, 2 * untested + 2]
            value, counts = refit()
        if self.task == "classification":
            # A split whose leaves predict one class only makes the printed tree longer.
            *_, merged = merge_same_class_leaves(F[0], T[0], M[0], value[0])
            if merged:
                value, counts = refit()
        if self.task == "regression":
            value = value * self.est._y_scale + self.est._y_mean
        classes = self.est.classes_ if self.task == "classification" else None
        tree = Tree(
            F[0], T[0], value[0], counts[0], self.names, classes=classes, missing_go_to_left=M[0]
        )
        return round_thresholds(tree, X)
