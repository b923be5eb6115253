"""The KAN engine's speed kit: a one-buffer Adam and the explicit order-1 training step.

Small networks spend most of a training step on fixed per-operation costs
(Python, dispatch, allocation, autograd's bookkeeping), not on arithmetic.
:class:`_FlatAdam` makes an optimiser step one kernel call over all weights;
:class:`_HatStep` replaces autograd for order-1 splines by a hand-written
backward pass writing into buffers allocated once. Both are checked against
their autograd and ``torch.optim.Adam`` references in the tests.

This module imports torch; it is imported only when an engine is built.
"""

import math

import torch

# torch's fused Adam kernel, the one torch.optim.Adam(fused=True) calls; a private entry
# point, so every use falls back to the same formula in six tensor operations without it.
_FUSED_ADAM = getattr(torch, "_fused_adam_", None)


class _FlatAdam:
    """Adam on one flat parameter tensor, with torch's defaults.

    ``torch.optim.Adam`` spends tens of microseconds per step on per-tensor
    bookkeeping: more than the arithmetic for a few small networks. Here the
    parameters and gradients are one buffer each, so a step is one call of
    torch's fused Adam kernel (what ``Adam(fused=True)`` runs), or six
    operations of its single-tensor formula where that kernel is unavailable.
    """

    def __init__(self, param, grad, lr, betas=(0.9, 0.999), eps=1e-8, *, fused=None):
        self.param, self.grad, self.lr, self.eps = param, grad, lr, eps
        self.beta1, self.beta2 = betas
        self.exp_avg = torch.zeros_like(param)
        self.exp_avg_sq = torch.zeros_like(param)
        self.steps = 0
        if fused is None:
            fused = _FUSED_ADAM is not None and param.device.type in ("cpu", "cuda")
        self.fused = bool(fused)
        self._step_tensor = torch.zeros((), dtype=torch.float32, device=param.device)

    @torch.no_grad()
    def step(self):
        self.steps += 1
        if self.fused:
            self._step_tensor.add_(1.0)  # the kernel reads the step count; torch.optim adds it
            try:
                _FUSED_ADAM(
                    [self.param],
                    [self.grad],
                    [self.exp_avg],
                    [self.exp_avg_sq],
                    [],
                    [self._step_tensor],
                    lr=self.lr,
                    beta1=self.beta1,
                    beta2=self.beta2,
                    weight_decay=0.0,
                    eps=self.eps,
                    amsgrad=False,
                    maximize=False,
                )
                return
            except TypeError:
                # A torch whose private kernel takes other arguments (rejected before any
                # update): the formula below from now on.
                self.fused = False
        grad = self.grad
        self.exp_avg.lerp_(grad, 1.0 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1.0 - self.beta2)
        bias1 = 1.0 - self.beta1**self.steps
        bias2_sqrt = math.sqrt(1.0 - self.beta2**self.steps)
        denom = (self.exp_avg_sq.sqrt() / bias2_sqrt).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, denom, value=-self.lr / bias1)


def _sum_parts(parts, out):
    """``out = sum(parts)``: the sum over a short last axis given as its ``unbind(-1)`` views.

    torch's reduction over a last axis of 2-6 elements is several times slower
    than as many additions of the strided slices (measured on CPU).
    """
    if len(parts) == 1:
        return out.copy_(parts[0])
    torch.add(parts[0], parts[1], out=out)
    for part in parts[2:]:
        out.add_(part)
    return out


