"""LLMChoiceSelector: greedy Add-One-In selection where an LLM picks each next row."""

import json
import numbers

import numpy as np
from sklearn.utils import check_random_state

from tabsift.sampling._coreset_base import CoresetSampler
from tabsift.sampling._coreset_budgets import N_SAMPLES_CONSTRAINT, STRATIFY_CONSTRAINT
from tabsift.sampling._coreset_embedding import standardise, weighted_moments
from tabsift.sampling._coreset_weights import cell_weights
from tabsift.utils import VERBOSE_CONSTRAINT, Interval, StrOptions, progress

_SYSTEM = (
    "You build a small, high-value training subset of a table, one row at a time. You see a "
    "summary of the rows chosen so far and a short list of candidate rows. Pick the ONE "
    "candidate that adds the most value: informative (near class boundaries or unusual but "
    "plausible) and different from what the subset already holds. Reply with JSON only: "
    '{"choice": <candidate number>, "reason": "<a few words>"}.'
)

_MAX_REASON = 200

_SCHEMA = {
    "type": "object",
    "properties": {"choice": {"type": "integer"}, "reason": {"type": "string"}},
    "required": ["choice"],
}


def _fmt(value):
    return f"{value:.4g}"


def _quote(name):
    """Return a column name as a JSON string: a name cannot change the prompt's structure."""
    return json.dumps(str(name), ensure_ascii=False)


def prompt_columns(X, names):
    """Return the columns a prompt shows: ``(name, values, is_numeric)``, values as the user wrote them.

    Numeric columns (numbers stored as text included) become floats, NaN where
    missing; the others strings, None where missing.
    """
    from tabsift.table import category_values, describe_column, numeric_values

    columns = []
    for j, name in enumerate(names):
        values = X.iloc[:, j] if hasattr(X, "iloc") else np.asarray(X)[:, j]
        info = describe_column(name, values)
        if info.is_numeric:
            columns.append((name, numeric_values(values, info), True))
        else:
            columns.append((name, category_values(values), False))
    return columns


def _value(values, i, numeric):
    v = values[i]
    if numeric:
        return "NA" if np.isnan(v) else _fmt(v)
    return "NA" if v is None else str(v)[:40]


def _summary(name, values, numeric):
    name = _quote(name)
    if numeric:
        present = values[~np.isnan(values)]
        if not len(present):
            return f"{name} all missing"
        missing = len(values) - len(present)
        text = (f"{name} mean {_fmt(present.mean())} range [{_fmt(present.min())}, "
                f"{_fmt(present.max())}]")
        return text + (f", {missing} missing" if missing else "")
    present = [v for v in values if v is not None]
    if not present:
        return f"{name} all missing"
    kinds, counts = np.unique(np.asarray(present, dtype=object).astype(str), return_counts=True)
    top = np.argsort(-counts, kind="stable")[:3]
    common = ", ".join(f"{str(kinds[t])[:40]!r} ({counts[t]})" for t in top)
    return f"{name} most common {common}" + (
        f", {len(values) - len(present)} missing" if len(present) < len(values) else "")


def describe_subset(columns, rows, y, max_features):
    """Compact text summary: size, class counts, per-feature mean and range (or commonest values)."""
    lines = [f"Current subset: {len(rows)} rows."]
    classes, counts = np.unique(y, return_counts=True)
    lines.append(
        "Class counts: " + ", ".join(f"{c}: {n}" for c, n in zip(classes, counts, strict=True))
    )
    shown = min(len(columns), max_features)
    parts = [_summary(name, values[rows], numeric) for name, values, numeric in columns[:shown]]
    more = f" (and {len(columns) - shown} more features)" if len(columns) > shown else ""
    lines.append("Features: " + "; ".join(parts) + more)
    return "\n".join(lines)


def describe_candidates(columns, rows, y, max_features):
    shown = columns[:max_features]
    lines = []
    for i, (row, label) in enumerate(zip(rows, y, strict=True)):
        values = ", ".join(
            f"{_quote(name)}={_value(v, row, numeric)}" for name, v, numeric in shown
        )
        lines.append(f"{i}: {values}; label={label}")
    return "Candidates:\n" + "\n".join(lines)


