"""Numbers for a mixed table: the encoding distance-, proxy- and network-based methods use.

Numeric columns (numbers stored as text included) are imputed with their
median, get a missing-value indicator when they had gaps, and are
standardised; categorical and text columns are one-hot encoded (rare
categories pooled), missing values forming their own category. Every encoded
column remembers the input column it came from, so scores on encoded columns
can be added back up to the columns a user passed.
"""

from dataclasses import dataclass

import numpy as np

from tabsift.table._checks import check_finite_columns
from tabsift.table._errors import TableError
from tabsift.table._types import (
    category_values,
    column_names,
    describe_columns,
    is_dataframe,
    is_plain_numeric,
    numeric_values,
    table_columns,
)

#: Categories beyond this many per column are pooled into one "infrequent" column.
MAX_CATEGORIES = 20


@dataclass
class EncodedTable:
    """A table turned into one float matrix.

    Attributes
    ----------
    values : ndarray of shape (n_samples, n_encoded)
        The encoded, finite numbers.
    groups : ndarray of shape (n_encoded,)
        For each encoded column, the position of the input column it encodes.
    names : list of str
        Encoded column names (``age``, ``age (missing)``, ``city=Oslo``).
    columns : list of ColumnInfo
        What each input column held.
    steps : list of str
        What was done, one sentence each (empty for plain numeric input).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabsift.table import encode_table
    >>> encoded = encode_table(pd.DataFrame({"a": [1.0, 2.0], "c": ["x", "y"]}), owner="M")
    >>> encoded.names, encoded.groups.tolist(), encoded.group_sums([1, 2, 3]).tolist()
    (['a', 'c=x', 'c=y'], [0, 1, 1], [1.0, 5.0])
    """

    values: np.ndarray
    groups: np.ndarray
    names: list
    columns: list
    steps: list

    @property
    def n_input_columns(self):
        return len(self.columns)

    def group_sums(self, scores):
        """Add per-encoded-column ``scores`` up to one score per input column."""
        out = np.zeros(self.n_input_columns, dtype=np.float64)
        np.add.at(out, self.groups, np.asarray(scores, dtype=np.float64))
        return out


def encode_table(X, *, owner, impute=True, standardise=True, fix=None):
    """Encode a raw table (DataFrame or array, any column types) as finite floats.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_samples, n_features)
        The table.
    owner : str
        The estimator, named in error messages.
    impute : bool, default=True
        Impute missing numbers (median, plus an indicator column). When False,
        a missing number is an error naming its column.
    standardise : bool, default=True
        Centre and scale the numeric columns.
    fix : str, optional
        How to fix a missing or infinite number, for the error message (see
        :func:`check_finite_columns`).

    Returns
    -------
    EncodedTable
        Plain numeric input without missing values comes back unchanged (as
        float64, groups ``0..d-1``): the encoding never alters what numeric
        estimators computed before.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tabsift.table import encode_table
    >>> raw = pd.DataFrame({"age": ["41", "?", "35"], "city": ["Oslo", "Lima", None]})
    >>> encoded = encode_table(raw, owner="MySelector")
    >>> encoded.names
    ['age', 'age (missing)', 'city=(missing)', 'city=Lima', 'city=Oslo']
    >>> bool(np.isfinite(encoded.values).all())
    True
    """
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    names = column_names(X)
    if is_plain_numeric(X):
        if is_dataframe(X):  # nullable dtypes hold pd.NA, not NaN
            values = X.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = np.asarray(X, dtype=np.float64)
        if np.isfinite(values).all() or not impute:
            check_finite_columns(values, feature_names=names, owner=owner, fix=fix)
            columns = _numeric_infos(values, names)
            groups = np.arange(values.shape[1])
            return EncodedTable(values, groups, list(names), columns, [])
    columns = describe_columns(X)
    raw = table_columns(X)
    blocks, groups, out_names, steps = [], [], [], []
    numeric = [j for j, c in enumerate(columns) if c.is_numeric]
    if numeric:
        block = np.column_stack([numeric_values(raw[j], columns[j]) for j in numeric])
        if np.isinf(block).any():
            bad = np.isinf(block).any(axis=0)
            check_finite_columns(
                np.where(np.isnan(block), 0.0, block)[:, bad],
                feature_names=[names[j] for j, b in zip(numeric, bad, strict=True) if b],
                owner=owner,
                fix=fix,
            )
        gaps = np.isnan(block).any(axis=0)
        if gaps.any() and not impute:
            check_finite_columns(
                block, feature_names=[names[j] for j in numeric], owner=owner, fix=fix
            )
        if gaps.any():
            imputer = SimpleImputer(strategy="median", keep_empty_features=True)
            filled = imputer.fit_transform(block)
            indicators = np.isnan(block[:, gaps]).astype(np.float64)
            steps.append(
                "imputed missing numbers with the column median, plus a missing-value "
                f"indicator, in {', '.join(repr(names[j]) for j in np.asarray(numeric)[gaps])}"
            )
        else:
            filled, indicators = block, np.zeros((block.shape[0], 0))
        if standardise:
            filled = StandardScaler().fit_transform(filled)
        blocks += [filled, indicators]
        groups += numeric + [j for j, g in zip(numeric, gaps, strict=True) if g]
        out_names += [names[j] for j in numeric]
        out_names += [f"{names[j]} (missing)" for j, g in zip(numeric, gaps, strict=True) if g]
        coerced = [names[j] for j in numeric if columns[j].kind == "numeric_text"]
        if coerced:
            steps.append(f"read numbers stored as text in {', '.join(map(repr, coerced))}")
    categorical = [j for j, c in enumerate(columns) if c.kind in ("categorical", "text")]
    for j in categorical:
        values = category_values(raw[j])
        values[[v is None for v in values]] = "(missing)"
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=MAX_CATEGORIES,
            sparse_output=False,
            dtype=np.float64,
        )
        onehot = encoder.fit_transform(values.reshape(-1, 1))
        blocks.append(onehot)
        groups += [j] * onehot.shape[1]
        out_names += [
            f"{names[j]}={n.split('_', 1)[1] if '_' in n else n}"
            for n in encoder.get_feature_names_out(["c"])
        ]
    if categorical:
        steps.append(
            "one-hot encoded the categories of "
            f"{', '.join(repr(names[j]) for j in categorical)}"
        )
    empty = [names[j] for j, c in enumerate(columns) if c.kind == "empty"]
    if empty:
        steps.append(f"left out the empty column(s) {', '.join(map(repr, empty))}")
    if not blocks or sum(b.shape[1] for b in blocks) == 0:
        raise TableError(
            f"X has no usable column: every column is empty; {owner} needs at least one "
            "column with values."
        )
    values = np.column_stack(blocks).astype(np.float64, copy=False)
    return EncodedTable(values, np.asarray(groups, dtype=np.intp), out_names, columns, steps)


def _numeric_infos(values, names):
    from tabsift.table._types import ColumnInfo

    return [
        ColumnInfo(name, "numeric", int(np.isnan(values[:, j]).sum()), 0, None)
        for j, name in enumerate(names)
    ]
