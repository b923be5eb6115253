"""Machinery shared by the coreset and instance selectors.

One base class (imbalanced-learn's sampler contract), budget arithmetic
(total and per class), input checks that name the offending column, and the
standardisation every distance-based selector starts from.
"""

import math
import numbers

import numpy as np
from imblearn.base import BaseSampler
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import validate_data

# Constraint shared by every selector's budget parameter.
N_SAMPLES_CONSTRAINT = [
    Interval(RealNotInt, 0, 1, closed="right"),
    Interval(numbers.Integral, 1, None, closed="left"),
]
STRATIFY_CONSTRAINT = [StrOptions({"proportional", "balanced"}), dict, None]


def is_dask_collection(obj):
    """True for a dask array or DataFrame, recognised by module name (dask is never imported)."""
    return type(obj).__module__.split(".")[0] == "dask" and hasattr(obj, "dask")


def column_label(feature_names, j):
    """``'age'`` for a named column, ``column 3`` otherwise."""
    if feature_names is not None:
        return repr(str(feature_names[j]))
    return str(j)


def label(c):
    """A class label as users wrote it (``1``, not ``np.int64(1)``)."""
    return repr(c.item() if hasattr(c, "item") else c)


def check_finite(X, *, feature_names=None, estimator="This selector"):
    """Raise a ValueError naming the first columns holding NaN or infinite values."""
    finite = np.isfinite(X)
    if finite.all():
        return
    bad = np.flatnonzero(~finite.all(axis=0))
    parts = []
    for j in bad[:5]:
        n_nan = int(np.isnan(X[:, j]).sum())
        n_inf = int(np.isinf(X[:, j]).sum())
        what = []
        if n_nan:
            what.append(f"{n_nan} NaN value{'s' if n_nan != 1 else ''}")
        if n_inf:
            what.append(f"{n_inf} infinite value{'s' if n_inf != 1 else ''}")
        parts.append(f"column {column_label(feature_names, j)} has {' and '.join(what)}")
    more = f" (and {len(bad) - 5} more columns)" if len(bad) > 5 else ""
    raise ValueError(
        f"{'; '.join(parts)}{more}; {estimator} does not accept NaN or inf in X: "
        "impute or drop them first, e.g. with sklearn.impute.SimpleImputer."
    )


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


