"""The evolution behind EvolvedTree*: population, operators, LLM calls, selection, state.

One :class:`Run` holds the data of one ``fit`` and evolves the population generation by
generation; its ``state`` (a dict of arrays and counters, no estimator) is what checkpoints
and ``warm_start`` keep, so a resumed run continues exactly.
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.utils import check_random_state

from tabsift.backend import get_namespace, gumbel_top_k, namespace_by_name
from tabsift.tree import _llm, _operators
from tabsift.tree._population import Evaluator, route_around_many, split_scores
from tabsift.tree._text import REJECTION_REASONS, TreeSchema, TreeTextError, text_to_arrays
from tabsift.tree._tree import Tree, level, n_positions, reachable
from tabsift.utils import progress

# Trees kept in the hall of fame (best validation fitness seen over the run).
HALL_OF_FAME_SIZE = 10
CHECKPOINT_VERSION = 1


class Run:
    """One evolution: the data, the operators and the state saved between generations."""

    def __init__(self, est, X, y, names, descriptions, fingerprint, state):
        self.est = est
        self.task = est._task
        self.timed_out = False
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
        # Per row and column, the number of cut points below the value (for split search).
        self.bins = np.column_stack(
            [np.searchsorted(c, X_tr[:, j], side="left") for j, c in enumerate(self.cuts)]
        ) if X_tr.shape[1] else np.zeros((len(X_tr), 0), dtype=np.intp)
        self.usable = np.array([j for j, c in enumerate(self.cuts) if len(c) and np.ptp(X_tr[:, j]) > 0])
        if self.usable.size == 0:
            self.usable = np.arange(X.shape[1])
        self.x_min, self.x_max = X.min(axis=0), X.max(axis=0)
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
            self.state["pred"] = self.evaluator.evaluate(
                self.state["feature"], self.state["threshold"]
            )["pred"]

    def _split(self, n, rng):
        order = rng.permutation(n)
        n_val = int(round(self.est.validation_fraction * n))
        if n_val < 1 or n - n_val < 2:
            return np.sort(order), np.array([], dtype=np.intp)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def elapsed(self):
        return time.monotonic() - self.start

    def out_of_time(self):
        limit = self.est.time_limit
        return limit is not None and self.elapsed() > limit

    # --------------------------------------------------------- population
    def _initial_state(self, fingerprint):
        est = self.est
        seed = int(self.rng.randint(np.iinfo(np.int32).max))
        F, T = _operators.forest_population(
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
                "train": np.zeros(0),
                "val": np.zeros(0),
                "generation": np.zeros(0, dtype=np.int64),
            },
        }
        result = self.evaluator.evaluate(F, T)
        keep = self._select(F, T, result, len(F))
        self._adopt(state, F[keep], T[keep], result, keep)
        self._record(state, offspring=0, rejected=0, duplicates=len(F) - len(keep), llm=(0, 0, 0))
        state["rng"] = self.rng.get_state()
        self._save_checkpoint_state(state)
        return state

    def _select(self, F, T, result, n_keep):
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

    def _adopt(self, state, F, T, result, keep):
        state["feature"], state["threshold"] = F, T
        state["train"], state["val"] = result["train"][keep], result["val"][keep]
        state["pred"] = result["pred"][keep]
        self._update_hall_of_fame(state)

    def _update_hall_of_fame(self, state):
        hof = state["hof"]
        F = np.concatenate([hof["feature"], state["feature"]])
        T = np.concatenate([hof["threshold"], state["threshold"]])
        train = np.concatenate([hof["train"], state["train"]])
        val = np.concatenate([hof["val"], state["val"]])
        gen = np.concatenate([hof["generation"], np.full(len(state["feature"]), state["generation"])])
        score = np.where(np.isnan(val), train, val)
        order = np.lexsort((np.arange(len(F)), -train, -score))
        keep, seen = [], set()
        for k in order:
            key = F[k].tobytes() + T[k].tobytes()
            if key not in seen:
                seen.add(key)
                keep.append(k)
            if len(keep) == HALL_OF_FAME_SIZE:
                break
        state["hof"] = {
            "feature": F[keep],
            "threshold": T[keep],
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
        return state["feature"][k], state["threshold"][k]

    def _gp_crossover(self, state, parents, n_children):
        children = []
        for _ in range(n_children):
            if len(parents) >= 2:
                a, b = self.rng.choice(parents, size=2, replace=False)
            else:
                a = b = parents[0]
            f, t = _operators.subtree_crossover(self._tree(state, a), self._tree(state, b), self.rng)
            # Fitness-guided, as the LLM is asked to beat its parents: the child's split at
            # one random node is moved to the best cut point of its column.
            internal = np.flatnonzero(reachable(f) & (f >= 0))
            kind = "crossover"
            if internal.size:
                i = int(self.rng.choice(internal))
                kind = ("tune", i, (int(f[i]),))
            children.append((f, t, kind))
        return self._resolve_tunes(children)

    def _gp_mutation_candidates(self, state, parents, n_candidates):
        out = []
        for _ in range(n_candidates):
            k = int(self.rng.choice(parents))
            out.append(_operators.mutate(self._tree(state, k), self.rng, self.cuts, self.usable))
        return out

    def _resolve_tunes(self, candidates):
        """Finish the marked candidates: 'tune' gets the best split at its node (all such
        nodes routed in one pass), 'regrow' its subtree grown again greedily."""
        def tune(kind):
            return isinstance(kind, tuple) and kind[0] == "tune"

        jobs = [(f, t, kind[1], kind[2]) for f, t, kind in candidates if tune(kind)]
        tuned = iter(self._best_splits(jobs))
        out = []
        for f, t, kind in candidates:
            if tune(kind):
                out.append(next(tuned))
            elif isinstance(kind, tuple):
                out.append(self._regrow(f, t, kind[1]))
            else:
                out.append((f, t))
        return out

    def _regrow(self, f, t, position):
        """Grow the subtree at ``position`` again with CART on the rows reaching it.

        Greedy impurity splits (random columns per split, as in a random forest) find
        structure that whole-tree accuracy, flat for a lone split among many classes,
        does not see; the regrown tree then competes on fitness like any other."""
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        from tabsift.tree._population import apply_population

        rows = apply_population(f[None], t[None], self.X_train, xp=self.evaluator.xp)[0] == position
        depth = self.est.max_depth - level(position)
        if rows.sum() < 2 or depth < 1:
            return f, t
        model = DecisionTreeClassifier if self.task == "classification" else DecisionTreeRegressor
        cart = model(
            max_depth=depth,
            max_features="sqrt" if self.rng.rand() < 0.5 else None,
            random_state=int(self.rng.randint(np.iinfo(np.int32).max)),
        ).fit(self.X_train[rows], self.y_train[rows])
        return _operators.graft(f.copy(), t.copy(), position, cart.tree_)

    def _best_splits(self, jobs):
        """For each ``(feature, threshold, position, columns)``, the tree with the split at
        ``position`` of best training fitness over the cut points of ``columns``.

        The rows are routed around all the nodes in one vectorised pass."""
        routes = route_around_many([(f, t, p) for f, t, p, _ in jobs], self.X_train, xp=self.evaluator.xp)
        out = []
        for (f, t, position, columns), route in zip(jobs, routes, strict=True):
            scores = split_scores(
                f, position, route, [self.bins[:, j] for j in columns],
                [len(self.cuts[j]) for j in columns], self.y_train, self.task,
                n_classes=self.n_classes,
            )
            # The first best (column order, then cut order), as a loop would find it.
            j, k = np.unravel_index(int(np.argmax(scores)), scores.shape)
            best_f, best_t = f.copy(), t.copy()
            best_f[position] = columns[j]
            best_t[position] = self.cuts[columns[j]][k]
            out.append((best_f, best_t))
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
        return self.est.llm is not None and not state["llm_stats"]["budget_exceeded"]

    def _ask_all(self, jobs):
        """Send every prompt (in parallel with n_jobs threads); results in job order."""
        from tabsift.llm import BudgetExceededError, LLMError

        def work(job):
            prompt, n, logprobs = job
            if self.out_of_time():
                return ("skipped", None, 0)
            try:
                replies, tokens = _llm.ask(self.est.llm, prompt, n, logprobs=logprobs)
                return ("ok", replies, tokens)
            except BudgetExceededError as err:
                return ("budget", str(err), 0)
            except LLMError as err:
                return ("error", str(err), 0)

        n_jobs = self.est.n_jobs
        if n_jobs is not None and n_jobs < 0:
            workers = os.cpu_count() or 1
        else:
            workers = n_jobs or 1
        if workers <= 1 or len(jobs) <= 1:
            return [work(job) for job in jobs]
        with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            return list(pool.map(work, jobs))

    def _parse(self, text, stats):
        try:
            f, t = text_to_arrays(text, self.schema)
        except TreeTextError as err:
            stats[f"rejected_{err.reason}"] += 1
            return None
        stats["accepted"] += 1
        return f, t

    def _texts(self, state):
        labels = self.labels
        value = self.evaluator.refit(state["feature"], self._leaves(state))[0]
        if self.task == "classification":
            leaf = np.argmax(value, axis=2)
        else:  # back to the target's units
            leaf = value[..., 0] * self.est._y_scale + self.est._y_mean
        from tabsift.tree._text import tree_to_text

        return [
            tree_to_text(state["feature"][k], state["threshold"][k], leaf[k], self.names, labels=labels)
            for k in range(len(state["feature"]))
        ]

    def _leaves(self, state):
        from tabsift.tree._population import apply_population

        return apply_population(state["feature"], state["threshold"], self.X_train)

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
        cross_replies = [None] * len(cross_sets)
        mut_replies = [None] * len(mut_sets)

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
            for i, (status, payload, _) in enumerate(results):
                if status == "ok":
                    if i < len(cross_sets):
                        cross_replies[i] = payload
                    else:
                        mut_replies[i - len(cross_sets)] = payload
                elif status == "budget":
                    stats["budget_exceeded"] = True
                    errors += 1
                elif status == "error":
                    errors += 1
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

        # Crossover: LLM offspring first; the GP operator fills what the LLM did not give.
        for parents, replies in zip(cross_sets, cross_replies, strict=True):
            valid = []
            for text, _ in replies or []:
                tree = self._parse(text, stats)
                if tree is None:
                    rejected += 1
                else:
                    valid.append(tree)
            missing = est.n_crossover_completions - len(valid)
            cross_children += valid + self._gp_crossover(state, parents, missing)

        # Mutation: one offspring per prompt, chosen among its candidates for novelty.
        pending = []
        for parents, replies in zip(mut_sets, mut_replies, strict=True):
            valid, logps = [], []
            for text, logp in replies or []:
                tree = self._parse(text, stats)
                if tree is None:
                    rejected += 1
                else:
                    valid.append(tree + ("llm",))
                    logps.append(logp)
            if not valid:
                valid = self._gp_mutation_candidates(state, parents, est.n_mutation_completions)
                logps = [None] * len(valid)
            pending.append((valid, logps))
        if self.out_of_time():
            return None
        flat = [c for valid, _ in pending for c in valid]
        resolved = self._resolve_tunes(flat) if flat else []
        if resolved:
            F = np.stack([f for f, _ in resolved])
            T = np.stack([t for _, t in resolved])
            result = self.evaluator.evaluate(F, T)
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
            F = np.concatenate([state["feature"], np.stack([c[0] for c in children])]) if children else state["feature"]
            T = np.concatenate([state["threshold"], np.stack([c[1] for c in children])]) if children else state["threshold"]
            result = self.evaluator.evaluate(F, T)
            keep = self._select(F, T, result, est.population_size)
            unique = len({p.tobytes() for p in result["pred"]})
            state["generation"] += 1
            self._adopt(state, F[keep], T[keep], result, keep)
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
    def make_tree(self, feature, threshold, X=None, y=None):
        """A :class:`Tree` with leaves fit on ``(X, y)`` (the training rows by default)."""
        X = self.X_train if X is None else X
        y = self.y_train if y is None else y
        F, T = feature[None].copy(), threshold[None].copy()
        from tabsift.tree._population import (
            apply_population,
            refit_classification,
            refit_regression,
        )

        while True:
            leaves = apply_population(F, T, X)
            if self.task == "classification":
                value, counts = refit_classification(F, leaves, y, self.n_classes)
            else:
                value, counts = refit_regression(F, leaves, y)
            # A split that sends no row one way only makes the printed tree longer.
            f, t, changed = _operators.lift_empty_split(F[0], T[0], counts[0])
            if not changed:
                break
            F, T = f[None], t[None]
        if self.task == "regression":
            value = value * self.est._y_scale + self.est._y_mean
        classes = self.est.classes_ if self.task == "classification" else None
        return Tree(F[0], T[0], value[0], counts[0], self.names, classes=classes)
