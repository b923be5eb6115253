"""Vectorised evaluation of a syntax tree in the array-API namespace of the data.

Only array-API functions are used (``xp.exp``, ``xp.where``, ``xp.minimum``,
...), so the same code runs on NumPy, array_api_strict and CuPy.
"""

import operator
from collections.abc import Mapping

import numpy as np

from tabsift.expr._errors import ExpressionError, NonFiniteResultError
from tabsift.expr._nodes import (
    CONSTANTS,
    BinaryOp,
    Call,
    Column,
    Compare,
    Constant,
    Number,
    UnaryOp,
    children,
)
from tabsift.expr._suggestions import unknown_column_error
from tabsift.table import is_dataframe


def _backend():
    """tabsift.backend, imported on first evaluation: it loads more than parsing needs."""
    import tabsift.backend

    return tabsift.backend


def _is_series(obj):
    return _backend().is_pandas(obj) and hasattr(obj, "to_numpy") and not hasattr(obj, "columns")


def get_namespace(*arrays, xp=None):
    """Namespace to compute in: tabsift.backend's choice."""
    return _backend().get_namespace(*arrays, xp=xp)


def _to_namespace(array, xp):
    return _backend().asarray(array, xp=xp)


def _not_numeric(name, dtype, position_of):
    return ExpressionError(
        f"column {name!r} has dtype {dtype}; formulas need numeric columns (int, float or bool)",
        **position_of(name),
        fix="convert it first, e.g. with pandas.to_numeric, or encode categories as numbers.",
    )


def _series_values(series, name, position_of):
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in "biuf":
            return series.to_numpy()
        raise _not_numeric(name, dtype, position_of)
    # pandas extension dtypes (Int64, Float64, boolean) hold NA: read it as NaN.
    if getattr(dtype, "kind", "O") in "biuf":
        return series.to_numpy(dtype="float64", na_value=np.nan)
    raise _not_numeric(name, dtype, position_of)


class _Table:
    """Uniform access to the columns of a DataFrame, a mapping or a 2-D array."""

    def __init__(self, data, feature_names, position_of):
        self.position_of = position_of
        self.sample = None
        if feature_names is not None and (is_dataframe(data) or isinstance(data, Mapping)):
            raise ValueError(
                "feature_names is only used with a 2-D array; a DataFrame or a mapping already "
                "names its columns. Pass feature_names=None."
            )
        if is_dataframe(data):
            self.kind = "dataframe"
            self.data = data
            self.names = [str(c) for c in data.columns]
            self.n_rows = len(data)
        elif isinstance(data, Mapping):
            self.kind = "mapping"
            self.data = data
            self.keys = {str(k): k for k in data}
            self.names = list(self.keys)
            self.n_rows = None
            if data:
                self.sample = self._values(self.names[0])
        else:
            if _is_series(data):
                raise ValueError(
                    "data is a pandas Series, which is one column; pass a DataFrame, or a "
                    "mapping such as {'x': series}."
                )
            if not hasattr(data, "shape"):
                data = np.asarray(data)
            if len(data.shape) != 2:
                raise ValueError(
                    "data must be a pandas DataFrame, a mapping from column names to 1-D "
                    f"arrays, or a 2-D array with feature_names; found an array of shape "
                    f"{tuple(data.shape)}."
                )
            self.kind = "array"
            self.data = data
            self.sample = data
            n_features = data.shape[1]
            if feature_names is None:
                self.names = [f"x{i}" for i in range(n_features)]
            else:
                self.names = [str(f) for f in feature_names]
                if len(self.names) != n_features:
                    raise ValueError(
                        f"feature_names has {len(self.names)} names but data has {n_features} "
                        "columns; pass one name per column."
                    )
            self.n_rows = data.shape[0]
        self.positions = {}
        for i, name in enumerate(self.names):
            self.positions.setdefault(name, []).append(i)

    def _values(self, name):
        value = self.data[self.keys[name]]
        if _is_series(value):
            return _series_values(value, name, self.position_of)
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            value = np.asarray(value)
        return value

    def get(self, name):
        positions = self.positions.get(name)
        if not positions:
            return None
        if len(positions) > 1:
            raise ExpressionError(
                f"the data has {len(positions)} columns named {name!r}, so the formula's "
                "reference is ambiguous",
                **self.position_of(name),
                fix="give the columns unique names.",
            )
        if self.kind == "dataframe":
            return _series_values(self.data.iloc[:, positions[0]], name, self.position_of)
        if self.kind == "mapping":
            return self._values(name)
        return self.data[:, positions[0]]


