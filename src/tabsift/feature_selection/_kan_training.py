"""The KAN engine's training loop: ``m`` networks of one architecture trained as one.

:func:`train_stacked` is the only training loop of
:class:`~._kan_network.TabsiftKANEngine`: ``fit`` is its one-network case and
``fit_together`` trains every fold's network at once. The ``m`` networks'
weights are stacked along a leading dimension in one flat buffer, each step
takes one mini-batch per network, and each network receives exactly its own
gradient. Two options of the same loop:

- the step: :class:`~._kan_speed._HatStep`'s explicit forward and backward for
  order-1 splines, or autograd (any order, and the reference the explicit
  gradients are tested against);
- the optimiser: :class:`~._kan_speed._FlatAdam` on the flat buffer when every
  network takes every step, or ``torch.optim.Adam`` over per-network views
  when some network sits a step out (it then skips the step, step count
  included, as when trained alone).

Early stopping (:mod:`._kan_stopping`) and row weights (:func:`_row_scale`)
are read per network.

This module imports torch; it is imported only when an engine is built.
"""

import math

import torch
import torch.nn.functional as F

from tabsift.feature_selection._kan_layers import (
    _layer_matrix,
    _scaled_matrix,
    _stacked_features,
)
from tabsift.feature_selection._kan_speed import _FlatAdam, _HatStep
from tabsift.feature_selection._kan_stopping import _Stopping

# Bytes of first-layer features gathered at once for a block of training steps.
_GATHER_BYTES = 1 << 26


def _row_scale(sample_weight, n_rows, device):
    """Row weights scaled to mean 1 (``w * n / sum(w)``) as float32, or None without weights.

    Each mini-batch's loss is the mean of ``scale * row loss``: on a full
    batch that is the weighted mean loss (the loss of the rows repeated as
    their integer weights say), and the optimiser sees the same scale as
    without weights.
    """
    if sample_weight is None:
        return None
    w = torch.as_tensor(sample_weight, dtype=torch.float64, device=device).reshape(-1)
    if w.numel() != n_rows:
        raise ValueError(
            f"sample_weight has {w.numel()} values but the training set has {n_rows} rows; "
            "pass one weight per row."
        )
    total = float(w.sum())
    if not total > 0:
        raise ValueError(
            "sample_weight sums to 0 on the training rows; give some rows a positive weight."
        )
    return (w * (n_rows / total)).to(torch.float32)


class _FlatParameters:
    """All ``m`` networks' weights in one flat buffer, so that an optimiser step is one operation.

    Each layer's unscaled ``[w_b, W]`` matrix stacked over networks,
    (m, out, in * (1 + n_basis)), then each layer's spline scaler ``s``,
    (m, out, in); ``params`` and ``grads`` are views of the flat buffers.
    """

    def __init__(self, engines):
        self.n_layers = len(engines[0].network.layers)
        by_engine = [e.network.layers for e in engines]
        blocks = [
            torch.stack([_layer_matrix(ls[i]) for ls in by_engine]) for i in range(self.n_layers)
        ]
        blocks += [
            torch.stack([ls[i].spline_scaler.detach() for ls in by_engine])
            for i in range(self.n_layers)
        ]
        shapes = [block.shape for block in blocks]
        self.flat = torch.cat([block.reshape(-1) for block in blocks])
        self.flat_grad = torch.zeros_like(self.flat)
        split = [math.prod(shape) for shape in shapes]
        self.params = [part.view(s) for part, s in zip(self.flat.split(split), shapes, strict=True)]
        self.grads = [
            part.view(s) for part, s in zip(self.flat_grad.split(split), shapes, strict=True)
        ]
        self.matrices, self.scalers = self.params[: self.n_layers], self.params[self.n_layers :]

    @torch.no_grad()
    def write_back(self, engines):
        """Copy each network's trained weights into its engine's layers."""
        for k, engine in enumerate(engines):
            for layer, matrix, scaler in zip(
                engine.network.layers, self.matrices, self.scalers, strict=True
            ):
                n_in = layer.in_features
                layer.base_weight.copy_(matrix[k, :, :n_in])
                layer.spline_weight.copy_(matrix[k, :, n_in:].reshape(layer.spline_weight.shape))
                layer.spline_scaler.copy_(scaler[k])
            engine.network.eval()


