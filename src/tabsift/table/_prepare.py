"""Make a raw table ready for a job, and say what was done.

The jobs run on tables as they come: numbers stored as text, placeholder
tokens for missing values, row-name and identifier columns, constant and
empty columns. :func:`prepare_table` fixes each of these in the open: every
step is returned as a record the job writes to its report and ``job.json``.
"""

from dataclasses import dataclass, field

import numpy as np

from tabsift.table._errors import TableError, quote_names
from tabsift.table._task import infer_task
from tabsift.table._types import (
    PLACEHOLDERS,
    category_values,
    describe_column,
    numeric_values,
)


@dataclass
class PreparedTable:
    """A table made ready for a job.

    Attributes
    ----------
    X : DataFrame
        The feature columns: numbers as floats, categories as strings (None
        where missing), or one-hot columns when encoding was asked for.
    y : Series
        The target, one value per row of ``X``.
    task : str
        ``"classification"`` or ``"regression"``.
    steps : list of dict
        What was done: ``{"step": ..., "columns": [...], "detail": ...}``.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabsift.table import prepare_table
    >>> raw = pd.DataFrame({"a": ["1", "2", "?", "4"], "y": ["p", "q", "p", "q"]})
    >>> prepared = prepare_table(raw, "y")
    >>> prepared.task, prepared.describe()
    ('classification', ["read numbers stored as text: 'a' (1 placeholder value(s) read as missing)"])
    """

    X: object
    y: object
    task: str
    steps: list = field(default_factory=list)

    def describe(self):
        """One line per step, for a report."""
        return [f"{s['step']}: {quote_names(s['columns'], limit=12)}" + (
            f" ({s['detail']})" if s.get("detail") else "") for s in self.steps]


def _is_unnamed(name):
    text = str(name).strip()
    return text == "" or text.startswith("Unnamed: ")


def _record(steps, step, names, detail=""):
    """Append a step to ``steps`` when it touched any column."""
    if names:
        steps.append({"step": step, "columns": list(names), "detail": detail})


def _check_named_columns(frame, target, *, drop, categorical, source):
    """Refuse options naming columns the table lacks, and a dropped target."""
    columns = [str(c) for c in frame.columns]
    named = {"--drop": drop, "--categorical": categorical, "--target": [target]}
    for option, names in named.items():
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise TableError(
                f"{option} names column(s) {quote_names(unknown)} that {source} does not have; "
                f"its columns are: {quote_names(columns, limit=30)}."
            )
    if target in drop:
        raise TableError(f"--drop names the target column {target!r}; leave it out of --drop.")


def _read_target(frame, target, *, placeholders, source):
    """Return the target column as numbers or categories, and its description."""
    import pandas as pd

    if frame.shape[0] == 0:
        raise TableError(f"{source} has a header but no rows; a job needs data rows.")
    y_info = describe_column(target, frame[target], placeholders=placeholders)
    if y_info.kind == "empty":
        raise TableError(
            f"target column {target!r} of {source} has no values (all {frame.shape[0]} are "
            "missing); pass the column to predict with --target."
        )
    if y_info.is_numeric:
        y = pd.Series(numeric_values(frame[target], y_info, placeholders=placeholders),
                      index=frame.index, name=target)
        if y_info.kind == "boolean":
            y = y.astype(object).where(y.notna(), None)
    else:
        y = pd.Series(category_values(frame[target], placeholders=placeholders),
                      index=frame.index, name=target)
    return y, y_info


def _rows_with_target(y, target, *, source, steps):
    """Return the mask of rows that have a target value (at least 2 of them)."""
    keep = y.notna().to_numpy()
    if not keep.all():
        _record(steps, "dropped rows without a target", [target], f"{int((~keep).sum())} rows")
    if keep.sum() < 2:
        raise TableError(
            f"{source} has {int(keep.sum())} row(s) with a target value in {target!r}; a job "
            "needs at least 2."
        )
    return keep


def _settle_task(y, y_info, task, *, target, source, owner):
    """Return the target with its final dtype, and the task it poses."""
    if y_info.is_numeric and y_info.kind != "boolean" and y.dtype == object:
        y = y.astype(np.float64)
    task = infer_task(
        y, task, owner=owner, classifier="--task classification", regressor="--task regression"
    )
    if task == "classification" and y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)  # class labels read as numbers: 1, not 1.0
    if task == "classification" and y.nunique() < 2:
        raise TableError(
            f"target column {target!r} of {source} has a single class ({y.iloc[0]!r}); "
            "classification needs at least 2 classes."
        )
    return y, task


def _column_fate(name, info, n_rows, categorical):
    """Return the list a feature column goes to, or None when it is kept as read."""
    if str(name) in categorical:
        return "forced"
    if info.kind == "empty":
        return "empty"
    distinct_all = info.n_unique == n_rows and info.n_missing == 0 and n_rows > 2
    if _is_unnamed(name) and distinct_all:
        return "rownames"
    if info.n_unique < 2:
        return "constant"
    if info.is_numeric:
        return "coerced" if info.kind == "numeric_text" else None
    if distinct_all and info.kind in ("categorical", "text"):
        return "ident"
    return None