class LLMChoiceSelector(CoresetSampler):
    """Grow a subset one row at a time; an LLM picks each row from a small candidate window.

    Add-One-In selection: start from one representative row per class (the
    row nearest its class mean), then repeat until the budget is met: draw a
    window of ``window`` candidate rows, show the model a summary of the
    current subset (size, class counts, per-feature mean and range) and the
    candidates as text, and add the candidate it names. Replies are parsed as
    JSON (the last JSON value of the reply, after the client removed any
    reasoning) and validated (an integer index inside the window; ``1.0``,
    huge numbers and anything else are rejected); a reply that stays invalid
    after a retry is replaced, for that step only, by the fallback criterion
    below and counted in ``n_fallbacks_``. When the LLM fails for good
    (outage, budget spent), the rows chosen so far are kept and the fallback
    criterion makes the remaining choices, with ONE
    :class:`~tabsift.llm.LLMFallbackWarning` (see ``on_llm_error``).

    Any table is accepted: prompts show the values as the user wrote them
    (text, categories and missing values included), while distances use the
    standardised features, or the encoding of a mixed table
    (:func:`tabsift.table.encode_table`).

    Without an LLM (``llm=None``) the fallback criterion makes every choice:
    the candidate farthest (in standardised features) from its nearest
    subset row (diversity), ties broken by the entropy of a logistic
    regression's predicted classes (uncertainty).

    Parameters
    ----------
    llm : tabsift.llm.LLMClient or None, default=None
        The model making the choices; None uses the fallback criterion.
    on_llm_error : {"fallback", "raise"}, default="fallback"
        What a failure for good of the LLM does: ``"fallback"`` keeps the
        choices made and lets the fallback criterion finish, with one
        warning (``llm_report_.failed`` is True); ``"raise"`` lets the error
        propagate out of ``fit``.
    n_samples : int or float, default=0.1
        Rows to select: a count, or a fraction of the rows in (0, 1]. Each
        row after the first per class costs one LLM request (more on retry).
    stratify : {"proportional", "balanced"}, dict or None, default=None
        Per-class budgets (see :class:`KCenterSelector`); a class whose budget
        is met no longer appears in the windows.
    window : int, default=8
        Candidates shown per step.
    candidates : {"random", "diverse"}, default="random"
        How windows are drawn: uniformly at random from the eligible rows,
        or the ``window`` rows farthest from the subset (so the model
        arbitrates between the most diverse rows).
    max_features : int, default=12
        Features shown in prompts (the first ones); the rest are mentioned by
        count only.
    random_state : int, RandomState instance or None, default=None
        Seeds the windows.
    verbose : int, bool or "auto", default="auto"
        Progress bar over steps: ``"auto"`` shows it once the fit has run a couple of
        seconds in a notebook or terminal, ``0`` never, ``1`` at once.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected,)
        Selected rows of ``X``, in the order they were added.
    sample_weight_ : ndarray of shape (n_selected,)
        Rows each selected row stands for (with ``sample_weight``: their
        summed weight): the rows of its class nearer to it than to any other
        selected row of the class (any selected row, for a class with none).
        Sums to the number of rows (the total weight).
    choices_ : list of dict
        One entry per step after the seeds: ``window`` (row indices shown),
        ``chosen`` (row index), ``by`` (``"llm"`` or ``"fallback"``) and the
        model's ``reason`` when it gave one.
    llm_report_ : LLMReport
        What the LLM did, the same record in every LLM estimator
        (:class:`tabsift.llm.LLMReport`): one request per step, ``accepted``
        choices, ``rejected`` replies by reason, ``fallbacks`` (steps the
        fallback criterion decided), ``errors`` and ``failed``. All zeros
        when ``llm`` is None.
    n_llm_choices_ : int
        Steps decided by the model (``llm_report_.accepted``).
    n_fallbacks_ : int
        Steps where the model's reply was invalid, or the LLM had failed,
        and the fallback decided (``llm_report_.fallbacks``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    KCenterSelector : The diversity criterion alone, over all rows.

    Notes
    -----
    The model's reply is data: it is parsed as JSON and only an integer
    within the window is used. Cost: one request per selected row, so keep
    ``n_samples`` small (tens to a few hundred rows).

    Sample weights (``fit_resample(X, y, sample_weight=w)``): per-class
    budgets split ``n_samples`` by class mass, the seeds are the rows
    nearest each class's weighted mean, random windows draw rows with
    probability proportional to weight, the fallback's logistic regression
    is weighted, and rows of weight 0 are never shown. Windows are random
    and the model sees rows, not copies, so a weighted fit matches a fit on
    repeated rows in budgets and weight totals only.

    References
    ----------
    .. [1] "Add-One-In: Incremental Sample Selection for Large Language Models
       via a Choice-Based Greedy Paradigm", arXiv:2503.02359, 2025.

    Examples
    --------
    >>> from tabsift.datasets import make_rare_region
    >>> from tabsift.llm.testing import LocalLLMServer
    >>> from tabsift.sampling import LLMChoiceSelector
    >>> data = make_rare_region(n_samples=200, random_state=0)
    >>> with LocalLLMServer(lambda request: '{"choice": 0, "reason": "first"}') as server:
    ...     selector = LLMChoiceSelector(server.client(), n_samples=6, random_state=0)
    ...     X_small, y_small = selector.fit_resample(data.data, data.target)
    >>> X_small.shape, selector.n_llm_choices_, selector.n_fallbacks_
    ((6, 6), 4, 0)

    Without a model, the diversity/uncertainty criterion chooses:

    >>> selector = LLMChoiceSelector(None, n_samples=6, random_state=0)
    >>> selector.fit_resample(data.data, data.target)[0].shape
    (6, 6)
    """

    _needs_classes = True
    _parameter_constraints = {
        "llm": "no_validation",
        "on_llm_error": [StrOptions({"fallback", "raise"})],
        "n_samples": N_SAMPLES_CONSTRAINT,
        "stratify": STRATIFY_CONSTRAINT,
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "candidates": [StrOptions({"random", "diverse"})],
        "max_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": VERBOSE_CONSTRAINT,
    }

    def __init__(
        self,
        llm=None,
        *,
        on_llm_error="fallback",
        n_samples=0.1,
        stratify=None,
        window=8,
        candidates="random",
        max_features=12,
        random_state=None,
        verbose="auto",
    ):
        self.llm = llm
        self.on_llm_error = on_llm_error
        self.n_samples = n_samples
        self.stratify = stratify
        self.window = window
        self.candidates = candidates
        self.max_features = max_features
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.llm is not None
        return tags

    def _embed(self, X, Xv, plain):
        values, context = super()._embed(X, Xv, plain)
        if context:  # encoded: the prompts show the user's values, not the encoding
            if hasattr(X, "iloc"):
                context["shown"] = prompt_columns(X, [str(c) for c in X.columns])
            else:
                context["shown"] = prompt_columns(Xv, _names(self, Xv.shape[1]))
        return values, context

    def _select(self, X, y, *, mean=None, scale=None, row_weight=None, shown=None,
                sample_weight=None):
        # shown: the prompt's columns of the user's table, when X is its encoding.
        if self.llm is not None and not hasattr(self.llm, "chat_json"):
            raise TypeError(
                f"llm must be a tabsift.llm.LLMClient (or None for the fallback criterion), "
                f"got {type(self.llm).__name__}."
            )
        from tabsift.llm import LLMSession

        session = LLMSession(self.llm, owner=type(self).__name__, on_llm_error=self.on_llm_error)
        rng = check_random_state(self.random_state)
        n = X.shape[0]
        total, budgets = self._budgets(y, n, sample_weight)
        remaining = None if budgets is None else dict(budgets)
        if shown is None:
            names = _names(self, X.shape[1])
            shown = [(name, X[:, j], True) for j, name in enumerate(names)]
        if sample_weight is not None and mean is None:
            mean, scale = weighted_moments(X, sample_weight)
        Z = standardise(X, mean=mean, scale=scale, dtype=np.float64)
        uncertainty = _uncertainty(Z, y, sample_weight)
        selected = _seed_rows(Z, y, total, remaining, sample_weight)
        chosen_mask = np.zeros(n, dtype=bool)
        chosen_mask[selected] = True
        min_sq = np.full(n, np.inf)
        for i in selected:
            np.minimum(min_sq, ((Z - Z[i]) ** 2).sum(axis=1), out=min_sq)

        self.choices_ = []
        steps = total - len(selected)
        for _ in progress(range(steps), verbose=self.verbose, desc="Add-One-In", unit="row"):
            eligible = ~chosen_mask
            if remaining is not None:
                open_classes = [c for c, r in remaining.items() if r > 0]
                eligible &= np.isin(y, open_classes)
            window = self._window(np.flatnonzero(eligible), min_sq, rng, sample_weight)
            fallback = int(window[np.lexsort((-uncertainty[window], -min_sq[window]))[0]])
            entry = self._choose(session, shown, selected, y, window, fallback)
            pick = entry["chosen"]
            self.choices_.append(entry)
            selected.append(pick)
            chosen_mask[pick] = True
            np.minimum(min_sq, ((Z - Z[pick]) ** 2).sum(axis=1), out=min_sq)
            if remaining is not None:
                remaining[y[pick]] -= 1
        report = session.finish(self, what="the fallback criterion")
        self.n_llm_choices_ = report.accepted
        self.n_fallbacks_ = report.fallbacks
        selected = np.asarray(selected, dtype=np.int64)
        return selected, cell_weights(Z, y, selected, sample_weight)

    def _window(self, pool, min_sq, rng, sample_weight):
        """Return the candidate rows shown at one step, from the eligible rows ``pool``.

        ``"diverse"``: the rows farthest from those chosen; ``"random"``: a
        random draw (proportional to ``sample_weight``), sorted.
        """
        w = min(self.window, len(pool))
        if self.candidates == "diverse":
            return pool[np.lexsort((pool, -min_sq[pool]))[:w]]
        if sample_weight is None:
            return np.sort(rng.choice(pool, size=w, replace=False))
        p = sample_weight[pool] / sample_weight[pool].sum()
        return np.sort(rng.choice(pool, size=w, replace=False, p=p))

    def _choose(self, session, shown, selected, y, window, fallback):
        """Return one step's record ``{"window", "by", "chosen"[, "reason"]}``.

        The model's validated choice when it gives one, else ``fallback``
        (counted by the session).
        """
        entry = {"window": window.tolist(), "by": "fallback"}
        pick = fallback
        if self.llm is not None:
            answer = self._ask(session, shown, selected, y[selected], window, y[window])
            if answer is None:
                session.fallback(1)
            else:
                pick = int(window[answer["choice"]])
                entry["by"] = "llm"
                if isinstance(answer.get("reason"), str):
                    entry["reason"] = answer["reason"][:_MAX_REASON]
        entry["chosen"] = pick
        return entry

    def _rows_dropped(self, alive, n_rows):
        # The steps' row numbers were among the rows of positive weight.
        for entry in self.choices_:
            entry["window"] = alive[entry["window"]].tolist()
            entry["chosen"] = int(alive[entry["chosen"]])

    def _ask(self, session, columns, subset, y_sub, window, y_win):
        """Return the model's validated choice ``{"choice": i, ...}``, or None.

        None when the reply is rejected or the LLM has failed (the session counts which).
        """
        if not session.active:
            return None
        w = len(window)

        def in_window(value):
            choice = value.get("choice") if isinstance(value, dict) else None
            # An int only: 1.0, true, "1" or a huge number is not a candidate number.
            if not (isinstance(choice, int) and not isinstance(choice, bool) and 0 <= choice < w):
                raise ValueError(
                    f"choice must be a candidate number from 0 to {w - 1} (an integer)."
                )

        prompt = (
            describe_subset(columns, subset, y_sub, self.max_features)
            + "\n\n"
            + describe_candidates(columns, window, y_win, self.max_features)
            + f"\n\nWhich candidate (0 to {w - 1}) should be added?"
        )
        messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}]

        def question(llm):
            # A reply that stays invalid raises LLMResponseError: a counted rejection.
            return llm.chat_json(messages, schema=_SCHEMA, validator=in_window, max_attempts=2)[0]

        return session.ask(question, validate=in_window)


