"""The data a proposer works on, and how candidate terms are fit and scored.

A :class:`Workspace` holds the training part (with the base model's
out-of-fold predictions) and the validation part (with predictions of a base
model fit on the training part only). Coefficients are always fit on the
training part's out-of-fold residuals; a set of terms is always judged by its
loss on the validation part.

Sample weights are frequencies: every mean (a loss, the standardisation of the
terms, the ridge scale) is a weighted mean, and an integer weight ``k`` gives
exactly the numbers of the row repeated ``k`` times. Without weights (None) the
unweighted formulas run unchanged.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp
from scipy.stats import norm

from tabsift.expr import Expression, ExpressionError, NonFiniteResultError
from tabsift.residual._correction import evaluate_term, log_proba

# Ridge penalty on standardised term values. Regression: only there to keep the
# solve well posed (collinear terms). Classification: a weak prior against the large
# logit coefficients that separable rows (a confident base model) invite, which
# overfit and ruin held-out log loss; it costs real effects little.
_RIDGE = 1e-6
_RIDGE_LOGIT = 1e-3
# Paired t-statistic a validation gain must reach when one candidate is judged (see
# Workspace.accepts); with more, the threshold rises so the chance of keeping noise stays
# that of one test.
_MIN_T = 1.5
# Rows (total weight) a term needs away from its most common value, in each part: a
# step or a gated term is judged by the rows on its smaller side, and a handful of rows
# cannot tell its effect from noise (the "10 events per variable" rule of thumb of
# logistic regression, Peduzzi et al. 1996).
_MIN_SIDE_ROWS = 10


@dataclass(eq=False)
class Term:
    """A candidate correction with its values on the training and validation rows."""

    expression: Expression
    explanation: str
    source: str
    values_train: np.ndarray
    values_val: np.ndarray
    target_class: int | None = None
    # Rows (weight) away from the term's most common value: (training, validation).
    support: tuple = (np.inf, np.inf)

    @property
    def key(self):
        return (str(self.expression), self.target_class)


def side_support(values, weights=None):
    """Total weight of the rows whose value is not the most common one (a step's smaller side)."""
    uniques, inverse = np.unique(values, return_inverse=True)
    if uniques.size == values.size and weights is None:
        return float(values.size - 1)
    counts = np.bincount(inverse.ravel(), weights=weights, minlength=uniques.size)
    return float(counts.sum() - counts.max())


@dataclass
class Fit:
    """Coefficients of a set of terms and the resulting losses."""

    terms: list
    intercept: np.ndarray | float
    coefficients: np.ndarray
    train_loss: float
    val_loss: float


def weighted_mean(values, weights, axis=None):
    """Return the mean of ``values``, weighted by ``weights`` (frequencies) unless they are None."""
    if weights is None:
        return np.mean(values, axis=axis)
    return np.average(values, axis=axis, weights=weights)


def _standardise(F, weights=None):
    mean = weighted_mean(F, weights, axis=0)
    if weights is None:
        scale = F.std(axis=0)
    else:
        scale = np.sqrt(weighted_mean((F - mean) ** 2, weights, axis=0))
    scale = np.where(scale > 0, scale, 1.0)
    return (F - mean) / scale, mean, scale


def _weighted(matrix, weights):
    """``matrix`` with each row times its weight (itself when there are no weights)."""
    if weights is None:
        return matrix
    return matrix * (weights[:, None] if matrix.ndim == 2 else weights)


def min_t(n_compared):
    """Return the t-statistic the best of ``n_compared`` validation comparisons must reach."""
    return float(norm.isf(norm.sf(_MIN_T) / max(int(n_compared), 1)))


class Workspace:
    """Training and validation parts for one fit, regression or classification.

    ``w_train`` and ``w_val`` are the rows' sample weights (None: all 1). Each must
    have a positive sum.
    """

    def __init__(
        self,
        task,
        data_train,
        data_val,
        y_train,
        y_val,
        base_train,
        base_val,
        n_classes,
        w_train=None,
        w_val=None,
    ):
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
        self.w_train = None if w_train is None else np.asarray(w_train, dtype=np.float64)
        self.w_val = None if w_val is None else np.asarray(w_val, dtype=np.float64)
        # Total weight: the row count a weighted part stands for.
        self.total_train = self.n_train if w_train is None else float(self.w_train.sum())
        self.total_val = self.n_val if w_val is None else float(self.w_val.sum())
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
        support = (
            side_support(values_train, self.w_train),
            side_support(values_val, self.w_val),
        )
        return Term(
            expression, explanation, source, values_train, values_val, target_class, support
        )

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
            # Weighted least squares (ridge scaled by the total weight, as by n unweighted).
            w = self.w_train
            Z, mean, scale = _standardise(F_train, w)
            centre = weighted_mean(r_train, w)
            Zw = _weighted(Z, w)
            A = Zw.T @ Z + _RIDGE * self.total_train * np.eye(Z.shape[1])
            beta = np.linalg.solve(A, Zw.T @ (r_train - centre))
            coef = beta / scale
            intercept = float(centre - mean @ coef)
        train_loss = float(weighted_mean((r_train - intercept - F_train @ coef) ** 2, self.w_train))
        val_loss = float(weighted_mean((r_val - intercept - F_val @ coef) ** 2, self.w_val))
        return Fit(list(terms), intercept, coef, train_loss, val_loss)

    def _class_logits(self, logp, F, intercept, coef, classes):
        logits = logp + intercept[None, :]
        for k, c in enumerate(classes):
            logits[:, c] += coef[k] * F[:, k]
        return logits

    def _log_loss(self, logits, y, weights):
        return float(
            weighted_mean(logsumexp(logits, axis=1) - logits[np.arange(len(y)), y], weights)
        )

    def _intercept_classes(self):
        # Binary: one logit, on class 1. Multiclass: class 0 is the reference.
        return np.arange(1, self.n_classes)

    def _fit_classification(self, terms):
        if not terms:
            # No term, no recalibration either: the empty fit is the base model itself.
            b = np.zeros(self.n_classes)
            train = self._log_loss(self.logp_train.copy(), self.y_train, self.w_train)
            val = self._log_loss(self.logp_val.copy(), self.y_val, self.w_val)
            return Fit([], b, np.zeros(0), train, val)
        F_train, F_val = self._matrices(terms)
        classes = [t.target_class for t in terms]
        w_rows = self.w_train
        Z, mean, scale = _standardise(F_train, w_rows)
        icls = self._intercept_classes()
        n_b, n_w = len(icls), len(terms)
        logp, onehot = self.logp_train, self.onehot_train
        n = self.total_train

        def unpack(theta):
            b = np.zeros(self.n_classes)
            b[icls] = theta[:n_b]
            return b, theta[n_b:]

        def objective(theta):
            b, w = unpack(theta)
            logits = self._class_logits(logp, Z, b, w, classes)
            lse = logsumexp(logits, axis=1)
            # Weighted logistic loss: each row's term times its weight, over the total.
            rows = lse - (logits * onehot).sum(axis=1)
            loss = weighted_mean(rows, w_rows) + 0.5 * _RIDGE_LOGIT * (w @ w)
            diff = _weighted(np.exp(logits - lse[:, None]) - onehot, w_rows) / n
            grad_b = diff.sum(axis=0)[icls]
            grad_w = np.array([diff[:, c] @ Z[:, k] for k, c in enumerate(classes)])
            return loss, np.concatenate([grad_b, grad_w + _RIDGE_LOGIT * w])

        result = minimize(
            objective, np.zeros(n_b + n_w), jac=True, method="L-BFGS-B", options={"maxiter": 200}
        )
        b, w_std = unpack(result.x)
        coef = w_std / scale
        # Move the standardisation offsets into each term's class intercept.
        for k, c in enumerate(classes):
            b[c] -= coef[k] * mean[k]
        train = self._log_loss(
            self._class_logits(logp, F_train, b, coef, classes), self.y_train, self.w_train
        )
        val = self._log_loss(
            self._class_logits(self.logp_val, F_val, b, coef, classes), self.y_val, self.w_val
        )
        return Fit(list(terms), b, coef, train, val)

    # ---------------------------------------------------------------- acceptance
    def val_row_losses(self, fit):
        """Loss of each validation row: squared error, or minus the log-probability of the truth."""
        out = self.val_output(fit)
        if self.task == "regression":
            return (self.y_val - out) ** 2
        return -np.log(np.clip(out[np.arange(self.n_val), self.y_val], 1e-15, 1.0))

    @staticmethod
    def judgeable(term):
        """Whether ``term`` varies on enough rows of each part to be judged (see ``accepts``)."""
        return min(term.support) >= _MIN_SIDE_ROWS

    def accepts(self, new, old, min_gain, n_compared=1):
        """Whether ``new`` beats ``old`` on validation by enough to be kept.

        Three conditions. Each term of ``new`` that ``old`` lacks varies on at least
        ``_MIN_SIDE_ROWS`` rows (total weight) of each part away from its most common
        value: a step with two validation rows on one side is judged by those two rows
        and by the intercepts that move with it, not by its effect. The mean loss falls
        by at least ``min_gain`` times the base model's validation loss. And the fall is
        clear of row-to-row noise: its paired t-statistic reaches the level whose
        one-sided normal tail is that of 1.5 (a moderate guard, as squared errors are
        heavy-tailed) divided by ``n_compared``, the number of candidates whose
        validation losses were compared to pick ``new`` (a Bonferroni correction: the
        best of 5 must reach 2.22, of 20, 2.71). Many candidates are compared on the
        same rows, so a bare "lower is better" would keep noise.

        With sample weights the mean and the standard error are those of the
        rows repeated by their weights (frequency weights): the total weight
        stands for the number of rows, so scaling all weights changes the
        standard error, not the gain.
        """
        kept = {t.key for t in old.terms}
        if not all(self.judgeable(t) for t in new.terms if t.key not in kept):
            return False
        diff = self.val_row_losses(old) - self.val_row_losses(new)
        gain = float(weighted_mean(diff, self.w_val))
        if gain < min_gain * self.base_val_loss or gain <= 0:
            return False
        total = self.total_val
        if total <= 1:
            spread = 0.0
        elif self.w_val is None:
            spread = float(diff.std(ddof=1)) / np.sqrt(total)
        else:
            variance = float(self.w_val @ (diff - gain) ** 2) / (total - 1)
            spread = np.sqrt(variance / total)
        return gain >= min_t(n_compared) * spread

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
        """Return what is left to explain on the training rows: y - prediction, or 1 - P(true class)."""
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
        w = self.w_train
        Gc = G_train - weighted_mean(G_train, w, axis=0)
        if self.task == "regression":
            e = _weighted(self.y_train - self.train_output(fit), w)
            denom = _weighted(Gc**2, w).sum(axis=0)
            return (Gc.T @ e) ** 2 / np.where(denom > 0, denom, np.inf) / self.total_train
        p = self.train_output(fit)[:, target_class]
        y_c = (self.y_train == target_class).astype(float)
        grad = Gc.T @ _weighted(y_c - p, w)
        hess = (Gc**2).T @ _weighted(p * (1.0 - p), w)
        return 0.5 * grad**2 / np.where(hess > 0, hess, np.inf) / self.total_train
