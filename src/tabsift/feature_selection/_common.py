"""What every selector of this family does the same way.

How many features to keep, how scores become ranks, and how a raw mixed table
(text, categories, numbers stored as text, missing values) is read: the
selectors rank the columns a user passed, so a table goes in, scores come out
one per input column, and ``transform`` hands back the kept input columns as
they were. The task, the target's checks and the encoding come from
:mod:`tabsift.table`.
"""

import math
import numbers

import numpy as np
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from tabsift.table import TableError, check_target, is_plain_numeric


def n_to_keep(n_features_to_select, n_features, *, owner):
    """Return the number of features kept for a fraction in (0, 1] (rounded down, at least 1) or a count."""
    k = n_features_to_select
    if isinstance(k, numbers.Integral):
        if k > n_features:
            raise ValueError(
                f"{owner}: n_features_to_select={k} is more than the {n_features} features of "
                f"X; pass at most {n_features}, or a fraction in (0, 1]."
            )
        return int(k)
    # The small epsilon keeps 0.3 * 10 = 3.0000000000000004 and 0.29 * 100 on the right side.
    return max(1, math.floor(k * n_features + 1e-9))


def ranked_support(selector):
    """Return a fitted selector's kept features: ``scores_ >= threshold``, else the top ranks.

    ``threshold`` is read when the selector has one and it is set; otherwise
    the ``n_features_to_select`` best of ``ranking_`` are kept.
    """
    threshold = getattr(selector, "threshold", None)
    if threshold is not None:
        return selector.scores_ >= threshold
    n_kept = n_to_keep(
        selector.n_features_to_select, selector.n_features_in_, owner=type(selector).__name__
    )
    return selector.ranking_ <= n_kept


def feature_names(selector):
    """Return the column names of a fitted selector: ``feature_names_in_`` or ``x0, x1, ...``."""
    if hasattr(selector, "feature_names_in_"):
        return [str(name) for name in selector.feature_names_in_]
    return [f"x{j}" for j in range(selector.n_features_in_)]


def rank_scores(scores):
    """Rank of each feature by score, 1 for the best; ties go to the earlier column."""
    ranking = np.empty(len(scores), dtype=np.intp)
    ranking[np.argsort(-np.asarray(scores), kind="stable")] = np.arange(1, len(scores) + 1)
    return ranking



def _is_sparse(X):
    return hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse")


def is_table(X):
    """Return True for input the numeric path cannot take as it is: text, categories, object arrays.

    Plain numeric input (numbers and bools only, see
    :func:`tabsift.table.is_plain_numeric`) and sparse matrices keep the
    selectors' numeric path, which computes exactly what it always did.
    """
    if _is_sparse(X):
        return False
    if hasattr(X, "dtypes"):  # a DataFrame
        return not is_plain_numeric(X)
    dtype = getattr(X, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(X).dtype
        except (TypeError, ValueError):
            return True
    # Complex and other odd numeric dtypes keep the numeric path and its error.
    return getattr(dtype, "kind", "O") in "OUS"


def has_missing(X):
    """Return True when plain numeric ``X`` (dense) holds NaN or infinite values."""
    if _is_sparse(X):
        return False
    try:
        values = np.asarray(X)
    except (TypeError, ValueError):
        return False
    if values.dtype.kind != "f":  # ints and bools cannot be missing; other kinds error later
        return False
    return not np.isfinite(values).all()


def validate_table(estimator, X, y, *, owner, min_features=1):
    """Check a raw table without converting it; set ``n_features_in_`` and ``feature_names_in_``.

    Returns ``(X, y)``: ``X`` as given (a DataFrame, or a 2-d object array),
    ``y`` as a 1-d array without missing values.
    """
    if not hasattr(X, "iloc"):
        X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2D array for X, got an array of shape {X.shape}; reshape it to "
                "(n_samples, n_features)."
            )
    X, y = validate_data(estimator, X, y, skip_check_array=True)
    n_samples, n_features = X.shape
    if n_samples < 2:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={X.shape}) while a minimum of 2 is "
            f"required by {owner}."
        )
    if n_features < min_features:
        raise ValueError(
            f"Found array with {n_features} feature(s) (shape={X.shape}) while a minimum of "
            f"{min_features} is required by {owner}."
        )
    y = column_or_1d(y, warn=True)
    check_target(y, owner=owner)
    if len(y) != n_samples:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: [{n_samples}, "
            f"{len(y)}]; X and y need one row per sample."
        )
    return X, y


