"""The correction record, and how a list of them is applied to a base model's output.

One function, :func:`apply_corrections`, turns base predictions plus corrections into
final predictions. The fitted estimators and :class:`FrozenCorrections` both call it,
so a model reloaded from JSON predicts exactly what the fitted one predicted.
"""

import math
from dataclasses import dataclass

import numpy as np

from tabsift.expr import Expression, NonFiniteResultError, parse

SOURCES = ("offline", "llm")

# Probabilities are clipped to this before taking logs: a base model that is
# certain (p = 0) must not turn into an infinite logit.
PROBA_EPS = 1e-9


@dataclass(frozen=True)
class Correction:
    """One explicit correction term: a formula, its weight and why it is there.

    Regression: ``y = base(x) + intercept + sum_k coefficient_k * f_k(x)``.
    Classification: ``f_k`` is added, times its coefficient, to the logit of
    the class labelled ``target_class`` (the log of the base probability),
    before the softmax.

    Parameters
    ----------
    expression : str
        The formula in tabsift's expression language (:mod:`tabsift.expr`),
        over the model's column names.
    coefficient : float
        Its weight, fit by least squares (regression) or maximum likelihood
        (classification) on out-of-fold residuals of the training rows.
    explanation : str, default=""
        What the term is meant to capture.
    validation_gain : float, default=0.0
        How much the validation loss (mean squared error, or log loss) fell
        when the term was added, given the terms accepted before it.
    source : {"offline", "llm"}, default="offline"
        Which proposer found it.
    target_class : str, int, float, bool or None, default=None
        Classification only: the label (one of ``classes_``) of the class
        whose logit the term corrects, e.g. ``"high"``. None for regression.
        NumPy scalars are stored as the matching Python value.

    See Also
    --------
    ResidualAgentRegressor : Finds corrections for a regression model.
    FrozenCorrections : Applies exported corrections to new data.

    Examples
    --------
    >>> from tabsift.residual import Correction
    >>> c = Correction("sigmoid(2 * x1 * x2)", 1.8, explanation="interaction")
    >>> c.columns
    ('x1', 'x2')
    >>> Correction.from_dict(c.to_dict()) == c
    True
    >>> Correction("x1", 0.4, target_class="high").target_class
    'high'
    """

    expression: str
    coefficient: float
    explanation: str = ""
    validation_gain: float = 0.0
    source: str = "offline"
    target_class: object = None

    def __post_init__(self):
        # Canonical text, checked by the parser: a record never holds an unsafe formula.
        object.__setattr__(self, "expression", str(parse(str(self.expression))))
        object.__setattr__(self, "coefficient", float(self.coefficient))
        object.__setattr__(self, "validation_gain", float(self.validation_gain))
        object.__setattr__(self, "explanation", str(self.explanation))
        if not math.isfinite(self.coefficient):
            raise ValueError(f"coefficient must be finite, found {self.coefficient!r}.")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {list(SOURCES)}, found {self.source!r}.")
        target = self.target_class
        if isinstance(target, np.generic):
            target = target.item()
        if target is not None and not isinstance(target, (str, int, float)):
            raise TypeError(
                f"target_class must be a class label (a string, a number or a bool) or None, "
                f"found {type(target).__name__}."
            )
        object.__setattr__(self, "target_class", target)

    @property
    def columns(self):
        """The column names the formula reads, in order of first appearance."""
        return parse(self.expression).columns

    def to_dict(self):
        """Return a JSON-able dict; :meth:`from_dict` reads it back.

        Returns
        -------
        data : dict

        Examples
        --------
        >>> from tabsift.residual import Correction
        >>> Correction("x ** 2", 0.5).to_dict()["expression"]
        'x ** 2'
        """
        return {
            "expression": self.expression,
            "tree": parse(self.expression).to_dict(),
            "coefficient": self.coefficient,
            "explanation": self.explanation,
            "validation_gain": self.validation_gain,
            "source": self.source,
            "target_class": self.target_class,
        }

    @classmethod
    def from_dict(cls, data):
        """Rebuild a correction from :meth:`to_dict` output, re-validating its formula.

        Parameters
        ----------
        data : dict

        Returns
        -------
        correction : Correction

        Examples
        --------
        >>> from tabsift.residual import Correction
        >>> Correction.from_dict({"expression": "abs(x)", "coefficient": 2}).coefficient
        2.0
        """
        if not isinstance(data, dict):
            raise TypeError(f"a correction must be a dict, found {type(data).__name__}.")
        missing = [key for key in ("expression", "coefficient") if key not in data]
        if missing:
            raise ValueError(f"the correction {data!r} lacks the key(s) {missing}.")
        text = data["expression"]
        if "tree" in data:
            # The stored tree wins; its text must be the stored text.
            tree_text = Expression.from_dict(data["tree"]).text
            if tree_text != str(parse(text)):
                raise ValueError(
                    f"the stored formula {text!r} does not match its stored tree {tree_text!r}; "
                    "export the corrections again."
                )
        return cls(
            expression=text,
            coefficient=data["coefficient"],
            explanation=data.get("explanation", ""),
            validation_gain=data.get("validation_gain", 0.0),
            source=data.get("source", "offline"),
            target_class=data.get("target_class"),
        )