def _prepare_features(X, *, categorical, placeholders, steps):
    """Return the usable feature columns of ``X``, read as numbers or categories."""
    import pandas as pd

    out = {}
    lists = {k: [] for k in ("rownames", "empty", "constant", "ident", "coerced", "forced")}
    placeholder_count = 0
    for name in X.columns:
        values = X[name]
        info = describe_column(str(name), values, placeholders=placeholders)
        fate = _column_fate(name, info, X.shape[0], categorical)
        if fate is not None:
            lists[fate].append(name)
        if fate == "forced":
            # the category dtype keeps number-like codes ('1', '10') from being read as numbers
            out[name] = pd.Categorical(category_values(values, placeholders=placeholders))
        elif info.is_numeric and fate in (None, "coerced"):
            out[name] = numeric_values(values, info, placeholders=placeholders)
            if fate == "coerced":
                placeholder_count += info.n_placeholders
        elif fate is None:
            out[name] = category_values(values, placeholders=placeholders)
    _record(steps, "dropped unnamed row-number columns", lists["rownames"])
    _record(steps, "dropped empty columns", lists["empty"])
    _record(steps, "dropped constant columns", lists["constant"])
    _record(steps, "dropped identifier columns (every value differs)", lists["ident"])
    _record(
        steps,
        "read numbers stored as text",
        lists["coerced"],
        f"{placeholder_count} placeholder value(s) read as missing" if placeholder_count else "",
    )
    _record(steps, "treated as categories (--categorical)", lists["forced"])
    return out


def _impute(prepared, numeric, cats, *, steps):
    """Fill missing numbers with the median and missing categories with "(missing)"."""
    gaps = [c for c in numeric if prepared[c].isna().any()]
    for c in gaps:
        prepared[c] = prepared[c].fillna(prepared[c].median())
    _record(
        steps,
        "imputed missing numbers with the column median",
        gaps,
    )
    holes = [c for c in cats if prepared[c].isna().any()]
    for c in holes:
        prepared[c] = prepared[c].where(prepared[c].notna(), "(missing)")
    _record(steps, 'filled missing categories with "(missing)"', holes)


def prepare_table(
    frame,
    target,
    *,
    task="auto",
    source="the table",
    na_values=(),
    categorical=(),
    drop=(),
    impute=False,
    encode=False,
    prepare=True,
    owner="tabsift",
):
    """Split ``frame`` into features and target and prepare both for a job.

    Parameters
    ----------
    frame : DataFrame
        The table as read from its file.
    target : str
        The target column.
    task : {"auto", "classification", "regression"}, default="auto"
        Passed to :func:`infer_task`.
    source : str, default="the table"
        The file name, used in messages.
    na_values : sequence of str, default=()
        Extra tokens read as missing, next to :data:`PLACEHOLDERS`.
    categorical : sequence of str, default=()
        Columns to treat as categories even when they hold numbers.
    drop : sequence of str, default=()
        Columns to leave out.
    impute : bool, default=False
        Fill missing numbers with the column median and missing categories
        with the category ``"(missing)"`` (for methods that need complete data).
    encode : bool, default=False
        One-hot encode the categorical columns (``city=Oslo``), for methods
        that need numbers only.
    prepare : bool, default=True
        False keeps the feature columns exactly as read (``--no-prepare``);
        rows without a target are still dropped, and the target still checked.
    owner : str, default="tabsift"
        The job, named in messages.

    Returns
    -------
    PreparedTable

    Raises
    ------
    TableError
        If a named column is missing, the target has no values or a single
        class, fewer than two rows remain, or no feature column is left.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabsift.table import prepare_table
    >>> raw = pd.DataFrame({"id": ["a1", "a2", "a3", "a4"], "age": ["41", "?", "35", "50"],
    ...                     "city": ["Oslo", "Lima", "Oslo", None], "y": [0, 1, 0, 1]})
    >>> prepared = prepare_table(raw, "y", impute=True)
    >>> list(prepared.X.columns), prepared.X["age"].tolist()
    (['age', 'city'], [41.0, 41.0, 35.0, 50.0])
    >>> [s["step"] for s in prepared.steps]  # doctest: +NORMALIZE_WHITESPACE
    ['dropped identifier columns (every value differs)', 'read numbers stored as text',
     'imputed missing numbers with the column median', 'filled missing categories with
     "(missing)"']
    """
    import pandas as pd

    placeholders = PLACEHOLDERS | {str(v).strip().lower() for v in na_values}
    _check_named_columns(frame, target, drop=drop, categorical=categorical, source=source)
    steps = []
    y, y_info = _read_target(frame, target, placeholders=placeholders, source=source)
    keep = _rows_with_target(y, target, source=source, steps=steps)
    X = frame.drop(columns=[target, *drop]).loc[keep]
    y = y.loc[keep]
    _record(steps, "dropped columns (--drop)", drop)
    y, task = _settle_task(y, y_info, task, target=target, source=source, owner=owner)
    if not prepare:
        return PreparedTable(X, y, task, steps)

    out = _prepare_features(X, categorical=categorical, placeholders=placeholders, steps=steps)
    if not out:
        raise TableError(
            f"{source} has no usable feature column besides {target!r} (all were empty, "
            "constant or identifiers); check the file, or pass --no-prepare."
        )
    prepared = pd.DataFrame(out, index=X.index)
    numeric = [c for c in prepared.columns if prepared[c].dtype.kind == "f"]
    cats = [c for c in prepared.columns if c not in numeric]
    if impute:
        _impute(prepared, numeric, cats, steps=steps)
    if encode and cats:
        prepared = pd.get_dummies(
            prepared, columns=cats, prefix_sep="=", dummy_na=not impute, dtype=np.float64
        )
        _record(steps, "one-hot encoded categorical columns", cats)
    prepared.columns = [str(c) for c in prepared.columns]
    return PreparedTable(prepared, y, task, steps)