def _names(selector, n_columns):
    if hasattr(selector, "feature_names_in_"):
        return [str(c) for c in selector.feature_names_in_]
    return [f"x{j}" for j in range(n_columns)]



def _seed_rows(Z, y, total, remaining, sample_weight):
    """Return the first rows: the row nearest each class mean (classes with a budget left).

    ``remaining`` (per-class budgets, or None) is counted down in place.
    """
    selected = []
    seed_classes = [c for c in np.unique(y) if remaining is None or remaining[c] > 0]
    for c in seed_classes:
        if len(selected) >= total:
            break
        rows = np.flatnonzero(y == c)
        centre = np.average(Z[rows], axis=0,
                            weights=None if sample_weight is None else sample_weight[rows])
        selected.append(int(rows[np.argmin(((Z[rows] - centre) ** 2).sum(axis=1))]))
        if remaining is not None:
            remaining[c] -= 1
    return selected

def _uncertainty(Z, y, sample_weight=None):
    """Entropy of a logistic regression's class probabilities (0 with a single class)."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        return np.zeros(len(Z))
    model = LogisticRegression(max_iter=200).fit(Z, y, sample_weight=sample_weight)
    proba = model.predict_proba(Z)
    return -(proba * np.log(np.clip(proba, 1e-12, None))).sum(axis=1)