def column_data(X, names):
    """Map each column name to its column of the 2-D float array ``X``."""
    return {name: X[:, j] for j, name in enumerate(names)}


def evaluate_term(expression, data):
    """Evaluate one formula on a column mapping as a float64 array, or raise ValueError.

    On a row where a column the formula reads is missing (NaN), the term is 0:
    the correction adds nothing there and the base model's output stands.
    """
    if not isinstance(expression, Expression):
        expression = parse(expression)
    n = len(next(iter(data.values())))
    read = [name for name in expression.columns if name in data]
    complete = np.ones(n, dtype=bool)
    for name in read:
        complete &= ~np.isnan(np.asarray(data[name], dtype=np.float64))
    if complete.all() or len(read) < len(expression.columns):
        values = np.asarray(expression.evaluate(data), dtype=np.float64)
        return np.broadcast_to(values, (n,)).copy() if values.ndim == 0 else values
    out = np.zeros(n)
    if complete.any():
        subset = {name: np.asarray(data[name], dtype=np.float64)[complete] for name in read}
        out[complete] = np.asarray(expression.evaluate(subset), dtype=np.float64)
    return out


def term_matrix(corrections, data, n_rows):
    """Return the values of every correction's formula, one column each (n_rows, k)."""
    columns = []
    for correction in corrections:
        try:
            columns.append(evaluate_term(correction.expression, data))
        except NonFiniteResultError as err:
            raise ValueError(
                f"the correction {correction.expression!r} is not finite on this data: {err}. "
                "The data is outside the range the correction was fit on; check the input."
            ) from err
    if not columns:
        return np.zeros((n_rows, 0))
    return np.column_stack(columns)


def log_proba(proba):
    """Natural log of probabilities, clipped away from 0."""
    return np.log(np.clip(np.asarray(proba, dtype=np.float64), PROBA_EPS, 1.0))


def softmax_rows(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def class_positions(corrections, classes):
    """Return the position in ``classes`` of each correction's ``target_class`` (a label)."""
    labels = np.asarray(classes).tolist()
    position = {label: j for j, label in enumerate(labels)}
    out = []
    for correction in corrections:
        if correction.target_class not in position:
            raise ValueError(
                f"the correction {correction.expression!r} targets the class "
                f"{correction.target_class!r}, which is not one of the classes {labels[:20]}; "
                "set target_class to one of them."
            )
        out.append(position[correction.target_class])
    return out


def corrected_logits(base_proba, intercept, corrections, terms, classes):
    """Log base probabilities plus the per-class intercept and the weighted terms."""
    logits = log_proba(base_proba) + np.asarray(intercept, dtype=np.float64)[None, :]
    for k, (correction, j) in enumerate(
        zip(corrections, class_positions(corrections, classes), strict=True)
    ):
        logits[:, j] += correction.coefficient * terms[:, k]
    return logits


def apply_corrections(
    task, base_output, intercept, corrections, terms, blend_weight=1.0, classes=None
):
    """Return the final output from the base output and evaluated terms.

    Regression: base predictions plus intercept plus weighted terms. Classification:
    ``(1 - blend_weight) * base_proba + blend_weight * softmax(corrected logits)``,
    where ``classes`` (the labels, in the order of the probability columns) says
    which logit each correction's ``target_class`` is.
    """
    if task == "regression":
        out = np.asarray(base_output, dtype=np.float64) + float(intercept)
        for k, correction in enumerate(corrections):
            out = out + correction.coefficient * terms[:, k]
        return out
    base = np.asarray(base_output, dtype=np.float64)
    corrected = softmax_rows(corrected_logits(base, intercept, corrections, terms, classes))
    return (1.0 - blend_weight) * base + blend_weight * corrected


def correct(task, base_output, numbers, names, *, intercept, corrections, blend_weight, classes):
    """Return the corrected output on the rows of ``numbers`` (its columns named ``names``).

    Evaluates every correction's formula on the number columns and applies them
    to ``base_output`` with :func:`apply_corrections`.
    """
    terms = term_matrix(corrections, column_data(numbers, names), numbers.shape[0])
    return apply_corrections(
        task, base_output, intercept, corrections, terms, blend_weight, classes=classes
    )


def base_model_output(task, base_estimator, X_base):
    """Return what corrections act on: the base model's values, or its class probabilities."""
    if task == "regression":
        return base_estimator.predict(X_base)
    return base_estimator.predict_proba(X_base)


def output_prediction(task, output, classes):
    """Return the prediction an output gives: the values, or the most probable classes."""
    if task == "regression":
        return output
    return classes[np.argmax(output, axis=1)]
