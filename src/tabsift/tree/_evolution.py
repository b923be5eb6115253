"""The evolution behind EvolvedTree*: population, operators, LLM calls, selection, state.

One :class:`Run` holds the data of one ``fit`` and evolves the population generation by
generation; its ``state`` (a dict of arrays and counters, no estimator) is what checkpoints
and ``warm_start`` keep, so a resumed run continues exactly.

A tree is three arrays ``(feature, threshold, missing)``; ``missing`` (missing values go
to the ``<=`` child) is part of what evolves where the training rows have missing values
in a node's column, and True elsewhere, so that trees differing only there are one tree.

Rows may carry weights (``sample_weight``, all positive: the estimators drop rows of
weight 0 before a run). The validation split is drawn over rows, each row keeping its
weight; the forest, the refits, the fitness, the split searches and CART regrowth all
weigh the rows.
"""

import time

import numpy as np
from sklearn.utils import check_random_state

import tabsift.tree._llm as _llm
import tabsift.tree._operators as _operators
from tabsift.backend import get_namespace
from tabsift.tree._checkpoint_read import check_fitness, split_sizes
from tabsift.tree._population import (
    Evaluator,
    apply_population,
    refit_classification,
    refit_regression,
)
from tabsift.tree._positions import merge_same_class_leaves, n_positions, reachable
from tabsift.tree._run_operators import OperatorsMixin
from tabsift.tree._run_population import PopulationMixin
from tabsift.tree._text import TreeSchema, TreeTextError, text_to_arrays, tree_to_text
from tabsift.tree._thresholds import round_thresholds
from tabsift.tree._tree import Tree
from tabsift.utils import plain, progress


def present_range(X):
    """Smallest and largest value present per column (NaN for a column without values)."""
    present = ~np.isnan(X)
    has = present.any(axis=0)
    low = np.where(has, np.min(np.where(present, X, np.inf), axis=0), np.nan)
    high = np.where(has, np.max(np.where(present, X, -np.inf), axis=0), np.nan)
    return low, high


class Run(PopulationMixin, OperatorsMixin):
    """One evolution: the data, the operators and the state saved between generations."""

    def __init__(
        self, est, X, y, names, descriptions, fingerprint, state, *, source=None,
        sample_weight=None,
    ):
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
        self.sample_weight = sample_weight
        w = sample_weight
        self.w_train = None if w is None else w[train_idx]
        w_va = None if w is None or not len(val_idx) else w[val_idx]
        self.evaluator = Evaluator(
            X_tr, y_tr, X_va, y_va, self.task, n_classes=self.n_classes, xp=get_namespace(X),
            w_train=self.w_train, w_val=w_va,
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
            "total_weight": None if w is None else float(np.sum(self.w_train)),
            "n_features": len(names),
            "target_summary": est._target_summary(y_tr, self.w_train),
            "feature_names": names,
            "x_min": self.x_min,
            "x_max": self.x_max,
            "n_missing": self.nan_rows.sum(axis=0),
            "feature_descriptions": descriptions,
            "max_depth": est.max_depth,
        }
        self.labels = (
            [plain(c) for c in est.classes_]
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

    # --------------------------------------------------------------- LLM
    def _llm_active(self, state):
        return self.session.active and not state["llm_stats"]["budget_exceeded"]

    def _ask_all(self, jobs):
        """Send every prompt (in parallel with n_jobs threads); results in job order."""
        limit = self.est.time_limit
        return _llm.ask_all(
            self.est.llm,
            jobs,
            n_jobs=self.est.n_jobs,
            out_of_time=self.out_of_time,
            deadline=None if limit is None else self.start + limit,
        )

    def _take(self, results, stats):
        """Each prompt's valid trees (with their log-probabilities) through the session."""
        return _llm.take_replies(self.session, results, stats, self._parse)

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
        """Return the trees of each prompt with their missing-value sides learned where unstated."""
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
                    header, [texts[k] for k in parents], fit, target,
                    self.est._metric(weighted=self.w_train is not None),
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
    def make_tree(self, feature, threshold, missing, X=None, y=None, sample_weight=None):
        """Return a :class:`Tree` with leaves fit on ``(X, y)``, weighted by ``sample_weight``.

        By default the leaves are fit on the training rows, with their weights.
        A split on a column without missing values in the training rows sends missing
        values to its child with more rows, by weight (scikit-learn's rule): its side was never
        tested, so the printed tree shows the most likely one. Then (classification)
        splits whose two leaves predict their parent's class are merged, and each
        threshold becomes the shortest decimal that sends the rows of ``X`` the same
        way; neither changes a prediction on those rows. Only the returned tree is
        touched: the population and the checkpoint keep the evolved arrays.
        """
        if X is None:
            X, y, w = self.X_train, self.y_train, self.w_train
        else:
            w = sample_weight
        F, T, M = feature[None].copy(), threshold[None].copy(), missing[None].copy()

        def refit(weights=w):
            leaves = apply_population(F, T, X, missing=M)
            if self.task == "classification":
                return refit_classification(F, leaves, y, self.n_classes, weights)
            return refit_regression(F, leaves, y, weights)

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
        # Rows (all of positive weight) per node; ``counts`` holds their weight totals.
        rows = counts if w is None else refit(None)[1]
        tree = Tree(
            F[0], T[0], value[0], rows[0], self.names, classes=classes, missing_go_to_left=M[0],
            weighted_n_node_samples=counts[0],
        )
        return round_thresholds(tree, X)
