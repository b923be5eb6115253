"""The fit shared by EvolvedTreeClassifier and EvolvedTreeRegressor: input, weights, run.

:class:`_EvolvedTreeBase` checks and one-hot encodes the input, weighs the
rows, resumes from a checkpoint or a warm start and runs the evolution
(:class:`~tabsift.tree._evolution.Run`); the read-outs of the fitted tree
(``apply``, ``decision_path``, ``export_text``, ``plot``, ...) come from
:mod:`tabsift.tree._evolved_readout`. The two public classes (``_evolved.py``)
add their targets and predictions.
"""

import hashlib
import numbers
import os

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import validate_data

from tabsift.table import (
    TableError,
    check_column_names,
    check_target,
    describe_columns,
    is_plain_numeric,
)
from tabsift.tree._checkpoint import remove_stale_temp_files, write_checkpoint
from tabsift.tree._checkpoint_read import read_checkpoint
from tabsift.tree._encoding import OneHotLayout, check_no_infinity
from tabsift.tree._evolution import Run
from tabsift.tree._evolved_readout import _FittedTreeMixin
from tabsift.tree._importance import impurity_decrease
from tabsift.utils import VERBOSE_CONSTRAINT, Interval, StrOptions, check_row_weights, fit_context

_NO_Y = "no_validation"  # validate_data's marker for "no y given"


