"""ImportanceResampler: keep the pool rows that look like a target sample (DSIR)."""

import copy
import numbers

import numpy as np
from imblearn.base import BaseSampler
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from tabsift.backend import is_dask_collection
from tabsift.sampling._coreset_input import kept_per_class, one_hot_to_labels
from tabsift.sampling._dsir_core import (
    bottom_k,
    gumbel_noise,
    kl_divergence,
    sample_ranks,
    smoothed,
    top_keys,
)
from tabsift.sampling._dsir_input import DataSummary, ResamplerInputs, take
from tabsift.sampling._dsir_model import Tokens, WeightModel, effective_n_jobs
from tabsift.sampling._dsir_plot import plot_token_shift
from tabsift.sampling._hashing import RowHasher
from tabsift.utils import (
    VERBOSE_CONSTRAINT,
    Interval,
    RealNotInt,
    StrOptions,
    fit_context,
    progress,
)

# Bucket names for plot() come from the target and from this many pool-sample rows.
_NAME_ROWS = 2000


class ImportanceResampler(ResamplerInputs, BaseSampler):
    """Select the pool rows whose distribution matches a target sample (DSIR).

    Data selection with importance resampling (Xie et al. 2023), for tables
    and for text. Every row of the pool ``X`` and of the unlabelled
    ``target`` sample becomes a bag of hashed tokens: ``column=bin`` for
    numeric columns (quantile bins fitted on the pool), ``column=value`` for
    categorical columns, lower-cased word unigrams and bigrams for text
    columns (the paper's features) and, with ``pair_tokens=True``, one token
    per pair of non-text columns. Importance weights ``p_target(x) /
    p_pool(x)`` are estimated on these features and ``n_samples`` rows are
    drawn without replacement with probability proportional to the weights
    (Gumbel top-k), or the ``n_samples`` heaviest rows are kept
    (``top_k=True``).

    A sampler with imbalanced-learn's contract: ``fit_resample(X, y)``
    returns the selected rows, ``sample_indices_`` their positions in ``X``,
    and the resampler can be a step of an :class:`imblearn.pipeline.Pipeline`.
    ``score_samples`` gives the log importance weights of any rows, so a pool
    too large for memory can be scored chunk by chunk; a Dask DataFrame pool
    is processed partition by partition in parallel and gives exactly the
    rows the in-memory path gives for the same seed.

    Parameters
    ----------
    target : DataFrame, array of shape (n_target, n_features) or sequence of str
        The target sample (no labels). A DataFrame's columns must all be
        columns of the pool (the pool may have more, e.g. a label column:
        only the target's columns are featurised); an array's columns match
        the pool's by position; a sequence of strings is one text per row
        (the pool is then one text column, or a sequence of strings too).
    n_samples : int or float, default=0.1
        Rows to select: an int, or a float in (0, 1] for that fraction of the
        pool (rounded, at least 1).
    estimator : {"generative", "discriminative"}, default="generative"
        ``"generative"``: the paper's bag-of-buckets model; a row's log
        weight is ``sum_b count(x, b) * (log p_target(b) - log p_pool(b))``
        with additively smoothed bucket distributions. ``"discriminative"``:
        a logistic regression separating target rows from pool rows; its
        class-size corrected log odds are the log weights (better when the
        shift lies in interactions between columns).
    num_buckets : int, default=10000
        Hash buckets (the paper's default).
    n_bins : int, default=10
        Quantile bins per numeric column; missing values get a bin of their
        own.
    text_columns : "auto", list of str or None, default="auto"
        Columns tokenised as text. ``"auto"``: non-numeric columns whose
        values average at least three words; the other non-numeric columns
        are categories. ``None``: no text columns.
    pair_tokens : bool, default=False
        Also hash one token per pair of non-text columns (``x0=bin_2 &
        channel=web``), so that the generative model sees pairwise
        interactions. Costs one token per pair and row.
    smoothing : float, default=0.1
        Pseudo-count added to every bucket of the pool and target
        distributions (and of the selection's, for ``kl_reduction_``). Keep
        ``smoothing * num_buckets`` well below the target's number of tokens
        (rows x tokens per row), or every weight tends to 1.
    top_k : bool, default=False
        Keep the ``n_samples`` largest weights instead of sampling.
    replacement : bool, default=False
        Sample with replacement (a row may be picked several times); needed
        when ``n_samples`` exceeds the pool.
    fit_sample_size : int or None, default=100000
        Pool rows used to fit the quantile bins and the pool distribution (a
        pseudo-random sample fixed by the row indices, the same for every
        path). ``None`` uses every row. Every pool row is still scored.
    chunk_size : int, default=50000
        Rows featurised at once: bounds the memory of the features.
    n_jobs : int or None, default=None
        Worker processes that featurise and score the pool's chunks
        (``concurrent.futures``): ``None`` or 1 works in this process, -1
        uses every core. The selection is the same for any value; the pool's
        chunks travel to the workers pickled, so it pays off on text pools
        (tokenising is the expensive part) more than on small tables.
    dask_client : str or None, default=None
        For a Dask DataFrame pool: ``None`` uses Dask's current scheduler (an
        active ``distributed.Client``, else local threads); ``"local"``
        starts a local ``distributed`` cluster of one single-threaded worker
        process per core for the call; any other string is the address of a
        running scheduler (``"tcp://host:8786"``).
    random_state : int, RandomState instance or None, default=None
        Seed of the Gumbel noise (and of sampling with replacement).
    verbose : int, bool or "auto", default="auto"
        Progress bars over the passes: ``"auto"`` shows them once a pass has run a
        couple of seconds in a notebook or terminal, ``0`` never, ``1`` at once.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected,)
        Positions of the selected rows in the pool, ascending (repeated when
        sampling with replacement).
    sampling_strategy_ : dict
        Set by ``fit_resample``: ``{class: rows kept}`` when ``y`` holds class
        labels, else empty (imbalanced-learn's attribute; a selector records
        what it kept, it does not balance classes).
    log_importance_weights_ : ndarray of shape (n_pool,)
        Log importance weight of every pool row.
    kl_reduction_ : float
        ``KL(target || pool) - KL(target || selection)`` of the hashed-token
        distributions (nats): how much closer to the target the selection is.
    kl_target_pool_, kl_target_selected_ : float
        The two divergences.
    pool_distribution_, target_distribution_, selected_distribution_ : ndarray of shape (num_buckets,)
        Smoothed hashed-token distributions.
    feature_columns_ : list of str
        The pool columns that were featurised (the target's columns).
    column_kinds_ : dict
        ``{column: "numeric" | "categorical" | "text"}``.
    n_features_in_ : int
        Number of pool columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Pool column names, when they are all strings.

    See Also
    --------
    tabsift.backend.gumbel_top_k : The sampling step on its own.

    Notes
    -----
    ``fit_resample(X, y=None)`` returns ``(X_selected, None)``, like
    imbalanced-learn's ``FunctionSampler(validate=False)``: the pool needs no
    labels. imbalanced-learn's own samplers require ``y``.

    References
    ----------
    .. [1] S. M. Xie, S. Santurkar, T. Ma and P. Liang, "Data Selection for
       Language Models via Importance Resampling", NeurIPS 2023.

    Examples
    --------
    >>> from tabsift.datasets import make_domain_shift
    >>> from tabsift.sampling import ImportanceResampler
    >>> data = make_domain_shift(n_pool=2000, n_target=200, random_state=0)
    >>> (data.pool_domain == data.target_domain).mean()  # the target's domain in the pool
    np.float64(0.124)
    >>> sampler = ImportanceResampler(data.target, n_samples=100, random_state=0)
    >>> X_sel, _ = sampler.fit_resample(data.pool)
    >>> X_sel.shape
    (100, 8)
    >>> (data.pool_domain.iloc[sampler.sample_indices_] == data.target_domain).mean()
    np.float64(1.0)
    >>> bool(sampler.kl_reduction_ > 0.5 * sampler.kl_target_pool_)
    True
    """

    _required_parameters = ["target"]
    # imbalanced-learn: the sampler neither balances nor reads y (it is carried along).
    _sampling_type = "bypass"

    _parameter_constraints = {
        "target": ["array-like"],
        "n_samples": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
        ],
        "estimator": [StrOptions({"generative", "discriminative"})],
        "num_buckets": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_bins": [Interval(numbers.Integral, 2, None, closed="left")],
        "text_columns": [StrOptions({"auto"}), list, tuple, None],
        "pair_tokens": ["boolean"],
        "smoothing": [Interval(numbers.Real, 0, None, closed="neither")],
        "top_k": ["boolean"],
        "replacement": ["boolean"],
        "fit_sample_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_jobs": [numbers.Integral, None],
        "dask_client": [str, None],
        "random_state": ["random_state"],
        "verbose": VERBOSE_CONSTRAINT,
    }

    def __init__(
        self,
        target,
        *,
        n_samples=0.1,
        estimator="generative",
        num_buckets=10_000,
        n_bins=10,
        text_columns="auto",
        pair_tokens=False,
        smoothing=0.1,
        top_k=False,
        replacement=False,
        fit_sample_size=100_000,
        chunk_size=50_000,
        n_jobs=None,
        dask_client=None,
        random_state=None,
        verbose="auto",
    ):
        self.target = target
        self.n_samples = n_samples
        self.estimator = estimator
        self.num_buckets = num_buckets
        self.n_bins = n_bins
        self.text_columns = text_columns
        self.pair_tokens = pair_tokens
        self.smoothing = smoothing
        self.top_k = top_k
        self.replacement = replacement
        self.fit_sample_size = fit_sample_size
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs
        self.dask_client = dask_client
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------- the model
    def _new_model(self, sample, columns):
        """Return a weight model whose features (column kinds, quantile bins) are fitted on ``sample``."""
        hasher = RowHasher(
            num_buckets=self.num_buckets,
            n_bins=self.n_bins,
            text_columns=self.text_columns,
            pair_tokens=self.pair_tokens,
        )
        hasher.fit(sample[columns])
        self.column_kinds_ = dict(hasher.kinds_)
        return WeightModel(hasher, columns, self.estimator, self.smoothing, self.chunk_size)

    def _fit_weights(self, model, chunks, target):
        """Fit the weight model on the pool sample's tokens (``[(start, Tokens)]``) and the target.

        Readable bucket names for ``plot()``: the target's tokens, then those of
        the sample's first ``_NAME_ROWS`` rows (brought back with their chunks).
        """
        names = {}
        target_tokens = model.tokens(target, names=names)
        for _, tokens in chunks:
            for bucket, text in (tokens.names or {}).items():
                names.setdefault(bucket, text)
        sample_tokens = Tokens.join(chunks, sum(tokens.n_rows for _, tokens in chunks))
        model.fit(sample_tokens, target_tokens)
        self.model_ = model
        self.bucket_names_ = names
        self.pool_distribution_ = model.pool_distribution
        self.target_distribution_ = model.target_distribution
        self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return model

    def _fit_model(self, sample, target):
        """Fit features and weights on the pool sample (the Dask and streaming paths)."""
        model = self._new_model(sample, list(target.columns))
        chunks = model.chunk_tokens(sample, self._n_jobs(), name_rows=_NAME_ROWS)
        return self._fit_weights(model, chunks, target)

    def _n_jobs(self):
        return effective_n_jobs(self.n_jobs)

    def _select(self, log_weights):
        """Positions of the selected rows, ascending, from every pool row's log weight."""
        n = len(log_weights)
        k = self._n_to_select(n)
        if self.replacement:
            rng = np.random.default_rng([self._seed, 1])
            p = np.exp(log_weights - log_weights.max())
            return np.sort(rng.choice(n, size=k, replace=True, p=p / p.sum()))
        keys = log_weights if self.top_k else log_weights + gumbel_noise(self._seed, 0, n)
        return np.sort(top_keys(keys, np.arange(n), k))

    def _finish(self, selected_counts_sum):
        self.selected_distribution_ = smoothed(selected_counts_sum, self.smoothing)
        self.kl_target_pool_ = kl_divergence(self.target_distribution_, self.pool_distribution_)
        self.kl_target_selected_ = kl_divergence(
            self.target_distribution_, self.selected_distribution_
        )
        self.kl_reduction_ = self.kl_target_pool_ - self.kl_target_selected_

    # ------------------------------------------------------------------- fitting
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Estimate importance weights of the pool rows and select rows.

        Parameters
        ----------
        X : DataFrame, array of shape (n_pool, n_features), sequence of str or Dask DataFrame
            The pool.
        y : None
            Ignored.

        Returns
        -------
        self : ImportanceResampler
        """
        if is_dask_collection(X):
            from tabsift.sampling._dsir_dask import fit_dask

            self._selected_rows = fit_dask(self, X)
            return self
        pool = self._pool_frame(X, reset=True)
        target = self._target_frame(pool)
        n = len(pool)
        k_fit = n if self.fit_sample_size is None else self.fit_sample_size
        sample_pos = bottom_k(sample_ranks(0, n), np.arange(n), k_fit)
        sample = pool.iloc[sample_pos]
        model = self._new_model(sample, self.feature_columns_)
        with progress(total=n, verbose=self.verbose, desc="importance weights", unit="rows") as bar:
            if len(sample_pos) == n:
                # The sample is the whole pool: featurise every row once and keep the tokens.
                chunks = model.chunk_tokens(
                    pool, self._n_jobs(), progress=bar, name_rows=_NAME_ROWS
                )
                self._fit_weights(model, chunks, target)
                weights = [model.weights_of_tokens(tokens) for _, tokens in chunks]
                self.log_importance_weights_ = np.concatenate(weights)
            else:
                sample_chunks = model.chunk_tokens(sample, self._n_jobs(), name_rows=_NAME_ROWS)
                self._fit_weights(model, sample_chunks, target)
                self.log_importance_weights_ = model.log_weights(
                    pool, progress=bar, n_jobs=self._n_jobs()
                )
        self.sample_indices_ = self._select(self.log_importance_weights_)
        self._selected_rows = None
        multiplicity = np.bincount(self.sample_indices_, minlength=n).astype(float)
        if len(sample_pos) == n:
            counts = sum(
                tokens.bucket_counts(self.num_buckets, multiplicity[start : start + tokens.n_rows])
                for start, tokens in chunks
            )
        else:
            unique = np.flatnonzero(multiplicity)
            counts = model.bucket_counts(pool.iloc[unique], multiplicity[unique])
        self._finish(counts)
        return self

    def fit_resample(self, X, y=None):
        """Select rows of the pool ``X`` (and of ``y``).

        Parameters
        ----------
        X : DataFrame, array of shape (n_pool, n_features), sequence of str or Dask DataFrame
            The pool.
        y : array-like of shape (n_pool,) or None, default=None
            Labels of the pool rows, selected with them (not used to select).
            Must be None for a Dask pool (keep labels in a column instead).

        Returns
        -------
        X_resampled : same type as X (pandas DataFrame for a Dask pool)
            The selected rows, in pool order.
        y_resampled : array-like or None
            ``y`` at the same rows, or None when ``y`` is None.

        Examples
        --------
        >>> from tabsift.sampling import ImportanceResampler
        >>> pool = ["the match ended", "a late goal", "stocks fell today",
        ...         "the bank raised rates", "bond yields rose", "the coach resigned"]
        >>> target = ["what a goal", "the match", "coach of the year"]
        >>> sampler = ImportanceResampler(target, n_samples=3, top_k=True)
        >>> sampler.fit_resample(pool)[0]
        ['the match ended', 'a late goal', 'the coach resigned']
        """
        if is_dask_collection(X) and y is not None:
            raise ValueError(
                "y must be None for a Dask pool; keep the labels in a column of the pool "
                "instead (the target's columns decide which are featurised)."
            )
        self.fit(X, y)
        if self._selected_rows is not None:
            self.sampling_strategy_ = {}
            return self._selected_rows, None
        y_res = None if y is None else take(y, self.sample_indices_)
        self.sampling_strategy_ = kept_per_class(
            None if y_res is None else one_hot_to_labels(np.asarray(y_res))
        )
        return take(X, self.sample_indices_), y_res

    def _fit_resample(self, X, y):
        # imbalanced-learn's abstract hook, for code that calls it directly.
        return self.fit_resample(X, y)

    def __repr__(self, N_CHAR_MAX=700):
        # The target is data: show its type and shape, not its rows.
        shown = copy.copy(self)
        shown.target = DataSummary(self.target)
        return BaseEstimator.__repr__(shown, N_CHAR_MAX=N_CHAR_MAX)

    def score_samples(self, X):
        """Log importance weights ``log p_target(x) - log p_pool(x)`` of the rows of ``X``.

        Parameters
        ----------
        X : DataFrame, array of shape (n_rows, n_features), sequence of str or Dask DataFrame
            Rows with the pool's columns (any chunk of a pool).

        Returns
        -------
        log_weights : ndarray of shape (n_rows,) (a Dask Series for a Dask DataFrame)

        Examples
        --------
        >>> from tabsift.sampling import ImportanceResampler
        >>> pool = ["the match ended", "a late goal", "stocks fell today", "bond yields rose"]
        >>> sampler = ImportanceResampler(["what a goal", "the match"], n_samples=2).fit(pool)
        >>> sampler.score_samples(["a goal", "bond rates", "a goal, a goal"]).round(2)
        array([ 2.43, -2.36,  4.9 ])
        """
        check_is_fitted(self, "model_")
        if is_dask_collection(X):
            from tabsift.sampling._dsir_dask import score_dask

            return score_dask(self, X)
        return self.model_.log_weights(self._fitted_frame(X), n_jobs=self._n_jobs())

    def kl_to_target(self, X):
        """``KL(target || rows of X)`` of the hashed-token distributions, in nats.

        The rows' bucket counts are smoothed as in ``fit`` (``smoothing``), so
        the number is comparable with ``kl_target_pool_`` and
        ``kl_target_selected_``: e.g. to score a random subset of the pool
        against the selection.

        Parameters
        ----------
        X : DataFrame, array of shape (n_rows, n_features) or sequence of str
            Rows with the pool's columns.

        Returns
        -------
        kl : float

        Examples
        --------
        >>> from tabsift.sampling import ImportanceResampler
        >>> pool = ["the match ended", "a late goal", "stocks fell today", "bond yields rose"]
        >>> sampler = ImportanceResampler(["what a goal", "the match"], n_samples=2).fit(pool)
        >>> bool(sampler.kl_to_target(pool[:2]) < sampler.kl_to_target(pool[2:]))
        True
        """
        check_is_fitted(self, "model_")
        counts = self.model_.bucket_counts(self._fitted_frame(X))
        return kl_divergence(self.target_distribution_, smoothed(counts, self.smoothing))

    # -------------------------------------------------------------------- plots
    def plot(self, ax=None, *, n_features=10):
        """Compare pool, target and selection on the most shifted hashed tokens.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        n_features : int, default=10
            Tokens shown: those where pool and target differ most (by their
            contribution to ``KL(target || pool)``).

        Returns
        -------
        ax : matplotlib Axes

        Examples
        --------
        >>> from tabsift.datasets import make_domain_shift
        >>> from tabsift.sampling import ImportanceResampler
        >>> data = make_domain_shift(n_pool=500, n_target=50, random_state=0)
        >>> sampler = ImportanceResampler(data.target, n_samples=50, random_state=0)
        >>> ax = sampler.fit(data.pool).plot(n_features=5)
        >>> len(ax.get_yticklabels())
        5
        """
        check_is_fitted(self, "selected_distribution_")
        return plot_token_shift(self, ax, n_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.target_tags.required = False
        tags.input_tags.sparse = False
        tags.sampler_tags.sample_indices = True
        return tags
