"""Plots of a fitted KANSelector: importances and learned feature functions.

matplotlib is imported inside the functions; figures come from
:func:`tabsift.utils._figures.new_figure`: through pyplot in a notebook, so they
show under the cell, and as a bare :class:`matplotlib.figure.Figure` elsewhere.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from tabsift.feature_selection._common import feature_names

_SELECTED = "#1f77b4"
_DROPPED = "#b8c4d0"


def _new_axes(n=1, ncols=None):
    from tabsift.utils import new_figure

    ncols = ncols or min(n, 4)
    nrows = -(-n // ncols)
    fig = new_figure(figsize=(3.2 * ncols, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


def draw_importances(ax, names, scores, support, *, spread=None, top=None, xlabel, title):
    """Horizontal bar chart of feature scores, best on top, selected features highlighted.

    The one drawing behind every selector's ``plot_importances``.

    Parameters
    ----------
    ax : matplotlib Axes or None
        Where to draw; a new figure when None.
    names : sequence of str
        One name per feature.
    scores : ndarray of shape (n_features,)
    support : ndarray of bool of shape (n_features,)
        Selected features, drawn in a stronger colour.
    spread : ndarray of shape (n_features,), default=None
        Error bar half-widths (for example the standard deviation over folds).
    top : int, default=None
        Show only the ``top`` best features.
    xlabel, title : str

    Returns
    -------
    ax : matplotlib Axes
    """
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    if top is not None:
        if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
            raise ValueError(f"top must be a positive int or None, found {top!r}.")
        order = order[:top]
    if ax is None:
        from tabsift.utils import new_figure

        height = 0.3 * min(len(order), 40) + 1.2
        ax = new_figure(figsize=(6, height), layout="constrained").subplots()
    # The best feature at the top of the chart.
    positions = np.arange(len(order))[::-1]
    ax.barh(
        positions,
        scores[order],
        xerr=None if spread is None else np.asarray(spread)[order],
        color=[_SELECTED if support[j] else _DROPPED for j in order],
        capsize=3,
        ecolor="#444444",
    )
    ax.set_yticks(positions, [str(names[j]) for j in order])
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return ax


def plot_kept_importances(selector, ax=None, top=None, *, xlabel, spread=None):
    """Draw a fitted selector's ``scores_``, titled with how many features it keeps.

    The drawing behind :meth:`ShapSelector.plot_importances` and
    :meth:`PermutationImportanceSelector.plot_importances`.
    """
    check_is_fitted(selector)
    support = selector.get_support()
    return draw_importances(
        ax,
        feature_names(selector),
        selector.scores_,
        support,
        spread=spread,
        top=top,
        xlabel=xlabel,
        title=(
            f"{type(selector).__name__}: {int(support.sum())} of "
            f"{selector.n_features_in_} kept (dark)"
        ),
    )


def plot_importances(selector, ax=None, top=None):
    """Bar chart of a fitted KANSelector's ``scores_`` with the spread over folds.

    Parameters
    ----------
    selector : KANSelector
        A fitted selector.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure by default.
    top : int, default=None
        Show only the ``top`` best features.

    Returns
    -------
    ax : matplotlib Axes
    """
    check_is_fitted(selector, "scores_")
    return draw_importances(
        ax,
        feature_names(selector),
        selector.scores_,
        selector.support_,
        spread=selector.scores_per_fold_.std(axis=0),
        top=top,
        xlabel="importance (sums to 1; bars: spread over folds)",
        title=f"KAN-{selector.method.upper()} importances (dark: selected)",
    )


def _feature_indices(selector, features):
    names = feature_names(selector)
    if features is None:
        return list(np.flatnonzero(selector.support_))
    indices = []
    for feature in features:
        if isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
            if not 0 <= feature < len(names):
                raise ValueError(
                    f"feature index {feature} is out of range for {len(names)} features."
                )
            indices.append(int(feature))
        elif str(feature) in names:
            indices.append(names.index(str(feature)))
        else:
            raise ValueError(
                f"unknown feature {feature!r}; pass column indices or names among "
                f"{names[:10]}{' ...' if len(names) > 10 else ''}."
            )
    return indices


def _encoded_columns(selector, j):
    """Network inputs of input column ``j`` and, for a categorical column, its category labels.

    Returns ``(columns, labels)``; ``labels`` is None for a numeric column.
    """
    groups = getattr(selector, "encoded_groups_", None)
    if groups is None:  # fitted before encoded_groups_ existed: one input per column
        return [j], None
    columns = [int(k) for k in np.flatnonzero(np.asarray(groups) == j)]
    name = feature_names(selector)[j]
    encoded = [str(selector.encoded_feature_names_[k]) for k in columns]
    if len(columns) == 1 and encoded[0] == name:
        return columns, None
    return columns, [e[len(name) + 1 :] if e.startswith(f"{name}=") else e for e in encoded]


def _responses(selector, columns, values):
    """Network output for rows where ``columns`` take ``values`` (raw units), others at the mean.

    ``values`` has shape (m, len(columns)). Returns an array of shape
    (n_folds, m, n_curves), one curve per fold.
    """
    import torch

    values = np.asarray(values, dtype=np.float64)
    curves = []
    for fold, engine in enumerate(selector.models_):
        mean, scale = selector.x_mean_per_fold_[fold], selector.x_scale_per_fold_[fold]
        # Standardised inputs: 0 is the fold's training mean of every other input.
        rows = np.zeros((values.shape[0], mean.shape[0]), dtype=np.float32)
        rows[:, columns] = (values - mean[columns]) / scale[columns]
        with torch.no_grad():
            raw = engine.predict_raw(torch.as_tensor(rows)).double().cpu().numpy()
        if selector.task_ == "regression":
            out = raw[:, :1] * selector.y_scale_per_fold_[fold] + selector.y_mean_per_fold_[fold]
        elif raw.shape[1] == 2:
            out = raw[:, 1:] - raw[:, :1]  # log-odds of the second class
        else:
            out = raw - raw.mean(axis=1, keepdims=True)
        curves.append(out)
    return np.stack(curves)


def _first_layer(selector, columns, values):
    """``phi_j`` of the first fold's network: the summed first-layer functions of ``columns``."""
    engine = selector.models_[0]
    mean, scale = selector.x_mean_per_fold_[0], selector.x_scale_per_fold_[0]
    total = np.zeros(len(values))
    for i, k in enumerate(columns):
        total += engine.feature_function(k, (values[:, i] - mean[k]) / scale[k]).sum(axis=1)
    return total


