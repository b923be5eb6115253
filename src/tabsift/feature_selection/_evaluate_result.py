"""SelectorEvaluation: the scores evaluate_selectors collects, summarised and plotted."""

import numpy as np

from tabsift.utils import import_optional_dependency


class SelectorEvaluation:
    """Scores of feature selectors at several retention levels, from :func:`evaluate_selectors`.

    Parameters
    ----------
    results : pandas.DataFrame
        One row per selector, retention level, model and fold (see
        :func:`evaluate_selectors`).
    task : str
        ``"classification"`` or ``"regression"``.
    scoring : str
        Name of the score.
    n_features : int
        Number of columns of the evaluated data.

    Attributes
    ----------
    results : pandas.DataFrame
        The tidy table of scores.
    task, scoring, n_features
        As given.

    See Also
    --------
    evaluate_selectors : Produces this object.

    Examples
    --------
    >>> from sklearn.feature_selection import SelectKBest, f_regression
    >>> from sklearn.linear_model import Ridge
    >>> from tabsift.datasets import make_informative
    >>> from tabsift.feature_selection import evaluate_selectors
    >>> data = make_informative(n_samples=100, n_features=5, n_informative=2,
    ...                         task="regression", random_state=0)
    >>> evaluation = evaluate_selectors(
    ...     data.data, data.target, {"f-test": SelectKBest(f_regression, k="all")},
    ...     retention=(0.2, 0.4, 1.0), models={"ridge": Ridge()}, cv=2,
    ... )
    >>> evaluation
    SelectorEvaluation(1 selectors x 3 retention levels x 1 models x 2 folds, scoring='r2')
    >>> evaluation.summary()["mean"].columns.tolist()
    [0.2, 0.4, 1.0]
    """

    def __init__(self, results, *, task, scoring, n_features):
        self.results = results
        self.task = task
        self.scoring = scoring
        self.n_features = n_features

    def __repr__(self):
        selectors = list(dict.fromkeys(self.results["selector"]))
        return (
            f"SelectorEvaluation({len(selectors)} selectors x "
            f"{self.results['retention'].nunique()} retention levels x "
            f"{self.results['model'].nunique()} models x {self.results['fold'].nunique()} "
            f"folds, scoring={self.scoring!r})"
        )

    def summary(self, *, model=None):
        """Mean and standard deviation of the score, by selector and retention level.

        The score is averaged over the models in each fold; ``mean`` and
        ``std`` are then taken over the folds.

        Parameters
        ----------
        model : str, default=None
            Use only this model's scores instead of the average over models.

        Returns
        -------
        table : pandas.DataFrame
            Rows: selectors, in the order given. Columns: a MultiIndex
            (``"mean"`` or ``"std"``, retention level), so
            ``summary()["mean"]`` is a selector x retention table.
        """
        results = self.results
        if model is not None:
            known = list(dict.fromkeys(results["model"]))
            if model not in known:
                raise ValueError(f"model must be one of {known}, found {model!r}.")
            results = results[results["model"] == model]
        per_fold = results.groupby(["selector", "retention", "fold"], sort=False)["score"].mean()
        stats = per_fold.groupby(level=["selector", "retention"], sort=False).agg(["mean", "std"])
        table = stats.unstack("retention")
        table.columns.names = ["stat", "retention"]
        order = list(dict.fromkeys(results["selector"]))
        return table.loc[order].sort_index(axis=1, level=["stat", "retention"])

    def plot(self, ax=None, *, model=None):
        """Plot the score against the retention level, one line per selector.

        Lines show the mean over folds (of the average over models), bands
        one standard deviation either side.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.
        model : str, default=None
            Plot only this model's scores.

        Returns
        -------
        ax : matplotlib Axes
        """
        table = self.summary(model=model)
        if ax is None:
            import_optional_dependency("matplotlib", purpose="SelectorEvaluation.plot")
            from tabsift.utils import new_figure

            ax = new_figure(figsize=(6, 4)).subplots()
        levels = np.asarray(table["mean"].columns, dtype=float)
        for selector in table.index:
            mean = table.loc[selector, "mean"].to_numpy(dtype=float)
            std = np.nan_to_num(table.loc[selector, "std"].to_numpy(dtype=float))
            (line,) = ax.plot(levels, mean, marker="o", label=str(selector))
            ax.fill_between(levels, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.set_xticks(levels, [f"{r:.0%}" for r in levels])
        ax.set_xlabel("features kept")
        ax.set_ylabel(self.scoring)
        ax.set_title("averaged over models" if model is None else str(model))
        ax.legend(fontsize="small")
        return ax