class _EvolvedTreeBase(_FittedTreeMixin, BaseEstimator):
    """Shared fit loop of the two estimators (see EvolvedTreeClassifier)."""

    _task = None

    _parameter_constraints = {
        "llm": "no_validation",  # an LLMClient or None, checked in fit
        "on_llm_error": [StrOptions({"fallback", "raise"})],
        "max_depth": [Interval(numbers.Integral, 1, 10, closed="both")],
        "population_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_generations": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_parents": [Interval(numbers.Integral, 2, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "tau": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_crossover_prompts": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_crossover_completions": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_mutation_prompts": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_mutation_completions": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "task_description": [str, None],
        "feature_descriptions": [dict, None],
        "time_limit": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "checkpoint": [str, os.PathLike, None],
        "warm_start": ["boolean"],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": VERBOSE_CONSTRAINT,
    }

    def __init__(
        self,
        llm=None,
        *,
        on_llm_error="fallback",
        max_depth=3,
        population_size=25,
        n_generations=25,
        n_parents=4,
        alpha=0.1,
        tau=10.0,
        n_crossover_prompts=12,
        n_crossover_completions=4,
        n_mutation_prompts=12,
        n_mutation_completions=6,
        validation_fraction=0.2,
        task_description=None,
        feature_descriptions=None,
        time_limit=None,
        checkpoint=None,
        warm_start=False,
        n_jobs=None,
        random_state=None,
        verbose="auto",
    ):
        self.llm = llm
        self.on_llm_error = on_llm_error
        self.max_depth = max_depth
        self.population_size = population_size
        self.n_generations = n_generations
        self.n_parents = n_parents
        self.alpha = alpha
        self.tau = tau
        self.n_crossover_prompts = n_crossover_prompts
        self.n_crossover_completions = n_crossover_completions
        self.n_mutation_prompts = n_mutation_prompts
        self.n_mutation_completions = n_mutation_completions
        self.validation_fraction = validation_fraction
        self.task_description = task_description
        self.feature_descriptions = feature_descriptions
        self.time_limit = time_limit
        self.checkpoint = checkpoint
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ input
    def _owner(self):
        return type(self).__name__

    def _validate_X(self, X, *, reset, y=_NO_Y):
        """Float matrix of the columns trees split on (and y when given).

        Plain numeric input is read as floats, as before; other tables go
        through the table layer's column kinds: numbers stored as text are
        numbers, placeholders such as ``?`` are missing (NaN), categorical and
        text columns are one-hot encoded (:class:`OneHotLayout`).
        """
        owner = self._owner()
        layout = None if reset else getattr(self, "_layout", None)
        kwargs = dict(reset=reset, ensure_min_samples=2 if reset else 1, ensure_all_finite=False)
        with_y = {} if y is _NO_Y else {"y": y}
        if is_plain_numeric(X) and (reset or not layout.categorical):
            out = validate_data(self, X, dtype=np.float64, **with_y, **kwargs)
            X_enc, y = out if with_y else (out, y)
            if reset:
                self._layout = OneHotLayout.numeric(self._input_names(X_enc.shape[1]))
            check_no_infinity(X_enc, self._layout.names, owner=owner)
        else:
            out = validate_data(self, X, dtype=None, **with_y, **kwargs)
            X_obj, y = out if with_y else (out, y)
            # A DataFrame is read column by column, keeping its dtypes (categories, dates).
            table = X if type(X).__module__.startswith("pandas") else X_obj
            if reset:
                infos = describe_columns(table)
                self._layout = OneHotLayout(table, self._input_names(len(infos)), infos)
            X_enc = self._layout.transform(table, owner=owner)
        if reset and X_enc.shape[1] and np.isnan(X_enc).all(axis=0).all():
            raise TableError(
                f"X has no usable column: every value is missing; {owner} needs at least one "
                "column with values."
            )
        return X_enc if y is _NO_Y else (X_enc, y)

    def _input_names(self, d):
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{j}" for j in range(d)]

    def _check_llm(self):
        if self.llm is None:
            return
        if not (hasattr(self.llm, "chat") and hasattr(self.llm, "usage")):
            raise TypeError(
                f"llm must be a tabsift.llm.LLMClient (or None for the LLM-free genetic "
                f"operators); found {type(self.llm).__name__}."
            )

    def _check_descriptions(self, names, n_inputs):
        descriptions = self.feature_descriptions or {}
        known = set(names) | set(self._input_names(n_inputs))
        unknown = [k for k in descriptions if str(k) not in known]
        if unknown:
            raise ValueError(
                f"feature_descriptions names unknown column(s) {unknown[:5]}; the columns are "
                f"{sorted(known)[:10]}. Use the column names of X as keys."
            )
        return {str(k): str(v) for k, v in descriptions.items()}

    def _check_weights(self, sample_weight, X, y):
        """Return the rows' weights (None when none are given), ``class_weight`` included."""
        class_weight = getattr(self, "class_weight", None)
        class_weights = None if class_weight is None else compute_sample_weight(class_weight, y)
        return check_row_weights(sample_weight, X, owner=self._owner(), class_weights=class_weights)

    # ----------------------------------------------------------------- target
    def _encode_target(self, y):
        raise NotImplementedError

    def _standardise(self, y_enc, sample_weight):
        return y_enc

    def _target_summary(self, y_enc, sample_weight=None):
        raise NotImplementedError

    def _metric(self, *, weighted=False):
        name = "balanced accuracy" if self._task == "classification" else "R^2"
        return f"sample-weighted {name}" if weighted else name

    # -------------------------------------------------------------- the run
    def _fingerprint(self, X, y, sample_weight=None):
        # class_weight is part of the weights, hashed with them.
        params = {
            k: v
            for k, v in self.get_params(deep=False).items()
            if k
            not in ("llm", "on_llm_error", "n_generations", "time_limit", "checkpoint",
                    "warm_start", "n_jobs", "verbose", "class_weight")
        }
        if not isinstance(params["random_state"], (numbers.Integral, type(None))):
            params["random_state"] = "instance"
        digest = hashlib.sha256()
        digest.update(type(self).__name__.encode())
        digest.update(repr(sorted(params.items(), key=lambda kv: kv[0])).encode())
        digest.update(np.ascontiguousarray(X).tobytes())
        digest.update(np.ascontiguousarray(y).tobytes())
        if sample_weight is not None:
            digest.update(b"sample_weight")
            digest.update(np.ascontiguousarray(sample_weight).tobytes())
        return digest.hexdigest()

    def _load_checkpoint(self, fingerprint, n_samples):
        """Return the state in ``checkpoint``, checked against this fit (None when there is no file).

        The file is data only (see :mod:`tabsift.tree._checkpoint`); a pickle or a file
        that fails any check raises :class:`~tabsift.tree._checkpoint.CheckpointError`.
        """
        path = os.fspath(self.checkpoint)
        remove_stale_temp_files(path)
        if not os.path.lexists(path):
            return None
        expect = {
            "n_samples": n_samples,
            "n_features": len(self.feature_names_),
            "max_depth": self.max_depth,
            "population_size": self.population_size,
            "validation_fraction": self.validation_fraction,
        }
        return read_checkpoint(
            path, estimator=self._owner(), fingerprint=fingerprint, expect=expect
        )

    def _save_checkpoint(self, state):
        if self.checkpoint is not None:
            write_checkpoint(os.fspath(self.checkpoint), state, estimator=self._owner())

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Evolve a population of trees and keep the best one in ``tree_``.

        With ``sample_weight``, a row of integer weight ``k`` counts as ``k``
        copies of it wherever rows are counted: the fitness (weighted balanced
        accuracy or weighted R^2), the leaves (weighted class frequencies or
        weighted means), the split searches, the forest and the CART regrowth,
        the merging of leaves, ``feature_importances_`` and the scores and
        label distribution shown to the LLM. Rows of weight 0 are dropped
        before the run (the same as not passing them). The validation split
        and the forest's bootstraps are drawn over rows, each row keeping its
        weight, so a weighted fit is not the same run as one on repeated rows;
        the fitness of a given tree and its leaves are exactly the same.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Any table: numeric columns (NaN for missing values), numbers
            stored as text (placeholders such as ``?`` read as missing), and
            text or category columns, which are one-hot encoded (splits on
            ``"column=category"``).
        y : array-like of shape (n_samples,)
            Class labels or a numeric target, without missing values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row (None: 1 each); multiplied by the
            weights of ``class_weight`` for the classifier.

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        TableError
            If ``X`` has duplicate column names, infinite values or no column
            with values, or ``y`` has missing values.
        ValueError
            If ``checkpoint`` names a file that cannot be resumed from: one of
            another run or checkpoint schema, a pickle (never loaded), or a
            damaged or inconsistent file. The message names the file; delete
            it or pass another path to start afresh. Also if ``sample_weight``
            has negative or non-finite values, or fewer than two positive ones.
        """
        self._check_llm()
        check_column_names(X, owner=self._owner())
        if y is not None:
            check_target(y, owner=self._owner())
        X, y = self._validate_X(X, reset=True, y=y)
        sample_weight = self._check_weights(sample_weight, X, y)
        y_enc = self._encode_target(y)
        if sample_weight is not None:
            # A row of weight 0 is as if absent: the run never sees it.
            kept = sample_weight > 0
            if kept.sum() < 2:
                raise ValueError(
                    f"sample_weight has {int(kept.sum())} positive value(s); "
                    f"{self._owner()} needs at least two rows of positive weight."
                )
            if not kept.all():
                X, y_enc, sample_weight = X[kept], y_enc[kept], sample_weight[kept]
            if (sample_weight == 1).all():
                # One per row is no weighting: the same run (scikit-learn's forest draws
                # its bootstraps differently as soon as it is given weights).
                sample_weight = None
        y_enc = self._standardise(y_enc, sample_weight)
        names = self._layout.names
        n_inputs = self.n_features_in_
        descriptions = self._check_descriptions(names, n_inputs)
        self.feature_names_ = names
        fingerprint = self._fingerprint(X, y_enc, sample_weight)

        state = source = None
        if self.checkpoint is not None:
            state = self._load_checkpoint(fingerprint, len(y_enc))
            source = None if state is None else os.fspath(self.checkpoint)
        if state is None and self.warm_start and getattr(self, "_state", None) is not None:
            if self._state["fingerprint"] == fingerprint:
                state = self._state

        run = Run(
            self, X, y_enc, names, descriptions, fingerprint, state, source=source,
            sample_weight=sample_weight,
        )
        state = run.evolve()
        # Kept for warm_start; the training predictions are recomputed when needed.
        self._state = {k: v for k, v in state.items() if k != "pred"}
        self._finish(run, state, X, y_enc, sample_weight)
        return self

    def _finish(self, run, state, X, y_enc, sample_weight=None):
        hof = state["hof"]
        score = np.where(np.isnan(hof["val"]), hof["train"], (hof["train"] + hof["val"]) / 2)
        best = int(np.argmax(score))
        self.tree_ = run.make_tree(
            hof["feature"][best], hof["threshold"][best], hof["missing"][best], X, y_enc,
            sample_weight,
        )
        self.hall_of_fame_ = [
            {
                "tree": run.make_tree(hof["feature"][k], hof["threshold"][k], hof["missing"][k]),
                "train_fitness": float(hof["train"][k]),
                "validation_fitness": float(hof["val"][k]),
                "generation": int(hof["generation"][k]),
            }
            for k in np.argsort(-score, kind="stable")
        ]
        n_classes = len(self.classes_) if self._task == "classification" else None
        by_column = impurity_decrease(self.tree_, X, y_enc, n_classes, sample_weight)
        importances = np.bincount(
            self._layout.input_of, weights=by_column, minlength=self.n_features_in_
        )
        total = importances.sum()
        self.feature_importances_ = importances / total if total > 0 else importances
        self.history_ = [dict(row) for row in state["history"]]
        self.n_generations_ = int(state["generation"])
        self.llm_stats_ = {**state["llm_stats"], **run.extra_stats}
        self.stopped_by_time_limit_ = bool(run.timed_out)
        run.session.finish(self, what="the genetic operators")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # Missing values are routed at each split; text and category columns are one-hot
        # encoded.
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        # Seeded through random_state in the LLM-free mode; an LLM's replies are not.
        tags.non_deterministic = self.llm is not None
        return tags
