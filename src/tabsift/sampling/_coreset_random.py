"""StratifiedRandomSelector: the random baseline every coreset must beat."""

import numpy as np
from sklearn.utils import check_random_state

from tabsift.sampling._coreset_common import (
    N_SAMPLES_CONSTRAINT,
    STRATIFY_CONSTRAINT,
    CoresetSampler,
    groups,
)


class StratifiedRandomSelector(CoresetSampler):
    """Select rows uniformly at random, with per-class budgets.

    The honest reference for coreset methods: random samples are unbiased
    and often hard to beat at moderate budgets. The features are never read
    (only their number of rows and their names), so any table is accepted as
    it is: text, categories, missing or unparseable values.

    Parameters
    ----------
    n_samples : int or float, default=0.1
        Rows to select: a count, or a fraction of the rows in (0, 1].
    stratify : {"proportional", "balanced"}, dict or None, default="proportional"
        Per-class budgets (see :class:`KCenterSelector`); None samples
        without regard to classes (and accepts regression targets, which
        the other values refuse: see :func:`tabsift.table.infer_task`).
    random_state : int, RandomState instance or None, default=None
        Seeds the draw.
    verbose : int, default=0
        Accepted for a uniform interface; the draw is instantaneous.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected,)
        Selected rows of ``X`` (sorted within each class).
    sample_weight_ : ndarray of shape (n_selected,)
        Rows of ``X`` each selected row stands for: its class size divided by
        the class budget (all rows over the budget without ``stratify``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    imblearn.under_sampling.RandomUnderSampler : Random under-sampling to balance classes.

    Examples
    --------
    >>> from tabsift.datasets import make_rare_region
    >>> from tabsift.sampling import StratifiedRandomSelector
    >>> data = make_rare_region(n_samples=1000, random_state=0)
    >>> selector = StratifiedRandomSelector(n_samples=0.05, stratify="balanced", random_state=0)
    >>> X_small, y_small = selector.fit_resample(data.data, data.target)
    >>> y_small.value_counts().sort_index().tolist()
    [25, 25]
    """

    _reads_features = False
    _parameter_constraints = {
        "n_samples": N_SAMPLES_CONSTRAINT,
        "stratify": STRATIFY_CONSTRAINT,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, n_samples=0.1, *, stratify="proportional", random_state=None, verbose=0):
        self.n_samples = n_samples
        self.stratify = stratify
        self.random_state = random_state
        self.verbose = verbose

    def _select(self, X, y, *, mean=None, scale=None, row_weight=None):
        rng = check_random_state(self.random_state)
        total, budgets = self._budgets(y, X.shape[0])
        indices, weights = [], []
        for _, rows, budget in groups(y, budgets, X.shape[0]):
            k = total if budget is None else budget
            chosen = np.sort(rng.choice(rows, size=k, replace=False))
            indices.append(chosen)
            weights.append(np.full(k, len(rows) / k))
        return np.concatenate(indices), np.concatenate(weights)