def plot_shapes(selector, features=None, axes=None, n_points=200, kind="response"):
    """Plot each feature's learned function; see :meth:`KANSelector.plot_shapes`.

    Parameters
    ----------
    selector : KANSelector
        A fitted selector.
    features : list of int or str, default=None
        Features by index or name; the selected ones by default.
    axes : matplotlib Axes or array of Axes, default=None
        One per feature; a new figure by default.
    n_points : int, default=200
        Points per curve.
    kind : {"response", "first_layer"}, default="response"
        The network's response along the feature (both layers, mean and range
        over folds), or the first layer's ``phi_j`` of the first fold. A
        categorical feature gets one point per category.

    Returns
    -------
    axes : ndarray of matplotlib Axes
    """
    if kind not in ("response", "first_layer"):
        raise ValueError(f"kind must be 'response' or 'first_layer', found {kind!r}.")
    check_is_fitted(selector, "models_")
    indices = _feature_indices(selector, features)
    if axes is None:
        axes = _new_axes(max(len(indices), 1))
        if not indices:
            axes[0].set_visible(False)
            return axes[:0]
    else:
        axes = np.atleast_1d(np.asarray(axes, dtype=object)).ravel()
        if len(axes) < len(indices):
            raise ValueError(f"axes has {len(axes)} Axes but {len(indices)} features are plotted.")
    names = feature_names(selector)
    for ax, j in zip(axes, indices, strict=False):
        columns, labels = _encoded_columns(selector, j)
        color = _SELECTED if selector.support_[j] else _DROPPED
        ax.set_xlabel(names[j])
        if not columns:  # an empty column: the network never saw it
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
            continue
        x, values = _curve_points(selector, columns, labels, n_points)
        if kind == "first_layer":
            phi = _first_layer(selector, columns, values)
            if labels is None:
                ax.plot(x, phi, color=color)
            else:
                ax.plot(x, phi, "o", color=color)
            ax.set_ylabel(r"$\phi_j(x)$ (first layer)")
        else:
            _draw_response(ax, selector, _responses(selector, columns, values), x, labels, color)
        if labels is not None:
            long = len(labels) > 4 or max(len(t) for t in labels) > 6
            ax.set_xticks(x, labels, rotation=45 if long else 0, ha="right" if long else "center")
        ax.grid(alpha=0.3)
    return axes[: len(indices)]


