"""FrozenCorrections: apply exported corrections to a prefit base model, with no LLM call."""

import numpy as np

from tabsift.residual._correction import apply_corrections, column_data, term_matrix
from tabsift.residual._format import load_corrections
from tabsift.residual._table import accepts_nan
from tabsift.table import check_column_names


class FrozenCorrections:
    """A prefit base model plus exported correction formulas: predictions with no refitting.

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
        ever executed: formulas are parsed by :mod:`tabsift.expr`.

    Attributes
    ----------
    task : str
        ``"regression"`` or ``"classification"``.
    corrections_ : list of Correction
        The loaded corrections.
    intercept_ : float or ndarray of shape (n_classes,)
    blend_weight_ : float
    classes_ : ndarray of shape (n_classes,)
        Class labels (classification only).
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
        if not hasattr(base_estimator, "predict"):
            raise TypeError(
                f"base_estimator must be a fitted model with predict, found "
                f"{type(base_estimator).__name__}."
            )
        self.base_estimator = base_estimator
        self.corrections = corrections
        loaded = load_corrections(corrections)
        self.task = loaded["task"]
        self.corrections_ = loaded["corrections"]
        self.intercept_ = loaded["intercept"]
        self.blend_weight_ = loaded["blend_weight"]
        self.layout_ = loaded["layout"]
        self.feature_names_in_ = np.asarray(loaded["feature_names"], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        if self.task == "classification":
            self.classes_ = np.asarray(loaded["classes"])
            if not hasattr(base_estimator, "predict_proba"):
                raise TypeError(
                    "classification corrections need a base model with predict_proba, found "
                    f"{type(base_estimator).__name__}."
                )

    def __repr__(self):
        return (
            f"FrozenCorrections({type(self.base_estimator).__name__}, "
            f"{len(self.corrections_)} correction(s), task={self.task!r})"
        )

    def _read(self, X):
        """``(numbers, base input)`` of ``X``, read as the fitted estimator read its table."""
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
        if self.task == "regression":
            base = self.base_estimator.predict(base_input)
        else:
            base = self.base_estimator.predict_proba(base_input)
        data = column_data(numbers, self.layout_.number_names)
        terms = term_matrix(self.corrections_, data, numbers.shape[0])
        return apply_corrections(
            self.task, base, self.intercept_, self.corrections_, terms, self.blend_weight_
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
        out = self._output(X)
        if self.task == "regression":
            return out
        return self.classes_[np.argmax(out, axis=1)]

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
        if self.task != "classification":
            raise AttributeError("predict_proba is only available for classification corrections.")
        return self._output(X)
