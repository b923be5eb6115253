"""StratifiedRandomSelector: the random baseline every coreset must beat."""

import numpy as np
from sklearn.utils import check_random_state

from tabsift.sampling._coreset_base import CoresetSampler
from tabsift.sampling._coreset_budgets import N_SAMPLES_CONSTRAINT, STRATIFY_CONSTRAINT, groups
from tabsift.utils import VERBOSE_CONSTRAINT


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
    verbose : int, bool or "auto", default="auto"
        Progress: accepted for a uniform interface; the draw is instantaneous.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected,)
        Selected rows of ``X`` (sorted within each class).
    sample_weight_ : ndarray of shape (n_selected,)
        Rows of ``X`` each selected row stands for: its class size divided by
        the class budget (all rows over the budget without ``stratify``);
        with ``sample_weight``, the class's mass divided by its budget. Sums
        to the rows (the total weight) of the classes selected from.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    See Also
    --------
    imblearn.under_sampling.RandomUnderSampler : Random under-sampling to balance classes.

    Notes
    -----
    Sample weights (``fit_resample(X, y, sample_weight=w)``): per-class
    budgets split ``n_samples`` by class mass, and rows are drawn without
    replacement with probability proportional to their weight (NumPy's
    sequential weighted draw), so a heavy row is more likely kept; each kept
    row then stands for an equal share of its class's mass. Rows of weight 0
    are never drawn. The draw is random, so a weighted fit equals a fit on
    repeated rows in distribution (budgets and weight totals exactly), not
    row for row.

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
        "verbose": VERBOSE_CONSTRAINT,
    }

    def __init__(
        self, n_samples=0.1, *, stratify="proportional", random_state=None, verbose="auto"
    ):
        self.n_samples = n_samples
        self.stratify = stratify
        self.random_state = random_state
        self.verbose = verbose

    def _select(self, X, y, *, mean=None, scale=None, row_weight=None, sample_weight=None):
        rng = check_random_state(self.random_state)
        total, budgets = self._budgets(y, X.shape[0], sample_weight)
        indices, weights = [], []
        for _, rows, budget in groups(y, budgets, X.shape[0]):
            k = total if budget is None else budget
            if sample_weight is None:
                chosen = np.sort(rng.choice(rows, size=k, replace=False))
                mass = len(rows)
            else:
                mass = sample_weight[rows].sum()
                p = sample_weight[rows] / mass
                chosen = np.sort(rng.choice(rows, size=k, replace=False, p=p))
            indices.append(chosen)
            weights.append(np.full(k, mass / k))
        return np.concatenate(indices), np.concatenate(weights)
