"""scikit-learn style displays of fitted feature selectors: importances and KAN shapes.

Like :class:`sklearn.metrics.ConfusionMatrixDisplay`: the constructor stores
what is drawn, :meth:`plot` draws it (on ``ax`` or a new figure) and sets
``ax_`` and ``figure_``, ``from_estimator`` reads a fitted selector and plots.
The drawing is the one behind the selectors' own ``plot_importances`` and
``plot_shapes`` (:mod:`tabsift.feature_selection._plot`).
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from tabsift.feature_selection._plot import (
    _feature_indices,
    _new_axes,
    draw_importances,
    feature_names,
    plot_shapes,
)


class ImportanceDisplay:
    """Feature importances as horizontal bars, best on top, selected features highlighted.

    Build it with :meth:`from_estimator` from any fitted selector with
    ``scores_`` (:class:`KANSelector`, :class:`ShapSelector`,
    :class:`PermutationImportanceSelector`, or scikit-learn's ``SelectKBest``);
    the constructor takes the numbers directly.

    Parameters
    ----------
    importances : array-like of shape (n_features,)
        One score per feature; higher is more important.
    feature_names : sequence of str
        One name per feature, shown as tick labels.
    support : array-like of bool of shape (n_features,), default=None
        Selected features, drawn in a stronger colour; all when None.
    spread : array-like of shape (n_features,), default=None
        Error bar half-widths, for example the standard deviation of the
        score over cross-validation folds or permutation repeats.
    xlabel : str, default="importance"
        Label of the x axis.
    title : str, default=None
        Title of the Axes.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The Axes drawn on.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    See Also
    --------
    ShapeDisplay : The learned function of each feature of a KANSelector.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from tabsift.feature_selection import ImportanceDisplay, PermutationImportanceSelector
    >>> X = np.random.default_rng(0).normal(size=(80, 3))
    >>> selector = PermutationImportanceSelector(
    ...     LogisticRegression(), n_features_to_select=1, random_state=0
    ... ).fit(X, X[:, 1] > 0)
    >>> display = ImportanceDisplay.from_estimator(selector)
    >>> [t.get_text() for t in display.ax_.get_yticklabels()]
    ['x1', 'x0', 'x2']
    >>> type(display.figure_).__name__
    'Figure'
    """

    def __init__(
        self, importances, *, feature_names, support=None, spread=None, xlabel="importance",
        title=None,
    ):
        self.importances = importances
        self.feature_names = feature_names
        self.support = support
        self.spread = spread
        self.xlabel = xlabel
        self.title = title

    def plot(self, ax=None, *, top=None):
        """Draw the bars.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default (shown inline in Jupyter).
        top : int, default=None
            Show only the ``top`` best features.

        Returns
        -------
        display : ImportanceDisplay
            ``self``, with ``ax_`` and ``figure_`` set.
        """
        importances = np.asarray(self.importances, dtype=np.float64)
        if len(self.feature_names) != importances.shape[0]:
            raise ValueError(
                f"feature_names has {len(self.feature_names)} names but importances has "
                f"{importances.shape[0]} values; pass one name per feature."
            )
        support = (
            np.ones(importances.shape[0], dtype=bool)
            if self.support is None
            else np.asarray(self.support, dtype=bool)
        )
        self.ax_ = draw_importances(
            ax,
            list(self.feature_names),
            importances,
            support,
            spread=self.spread,
            top=top,
            xlabel=self.xlabel,
            title=self.title or "",
        )
        self.figure_ = self.ax_.figure
        return self

    @classmethod
    def from_estimator(cls, selector, *, top=None, ax=None):
        """Plot the scores of a fitted selector.

        The error bars are the spread the selector measured: the standard
        deviation over folds (``scores_per_fold_``, KANSelector) or over
        permutation repeats (``importances_std_``); none otherwise.

        Parameters
        ----------
        selector : fitted selector
            Any selector with ``scores_`` and ``get_support()``.
        top : int, default=None
            Show only the ``top`` best features.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.

        Returns
        -------
        display : ImportanceDisplay
        """
        check_is_fitted(selector)
        if getattr(selector, "scores_", None) is None:
            raise TypeError(
                f"{type(selector).__name__} has no scores_ to plot; ImportanceDisplay needs a "
                "fitted selector that scores features (KANSelector, ShapSelector, "
                "PermutationImportanceSelector, SelectKBest)."
            )
        scores = np.nan_to_num(np.asarray(selector.scores_, dtype=np.float64), nan=0.0)
        support = selector.get_support()
        spread, xlabel = None, "score"
        if getattr(selector, "scores_per_fold_", None) is not None:
            spread = np.asarray(selector.scores_per_fold_).std(axis=0)
            xlabel = "importance (sums to 1; bars: spread over folds)"
        elif getattr(selector, "importances_std_", None) is not None:
            spread = selector.importances_std_
            scoring = getattr(selector, "scoring", None)
            xlabel = f"drop in {scoring if isinstance(scoring, str) else 'score'} when shuffled"
        elif type(selector).__name__ == "ShapSelector":
            xlabel = "mean |SHAP| (normalised)"
        name = type(selector).__name__
        if name == "KANSelector":
            name = f"KAN-{selector.method.upper()}"
        display = cls(
            scores,
            feature_names=feature_names(selector),
            support=support,
            spread=spread,
            xlabel=xlabel,
            title=f"{name}: {int(support.sum())} of {scores.shape[0]} kept (dark)",
        )
        return display.plot(ax=ax, top=top)


class ShapeDisplay:
    """The function a fitted :class:`KANSelector` learned for each feature, one panel each.

    See :meth:`KANSelector.plot_shapes` for what the two ``kind`` readings
    show. The panels are always returned as an ndarray of Axes, whatever the
    task (regression, binary or multiclass) and the number of features.

    Parameters
    ----------
    estimator : KANSelector
        A fitted selector.
    features : list of int or str, default=None
        Features by index or name; the selected ones by default.
    n_points : int, default=200
        Points per curve of a numeric feature.
    kind : {"response", "first_layer"}, default="response"
        The whole network's response along the feature (mean and range over
        folds), or the first layer's ``phi_j`` of the first fold.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes of shape (n_plotted,)
        One Axes per feature, x label the feature's name.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    See Also
    --------
    ImportanceDisplay : The scores of any selector as bars.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tabsift.feature_selection import KANSelector, ShapeDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["age", "bmi", "noise"])
    >>> selector = KANSelector(epochs=2, cv=2, random_state=0).fit(X, X["age"] > 0)
    >>> display = ShapeDisplay.from_estimator(selector, features=["age", "bmi"])
    >>> [ax.get_xlabel() for ax in display.ax_]
    ['age', 'bmi']
    """

    def __init__(self, estimator, *, features=None, n_points=200, kind="response"):
        self.estimator = estimator
        self.features = features
        self.n_points = n_points
        self.kind = kind

    def plot(self, ax=None):
        """Draw one panel per feature.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            One Axes per feature; a new figure with one panel per feature by
            default (shown inline in Jupyter).

        Returns
        -------
        display : ShapeDisplay
            ``self``, with ``ax_`` and ``figure_`` set.
        """
        check_is_fitted(self.estimator, "models_")
        n = len(_feature_indices(self.estimator, self.features))
        if ax is None:
            axes = _new_axes(max(n, 1))
            if n == 0:
                axes[0].set_visible(False)
        else:
            axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
            if axes.size == 0:
                raise ValueError("ax holds no Axes; pass one Axes per feature or ax=None.")
        figure = axes[0].figure
        drawn = plot_shapes(
            self.estimator, self.features, axes=axes, n_points=self.n_points, kind=self.kind
        )
        self.ax_ = np.asarray(drawn, dtype=object)
        self.figure_ = figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, features=None, n_points=200, kind="response", ax=None):
        """Plot the learned function of each (selected) feature of a fitted KANSelector.

        Parameters
        ----------
        estimator : KANSelector
            A fitted selector.
        features : list of int or str, default=None
            Features by index or name; the selected ones by default.
        n_points : int, default=200
            Points per curve.
        kind : {"response", "first_layer"}, default="response"
            See :meth:`KANSelector.plot_shapes`.
        ax : matplotlib Axes or array-like of Axes, default=None
            One Axes per feature; a new figure by default.

        Returns
        -------
        display : ShapeDisplay
        """
        if not hasattr(estimator, "plot_shapes") or not hasattr(estimator, "x_range_"):
            check_is_fitted(estimator)
            raise TypeError(
                f"ShapeDisplay draws the feature functions of a fitted KANSelector; "
                f"found {type(estimator).__name__}. Use ImportanceDisplay for its scores."
            )
        display = cls(estimator, features=features, n_points=n_points, kind=kind)
        return display.plot(ax=ax)
