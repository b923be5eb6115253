"""How a residual agent reads a table: numbers for the formulas, and the base model's input.

A raw table mixes numbers (some stored as text, with placeholders such as
``?`` for missing values), categories and missing values. The residual agents
split it in two, once, at fit time (:class:`TableLayout`):

- *number columns* (numbers, numbers stored as text, booleans, dates as days,
  empty columns) are read as floats, NaN where a value is missing. The
  correction formulas read these columns only.
- *category columns* (text and pandas ``category`` columns) reach the base
  model only. A category seen in fewer than :data:`MIN_CATEGORY_ROWS` rows
  is pooled into ``(other)`` (an identifier column becomes one constant
  instead of a column to memorise), and so is a category unseen at fit when
  the column has that pool. The default XGBoost base takes them as pandas
  ``category`` columns (``enable_categorical=True``), other unseen
  categories being missing; any other base gets them one-hot encoded (at
  most the 20 most frequent categories of a column, missing values in
  ``(missing)``).

The layout is part of the exported corrections, so :class:`FrozenCorrections`
reads new data exactly as the fitted estimator does.
"""

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from tabsift.table import (
    MAX_CATEGORIES,
    category_values,
    check_finite_columns,
    column_numbers,
    describe_column,
    is_dataframe,
    is_plain_numeric,
    numeric_values,
    table_columns,
)

NUMBER, CATEGORY = "number", "category"
# How the base model gets the table: a float array (no category column), pandas
# category columns (the default XGBoost base), or one-hot columns (any other base).
BASE_INPUTS = ("array", "categories", "one_hot")
OTHER, MISSING = "(other)", "(missing)"
#: A category seen in fewer rows than this is pooled into ``(other)``: a model cannot
#: learn from it, and identifier columns (every value new) would be memorised.
MIN_CATEGORY_ROWS = 5
# XGBoost refuses feature names holding these characters.
_XGB_FORBIDDEN = ("[", "]", "<")


