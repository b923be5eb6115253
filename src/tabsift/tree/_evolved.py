"""EvolvedTreeClassifier: a decision tree evolved by an LLM or by genetic programming."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets

from tabsift.tree._evolved_base import _EvolvedTreeBase
from tabsift.utils import StrOptions


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
        rows. The split is drawn over rows; each row keeps its weight.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight`` (as in
        :class:`sklearn.tree.DecisionTreeClassifier`): ``{label: weight}``,
        or ``"balanced"`` for ``n_samples / (n_classes * count(label))``.
        The fitness, balanced accuracy, already gives each class the same
        say, so class weights act through the leaves: a leaf predicts the
        class of largest weighted share, so ``"balanced"`` makes leaves
        predict rare classes more often (and ``predict_proba`` reports the
        weighted shares). None: every class weighs 1.
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
        Threads sending LLM requests in parallel (None: 1; -1: one per CPU;
        other negative values as in joblib, ``-2``: all CPUs but one).
        The genetic operators are vectorised and do not use it.
    random_state : int, RandomState instance or None, default=None
        Seeds the forest, the operators and the validation split.
    verbose : int, bool or "auto", default="auto"
        Progress bar over generations: ``"auto"`` shows it once the fit has run a couple of
        seconds in a notebook or terminal, ``0`` never, ``1`` at once (the
        rule is in :mod:`tabsift.utils`).

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
        reaching it (by ``sample_weight`` when given), normalised to sum to 1 (all zeros when ``tree_`` is a
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

    Weighted rows (a weight of 2 counts a row twice); ``class_weight``
    multiplies into them.

    >>> import numpy as np
    >>> w = np.where(data.target == 0, 2.0, 1.0)
    >>> clf = EvolvedTreeClassifier(max_depth=2, n_generations=2, random_state=0)
    >>> clf = clf.fit(data.data, data.target, sample_weight=w)
    >>> bool(clf.tree_.weighted_n_node_samples[0] == w.sum())
    True

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

    _parameter_constraints = {
        **_EvolvedTreeBase._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
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
        class_weight=None,
        task_description=None,
        feature_descriptions=None,
        time_limit=None,
        checkpoint=None,
        warm_start=False,
        n_jobs=None,
        random_state=None,
        verbose="auto",
    ):
        super().__init__(
            llm,
            on_llm_error=on_llm_error,
            max_depth=max_depth,
            population_size=population_size,
            n_generations=n_generations,
            n_parents=n_parents,
            alpha=alpha,
            tau=tau,
            n_crossover_prompts=n_crossover_prompts,
            n_crossover_completions=n_crossover_completions,
            n_mutation_prompts=n_mutation_prompts,
            n_mutation_completions=n_mutation_completions,
            validation_fraction=validation_fraction,
            task_description=task_description,
            feature_descriptions=feature_descriptions,
            time_limit=time_limit,
            checkpoint=checkpoint,
            warm_start=warm_start,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight

    def _encode_target(self, y):
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        return y_enc.astype(np.int64)

    def _target_summary(self, y_enc, sample_weight=None):
        counts = np.bincount(y_enc, weights=sample_weight, minlength=len(self.classes_))
        counts = counts / max(counts.sum(), np.finfo(np.float64).tiny)
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
