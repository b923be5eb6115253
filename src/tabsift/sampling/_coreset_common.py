"""Machinery shared by the coreset and instance selectors.

One base class (imbalanced-learn's sampler contract, any table in, the
user's own rows out), budget arithmetic (total and per class), and the
standardisation every distance-based selector starts from. Column kinds,
missing values, the task of a target and the encoding of a mixed table come
from :mod:`tabsift.table`.
"""

import math
import numbers
import warnings

import numpy as np
from imblearn.base import BaseSampler
from imblearn.utils import check_target_type
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    check_consistent_length,
    column_or_1d,
    validate_data,
)

from tabsift.backend import array_library, column_mean_std, is_dask_collection, namespace_by_name
from tabsift.table import (
    TableError,
    check_column_names,
    check_target,
    encode_table,
    infer_task,
    is_plain_numeric,
)
from tabsift.table._types import is_dataframe
from tabsift.utils._sklearn_compat import (
    Interval,
    RealNotInt,
    StrOptions,
    check_sample_weight,
    fit_context,
)

# Constraint shared by every selector's budget parameter.
N_SAMPLES_CONSTRAINT = [
    Interval(RealNotInt, 0, 1, closed="right"),
    Interval(numbers.Integral, 1, None, closed="left"),
]
STRATIFY_CONSTRAINT = [StrOptions({"proportional", "balanced"}), dict, None]


def label(c):
    """A class label as users wrote it (``1``, not ``np.int64(1)``)."""
    return repr(c.item() if hasattr(c, "item") else c)


def resolve_n_samples(n_samples, n_rows, *, name="n_samples"):
    """Turn a count or a fraction into a number of rows, checked against ``n_rows``."""
    if isinstance(n_samples, numbers.Integral):
        k = int(n_samples)
        if k > n_rows:
            raise ValueError(
                f"{name}={k} is larger than the number of rows in X ({n_rows}): ask for at "
                f"most {n_rows} rows, or give a fraction in (0, 1]."
            )
        return k
    return max(1, min(n_rows, int(math.floor(float(n_samples) * n_rows + 0.5))))


def largest_remainder(total, sizes, caps=None):
    """Split ``total`` in proportion to ``sizes`` (integers summing to ``total``).

    Every group with at least one row gets at least one slot when ``total``
    allows it, so a rare class is never dropped by rounding. ``sizes`` may be
    weighted masses; ``caps`` (default: ``sizes``) bounds each group's count
    by the rows it holds.
    """
    sizes = np.asarray(sizes, dtype=float)
    n_groups = len(sizes)
    if total >= np.count_nonzero(sizes):
        base = (sizes > 0).astype(np.int64)
        rest = total - base.sum()
        share = sizes / sizes.sum() * rest
    else:
        base = np.zeros(n_groups, dtype=np.int64)
        share = sizes / sizes.sum() * total
        rest = total
    counts = base + np.floor(share).astype(np.int64)
    left = int(total - counts.sum())
    # Leftover slots go to the largest fractional parts (ties: the larger group, then order).
    order = np.lexsort((np.arange(n_groups), -sizes, -(share - np.floor(share))))
    for g in order[:left]:
        counts[g] += 1
    if caps is None:
        caps = sizes
    return np.minimum(counts, np.asarray(caps).astype(np.int64))


