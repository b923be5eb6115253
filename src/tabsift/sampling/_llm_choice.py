"""LLMChoiceSelector: greedy Add-One-In selection where an LLM picks each next row."""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from tabsift.sampling._coreset_common import (
    N_SAMPLES_CONSTRAINT,
    STRATIFY_CONSTRAINT,
    CoresetSampler,
    standardise,
)
from tabsift.utils import progress

_SYSTEM = (
    "You build a small, high-value training subset of a table, one row at a time. You see a "
    "summary of the rows chosen so far and a short list of candidate rows. Pick the ONE "
    "candidate that adds the most value: informative (near class boundaries or unusual but "
    "plausible) and different from what the subset already holds. Reply with JSON only: "
    '{"choice": <candidate number>, "reason": "<a few words>"}.'
)

_SCHEMA = {
    "type": "object",
    "properties": {"choice": {"type": "integer"}, "reason": {"type": "string"}},
    "required": ["choice"],
}


def _fmt(value):
    return f"{value:.4g}"


def describe_subset(X, y, names, max_features):
    """Compact text summary: size, class counts, per-feature mean and range."""
    lines = [f"Current subset: {len(X)} rows."]
    classes, counts = np.unique(y, return_counts=True)
    lines.append(
        "Class counts: " + ", ".join(f"{c}: {n}" for c, n in zip(classes, counts, strict=True))
    )
    shown = min(len(names), max_features)
    parts = [
        f"{names[j]} mean {_fmt(X[:, j].mean())} range [{_fmt(X[:, j].min())}, "
        f"{_fmt(X[:, j].max())}]"
        for j in range(shown)
    ]
    more = f" (and {len(names) - shown} more features)" if len(names) > shown else ""
    lines.append("Features: " + "; ".join(parts) + more)
    return "\n".join(lines)


def describe_candidates(X, y, names, max_features):
    shown = min(len(names), max_features)
    rows = []
    for i in range(len(X)):
        values = ", ".join(f"{names[j]}={_fmt(X[i, j])}" for j in range(shown))
        rows.append(f"{i}: {values}; label={y[i]}")
    return "Candidates:\n" + "\n".join(rows)


