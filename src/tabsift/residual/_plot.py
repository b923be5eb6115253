"""Residuals of the validation rows against the features the corrections read."""

import numpy as np
from sklearn.utils.validation import check_is_fitted


def _residuals(model):
    v = model._validation
    if model._task == "regression":
        return v["y"] - v["before"], v["y"] - v["after"], "residual (y - prediction)"
    rows = np.arange(len(v["y"]))
    return (
        1.0 - v["before"][rows, v["y"]],
        1.0 - v["after"][rows, v["y"]],
        "1 - P(true class)",
    )


def panel_features(model, feature):
    """Return the columns drawn, one panel each: ``feature``, or those the corrections read (<= 4).

    Without a correction the first number column is drawn.
    """
    if feature is not None:
        return [feature]
    names = model._validation.get("names") or []
    implicated = []
    for correction in model.corrections_:
        for column in correction.columns:
            if column not in implicated:
                implicated.append(column)
    return implicated[:4] or names[:1]


def plot_residuals(model, feature=None, ax=None):
    """Plot a fitted residual model's validation residuals before and after correction.

    Parameters
    ----------
    model : ResidualAgentRegressor or ResidualAgentClassifier
        A fitted model whose search ran (enough rows for a validation part).
    feature : str, default=None
        The column on the x axis; by default one panel per column the
        corrections read (at most 4), or the first column when there is no
        correction.
    ax : matplotlib Axes, default=None
        Where to draw a single panel; a new figure by default.

    Returns
    -------
    axes : matplotlib Axes or ndarray of Axes
        The Axes when one panel is drawn, else an array of them.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from tabsift.datasets import make_missing_interaction
    >>> from tabsift.residual import ResidualAgentRegressor, plot_residuals
    >>> data = make_missing_interaction(n_samples=300, random_state=0)
    >>> model = ResidualAgentRegressor(
    ...     LinearRegression(), n_corrections=2, n_rounds=1, n_jobs=1, random_state=0
    ... ).fit(data.data, data.target)
    >>> [a.get_xlabel() for a in plot_residuals(model)]
    ['x3', 'x1', 'x2']
    """
    check_is_fitted(model, "base_estimator_")
    if "after" not in getattr(model, "_validation", {}):
        raise ValueError(
            "this model searched no correction (see trace_), so there are no validation "
            "residuals to plot; fit it on more rows."
        )
    names = model._validation["names"]
    if not names:
        raise ValueError(
            "X has no number column to plot the residuals against (category columns reach "
            "the base model only)."
        )
    if feature is not None and feature not in names:
        raise ValueError(
            f"feature {feature!r} is not a number column; the number columns are {names}."
        )
    features = panel_features(model, feature)
    if ax is not None and len(features) > 1:
        raise ValueError(
            f"ax holds one panel but {len(features)} features are implicated "
            f"({', '.join(features)}); pass feature=... or leave ax=None."
        )
    if ax is None:
        from tabsift.utils import new_figure

        fig = new_figure(figsize=(3.6 * len(features), 3.2), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(features)))
    else:
        axes = np.array([ax])
    before, after, label = _residuals(model)
    X = model._validation["X"]
    for a, name in zip(axes, features, strict=True):
        x = X[:, names.index(name)]
        a.scatter(x, after, s=8, alpha=0.6, color="#1f77b4", label="corrected")
        # Base points on top as rings, so the corrected dots cannot hide them.
        a.scatter(
            x,
            before,
            s=14,
            facecolors="none",
            edgecolors="#808080",
            linewidths=0.6,
            alpha=0.8,
            label="base model",
            zorder=3,
        )
        a.axhline(0.0, color="black", linewidth=0.8)
        a.set_xlabel(name)
        a.set_ylabel(label)
    axes[0].legend(fontsize=8)
    axes[0].set_title("validation residuals", fontsize=10)
    return axes[0] if len(axes) == 1 else axes