def _default_float(xp, device):
    try:
        return xp.__array_namespace_info__().default_dtypes(device=device)["real floating"]
    except (AttributeError, TypeError):  # pragma: no cover - older namespaces
        return xp.float64


def _is_dtype(xp, dtype, kind):
    try:
        return xp.isdtype(dtype, kind)
    except (TypeError, ValueError):  # e.g. object or string dtypes
        return False


def _sigmoid(xp, x):
    return _backend().sigmoid(x, xp=xp)


def _array_api(name):
    """Return ``f(xp, *args)``, which calls the array-API function ``name`` of ``xp``."""

    def call(xp, *args):
        return getattr(xp, name)(*args)

    return call


def _clip(xp, x, lower, upper):
    return xp.minimum(xp.maximum(x, lower), upper)


# Formula functions and operators -> what computes them on a namespace ``xp``.
_FUNCTIONS = {
    **{
        name: _array_api(name)
        for name in (
            "exp", "log", "log1p", "sqrt", "abs", "tanh", "sin", "cos", "sign",
            "minimum", "maximum", "where",
        )
    },
    "sigmoid": _sigmoid,
    "clip": _clip,
}

_BINARY = {
    op: _array_api(name)
    for op, name in {
        "+": "add",
        "-": "subtract",
        "*": "multiply",
        "/": "divide",
        "**": "pow",
        "&": "logical_and",
        "|": "logical_or",
        "<": "less",
        "<=": "less_equal",
        ">": "greater",
        ">=": "greater_equal",
        "==": "equal",
        "!=": "not_equal",
    }.items()
}


class _Context:
    """Evaluates a tree; numbers stay Python floats until an operation needs an array.

    Keeping constants as scalars lets ``x ** 2`` and ``0.5 * x`` use the backend's
    scalar fast paths instead of materialising a full column per constant.
    """

    def __init__(self, xp, n_rows, dtype, device, columns, record):
        self.xp = xp
        self.n_rows = n_rows
        self.dtype = dtype
        self.device = device
        self.columns = columns
        self.values = {} if record else None

    def full(self, value):
        """``value`` as an array of the row count (a no-op for arrays)."""
        if not isinstance(value, (float, bool)):
            return value
        dtype = self.xp.bool if isinstance(value, bool) else self.dtype
        return self.xp.full((self.n_rows,), value, dtype=dtype, device=self.device)

    def run(self, node):
        xp = self.xp
        if isinstance(node, Number):
            value = float(node.value)
        elif isinstance(node, Constant):
            value = float(CONSTANTS[node.name])
        elif isinstance(node, Column):
            value = self.columns[node.name]
        elif isinstance(node, UnaryOp):
            operand = self.run(node.operand)
            if node.op == "-":
                value = -operand if isinstance(operand, float) else xp.negative(operand)
            else:
                value = xp.logical_not(self.full(operand))
        elif isinstance(node, (BinaryOp, Compare)):
            value = self._binary(node.op, self.run(node.left), self.run(node.right))
        elif isinstance(node, Call):
            value = _FUNCTIONS[node.func](xp, *[self.full(self.run(arg)) for arg in node.args])
        else:  # pragma: no cover - Expression validates its tree
            raise TypeError(f"not a syntax tree node: {node!r}")
        if self.values is not None:
            self.values[id(node)] = value
        return value

    def _binary(self, op, left, right):
        xp = self.xp
        if isinstance(left, float) and isinstance(right, float):
            # Both constant: compute once in float64 (1 / 0 gives inf, as on arrays).
            value = _BINARY[op](np, np.float64(left), np.float64(right))
            return bool(value) if op in _COMPARISONS else float(value)
        if op == "**" and isinstance(right, float) and right == 2.0:
            return left * left
        if op in _SCALAR_OPERATORS and (isinstance(left, float) or isinstance(right, float)):
            return _SCALAR_OPERATORS[op](left, right)
        return _BINARY[op](xp, self.full(left), self.full(right))


_COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})

# Array-with-Python-scalar operations through the array API's operators.
_SCALAR_OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _count(xp, mask):
    return int(xp.sum(xp.astype(mask, xp.int64)))


def _first(xp, mask):
    return int(xp.argmax(xp.astype(mask, xp.int8)))


def _kinds(xp, values, mask):
    found = []
    if bool(xp.any(xp.logical_and(mask, xp.isnan(values)))):
        found.append("NaN")
    if bool(xp.any(xp.logical_and(mask, xp.logical_and(xp.isinf(values), values > 0)))):
        found.append("inf")
    if bool(xp.any(xp.logical_and(mask, xp.logical_and(xp.isinf(values), values < 0)))):
        found.append("-inf")
    return " and ".join(found)


def _fix_for(node):
    tail = "or pass check_finite=False to get the values with NaN/inf."
    if isinstance(node, Column):
        return (
            "impute missing values first (e.g. sklearn.impute.SimpleImputer), drop those rows, "
            + tail
        )
    if isinstance(node, Call) and node.func in ("log", "sqrt", "log1p"):
        bound = "-1" if node.func == "log1p" else "0"
        arg = str(node.args[0])
        return (
            f"keep the argument of {node.func} above {bound}, e.g. "
            f"where({arg} > {bound}, {node.func}({arg}), 0), " + tail
        )
    if isinstance(node, BinaryOp) and node.op == "/":
        den = str(node.right)
        return f"guard the denominator, e.g. where({den} != 0, ... / {den}, 0), " + tail
    if (isinstance(node, Call) and node.func == "exp") or isinstance(node, BinaryOp):
        return "keep the values in range, e.g. exp(clip(x, -50, 50)), " + tail
    return tail[0].upper() + tail[1:]


def _check_finite(expression, ctx, result):
    xp = ctx.xp
    bad = xp.logical_not(xp.isfinite(result))
    if not bool(xp.any(bad)):
        return
    total, first_total = _count(xp, bad), _first(xp, bad)
    # Walk down to the innermost node whose own non-finite values reach the result.
    node, path, rows = expression.root, (), bad
    while True:
        for index, child in enumerate(children(node)):
            values = ctx.full(ctx.values[id(child)])
            if _is_dtype(xp, values.dtype, "bool"):
                continue
            child_rows = xp.logical_and(rows, xp.logical_not(xp.isfinite(values)))
            if bool(xp.any(child_rows)):
                node, path, rows = child, (*path, index), child_rows
                break
        else:
            break
    values = ctx.full(ctx.values[id(node)])
    count, first = _count(xp, rows), _first(xp, rows)
    plural = "s" if count != 1 else ""
    kinds = _kinds(xp, values, rows)
    if isinstance(node, Column):
        reason = (
            f"column {node.name!r} contains {kinds} on {count} row{plural} (first: row {first})"
        )
    else:
        reason = f"{node} produced {kinds} on {count} row{plural} (first: row {first})"
    if node is not expression.root:
        reason += ", which makes the result not finite there"
        if total > count:
            reason += (
                f"; in all, {total} rows of the result are not finite (first: row {first_total})"
            )
    span = expression._spans.get(path)
    raise NonFiniteResultError(
        reason,
        text=expression.text,
        position=None if span is None else span[0],
        fix=_fix_for(node),
        subexpression=str(node),
        n_rows=total,
        first_row=first_total,
    )


