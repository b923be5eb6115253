"""Plots of a fitted KANSelector: importances and learned feature functions.

matplotlib is imported inside the functions, and figures are built with
:class:`matplotlib.figure.Figure`, so nothing touches pyplot's global state.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

_SELECTED = "#1f77b4"
_DROPPED = "#b8c4d0"


def _new_axes(n=1, ncols=None):
    from matplotlib.figure import Figure

    ncols = ncols or min(n, 4)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(3.2 * ncols, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


def plot_importances(selector, ax=None, top=None):
    """Bar chart of a fitted selector's ``scores_``, best first, with fold spread.

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
    names = np.asarray(selector._column_names(), dtype=object)
    order = np.argsort(selector.ranking_, kind="stable")
    if top is not None:
        if not isinstance(top, (int, np.integer)) or top < 1:
            raise ValueError(f"top must be a positive int or None, found {top!r}.")
        order = order[:top]
    scores = selector.scores_[order]
    spread = selector.scores_per_fold_[:, order].std(axis=0)
    colors = [_SELECTED if selector.support_[j] else _DROPPED for j in order]
    if ax is None:
        ax = _new_axes(1)[0]
    positions = np.arange(len(order))
    ax.bar(positions, scores, yerr=spread, color=colors, capsize=3, ecolor="#444444")
    ax.set_xticks(positions, [str(name) for name in names[order]], rotation=45, ha="right")
    ax.set_ylabel("importance (sums to 1)")
    ax.set_title(f"KAN-{selector.method.upper()} importances (dark: selected)")
    return ax


def _feature_indices(selector, features):
    names = selector._column_names()
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


def plot_shapes(selector, features=None, axes=None, n_points=200):
    """Plot ``phi_j(x)``, the first fold network's learned function of each feature.

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

    Returns
    -------
    axes : ndarray of matplotlib Axes
    """
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
    names = selector._column_names()
    engine = selector.models_[0]
    mean, scale = selector.x_mean_per_fold_[0], selector.x_scale_per_fold_[0]
    for ax, j in zip(axes, indices, strict=False):
        low, high = selector.x_range_[j]
        x = np.linspace(low, high, n_points)
        phi = engine.feature_function(j, (x - mean[j]) / scale[j]).sum(axis=1)
        ax.plot(x, phi, color=_SELECTED if selector.support_[j] else _DROPPED)
        ax.grid(alpha=0.3)
        ax.set_xlabel(names[j])
        ax.set_ylabel(r"$\phi_j(x)$")
    return axes[: len(indices)]
