"""The baseline selectors of the KAN feature-selection paper, as scikit-learn objects."""

from tabsift.feature_selection._permutation import PermutationImportanceSelector
from tabsift.feature_selection._shap import ShapSelector


def _l1_logistic(random_state):
    """L1-penalised logistic regression with C=0.1, across scikit-learn versions."""
    import inspect

    from sklearn.linear_model import LogisticRegression

    # scikit-learn 1.8 deprecated `penalty` in favour of `l1_ratio`.
    if inspect.signature(LogisticRegression).parameters["penalty"].default == "deprecated":
        penalty = {"l1_ratio": 1.0}
    else:
        penalty = {"penalty": "l1"}
    return LogisticRegression(
        C=0.1, solver="saga", max_iter=5000, random_state=random_state, **penalty
    )


def paper_baselines(task, random_state=None):
    """Return the baseline selectors of the KAN feature-selection paper, plus SHAP.

    Each value is an unfitted scikit-learn selector (``fit`` and
    ``get_support``) that exposes a full ranking after fitting, so
    :func:`evaluate_selectors` fits it once per training fold and reads every
    retention level from that ranking. Linear models see standardised
    features (the scaler is fit inside the selector, hence inside the fold).

    - ``"LASSO"``: :class:`~sklearn.feature_selection.SelectFromModel` over
      ``LassoCV`` (regression) or L1 logistic regression with ``C=0.1``
      (classification, saga solver), ranked by absolute coefficient (summed
      over classes). Used alone it keeps the features with a non-zero
      coefficient.
    - ``"RandomForest"``: :class:`PermutationImportanceSelector` with 200
      trees, importances measured on a held-out quarter of the rows it is
      given (of the training fold, in an evaluation).
    - ``"MutualInfo"``: :class:`~sklearn.feature_selection.SelectPercentile`
      with ``mutual_info_classif`` / ``mutual_info_regression``.
    - ``"SVM-RFE"``: recursive feature elimination (one feature per step) with
      a linear support vector machine (``LinearSVC``, or ``LinearSVR`` with the
      squared epsilon-insensitive loss on a standardised target).
    - ``"SHAP"``: :class:`ShapSelector`.

    Alone, each keeps 40% of the features (LASSO: its non-zero coefficients).

    Parameters
    ----------
    task : {"classification", "regression"}
        The kind of target the selectors will see.
    random_state : int or None, default=None
        Seed passed to every selector that uses randomness.

    Returns
    -------
    selectors : dict of str to selector
        In the order LASSO, RandomForest, MutualInfo, SVM-RFE, SHAP.

    See Also
    --------
    evaluate_selectors : Compare selectors by cross-validation.

    References
    ----------
    .. [1] "Splines-Based Feature Importance in Kolmogorov-Arnold Networks: A
       Framework for Supervised Tabular Data Dimensionality Reduction",
       arXiv:2509.23366.

    Examples
    --------
    >>> from tabsift.feature_selection import paper_baselines
    >>> list(paper_baselines("classification", random_state=0))
    ['LASSO', 'RandomForest', 'MutualInfo', 'SVM-RFE', 'SHAP']
    """
    from functools import partial

    from sklearn.compose import TransformedTargetRegressor
    from sklearn.feature_selection import (
        RFE,
        SelectFromModel,
        SelectPercentile,
        mutual_info_classif,
        mutual_info_regression,
    )
    from sklearn.linear_model import LassoCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC, LinearSVR

    if task not in ("classification", "regression"):
        raise ValueError(
            f"task must be 'classification' or 'regression', found {task!r}: the baselines "
            f"are chosen before any target is seen, so 'auto' is not possible here."
        )
    if task == "classification":
        lasso = SelectFromModel(
            make_pipeline(StandardScaler(), _l1_logistic(random_state)),
            threshold=1e-5,
            importance_getter="named_steps.logisticregression.coef_",
        )
        mutual_info = partial(mutual_info_classif, random_state=random_state)
        svm = make_pipeline(StandardScaler(), LinearSVC(max_iter=10000, random_state=random_state))
        svm_coef = "named_steps.linearsvc.coef_"
    else:
        lasso = SelectFromModel(
            make_pipeline(StandardScaler(), LassoCV(random_state=random_state)),
            threshold=1e-5,
            importance_getter="named_steps.lassocv.coef_",
        )
        mutual_info = partial(mutual_info_regression, random_state=random_state)
        # A standardised target keeps LinearSVR's epsilon scale-free; the squared loss
        # solved in the primal converges where liblinear's dual often does not.
        svm = TransformedTargetRegressor(
            make_pipeline(
                StandardScaler(),
                LinearSVR(
                    loss="squared_epsilon_insensitive",
                    dual=False,
                    max_iter=10000,
                    random_state=random_state,
                ),
            ),
            transformer=StandardScaler(),
        )
        svm_coef = "regressor_.named_steps.linearsvr.coef_"
    return {
        "LASSO": lasso,
        "RandomForest": PermutationImportanceSelector(task=task, random_state=random_state),
        "MutualInfo": SelectPercentile(mutual_info, percentile=40),
        "SVM-RFE": RFE(svm, n_features_to_select=0.4, step=1, importance_getter=svm_coef),
        "SHAP": ShapSelector(task=task, random_state=random_state),
    }
