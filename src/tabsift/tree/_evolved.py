"""EvolvedTreeClassifier and EvolvedTreeRegressor: decision trees evolved by an LLM or by GP."""

import hashlib
import numbers
import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from tabsift.table import (
    TableError,
    check_column_names,
    check_target,
    describe_columns,
    infer_task,
    is_plain_numeric,
)
from tabsift.tree._checkpoint import read_checkpoint, remove_stale_temp_files, write_checkpoint
from tabsift.tree._encoding import OneHotLayout, check_no_infinity
from tabsift.tree._evolution import Run
from tabsift.tree._tree import impurity_decrease

_NO_Y = "no_validation"  # validate_data's marker for "no y given"


class _EvolvedTreeBase(BaseEstimator):
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
        "verbose": ["verbose"],
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
        verbose=0,
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

    # ----------------------------------------------------------------- target
    def _encode_target(self, y):
        raise NotImplementedError

    def _target_summary(self, y_enc):
        raise NotImplementedError

    def _metric(self):
        return "balanced accuracy" if self._task == "classification" else "R^2"

    # -------------------------------------------------------------- the run
    def _fingerprint(self, X, y):
        params = {
            k: v
            for k, v in self.get_params(deep=False).items()
            if k
            not in ("llm", "on_llm_error", "n_generations", "time_limit", "checkpoint",
                    "warm_start", "n_jobs", "verbose")
        }
        if not isinstance(params["random_state"], (numbers.Integral, type(None))):
            params["random_state"] = "instance"
        digest = hashlib.sha256()
        digest.update(type(self).__name__.encode())
        digest.update(repr(sorted(params.items(), key=lambda kv: kv[0])).encode())
        digest.update(np.ascontiguousarray(X).tobytes())
        digest.update(np.ascontiguousarray(y).tobytes())
        return digest.hexdigest()

    def _load_checkpoint(self, fingerprint, n_samples):
        """The state in ``checkpoint``, checked against this fit (None when there is no file).

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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Evolve a population of trees and keep the best one in ``tree_``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Any table: numeric columns (NaN for missing values), numbers
            stored as text (placeholders such as ``?`` read as missing), and
            text or category columns, which are one-hot encoded (splits on
            ``"column=category"``).
        y : array-like of shape (n_samples,)
            Class labels or a numeric target, without missing values.

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
            it or pass another path to start afresh.
        """
        self._check_llm()
        check_column_names(X, owner=self._owner())
        if y is not None:
            check_target(y, owner=self._owner())
        X, y = self._validate_X(X, reset=True, y=y)
        y_enc = self._encode_target(y)
        names = self._layout.names
        n_inputs = self.n_features_in_
        descriptions = self._check_descriptions(names, n_inputs)
        self.feature_names_ = names
        fingerprint = self._fingerprint(X, y_enc)

        state = source = None
        if self.checkpoint is not None:
            state = self._load_checkpoint(fingerprint, len(y_enc))
            source = None if state is None else os.fspath(self.checkpoint)
        if state is None and self.warm_start and getattr(self, "_state", None) is not None:
            if self._state["fingerprint"] == fingerprint:
                state = self._state

        run = Run(self, X, y_enc, names, descriptions, fingerprint, state, source=source)
        state = run.evolve()
        # Kept for warm_start; the training predictions are recomputed when needed.
        self._state = {k: v for k, v in state.items() if k != "pred"}
        self._finish(run, state, X, y_enc)
        return self

    def _finish(self, run, state, X, y_enc):
        hof = state["hof"]
        score = np.where(np.isnan(hof["val"]), hof["train"], (hof["train"] + hof["val"]) / 2)
        best = int(np.argmax(score))
        self.tree_ = run.make_tree(
            hof["feature"][best], hof["threshold"][best], hof["missing"][best], X, y_enc
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
        by_column = impurity_decrease(self.tree_, X, y_enc, n_classes)
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

    # -------------------------------------------------------------- predict
    def _encoded(self, X):
        check_is_fitted(self, "tree_")
        return self._validate_X(X, reset=False)

    def apply(self, X):
        """Return the index of the leaf of ``tree_`` each row reaches.

        Nodes are numbered by their position in ``tree_``'s arrays (the root
        is 0, the children of node ``i`` are ``2 i + 1`` and ``2 i + 2``), as
        in :meth:`decision_path`. A row with a missing value follows the side
        each split sends missing values to.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        leaves : ndarray of int of shape (n_samples,)

        Examples
        --------
        >>> from tabsift.datasets import make_planted_tree
        >>> from tabsift.tree import EvolvedTreeClassifier
        >>> data = make_planted_tree(n_samples=200, depth=1, noise=0.0, random_state=0)
        >>> clf = EvolvedTreeClassifier(max_depth=1, n_generations=2, random_state=0)
        >>> clf = clf.fit(data.data, data.target)
        >>> sorted(set(clf.apply(data.data).tolist()))
        [1, 2]
        """
        X = self._encoded(X)
        return self.tree_.apply(X)

    def decision_path(self, X):
        """Return the nodes of ``tree_`` each row passes through.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        indicator : scipy.sparse.csr_matrix of shape (n_samples, n_nodes)
            ``indicator[r, i]`` is 1 when row ``r`` goes through node ``i``;
            nodes are numbered as in :meth:`apply`, and ``n_nodes`` counts
            every position of the complete tree of depth ``max_depth``
            (those below a leaf are never reached).

        Examples
        --------
        >>> from tabsift.datasets import make_planted_tree
        >>> from tabsift.tree import EvolvedTreeClassifier
        >>> data = make_planted_tree(n_samples=200, depth=1, noise=0.0, random_state=0)
        >>> clf = EvolvedTreeClassifier(max_depth=1, n_generations=2, random_state=0)
        >>> clf = clf.fit(data.data, data.target)
        >>> path = clf.decision_path(data.data[:2])
        >>> path.shape, path.sum(axis=1).tolist()
        ((2, 3), [[2], [2]])
        """
        X = self._encoded(X)
        return self.tree_.decision_path(X)

    def get_depth(self):
        """Return the depth of ``tree_`` (0 for a single leaf).

        Returns
        -------
        depth : int

        Examples
        --------
        >>> from tabsift.datasets import make_planted_tree
        >>> from tabsift.tree import EvolvedTreeClassifier
        >>> data = make_planted_tree(n_samples=200, depth=1, noise=0.0, random_state=0)
        >>> clf = EvolvedTreeClassifier(max_depth=1, n_generations=2, random_state=0)
        >>> clf.fit(data.data, data.target).get_depth()
        1
        """
        check_is_fitted(self, "tree_")
        return self.tree_.depth

    def get_n_leaves(self):
        """Return the number of leaves of ``tree_``.

        Returns
        -------
        n_leaves : int

        Examples
        --------
        >>> from tabsift.datasets import make_planted_tree
        >>> from tabsift.tree import EvolvedTreeClassifier
        >>> data = make_planted_tree(n_samples=200, depth=1, noise=0.0, random_state=0)
        >>> clf = EvolvedTreeClassifier(max_depth=1, n_generations=2, random_state=0)
        >>> clf.fit(data.data, data.target).get_n_leaves()
        2
        """
        check_is_fitted(self, "tree_")
        return self.tree_.n_leaves

    def export_text(self, *, decimals=3):
        """Text drawing of ``tree_`` (see :meth:`Tree.export_text`).

        Parameters
        ----------
        decimals : int, default=3

        Returns
        -------
        text : str
        """
        check_is_fitted(self, "tree_")
        return self.tree_.export_text(decimals=decimals)

    def to_dict(self):
        """``tree_`` as LLEGO's nested dict (see :meth:`Tree.to_dict`).

        Returns
        -------
        tree : dict
        """
        check_is_fitted(self, "tree_")
        return self.tree_.to_dict()

    def plot(self, ax=None, **kwargs):
        """Draw ``tree_`` with matplotlib (see :meth:`Tree.plot`).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`Tree.plot`.

        Returns
        -------
        ax : matplotlib Axes
        """
        check_is_fitted(self, "tree_")
        return self.tree_.plot(ax=ax, **kwargs)

    def plot_history(self, ax=None):
        """Plot the best and mean fitness of the population per generation.

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        ax : matplotlib Axes
        """
        check_is_fitted(self, "history_")
        from tabsift.tree._plot import plot_history

        return plot_history(self.history_, metric=self._metric(), ax=ax)

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


class EvolvedTreeClassifier(ClassifierMixin, _EvolvedTreeBase):
    """A decision tree evolved by an LLM (LLEGO) or, without one, by genetic programming.

    A population of trees of depth at most ``max_depth`` starts from the
    trees of a random forest fit on half of the rows. Each generation makes
    offspring by fitness-guided crossover (parents shown with their fitness,
    the LLM asked for a tree reaching ``f* = f_max + alpha (f_max - f_min)``)
    and diversity-guided mutation (``n_mutation_completions`` candidates per
    prompt, one kept with weight ``exp(-logp / tau)``, favouring unlikely
    trees). Parents and offspring are pooled, trees with identical training
    predictions dropped and the ``population_size`` fittest kept (ties go
    to the tree with fewer leaves). The returned tree is the hall-of-fame
    member with the best mean of training and validation fitness.

    Without ``llm`` the same jobs are done by genetic operators: subtree
    crossover within each fitness-sampled parent set (the child's split at one
    node then moved to its column's best cut point), and mutations (change a
    split's feature or threshold, grow a leaf, prune a split, search one
    node's best split, or regrow a subtree with CART on the rows reaching
    it); the most novel of each prompt's candidates is kept as below. So the estimator works
    offline and is reproducible with ``random_state``.

    Fitness is balanced accuracy on the training rows. Leaves are always refit
    on the data (class frequencies, each shrunk toward its parent's by one
    pseudo-row), never taken from an LLM's reply, so ``predict_proba`` is
    calibrated to the data.

    Missing values are accepted, as by scikit-learn's trees: each split sends
    rows with a missing value in its column to one side, learned on the
    training rows (by the forest, the split search, a mutation that flips it,
    or, for an LLM's tree written without a side, the side of better
    training fitness). A split on a column without missing values in the
    training rows sends them to its child with more rows. The side is shown as
    ``or missing`` on its branch in ``export_text``, ``to_dict`` and ``plot``.

    Parameters
    ----------
    llm : LLMClient, default=None
        The model that does crossover and mutation
        (:class:`tabsift.llm.LLMClient`). None uses the genetic operators.
        Replies that hold no valid tree are dropped and counted, and the
        genetic operators fill in. The answer is the last tree of a reply
        (after the client removed any reasoning), read in linear time; a
        reply over 200,000 characters is rejected unread.
    on_llm_error : {"fallback", "raise"}, default="fallback"
        What a failure for good of the LLM does (a request that still fails
        after the client's retries: outage, budget spent, replay cache miss).
        ``"fallback"``: the trees the LLM already made are kept, no more
        requests are sent, the genetic operators do the rest of the run, and
        ONE :class:`~tabsift.llm.LLMFallbackWarning` says so
        (``llm_report_.failed`` is True). ``"raise"``: the error propagates
        out of ``fit`` (a checkpoint keeps the last complete generation).
    max_depth : int, default=3
        Maximum depth of every tree, 1 to 10.
    population_size : int, default=25
        Trees kept after each generation.
    n_generations : int, default=25
        Generations to run (0 keeps the best tree of the random forest).
    n_parents : int, default=4
        Parents shown in each prompt (or given to each genetic operator).
    alpha : float, default=0.1
        Crossover's target fitness is ``f_max + alpha (f_max - f_min)`` over
        the prompt's parents.
    tau : float, default=10.0
        Mutation's temperature: a candidate's weight is ``exp(s / tau)`` with
        ``s`` its surprise: ``-logp``, the total token log-probability of the
        reply, when the server returns log-probabilities; otherwise (the
        server refused or dropped them, or sent values that are not finite;
        counted in ``llm_stats_["mutation_without_logprobs"]``) the
        substitute ``100 * novelty``, where novelty (in [0, 1]) is the fraction of
        population trees disagreeing with the candidate's training predictions
        (classification) or their mean distance to the population's mean
        prediction in target standard deviations (regression, capped at 1).
    n_crossover_prompts : int, default=12
        Crossover prompts per generation (each a set of parents).
    n_crossover_completions : int, default=4
        Offspring asked for per crossover prompt.
    n_mutation_prompts : int, default=12
        Mutation prompts per generation; each gives one offspring.
    n_mutation_completions : int, default=6
        Candidates per mutation prompt, among which one is kept.
    validation_fraction : float, default=0.2
        Fraction of rows held out to rank the hall of fame (0: none, the
        training fitness is used). The final tree's leaves are refit on all
        rows.
    task_description : str, default=None
        What the task is about, in words; it starts every prompt.
    feature_descriptions : dict, default=None
        ``{column name: description}`` shown in the prompts.
    time_limit : float, default=None
        Seconds the evolution may take. Checked before each generation and
        between its steps; a generation the limit cuts is discarded, so the
        result is the state after the last complete generation.
    checkpoint : str or path, default=None
        A file the state is written to (atomically) after each generation,
        e.g. ``"run.npz"``: a zip archive of a JSON document and ``.npy``
        arrays, data only (nothing in it is executed when read). When the
        file exists and was written for the same data and parameters
        (``n_generations``, ``time_limit``, ``llm``, ``n_jobs`` and
        ``verbose`` may differ), ``fit`` resumes from it: with an int
        ``random_state`` and no LLM, an interrupted and resumed run gives the
        same tree as an uninterrupted one. The file is checked in full
        first; one of another run, a pickle (the format of earlier
        versions, never loaded) or a damaged file raises ``ValueError``
        naming it.
    warm_start : bool, default=False
        When True and ``fit`` is called again on the same data with a larger
        ``n_generations``, evolution continues from the previous state.
    n_jobs : int, default=None
        Threads sending LLM requests in parallel (None: 1; -1: one per CPU).
        The genetic operators are vectorised and do not use it.
    random_state : int, RandomState instance or None, default=None
        Seeds the forest, the operators and the validation split.
    verbose : int, default=0
        ``1`` shows a progress bar over generations.

    Attributes
    ----------
    tree_ : Tree
        The chosen tree, with leaves refit on all rows. Splits whose two
        leaves predict their parent's class are merged into that parent (no
        prediction changes), and each threshold is the shortest decimal
        between the largest training value sent left and the smallest sent
        right, so ``export_text`` and ``to_dict`` print ``5.6``, not
        ``5.644999980926514``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    feature_importances_ : ndarray of shape (`n_features_in_`,)
        Impurity-based importance of each input column, as scikit-learn's
        trees compute it: the total decrease of Gini impurity brought by the
        splits on that column, each weighted by the share of training rows
        reaching it, normalised to sum to 1 (all zeros when ``tree_`` is a
        single leaf). Computed on all training rows; the one-hot columns of a
        categorical input are summed back into that input.
    hall_of_fame_ : list of dict
        The best trees seen (by validation fitness): ``tree``,
        ``train_fitness``, ``validation_fitness``, ``generation``, sorted by
        the mean of both fitnesses.
    history_ : list of dict
        One row per generation (0 is the initial population): best and mean
        training and validation fitness, population size, offspring made,
        LLM offspring rejected, duplicates dropped, LLM requests, tokens and
        errors, and seconds since the start.
    llm_stats_ : dict
        Totals over the run: ``requests``, ``tokens``, ``errors``,
        ``accepted`` (valid LLM trees), ``budget_exceeded``, and
        ``rejected_<reason>`` for each reason a reply's choice was dropped
        (``unparsable``, ``malformed``, ``unknown_feature``,
        ``threshold_out_of_range``, ``not_complementary``, ``too_deep``).
        For this ``fit`` only (not kept in checkpoints): ``rejected_truncated``
        (cut at the length limit), ``rejected_refused`` (content filter) and
        ``mutation_without_logprobs``, the mutation prompts whose reply had no
        finite log-probabilities, where novelty replaced ``-logp`` (see
        ``tau``).
    llm_report_ : LLMReport
        What the LLM did in this ``fit``, the same record in every LLM
        estimator (:class:`tabsift.llm.LLMReport`): ``requests`` (prompts
        sent), ``accepted`` (replies that gave at least one valid tree),
        ``rejected`` (replies that gave none, by reason: ``"truncated"``,
        ``"refused"``, ``"unparsable"``, ``"invalid"``), ``fallbacks``
        (offspring the genetic operators made instead of the LLM),
        ``errors`` and ``failed``. All zeros when ``llm`` is None.
    n_generations_ : int
        Generations completed (fewer than ``n_generations`` when the time
        limit stopped the run).
    stopped_by_time_limit_ : bool
        Whether ``time_limit`` ended the run.
    feature_names_ : list of str
        Names of the columns the tree splits on: the input columns, with each
        categorical column replaced by one ``"column=category"`` 0/1 column.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the input columns, when ``X`` has string column names.

    See Also
    --------
    EvolvedTreeRegressor : The same for a numeric target.
    sklearn.tree.DecisionTreeClassifier : The greedy CART tree.

    Notes
    -----
    Column kinds come from :func:`tabsift.table.describe_columns`: numbers
    stored as text (e.g. a column with ``?`` for missing values, as UCI's
    files come) are split on as numbers, with the placeholders as missing
    values. Categorical and text columns are one-hot encoded: a split
    ``color=red <= 0.5`` sends rows whose colour is not red to the left.
    Missing, unseen and rare categories (beyond the 20 most frequent) are 0 in
    every one of their columns. Infinite values are an error naming the
    column.

    References
    ----------
    .. [1] T. Liu, N. Huynh, M. van der Schaar, "Decision Tree Induction
       Through LLMs via Semantically-Aware Evolution", ICLR 2025.

    Examples
    --------
    >>> from tabsift.datasets import make_planted_tree
    >>> from tabsift.tree import EvolvedTreeClassifier
    >>> data = make_planted_tree(n_samples=400, depth=2, noise=0.0, random_state=0)
    >>> clf = EvolvedTreeClassifier(max_depth=2, n_generations=5, random_state=0)
    >>> clf = clf.fit(data.data, data.target)
    >>> float(clf.score(data.data, data.target)) > 0.95
    True
    >>> clf.tree_.depth
    2

    A raw table: a number column stored as text with ``?`` for missing values.

    >>> import pandas as pd
    >>> raw = pd.DataFrame({"size": ["1", "2", "?", "8", "9", "?"] * 10,
    ...                     "color": ["red", "blue", "red", None, "blue", "red"] * 10})
    >>> y = [0, 0, 1, 1, 1, 1] * 10
    >>> clf = EvolvedTreeClassifier(max_depth=1, n_generations=2, random_state=0).fit(raw, y)
    >>> print(clf.export_text())
    |--- size <= 5.0
    |   |--- class: 0 (n=20, p=0.97)
    |--- size > 5.0 or missing
    |   |--- class: 1 (n=40, p=0.99)
    """

    _task = "classification"

    def _encode_target(self, y):
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        return y_enc.astype(np.int64)

    def _target_summary(self, y_enc):
        counts = np.bincount(y_enc, minlength=len(self.classes_)) / max(len(y_enc), 1)
        shares = ", ".join(f"{c}: {p:.1%}" for c, p in zip(self.classes_, counts, strict=True))
        return f"The target is a class label; label distribution: {shares}."

    def predict_proba(self, X):
        """Class frequencies of the leaf each row reaches.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        leaves = self.apply(X)
        return self.tree_.value[leaves]

    def predict(self, X):
        """Most frequent class of the leaf each row reaches.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class EvolvedTreeRegressor(RegressorMixin, _EvolvedTreeBase):
    """A regression tree evolved by an LLM (LLEGO) or, without one, by genetic programming.

    The same algorithm as :class:`EvolvedTreeClassifier`, with fitness
    ``R^2 = 1 - MSE / Var(y)`` on the training rows (LLEGO's MSE on the
    standardised target, turned so higher is better) and leaves refit to the
    mean target of their rows (an empty leaf takes its parent's mean).

    Parameters
    ----------
    llm : LLMClient, default=None
        See :class:`EvolvedTreeClassifier`.
    on_llm_error : {"fallback", "raise"}, default="fallback"
    max_depth : int, default=3
    population_size : int, default=25
    n_generations : int, default=25
    n_parents : int, default=4
    alpha : float, default=0.1
    tau : float, default=10.0
    n_crossover_prompts : int, default=12
    n_crossover_completions : int, default=4
    n_mutation_prompts : int, default=12
    n_mutation_completions : int, default=6
    validation_fraction : float, default=0.2
    task_description : str, default=None
    feature_descriptions : dict, default=None
    time_limit : float, default=None
    checkpoint : str or path, default=None
    warm_start : bool, default=False
    n_jobs : int, default=None
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        All as in :class:`EvolvedTreeClassifier`.

    Attributes
    ----------
    tree_ : Tree
        The chosen tree; leaf values are mean targets; thresholds as in
        :class:`EvolvedTreeClassifier`.
    feature_importances_ : ndarray of shape (`n_features_in_`,)
        As in :class:`EvolvedTreeClassifier`, with the decrease of variance
        (mean squared error) in place of Gini impurity.
    hall_of_fame_ : list of dict
    history_ : list of dict
    llm_stats_ : dict
    llm_report_ : LLMReport
    n_generations_ : int
    stopped_by_time_limit_ : bool
    feature_names_ : list of str
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        All as in :class:`EvolvedTreeClassifier`.

    See Also
    --------
    EvolvedTreeClassifier : The same for class labels.
    sklearn.tree.DecisionTreeRegressor : The greedy CART tree.

    References
    ----------
    .. [1] T. Liu, N. Huynh, M. van der Schaar, "Decision Tree Induction
       Through LLMs via Semantically-Aware Evolution", ICLR 2025.

    Examples
    --------
    >>> from tabsift.datasets import make_planted_tree
    >>> from tabsift.tree import EvolvedTreeRegressor
    >>> data = make_planted_tree(n_samples=400, depth=2, task="regression", random_state=0)
    >>> reg = EvolvedTreeRegressor(max_depth=2, n_generations=5, random_state=0)
    >>> reg = reg.fit(data.data, data.target)
    >>> float(reg.score(data.data, data.target)) > 0.9
    True
    """

    _task = "regression"

    def _encode_target(self, y):
        infer_task(y, "regression", owner=self._owner(), classifier="EvolvedTreeClassifier")
        y = np.asarray(y, dtype=np.float64)
        if not np.isfinite(y).all():
            raise ValueError(
                f"y contains {int((~np.isfinite(y)).sum())} NaN or infinite values; drop those "
                "rows or impute the target first."
            )
        # Fitness and leaves work on the standardised target (LLEGO's MSE scale).
        self._y_mean = float(y.mean())
        scale = float(y.std())
        self._y_scale = scale if scale > 0 else 1.0
        return (y - self._y_mean) / self._y_scale

    def _target_summary(self, y_enc):
        y = y_enc * self._y_scale + self._y_mean
        return (
            f"The target is numeric: mean {y.mean():.4g}, standard deviation {y.std():.4g}, "
            f"range [{y.min():.4g}, {y.max():.4g}]."
        )

    def predict(self, X):
        """Mean target of the leaf each row reaches.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        leaves = self.apply(X)
        return self.tree_.value[leaves, 0]
