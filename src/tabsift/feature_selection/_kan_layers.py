"""tabsift's Kolmogorov-Arnold network: batched B-splines, one matmul per layer.

The layer is the efficient-KAN layer the paper's authors use: for inputs
``x`` of width ``d_in`` and outputs of width ``d_out``,

    out[n, o] = sum_j w_b[o, j] * silu(x[n, j])
              + sum_j sum_k B_k(x[n, j]) * W[o, j, k] * s[o, j]

on a fixed uniform grid. The B-spline basis of a whole batch is computed at
once by the Cox-de Boor recursion, vectorised over ``(n, d, n_basis)``, and
the two branches together are one matrix product. The first layer's inputs never change
during training, so its SiLU and basis values are computed once per fit.

The functions at the end compute the same layers for ``m`` networks stacked
along a leading dimension, the form the training loop uses.

This module imports torch; it is imported only when an engine is built.
"""

import math

import torch
import torch.nn.functional as F

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
        """Return the network from the first layer's output on."""
        for layer in self.layers[1:]:
            hidden = layer(hidden)
        return hidden


def _row_chunk(n_rows, per_row):
    """Rows per chunk so that ``rows * per_row`` values stay near ``_CHUNK_ELEMENTS``."""
    return max(1, min(n_rows, _CHUNK_ELEMENTS // max(1, per_row)))


def _stacked_features(x, knots, spline_order):
    """:meth:`KANLayer.features` of ``m`` stacked inputs (m, n, in): (m, n, in * (1 + n_basis))."""
    basis = bspline_basis(x, knots, spline_order)
    return torch.cat([F.silu(x), basis.reshape(x.shape[0], x.shape[1], -1)], dim=2)


def _layer_matrix(layer):
    """Return a layer's unscaled weights ``[w_b, W]`` as one (out, in * (1 + n_basis)) matrix."""
    spline = layer.spline_weight.detach().reshape(layer.out_features, -1)
    return torch.cat([layer.base_weight.detach(), spline], dim=1)


def _scaled_matrix(matrix, scaler):
    """``[w_b, W * s]`` from a stacked ``[w_b, W]`` (m, out, in * (1 + n_basis)), differentiably."""
    m, n_out, n_in = scaler.shape
    spline = matrix[..., n_in:].reshape(m, n_out, n_in, -1) * scaler.unsqueeze(-1)
    return torch.cat([matrix[..., :n_in], spline.reshape(m, n_out, -1)], dim=2)