def largest_remainder(total, sizes):
    """Split ``total`` in proportion to ``sizes`` (integers summing to ``total``).

    Every group with at least one row gets at least one slot when ``total``
    allows it, so a rare class is never dropped by rounding.
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
    return np.minimum(counts, sizes.astype(np.int64))


def class_budgets(y, total, stratify, *, estimator="This selector"):
    """Per-class budgets ``{class: count}`` for ``stratify``, with errors that say how to fix them.

    ``"proportional"`` splits ``total`` in proportion to class sizes (largest
    remainder, at least one row per class when the budget allows);
    ``"balanced"`` gives every class the same share (the remainder to the
    largest classes); a dict gives each class's count (classes left out get
    none).
    """
    check_classification_targets(y)
    classes, counts = np.unique(y, return_counts=True)
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
        share[np.argsort(-counts, kind="stable")[: total % n_classes]] += 1
        budgets = dict(zip(classes, share.tolist(), strict=True))
    else:
        budgets = dict(zip(classes, largest_remainder(total, counts).tolist(), strict=True))
    for c, n_c in zip(classes, counts, strict=True):
        if budgets[c] > n_c:
            raise ValueError(
                f"class {label(c)} has {n_c} rows, fewer than its budget of {budgets[c]} rows "
                f"(stratify={stratify!r}); {estimator} cannot select more rows than a class "
                "holds: lower n_samples, use stratify='proportional', or give per-class "
                "counts as a dict."
            )
    return budgets


def standardise(X, *, dtype=np.float32, mean=None, scale=None):
    """``(X - mean) / scale`` per column in NumPy (constant columns centred only).

    ``mean`` and ``scale`` default to the columns' own; the dask path passes
    the global ones so every partition is measured with one yardstick. One
    copy of ``X`` in ``dtype`` is made and updated in place.
    """
    X = np.asarray(X)
    if mean is None:
        mean = X.mean(axis=0, dtype=np.float64)
        scale = X.std(axis=0, dtype=np.float64)
        scale = np.where(scale > 0, scale, 1.0)
    Z = np.array(X, dtype=dtype, order="C", copy=True)
    Z -= np.asarray(mean, dtype=dtype)
    Z /= np.asarray(scale, dtype=dtype)
    return Z


def to_backend(Z):
    """Move ``Z`` to the namespace forced by ``tabsift.set_config(array_backend=...)``, if any."""
    from tabsift import get_config
    from tabsift.backend import namespace_by_name

    name = get_config().get("array_backend")
    if name in (None, "numpy"):
        return Z
    return namespace_by_name(name).asarray(Z)


class CoresetSampler(BaseSampler):
    """Base class: validation, budgets and the ``fit_resample`` plumbing.

    Subclasses implement ``_select(X, y)`` on a validated float array and
    return ``(indices, weights)`` (weights may be None). Pandas input comes back
    as pandas (``X.iloc[indices]``, index and dtypes kept).
    """

    _sampling_type = "bypass"
    # Whether _select needs class labels (then y must be a classification target).
    _needs_classes = False
    _accepts_dask = False
    # Dask path: whether each partition keeps the whole budget (else twice its share).
    _dask_full_budget = False

    def fit(self, X, y):
        """Select the rows; same as :meth:`fit_resample` but returns the selector.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric, finite data.
        y : array-like of shape (n_samples,)
            Targets.

        Returns
        -------
        self : object
            The fitted selector; ``sample_indices_`` holds the selected rows.
        """
        self.fit_resample(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y):
        """Select rows and return them with their targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric, finite data (a pandas DataFrame keeps its index, columns
            and dtypes in the output).
        y : array-like of shape (n_samples,)
            Targets.

        Returns
        -------
        X_resampled : ndarray or DataFrame of shape (n_selected, n_features)
            The selected rows, in ``sample_indices_`` order.
        y_resampled : ndarray or Series of shape (n_selected,)
            Their targets.
        """
        if is_dask_collection(X) or is_dask_collection(y):
            if not self._accepts_dask:
                raise TypeError(
                    f"{type(self).__name__} does not accept dask collections; call "
                    ".compute() first, or use KCenterSelector / OTCoresetSelector, which do."
                )
            from tabsift.sampling._coreset_dask import fit_resample_dask

            return fit_resample_dask(self, X, y)
        if _array_api_library(X) is not None:
            return self._fit_resample_array_api(X, y)
        X_in, y_in = X, y
        Xv, yv = validate_data(
            self, X, y, reset=True, ensure_all_finite=False, dtype=[np.float64, np.float32],
            y_numeric=False,
        )
        check_finite(
            Xv, feature_names=getattr(self, "feature_names_in_", None), estimator=type(self).__name__
        )
        if self._needs_classes or self._stratify_param() is not None:
            check_classification_targets(yv)
        indices, weights = self._select(Xv, yv)
        indices = np.asarray(indices, dtype=np.int64)
        self.sample_indices_ = indices
        if weights is not None:
            self.sample_weight_ = np.asarray(weights, dtype=np.float64)
        return _take_rows(X_in, Xv, indices), _take_rows(y_in, yv, indices)

    def _fit_resample_array_api(self, X, y):
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
            self.fit_resample(to_numpy(X), to_numpy(y))
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

    def _budgets(self, y, n_rows):
        """``(total, {class: count} or None)`` from ``n_samples`` and ``stratify``."""
        total = resolve_n_samples(self.n_samples, n_rows)
        stratify = self._stratify_param()
        if stratify is None:
            return total, None
        budgets = class_budgets(y, total, stratify, estimator=type(self).__name__)
        return sum(budgets.values()), budgets

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags


def _array_api_library(X):
    """``"cupy"`` or ``"array_api_strict"`` for arrays of those libraries, else None."""
    from tabsift.backend import array_library

    library = array_library(X)
    return library if library in ("cupy", "array_api_strict") else None


def _take_rows(original, validated, indices):
    """Rows ``indices`` of the user's object when it is pandas, else of the validated array."""
    if hasattr(original, "iloc"):
        return original.iloc[indices]
    return validated[indices]


def target_kind(y):
    """``"classification"`` or ``"regression"`` (float targets with > 20 values)."""
    kind = type_of_target(y)
    if kind == "continuous" and len(np.unique(y)) > 20:
        return "regression"
    if kind in ("binary", "multiclass"):
        return "classification"
    return "regression" if kind.startswith("continuous") else "classification"


def groups(y, budgets):
    """``[(class, row indices, budget)]`` or one group of all rows when ``budgets`` is None."""
    if budgets is None:
        return [(None, np.arange(len(y)), None)]
    return [(c, np.flatnonzero(y == c), b) for c, b in budgets.items() if b > 0]
