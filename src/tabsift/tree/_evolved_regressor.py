"""EvolvedTreeRegressor: a regression tree evolved by an LLM or by genetic programming."""

import numpy as np
from sklearn.base import RegressorMixin

from tabsift.table import infer_task
from tabsift.tree._evolved_base import _EvolvedTreeBase


def _mean_std(y, sample_weight=None):
    """Mean and standard deviation of ``y``, weighted when ``sample_weight`` is given."""
    if sample_weight is None:
        return float(y.mean()), float(y.std())
    mean = np.sum(sample_weight * y) / np.sum(sample_weight)
    var = np.sum(sample_weight * (y - mean) ** 2) / np.sum(sample_weight)
    return float(mean), float(np.sqrt(var))


class EvolvedTreeRegressor(RegressorMixin, _EvolvedTreeBase):
    """A regression tree evolved by an LLM (LLEGO) or, without one, by genetic programming.

    The same algorithm as :class:`EvolvedTreeClassifier`, with fitness
    ``R^2 = 1 - MSE / Var(y)`` on the training rows (LLEGO's MSE on the
    standardised target, turned so higher is better) and leaves refit to the
    mean target of their rows (an empty leaf takes its parent's mean).

    Parameters
    ----------
    llm : LLMClient, default=None
        See :class:`EvolvedTreeClassifier`.
    on_llm_error : {"fallback", "raise"}, default="fallback"
    max_depth : int, default=3
    population_size : int, default=25
    n_generations : int, default=25
    n_parents : int, default=4
    alpha : float, default=0.1
    tau : float, default=10.0
    n_crossover_prompts : int, default=12
    n_crossover_completions : int, default=4
    n_mutation_prompts : int, default=12
    n_mutation_completions : int, default=6
    validation_fraction : float, default=0.2
    task_description : str, default=None
    feature_descriptions : dict, default=None
    time_limit : float, default=None
    checkpoint : str or path, default=None
    warm_start : bool, default=False
    n_jobs : int, default=None
    random_state : int, RandomState instance or None, default=None
    verbose : int, bool or "auto", default="auto"
        All as in :class:`EvolvedTreeClassifier`.

    Attributes
    ----------
    tree_ : Tree
        The chosen tree; leaf values are mean targets; thresholds as in
        :class:`EvolvedTreeClassifier`.
    feature_importances_ : ndarray of shape (`n_features_in_`,)
        As in :class:`EvolvedTreeClassifier`, with the decrease of variance
        (mean squared error) in place of Gini impurity.
    hall_of_fame_ : list of dict
    history_ : list of dict
    llm_stats_ : dict
    llm_report_ : LLMReport
    n_generations_ : int
    stopped_by_time_limit_ : bool
    feature_names_ : list of str
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        All as in :class:`EvolvedTreeClassifier`.

    See Also
    --------
    EvolvedTreeClassifier : The same for class labels.
    sklearn.tree.DecisionTreeRegressor : The greedy CART tree.

    References
    ----------
    .. [1] T. Liu, N. Huynh, M. van der Schaar, "Decision Tree Induction
       Through LLMs via Semantically-Aware Evolution", ICLR 2025.

    Examples
    --------
    >>> from tabsift.datasets import make_planted_tree
    >>> from tabsift.tree import EvolvedTreeRegressor
    >>> data = make_planted_tree(n_samples=400, depth=2, task="regression", random_state=0)
    >>> reg = EvolvedTreeRegressor(max_depth=2, n_generations=5, random_state=0)
    >>> reg = reg.fit(data.data, data.target)
    >>> float(reg.score(data.data, data.target)) > 0.9
    True
    """

    _task = "regression"

    def _encode_target(self, y):
        infer_task(y, "regression", owner=self._owner(), classifier="EvolvedTreeClassifier")
        y = np.asarray(y, dtype=np.float64)
        if not np.isfinite(y).all():
            raise ValueError(
                f"y contains {int((~np.isfinite(y)).sum())} NaN or infinite values; drop those "
                "rows or impute the target first."
            )
        return y

    def _standardise(self, y, sample_weight):
        # Fitness and leaves work on the standardised target (LLEGO's MSE scale), with the
        # weighted mean and standard deviation when rows are weighted.
        mean, scale = _mean_std(y, sample_weight)
        self._y_mean = mean
        self._y_scale = scale if scale > 0 else 1.0
        return (y - self._y_mean) / self._y_scale

    def _target_summary(self, y_enc, sample_weight=None):
        y = y_enc * self._y_scale + self._y_mean
        mean, std = _mean_std(y, sample_weight)
        return (
            f"The target is numeric: mean {mean:.4g}, standard deviation {std:.4g}, "
            f"range [{y.min():.4g}, {y.max():.4g}]."
        )

    def predict(self, X):
        """Mean target of the leaf each row reaches.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        leaves = self.apply(X)
        return self.tree_.value[leaves, 0]
