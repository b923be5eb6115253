"""Binarizer: raw numeric and categorical columns -> named 0/1 literals."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tabsift.backend import namespace_name
from tabsift.rules._columns import (
    _column_numbers,
    _input_namespace,
    _take_rows,
    input_names,
    read_columns,
)
from tabsift.rules._literals import build_literals, host_literals, namespace_literals
from tabsift.rules._llm_thresholds import ask_thresholds
from tabsift.rules._thresholds import is_binary, quantile_thresholds
from tabsift.table import TableError, category_values, check_column_names, describe_column
from tabsift.utils import (
    Interval,
    StrOptions,
    check_row_weights,
    fit_context,
    is_finite_number,
)


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
        the LLM per column. With ``sample_weight`` the quantiles are weighted
        (a row of weight ``k`` counts as ``k`` rows).
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
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Choose the thresholds and categories of every column.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric and/or categorical columns, numbers stored as text
            included; NaN (or missing, or a placeholder such as ``?``) is
            allowed and makes every literal of its column false.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights. A row of integer weight ``k`` counts
            as ``k`` copies of it: quantile thresholds are weighted
            quantiles, the categories kept are the most frequent by total
            weight, a column is 0/1 when its rows of positive weight are.
            Rows of weight 0 are left out (the observed range shown to the
            LLM is that of the other rows). ``None`` weighs every row 1.

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
        names, columns = read_columns(self, X, reset=True)
        weights = check_row_weights(sample_weight, X, owner="Binarizer")
        if weights is not None:
            # Weight 0 means the row is not there; the others keep their weight.
            keep = weights > 0
            columns = [_take_rows(values, keep) for values in columns]
            weights = weights[keep]
        if self.strategy == "llm" and self.llm is None:
            raise ValueError(
                "strategy='llm' needs an LLM client: pass llm=LLMClient(...), or use "
                "strategy='quantile'."
            )
        user = self._user_thresholds(names)
        numeric, categorical = self._sort_columns(names, columns, user)
        self.thresholds_, self.threshold_source_, self.categories_ = {}, {}, {}
        self.llm_fallbacks_, self.llm_reply_, self.llm_unknown_columns_ = {}, None, []
        # A 0/1 column is already a literal: it keeps its own name (threshold 0.5).
        binary = {name for name, values in numeric.items() if name not in user and is_binary(values)}
        from tabsift.llm import LLMSession

        session = LLMSession(
            self.llm if self.strategy == "llm" else None,
            owner="Binarizer",
            on_llm_error=self.on_llm_error,
        )
        proposals = self._llm_proposals(session, numeric, user, binary)
        for name, values in numeric.items():
            if name in binary:
                chosen, source = [0.5], "binary"
            elif name in user:
                chosen, source = user[name], "user"
            elif name in proposals:
                chosen, source = proposals[name], "llm"
            else:
                chosen = quantile_thresholds(values, weights, self.n_thresholds)
                source = "quantile"
            self.thresholds_[name] = chosen
            self.threshold_source_[name] = source
        for name, values in categorical.items():
            self.categories_[name] = self._frequent(values, weights)

        self.literals_ = build_literals(self, names)
        session.finish(self, what="quantile thresholds")
        return self

    def _sort_columns(self, names, columns, user):
        """Return the numeric columns (as numbers) and the categorical ones, by name.

        What each column holds comes from the table layer: numbers stored as text (with
        '?' for missing) are numbers, placeholders are missing, empty columns give nothing.
        Sets ``column_kinds_`` and ``empty_columns_``.
        """
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
        return numeric, categorical

    def _llm_proposals(self, session, numeric, user, binary):
        """Return the LLM's usable thresholds per column (none unless ``strategy='llm'``).

        Only the numeric columns without user thresholds that are not 0/1 are asked about;
        sets ``llm_reply_``, ``llm_unknown_columns_`` and ``llm_fallbacks_``.
        """
        if self.strategy != "llm":
            return {}
        asked = [n for n in numeric if n not in user and n not in binary]
        if not asked:
            return {}
        proposals, self.llm_reply_, self.llm_unknown_columns_ = ask_thresholds(
            session,
            asked,
            numeric,
            n_thresholds=self.n_thresholds,
            descriptions=self.feature_descriptions,
            fallbacks=self.llm_fallbacks_,
        )
        return proposals

    def _frequent(self, values, weights=None):
        # Categories compare by their text; placeholders ('?', 'n/a', ...) are missing.
        keys = category_values(values)
        counts = {}
        first = {}
        weights = np.ones(len(keys)) if weights is None else weights
        for key, value, weight in zip(
            keys, np.asarray(values, dtype=object), weights.tolist(), strict=True
        ):
            if key is None:
                continue
            counts[key] = counts.get(key, 0) + weight
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
            return namespace_literals(self, X, xp, native)
        return host_literals(self, X)

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
            if input_features != input_names(self):
                raise ValueError(
                    "input_features differs from the column names seen in fit: "
                    f"{input_features} vs {input_names(self)}."
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