def transform_table(selector, X):
    """Return the kept columns of ``X``, as given (a DataFrame keeps its dtypes and index).

    Used by the selectors' ``transform`` for input that is not plain numeric,
    where a NumPy copy would turn every column into objects.
    """
    check_is_fitted(selector)
    if not hasattr(X, "iloc"):
        X = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
    validate_data(selector, X, skip_check_array=True, reset=False)
    if X.shape[1] != selector.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(selector).__name__} is expecting "
            f"{selector.n_features_in_} features as input."
        )
    mask = selector.get_support()
    if hasattr(X, "iloc"):
        return X.iloc[:, np.flatnonzero(mask)]
    return X[:, mask]


class TableSelectorMixin(SelectorMixin):
    """scikit-learn's selector mixin, with ``transform`` keeping a mixed table as it was.

    The selectors of this family take a target and a mixed table (their
    tags say so), and keep the features :func:`ranked_support` reads from
    their ``scores_`` and ``ranking_``.
    """

    def _get_support_mask(self):
        check_is_fitted(self)
        return ranked_support(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # Mixed tables: text and category columns are encoded, and ranked as one feature each.
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags

    def transform(self, X):
        """Keep the selected columns of ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, `n_features_in_`)

        Returns
        -------
        X_selected : array or DataFrame of shape (n_samples, n_selected)
            A mixed table's kept columns as they are (a DataFrame keeps its
            dtypes); numeric input as scikit-learn's selectors return it.
        """
        check_is_fitted(self)  # before anything reads X: an unfitted selector says so first
        if is_table(X):
            return transform_table(self, X)
        return super().transform(X)


def categorical_columns(infos):
    """Names of the columns that hold categories or text."""
    return [c.name for c in infos if c.kind in ("categorical", "text")]


def clean_table(X, *, owner):
    """Return a DataFrame of ``X`` with every column readable by scikit-learn's transformers.

    Numbers (numbers stored as text included, placeholders read as missing)
    become float columns, categories and text object columns of strings with
    NaN where missing. Nothing is learned from the values, so doing it once
    before a split leaks nothing. Returns ``(frame, infos)``.
    """
    import pandas as pd

    from tabsift.table import category_values, column_names, describe_columns, numeric_values

    infos = describe_columns(X)
    names = column_names(X)
    columns = (
        [X.iloc[:, j] for j in range(X.shape[1])]
        if hasattr(X, "iloc")
        else list(np.asarray(X, dtype=object).T)
    )
    out = {}
    for name, info, values in zip(names, infos, columns, strict=True):
        if info.kind in ("categorical", "text"):
            cats = category_values(values)
            cats[[v is None for v in cats]] = np.nan
            out[name] = cats
        elif info.kind == "empty":
            out[name] = np.full(len(values), np.nan)
        else:
            numbers_ = numeric_values(values, info)
            if np.isinf(numbers_).any():
                from tabsift.table import non_finite_message

                raise TableError(
                    non_finite_message([name], [0], [int(np.isinf(numbers_).sum())], owner=owner)
                )
            out[name] = numbers_
    index = X.index if hasattr(X, "index") else None
    return pd.DataFrame(out, index=index), infos


def table_encoder(frame):
    """Return a ColumnTransformer that turns a :func:`clean_table` frame into finite numbers.

    Numbers: median-imputed, with a missing-value indicator, and standardised;
    categories: missing ones form their own category, then one-hot encoded
    (rare ones pooled, unseen ones ignored). Fit it on training rows only.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from tabsift.table import MAX_CATEGORIES

    numeric = [c for c in frame.columns if frame[c].dtype.kind == "f"]
    categorical = [c for c in frame.columns if c not in numeric]
    parts = []
    if numeric:
        parts.append(
            (
                "numbers",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numeric,
            )
        )
    if categorical:
        parts.append(
            (
                "categories",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=MAX_CATEGORIES,
                        sparse_output=False,
                    ),
                ),
                categorical,
            )
        )
    return ColumnTransformer(parts, verbose_feature_names_out=False)
