"""What a fitted residual estimator gives back: predictions, exported corrections, plots.

:class:`_FittedCorrectionsMixin` reads the fitted ``base_estimator_``,
``corrections_`` and ``intercept_`` of :class:`_ResidualAgentBase`; the fit is
in :mod:`tabsift.residual._base`.
"""

import json

from sklearn.utils.validation import check_is_fitted

from tabsift.residual._correction import base_model_output, correct, output_prediction
from tabsift.residual._format import corrections_to_dict
from tabsift.utils import atomic_write_text


class _FittedCorrectionsMixin:
    """Prediction, export and plotting of the fitted corrections.

    The host provides ``_task``, ``_read_table``, ``_column_names`` and the
    fitted attributes.
    """

    def _corrected(self, X):
        check_is_fitted(self, "base_estimator_")
        numbers, X_base, _ = self._read_table(X, reset=False)
        return correct(
            self._task,
            base_model_output(self._task, self.base_estimator_, X_base),
            numbers,
            self._layout.number_names,
            intercept=self.intercept_,
            corrections=self.corrections_,
            blend_weight=self._blend_weight,
            classes=getattr(self, "classes_", None),
        )

    def predict_base(self, X):
        """Predict with the fitted base model alone, reading ``X`` as :meth:`fit` did.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The base model's values (regression) or most probable classes,
            without any correction.

        Examples
        --------
        >>> from sklearn.linear_model import LinearRegression
        >>> from tabsift.datasets import make_missing_interaction
        >>> from tabsift.residual import ResidualAgentRegressor
        >>> data = make_missing_interaction(n_samples=200, random_state=0)
        >>> model = ResidualAgentRegressor(
        ...     LinearRegression(), n_corrections=0, n_jobs=1, random_state=0
        ... ).fit(data.data, data.target)
        >>> bool((model.predict_base(data.data) == model.predict(data.data)).all())
        True
        """
        check_is_fitted(self, "base_estimator_")
        _, X_base, _ = self._read_table(X, reset=False)
        out = base_model_output(self._task, self.base_estimator_, X_base)
        return output_prediction(self._task, out, getattr(self, "classes_", None))

    # ------------------------------------------------------------ export
    def export_corrections(self, path=None):
        """Return the fitted corrections as a JSON-able dict, and write them to ``path``.

        The file is written atomically. :class:`FrozenCorrections` applies it,
        with the prefit ``base_estimator_``, to new data without any LLM call.

        Parameters
        ----------
        path : str or path-like, default=None
            Where to write the JSON file; None only returns the dict.

        Returns
        -------
        data : dict
            Format name and version, task, feature names, classes, intercept,
            blend weight and the corrections (formula text and syntax tree,
            coefficient, explanation, validation gain, source, target class).

        Examples
        --------
        >>> from sklearn.linear_model import LinearRegression
        >>> from tabsift.datasets import make_missing_interaction
        >>> from tabsift.residual import ResidualAgentRegressor
        >>> data = make_missing_interaction(n_samples=300, random_state=0)
        >>> model = ResidualAgentRegressor(
        ...     LinearRegression(), n_corrections=1, n_rounds=1, n_jobs=1, random_state=0
        ... ).fit(data.data, data.target)
        >>> model.export_corrections()["corrections"][0]["expression"]
        'x3 ** 2'
        """
        check_is_fitted(self, "base_estimator_")
        data = corrections_to_dict(
            task=self._task,
            feature_names=self._column_names(),
            classes=getattr(self, "classes_", None),
            intercept=self.intercept_,
            blend_weight=self._blend_weight,
            corrections=self.corrections_,
            extra={
                "estimator": type(self).__name__,
                "base_estimator": type(self.base_estimator_).__name__,
                "validation_scores": self.validation_scores_,
                "table": self._layout.to_dict(),
            },
        )
        if path is not None:
            atomic_write_text(path, json.dumps(data, indent=2))
        return data

    def plot_residuals(self, feature=None, ax=None):
        """Plot validation residuals against implicated features, before and after correction.

        See :func:`tabsift.residual.plot_residuals`.

        Parameters
        ----------
        feature : str, default=None
            The column on the x axis; by default one panel per column the
            corrections read (at most 4), or the first column when there is
            no correction.
        ax : matplotlib Axes, default=None
            Where to draw (needs a single panel); a new figure by default.

        Returns
        -------
        axes : matplotlib Axes or ndarray of Axes
            The Axes when one panel is drawn, else an array of them.

        Examples
        --------
        >>> from sklearn.linear_model import LinearRegression
        >>> from tabsift.datasets import make_missing_interaction
        >>> from tabsift.residual import ResidualAgentRegressor
        >>> data = make_missing_interaction(n_samples=300, random_state=0)
        >>> model = ResidualAgentRegressor(
        ...     LinearRegression(), n_corrections=1, n_rounds=1, n_jobs=1, random_state=0
        ... ).fit(data.data, data.target)
        >>> ax = model.plot_residuals(feature="x1")
        >>> ax.get_xlabel()
        'x1'
        """
        from tabsift.residual._plot import plot_residuals

        return plot_residuals(self, feature=feature, ax=ax)