class LLMChoiceSelector(CoresetSampler):
    """Grow a subset one row at a time; an LLM picks each row from a small candidate window.

    Add-One-In selection: start from one representative row per class (the
    row nearest its class mean), then repeat until the budget is met: draw a
    window of ``window`` candidate rows, show the model a summary of the
    current subset (size, class counts, per-feature mean and range) and the
    candidates as text, and add the candidate it names. Replies are parsed as
    JSON and validated (an integer index inside the window); a reply that
    stays invalid after a retry is replaced, for that step only, by the
    fallback criterion below and counted in ``n_fallbacks_``.

    Without an LLM (``llm=None``) the fallback criterion makes every choice:
    the candidate farthest (in standardised features) from its nearest
    subset row (diversity), ties broken by the entropy of a logistic
    regression's predicted classes (uncertainty).

    Parameters
    ----------
    llm : tabsift.llm.LLMClient or None, default=None
        The model making the choices; None uses the fallback criterion.
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
    verbose : int, default=0
        ``1`` shows a progress bar over steps.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected,)
        Selected rows of ``X``, in the order they were added.
    choices_ : list of dict
        One entry per step after the seeds: ``window`` (row indices shown),
        ``chosen`` (row index), ``by`` (``"llm"`` or ``"fallback"``) and the
        model's ``reason`` when it gave one.
    n_llm_choices_ : int
        Steps decided by the model.
    n_fallbacks_ : int
        Steps where the model's reply was invalid and the fallback decided.
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
        "n_samples": N_SAMPLES_CONSTRAINT,
        "stratify": STRATIFY_CONSTRAINT,
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "candidates": [StrOptions({"random", "diverse"})],
        "max_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        llm=None,
        *,
        n_samples=0.1,
        stratify=None,
        window=8,
        candidates="random",
        max_features=12,
        random_state=None,
        verbose=0,
    ):
        self.llm = llm
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

    def _select(self, X, y, *, mean=None, scale=None, row_weight=None):
        if self.llm is not None and not hasattr(self.llm, "chat_json"):
            raise TypeError(
                f"llm must be a tabsift.llm.LLMClient (or None for the fallback criterion), "
                f"got {type(self.llm).__name__}."
            )
        rng = check_random_state(self.random_state)
        n = X.shape[0]
        total, budgets = self._budgets(y, n)
        if budgets is None:
            remaining = None
        else:
            remaining = {c: b for c, b in budgets.items()}
        names = (
            [str(c) for c in self.feature_names_in_]
            if hasattr(self, "feature_names_in_")
            else [f"x{j}" for j in range(X.shape[1])]
        )
        Z = standardise(X, mean=mean, scale=scale, dtype=np.float64)
        uncertainty = _uncertainty(Z, y)

        # Seeds: the row nearest each class mean (classes with a budget).
        selected = []
        seed_classes = [c for c in np.unique(y) if remaining is None or remaining[c] > 0]
        for c in seed_classes:
            if len(selected) >= total:
                break
            rows = np.flatnonzero(y == c)
            centre = Z[rows].mean(axis=0)
            selected.append(int(rows[np.argmin(((Z[rows] - centre) ** 2).sum(axis=1))]))
            if remaining is not None:
                remaining[c] -= 1
        chosen_mask = np.zeros(n, dtype=bool)
        chosen_mask[selected] = True
        min_sq = np.full(n, np.inf)
        for i in selected:
            np.minimum(min_sq, ((Z - Z[i]) ** 2).sum(axis=1), out=min_sq)

        self.choices_ = []
        self.n_llm_choices_ = 0
        self.n_fallbacks_ = 0
        steps = total - len(selected)
        for _ in progress(range(steps), verbose=self.verbose, desc="Add-One-In", unit="row"):
            eligible = ~chosen_mask
            if remaining is not None:
                open_classes = [c for c, r in remaining.items() if r > 0]
                eligible &= np.isin(y, open_classes)
            pool = np.flatnonzero(eligible)
            w = min(self.window, len(pool))
            if self.candidates == "diverse":
                window = pool[np.lexsort((pool, -min_sq[pool]))[:w]]
            else:
                window = np.sort(rng.choice(pool, size=w, replace=False))
            fallback = int(window[np.lexsort((-uncertainty[window], -min_sq[window]))[0]])
            entry = {"window": window.tolist(), "by": "fallback"}
            pick = fallback
            if self.llm is not None:
                answer = self._ask(X[selected], y[selected], X[window], y[window], names)
                if answer is None:
                    self.n_fallbacks_ += 1
                else:
                    pick = int(window[answer["choice"]])
                    entry["by"] = "llm"
                    if isinstance(answer.get("reason"), str):
                        entry["reason"] = answer["reason"]
                    self.n_llm_choices_ += 1
            entry["chosen"] = pick
            self.choices_.append(entry)
            selected.append(pick)
            chosen_mask[pick] = True
            np.minimum(min_sq, ((Z - Z[pick]) ** 2).sum(axis=1), out=min_sq)
            if remaining is not None:
                remaining[y[pick]] -= 1
        return np.asarray(selected, dtype=np.int64), None

    def _ask(self, X_sub, y_sub, X_win, y_win, names):
        """The model's validated choice ``{"choice": i, ...}``, or None when it stays invalid."""
        from tabsift.llm import LLMResponseError

        w = len(X_win)

        def in_window(value):
            if not 0 <= value["choice"] < w:
                raise ValueError(f"choice must be a candidate number from 0 to {w - 1}.")

        prompt = (
            describe_subset(X_sub, y_sub, names, self.max_features)
            + "\n\n"
            + describe_candidates(X_win, y_win, names, self.max_features)
            + f"\n\nWhich candidate (0 to {w - 1}) should be added?"
        )
        messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}]
        try:
            value, _ = self.llm.chat_json(
                messages, schema=_SCHEMA, validator=in_window, max_attempts=2
            )
        except LLMResponseError:
            return None
        return value


def _uncertainty(Z, y):
    """Entropy of a logistic regression's class probabilities (0 with a single class)."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        return np.zeros(len(Z))
    proba = LogisticRegression(max_iter=200).fit(Z, y).predict_proba(Z)
    return -(proba * np.log(np.clip(proba, 1e-12, None))).sum(axis=1)
