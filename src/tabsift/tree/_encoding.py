"""Categorical columns: one-hot encoded inside the estimators, named ``column=category``."""

import numpy as np


def non_numeric_columns(X):
    """Positions of the columns of a pandas DataFrame that are not numeric or bool."""
    if not type(X).__module__.startswith("pandas") or not hasattr(X, "dtypes"):
        return []
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return [
        j
        for j, dtype in enumerate(X.dtypes)
        if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype))
    ]


def _is_missing(values):
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


class OneHotLayout:
    """How input columns map to the columns trees split on.

    A numeric column is kept; a categorical column becomes one 0/1 column per
    category seen in ``fit`` (``"color=red"``). A missing or unseen category
    gives 0 in every one of its columns, so it follows the ``<= 0.5`` branch of
    every split on them.
    """

    def __init__(self, X_object, input_names, categorical):
        self.input_names = list(input_names)
        self.categorical = list(categorical)
        self.categories = {}
        for j in self.categorical:
            column = X_object[:, j]
            seen = column[~_is_missing(column)]
            self.categories[j] = sorted({str(v) for v in seen})
        self.names = []
        for j, name in enumerate(self.input_names):
            if j in self.categories:
                self.names += [f"{name}={c}" for c in self.categories[j]]
            else:
                self.names.append(str(name))

    def transform(self, X_object, *, owner):
        blocks = []
        bad = []
        for j, name in enumerate(self.input_names):
            column = X_object[:, j]
            if j in self.categories:
                missing = _is_missing(column)
                text = np.array([str(v) for v in column], dtype=object)
                for c in self.categories[j]:
                    blocks.append(((text == c) & ~missing).astype(np.float64))
                continue
            try:
                values = np.asarray(column, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"column {name!r} was numeric when {owner} was fitted but holds "
                    f"non-numeric values now ({err}); pass the same column types as in fit."
                ) from err
            if not np.isfinite(values).all():
                bad.append(name)
            blocks.append(values)
        if bad:
            listed = ", ".join(repr(str(b)) for b in bad[:8])
            raise ValueError(
                f"X contains NaN or infinite values in numeric column(s) {listed}; {owner} "
                "needs finite numbers there (missing categories are fine). Impute them first, "
                "e.g. with sklearn.impute.SimpleImputer."
            )
        if not blocks:
            return np.zeros((X_object.shape[0], 0))
        return np.column_stack(blocks)