def _curve_points(selector, columns, labels, n_points):
    """Return the x positions of a curve and the encoded input values there.

    A numeric column spans its observed range in ``n_points`` steps; a
    categorical one has a point per category, its one-hot input set.
    """
    if labels is None:
        low, high = selector.x_range_[columns[0]]
        x = np.linspace(low, high, n_points)
        return x, x[:, None]
    return np.arange(len(labels)), np.eye(len(labels))


def _draw_response(ax, selector, curves, x, labels, color):
    """Draw the folds' responses: mean and range of one output, or one line per class."""
    classes = getattr(selector, "classes_", None)
    if curves.shape[2] == 1:
        low, mid, high = curves[..., 0].min(0), curves[..., 0].mean(0), curves[..., 0].max(0)
        if labels is None:
            ax.fill_between(x, low, high, color=color, alpha=0.25, linewidth=0)
            ax.plot(x, mid, color=color)
        else:
            ax.errorbar(x, mid, yerr=[mid - low, high - mid], fmt="o", color=color, capsize=3)
    else:
        style = "-" if labels is None else "o"
        for c in range(curves.shape[2]):
            ax.plot(x, curves[..., c].mean(0), style, label=str(classes[c]))
        ax.legend(fontsize="small", title="class")
    if selector.task_ == "regression":
        ax.set_ylabel("prediction")
    elif curves.shape[2] == 1:
        ax.set_ylabel(f"log-odds of {classes[1]!s}")
    else:
        ax.set_ylabel("centred logit")


class KANPlotsMixin:
    """The plotting methods of :class:`KANSelector`, over the functions of this module."""

    def plot_importances(self, ax=None, top=None):
        """Bar chart of ``scores_``, best first, with the spread over folds.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.
        top : int, default=None
            Show only the ``top`` best features; all by default.

        Returns
        -------
        ax : matplotlib Axes
            Selected features are drawn in a stronger colour; error bars are
            the standard deviation of the fold scores.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.feature_selection import KANSelector
        >>> X = np.random.default_rng(0).normal(size=(60, 3))
        >>> selector = KANSelector(epochs=2, cv=2, random_state=0).fit(X, X[:, 0] > 0)
        >>> len(selector.plot_importances().patches)
        3
        """
        return plot_importances(self, ax=ax, top=top)

    def plot_shapes(self, features=None, axes=None, n_points=200, kind="response"):
        """Plot the learned function of each selected feature.

        Two readings of "the function a KAN learned for feature ``j``":

        - ``kind="response"`` (default): the whole network's output as
          ``x_j`` moves over its observed range while the other features stay
          at their training means, through both layers. The line is the mean
          over the fold networks and the band their range. The output is the
          prediction in ``y``'s units (regression), the log-odds of the second
          class (binary) or each class's centred logit (multiclass, one line
          per class).
        - ``kind="first_layer"``: ``phi_j(x)``, the sum over hidden units of
          feature ``j``'s first-layer functions (base plus spline branch) in
          the first fold's network. It shows the univariate pieces the network
          learned, before the second layer combines them.

        Both are drawn in the feature's original units. A categorical
        column of a mixed table gets one point per category (its one-hot
        input set, the others at their training means), with the range over
        folds as error bars.

        Parameters
        ----------
        features : list of int or str, default=None
            Features to plot, by index or name; the selected ones by default.
        axes : matplotlib Axes or array of Axes, default=None
            One Axes per feature; a new figure with one panel per feature by
            default.
        n_points : int, default=200
            Points per curve.
        kind : {"response", "first_layer"}, default="response"
            What to draw, see above.

        Returns
        -------
        axes : ndarray of matplotlib Axes
            One per feature.

        Examples
        --------
        >>> import numpy as np
        >>> from tabsift.feature_selection import KANSelector
        >>> X = np.random.default_rng(0).normal(size=(60, 3))
        >>> selector = KANSelector(epochs=2, cv=2, random_state=0).fit(X, X[:, 0] > 0)
        >>> len(selector.plot_shapes(features=[0, 2]))
        2
        >>> len(selector.plot_shapes(features=[0], kind="first_layer")[0].lines)
        1
        """
        return plot_shapes(self, features=features, axes=axes, n_points=n_points, kind=kind)
