"""The base class of the coreset and instance selectors.

imbalanced-learn's sampler contract: any table in, the user's own rows out.
Budgets live in :mod:`tabsift.sampling._coreset_budgets`, the embedding in
:mod:`tabsift.sampling._coreset_embedding`, input conversion in
:mod:`tabsift.sampling._coreset_input`. Column kinds, missing values, the task
of a target and the encoding of a mixed table come from :mod:`tabsift.table`.
"""

import warnings

import numpy as np
from imblearn.base import BaseSampler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    column_or_1d,
    validate_data,
)

from tabsift.backend import is_dask_collection
from tabsift.sampling._coreset_budgets import class_budgets, label, resolve_n_samples
from tabsift.sampling._coreset_embedding import as_is
from tabsift.sampling._coreset_input import (
    array_api_library,
    context_rows,
    dense_frame,
    has_missing,
    has_sparse_columns,
    kept_per_class,
    named_table,
    one_hot_to_labels,
    take_rows,
)
from tabsift.table import (
    TableError,
    check_column_names,
    check_target,
    encode_table,
    infer_task,
    is_dataframe,
    is_plain_numeric,
)
from tabsift.utils import check_row_weights, fit_context


class CoresetSampler(BaseSampler):
    """Base class: validation, the embedding, budgets and the ``fit_resample`` plumbing.

    Any table is accepted, as imbalanced-learn's samplers do. Plain numeric,
    finite input reaches ``_select`` as validated floats, exactly as before
    the table layer existed. Anything else (text, categories, booleans,
    missing values, numbers stored as text) is encoded by
    :func:`tabsift.table.encode_table` (numbers median-imputed with an
    indicator and standardised, categories one-hot) and ``_select`` gets
    ``mean=0, scale=1``, so the encoding is the embedding, used as is.
    Whatever was encoded, the rows returned are the user's own: pandas input
    comes back as pandas (``X.iloc[indices]``, index and dtypes kept), an
    array as its rows.

    Subclasses implement ``_select(X, y, *, mean, scale, row_weight,
    sample_weight)`` on the float matrix and return ``(indices, weights)``
    (weights may be None); ``_embed`` may add keyword arguments for their own
    ``_select``. ``sample_weight`` is the user's (all positive: rows of weight
    0 are removed before ``_select`` and ``_rows_dropped`` maps per-row
    attributes back); ``row_weight`` is the dask path's count of rows each
    union member stands for.
    """

    _sampling_type = "bypass"
    # Whether _select needs class labels (then y must be a classification target).
    _needs_classes = False
    # Whether _select reads the features (StratifiedRandomSelector only counts rows).
    _reads_features = True
    _accepts_dask = False
    # Dask path: whether each partition keeps the whole budget (else twice its share).
    _dask_full_budget = False

    def fit(self, X, y=None, **params):
        """Select the rows; same as :meth:`fit_resample` but returns the selector.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The table: numbers, text, categories, booleans and missing
            values are all accepted.
        y : array-like of shape (n_samples,) or None, default=None
            Targets; None for a selector whose settings do not read them.
        **params : dict
            Passed to :meth:`fit_resample` (``sample_weight``). Taken as
            ``**params``, as imbalanced-learn's ``BaseSampler.fit`` does, so
            metadata routing asks for ``sample_weight`` on ``fit_resample``
            only (``set_fit_resample_request``), the method pipelines call.

        Returns
        -------
        self : object
            The fitted selector; ``sample_indices_`` holds the selected rows.
        """
        self.fit_resample(X, y, **params)
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y=None, sample_weight=None):
        """Select rows and return them with their targets.

        Parameters
        ----------
        X : array-like, list or DataFrame of shape (n_samples, n_features)
            The table: numbers, text, categories, booleans and missing
            values are all accepted (a pandas DataFrame keeps its index,
            columns and dtypes in the output, a list comes back as a list).
        y : array-like of shape (n_samples,) or (n_samples, n_classes), or None, \
                default=None
            Targets: labels, numbers, or classes one-hot encoded (imbalanced-learn's
            one-vs-all encoding, returned one-hot). None when the selection does
            not read them (no ``stratify``, and a selector that does not work per
            class); ``y_resampled`` is then None.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Each row's mass: an integer ``k`` counts as the row repeated ``k``
            times and 0 leaves the row out (it is never selected). Budgets
            per class split ``n_samples`` by class mass, a fraction
            ``n_samples`` counts the rows of positive weight, and
            ``sample_weight_`` distributes the total input weight over the
            kept rows (see each selector for how). In an
            ``imblearn.pipeline.Pipeline`` pass it with metadata routing
            (``selector.set_fit_resample_request(sample_weight=True)``); use
            :class:`FitOnSelection` to train a model on the kept rows with
            their ``sample_weight_``.

        Returns
        -------
        X_resampled : ndarray, list or DataFrame of shape (n_selected, n_features)
            The selected rows of ``X`` as given, in ``sample_indices_`` order.
        y_resampled : ndarray, list, Series or None
            Their targets, in the type of ``y``.
        """
        if is_dask_collection(X) or is_dask_collection(y):
            if sample_weight is not None:
                raise TypeError(
                    f"{type(self).__name__} does not take sample_weight with dask "
                    "collections; call .compute() first to select with weights."
                )
            if not self._accepts_dask:
                raise TypeError(
                    f"{type(self).__name__} does not accept dask collections; call "
                    ".compute() first, or use KCenterSelector / OTCoresetSelector, which do."
                )
            from tabsift.sampling._coreset_dask import fit_resample_dask

            return fit_resample_dask(self, X, y)
        if array_api_library(X) is not None:
            return self._fit_resample_array_api(X, y, sample_weight)
        if isinstance(X, list) or isinstance(y, list) or has_sparse_columns(X):
            return self._fit_resample_converted(X, y, sample_weight)
        y_given, y = y, one_hot_to_labels(y)
        owner = type(self).__name__
        check_column_names(X, owner=owner)
        if y is None and self._needs_target():
            raise ValueError(
                f"{owner} requires y to be passed, but the target y is None: "
                f"{self._why_target()}."
            )
        if y is not None and self._needs_target():
            check_target(y, owner=owner)
        plain = is_plain_numeric(X)
        Xv, yv = self._validate(X, y, dtype=[np.float64, np.float32] if plain else None)
        if Xv.shape[0] < 2:
            what = "1 sample (one row)" if Xv.shape[0] == 1 else "0 samples (no rows)"
            raise TableError(
                f"X has {what}; {owner} selects among the rows of a table and needs at "
                "least 2 rows."
            )
        weight = check_row_weights(sample_weight, Xv, owner=owner, what="fit_resample")
        if self._needs_classes or self._stratify_param() is not None:
            self._check_classes(yv if weight is None else yv[weight > 0])
        values, context = self._embed(X, Xv, plain)
        if weight is None:
            indices, weights = self._select(values, yv, **context)
        else:
            # A row of weight 0 is a row left out: the selection runs on the others.
            alive = np.flatnonzero(weight > 0)
            dropped = len(alive) < len(weight)
            if dropped:
                values, context = values[alive], context_rows(context, alive)
            indices, weights = self._select(
                values, None if yv is None else yv[alive] if dropped else yv,
                sample_weight=weight[alive] if dropped else weight, **context,
            )
            if dropped:
                indices = alive[np.asarray(indices, dtype=np.int64)]
                self._rows_dropped(alive, len(weight))
        indices = np.asarray(indices, dtype=np.int64)
        self.sample_indices_ = indices
        if weights is not None:
            self.sample_weight_ = np.asarray(weights, dtype=np.float64)
        self.sampling_strategy_ = kept_per_class(None if yv is None else yv[indices])
        if y_given is not y:  # one-hot y: the selected rows, one-hot
            return take_rows(X, Xv, indices), take_rows(y_given, np.asarray(y_given), indices)
        return take_rows(X, Xv, indices), (None if y is None else take_rows(y, yv, indices))

    def _fit_resample_converted(self, X, y, sample_weight):
        """Select on a converted copy of lists and sparse pandas columns; return the user's rows.

        imbalanced-learn's contract: lists come back as lists; a frame with
        sparse columns is selected on a dense copy and its rows keep them.
        """
        if not (isinstance(X, list) or isinstance(y, list)):
            _, y_res = self.fit_resample(dense_frame(X), y, sample_weight=sample_weight)
            return X.iloc[self.sample_indices_], y_res
        X_res, y_res = self.fit_resample(
            np.asarray(X) if isinstance(X, list) else X,
            np.asarray(y) if isinstance(y, list) else y,
            sample_weight=sample_weight,
        )
        rows = self.sample_indices_
        return (
            [X[i] for i in rows] if isinstance(X, list) else X_res,
            [y[i] for i in rows] if isinstance(y, list) else y_res,
        )

    def _validate(self, X, y, dtype):
        """``validate_data`` on ``X`` and ``y``; a ``y`` only carried along may have gaps.

        A DataFrame that is not all numbers is not turned into an array (an
        object copy of the whole table, which datetime columns refuse): only
        its names and width are recorded, and it is returned as it is.
        """
        kwargs = {"reset": True, "ensure_all_finite": False, "dtype": dtype}
        gaps_allowed = y is not None and not self._needs_target() and has_missing(y)
        if dtype is None and is_dataframe(X):
            validate_data(self, X, reset=True, skip_check_array=True)
        elif gaps_allowed or y is None:
            X = validate_data(self, X, **kwargs)
        else:
            return validate_data(self, X, y, y_numeric=False, **kwargs)
        if y is None:
            return X, None
        yv = column_or_1d(y, warn=True)  # gaps: allowed, or ruled out by check_target
        check_consistent_length(X, yv)
        return X, yv

    def _embed(self, X, Xv, plain):
        """Return the float matrix ``_select`` works on, and keyword arguments for ``_select``.

        Plain numeric finite input is used as validated; anything else is
        encoded (see the class docstring) and passed with ``mean=0, scale=1``
        so the selectors do not standardise it again.
        """
        if not self._reads_features:
            return (Xv if plain else np.empty((Xv.shape[0], 0))), {}
        if plain and np.isfinite(Xv).all():
            return Xv, {}
        encoded = encode_table(named_table(X, Xv, plain), owner=type(self).__name__)
        return encoded.values, as_is(encoded.values.shape[1])

    def _needs_target(self):
        """Whether the selection reads ``y`` (else ``y`` is only carried along with the rows)."""
        return self._needs_classes or self._stratify_param() is not None

    def _why_target(self):
        """Why this selector's settings read ``y`` (for the message when it is None)."""
        if self._needs_classes:
            return "it selects rows per class"
        return (
            f"stratify={self._stratify_param()!r} splits the budget over classes; pass "
            "stratify=None to select without y"
        )

    def _check_classes(self, y):
        """Raise when ``y`` is not a set of class labels and the selection works per class."""
        owner = type(self).__name__
        with warnings.catch_warnings():
            # sklearn's message for continuous (non-integer) and unknown targets; its guess
            # that many classes may be a regression target is replaced by infer_task below.
            warnings.filterwarnings("ignore", "The number of unique classes", UserWarning)
            check_classification_targets(y)
        stratify = self._stratify_param()
        if isinstance(stratify, dict):
            return  # the user named the classes
        if infer_task(y, owner=owner) == "regression":
            values = np.unique(y)
            why = (
                f"{owner} works per class" if self._needs_classes
                else f"stratify={stratify!r} splits the budget over classes"
            )
            fix = "" if self._needs_classes else "pass stratify=None to select without classes, "
            raise TableError(
                f"{why} and needs class labels in y, but y is a regression target "
                f"({len(values)} distinct numbers, such as {label(values[0])} and "
                f"{label(values[-1])}): {fix}bin y into classes first (e.g. "
                "pd.qcut(y, 5, labels=False)), or pass class labels that are numbers as "
                "strings (y.astype(str))."
            )

    def _rows_dropped(self, alive, n_rows):
        """Map per-row attributes of the selection on rows ``alive`` back to all rows."""

    def _fit_resample_array_api(self, X, y, sample_weight=None):
        """CuPy (or other array-API) input: select with that library as the backend.

        The rows are checked and the bookkeeping (budgets, shortlists) runs on
        a host copy; the backend computations (k-center's distances, OT's cost
        chunks) run in ``X``'s library, and the selected rows are taken from
        ``X`` itself, so they come back on its device.
        """
        from tabsift import config_context, get_config
        from tabsift.backend import device, get_namespace, to_numpy

        library = array_api_library(X)
        xp = get_namespace(X)
        backend = get_config()["array_backend"] or library
        with config_context(array_backend=backend):
            self.fit_resample(
                to_numpy(X), to_numpy(y),
                sample_weight=None if sample_weight is None else to_numpy(sample_weight),
            )
        rows = xp.asarray(self.sample_indices_, device=device(X))
        X_res = xp.take(X, rows, axis=0)
        if array_api_library(y) == library:
            return X_res, xp.take(y, rows, axis=0)
        return X_res, np.asarray(y)[self.sample_indices_]

    def _fit_resample(self, X, y):
        # imbalanced-learn's abstract hook, for code that calls it directly.
        indices, _ = self._select(X, y)
        return X[indices], y[indices]

    def _stratify_param(self):
        return getattr(self, "stratify", None)

    def _budgets(self, y, n_rows, sample_weight=None):
        """``(total, {class: count} or None)`` from ``n_samples`` and ``stratify``.

        With ``sample_weight`` the classes are split by their mass.
        """
        total = resolve_n_samples(self.n_samples, n_rows)
        stratify = self._stratify_param()
        if stratify is None:
            return total, None
        budgets = class_budgets(y, total, stratify, estimator=type(self).__name__,
                                sample_weight=sample_weight)
        return sum(budgets.values()), budgets

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.target_tags.required = self._needs_target()
        tags.sampler_tags.sample_indices = True
        return tags
