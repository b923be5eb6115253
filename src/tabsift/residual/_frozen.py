"""FrozenCorrections: apply exported corrections to a prefit base model, with no LLM call."""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import ClassifierTags, RegressorTags
from sklearn.utils.metaestimators import available_if

from tabsift.residual._correction import base_model_output, correct, output_prediction
from tabsift.residual._format import class_labels
from tabsift.residual._load import load_corrections
from tabsift.residual._table import accepts_nan
from tabsift.table import check_column_names


def _describe_source(corrections):
    if isinstance(corrections, dict):
        return f"<dict of {len(corrections.get('corrections') or ())} correction(s)>"
    return repr(str(corrections)) if len(str(corrections)) <= 60 else "<JSON text>"


def _is_classification(frozen):
    if frozen._load().task_ != "classification":
        raise AttributeError("predict_proba is only available for classification corrections.")
    return True


class FrozenCorrections(BaseEstimator):
    """A prefit base model plus exported correction formulas: predictions with no refitting.

    It is a prefit scikit-learn estimator, like
    :class:`sklearn.frozen.FrozenEstimator`: ``fit`` never refits the base
    model, it only reads the corrections and checks the columns of ``X``, so
    it can be cloned, pickled and used as the last step of a
    :class:`~sklearn.pipeline.Pipeline`.

    This is the cross-batch transfer of MARICL: corrections found once (by
    :class:`ResidualAgentRegressor` or :class:`ResidualAgentClassifier`,
    offline or with an LLM) are applied to new data as plain formulas. No LLM
    is called and nothing is fit; every formula is re-validated by the
    expression parser when the JSON is loaded.

    Parameters
    ----------
    base_estimator : estimator
        The fitted base model, usually the ``base_estimator_`` of the
        estimator that exported the corrections (for classification its
        ``predict_proba`` columns must follow the exported ``classes``).
    corrections : str, path-like or dict
        The file written by ``export_corrections(path)``, or the dict it
        returns. It is read strictly: every field is checked for its type
        and range, and a damaged or hand-edited document raises a
        ``CorrectionsFormatError`` (a ``ValueError``) naming the file and
        the field, e.g. ``corrections[2].coefficient``. Nothing in it is
        ever executed: formulas are parsed by :mod:`tabsift.expr`. It is
        read on first use (``fit``, ``predict`` or ``predict_proba``), not
        at construction, so the estimator can be cloned and its parameters
        set like any scikit-learn estimator's; ``fit`` reads it again.

    Attributes
    ----------
    task_ : str
        ``"regression"`` or ``"classification"`` (also readable as ``task``).
    corrections_ : list of Correction
        The loaded corrections.
    intercept_ : float or ndarray of shape (n_classes,)
    blend_weight_ : float
    classes_ : ndarray of shape (n_classes,)
        Class labels (classification only), with the fitted model's dtype:
        ``object`` for string labels, as ``predict`` returns them.
    feature_names_in_ : ndarray of shape (n_features,)
        The columns of the fitted model's table, in order.
    n_features_in_ : int
    layout_ : TableLayout
        Which columns are numbers and which categories, and how the base
        model gets them: new data is read exactly as the fitted estimator
        read its table (placeholders such as ``?`` as missing, categories
        as at fit). Files exported before the layout existed hold numbers
        only.

    See Also
    --------
    ResidualAgentRegressor.export_corrections : Writes the JSON.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from tabsift.datasets import make_missing_interaction
    >>> from tabsift.residual import FrozenCorrections, ResidualAgentRegressor
    >>> data = make_missing_interaction(n_samples=300, random_state=0)
    >>> model = ResidualAgentRegressor(
    ...     LinearRegression(), n_corrections=1, n_rounds=1, n_jobs=1, random_state=0
    ... ).fit(data.data, data.target)
    >>> frozen = FrozenCorrections(model.base_estimator_, model.export_corrections())
    >>> new = make_missing_interaction(n_samples=5, random_state=1).data
    >>> bool((frozen.predict(new) == model.predict(new)).all())
    True
    """

    def __init__(self, base_estimator, corrections):
        self.base_estimator = base_estimator
        self.corrections = corrections

    def _load(self, *, force=False):
        """Read and check ``corrections`` once (again after ``set_params`` or ``fit``)."""
        if not force and getattr(self, "_loaded_from", None) is self.corrections:
            return self
        if not hasattr(self.base_estimator, "predict"):
            raise TypeError(
                f"base_estimator must be a fitted model with predict, found "
                f"{type(self.base_estimator).__name__}."
            )
        loaded = load_corrections(self.corrections)
        if loaded["task"] == "classification" and not hasattr(self.base_estimator, "predict_proba"):
            raise TypeError(
                "classification corrections need a base model with predict_proba, found "
                f"{type(self.base_estimator).__name__}."
            )
        self.task_ = loaded["task"]
        self.corrections_ = loaded["corrections"]
        self.intercept_ = loaded["intercept"]
        self.blend_weight_ = loaded["blend_weight"]
        self.layout_ = loaded["layout"]
        self.feature_names_in_ = np.asarray(loaded["feature_names"], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        if self.task_ == "classification":
            self.classes_ = class_labels(loaded["classes"])
        elif hasattr(self, "classes_"):
            del self.classes_
        self._loaded_from = self.corrections
        return self

    @property
    def task(self):
        """``"regression"`` or ``"classification"`` (reads the corrections if needed)."""
        return self._load().task_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        task = getattr(self, "task_", None)
        if task is None and isinstance(self.corrections, dict):
            task = self.corrections.get("task")
        if task == "classification":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        tags.requires_fit = False
        tags.target_tags.required = False
        tags.input_tags.allow_nan = accepts_nan(self.base_estimator)
        # Like sklearn.frozen.FrozenEstimator: the model is prefit for a fixed table (its
        # columns and, for classification, its classes come from the corrections), so the
        # common checks, which fit on their own random data, cannot apply. The estimator
        # API is tested in tests/test_frozen_estimator.py instead.
        tags._skip_test = True
        return tags

    def __sklearn_clone__(self):
        # The base model is prefit: a clone shares it (cloning it would unfit it) and
        # reads the corrections again on first use.
        return type(self)(self.base_estimator, self.corrections)

    def __sklearn_is_fitted__(self):
        return True

    def fit(self, X, y=None):
        """Read the corrections and check ``X`` against them; nothing is refit.

        The base model is prefit and the corrections are exported, so ``fit``
        only reads the corrections (strictly, as described for
        ``corrections``) and checks that ``X`` holds the columns they were
        fit on. It lets a ``FrozenCorrections`` stand in a
        :class:`~sklearn.pipeline.Pipeline` like any other step.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Data with the columns of ``feature_names_in_``.
        y : None
            Ignored.

        Returns
        -------
        self : FrozenCorrections

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> from tabsift.residual import FrozenCorrections
        >>> base = LinearRegression().fit(np.array([[0.0], [1.0]]), np.array([0.0, 1.0]))
        >>> data = {"format": "tabsift.residual.corrections", "version": 1,
        ...         "task": "regression", "feature_names": ["x0"], "intercept": 0.0,
        ...         "corrections": []}
        >>> FrozenCorrections(base, data).fit(np.array([[3.0]])).feature_names_in_
        array(['x0'], dtype=object)
        """
        self._load(force=True)
        self._read(X)
        return self

    def __repr__(self):
        return (
            f"FrozenCorrections(base_estimator={type(self.base_estimator).__name__}(), "
            f"corrections={_describe_source(self.corrections)})"
        )

    def _read(self, X):
        """``(numbers, base input)`` of ``X``, read as the fitted estimator read its table."""
        self._load()
        names = [str(n) for n in self.feature_names_in_]
        base_name = type(self.base_estimator).__name__
        owner = f"FrozenCorrections with base {base_name}"
        check_column_names(X, owner="FrozenCorrections")
        columns = getattr(X, "columns", None)
        if columns is not None:
            missing = [n for n in names if n not in set(map(str, columns))]
            if missing:
                raise ValueError(
                    f"X lacks the column(s) {missing[:5]} the model was fit on; pass a table "
                    f"with the columns {names}."
                )
            X = X[names]
        else:
            X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X must be 2-D with {self.n_features_in_} columns ({', '.join(names)}), found "
                f"shape {X.shape}."
            )
        numbers, cats = self.layout_.read(X, owner=owner)
        self.layout_.check_numbers(
            numbers,
            owner=owner,
            nan_ok=accepts_nan(self.base_estimator),
            fix=f"impute them first, e.g. with sklearn.impute.SimpleImputer: the base model "
            f"{base_name} does not accept missing values",
        )
        base_input = self.layout_.base_matrix(numbers, cats)
        # The base model sees what it was fit on: named columns if it knows names.
        if self.layout_.base_input == "array" and hasattr(self.base_estimator, "feature_names_in_"):
            import pandas as pd

            base_input = pd.DataFrame(
                base_input, columns=list(self.base_estimator.feature_names_in_)
            )
        return numbers, base_input

    def _output(self, X):
        numbers, base_input = self._read(X)
        return correct(
            self.task_,
            base_model_output(self.task_, self.base_estimator, base_input),
            numbers,
            self.layout_.number_names,
            intercept=self.intercept_,
            corrections=self.corrections_,
            blend_weight=self.blend_weight_,
            classes=getattr(self, "classes_", None),
        )

    def predict(self, X):
        """Predict with the base model plus the corrections.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            A DataFrame is matched by column name; an array must follow
            ``feature_names_in_``. Missing values are accepted when the
            base model accepts them.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Corrected values, or the most probable class.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> from tabsift.residual import FrozenCorrections
        >>> base = LinearRegression().fit(np.array([[0.0], [1.0]]), np.array([0.0, 1.0]))
        >>> data = {"format": "tabsift.residual.corrections", "version": 1,
        ...         "task": "regression", "feature_names": ["x0"], "intercept": 0.0,
        ...         "corrections": [{"expression": "x0 ** 2", "coefficient": 2.0}]}
        >>> FrozenCorrections(base, data).predict(np.array([[3.0]]))
        array([21.])
        """
        out = self._output(X)  # fits on first use, which sets task_ and classes_
        return output_prediction(self.task_, out, getattr(self, "classes_", None))

    @available_if(_is_classification)
    def predict_proba(self, X):
        """Corrected class probabilities (classification only).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from tabsift.residual import FrozenCorrections
        >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
        >>> base = LogisticRegression().fit(X, y)
        >>> data = {"format": "tabsift.residual.corrections", "version": 1,
        ...         "task": "classification", "feature_names": ["x0"], "classes": [0, 1],
        ...         "intercept": [0.0, 0.0], "blend_weight": 1.0, "corrections": []}
        >>> bool(np.allclose(FrozenCorrections(base, data).predict_proba(X), base.predict_proba(X)))
        True
        """
        return self._output(X)
