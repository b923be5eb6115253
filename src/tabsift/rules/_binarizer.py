"""Binarizer: raw numeric and categorical columns -> named 0/1 literals."""

import json
import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from tabsift.backend import asarray, device, get_namespace, namespace_name, to_numpy
from tabsift.rules._rule import condition_text
from tabsift.table import TableError, check_column_names, column_numbers, describe_column
from tabsift.table._types import category_values, numeric_values
from tabsift.utils._numbers import is_finite_number

_SIGNIFICANT = 3


def _round_threshold(value, low, high):
    """Round to the column's scale (3 significant digits of its range), so thresholds read
    ``glucose > 127`` rather than ``glucose > 126.84``; more digits only when needed to stay
    inside ``[low, high)``."""
    spread = high - low
    if not (math.isfinite(value) and math.isfinite(spread) and spread > 0):
        return value
    decimals = _SIGNIFICANT - 1 - int(math.floor(math.log10(spread)))
    for extra in range(10):
        rounded = round(value, decimals + extra)
        if low <= rounded < high:
            return float(rounded)
    return value


def _shown(value, limit=80):
    """A short repr of a value from an LLM reply (a 4,000-digit number stays readable)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_device_array(X):
    """True for an array of a non-NumPy array library (array_api_strict, CuPy, ...)."""
    root = type(X).__module__.split(".")[0]
    return hasattr(X, "__array_namespace__") and root not in ("numpy", "pandas")


def _input_namespace(X):
    """The namespace to compute in, and whether ``X`` is already an array of it.

    The configured ``array_backend`` wins; otherwise an array of another library
    (array_api_strict, CuPy) keeps its own namespace and anything else (NumPy, pandas,
    lists, array-likes) is NumPy.
    """
    xp = get_namespace(X) if _is_device_array(X) else get_namespace()
    native = _is_device_array(X) and type(X).__module__.split(".")[0] == namespace_name(xp)
    return xp, native


def _column_numbers(name, values, info=None):
    """A column read as float numbers (NaN where missing), or None when it holds text.

    What the column holds comes from the table layer (:func:`tabsift.table.describe_column`):
    numbers stored as text are parsed, placeholders such as ``?`` are missing values.
    """
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        return np.asarray(values, dtype=np.float64)  # fast path: plain numbers
    info = describe_column(name, values) if info is None else info
    if info.kind == "empty":
        return np.full(len(values), np.nan)
    return numeric_values(values, info) if info.is_numeric else None


def _numbers_now(name, values):
    """A column that held numbers during fit, as numbers; text in it now reads as missing.

    New rows may hold a value no training row had (``'rotary'`` in a column of cylinder
    counts). Like an unseen category, it makes every literal of its column false; a warning
    names the column and the value (:func:`tabsift.table.column_numbers`).
    """
    return column_numbers(name, values, owner="Binarizer")


class Binarizer(TransformerMixin, BaseEstimator):
    """Turn raw numeric and categorical columns into named binary literals.

    Each numeric column ``c`` gives literals ``c > t`` for a few thresholds
    ``t``: quantiles of the column by default, thresholds you give, or
    thresholds proposed by an LLM (``strategy="llm"``). A column holding only
    0 and 1 (or ``bool``) is already a literal and keeps its name ``c``. Each
    categorical column (text or ``category`` dtype) gives one literal
    ``c == v`` per frequent value (one only when the column has two values:
    the other is its negation). The output is a boolean matrix whose columns
    are named like ``glucose > 127`` (:meth:`get_feature_names_out`), the
    input of :class:`BooleanRuleClassifier`.

    What a column holds is read by :func:`tabsift.table.describe_column`, as
    everywhere in tabsift: numbers stored as text (a column of ``'41'``,
    ``'?'``, ``'35'``) are numbers and get thresholds; placeholder tokens
    (``?``, ``NA``, ``n/a``, ``-``, empty text, see
    :data:`tabsift.table.PLACEHOLDERS`) are missing values, never a category;
    datetime columns are numbers (days since 1970-01-01). A missing value
    makes every literal of its column false. A column without any value (all
    missing, e.g. from trailing commas in a CSV file) gives no literal and is
    listed in ``empty_columns_``.

    Parameters
    ----------
    n_thresholds : int, default=5
        Thresholds per numeric column: the ``i / (n_thresholds + 1)``
        quantiles, rounded to 3 significant digits of the column's range, repeated ones dropped,
        and kept only when they split the training rows (``min <= t < max``).
        With ``strategy="llm"`` it is also the most thresholds accepted from
        the LLM per column.
    strategy : {"quantile", "llm"}, default="quantile"
        Where thresholds come from. ``"llm"`` asks ``llm`` once for every
        numeric column (given ``feature_descriptions`` and each column's
        observed range); a column whose proposal is missing, not a list of
        numbers, has no value strictly inside the observed range or more than
        ``n_thresholds`` values falls back to quantiles (``llm_fallbacks_``
        says why).
    thresholds : dict of {str or int: list of float}, default=None
        Your own thresholds for some columns (by name, or by position when
        ``X`` has no column names); they take precedence over ``strategy``.
    max_categories : int, default=20
        Most literals per categorical column: its most frequent values.
    llm : LLMClient, default=None
        The client used by ``strategy="llm"``.
    feature_descriptions : dict of {str: str}, default=None
        What each column means, for the LLM prompt (units help).
    on_llm_error : {"fallback", "raise"}, default="fallback"
        What happens when the LLM fails for good (server down, budget spent):
        ``"fallback"`` uses quantiles for every column and issues one
        :class:`~tabsift.llm.LLMFallbackWarning`; ``"raise"`` lets the error
        propagate out of :meth:`fit`.

    Attributes
    ----------
    literals_ : list of dict
        One per output column: ``{"column", "test", "value", "name"}`` with
        ``test`` ``">"`` (numeric), ``"=="`` (categorical) or ``"is"`` (a
        0/1 column, named as the column).
    thresholds_ : dict of {str: list of float}
        The thresholds of each numeric column.
    categories_ : dict of {str: list}
        The values given a literal, per categorical column.
    threshold_source_ : dict of {str: str}
        ``"quantile"``, ``"user"``, ``"llm"`` or ``"binary"`` (a 0/1 column)
        per numeric column.
    llm_fallbacks_ : dict of {str: str}
        Numeric columns whose LLM thresholds were rejected (quantiles used) or
        partly dropped (outside the observed range), with the reason; empty
        unless ``strategy="llm"``.
    llm_unknown_columns_ : list of str
        Names in the LLM's reply that are not numeric columns of ``X``
        (ignored).
    llm_reply_ : dict or None
        The validated JSON the LLM returned (``strategy="llm"``).
    llm_report_ : LLMReport
        What the LLM did during :meth:`fit` (requests, accepted answers,
        rejections by reason, columns done by quantiles instead, errors); all
        zeros unless ``strategy="llm"``. A column whose proposal was not a
        usable list of numbers counts as an ``"invalid"`` rejection.
    column_kinds_ : dict of {str: str}
        What each input column holds (a kind of
        :data:`tabsift.table.KINDS`: ``"numeric"``, ``"numeric_text"``,
        ``"boolean"``, ``"categorical"``, ``"empty"``, ...).
    empty_columns_ : list of str
        The input columns without a single value; they give no literal (in
        neither ``thresholds_`` nor ``categories_``). A column you gave
        thresholds for is never listed here.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input column names, when ``X`` has string column names.

    See Also
    --------
    BooleanRuleClassifier : Learns a rule over these literals.
    sklearn.preprocessing.KBinsDiscretizer : Bins numeric columns (one-hot, not thresholds).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabsift.rules import Binarizer
    >>> X = pd.DataFrame({"age": [20, 35, 50, 65], "smoker": ["no", "yes", "no", "yes"]})
    >>> binarizer = Binarizer(n_thresholds=1).fit(X)
    >>> list(binarizer.get_feature_names_out())
    ['age > 42.5', "smoker == 'yes'"]
    >>> binarizer.transform(X).astype(int).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]

    Numbers stored as text with ``?`` for missing get thresholds, and an
    empty column gives no literal:

    >>> raw = pd.DataFrame({"V6": ["1", "10", "?", "3"], "note": ["?", "", None, "n/a"]})
    >>> binarizer = Binarizer(n_thresholds=1).fit(raw)
    >>> list(binarizer.get_feature_names_out()), binarizer.empty_columns_
    (['V6 > 3'], ['note'])
    """

    _parameter_constraints = {
        "n_thresholds": [Interval(numbers.Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"quantile", "llm"})],
        "thresholds": [dict, None],
        "max_categories": [Interval(numbers.Integral, 1, None, closed="left")],
        "llm": "no_validation",
        "feature_descriptions": [dict, None],
        "on_llm_error": [StrOptions({"fallback", "raise"})],
    }

    def __init__(
        self,
        n_thresholds=5,
        *,
        strategy="quantile",
        thresholds=None,
        max_categories=20,
        llm=None,
        feature_descriptions=None,
        on_llm_error="fallback",
    ):
        self.n_thresholds = n_thresholds
        self.strategy = strategy
        self.thresholds = thresholds
        self.max_categories = max_categories
        self.llm = llm
        self.feature_descriptions = feature_descriptions
        self.on_llm_error = on_llm_error

    # ------------------------------------------------------------------ input
    def _columns(self, X, reset):
        """``[(name, values)]`` for each input column, after sklearn's checks."""
        import pandas as pd

        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[1] == 0 or (reset and X.shape[0] == 0):
                check_array(np.empty(X.shape), ensure_min_samples=1, ensure_min_features=1)
            return self._names(), [column for _, column in X.items()]
        if _is_device_array(X):
            X = to_numpy(X)  # thresholds are chosen on the host (quantiles, a few per column)
        X = validate_data(
            self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan", accept_sparse=False
        )
        if X.dtype.kind in "fiub":
            X = X.astype(np.float64, copy=False)
            if np.isinf(X).any():
                raise ValueError(
                    "X contains infinite values; Binarizer accepts NaN (no literal holds) but "
                    "not inf. Replace them first, e.g. with np.nan_to_num."
                )
        names = self._names()
        return names, [X[:, j] for j in range(X.shape[1])]

    def _names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _user_thresholds(self, names):
        given = {}
        for key, values in (self.thresholds or {}).items():
            if isinstance(key, numbers.Integral) and not isinstance(key, bool):
                if not 0 <= key < len(names):
                    raise ValueError(
                        f"thresholds has column position {key}, but X has {len(names)} "
                        "columns; use a column name or a position in range."
                    )
                key = names[key]
            if str(key) not in names:
                raise ValueError(
                    f"thresholds names column {key!r}, which is not in X; its columns are "
                    f"{names[:10]}{' ...' if len(names) > 10 else ''}."
                )
            values = [values] if is_finite_number(values) else list(values)
            if not values or not all(is_finite_number(v) for v in values):
                raise ValueError(
                    f"thresholds[{key!r}] must be a non-empty list of finite numbers; found "
                    f"{values!r}."
                )
            given[str(key)] = sorted({float(v) for v in values})
        return given

    # -------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Choose the thresholds and categories of every column.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric and/or categorical columns, numbers stored as text
            included; NaN (or missing, or a placeholder such as ``?``) is
            allowed and makes every literal of its column false.
        y : None
            Ignored.

        Returns
        -------
        self : Binarizer

        Raises
        ------
        TableError
            If ``X`` has duplicate column names, or ``thresholds`` names a
            column that holds text.
        """
        check_column_names(X, owner="Binarizer")
        names, columns = self._columns(X, reset=True)
        if self.strategy == "llm" and self.llm is None:
            raise ValueError(
                "strategy='llm' needs an LLM client: pass llm=LLMClient(...), or use "
                "strategy='quantile'."
            )
        user = self._user_thresholds(names)
        # What each column holds comes from the table layer: numbers stored as text (with
        # '?' for missing) are numbers, placeholders are missing, empty columns give nothing.
        numeric, categorical = {}, {}
        self.column_kinds_, self.empty_columns_ = {}, []
        for name, values in zip(names, columns, strict=True):
            info = describe_column(name, values)
            self.column_kinds_[name] = info.kind
            if info.kind == "empty" and name not in user:
                self.empty_columns_.append(name)
            elif info.is_numeric or info.kind == "empty":
                numeric[name] = _column_numbers(name, values, info)
            elif name in user:
                example = next(v for v in category_values(values) if v is not None)
                raise TableError(
                    f"thresholds were given for column {name!r}, but it is not numeric: it "
                    f"holds text such as {example!r}; leave it out of thresholds (its values "
                    "become literals 'column == value'), or convert it to numbers first."
                )
            else:
                categorical[name] = values

        self.thresholds_, self.threshold_source_, self.categories_ = {}, {}, {}
        self.llm_fallbacks_, self.llm_reply_, self.llm_unknown_columns_ = {}, None, []
        # A 0/1 column is already a literal: it keeps its own name (threshold 0.5).
        binary = set()
        for name, values in numeric.items():
            finite = values[np.isfinite(values)]
            if name not in user and finite.size and set(np.unique(finite)) == {0.0, 1.0}:
                binary.add(name)
        from tabsift.llm import LLMSession

        session = LLMSession(
            self.llm if self.strategy == "llm" else None,
            owner="Binarizer",
            on_llm_error=self.on_llm_error,
        )
        proposals = {}
        if self.strategy == "llm":
            asked = [n for n in numeric if n not in user and n not in binary]
            proposals = self._ask_llm(session, asked, numeric) if asked else {}
        for name, values in numeric.items():
            finite = values[np.isfinite(values)]
            low, high = (finite.min(), finite.max()) if finite.size else (np.nan, np.nan)
            if name in binary:
                chosen, source = [0.5], "binary"
            elif name in user:
                chosen, source = user[name], "user"
            elif name in proposals:
                chosen, source = proposals[name], "llm"
            else:
                chosen, source = self._quantiles(finite, low, high), "quantile"
            self.thresholds_[name] = chosen
            self.threshold_source_[name] = source
        for name, values in categorical.items():
            self.categories_[name] = self._frequent(values)

        self._build_literals(names)
        session.finish(self, what="quantile thresholds")
        return self

    def _build_literals(self, names):
        literals = []
        for name in names:
            if self.threshold_source_.get(name) == "binary":
                literals.append({"column": name, "test": "is", "value": True, "name": name})
            elif name in self.thresholds_:
                literals += [
                    {"column": name, "test": ">", "value": t, "name": condition_text(name, ">", t)}
                    for t in self.thresholds_[name]
                ]
            else:
                literals += [
                    {
                        "column": name,
                        "test": "==",
                        "value": v,
                        "name": condition_text(name, "==", v),
                    }
                    for v in self.categories_.get(name, [])  # empty columns have none
                ]
        self.literals_ = literals

    def _add_thresholds(self, added):
        """Add thresholds ``{column: [t, ...]}`` to fitted numeric columns (used by the
        classifier's threshold refinement); literal order stays column by column, sorted."""
        for name, values in added.items():
            self.thresholds_[name] = sorted(set(self.thresholds_[name]) | set(values))
        self._build_literals(self._names())

    def _quantiles(self, finite, low, high):
        if finite.size == 0:
            return []
        levels = np.arange(1, self.n_thresholds + 1) / (self.n_thresholds + 1)
        out = []
        for q in np.quantile(finite, levels):
            t = _round_threshold(float(q), low, high)
            if low <= t < high and t not in out:
                out.append(t)
        return out

    def _frequent(self, values):
        # Categories compare by their text; placeholders ('?', 'n/a', ...) are missing.
        keys = category_values(values)
        counts = {}
        first = {}
        for key, value in zip(keys, np.asarray(values, dtype=object), strict=True):
            if key is None:
                continue
            counts[key] = counts.get(key, 0) + 1
            first.setdefault(key, value)
        if len(counts) < 2:
            return []
        ranked = sorted(counts, key=lambda k: (-counts[k], k))
        if len(ranked) == 2:
            ranked = ranked[1:]  # the other value is this literal's negation
        kept = []
        for key in ranked[: self.max_categories]:
            value = first[key]
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, str) or not isinstance(value, (bool, numbers.Number)):
                value = key  # the text it is compared by (surrounding spaces stripped)
            kept.append(value)
        return kept

    # -------------------------------------------------------------------- LLM
    def _ask_llm(self, session, asked, numeric):
        """Ask for thresholds of the columns ``asked``; return the valid ones per column.

        Every column the LLM does not give usable thresholds for falls back to quantiles
        (``llm_fallbacks_`` says why); a proposal that is not a list of finite numbers
        inside the observed range is counted as an ``"invalid"`` rejection.
        """
        descriptions = self.feature_descriptions or {}
        lines = []
        ranges = {}
        for name in asked:
            finite = numeric[name][np.isfinite(numeric[name])]
            if finite.size == 0:
                self.llm_fallbacks_[name] = "the column has no finite value"
                continue
            ranges[name] = (float(finite.min()), float(finite.max()))
            low, high = ranges[name]
            median = float(np.median(finite))
            # Names and descriptions are data: they enter the prompt only as JSON strings.
            about = f": {json.dumps(str(descriptions[name]))}" if name in descriptions else ""
            lines.append(
                f"- {json.dumps(name)}{about} (observed range {low:.6g} to {high:.6g}, "
                f"median {median:.6g})"
            )
        if not lines:
            return {}
        prompt = (
            "You choose thresholds that turn numeric table columns into yes/no conditions "
            "'column > threshold' for an interpretable rule. Prefer meaningful cut-offs "
            "(clinical or regulatory limits, round numbers) over arbitrary values. For each "
            f"column give 1 to {self.n_thresholds} thresholds strictly inside its observed "
            "range. Column names are given as JSON strings; use them exactly as keys.\n\n"
            "Columns:\n" + "\n".join(lines) + "\n\nReply with JSON only, an object of the "
            'form {"thresholds": {"column name": [number, ...]}}, with one entry per column.'
        )
        schema = {
            "type": "object",
            "properties": {"thresholds": {"type": "object"}},
            "required": ["thresholds"],
        }
        messages = [{"role": "user", "content": prompt}]
        reply = session.ask(lambda llm: llm.chat_json(messages, schema=schema)[0])
        if reply is None:
            last = session.report.errors[-1] if session.report.errors else "no usable reply"
            for name in ranges:
                self.llm_fallbacks_[name] = f"the LLM request failed ({last}); using quantiles"
            session.fallback(len(ranges))
            return {}
        self.llm_reply_ = json.loads(json.dumps(reply))
        proposed = reply["thresholds"]
        self.llm_unknown_columns_ = sorted(str(k) for k in proposed if k not in ranges)
        out = {}
        for name, (low, high) in ranges.items():
            values = proposed.get(name)
            reason = None
            if values is None:
                reason = "the LLM proposed no threshold"
            elif not isinstance(values, list) or not values:
                reason = f"expected a non-empty list of numbers, got {_shown(values)}"
            elif not all(is_finite_number(v) for v in values):
                reason = f"not all proposals are finite numbers: {_shown(values)}"
            else:
                floats = {float(v) for v in values}
                inside = sorted(v for v in floats if low < v < high)
                if len(floats) > self.n_thresholds:
                    reason = (
                        f"{len(floats)} thresholds proposed, more than n_thresholds="
                        f"{self.n_thresholds}"
                    )
                elif not inside:
                    reason = (
                        f"no proposal {_shown(values)} lies strictly inside ({low:.6g}, "
                        f"{high:.6g})"
                    )
                else:
                    out[name] = inside
                    dropped = sorted(floats - set(inside))
                    if dropped:
                        self.llm_fallbacks_[name] = (
                            f"kept {inside}; dropped {dropped} (outside the observed range "
                            f"({low:.6g}, {high:.6g}))"
                        )
            if reason is not None:
                self.llm_fallbacks_[name] = reason + "; using quantiles"
                session.fallback()
                if values is not None:
                    session.reject("invalid", f"thresholds of {json.dumps(name)}: {reason}")
        return out

    # -------------------------------------------------------------- transform
    def transform(self, X):
        """Evaluate every literal on ``X``.

        The literal matrix is computed on ``X``'s array namespace
        (:func:`tabsift.backend.get_namespace`: NumPy for NumPy arrays,
        pandas and lists; ``array_api_strict`` or CuPy for their arrays, a
        CuPy ``X`` staying on its GPU; or the backend forced by
        ``tabsift.set_config(array_backend=...)``). Numeric literals
        ``col > t`` are one broadcast comparison per column there.
        Categorical literals (text values) are computed on the host and
        moved, so a non-NumPy array input must be numeric.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, `n_features_in_`)

        Returns
        -------
        Z : array of bool of shape (n_samples, n_literals)
            Column ``i`` says where literal ``literals_[i]`` holds; NaN,
            missing values, placeholders and unseen categories make literals
            false, as does text in a column that held numbers during fit
            (with a warning naming the column). A NumPy array, or an array
            of the namespace it was computed in.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.rules import Binarizer
        >>> binarizer = Binarizer(n_thresholds=1).fit(np.array([[1.0], [2.0], [3.0]]))
        >>> binarizer.transform(np.array([[0.0], [np.nan], [5.0]])).ravel().tolist()
        [False, False, True]
        """
        check_is_fitted(self, "literals_")
        xp, native = _input_namespace(X)
        if namespace_name(xp) != "numpy":
            return self._transform_on(X, xp, native)
        return self._transform_host(X)

    def _check_device_array(self, X, xp):
        """Checks of a non-NumPy array input (sklearn's would copy it to the host)."""
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2-D array (rows x columns); got {X.ndim} dimensions. Reshape it, "
                "e.g. X.reshape(-1, 1) for a single column."
            )
        validate_data(self, X, reset=False, skip_check_array=True)
        if X.shape[0] < 1:
            raise ValueError(f"Found array with 0 sample(s) (shape={tuple(X.shape)}).")
        if not xp.isdtype(X.dtype, ("bool", "integral", "real floating")):
            raise ValueError(
                f"a {namespace_name(xp)} array input must be numeric (bool, integer or real "
                f"float); found dtype {X.dtype}. Pass text or categorical columns as a pandas "
                "DataFrame."
            )
        X = xp.astype(X, xp.float64)
        if bool(xp.any(xp.isinf(X))):
            raise ValueError(
                "X contains infinite values; Binarizer accepts NaN (no literal holds) but "
                "not inf. Replace them first."
            )
        return X

    def _transform_on(self, X, xp, native):
        """The literal matrix on namespace ``xp``: numeric literals compared there."""
        names = self._names()
        categorical = [n for n in names if self.categories_.get(n)]
        if native:
            if categorical:
                raise ValueError(
                    f"column {categorical[0]!r} was categorical during fit; a "
                    f"{namespace_name(xp)} array cannot hold its values. Pass a pandas "
                    "DataFrame or a NumPy array."
                )
            X = self._check_device_array(X, xp)
            numeric = {name: X[:, j : j + 1] for j, name in enumerate(names)}
            by_column, n, where = {}, X.shape[0], device(X)
        else:
            # Host input (pandas, NumPy, lists) with a forced backend, or an array of another
            # library: checked as usual, numeric columns moved once as one float64 matrix.
            if _is_device_array(X):
                X = to_numpy(X)
            names, columns = self._columns(X, reset=False)
            by_column = dict(zip(names, columns, strict=True))
            moved = [n for n in names if self.thresholds_.get(n)]
            host = []
            for name in moved:
                host.append(_numbers_now(name, by_column[name]))
            n = len(columns[0]) if columns else 0
            matrix = asarray(np.column_stack(host) if host else np.zeros((n, 0)), xp=xp)
            numeric = {name: matrix[:, j : j + 1] for j, name in enumerate(moved)}
            where = device(matrix)
        blocks = []
        for name in names:
            if name in self.thresholds_:
                thresholds = self.thresholds_[name]
                if thresholds:
                    column = numeric[name]
                    cut = xp.asarray(thresholds, dtype=xp.float64, device=device(column))
                    # NaN > t is False: missing values make every literal of the column false.
                    blocks.append(column > xp.reshape(cut, (1, -1)))
            elif self.categories_.get(name):
                keys = category_values(by_column[name])
                hits = np.column_stack([keys == str(v) for v in self.categories_[name]])
                blocks.append(asarray(hits, xp=xp, dtype="bool"))
        if not blocks:
            return xp.zeros((n, 0), dtype=xp.bool, device=where)
        return xp.concat(blocks, axis=1)

    def _transform_host(self, X):
        """The literal matrix as a NumPy array (the search's input)."""
        names, columns = self._columns(X, reset=False)
        n = len(columns[0]) if columns else 0
        Z = np.zeros((n, len(self.literals_)), dtype=bool)
        by_column = dict(zip(names, columns, strict=True))
        position = 0
        for name in names:
            if name in self.thresholds_:
                thresholds = self.thresholds_[name]
                if thresholds:
                    values = _numbers_now(name, by_column[name])
                    with np.errstate(invalid="ignore"):
                        Z[:, position : position + len(thresholds)] = (
                            values[:, None] > np.asarray(thresholds)[None, :]
                        )
                position += len(thresholds)
            else:
                categories = self.categories_.get(name, [])  # empty columns have none
                if categories:
                    keys = category_values(by_column[name])
                    for i, value in enumerate(categories):
                        Z[:, position + i] = keys == str(value)
                position += len(categories)
        return Z

    def get_feature_names_out(self, input_features=None):
        """Names of the literals, e.g. ``glucose > 127`` or ``sex == 'male'``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Ignored beyond a consistency check (names come from fit).

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "literals_")
        if input_features is not None:
            input_features = [str(f) for f in input_features]
            if input_features != self._names():
                raise ValueError(
                    "input_features differs from the column names seen in fit: "
                    f"{input_features} vs {self._names()}."
                )
        return np.asarray([lit["name"] for lit in self.literals_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = []
        tags.non_deterministic = self.strategy == "llm"
        return tags
