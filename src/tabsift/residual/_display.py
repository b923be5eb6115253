"""scikit-learn style display of a residual model's validation residuals.

Like :class:`sklearn.metrics.PredictionErrorDisplay`: :meth:`plot` draws and
sets ``ax_`` and ``figure_``, ``from_estimator`` takes a fitted model. The
residuals are those the model kept from its search (validation rows, before
and after the corrections), drawn by :func:`plot_residuals`.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from tabsift.residual._plot import panel_features, plot_residuals


class ResidualDisplay:
    """Validation residuals before and after correction, against the columns the corrections read.

    One panel per column: the base model's residuals in grey and the
    corrected model's in blue, on the rows the search held out. For a
    classifier the residual is ``1 - P(true class)``, so ``ax_`` has the same
    type for a binary and a multiclass target.

    Parameters
    ----------
    estimator : ResidualAgentRegressor or ResidualAgentClassifier
        A fitted model whose search ran (enough rows for a validation part).
    feature : str, default=None
        The column on the x axis of a single panel; by default one panel per
        column the corrections read (at most 4), or the first number column
        when there is no correction.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes of shape (n_panels,)
        One Axes per column, x label the column's name; always an ndarray,
        also for a single panel.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    See Also
    --------
    plot_residuals : The same drawing as a function.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from tabsift.datasets import make_missing_interaction
    >>> from tabsift.residual import ResidualAgentRegressor, ResidualDisplay
    >>> data = make_missing_interaction(n_samples=300, random_state=0)
    >>> model = ResidualAgentRegressor(
    ...     LinearRegression(), n_corrections=2, n_rounds=1, n_jobs=1, random_state=0
    ... ).fit(data.data, data.target)
    >>> display = ResidualDisplay.from_estimator(model)
    >>> [ax.get_xlabel() for ax in display.ax_]
    ['x3', 'x1', 'x2']
    >>> ResidualDisplay.from_estimator(model, feature="x1").ax_.shape
    (1,)
    """

    def __init__(self, estimator, *, feature=None):
        self.estimator = estimator
        self.feature = feature

    def plot(self, ax=None):
        """Draw the residuals.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            One Axes per panel; a new figure by default (shown inline in
            Jupyter).

        Returns
        -------
        display : ResidualDisplay
            ``self``, with ``ax_`` and ``figure_`` set.
        """
        model = self.estimator
        check_is_fitted(model, "base_estimator_")
        if ax is None:
            drawn = plot_residuals(model, feature=self.feature)
            axes = np.atleast_1d(np.asarray(drawn, dtype=object))
        else:
            given = list(np.asarray(ax, dtype=object).ravel())
            if len(given) == 1:  # plot_residuals checks the panels fit in one Axes
                plot_residuals(model, feature=self.feature, ax=given[0])
            else:
                if "after" not in getattr(model, "_validation", {}):
                    plot_residuals(model)  # raises: no search ran, nothing to draw
                panels = panel_features(model, self.feature)
                if len(given) != len(panels):
                    raise ValueError(
                        f"ax holds {len(given)} Axes but {len(panels)} panels are drawn "
                        f"({', '.join(panels)}); pass one Axes per panel or ax=None."
                    )
                for a, name in zip(given, panels, strict=True):
                    plot_residuals(model, feature=name, ax=a)
            axes = np.empty(len(given), dtype=object)
            axes[:] = given
        self.ax_ = axes
        self.figure_ = axes[0].figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, feature=None, ax=None):
        """Plot a fitted residual model's validation residuals.

        Parameters
        ----------
        estimator : ResidualAgentRegressor or ResidualAgentClassifier
            A fitted model.
        feature : str, default=None
            One column to plot against; the columns the corrections read by
            default.
        ax : matplotlib Axes or array-like of Axes, default=None
            One Axes per panel; a new figure by default.

        Returns
        -------
        display : ResidualDisplay
        """
        return cls(estimator, feature=feature).plot(ax=ax)