def accepts_nan(estimator):
    """Whether ``estimator`` can be fit on data with NaN.

    Its scikit-learn ``allow_nan`` tag decides (XGBoost and
    HistGradientBoosting say yes, linear models no); a
    :class:`~sklearn.pipeline.Pipeline` accepts NaN when every step up to its
    first imputer (any :mod:`sklearn.impute` transformer) does.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.utils import get_tags

    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            if not accepts_nan(step):
                return False
            if type(step).__module__.startswith("sklearn.impute"):
                return True
        return True
    try:
        return bool(get_tags(estimator).input_tags.allow_nan)
    except (AttributeError, TypeError, ValueError):
        return False


def _float_matrix(X):
    """Return a numeric table as float64, NaN for missing values (pandas' ``pd.NA`` included)."""
    if is_dataframe(X):
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(X, dtype=np.float64)


def _frequent(values, limit):
    """Return the categories kept (sorted) and whether others were pooled.

    Kept: those seen in at least :data:`MIN_CATEGORY_ROWS` rows, at most
    ``limit`` of them (the most frequent, ties by name; None: no limit).
    """
    counts = Counter(v for v in values if v is not None)
    ranked = sorted(
        (v for v in counts if counts[v] >= MIN_CATEGORY_ROWS), key=lambda v: (-counts[v], v)
    )
    kept = ranked if limit is None else ranked[:limit]
    return sorted(kept), len(kept) < len(counts)


@dataclass
class TableLayout:
    """What each column of a residual agent's table is, and how the base model gets it.

    Attributes
    ----------
    names : list of str
        Every input column, in order.
    kinds : list of str
        ``"number"`` or ``"category"`` per column.
    categories : dict
        For each category column: ``{"categories": [...], "other": bool,
        "missing": bool}``: the categories kept at fit, and (one-hot only)
        whether an ``(other)`` or ``(missing)`` column exists.
    base_input : str
        ``"array"``, ``"categories"`` or ``"one_hot"`` (see the module notes).
    """

    names: list
    kinds: list
    categories: dict = field(default_factory=dict)
    base_input: str = "array"

    # ------------------------------------------------------------ building
    @classmethod
    def numeric(cls, names):
        """Return the layout of a table of numbers only (what every residual agent took before)."""
        return cls([str(n) for n in names], [NUMBER] * len(names))

    @classmethod
    def from_table(cls, X, names, *, native_categories):
        """Read the columns of ``X`` (DataFrame or 2-D array) at fit time."""
        if is_plain_numeric(X):
            return cls.numeric(names)
        kinds, categories = [], {}
        for name, values in zip(names, table_columns(X), strict=True):
            info = describe_column(name, values)
            if info.is_numeric or info.kind == "empty":
                kinds.append(NUMBER)
                continue
            kinds.append(CATEGORY)
            cats = category_values(values)
            kept, other = _frequent(cats, None if native_categories else MAX_CATEGORIES)
            categories[name] = {
                "categories": kept,
                "other": other,
                "missing": bool(any(v is None for v in cats)),
            }
        if not categories:
            base_input = "array"
        else:
            base_input = "categories" if native_categories else "one_hot"
        return cls(list(names), kinds, categories, base_input)

    # ------------------------------------------------------------ columns
    @property
    def number_names(self):
        """The columns formulas may read."""
        return [n for n, k in zip(self.names, self.kinds, strict=True) if k == NUMBER]

    @property
    def category_names(self):
        return [n for n, k in zip(self.names, self.kinds, strict=True) if k == CATEGORY]

    @property
    def has_categories(self):
        return CATEGORY in self.kinds

    # ------------------------------------------------------------ reading
    def read(self, X, *, owner):
        """``(numbers, categories)`` of ``X``: a float matrix and one array per category column.

        ``X`` has the fitted columns in order (checked by the caller). Text in a
        number column (a value that is not a number and not a placeholder) is
        read as missing, with a warning naming the column.
        """
        if is_plain_numeric(X):
            numbers = _float_matrix(X)
            if self.has_categories:
                positions = [j for j, k in enumerate(self.kinds) if k == NUMBER]
                cats = {
                    name: category_values(numbers[:, j])
                    for j, name in enumerate(self.names)
                    if self.kinds[j] == CATEGORY
                }
                return numbers[:, positions], cats
            return numbers, {}
        n = X.shape[0]
        blocks, cats = [], {}
        for name, kind, values in zip(self.names, self.kinds, table_columns(X), strict=True):
            if kind == CATEGORY:
                cats[name] = category_values(values)
                continue
            info = describe_column(name, values)
            if info.kind == "empty":
                blocks.append(np.full(n, np.nan))
            elif info.is_numeric:
                blocks.append(numeric_values(values, info))
            else:
                blocks.append(column_numbers(name, values, owner=owner))
        numbers = np.column_stack(blocks) if blocks else np.zeros((n, 0))
        return numbers.astype(np.float64, copy=False), cats

    def check_numbers(self, numbers, *, owner, nan_ok, base_name=None, fix=None):
        """Raise a :class:`TableError` naming the number columns with NaN (unless ``nan_ok``) or inf."""
        names = self.number_names
        if nan_ok:
            inf = np.isinf(numbers)
            if inf.any():
                bad = inf.any(axis=0)
                check_finite_columns(
                    np.where(np.isnan(numbers[:, bad]), 0.0, numbers[:, bad]),
                    feature_names=[n for n, b in zip(names, bad, strict=True) if b],
                    owner=owner,
                    fix="replace them, e.g. X = X.replace([np.inf, -np.inf], np.nan) "
                    "(missing values are accepted)",
                )
            return
        base = base_name or "base"
        check_finite_columns(
            numbers,
            feature_names=names,
            owner=owner,
            fix=fix
            or "impute them first, e.g. base_estimator=make_pipeline(SimpleImputer(), "
            f"{base}()), or use the default XGBoost base (base_estimator=None), which "
            "accepts missing values",
        )

    def base_names(self):
        """Column names of the DataFrame the default XGBoost base gets."""
        if any(c in name for name in self.names for c in _XGB_FORBIDDEN):
            return [f"x{j}" for j in range(len(self.names))]
        return list(self.names)

    def base_matrix(self, numbers, cats):
        """Return what the base model is fit on and predicts from (see ``base_input``)."""
        if self.base_input == "array":
            return numbers
        if self.base_input == "categories":
            import pandas as pd

            columns, k = {}, 0
            for name, kind, label in zip(self.names, self.kinds, self.base_names(), strict=True):
                if kind == NUMBER:
                    columns[label] = numbers[:, k]
                    k += 1
                else:
                    columns[label] = self._categorical(name, cats[name])
            return pd.DataFrame(columns)
        blocks, k = [], 0
        for name, kind in zip(self.names, self.kinds, strict=True):
            if kind == NUMBER:
                blocks.append(numbers[:, [k]])
                k += 1
                continue
            blocks.append(self._one_hot(name, cats[name]))
        return np.column_stack(blocks).astype(np.float64, copy=False)

    def _categorical(self, name, values):
        """Return a pandas Categorical with the fitted categories (pooled ones as ``(other)``)."""
        import pandas as pd

        spec = self.categories[name]
        kept = list(spec["categories"])
        if spec["other"]:
            known = set(kept)
            values = np.array(
                [v if v is None or v in known else OTHER for v in values], dtype=object
            )
            kept.append(OTHER)
        return pd.Categorical(values, dtype=pd.CategoricalDtype(kept))

    def _one_hot(self, name, values):
        spec = self.categories[name]
        kept = list(spec["categories"])
        labels = kept + [OTHER] * spec["other"] + [MISSING] * spec["missing"]
        position = {c: j for j, c in enumerate(kept)}
        out = np.zeros((len(values), len(labels)))
        for i, v in enumerate(values):
            if v is None:
                j = len(labels) - 1 if spec["missing"] else None
            else:
                j = position.get(v, len(kept) if spec["other"] else None)
            if j is not None:
                out[i, j] = 1.0
        return out

    def one_hot_names(self):
        """Names of the base model's columns with ``base_input="one_hot"`` (``city=Oslo``)."""
        out = []
        for name, kind in zip(self.names, self.kinds, strict=True):
            if kind == NUMBER:
                out.append(name)
                continue
            spec = self.categories[name]
            labels = (
                list(spec["categories"]) + [OTHER] * spec["other"] + [MISSING] * spec["missing"]
            )
            out += [f"{name}={label}" for label in labels]
        return out

    # ------------------------------------------------------------ JSON
    def to_dict(self):
        columns = []
        for name, kind in zip(self.names, self.kinds, strict=True):
            entry = {"name": name, "kind": kind}
            if kind == CATEGORY:
                entry.update(self.categories[name])
            columns.append(entry)
        return {"base_input": self.base_input, "columns": columns}

    @classmethod
    def from_dict(cls, data, feature_names):
        """Read and check the ``"table"`` entry of exported corrections."""
        if not isinstance(data, dict) or data.get("base_input") not in BASE_INPUTS:
            raise ValueError(
                f"the table layout must have base_input in {list(BASE_INPUTS)}, found "
                f"{data.get('base_input') if isinstance(data, dict) else data!r}; export the "
                "corrections again."
            )
        columns = data.get("columns", [])
        names = [str(c.get("name")) for c in columns]
        if names != [str(n) for n in feature_names]:
            raise ValueError(
                f"the table layout names the columns {names[:8]}, but the feature names are "
                f"{list(feature_names)[:8]}; export the corrections again."
            )
        kinds, categories = [], {}
        for c in columns:
            if c.get("kind") not in (NUMBER, CATEGORY):
                raise ValueError(
                    f"column {c.get('name')!r} has kind {c.get('kind')!r}; expected "
                    f"{NUMBER!r} or {CATEGORY!r}."
                )
            kinds.append(c["kind"])
            if c["kind"] == CATEGORY:
                categories[str(c["name"])] = {
                    "categories": [str(v) for v in c.get("categories", [])],
                    "other": bool(c.get("other", False)),
                    "missing": bool(c.get("missing", False)),
                }
        return cls(names, kinds, categories, data["base_input"])