def _gather_columns(expression, table, position_of):
    """Return the raw values of each column the formula reads, and arrays to find the namespace from."""
    raw = {}
    for name in expression.columns:
        values = table.get(name)
        if values is None:
            raise unknown_column_error(name, table.names, **position_of(name))
        raw[name] = values
    samples = list(raw.values()) or ([table.sample] if table.sample is not None else [])
    if not samples:
        if table.n_rows is None:
            raise ValueError(
                "cannot tell the number of rows: the data has no columns. Pass data with at "
                "least one column."
            )
        samples = [np.empty(table.n_rows)]
    return raw, samples


def _to_columns(raw, xp, n_rows, position_of):
    """Each column as a 1-D array of ``xp``, all of one length; returns ``(columns, n_rows)``."""
    columns = {}
    for name, values in raw.items():
        values = _to_namespace(values, xp)
        if len(values.shape) != 1:
            raise ExpressionError(
                f"column {name!r} must be 1-D, found shape {tuple(values.shape)}",
                **position_of(name),
                fix="pass one 1-D array per column, or a 2-D array with feature_names.",
            )
        if n_rows is None:
            n_rows = values.shape[0]
        elif values.shape[0] != n_rows:
            raise ExpressionError(
                f"column {name!r} has {values.shape[0]} rows but the other columns have {n_rows}",
                **position_of(name),
                fix="pass columns of equal length.",
            )
        columns[name] = values
    return columns, n_rows


def _to_floats(xp, columns, default, position_of):
    """Booleans and integers as ``default`` floats (in place); other non-floats are refused."""
    for name, values in columns.items():
        if _is_dtype(xp, values.dtype, "real floating"):
            continue
        if _is_dtype(xp, values.dtype, "bool") or _is_dtype(xp, values.dtype, "integral"):
            columns[name] = xp.astype(values, default)
        else:
            raise _not_numeric(name, values.dtype, position_of)


def evaluate_expression(expression, data, *, feature_names=None, xp=None, check_finite=True):
    """Evaluate a parsed :class:`Expression` on ``data``; see :func:`tabsift.expr.evaluate`."""

    def position_of(name):
        return {"text": expression.text, "position": expression._column_position(name)}

    table = _Table(data, feature_names, position_of)
    raw, samples = _gather_columns(expression, table, position_of)
    xp = get_namespace(*samples, xp=xp)
    columns, n_rows = _to_columns(raw, xp, table.n_rows, position_of)
    if n_rows is None:
        n_rows = samples[0].shape[0]
    device = _backend().device(_to_namespace(samples[0], xp))
    default = _default_float(xp, device)
    _to_floats(xp, columns, default, position_of)
    float_dtypes = [v.dtype for v in columns.values()]
    dtype = xp.result_type(*float_dtypes) if float_dtypes else default

    ctx = _Context(xp, n_rows, dtype, device, columns, record=False)
    # np.errstate also covers array_api_strict, which computes with NumPy underneath.
    with np.errstate(all="ignore"):
        result = ctx.full(ctx.run(expression.root))
        if isinstance(expression.root, Column):
            # Never hand back the caller's own array: writing to the result must not change it.
            result = xp.asarray(result, copy=True)
        if check_finite and not _is_dtype(xp, result.dtype, "bool"):
            if not bool(xp.all(xp.isfinite(result))):
                # Only now pay for keeping every intermediate: evaluate again, recording
                # them, to name the sub-expression that went wrong. Not recording on the
                # first pass lets NumPy reuse temporaries in place.
                ctx = _Context(xp, n_rows, dtype, device, columns, record=True)
                _check_finite(expression, ctx, ctx.full(ctx.run(expression.root)))
    return result