def class_budgets(y, total, stratify, *, estimator="This selector", sample_weight=None):
    """Per-class budgets ``{class: count}`` for ``stratify``, with errors that say how to fix them.

    ``"proportional"`` splits ``total`` in proportion to class sizes (largest
    remainder, at least one row per class when the budget allows);
    ``"balanced"`` gives every class the same share (the remainder to the
    largest classes); a dict gives each class's count (classes left out get
    none). With ``sample_weight`` a class's size is its summed weight (its
    mass), so integer weights give the budgets of the repeated rows.
    """
    check_classification_targets(y)
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    mass = counts if sample_weight is None else np.bincount(
        codes.ravel(), weights=sample_weight, minlength=len(classes))
    if isinstance(stratify, dict):
        unknown = [c for c in stratify if c not in set(classes.tolist())]
        if unknown:
            raise ValueError(
                f"stratify names classes {unknown!r} that are not in y; the classes are "
                f"{classes.tolist()!r}."
            )
        budgets = {}
        for c in classes:
            want = stratify.get(c.item() if hasattr(c, "item") else c, 0)
            if isinstance(want, bool) or not isinstance(want, numbers.Integral) or want < 0:
                raise ValueError(
                    f"stratify[{label(c)}] must be a non-negative integer, got {want!r}."
                )
            budgets[c] = int(want)
        if sum(budgets.values()) == 0:
            raise ValueError("stratify asks for 0 rows in total: give at least one class a count.")
    elif stratify == "balanced":
        n_classes = len(classes)
        share = np.full(n_classes, total // n_classes, dtype=np.int64)
        share[np.argsort(-mass, kind="stable")[: total % n_classes]] += 1
        budgets = dict(zip(classes, share.tolist(), strict=True))
    else:
        split = largest_remainder(total, mass, caps=counts)
        budgets = dict(zip(classes, split.tolist(), strict=True))
    for c, n_c in zip(classes, counts, strict=True):
        if budgets[c] > n_c:
            raise ValueError(
                f"class {label(c)} has {n_c} rows, fewer than its budget of {budgets[c]} rows "
                f"(stratify={stratify!r}); {estimator} cannot select more rows than a class "
                "holds: lower n_samples, use stratify='proportional', or give per-class "
                "counts as a dict."
            )
    return budgets


def check_row_weight(sample_weight, X, *, owner):
    """``sample_weight`` as float64 (one non-negative weight a row), or None when not given.

    A weight is a row's mass: an integer ``k`` means the row repeated ``k``
    times, 0 means the row is left out. Negative weights and all-zero weights
    are refused with a message that says how to fix them.
    """
    if sample_weight is None:
        return None
    w = check_sample_weight(sample_weight, X, dtype=np.float64, allow_all_zero_weights=True)
    if not np.isfinite(w).all():
        raise ValueError(
            f"sample_weight has {int(np.sum(~np.isfinite(w)))} NaN or infinite values; "
            f"{owner} needs a finite weight for every row."
        )
    if (w < 0).any():
        raise ValueError(
            f"sample_weight has {int(np.sum(w < 0))} negative values (the smallest is "
            f"{float(w.min())!r}); {owner} treats a weight as a row's mass and needs weights "
            ">= 0: drop those rows, or give them weight 0."
        )
    if not (w > 0).any():
        raise ValueError(
            f"sample_weight gives zero weight to every row; {owner} has no rows left to select "
            "from: give at least one row a positive weight."
        )
    return w


def weighted_moments(X, sample_weight=None):
    """Per-column (weighted) mean and deviation in float64 (constant columns get deviation 1).

    Integer weights give the moments of the repeated rows, so the
    standardisation of a weighted table is that of its repeated rows.
    """
    return column_mean_std(
        np.asarray(X, dtype=np.float64), sample_weight=sample_weight, xp=namespace_by_name("numpy")
    )


def weighted_pick(rng, sample_weight, n):
    """One index in ``range(n)`` drawn with probability proportional to ``sample_weight``.

    Without weights this is ``rng.randint(n)``. With integer weights it is
    ``rng.randint(total)`` mapped to the row holding that copy, which is
    exactly the draw the repeated rows would make from the same seed.
    """
    if sample_weight is None:
        return int(rng.randint(n))
    cum = np.cumsum(sample_weight)
    if np.all(sample_weight == np.round(sample_weight)) and cum[-1] < np.iinfo(np.int64).max:
        copy = rng.randint(int(round(cum[-1])))
    else:
        copy = rng.random_sample() * cum[-1]
    return int(min(np.searchsorted(cum, copy, side="right"), n - 1))


def cell_weights(Z, y, kept, sample_weight=None, *, chunk=4096):
    """Mass each kept row stands for: the summed weight of the rows nearest to it.

    Rows are assigned to their nearest kept row of the same class (of any
    class when theirs has none kept; ``y`` None: any kept row), so the
    weights sum to the total input weight and keep every class's mass.
    """
    Z = np.asarray(Z, dtype=np.float64)
    n = Z.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    kept = np.asarray(kept, dtype=np.int64)
    K = Z[kept]
    kk = np.einsum("ij,ij->i", K, K)
    y = None if y is None else np.asarray(y)
    owner = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        Zb = Z[start:stop]
        d = np.einsum("ij,ij->i", Zb, Zb)[:, None] - 2.0 * (Zb @ K.T) + kk[None, :]
        if y is not None:
            sc = y[start:stop, None] == y[kept][None, :]
            d = np.where(sc | ~sc.any(axis=1, keepdims=True), d, np.inf)
        owner[start:stop] = np.argmin(d, axis=1)
    owner[kept] = np.arange(len(kept))  # a kept row stands for itself (duplicates included)
    return np.bincount(owner, weights=w, minlength=len(kept))


def standardise(X, *, dtype=np.float32, mean=None, scale=None):
    """``(X - mean) / scale`` per column in NumPy (constant columns centred only).

    ``mean`` and ``scale`` default to the columns' own; the dask path passes
    the global ones so every partition is measured with one yardstick. One
    copy of ``X`` in ``dtype`` is made and updated in place.
    """
    X = np.asarray(X)
    if mean is None:
        mean, scale = weighted_moments(X, None)
    Z = np.array(X, dtype=dtype, order="C", copy=True)
    Z -= np.asarray(mean, dtype=dtype)
    Z /= np.asarray(scale, dtype=dtype)
    return Z


def to_backend(Z):
    """Move ``Z`` to the namespace forced by ``tabsift.set_config(array_backend=...)``, if any."""
    from tabsift import get_config

    name = get_config().get("array_backend")
    if name in (None, "numpy"):
        return Z
    return namespace_by_name(name).asarray(Z)


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
        if _array_api_library(X) is not None:
            return self._fit_resample_array_api(X, y, sample_weight)
        if isinstance(X, list) or isinstance(y, list) or _has_sparse_columns(X):
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
        weight = check_row_weight(sample_weight, Xv, owner=owner)
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
                values, context = values[alive], _context_rows(context, alive)
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
            return _take_rows(X, Xv, indices), _take_rows(y_given, np.asarray(y_given), indices)
        return _take_rows(X, Xv, indices), (None if y is None else _take_rows(y, yv, indices))

    def _fit_resample_converted(self, X, y, sample_weight):
        """Lists and sparse pandas columns: select on a converted copy, return the user's rows.

        imbalanced-learn's contract: lists come back as lists; a frame with
        sparse columns is selected on a dense copy and its rows keep them.
        """
        if not (isinstance(X, list) or isinstance(y, list)):
            _, y_res = self.fit_resample(_dense_frame(X), y, sample_weight=sample_weight)
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
        gaps_allowed = y is not None and not self._needs_target() and _has_missing(y)
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
        """The float matrix ``_select`` works on, and keyword arguments for ``_select``.

        Plain numeric finite input is used as validated; anything else is
        encoded (see the class docstring) and passed with ``mean=0, scale=1``
        so the selectors do not standardise it again.
        """
        if not self._reads_features:
            return (Xv if plain else np.empty((Xv.shape[0], 0))), {}
        if plain and np.isfinite(Xv).all():
            return Xv, {}
        encoded = encode_table(_named(X, Xv, plain), owner=type(self).__name__)
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
        """Hook: map per-row attributes of the selection on rows ``alive`` back to all rows."""

    def _fit_resample_array_api(self, X, y, sample_weight=None):
        """CuPy (or other array-API) input: select with that library as the backend.

        The rows are checked and the bookkeeping (budgets, shortlists) runs on
        a host copy; the backend computations (k-center's distances, OT's cost
        chunks) run in ``X``'s library, and the selected rows are taken from
        ``X`` itself, so they come back on its device.
        """
        from tabsift import config_context, get_config
        from tabsift.backend import device, get_namespace, to_numpy

        library = _array_api_library(X)
        xp = get_namespace(X)
        backend = get_config()["array_backend"] or library
        with config_context(array_backend=backend):
            self.fit_resample(
                to_numpy(X), to_numpy(y),
                sample_weight=None if sample_weight is None else to_numpy(sample_weight),
            )
        rows = xp.asarray(self.sample_indices_, device=device(X))
        X_res = xp.take(X, rows, axis=0)
        if _array_api_library(y) == library:
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


def one_hot_to_labels(y):
    """Class labels from a one-hot ``y`` (imbalanced-learn's one-vs-all encoding), else ``y``.

    A multilabel ``y`` (a row with several ones) is refused with
    imbalanced-learn's message.
    """
    if y is None:
        return y
    shape = getattr(y, "shape", None)
    if shape is None:  # a list, or an array-like with only __array__
        shape = np.asarray(y).shape
    if len(shape) != 2 or shape[1] < 2:
        return y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            kind = type_of_target(y)
        except (TypeError, ValueError):
            return y
    if kind != "multilabel-indicator":
        return y
    return check_target_type(np.asarray(y))


def kept_per_class(y_selected):
    """``sampling_strategy_`` of a selector: ``{class: rows kept}``, sorted by class.

    imbalanced-learn's samplers record per class the number of rows they
    resample to; a selector records how many of each class it kept. Empty
    when ``y`` is None or not a set of class labels (a regression target).
    """
    if y_selected is None:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            kind = type_of_target(y_selected)
        except (TypeError, ValueError):
            return {}
    if kind not in ("binary", "multiclass"):
        return {}
    classes, counts = np.unique(y_selected, return_counts=True)
    return {c.item() if hasattr(c, "item") else c: int(n)
            for c, n in zip(classes, counts, strict=True)}


def _context_rows(context, rows):
    """``_select``'s keyword arguments restricted to ``rows`` where they hold one entry a row."""
    out = dict(context)
    if out.get("raw") is not None:  # (the user's table, given validation rows or None)
        table, table_val = out["raw"]
        out["raw"] = (table.iloc[rows] if hasattr(table, "iloc") else np.asarray(table)[rows],
                      table_val)
    if out.get("shown") is not None:  # prompt columns: (name, values a row, numeric)
        out["shown"] = [(name, values[rows], numeric) for name, values, numeric in out["shown"]]
    return out


def as_is(n_columns):
    """``mean=0, scale=1``: ``standardise`` then leaves an embedding as it is."""
    return {"mean": np.zeros(n_columns), "scale": np.ones(n_columns)}


def _named(X, Xv, plain):
    """What to encode: the table itself, or its validated numbers under its column names."""
    if not is_dataframe(X):
        return Xv
    if plain:  # floats with NaN where the frame had NaN, None or pd.NA
        import pandas as pd

        return pd.DataFrame(Xv, columns=X.columns, index=X.index)
    return X


def _has_sparse_columns(X):
    if not is_dataframe(X):
        return False
    import pandas as pd

    return any(isinstance(dtype, pd.SparseDtype) for dtype in X.dtypes)


def _dense_frame(X):
    import pandas as pd

    return X.astype({c: d.subtype for c, d in X.dtypes.items() if isinstance(d, pd.SparseDtype)})


def _has_missing(y):
    """True when ``y`` holds a missing value (NaN, None, pd.NA)."""
    import pandas as pd

    try:
        return bool(np.asarray(pd.isna(y)).any())
    except (TypeError, ValueError):
        return False


def _array_api_library(X):
    """``"cupy"`` or ``"array_api_strict"`` for arrays of those libraries, else None."""
    library = array_library(X)
    return library if library in ("cupy", "array_api_strict") else None


def _take_rows(original, validated, indices):
    """Rows ``indices`` of the user's object when it is pandas, else of the validated array."""
    if hasattr(original, "iloc"):
        return original.iloc[indices]
    return validated[indices]


def groups(y, budgets, n_rows=None):
    """``[(class, row indices, budget)]`` or one group of all rows when ``budgets`` is None.

    ``n_rows`` counts the rows when ``y`` is None (a selection that does not read it).
    """
    if budgets is None:
        return [(None, np.arange(len(y) if n_rows is None else n_rows), None)]
    return [(c, np.flatnonzero(y == c), b) for c, b in budgets.items() if b > 0]
