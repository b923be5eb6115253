"""The population of an evolution: its state, selection, hall of fame and history.

:class:`PopulationMixin` is the part of :class:`~tabsift.tree._evolution.Run`
that keeps the population: the first forest, survivors chosen by
validation fitness, the hall of fame of distinct best trees, and one history
record per generation.
"""


import numpy as np

import tabsift.tree._operators as _operators
from tabsift.tree._checkpoint import CHECKPOINT_VERSION, HALL_OF_FAME_SIZE
from tabsift.tree._positions import reachable
from tabsift.tree._text import REJECTION_REASONS


class PopulationMixin:
    """Population state of a :class:`~tabsift.tree._evolution.Run` (see the module)."""

    def _trees(self, state):
        return state["feature"], state["threshold"], state["missing"]

    def _settle(self, F, M):
        """Return ``M`` with True wherever the side does not matter (in place).

        The side does not matter at leaves and at splits on a column without
        missing values in the training rows.
        """
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
            sample_weight=self.w_train,
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
        """Return the indices of the best trees, without trees whose training predictions repeat."""
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

