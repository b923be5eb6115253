"""A regression target whose non-linear part a linear model misses."""

import numpy as np

from tabsift.datasets._checks import check_float, check_int, random_generator, table_bunch

_LINEAR = {"x1": 0.5, "x2": -0.3, "x3": 0.2}
_LINEAR_FORMULA = "0.5 * x1 - 0.3 * x2 + 0.2 * x3"
_MECHANISM = "1.8 * sigmoid(2 * x1 * x2) + 0.4 * x3 ** 2"


def make_missing_interaction(n_samples=1000, *, noise=0.1, random_state=None):
    """Generate a regression table with a linear part and a planted non-linear mechanism.

    Columns ``x1`` to ``x5`` are independent standard normal variables
    (``x4`` and ``x5`` are noise) and::

        y = 0.5*x1 - 0.3*x2 + 0.2*x3 + 1.8*sigmoid(2*x1*x2) + 0.4*x3**2 + noise

    A linear model captures the first three terms; the interaction and the
    square, written in tabsift's expression syntax in ``mechanism``, are
    what residual-correction methods should find.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows, at least 2.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to the target.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` (DataFrame with ``x1`` to ``x5``), ``target`` (Series named
        ``"target"``), ``frame``, ``feature_names``, ``task``
        (``"regression"``), ``DESCR`` and the ground truth: ``linear_part``
        (dict column -> coefficient; the intercept is 0), ``linear_formula``
        (the same as a formula string), ``mechanism`` (the non-linear part as a
        formula string, ``"1.8 * sigmoid(2 * x1 * x2) + 0.4 * x3 ** 2"``) and
        ``noise``.

    See Also
    --------
    tabsift.expr.evaluate : Evaluate ``mechanism`` on the data safely.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.datasets import make_missing_interaction
    >>> bunch = make_missing_interaction(n_samples=500, noise=0.0, random_state=0)
    >>> bunch.mechanism
    '1.8 * sigmoid(2 * x1 * x2) + 0.4 * x3 ** 2'
    >>> X = bunch.data
    >>> linear = sum(c * X[name] for name, c in bunch.linear_part.items())
    >>> mechanism = 1.8 / (1 + np.exp(-2 * X.x1 * X.x2)) + 0.4 * X.x3**2
    >>> bool(np.allclose(bunch.target, linear + mechanism))
    True
    """
    import pandas as pd

    n_samples = check_int(n_samples, "n_samples", min_value=2)
    noise = check_float(noise, "noise", min_value=0.0)
    rng = random_generator(random_state)

    names = ["x1", "x2", "x3", "x4", "x5"]
    X = rng.standard_normal((n_samples, len(names)))
    x1, x2, x3 = X[:, 0], X[:, 1], X[:, 2]
    linear = 0.5 * x1 - 0.3 * x2 + 0.2 * x3
    mechanism = 1.8 / (1.0 + np.exp(-2.0 * x1 * x2)) + 0.4 * x3**2
    y = linear + mechanism + noise * rng.standard_normal(n_samples)

    data = pd.DataFrame(X, columns=names)
    descr = (
        f"Synthetic regression table: {n_samples} rows, standard normal columns x1..x5 "
        f"(x4, x5 are noise); target = {_LINEAR_FORMULA} + {_MECHANISM} + Gaussian noise "
        f"of standard deviation {noise}."
    )
    return table_bunch(
        data,
        y,
        task="regression",
        linear_part=dict(_LINEAR),
        linear_formula=_LINEAR_FORMULA,
        mechanism=_MECHANISM,
        noise=noise,
        DESCR=descr,
    )
