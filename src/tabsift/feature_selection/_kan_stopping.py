"""Early stopping of the KAN engine's stacked networks, each judged on its held-out rows.

After each epoch the training loop asks :class:`_Stopping` for every
network's held-out loss (:class:`_StackedHeldOut`, one stacked forward pass);
:class:`_EarlyStopper` keeps the patience count, and the best epoch's weights
are kept and restored at the end.

This module imports torch; it is imported only when an engine is built.
"""

import numpy as np
import torch
import torch.nn.functional as F

from tabsift.feature_selection._kan_layers import _row_chunk, _scaled_matrix, _stacked_features


class _EarlyStopper:
    """Patience bookkeeping for ``m`` networks judged on their held-out losses.

    A network improves when its loss falls more than ``tol`` below its best;
    it stops after ``n_iter_no_change`` epochs without improving, and
    ``stopped_at[k]`` is then the number of epochs it ran.
    """

    def __init__(self, m, n_iter_no_change, tol):
        self.patience, self.tol = int(n_iter_no_change), float(tol)
        self.best = np.full(m, np.inf)
        self.best_epoch = np.zeros(m, dtype=int)
        self.waited = np.zeros(m, dtype=int)
        self.stopped_at = np.full(m, -1)
        self.epoch = 0

    @property
    def all_stopped(self):
        return bool((self.stopped_at >= 0).all())

    def update(self, losses):
        """Record one epoch's held-out losses (m,); True where a running network improved."""
        losses = np.asarray(losses.detach().cpu(), dtype=float)
        running = self.stopped_at < 0
        improved = running & (losses < self.best - self.tol)
        self.best[improved] = losses[improved]
        self.best_epoch[improved] = self.epoch
        self.waited[improved] = 0
        self.waited[running & ~improved] += 1
        self.epoch += 1
        self.stopped_at[running & (self.waited >= self.patience)] = self.epoch
        return torch.as_tensor(improved)

    def epochs_run(self, k, n_epochs):
        """Epochs network ``k`` trained: when it stopped, or all ``n_epochs`` run."""
        return int(self.stopped_at[k]) if self.stopped_at[k] >= 0 else int(n_epochs)


class _StackedHeldOut:
    """Held-out losses of ``m`` stacked networks from their flat weights, one call per epoch.

    Each network's held-out rows have their first-layer features computed once
    (padded to the longest set, padding weighing 0); a call runs the stacked
    forward pass in row chunks and returns each network's mean (or weighted
    mean) loss, float64 of shape (m,).
    """

    def __init__(self, engines, validations, knots, order):
        first = engines[0]
        self.first, self.knots, self.order = first, knots, order
        rows = []
        for engine, validation in zip(engines, validations, strict=True):
            X_val, y_val, *rest = validation
            X_val, y_val = engine._x(X_val), engine._y(y_val)
            w = rest[0] if rest else None
            w = (
                torch.ones(X_val.shape[0], dtype=torch.float64, device=first.device)
                if w is None
                else engine._w(w)
            )
            if X_val.shape[0] == 0 or not float(w.sum()) > 0:
                raise ValueError(
                    "early stopping needs held-out rows with a positive weight for every "
                    "network; raise validation_fraction or turn early stopping off."
                )
            with torch.no_grad():
                rows.append((engine._first.features(X_val), y_val, w / w.sum()))
        n_max = max(f.shape[0] for f, _, _ in rows)
        self.features = torch.stack([F.pad(f, (0, 0, 0, n_max - f.shape[0])) for f, _, _ in rows])
        self.targets = torch.stack([F.pad(y, (0, n_max - y.shape[0])) for _, y, _ in rows])
        self.weights = torch.stack([F.pad(w, (0, n_max - w.shape[0])) for _, _, w in rows])
        # The widest per-row array is a hidden layer's features, (m, rows, hidden * (1 + n_basis)).
        n_basis = first._first.spline_weight.shape[-1]
        per_row = len(engines) * max(first.hidden_width, first.n_inputs) * (1 + n_basis)
        self.chunk = _row_chunk(n_max, per_row)

    @torch.no_grad()
    def losses(self, matrices, scalers):
        weights = [
            _scaled_matrix(mat, sc).transpose(1, 2)
            for mat, sc in zip(matrices, scalers, strict=True)
        ]
        total = torch.zeros(
            self.features.shape[0], dtype=torch.float64, device=self.features.device
        )
        for start in range(0, self.features.shape[1], self.chunk):
            x = self.features[:, start : start + self.chunk]
            out = torch.bmm(x, weights[0])
            for layer in range(1, len(weights)):
                x = _stacked_features(out, self.knots[layer], self.order)
                out = torch.bmm(x, weights[layer])
            sample = self.first._sample_losses(out, self.targets[:, start : start + self.chunk])
            total += (sample.double() * self.weights[:, start : start + self.chunk]).sum(dim=1)
        return total


class _Stopping:
    """Early stopping of ``m`` stacked networks: held-out losses, patience, best weights."""

    def __init__(self, engines, validations, knots, order, params, n_iter_no_change, tol):
        self.held_out = _StackedHeldOut(engines, validations, knots, order)
        self.stopper = _EarlyStopper(len(engines), n_iter_no_change, tol)
        self.best = [p.clone() for p in params]
        self.history = []

    def after_epoch(self, params, matrices, scalers):
        """Judge the epoch just trained; keep improved networks' weights. True: all stopped."""
        val = self.held_out.losses(matrices, scalers)
        self.history.append(val)
        improved = self.stopper.update(val)
        if improved.any():
            keep = improved.to(params[0].device)
            for p, b in zip(params, self.best, strict=True):
                b[keep] = p[keep]
        return self.stopper.all_stopped

    @torch.no_grad()
    def restore(self, params):
        """Put every network's best weights back; each network's held-out losses, (m, epochs)."""
        for p, b in zip(params, self.best, strict=True):
            p.copy_(b)
        return torch.stack(self.history).T
