"""The proxy model of OTCoresetSelector's cost: per-row gradient norms of its loss."""

import warnings

import numpy as np


def gradient_norms(Z, y, kind, *, rng, max_fit_rows=20_000, model="linear", sample_weight=None):
    """Normalised per-row gradient norms of a proxy model's loss, in [0, 1].

    ``model="linear"``: multinomial logistic regression (classification),
    whose gradient of a row's cross-entropy with respect to the weights (bias
    included) is ``(p - onehot(y)) [z, 1]``, of norm
    ``|p - onehot(y)| * |[z, 1]|``; or ridge regression (regression), norm
    ``|residual| * |[z, 1]|``. ``model="mlp"``: a one-hidden-layer MLP
    (64 ReLU units, scikit-learn's ``MLPClassifier``/``MLPRegressor`` on a
    standardised target); the norm is that of the gradient with respect to
    the output layer, the same formulas with the hidden activations ``h`` in
    place of ``z``. The proxy is fit on at most ``max_fit_rows`` random rows.
    Norms are divided by their 99th percentile and clipped to 1, so one
    outlier does not squash the rest. ``sample_weight`` weighs the proxy's
    fit (and the target's standardisation).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    n = Z.shape[0]
    fit_rows = rng.choice(n, size=max_fit_rows, replace=False) if n > max_fit_rows else slice(None)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    if kind == "classification" and len(np.unique(y[fit_rows])) < 2:
        return np.zeros(n)
    fit_weight = None if sample_weight is None else np.asarray(sample_weight)[fit_rows]
    if kind == "regression":
        y = np.asarray(y, dtype=np.float64)
        centre = np.average(y[fit_rows], weights=fit_weight)
        spread = np.sqrt(np.average((y[fit_rows] - centre) ** 2, weights=fit_weight))
        y = (y - centre) / (spread if spread > 0 else 1.0)
    if model == "mlp":
        size = dict(hidden_layer_sizes=(64,), max_iter=200, random_state=seed)
        proxy = MLPClassifier(**size) if kind == "classification" else MLPRegressor(**size)
        with warnings.catch_warnings():
            # A proxy needs a rough fit only; 200 epochs may stop short of convergence.
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            proxy.fit(Z[fit_rows], y[fit_rows], sample_weight=fit_weight)
        inputs = np.maximum(Z @ proxy.coefs_[0] + proxy.intercepts_[0], 0.0)
    else:
        if kind == "classification":
            proxy = LogisticRegression(max_iter=200).fit(
                Z[fit_rows], y[fit_rows], sample_weight=fit_weight)
        else:
            proxy = Ridge(alpha=1.0).fit(Z[fit_rows], y[fit_rows], sample_weight=fit_weight)
        inputs = Z
    row_norm = np.sqrt(1.0 + np.einsum("ij,ij->i", inputs, inputs, dtype=np.float64))
    if kind == "classification":
        proba = proxy.predict_proba(Z)
        onehot = (y[:, None] == proxy.classes_[None, :]).astype(float)
        g = np.linalg.norm(proba - onehot, axis=1) * row_norm
    else:
        g = np.abs(y - proxy.predict(Z)) * row_norm
    top = np.quantile(g, 0.99)
    if not top > 0:
        return np.zeros(n)
    return np.minimum(g / top, 1.0)
