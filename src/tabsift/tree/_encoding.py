"""The columns trees split on: numbers as they are, categories one-hot encoded (``column=category``).

What a column holds is read by the table layer (:func:`tabsift.table.describe_columns`):
numbers stored as text (``"41"``, with ``"?"`` for missing, as UCI's files come) are
numbers, placeholder tokens are missing values (NaN, routed at each split), and only
categorical and text columns are one-hot encoded.
"""


import numpy as np

from tabsift.table import (
    MAX_CATEGORIES,
    category_values,
    check_finite_columns,
    column_numbers,
    table_columns,
)


def check_no_infinity(values, names, *, owner):
    """Raise the shared non-finite message for columns holding +-inf (NaN is fine here)."""
    infinite = np.isinf(values)
    if not infinite.any():
        return
    bad = infinite.any(axis=0)
    check_finite_columns(
        np.where(np.isnan(values), 0.0, values)[:, bad],
        feature_names=[name for name, b in zip(names, bad, strict=True) if b],
        owner=owner,
        fix="replace infinite values with NaN (missing values are accepted: each split "
        "learns where they go) or drop those rows",
    )


class OneHotLayout:
    """How input columns map to the columns trees split on.

    A numeric column (numbers, booleans, numbers stored as text, dates as
    days) is kept, its missing values NaN. A categorical or text column
    becomes one 0/1 column per category seen in ``fit`` (``"color=red"``; the
    ``MAX_CATEGORIES`` most frequent ones when there are more). A missing,
    unseen or pooled category gives 0 in every one of its columns, so it
    follows the ``<= 0.5`` branch of every split on them.

    Parameters
    ----------
    X : DataFrame or ndarray of shape (n_samples, n_features)
        The training table, as passed (a DataFrame keeps its column dtypes).
    input_names : list of str
    infos : list of ColumnInfo
        :func:`tabsift.table.describe_columns` of ``X``.
    """

    def __init__(self, X, input_names, infos):
        self.input_names = list(input_names)
        self.kinds = [info.kind for info in infos]
        self.categories = {}
        wanted = [j for j, info in enumerate(infos) if info.kind in ("categorical", "text")]
        columns = table_columns(X) if wanted else []
        for j in wanted:
            self.categories[j] = _top_categories(category_values(columns[j]))
        self.names = []
        for j, name in enumerate(self.input_names):
            if j in self.categories:
                self.names += [f"{name}={c}" for c in self.categories[j]]
            else:
                self.names.append(str(name))

    @classmethod
    def numeric(cls, input_names):
        """Return the layout of a table of numbers only: every column kept as it is."""
        from tabsift.table import ColumnInfo

        infos = [ColumnInfo(str(name), "numeric", 0, 0, None) for name in input_names]
        return cls(None, input_names, infos)

    @property
    def input_of(self):
        """Per column of :attr:`names`, the position of the input column it comes from."""
        out = []
        for j in range(len(self.input_names)):
            out += [j] * (len(self.categories[j]) if j in self.categories else 1)
        return np.array(out, dtype=np.int64)

    @property
    def categorical(self):
        """Positions of the one-hot encoded input columns."""
        return sorted(self.categories)

    def transform(self, X, *, owner):
        """Float matrix of ``X`` in the columns of :attr:`names` (NaN where missing)."""
        n = X.shape[0]
        blocks = []
        columns = table_columns(X)
        for j, name in enumerate(self.input_names):
            column = columns[j]
            if j in self.categories:
                text = category_values(column)
                for c in self.categories[j]:
                    blocks.append((text == c).astype(np.float64))
                continue
            blocks.append(_numbers(column, name, self.kinds[j], owner=owner))
        if not blocks:
            return np.zeros((n, 0))
        values = np.column_stack(blocks)
        check_no_infinity(values, self.names, owner=owner)
        return values


def _top_categories(values):
    """Return the categories of a column (sorted), at most ``MAX_CATEGORIES`` most frequent ones."""
    present = values[[v is not None for v in values]]
    names, counts = np.unique(present.astype(str), return_counts=True)
    if names.size > MAX_CATEGORIES:
        order = np.lexsort((names, -counts))[:MAX_CATEGORIES]
        names = names[np.sort(order)]
    return [str(c) for c in names]


def _numbers(column, name, fitted_kind, *, owner):
    """Return a numeric input column as floats (NaN where missing).

    Text that is not a number, in a column that held numbers in ``fit`` (a
    ``"rotary"`` among cylinder counts), is read as missing with a warning,
    as an unseen category is; a column of text only is an error
    (:func:`tabsift.table.column_numbers`).
    """
    return column_numbers(name, column, owner=owner)
