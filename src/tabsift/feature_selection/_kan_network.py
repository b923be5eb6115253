"""tabsift's own Kolmogorov-Arnold network: batched B-splines, one matmul per layer.

The layer is the efficient-KAN layer the paper's authors use: for inputs
``x`` of width ``d_in`` and outputs of width ``d_out``,

    out[n, o] = sum_j w_b[o, j] * silu(x[n, j])
              + sum_j sum_k B_k(x[n, j]) * W[o, j, k] * s[o, j]

on a fixed uniform grid. The B-spline basis of a whole batch is computed at
once by the Cox-de Boor recursion, vectorised over ``(n, d, n_basis)``, and
the two branches together are one matrix product. The first layer's inputs never change
during training, so its SiLU and basis values are computed once per fit.

This module imports torch; it is imported only when an engine is built.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from tabsift.feature_selection._engine import EngineBase

# Rows per chunk when a computation materialises (rows, features, hidden, basis) values:
# about 4M floats (16 MB) per chunk keeps memory flat on wide tables.
_CHUNK_ELEMENTS = 1 << 22


def make_knots(grid_size, spline_order, grid_range, *, device=None, dtype=torch.float32):
    """Uniform knots of ``grid_size`` intervals on ``grid_range``, extended by ``spline_order`` on each side.

    Parameters
    ----------
    grid_size : int
        Number of intervals inside ``grid_range``.
    spline_order : int
        Order (degree) of the B-splines.
    grid_range : tuple of float
        ``(low, high)``.
    device : torch.device, default=None
    dtype : torch.dtype, default=torch.float32

    Returns
    -------
    knots : torch.Tensor of shape (grid_size + 2 * spline_order + 1,)

    Examples
    --------
    >>> make_knots(2, 1, (-1.0, 1.0)).tolist()
    [-2.0, -1.0, 0.0, 1.0, 2.0]
    """
    low, high = (float(v) for v in grid_range)
    step = (high - low) / grid_size
    index = torch.arange(-spline_order, grid_size + spline_order + 1, dtype=torch.float64)
    return (low + step * index).to(device=device, dtype=dtype)


def bspline_basis(x, knots, spline_order):
    """B-spline basis values of every entry of ``x``, by the Cox-de Boor recursion.

    The knots are uniform (see :func:`make_knots`), so every denominator of the
    recursion is ``k * step`` and the recursion runs on ``u - i``, the
    position of ``x`` in grid steps from knot ``i``: fewer tensor operations
    per call, which matters at one call per layer per training step.

    Parameters
    ----------
    x : torch.Tensor of any shape
    knots : torch.Tensor of shape (n_knots,)
        Uniform increasing knots, shared by every entry of ``x``.
    spline_order : int
        Order of the splines; ``n_knots - 1 - spline_order`` basis functions.

    Returns
    -------
    basis : torch.Tensor of shape ``x.shape + (n_knots - 1 - spline_order,)``
        Zero outside ``[knots[0], knots[-1])``; sums to 1 between
        ``knots[spline_order]`` and ``knots[-1 - spline_order]``.

    Examples
    --------
    >>> knots = make_knots(2, 1, (-1.0, 1.0))
    >>> bspline_basis(torch.tensor([0.5]), knots, 1).tolist()
    [[0.0, 0.5, 0.5]]
    """
    n_intervals = knots.numel() - 1
    step = knots[1] - knots[0]
    offsets = torch.arange(n_intervals, device=x.device, dtype=x.dtype)
    # diff[..., i] = (x - knots[i]) / step
    diff = ((x - knots[0]) / step).unsqueeze(-1) - offsets
    basis = ((diff >= 0) & (diff < 1)).to(x.dtype)
    for k in range(1, spline_order + 1):
        # B_i^k = ((x - t_i) B_i^{k-1} + (t_{i+k+1} - x) B_{i+1}^{k-1}) / (k * step)
        d = diff[..., : n_intervals - k]
        basis = (d * basis[..., :-1] + (k + 1 - d) * basis[..., 1:]) / k
    return basis


class KANLayer(torch.nn.Module):
    """One efficient-KAN layer: a SiLU base branch plus a B-spline branch.

    Parameters
    ----------
    in_features, out_features : int
        Widths.
    knots : torch.Tensor
        Knots from :func:`make_knots` (a buffer of the layer).
    spline_order : int
        Order of the B-splines.
    generator : torch.Generator
        Source of the initial weights.

    Attributes
    ----------
    base_weight : Parameter of shape (out_features, in_features)
        ``w_b``, initialised like :class:`torch.nn.Linear`.
    spline_weight : Parameter of shape (out_features, in_features, n_basis)
        ``W``, initialised to small noise.
    spline_scaler : Parameter of shape (out_features, in_features)
        ``s``, initialised to 1 (as in the authors' code).
    """

    def __init__(self, in_features, out_features, *, knots, spline_order, generator):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.spline_order = spline_order
        self.register_buffer("knots", knots)
        n_basis = knots.numel() - 1 - spline_order
        grid_size = n_basis - spline_order
        device, dtype = knots.device, knots.dtype
        bound = 1.0 / math.sqrt(in_features)

        def uniform(*shape, scale):
            u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
            return (2.0 * u - 1.0) * scale

        self.base_weight = torch.nn.Parameter(uniform(out_features, in_features, scale=bound))
        # efficient-KAN starts the splines near zero (uniform noise of width 0.1 / grid_size)
        # so the network begins close to its SiLU base branch.
        self.spline_weight = torch.nn.Parameter(
            uniform(out_features, in_features, n_basis, scale=0.05 / grid_size)
        )
        self.spline_scaler = torch.nn.Parameter(
            torch.ones(out_features, in_features, device=device, dtype=dtype)
        )

    def scaled_spline_weight(self):
        """``W * s`` of shape (out_features, in_features, n_basis)."""
        return self.spline_weight * self.spline_scaler.unsqueeze(-1)

    def features(self, x):
        """``[silu(x), basis(x)]`` flattened to (n, in_features * (1 + n_basis)).

        Both branches then take one matmul with :meth:`weight_matrix`.
        """
        basis = bspline_basis(x, self.knots, self.spline_order)
        return torch.cat([F.silu(x), basis.reshape(x.shape[0], -1)], dim=1)

    def weight_matrix(self):
        """``[w_b, W * s]`` as one (out_features, in_features * (1 + n_basis)) matrix."""
        spline = self.scaled_spline_weight().reshape(self.out_features, -1)
        return torch.cat([self.base_weight, spline], dim=1)

    def forward_features(self, features):
        """Output from precomputed :meth:`features`: one matmul."""
        return features @ self.weight_matrix().T

    def forward(self, x):
        return self.forward_features(self.features(x))

    def contributions(self, x):
        """Per-input contributions ``c[n, j, o]``; their sum over ``j`` is :meth:`forward`."""
        basis = bspline_basis(x, self.knots, self.spline_order)
        spline = torch.einsum("njk,ojk->njo", basis, self.scaled_spline_weight())
        return F.silu(x).unsqueeze(-1) * self.base_weight.T.unsqueeze(0) + spline


class KANNetwork(torch.nn.Module):
    """A stack of :class:`KANLayer` of the given widths.

    Parameters
    ----------
    widths : list of int
        ``[n_inputs, hidden, ..., n_outputs]``.
    grid_size, spline_order, grid_range
        Shared by every layer.
    device : torch.device
    generator : torch.Generator
        Source of the initial weights, on ``device``.
    """

    def __init__(self, widths, *, grid_size, spline_order, grid_range, device, generator):
        super().__init__()
        knots = make_knots(grid_size, spline_order, grid_range, device=device)
        self.widths = list(widths)
        self.layers = torch.nn.ModuleList(
            KANLayer(a, b, knots=knots.clone(), spline_order=spline_order, generator=generator)
            for a, b in zip(widths[:-1], widths[1:], strict=False)
        )

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def forward_after_first(self, hidden):
        """The network from the first layer's output on."""
        for layer in self.layers[1:]:
            hidden = layer(hidden)
        return hidden


def _row_chunk(n_rows, per_row):
    return max(1, min(n_rows, _CHUNK_ELEMENTS // max(1, per_row)))


def _stacked_features(x, knots, spline_order):
    """:meth:`KANLayer.features` of ``m`` stacked inputs (m, n, in): (m, n, in * (1 + n_basis))."""
    basis = bspline_basis(x, knots, spline_order)
    return torch.cat([F.silu(x), basis.reshape(x.shape[0], x.shape[1], -1)], dim=2)


def _layer_matrix(layer):
    """A layer's unscaled weights ``[w_b, W]`` as one (out, in * (1 + n_basis)) matrix."""
    spline = layer.spline_weight.detach().reshape(layer.out_features, -1)
    return torch.cat([layer.base_weight.detach(), spline], dim=1)


def _scaled_matrix(matrix, scaler):
    """``[w_b, W * s]`` from a stacked ``[w_b, W]`` (m, out, in * (1 + n_basis)), differentiably."""
    m, n_out, n_in = scaler.shape
    spline = matrix[..., n_in:].reshape(m, n_out, n_in, -1) * scaler.unsqueeze(-1)
    return torch.cat([matrix[..., :n_in], spline.reshape(m, n_out, -1)], dim=2)


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
        """``[silu(h), hat basis of h]`` of layer ``layer``'s input into its buffer, and the
        sigmoid and basis slopes its backward needs."""
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


class TabsiftKANEngine(EngineBase):
    """tabsift's KAN engine: a batched efficient-KAN network and its training loop.

    Implements the engine protocol described in
    :mod:`tabsift.feature_selection._engine`.

    Parameters
    ----------
    n_inputs, n_outputs, hidden_width : int
        Widths ``[n_inputs, hidden_width, n_outputs]``.
    grid_size : int
        Number of grid intervals on ``grid_range``.
    spline_order : int
        Order of the B-splines.
    grid_range : tuple of float
        ``(low, high)`` of the fixed grid, in standardised units.
    task : {"classification", "regression"}
        Cross-entropy on logits, or squared error on one output.
    device : torch.device or str
        Where every tensor lives.
    seed : int
        Seeds the initial weights and the mini-batch order.

    Attributes
    ----------
    network : KANNetwork
        The trained network.
    loss_history_ : list of float
        Mean training loss of each epoch.

    Examples
    --------
    >>> import torch
    >>> engine = TabsiftKANEngine(n_inputs=2, n_outputs=1, hidden_width=5, grid_size=2,
    ...                           spline_order=1, grid_range=(-1, 1), task="regression",
    ...                           device="cpu", seed=0)
    >>> X = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    >>> engine = engine.fit(X, X[:, 0], epochs=5, batch_size=16, learning_rate=1e-2)
    >>> engine.first_layer_contributions(X).shape
    torch.Size([64, 2, 5])
    >>> engine.knockout_losses(X, X[:, 0]).shape
    (2,)
    """

    def _build(self):
        self.seed = int(self.seed)
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.network = KANNetwork(
            [self.n_inputs, self.hidden_width, self.n_outputs],
            grid_size=self.grid_size,
            spline_order=self.spline_order,
            grid_range=self.grid_range,
            device=self.device,
            generator=generator,
        )
        self.loss_history_ = []

    # ----------------------------------------------------------------- helpers
    def _x(self, X):
        return torch.as_tensor(X, dtype=torch.float32, device=self.device)

    def _y(self, y):
        dtype = torch.int64 if self.task == "classification" else torch.float32
        return torch.as_tensor(y, dtype=dtype, device=self.device).reshape(-1)

    def _sample_losses(self, out, y):
        """Per-row loss of outputs ``out`` (..., n_outputs) against ``y`` (...,)."""
        if self.task == "classification":
            flat = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="none")
            return flat.reshape(y.shape)
        return (out[..., 0] - y) ** 2

    @property
    def _first(self):
        return self.network.layers[0]

    # ------------------------------------------------------------------- fit
    def fit(self, X, y, *, epochs, batch_size, learning_rate, progress=None):
        """Train with Adam on shuffled mini-batches.

        With linear splines (``spline_order=1``, the paper's setting) the
        gradients come from an explicit backward pass (see
        :meth:`fit_together`, of which this is the one-network case) instead of
        autograd; the two agree up to float rounding.

        Parameters
        ----------
        X : torch.Tensor of shape (n, n_inputs)
            Standardised inputs.
        y : torch.Tensor of shape (n,)
            Class indices (int64) or standardised target (float32).
        epochs, batch_size : int
        learning_rate : float
        progress : callable, default=None
            Called as ``progress(epoch)`` after each epoch.

        Returns
        -------
        self : TabsiftKANEngine
        """
        X, y = self._x(X), self._y(y)
        if self.spline_order == 1 and self._explicit_backward:
            # The explicit backward is several times faster than autograd on small networks;
            # a stack of one network is the same computation.
            self._train_stacked(
                [self],
                [(X, y)],
                epochs=epochs,
                batch_size=batch_size,
                learning_rate=learning_rate,
                progress=progress,
            )
            return self
        n = X.shape[0]
        # Mini-batch order gets its own stream so it does not depend on the init draws.
        generator = torch.Generator(device=self.device).manual_seed(self.seed + 1)
        with torch.no_grad():
            features = self._first.features(X)  # the inputs are fixed: computed once
        params = list(self.network.parameters())
        # The fused Adam kernel saves most of the optimiser's per-step overhead on small nets.
        fused = self.device.type in ("cpu", "cuda")
        optimizer = torch.optim.Adam(params, lr=learning_rate, fused=fused or None)
        self.network.train()
        history = []
        for epoch in range(epochs):
            order = torch.randperm(n, generator=generator, device=self.device)
            total = torch.zeros((), device=self.device)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                hidden = self._first.forward_features(features[idx])
                out = self.network.forward_after_first(hidden)
                loss = self._sample_losses(out, y[idx]).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * idx.numel()
            history.append(total)
            if progress is not None:
                progress(epoch)
        self.network.eval()
        self.loss_history_ = (torch.stack(history) / max(n, 1)).tolist() if history else []
        return self

    def _architecture(self):
        return (
            self.n_inputs,
            self.n_outputs,
            self.hidden_width,
            self.grid_size,
            self.spline_order,
            self.grid_range,
            self.task,
            self.device,
        )

    def feature_bytes(self, n_rows):
        """Bytes of the first layer's precomputed features for ``n_rows`` training rows.

        :meth:`fit_together` holds these for every training set at once; the
        selector compares their sum with a budget before training jointly.
        """
        n_basis = self._first.spline_weight.shape[-1]
        return int(n_rows) * self.n_inputs * (1 + n_basis) * 4  # float32

    @classmethod
    def fit_together(cls, engines, datasets, *, epochs, batch_size, learning_rate, progress=None):
        """Train several engines of one architecture at once, as one batched network.

        Each engine keeps its own initial weights, its own training set and its
        own mini-batch order (drawn from its ``seed`` as in :meth:`fit`); the
        result equals calling :meth:`fit` on each engine, up to float rounding
        (batched instead of single matrix products). The ``m`` networks'
        parameters are stacked along a leading dimension, each step takes one
        mini-batch per network, and the loss is the sum of the networks' mean
        losses, so each network receives exactly its own gradient. Small
        networks spend most of a step on fixed per-operation costs, so ``m``
        networks train in little more than the time of one.

        Parameters
        ----------
        engines : list of TabsiftKANEngine
            Engines of the same architecture, task and device.
        datasets : list of (X, y)
            One training set per engine, as for :meth:`fit`; sizes may differ.
        epochs, batch_size : int
        learning_rate : float
        progress : callable, default=None
            Called as ``progress(epoch)`` after each epoch of the joint training.

        Returns
        -------
        engines : list of TabsiftKANEngine
            The same engines, trained, each with its own ``loss_history_``.

        Notes
        -----
        Memory: besides ``m`` copies of the weights, the first layer's
        precomputed features of every training set are held at once
        (``sum(n_m) * n_inputs * (1 + n_basis)`` floats).
        """
        return cls._train_stacked(
            engines,
            datasets,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            progress=progress,
        )

    # Order-1 splines train with the explicit backward of _HatStep (False: autograd, the
    # reference the explicit gradients are tested against).
    _explicit_backward = True

    # Bytes of first-layer features gathered at once for a block of training steps.
    _GATHER_BYTES = 1 << 26

    @classmethod
    def _train_stacked(cls, engines, datasets, *, epochs, batch_size, learning_rate, progress):
        engines, datasets = list(engines), list(datasets)
        if len(datasets) != len(engines):
            raise ValueError(
                f"fit_together needs one (X, y) training set per engine; found {len(engines)} "
                f"engines and {len(datasets)} training sets."
            )
        if not engines:
            return engines
        first = engines[0]
        for engine in engines:
            if not isinstance(engine, cls) or engine._architecture() != first._architecture():
                raise ValueError(
                    "fit_together trains engines of one architecture only (widths, grid, task, "
                    f"device); found {engine!r} next to {first!r}. Train them with fit instead."
                )
        device, m, B = first.device, len(engines), int(batch_size)
        data = [(e._x(X), e._y(y)) for e, (X, y) in zip(engines, datasets, strict=True)]
        sizes = [X.shape[0] for X, _ in data]
        n_max = max(max(sizes), 1)
        classification = first.task == "classification"

        # Every network's first-layer features, padded to n_max rows and flattened so that
        # one index_select gathers all m mini-batches of a block of steps.
        with torch.no_grad():
            parts = []
            for engine, (X, _) in zip(engines, data, strict=True):
                feats = engine._first.features(X)
                parts.append(F.pad(feats, (0, 0, 0, n_max - feats.shape[0])))
            features = torch.stack(parts).reshape(m * n_max, -1)
        targets = torch.stack([F.pad(y, (0, n_max - y.shape[0])) for _, y in data]).reshape(-1)

        # The step plan does not change between epochs: step s takes rows s*B.. of each
        # network's permutation. Networks with fewer rows get a shorter last batch (padding
        # rows weigh 0) and sit out the steps after it.
        n_steps = max(math.ceil(n / B) for n in sizes)
        counts = [[min(max(n - s * B, 0), B) for n in sizes] for s in range(n_steps)]
        counts_t = torch.tensor(counts, dtype=torch.float32, device=device).reshape(n_steps, m)
        row = torch.arange(B, device=device, dtype=torch.float32)
        weights = torch.where(
            row < counts_t.unsqueeze(-1), 1.0 / counts_t.clamp_min(1).unsqueeze(-1), 0.0
        )  # (n_steps, m, B): 1 / batch size on real rows, mean loss per network
        offsets = torch.arange(m, device=device).unsqueeze(-1) * n_max

        # All m networks' weights in one flat buffer (so that an optimiser step is one
        # operation): each layer's unscaled [w_b, W] matrix stacked over networks,
        # (m, out, in * (1 + n_basis)), then each layer's spline scaler s, (m, out, in).
        n_layers = len(first.network.layers)
        by_engine = [e.network.layers for e in engines]
        blocks = [torch.stack([_layer_matrix(ls[i]) for ls in by_engine]) for i in range(n_layers)]
        blocks += [
            torch.stack([ls[i].spline_scaler.detach() for ls in by_engine])
            for i in range(n_layers)
        ]
        shapes = [block.shape for block in blocks]
        flat = torch.cat([block.reshape(-1) for block in blocks])
        flat_grad = torch.zeros_like(flat)
        split = [math.prod(shape) for shape in shapes]
        params = [part.view(s) for part, s in zip(flat.split(split), shapes, strict=True)]
        grads = [part.view(s) for part, s in zip(flat_grad.split(split), shapes, strict=True)]
        matrices, scalers = params[:n_layers], params[n_layers:]

        idle = [[k for k in range(m) if counts[s][k] == 0] for s in range(n_steps)]
        if any(idle):
            # Adam is elementwise: one optimiser over per-network views of the stacked
            # weights is m independent Adams, each the same arithmetic as alone. A network
            # without a batch in a step (grad None) is skipped, step count included.
            views = [[p[k] for p in params] for k in range(m)]
            for k in range(m):
                for view, g in zip(views[k], grads, strict=True):
                    view.grad = g[k]
            fused = device.type in ("cpu", "cuda")
            flat_views = [view for per_model in views for view in per_model]
            optimizer = torch.optim.Adam(flat_views, lr=learning_rate, fused=fused or None)

            def adam_step(s):
                for k in idle[s]:
                    for view in views[k]:
                        view.grad = None
                optimizer.step()
                for k in idle[s]:
                    for view, g in zip(views[k], grads, strict=True):
                        view.grad = g[k]

        else:
            # Every network steps every time: Adam (torch's defaults) on the flat buffer.
            adam = _FlatAdam(flat, flat_grad, learning_rate)

            def adam_step(s):
                adam.step()

        knots = [layer.knots for layer in first.network.layers]
        order = first.spline_order
        # Order-1 splines take the explicit forward and backward of _HatStep, autograd otherwise.
        hat = order == 1 and cls._explicit_backward
        if hat:
            train_step = _HatStep(
                matrices, scalers, grads[:n_layers], grads[n_layers:], knots, B, classification
            )
            row_weight = weights.unsqueeze(-1)
            if not classification:
                row_weight = 2.0 * row_weight  # _HatStep's regression gradient is 2 w r
            row_weights = row_weight.unbind(0)
        else:
            leaves = [p.detach().requires_grad_(True) for p in params]
            for p, g in zip(leaves, grads, strict=True):
                p.grad = g
            leaf_matrices, leaf_scalers = leaves[:n_layers], leaves[n_layers:]
        step_losses = torch.zeros(n_steps, m, device=device)
        loss_rows = step_losses.unbind(0)
        n_features = features.shape[1]
        block = max(1, min(n_steps, cls._GATHER_BYTES // max(1, m * B * n_features * 4)))

        generators = [
            torch.Generator(device=device).manual_seed(e.seed + 1) for e in engines
        ]  # each network's batch order, exactly as in fit
        history = []
        for epoch in range(epochs):
            index = torch.stack(
                [
                    F.pad(torch.randperm(n, generator=g, device=device), (0, n_steps * B - n))
                    for n, g in zip(sizes, generators, strict=True)
                ]
            )
            index = (index + offsets).reshape(m, n_steps, B).transpose(0, 1).reshape(n_steps, -1)
            for start in range(0, n_steps, block):
                stop = min(n_steps, start + block)
                rows = index[start:stop].reshape(-1)
                xs = features.index_select(0, rows).reshape(stop - start, m, B, -1).unbind(0)
                ys = targets.index_select(0, rows).reshape(stop - start, m, B)
                if hat and classification:
                    onehot = F.one_hot(ys, first.n_outputs).to(row_weight.dtype)
                    ys = onehot.mul_(row_weight[start:stop]).neg_()  # -onehot * weight
                elif hat:
                    ys = ys.unsqueeze(-1)
                ys = ys.unbind(0)
                for s in range(start, stop):
                    x, y = xs[s - start], ys[s - start]
                    if hat:
                        with torch.no_grad():
                            train_step(x, y, row_weights[s], loss_rows[s])
                        adam_step(s)
                        continue
                    weight = _scaled_matrix(leaf_matrices[0], leaf_scalers[0])
                    out = torch.bmm(x, weight.transpose(1, 2))
                    for layer in range(1, n_layers):
                        x = _stacked_features(out, knots[layer], order)
                        weight = _scaled_matrix(leaf_matrices[layer], leaf_scalers[layer])
                        out = torch.bmm(x, weight.transpose(1, 2))
                    per_model = (first._sample_losses(out, y) * weights[s]).sum(dim=1)
                    for g in grads:
                        g.zero_()
                    per_model.sum().backward()
                    for p, g in zip(leaves, grads, strict=True):
                        if p.grad is not g:  # autograd accumulates in place; be sure of it
                            g.copy_(p.grad)
                            p.grad = g
                    adam_step(s)
                    loss_rows[s].copy_(per_model.detach())
            total = (step_losses * counts_t).sum(dim=0)
            history.append(total if classification or not hat else 0.5 * total)
            if progress is not None:
                progress(epoch)

        if history:
            losses = (torch.stack(history) / torch.tensor(sizes, device=device).clamp_min(1)).T
        with torch.no_grad():
            for k, engine in enumerate(engines):
                for layer, matrix, scaler in zip(
                    engine.network.layers, matrices, scalers, strict=True
                ):
                    n_in = layer.in_features
                    layer.base_weight.copy_(matrix[k, :, :n_in])
                    layer.spline_weight.copy_(matrix[k, :, n_in:].reshape(layer.spline_weight.shape))
                    layer.spline_scaler.copy_(scaler[k])
                engine.network.eval()
                engine.loss_history_ = losses[k].tolist() if history else []
        return engines

    # ------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_raw(self, X):
        """Logits (classification) or outputs (regression), shape (n, n_outputs)."""
        X = self._x(X)
        chunk = _row_chunk(X.shape[0], self.n_inputs * self.hidden_width)
        parts = [self.network(X[i : i + chunk]) for i in range(0, X.shape[0], chunk)]
        return torch.cat(parts) if parts else X.new_zeros((0, self.n_outputs))

    @torch.no_grad()
    def loss(self, X, y):
        """Mean cross-entropy or squared error on ``(X, y)``."""
        return float(self._sample_losses(self.predict_raw(X), self._y(y)).mean())

    @torch.no_grad()
    def first_layer_contributions(self, X):
        """``c[n, j, o]``: feature ``j``'s base plus spline contribution to hidden unit ``o``."""
        return self._first.contributions(self._x(X))

    @torch.no_grad()
    def contribution_square_sums(self, X):
        """``sum_{n,o} c[n,j,o]^2`` for every feature ``j``, without forming ``c``.

        Feature ``j``'s contribution to unit ``o`` is ``A[o,j,:] @ phi[n,j,:]``
        with ``phi = [silu(x), basis(x)]`` and ``A = [w_b, W * s]``, so the sum
        of its squares is ``trace(G_j S_j)`` with the Gram matrices
        ``G_j = sum_o A[o,j]^T A[o,j]`` and ``S_j = sum_n phi[n,j]^T phi[n,j]``,
        both ``(1 + n_basis)`` square: ``O(n d n_basis^2)`` work instead of
        ``O(n d hidden n_basis)`` and no ``(n, d, hidden)`` array. Accumulated
        in float64.
        """
        X = self._x(X)
        layer = self._first
        n, d = X.shape
        weights = torch.cat(
            [layer.base_weight.unsqueeze(-1), layer.scaled_spline_weight()], dim=-1
        ).double()  # (hidden, d, 1 + n_basis)
        gram_w = torch.einsum("ojk,ojl->jkl", weights, weights)
        size = weights.shape[-1]
        gram_x = torch.zeros(d, size, size, dtype=torch.float64, device=self.device)
        for start in range(0, n, _row_chunk(n, d * size)):
            xc = X[start : start + _row_chunk(n, d * size)]
            basis = bspline_basis(xc, layer.knots, layer.spline_order)
            phi = torch.cat([F.silu(xc).unsqueeze(-1), basis], dim=-1).double()
            gram_x += torch.einsum("njk,njl->jkl", phi, phi)
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
    def knockout_losses(self, X, y, groups=None):
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
        """
        X, y = self._x(X), self._y(y)
        n, d = X.shape
        h = self.hidden_width
        n_basis = self._first.spline_weight.shape[-1]
        rows = _row_chunk(n, d * h * n_basis)
        index, centre = None, None
        if groups is not None:
            index = torch.as_tensor(np.asarray(groups), dtype=torch.int64, device=self.device)
            d = int(index.max()) + 1 if index.numel() else 0
            centre = torch.zeros((d, h), dtype=X.dtype, device=self.device)
            for start in range(0, n, rows):
                contrib = self._first.contributions(X[start : start + rows])
                centre.index_add_(0, index, contrib.sum(dim=0))
            centre /= max(n, 1)
        base_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        knocked_sum = torch.zeros(d, dtype=torch.float64, device=self.device)
        for start in range(0, n, rows):
            xc, yc = X[start : start + rows], y[start : start + rows]
            contrib = self._first.contributions(xc)  # (rows, d, h)
            hidden = contrib.sum(dim=1)
            if index is not None:
                grouped = contrib.new_zeros((contrib.shape[0], d, h))
                contrib = grouped.index_add_(1, index, contrib) - centre
            base_out = self.network.forward_after_first(hidden)
            base_sum += self._sample_losses(base_out, yc).sum().double()
            # Features per block so that (block, rows, h, n_basis) stays bounded.
            block = max(1, min(d, _CHUNK_ELEMENTS // max(1, xc.shape[0] * h * n_basis)))
            for j0 in range(0, d, block):
                knocked = hidden.unsqueeze(0) - contrib[:, j0 : j0 + block].permute(1, 0, 2)
                out = self.network.forward_after_first(knocked.reshape(-1, h))
                out = out.reshape(knocked.shape[0], xc.shape[0], -1)
                losses = self._sample_losses(out, yc.unsqueeze(0).expand(knocked.shape[0], -1))
                knocked_sum[j0 : j0 + block] += losses.sum(dim=1).double()
        delta = (knocked_sum - base_sum) / max(n, 1)
        return delta.clamp_min(0.0).cpu().numpy()

    @torch.no_grad()
    def feature_function(self, j, x_grid):
        """``phi_{j,o}(x)`` on standardised ``x_grid``: shape (len(x_grid), hidden_width)."""
        x = self._x(np.asarray(x_grid, dtype=np.float32).reshape(-1))
        layer = self._first
        basis = bspline_basis(x, layer.knots, layer.spline_order)  # (m, n_basis)
        spline = basis @ layer.scaled_spline_weight()[:, j, :].T
        phi = F.silu(x).unsqueeze(-1) * layer.base_weight[:, j].unsqueeze(0) + spline
        return phi.double().cpu().numpy()