def _optimiser(flat, idle, learning_rate, device):
    """Return ``step(s)``: one Adam step (torch's defaults) after training step ``s``.

    ``idle[s]`` lists the networks without a batch in step ``s``. With none,
    :class:`_FlatAdam` steps the flat buffer. Otherwise one ``torch.optim.Adam``
    runs over per-network views: Adam is elementwise, so that is ``m``
    independent Adams, each the same arithmetic as alone, and a network
    whose gradient is None for a step skips it, step count included.
    """
    if not any(idle):
        adam = _FlatAdam(flat.flat, flat.flat_grad, learning_rate)

        def step(s):
            adam.step()

        return step
    m = flat.params[0].shape[0]
    views = [[p[k] for p in flat.params] for k in range(m)]
    for k in range(m):
        for view, g in zip(views[k], flat.grads, strict=True):
            view.grad = g[k]
    fused = device.type in ("cpu", "cuda")
    flat_views = [view for per_model in views for view in per_model]
    optimizer = torch.optim.Adam(flat_views, lr=learning_rate, fused=fused or None)

    def step(s):
        for k in idle[s]:
            for view in views[k]:
                view.grad = None
        optimizer.step()
        for k in idle[s]:
            for view, g in zip(views[k], flat.grads, strict=True):
                view.grad = g[k]

    return step


class _ExplicitStep:
    """Order-1 training steps by :class:`_HatStep`, with targets and weights in its form.

    :class:`_HatStep` takes classification targets as ``-onehot * weight`` and
    regression rows weighted twice (its gradient is ``2 w r``), and reports
    twice the regression loss: ``loss_factor`` halves it back.
    """

    def __init__(self, flat, knots, batch_size, classification, n_outputs):
        n = flat.n_layers
        self.step = _HatStep(
            flat.matrices,
            flat.scalers,
            flat.grads[:n],
            flat.grads[n:],
            knots,
            batch_size,
            classification,
        )
        self.classification, self.n_outputs = classification, n_outputs
        self.loss_factor = None if classification else 0.5

    def row_weights(self, step_weights):
        """(n_steps, m, B) row weights in the step's form, (n_steps, m, B, 1)."""
        row_weight = step_weights.unsqueeze(-1)
        return row_weight if self.classification else 2.0 * row_weight

    def targets(self, ys, row_weight):
        """Targets of a block of steps, (k, m, B), in the step's form."""
        if not self.classification:
            return ys.unsqueeze(-1)
        onehot = F.one_hot(ys, self.n_outputs).to(row_weight.dtype)
        return onehot.mul_(row_weight).neg_()  # -onehot * weight

    def __call__(self, x, y, row_weight, loss):
        with torch.no_grad():
            self.step(x, y, row_weight, loss)


class _AutogradStep:
    """Training steps by autograd: any spline order, and the explicit step's reference."""

    loss_factor = None

    def __init__(self, flat, knots, order, sample_losses):
        self.leaves = [p.detach().requires_grad_(True) for p in flat.params]
        for p, g in zip(self.leaves, flat.grads, strict=True):
            p.grad = g
        self.grads, self.n_layers = flat.grads, flat.n_layers
        self.knots, self.order, self.sample_losses = knots, order, sample_losses

    def row_weights(self, step_weights):
        return step_weights

    def targets(self, ys, row_weight):
        return ys

    def __call__(self, x, y, row_weight, loss):
        matrices, scalers = self.leaves[: self.n_layers], self.leaves[self.n_layers :]
        out = torch.bmm(x, _scaled_matrix(matrices[0], scalers[0]).transpose(1, 2))
        for layer in range(1, self.n_layers):
            x = _stacked_features(out, self.knots[layer], self.order)
            weight = _scaled_matrix(matrices[layer], scalers[layer])
            out = torch.bmm(x, weight.transpose(1, 2))
        per_model = (self.sample_losses(out, y) * row_weight).sum(dim=1)
        for g in self.grads:
            g.zero_()
        per_model.sum().backward()
        for p, g in zip(self.leaves, self.grads, strict=True):
            if p.grad is not g:  # autograd accumulates in place; be sure of it
                g.copy_(p.grad)
                p.grad = g
        loss.copy_(per_model.detach())