class _HatStep:
    """One training step of ``m`` stacked order-1 KANs, forward and backward, without autograd.

    Small networks spend most of a step on fixed per-operation costs (Python,
    dispatch, allocation), and autograd's graph bookkeeping is a large share of
    them. The order-1 ("hat") basis ``max(0, 1 - |x - c_k| / step)`` has a
    piecewise-constant derivative, so the backward pass is a few explicit tensor
    operations; every intermediate lives in a buffer allocated once, and every
    view of a buffer is taken once, so a step is about forty tensor operations
    writing in place.

    Parameters
    ----------
    matrices, scalers : list of torch.Tensor
        Each layer's stacked unscaled weights ``[w_b, W]`` (m, out, in * (1 + n_basis))
        and spline scalers ``s`` (m, out, in), updated in place by the optimiser.
    matrix_grads, scaler_grads : list of torch.Tensor
        Where each step writes the gradients (same shapes).
    knots : list of torch.Tensor
        Each layer's uniform knots.
    batch_size : int
        Rows per network in a step.
    classification : bool
        Cross-entropy on logits (targets one-hot) or squared error on one output.

    Notes
    -----
    :meth:`__call__` takes the first layer's precomputed features ``x`` (m, B, F),
    the step's targets (classification: ``-onehot * weight`` of shape (m, B, C);
    regression: ``y`` of shape (m, B, 1)), each row's weight (m, B, 1) in its
    network's mean loss (regression: twice that), and writes each network's
    weighted loss (regression: twice it) into ``loss`` (m,).
    """

    def __init__(self, matrices, scalers, matrix_grads, scaler_grads, knots, batch_size,
                 classification):
        self.n_layers = len(matrices)
        self.classification = classification
        m, B = matrices[0].shape[0], int(batch_size)
        self.matrices, self.matrix_grads, self.scaler_grads = matrices, matrix_grads, scaler_grads
        self.weights, self.weights_t, self.multipliers, self.multiplier_splines = [], [], [], []
        self.matrix_splines, self.dweights, self.dweight_splines, self.spline_products = [], [], [], []
        self.scaler_views, self.outputs, self.douts, self.douts_t = [], [], [], []
        # Per hidden layer (index l > 0): features and the saved values of its backward.
        self.features, self.silu, self.basis, self.centres, self.inv_step = {}, {}, {}, {}, {}
        self.h_unsq, self.diff, self.sig, self.slope, self.unit, self.grad_x = {}, {}, {}, {}, {}, {}
        self.grad_x_base, self.grad_x_spline, self.spline_tmp, self.spline_parts = {}, {}, {}, {}
        for layer, (matrix, scaler) in enumerate(zip(matrices, scalers, strict=True)):
            _, n_out, n_in = scaler.shape
            n_basis = matrix.shape[2] // n_in - 1
            # weight = matrix * multiplier, the multiplier being [1 | s repeated over the basis].
            multiplier = torch.ones_like(matrix)
            self.multipliers.append(multiplier)
            self.multiplier_splines.append(multiplier[..., n_in:].view(m, n_out, n_in, n_basis))
            self.scaler_views.append(scaler.unsqueeze(-1))
            weight = torch.empty_like(matrix)
            self.weights.append(weight)
            self.weights_t.append(weight.transpose(1, 2))
            self.matrix_splines.append(matrix[..., n_in:].view(m, n_out, n_in, n_basis))
            dweight = torch.empty_like(matrix)
            self.dweights.append(dweight)
            self.dweight_splines.append(dweight[..., n_in:].view(m, n_out, n_in, n_basis))
            product = torch.empty(m, n_out, n_in, n_basis, device=matrix.device)
            self.spline_products.append((product, product.unbind(-1)))
            out = torch.empty(m, B, n_out, device=matrix.device)
            self.outputs.append(out)
            dout = torch.empty_like(out)
            self.douts.append(dout)
            self.douts_t.append(dout.transpose(1, 2))
            if layer == 0:
                continue
            h = self.outputs[layer - 1]
            feats = torch.empty(m, B, n_in * (1 + n_basis), device=matrix.device)
            self.features[layer] = feats
            self.silu[layer] = feats[..., :n_in]
            self.basis[layer] = feats[..., n_in:].view(m, B, n_in, n_basis)
            grid = knots[layer]
            step = float(grid[1] - grid[0])
            # Hat k is centred on knot k + 1.
            self.centres[layer] = grid[1 : 1 + n_basis].to(matrix.dtype)
            self.inv_step[layer] = 1.0 / step
            self.h_unsq[layer] = h.unsqueeze(-1)
            self.diff[layer] = torch.empty(m, B, n_in, n_basis, device=matrix.device)
            self.slope[layer] = torch.empty_like(self.diff[layer])
            self.spline_tmp[layer] = torch.empty_like(self.diff[layer])
            self.spline_parts[layer] = self.spline_tmp[layer].unbind(-1)
            self.sig[layer] = torch.empty_like(h)
            self.unit[layer] = torch.empty_like(h)
            grad_x = torch.empty_like(feats)
            self.grad_x[layer] = grad_x
            self.grad_x_base[layer] = grad_x[..., :n_in]
            self.grad_x_spline[layer] = grad_x[..., n_in:].view(m, B, n_in, n_basis)
        self.last = torch.empty_like(self.outputs[-1])
        self.one = torch.ones((), device=self.last.device)

    def _hidden_features(self, layer):
        """Write ``[silu(h), hat basis of h]`` of layer ``layer``'s input into its buffer.

        Also the sigmoid and basis slopes its backward needs.
        """
        h, sig, diff, basis = (
            self.outputs[layer - 1],
            self.sig[layer],
            self.diff[layer],
            self.basis[layer],
        )
        torch.sigmoid(h, out=sig)
        torch.mul(h, sig, out=self.silu[layer])
        torch.sub(self.h_unsq[layer], self.centres[layer], out=diff)
        tmp = self.spline_tmp[layer]
        torch.abs(diff, out=tmp)
        torch.add(self.one, tmp, alpha=-self.inv_step[layer], out=tmp)
        torch.clamp_min(tmp, 0.0, out=basis)
        # d basis / d h is -sign(h - c) / step on a hat's support, 0 off it; ceil(basis) is
        # the 0/1 support indicator since 0 <= basis <= 1.
        slope = self.slope[layer]
        torch.ceil(basis, out=slope)
        torch.copysign(slope, diff, out=slope)

    def __call__(self, x, target, row_weight, loss):
        L = self.n_layers
        for layer in range(L):
            self.multiplier_splines[layer].copy_(self.scaler_views[layer])
            torch.mul(self.matrices[layer], self.multipliers[layer], out=self.weights[layer])
        inputs = [x]
        for layer in range(L):
            if layer > 0:
                self._hidden_features(layer)
                inputs.append(self.features[layer])
            torch.bmm(inputs[layer], self.weights_t[layer], out=self.outputs[layer])
        out, dout, last = self.outputs[-1], self.douts[-1], self.last
        if self.classification:
            log_p = torch.log_softmax(out, dim=-1)
            torch.mul(log_p, target, out=last)
            torch.sum(last, dim=(1, 2), out=loss)
            torch.exp(log_p, out=last)
            torch.addcmul(target, last, row_weight, out=dout)  # weight * (softmax - onehot)
        else:
            torch.sub(out, target, out=last)
            torch.mul(last, row_weight, out=dout)  # 2 * weight * residual
            torch.mul(last, dout, out=last)
            torch.sum(last, dim=(1, 2), out=loss)
        for layer in range(L - 1, -1, -1):
            torch.bmm(self.douts_t[layer], inputs[layer], out=self.dweights[layer])
            torch.mul(self.dweights[layer], self.multipliers[layer], out=self.matrix_grads[layer])
            product, parts = self.spline_products[layer]
            torch.mul(self.dweight_splines[layer], self.matrix_splines[layer], out=product)
            _sum_parts(parts, self.scaler_grads[layer])
            if layer == 0:
                break
            torch.bmm(self.douts[layer], self.weights[layer], out=self.grad_x[layer])
            sig, unit, below = self.sig[layer], self.unit[layer], self.douts[layer - 1]
            # silu'(h) = sig + silu * (1 - sig)
            torch.sub(self.one, sig, out=unit)
            torch.addcmul(sig, self.silu[layer], unit, out=unit)
            torch.mul(self.grad_x_base[layer], unit, out=below)
            tmp = self.spline_tmp[layer]
            torch.mul(self.grad_x_spline[layer], self.slope[layer], out=tmp)
            _sum_parts(self.spline_parts[layer], unit)
            torch.add(below, unit, alpha=-self.inv_step[layer], out=below)

