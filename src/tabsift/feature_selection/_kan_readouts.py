"""What the KAN engine reads from a trained network: predictions, losses, importances.

:class:`KANReadouts` holds the engine protocol's read-out methods (see
:mod:`tabsift.feature_selection._engine`) over a :class:`~._kan_layers.KANNetwork`
in ``self.network``; the engine supplies the conversions ``_x``, ``_y``,
``_w``, the per-row loss ``_sample_losses`` and the first layer ``_first``.
Every method works in row chunks, so memory stays flat on long tables.

This module imports torch; it is imported only when an engine is built.
"""

import numpy as np
import torch
import torch.nn.functional as F

from tabsift.feature_selection._kan_layers import _row_chunk, bspline_basis


def _weighted_mean(values, weight):
    """``values.mean(dim=0)``, or the ``weight``-weighted mean over rows (float64)."""
    if weight is None:
        return values.double().mean(dim=0)
    w = weight.reshape((-1,) + (1,) * (values.dim() - 1))
    return (values.double() * w).sum(dim=0) / weight.sum()


def _weighted_sum(losses, weight, dim=None):
    """Sum of ``losses`` (over ``dim``, all by default) in float64, ``weight``-weighted if given."""
    if weight is not None:
        losses = losses.double() * weight
    return (losses.sum() if dim is None else losses.sum(dim=dim)).double()


