"""scikit-learn style displays of an evolved tree and of its run's fitness history.

Like :class:`sklearn.metrics.ConfusionMatrixDisplay`: the constructor stores
what is drawn (a :class:`Tree`, a history), :meth:`plot` draws it and sets
``ax_`` and ``figure_``, ``from_estimator`` reads a fitted estimator and plots.
The drawing is the one behind ``Tree.plot`` and ``plot_history``
(:mod:`tabsift.tree._plot`).
"""

from sklearn.utils.validation import check_is_fitted

from tabsift.tree._plot import plot_history, plot_tree


class TreeDisplay:
    """A fitted tree drawn as boxes: splits with their thresholds, leaves with their value.

    A leaf of a classifier shows its class and probability, a leaf of a
    regressor its value; the edge to the ``<=`` child reads "yes" and the side
    missing values take says so. One Axes whatever the number of classes.

    Parameters
    ----------
    tree : Tree
        The tree to draw, for example an estimator's ``tree_``.
    decimals : int, default=2
        Decimals of thresholds and leaf values.
    fontsize : float, default=8
        Font size of the node boxes.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The Axes drawn on.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    See Also
    --------
    FitnessHistoryDisplay : The fitness of the population per generation.

    Examples
    --------
    >>> from tabsift.datasets import make_planted_tree
    >>> from tabsift.tree import EvolvedTreeClassifier, TreeDisplay
    >>> data = make_planted_tree(n_samples=200, depth=1, noise=0.0, random_state=0)
    >>> clf = EvolvedTreeClassifier(max_depth=1, n_generations=1, random_state=0)
    >>> display = TreeDisplay.from_estimator(clf.fit(data.data, data.target))
    >>> display.ax_.texts[-1].get_text().splitlines()  # the root split
    ['x0', '<= -0.36']
    """

    def __init__(self, tree, *, decimals=2, fontsize=8):
        self.tree = tree
        self.decimals = decimals
        self.fontsize = fontsize

    def plot(self, ax=None):
        """Draw the tree.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure sized to the tree by default (shown
            inline in Jupyter).

        Returns
        -------
        display : TreeDisplay
            ``self``, with ``ax_`` and ``figure_`` set.
        """
        self.ax_ = plot_tree(self.tree, ax=ax, decimals=self.decimals, fontsize=self.fontsize)
        self.figure_ = self.ax_.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, decimals=2, fontsize=8, ax=None):
        """Draw the ``tree_`` of a fitted EvolvedTreeClassifier or EvolvedTreeRegressor.

        Parameters
        ----------
        estimator : EvolvedTreeClassifier or EvolvedTreeRegressor
            A fitted estimator.
        decimals : int, default=2
            Decimals of thresholds and leaf values.
        fontsize : float, default=8
            Font size of the node boxes.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.

        Returns
        -------
        display : TreeDisplay
        """
        check_is_fitted(estimator, "tree_")
        return cls(estimator.tree_, decimals=decimals, fontsize=fontsize).plot(ax=ax)


class FitnessHistoryDisplay:
    """Best and mean fitness of an evolved-tree run per generation.

    Lines for the best and mean training fitness and, when the run held rows
    out, the best validation fitness.

    Parameters
    ----------
    history : list of dict
        One row per generation with ``generation``, ``best_train_fitness``,
        ``mean_train_fitness`` and ``best_validation_fitness`` (NaN when not
        measured), as an estimator's ``history_``.
    metric : str
        The fitness, shown as the y label (``"balanced accuracy"`` or
        ``"R^2"`` for the tabsift estimators).

    Attributes
    ----------
    ax_ : matplotlib Axes
        The Axes drawn on.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    See Also
    --------
    TreeDisplay : The fitted tree itself.

    Examples
    --------
    >>> from tabsift.datasets import make_planted_tree
    >>> from tabsift.tree import EvolvedTreeRegressor, FitnessHistoryDisplay
    >>> data = make_planted_tree(
    ...     n_samples=200, depth=1, task="regression", noise=0.0, random_state=0
    ... )
    >>> reg = EvolvedTreeRegressor(max_depth=1, n_generations=2, random_state=0)
    >>> display = FitnessHistoryDisplay.from_estimator(reg.fit(data.data, data.target))
    >>> display.ax_.get_ylabel(), len(display.ax_.lines[0].get_xdata())
    ('R^2', 3)
    """

    def __init__(self, history, *, metric):
        self.history = history
        self.metric = metric

    def plot(self, ax=None):
        """Draw the fitness lines.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default (shown inline in Jupyter).

        Returns
        -------
        display : FitnessHistoryDisplay
            ``self``, with ``ax_`` and ``figure_`` set.
        """
        if not self.history:
            raise ValueError("history is empty: there is no generation to plot.")
        self.ax_ = plot_history(self.history, metric=self.metric, ax=ax)
        self.figure_ = self.ax_.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Plot the ``history_`` of a fitted EvolvedTreeClassifier or EvolvedTreeRegressor.

        Parameters
        ----------
        estimator : EvolvedTreeClassifier or EvolvedTreeRegressor
            A fitted estimator.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.

        Returns
        -------
        display : FitnessHistoryDisplay
        """
        check_is_fitted(estimator, "history_")
        return cls(estimator.history_, metric=estimator._metric()).plot(ax=ax)