def _check_stack(engine_class, engines, datasets, sample_weights, validations):
    """Raise unless there is one training set (and weights, validation set) per engine."""
    if sample_weights is not None and len(sample_weights) != len(engines):
        raise ValueError(
            f"fit_together needs one sample_weight vector per engine; found {len(engines)} "
            f"engines and {len(sample_weights)} weight vectors."
        )
    if len(datasets) != len(engines):
        raise ValueError(
            f"fit_together needs one (X, y) training set per engine; found {len(engines)} "
            f"engines and {len(datasets)} training sets."
        )
    if validations is not None and len(validations) != len(engines):
        raise ValueError(
            f"fit_together needs one validation set per engine; found {len(engines)} "
            f"engines and {len(validations)} validation sets."
        )
    first = engines[0] if engines else None
    for engine in engines:
        if not isinstance(engine, engine_class) or engine._architecture() != first._architecture():
            raise ValueError(
                "fit_together trains engines of one architecture only (widths, grid, task, "
                f"device); found {engine!r} next to {first!r}. Train them with fit instead."
            )


def _stack_rows(engines, datasets, sample_weights):
    """Every network's first-layer features, targets and row scales, padded and flattened.

    Padded to the longest training set's ``n_max`` rows and flattened so that
    one ``index_select`` gathers all ``m`` mini-batches of a block of steps.
    Returns ``(features, targets, scale, sizes, n_max)``; ``scale`` (each
    row's weight scaled to mean 1 in its training set) is None without weights.
    """
    device, m = engines[0].device, len(engines)
    data = [(e._x(X), e._y(y)) for e, (X, y) in zip(engines, datasets, strict=True)]
    sizes = [X.shape[0] for X, _ in data]
    n_max = max(max(sizes), 1)
    with torch.no_grad():
        parts = []
        for engine, (X, _) in zip(engines, data, strict=True):
            feats = engine._first.features(X)
            parts.append(F.pad(feats, (0, 0, 0, n_max - feats.shape[0])))
        features = torch.stack(parts).reshape(m * n_max, -1)
    targets = torch.stack([F.pad(y, (0, n_max - y.shape[0])) for _, y in data]).reshape(-1)
    scale = None
    if sample_weights is not None:
        scale = torch.stack(
            [
                F.pad(_row_scale(w, n, device), (0, n_max - n))
                for w, n in zip(sample_weights, sizes, strict=True)
            ]
        ).reshape(-1)
    return features, targets, scale, sizes, n_max


def _step_plan(sizes, batch_size, device):
    """Return the steps of an epoch, the same every epoch: step s takes rows s*B.. of each permutation.

    Networks with fewer rows get a shorter last batch (padding rows weigh 0)
    and sit out the steps after it. Returns ``(counts, counts_t, weights)``:
    each step's batch size per network, as a list and as a float tensor
    (n_steps, m), and each row's weight in its network's mean loss,
    (n_steps, m, B): 1 / batch size on real rows, 0 on padding.
    """
    B, m = batch_size, len(sizes)
    n_steps = max(math.ceil(n / B) for n in sizes)
    counts = [[min(max(n - s * B, 0), B) for n in sizes] for s in range(n_steps)]
    counts_t = torch.tensor(counts, dtype=torch.float32, device=device).reshape(n_steps, m)
    row = torch.arange(B, device=device, dtype=torch.float32)
    weights = torch.where(
        row < counts_t.unsqueeze(-1), 1.0 / counts_t.clamp_min(1).unsqueeze(-1), 0.0
    )
    return counts, counts_t, weights


def _epoch_order(sizes, generators, n_steps, batch_size, offsets):
    """Row indices into the flat features of each step, (n_steps, m * B): a new shuffle."""
    device = offsets.device
    index = torch.stack(
        [
            F.pad(torch.randperm(n, generator=g, device=device), (0, n_steps * batch_size - n))
            for n, g in zip(sizes, generators, strict=True)
        ]
    )
    m = len(sizes)
    return (index + offsets).reshape(m, n_steps, batch_size).transpose(0, 1).reshape(n_steps, -1)


