"""scikit-learn style displays of row selections.

Like :class:`sklearn.inspection.DecisionBoundaryDisplay`: the constructor
stores what is drawn, :meth:`plot` draws it and sets ``ax_`` and ``figure_``,
``from_estimator`` computes it from a fitted selector and plots.
"""

import numpy as np
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from tabsift.table import encode_table

_ALL_ROWS = "#c8c8c8"
_KEPT = "#1f77b4"


def _new_axes(figsize):
    from tabsift.utils import new_figure

    return new_figure(figsize=figsize, layout="constrained").subplots()


class SelectionDisplay:
    """All rows on two principal components in grey, the kept rows on top.

    Kept rows are coloured by class (a continuous target gets a colour scale)
    and, when the selector weights them (``sample_weight_``, e.g. coresets),
    sized by weight, so a row standing for many others is drawn larger.

    Parameters
    ----------
    coordinates : array-like of shape (n_samples, 2)
        Every row's position, for example its first two principal components.
    sample_indices : array-like of int of shape (n_selected,)
        The kept rows, as a selector's ``sample_indices_``.
    y : array-like of shape (n_samples,), default=None
        Target of every row; kept rows are coloured by it. None draws them in
        one colour.
    sample_weight : array-like of shape (n_selected,), default=None
        Weight of each kept row; marker areas are proportional to it.
    axis_labels : tuple of str, default=("PC1", "PC2")
        Labels of the x and y axes.
    title : str, default=None
        Title of the Axes.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The Axes drawn on; its legend names the classes.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    See Also
    --------
    WeightDisplay : Pool, target and selection token shares of an ImportanceResampler.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.sampling import KCenterSelector, SelectionDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4))
    >>> y = np.where(X[:, 0] > 0, "yes", "no")
    >>> selector = KCenterSelector(n_samples=10, random_state=0).fit(X, y)
    >>> display = SelectionDisplay.from_estimator(selector, X, y)
    >>> [t.get_text() for t in display.ax_.get_legend().get_texts()]
    ['all rows (100)', 'no', 'yes']
    >>> display.ax_.get_xlabel()
    'PC1 (...% of variance)'
    """

    def __init__(
        self, coordinates, sample_indices, *, y=None, sample_weight=None,
        axis_labels=("PC1", "PC2"), title=None,
    ):
        self.coordinates = coordinates
        self.sample_indices = sample_indices
        self.y = y
        self.sample_weight = sample_weight
        self.axis_labels = axis_labels
        self.title = title

    def plot(self, ax=None):
        """Draw all rows and the kept ones.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default (shown inline in Jupyter).

        Returns
        -------
        display : SelectionDisplay
            ``self``, with ``ax_`` and ``figure_`` set.
        """
        points = np.asarray(self.coordinates, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(
                f"coordinates must have shape (n_samples, 2); found {points.shape}."
            )
        kept = np.asarray(self.sample_indices, dtype=np.intp)
        sizes = np.full(kept.shape[0], 24.0)
        if self.sample_weight is not None:
            weight = np.asarray(self.sample_weight, dtype=np.float64)
            if weight.shape != kept.shape:
                raise ValueError(
                    f"sample_weight has {weight.shape[0]} values for {kept.shape[0]} kept "
                    "rows; pass one weight per entry of sample_indices."
                )
            top = weight.max() if weight.size and weight.max() > 0 else 1.0
            sizes = 8.0 + 160.0 * np.clip(weight, 0, None) / top
        if ax is None:
            ax = _new_axes((5.5, 4.5))
        ax.scatter(
            points[:, 0], points[:, 1], s=6, color=_ALL_ROWS, label=f"all rows ({len(points)})",
            zorder=1,
        )
        xy = points[kept]
        style = dict(edgecolors="white", linewidths=0.5, zorder=2)
        if self.y is None:
            ax.scatter(xy[:, 0], xy[:, 1], s=sizes, color=_KEPT, label=f"kept ({len(kept)})",
                       **style)
        else:
            y = np.asarray(self.y)
            if y.shape[0] != points.shape[0]:
                raise ValueError(
                    f"y has {y.shape[0]} values for {points.shape[0]} rows; pass the target "
                    "of every row, not only of the kept ones."
                )
            if type_of_target(y) == "continuous":
                drawn = ax.scatter(xy[:, 0], xy[:, 1], s=sizes, c=y[kept].astype(np.float64),
                                   cmap="viridis", label=f"kept ({len(kept)})", **style)
                ax.figure.colorbar(drawn, ax=ax, label="target")
            else:
                for k, label in enumerate(np.unique(y)):
                    mask = y[kept] == label
                    if mask.any():
                        ax.scatter(xy[mask, 0], xy[mask, 1], s=sizes[mask], color=f"C{k % 10}",
                                   label=str(label), **style)
        legend = ax.legend(fontsize=8, loc="best")
        for handle in legend.legend_handles:  # legend markers at one size, not the first weight
            handle.set_sizes([24.0])
        ax.set_xlabel(self.axis_labels[0])
        ax.set_ylabel(self.axis_labels[1])
        if self.title:
            ax.set_title(self.title, fontsize=10)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, selector, X, y=None, *, ax=None):
        """Plot which rows a fitted row selector kept.

        The table is encoded as numbers (:func:`tabsift.table.encode_table`:
        standardised numbers, one-hot categories, imputed missing values) and
        projected on its first two principal components.

        Parameters
        ----------
        selector : fitted row selector
            Any selector with ``sample_indices_`` (every tabsift sampler);
            ``sample_weight_`` sizes the kept rows when present.
        X : DataFrame or array-like of shape (n_samples, n_features)
            The table the selector was fitted on, in memory.
        y : array-like of shape (n_samples,), default=None
            Its target, to colour the kept rows by class.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.

        Returns
        -------
        display : SelectionDisplay
        """
        from sklearn.decomposition import PCA

        check_is_fitted(selector, "sample_indices_")
        kept = np.asarray(selector.sample_indices_, dtype=np.intp)
        values = encode_table(X, owner="SelectionDisplay").values
        n_rows = values.shape[0]
        if kept.size and (kept.max() >= n_rows or kept.min() < 0):
            raise ValueError(
                f"X has {n_rows} rows but {type(selector).__name__} kept row {int(kept.max())}; "
                "pass the X the selector was fitted on."
            )
        n_components = min(2, values.shape[1], n_rows)
        coordinates = np.zeros((n_rows, 2))
        labels = ["PC1", "PC2"]
        if n_components:
            pca = PCA(n_components=n_components, svd_solver="full").fit(values)
            coordinates[:, :n_components] = pca.transform(values)
            for i, ratio in enumerate(pca.explained_variance_ratio_):
                labels[i] = f"PC{i + 1} ({100 * ratio:.0f}% of variance)"
        weight = getattr(selector, "sample_weight_", None)
        display = cls(
            coordinates,
            kept,
            y=None if y is None else np.asarray(y),
            sample_weight=weight,
            axis_labels=tuple(labels),
            title=f"{type(selector).__name__}: {kept.size} of {n_rows} rows kept",
        )
        return display.plot(ax=ax)


