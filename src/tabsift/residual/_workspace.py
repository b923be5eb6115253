"""The data a proposer works on, and how candidate terms are fit and scored.

A :class:`Workspace` holds the training part (with the base model's
out-of-fold predictions) and the validation part (with predictions of a base
model fit on the training part only). Coefficients are always fit on the
training part's out-of-fold residuals; a set of terms is always judged by its
loss on the validation part.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from tabsift.expr import Expression, ExpressionError, NonFiniteResultError
from tabsift.residual._correction import evaluate_term, log_proba

# Ridge penalty on standardised term values. Regression: only there to keep the
# solve well posed (collinear terms). Classification: a weak prior against the large
# logit coefficients that separable rows (a confident base model) invite, which
# overfit and ruin held-out log loss; it costs real effects little.
_RIDGE = 1e-6
_RIDGE_LOGIT = 1e-3
# Paired t-statistic a validation gain must reach (see Workspace.accepts).
_MIN_T = 1.5


@dataclass(eq=False)
class Term:
    """A candidate correction with its values on the training and validation rows."""

    expression: Expression
    explanation: str
    source: str
    values_train: np.ndarray
    values_val: np.ndarray
    target_class: int | None = None

    @property
    def key(self):
        return (str(self.expression), self.target_class)


@dataclass
class Fit:
    """Coefficients of a set of terms and the resulting losses."""

    terms: list
    intercept: np.ndarray | float
    coefficients: np.ndarray
    train_loss: float
    val_loss: float


def _standardise(F, mean=None, scale=None):
    if mean is None:
        mean = F.mean(axis=0)
        scale = F.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    return (F - mean) / scale, mean, scale


class Workspace:
    """Training and validation parts for one fit, regression or classification."""

    def __init__(self, task, data_train, data_val, y_train, y_val, base_train, base_val, n_classes):
        self.task = task
        self.data_train = data_train
        self.data_val = data_val
        self.y_train = y_train
        self.y_val = y_val
        self.base_train = base_train  # out-of-fold predictions or probabilities
        self.base_val = base_val
        self.n_classes = n_classes
        self.n_train = len(y_train)
        self.n_val = len(y_val)
        if task == "classification":
            self.logp_train = log_proba(base_train)
            self.logp_val = log_proba(base_val)
            self.onehot_train = np.eye(n_classes)[y_train]
        self.empty = self.fit([])
        self.base_val_loss = self.empty.val_loss

    # ---------------------------------------------------------------- terms
    def make_term(self, expression, explanation, source, target_class=None):
        """Evaluate ``expression`` on both parts; raise ValueError saying why it is unusable."""
        try:
            values_train = evaluate_term(expression, self.data_train)
            values_val = evaluate_term(expression, self.data_val)
        except NonFiniteResultError as err:
            raise ValueError(f"the formula gives non-finite values: {err}") from err
        except ExpressionError as err:
            raise ValueError(str(err)) from err
        if np.ptp(values_train) <= 1e-12 * max(1.0, float(np.abs(values_train).max())):
            raise ValueError(
                "the formula is constant on the training rows, so it cannot explain the "
                "residuals; use the columns in a way that varies from row to row."
            )
        return Term(expression, explanation, source, values_train, values_val, target_class)

    # ---------------------------------------------------------------- fitting
    def fit(self, terms):
        """Fit the coefficients of ``terms`` jointly on the training part; score on validation."""
        if self.task == "regression":
            return self._fit_regression(terms)
        return self._fit_classification(terms)

    def _matrices(self, terms):
        if not terms:
            return np.zeros((self.n_train, 0)), np.zeros((self.n_val, 0))
        return (
            np.column_stack([t.values_train for t in terms]),
            np.column_stack([t.values_val for t in terms]),
        )

    def _fit_regression(self, terms):
        r_train = self.y_train - self.base_train
        r_val = self.y_val - self.base_val
        F_train, F_val = self._matrices(terms)
        if not terms:
            intercept, coef = 0.0, np.zeros(0)
        else:
            Z, mean, scale = _standardise(F_train)
            centre = r_train.mean()
            A = Z.T @ Z + _RIDGE * self.n_train * np.eye(Z.shape[1])
            beta = np.linalg.solve(A, Z.T @ (r_train - centre))
            coef = beta / scale
            intercept = float(centre - mean @ coef)
        train_loss = float(np.mean((r_train - intercept - F_train @ coef) ** 2))
        val_loss = float(np.mean((r_val - intercept - F_val @ coef) ** 2))
        return Fit(list(terms), intercept, coef, train_loss, val_loss)

    def _class_logits(self, logp, F, intercept, coef, classes):
        logits = logp + intercept[None, :]
        for k, c in enumerate(classes):
            logits[:, c] += coef[k] * F[:, k]
        return logits

    def _log_loss(self, logits, y):
        return float(np.mean(logsumexp(logits, axis=1) - logits[np.arange(len(y)), y]))

    def _intercept_classes(self):
        # Binary: one logit, on class 1. Multiclass: class 0 is the reference.
        return np.arange(1, self.n_classes)

    def _fit_classification(self, terms):
        if not terms:
            # No term, no recalibration either: the empty fit is the base model itself.
            b = np.zeros(self.n_classes)
            train = self._log_loss(self.logp_train.copy(), self.y_train)
            val = self._log_loss(self.logp_val.copy(), self.y_val)
            return Fit([], b, np.zeros(0), train, val)
        F_train, F_val = self._matrices(terms)
        classes = [t.target_class for t in terms]
        Z, mean, scale = _standardise(F_train) if terms else (F_train, np.zeros(0), np.ones(0))
        icls = self._intercept_classes()
        n_b, n_w = len(icls), len(terms)
        logp, onehot = self.logp_train, self.onehot_train
        n = self.n_train

        def unpack(theta):
            b = np.zeros(self.n_classes)
            b[icls] = theta[:n_b]
            return b, theta[n_b:]

        def objective(theta):
            b, w = unpack(theta)
            logits = self._class_logits(logp, Z, b, w, classes)
            lse = logsumexp(logits, axis=1)
            loss = np.mean(lse - (logits * onehot).sum(axis=1)) + 0.5 * _RIDGE_LOGIT * (w @ w)
            diff = (np.exp(logits - lse[:, None]) - onehot) / n
            grad_b = diff.sum(axis=0)[icls]
            grad_w = np.array([diff[:, c] @ Z[:, k] for k, c in enumerate(classes)])
            return loss, np.concatenate([grad_b, grad_w + _RIDGE_LOGIT * w])

        result = minimize(
            objective, np.zeros(n_b + n_w), jac=True, method="L-BFGS-B", options={"maxiter": 200}
        )
        b, w_std = unpack(result.x)
        coef = w_std / scale if terms else np.zeros(0)
        # Move the standardisation offsets into each term's class intercept.
        for k, c in enumerate(classes):
            b[c] -= coef[k] * mean[k]
        train = self._log_loss(self._class_logits(logp, F_train, b, coef, classes), self.y_train)
        val = self._log_loss(self._class_logits(self.logp_val, F_val, b, coef, classes), self.y_val)
        return Fit(list(terms), b, coef, train, val)

    # ---------------------------------------------------------------- acceptance
    def val_row_losses(self, fit):
        """Loss of each validation row: squared error, or minus the log-probability of the truth."""
        out = self.val_output(fit)
        if self.task == "regression":
            return (self.y_val - out) ** 2
        return -np.log(np.clip(out[np.arange(self.n_val), self.y_val], 1e-15, 1.0))

    def accepts(self, new, old, min_gain):
        """Whether ``new`` beats ``old`` on validation by enough to be kept.

        Two conditions: the mean loss falls by at least ``min_gain`` times the base
        model's validation loss, and the fall is clear of row-to-row noise (paired
        t-statistic of the per-row loss differences at least 1.5: a moderate guard, as
        squared errors are heavy-tailed). Many candidates are compared on the
        same rows, so a bare "lower is better" would keep noise.
        """
        diff = self.val_row_losses(old) - self.val_row_losses(new)
        gain = float(diff.mean())
        if gain < min_gain * self.base_val_loss or gain <= 0:
            return False
        spread = float(diff.std(ddof=1)) / np.sqrt(self.n_val) if self.n_val > 1 else 0.0
        return gain >= _MIN_T * spread

    # ---------------------------------------------------------------- output
    def train_output(self, fit):
        """Corrected training predictions (regression) or probabilities (classification)."""
        F_train, _ = self._matrices(fit.terms)
        if self.task == "regression":
            return self.base_train + fit.intercept + F_train @ fit.coefficients
        classes = [t.target_class for t in fit.terms]
        logits = self._class_logits(
            self.logp_train, F_train, fit.intercept, fit.coefficients, classes
        )
        return np.exp(logits - logsumexp(logits, axis=1)[:, None])

    def val_output(self, fit):
        _, F_val = self._matrices(fit.terms)
        if self.task == "regression":
            return self.base_val + fit.intercept + F_val @ fit.coefficients
        classes = [t.target_class for t in fit.terms]
        logits = self._class_logits(self.logp_val, F_val, fit.intercept, fit.coefficients, classes)
        return np.exp(logits - logsumexp(logits, axis=1)[:, None])

    def train_residual(self, fit):
        """What is left to explain on the training rows: y - prediction, or 1 - P(true class)."""
        out = self.train_output(fit)
        if self.task == "regression":
            return self.y_train - out
        return 1.0 - out[np.arange(self.n_train), self.y_train]

    def gradient_targets(self, fit):
        """Per-class working residuals (one-hot minus probability), or y - prediction."""
        out = self.train_output(fit)
        if self.task == "regression":
            return (self.y_train - out)[:, None]
        targets = self.onehot_train - out
        return targets[:, 1:] if self.n_classes == 2 else targets

    # ---------------------------------------------------------------- screening
    def screen(self, fit, G_train, target_class):
        """Approximate fall of the training loss when each column of G joins ``fit``.

        One Newton step for the new coefficient (exact for least squares), vectorised
        over candidates: it ranks many candidates on the training rows, so that only a
        short list is fit jointly and compared on validation. Choosing among hundreds
        of candidates by validation loss directly would fit the validation rows' noise.
        """
        Gc = G_train - G_train.mean(axis=0)
        if self.task == "regression":
            e = self.y_train - self.train_output(fit)
            denom = (Gc**2).sum(axis=0)
            return (Gc.T @ e) ** 2 / np.where(denom > 0, denom, np.inf) / self.n_train
        p = self.train_output(fit)[:, target_class]
        y_c = (self.y_train == target_class).astype(float)
        grad = Gc.T @ (y_c - p)
        hess = (Gc**2).T @ (p * (1.0 - p))
        return 0.5 * grad**2 / np.where(hess > 0, hess, np.inf) / self.n_train