def _record(engines, history, sizes, stopping, val_losses):
    """Set each engine's ``loss_history_``, ``n_iter_`` and early-stopping attributes."""
    if history:
        device = engines[0].device
        losses = (torch.stack(history) / torch.tensor(sizes, device=device).clamp_min(1)).T
    for k, engine in enumerate(engines):
        # A network that stopped early records the epochs it ran, not the joint ones.
        ran = len(history) if stopping is None else stopping.stopper.epochs_run(k, len(history))
        engine.loss_history_ = losses[k, :ran].tolist() if history else []
        engine.n_iter_ = ran
        if stopping is not None:
            engine.validation_loss_history_ = val_losses[k, :ran].tolist()
            engine.best_epoch_ = int(stopping.stopper.best_epoch[k]) + 1


def train_stacked(
    engine_class,
    engines,
    datasets,
    *,
    epochs,
    batch_size,
    learning_rate,
    progress=None,
    sample_weights=None,
    validations=None,
    n_iter_no_change=10,
    tol=1e-4,
    explicit=True,
):
    """Train ``engines`` (of ``engine_class``, one architecture) together; see ``fit_together``.

    ``explicit`` takes :class:`_HatStep`'s explicit backward for order-1
    splines (autograd otherwise, and always for higher orders). Each network
    draws its mini-batch order from ``seed + 1``, as when trained alone.
    """
    engines, datasets = list(engines), list(datasets)
    _check_stack(engine_class, engines, datasets, sample_weights, validations)
    if not engines:
        return engines
    first = engines[0]
    device, m, B = first.device, len(engines), int(batch_size)
    classification = first.task == "classification"
    features, targets, scale, sizes, n_max = _stack_rows(engines, datasets, sample_weights)
    counts, counts_t, weights = _step_plan(sizes, B, device)
    n_steps = len(counts)
    offsets = torch.arange(m, device=device).unsqueeze(-1) * n_max
    flat = _FlatParameters(engines)
    idle = [[k for k in range(m) if counts[s][k] == 0] for s in range(n_steps)]
    adam_step = _optimiser(flat, idle, learning_rate, device)
    knots = [layer.knots for layer in first.network.layers]
    order = first.spline_order
    if order == 1 and explicit:
        train_step = _ExplicitStep(flat, knots, B, classification, first.n_outputs)
    else:
        train_step = _AutogradStep(flat, knots, order, first._sample_losses)
    step_losses = torch.zeros(n_steps, m, device=device)
    loss_rows = step_losses.unbind(0)
    block = max(1, min(n_steps, _GATHER_BYTES // max(1, m * B * features.shape[1] * 4)))
    generators = [
        torch.Generator(device=device).manual_seed(e.seed + 1) for e in engines
    ]  # each network's batch order, exactly as when trained alone
    stopping = None
    if validations is not None:
        stopping = _Stopping(engines, validations, knots, order, flat.params, n_iter_no_change, tol)
    history = []
    row_weight = train_step.row_weights(weights)
    for epoch in range(epochs):
        index = _epoch_order(sizes, generators, n_steps, B, offsets)
        if scale is not None:
            # This epoch's rows bring their weights: (n_steps, m, B), 0 on padding.
            step_weights = weights * scale.index_select(0, index.reshape(-1)).reshape(n_steps, m, B)
            row_weight = train_step.row_weights(step_weights)
        for start in range(0, n_steps, block):
            stop = min(n_steps, start + block)
            rows = index[start:stop].reshape(-1)
            xs = features.index_select(0, rows).reshape(stop - start, m, B, -1).unbind(0)
            ys = targets.index_select(0, rows).reshape(stop - start, m, B)
            ys = train_step.targets(ys, row_weight[start:stop]).unbind(0)
            for s in range(start, stop):
                train_step(xs[s - start], ys[s - start], row_weight[s], loss_rows[s])
                adam_step(s)
        total = (step_losses * counts_t).sum(dim=0)
        factor = train_step.loss_factor
        history.append(total if factor is None else factor * total)
        if progress is not None:
            progress(epoch)
        if stopping is not None and stopping.after_epoch(flat.params, flat.matrices, flat.scalers):
            break
    val_losses = None if stopping is None else stopping.restore(flat.params)
    flat.write_back(engines)
    _record(engines, history, sizes, stopping, val_losses)
    return engines