class WeightDisplay:
    """Where an ImportanceResampler's weights come from: the most shifted hashed tokens.

    For the tokens whose share differs most between pool and target, bars
    give their share in the pool, the target and the selected rows: a good
    selection moves the pool's shares towards the target's. The drawing is
    :meth:`ImportanceResampler.plot`'s.

    Parameters
    ----------
    estimator : ImportanceResampler
        A fitted resampler.
    n_features : int, default=10
        Tokens shown, most shifted first.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The Axes drawn on; its tick labels are the tokens (``column=value``).
    figure_ : matplotlib Figure
        The figure holding ``ax_``.

    See Also
    --------
    SelectionDisplay : The kept rows among all rows, on two principal components.

    Examples
    --------
    >>> from tabsift.datasets import make_domain_shift
    >>> from tabsift.sampling import ImportanceResampler, WeightDisplay
    >>> data = make_domain_shift(n_pool=500, n_target=50, random_state=0)
    >>> sampler = ImportanceResampler(data.target, n_samples=50, random_state=0)
    >>> display = WeightDisplay.from_estimator(sampler.fit(data.pool), n_features=5)
    >>> len(display.ax_.get_yticklabels()), type(display.figure_).__name__
    (5, 'Figure')
    """

    def __init__(self, estimator, *, n_features=10):
        self.estimator = estimator
        self.n_features = n_features

    def plot(self, ax=None):
        """Draw the token shares.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default (shown inline in Jupyter).

        Returns
        -------
        display : WeightDisplay
            ``self``, with ``ax_`` and ``figure_`` set.
        """
        self.ax_ = self.estimator.plot(ax=ax, n_features=self.n_features)
        self.figure_ = self.ax_.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, n_features=10, ax=None):
        """Plot the most shifted tokens of a fitted ImportanceResampler.

        Parameters
        ----------
        estimator : ImportanceResampler
            A fitted resampler.
        n_features : int, default=10
            Tokens shown.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.

        Returns
        -------
        display : WeightDisplay
        """
        check_is_fitted(estimator)
        if not hasattr(estimator, "selected_distribution_"):
            raise TypeError(
                f"WeightDisplay draws a fitted ImportanceResampler's token shares; found "
                f"{type(estimator).__name__}. Use SelectionDisplay for any row selector."
            )
        return cls(estimator, n_features=n_features).plot(ax=ax)