class KANReadouts:
    """The engine protocol's read-outs of a trained :class:`~._kan_layers.KANNetwork`."""

    @torch.no_grad()
    def predict_raw(self, X):
        """Logits (classification) or outputs (regression), shape (n, n_outputs)."""
        X = self._x(X)
        chunk = _row_chunk(X.shape[0], self.n_inputs * self.hidden_width)
        parts = [self.network(X[i : i + chunk]) for i in range(0, X.shape[0], chunk)]
        return torch.cat(parts) if parts else X.new_zeros((0, self.n_outputs))

    @torch.no_grad()
    def loss(self, X, y, sample_weight=None):
        """Mean cross-entropy or squared error on ``(X, y)``, ``sample_weight``-weighted if given."""
        losses = self._sample_losses(self.predict_raw(X), self._y(y))
        if sample_weight is None:
            return float(losses.mean())
        return float(_weighted_mean(losses, self._w(sample_weight)))

    @torch.no_grad()
    def first_layer_contributions(self, X):
        """``c[n, j, o]``: feature ``j``'s base plus spline contribution to hidden unit ``o``."""
        return self._first.contributions(self._x(X))

    @torch.no_grad()
    def contribution_square_sums(self, X, sample_weight=None):
        """``sum_{n,o} c[n,j,o]^2`` for every feature ``j``, without forming ``c``.

        Feature ``j``'s contribution to unit ``o`` is ``A[o,j,:] @ phi[n,j,:]``
        with ``phi = [silu(x), basis(x)]`` and ``A = [w_b, W * s]``, so the sum
        of its squares is ``trace(G_j S_j)`` with the Gram matrices
        ``G_j = sum_o A[o,j]^T A[o,j]`` and ``S_j = sum_n phi[n,j]^T phi[n,j]``,
        both ``(1 + n_basis)`` square: ``O(n d n_basis^2)`` work instead of
        ``O(n d hidden n_basis)`` and no ``(n, d, hidden)`` array. Accumulated
        in float64. With ``sample_weight`` row ``n``'s terms count ``w[n]`` times.
        """
        X = self._x(X)
        w = self._w(sample_weight)
        layer = self._first
        n, d = X.shape
        weights = torch.cat(
            [layer.base_weight.unsqueeze(-1), layer.scaled_spline_weight()], dim=-1
        ).double()  # (hidden, d, 1 + n_basis)
        gram_w = torch.einsum("ojk,ojl->jkl", weights, weights)
        size = weights.shape[-1]
        gram_x = torch.zeros(d, size, size, dtype=torch.float64, device=self.device)
        chunk = _row_chunk(n, d * size)
        for start in range(0, n, chunk):
            xc = X[start : start + chunk]
            basis = bspline_basis(xc, layer.knots, layer.spline_order)
            phi = torch.cat([F.silu(xc).unsqueeze(-1), basis], dim=-1).double()
            if w is None:
                gram_x += torch.einsum("njk,njl->jkl", phi, phi)
            else:
                gram_x += torch.einsum("njk,njl,n->jkl", phi, phi, w[start : start + chunk])
        return (gram_w * gram_x).sum(dim=(1, 2)).clamp_min(0.0).cpu().numpy()

    @torch.no_grad()
    def coefficient_norms(self, ord):
        """Norm of each feature's scaled spline coefficients ``W * s`` over units and basis."""
        ws = self._first.scaled_spline_weight()
        if ord == 1:
            norms = ws.abs().sum(dim=(0, 2))
        elif ord == 2:
            norms = ws.square().sum(dim=(0, 2)).sqrt()
        else:
            raise ValueError(f"ord must be 1 or 2, found {ord!r}.")
        return norms.double().cpu().numpy()

    def sensitivity(self, X):
        """Mean over rows of ``|d sum_outputs |out| / d x_j|``."""
        X = self._x(X)
        n = X.shape[0]
        total = torch.zeros(self.n_inputs, dtype=torch.float64, device=self.device)
        chunk = _row_chunk(n, self.n_inputs * self.hidden_width)
        with torch.enable_grad():
            for start in range(0, n, chunk):
                # Rows do not interact, so one backward of the summed objective gives
                # every row's own gradient.
                xc = X[start : start + chunk].detach().requires_grad_(True)
                objective = self.network(xc).abs().sum()
                (grad,) = torch.autograd.grad(objective, xc)
                total += grad.abs().sum(dim=0).double()
        return (total / max(n, 1)).cpu().numpy()

    def input_gradients(self, X):
        """Each row's gradient ``d sum_outputs |out| / d x``, shape (n, n_inputs)."""
        X = self._x(X)
        n = X.shape[0]
        parts = []
        chunk = _row_chunk(n, self.n_inputs * self.hidden_width)
        with torch.enable_grad():
            for start in range(0, n, chunk):
                # Rows do not interact: one backward of the sum gives each row's gradient.
                xc = X[start : start + chunk].detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(self.network(xc).abs().sum(), xc)
                parts.append(grad.double().cpu().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self.n_inputs))

    @torch.no_grad()
    def knockout_losses(self, X, y, groups=None, sample_weight=None):
        """Loss increase when feature ``j``'s first-layer weights are zero, clipped at 0.

        Zeroing feature ``j``'s base and spline weights removes exactly its
        contribution ``c[:, j, :]`` from the first layer's output, so every
        knock-out is evaluated at once from the contributions, without
        touching the weights.

        With ``groups`` (the feature of each input, for a mixed table whose
        categorical columns are several one-hot inputs) a feature's inputs
        are knocked out together, and their summed contribution is replaced
        by its mean over the rows of ``X`` instead of zero: each one-hot input
        adds a constant offset the second layer relies on, so zeroing would
        count the offset, which grows with the number of categories, as
        importance. Returns one loss increase per feature ``0..groups.max()``.
        With ``sample_weight`` the losses and the means are weighted over rows.
        """
        X, y = self._x(X), self._y(y)
        w = self._w(sample_weight)
        n, d = X.shape
        total_weight = max(n, 1) if w is None else float(w.sum())
        h = self.hidden_width
        n_basis = self._first.spline_weight.shape[-1]
        rows = _row_chunk(n, d * h * n_basis)
        index, centre = None, None
        if groups is not None:
            index = torch.as_tensor(np.asarray(groups), dtype=torch.int64, device=self.device)
            d = int(index.max()) + 1 if index.numel() else 0
            centre = self._group_centres(X, w, index, d, rows) / total_weight
        base_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        knocked_sum = torch.zeros(d, dtype=torch.float64, device=self.device)
        for start in range(0, n, rows):
            xc, yc = X[start : start + rows], y[start : start + rows]
            wc = None if w is None else w[start : start + rows]
            contrib = self._first.contributions(xc)  # (rows, d, h)
            hidden = contrib.sum(dim=1)
            if index is not None:
                grouped = contrib.new_zeros((contrib.shape[0], d, h))
                contrib = grouped.index_add_(1, index, contrib) - centre
            base_out = self.network.forward_after_first(hidden)
            base_losses = self._sample_losses(base_out, yc)
            base_sum += _weighted_sum(base_losses, wc)
            # Features per block so that (block, rows, h, n_basis) stays bounded.
            block = _row_chunk(d, xc.shape[0] * h * n_basis)
            for j0 in range(0, d, block):
                knocked = hidden.unsqueeze(0) - contrib[:, j0 : j0 + block].permute(1, 0, 2)
                out = self.network.forward_after_first(knocked.reshape(-1, h))
                out = out.reshape(knocked.shape[0], xc.shape[0], -1)
                losses = self._sample_losses(out, yc.unsqueeze(0).expand(knocked.shape[0], -1))
                knocked_sum[j0 : j0 + block] += _weighted_sum(losses, wc, dim=1)
        delta = (knocked_sum - base_sum) / total_weight
        return delta.clamp_min(0.0).cpu().numpy()

    def _group_centres(self, X, w, index, n_groups, rows):
        """Each group's summed first-layer contribution, summed over rows (weighted by ``w``)."""
        centre = torch.zeros((n_groups, self.hidden_width), dtype=X.dtype, device=self.device)
        for start in range(0, X.shape[0], rows):
            contrib = self._first.contributions(X[start : start + rows])
            if w is not None:
                contrib = contrib * w[start : start + rows, None, None].to(contrib.dtype)
            centre.index_add_(0, index, contrib.sum(dim=0))
        return centre

    @torch.no_grad()
    def feature_function(self, j, x_grid):
        """``phi_{j,o}(x)`` on standardised ``x_grid``: shape (len(x_grid), hidden_width)."""
        x = self._x(np.asarray(x_grid, dtype=np.float32).reshape(-1))
        layer = self._first
        basis = bspline_basis(x, layer.knots, layer.spline_order)  # (m, n_basis)
        spline = basis @ layer.scaled_spline_weight()[:, j, :].T
        phi = F.silu(x).unsqueeze(-1) * layer.base_weight[:, j].unsqueeze(0) + spline
        return phi.double().cpu().numpy()
