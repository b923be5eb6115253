"""tabsift's KAN engine: the network, its training and its read-outs behind one protocol.

:class:`TabsiftKANEngine` implements the engine protocol of
:mod:`tabsift.feature_selection._engine` over modules of one idea each:

- :mod:`._kan_layers`: the network (``make_knots``, ``bspline_basis``,
  ``KANLayer``, ``KANNetwork``);
- :mod:`._kan_training`: the one training loop (``fit`` is its one-network case);
- :mod:`._kan_speed`: what makes small networks train fast (``_FlatAdam``, ``_HatStep``);
- :mod:`._kan_readouts`: predictions, losses and importance read-outs.

This module imports torch; it is imported only when an engine is built.
"""

import torch
import torch.nn.functional as F

from tabsift.feature_selection._engine import EngineBase
from tabsift.feature_selection._kan_layers import KANNetwork
from tabsift.feature_selection._kan_readouts import KANReadouts
from tabsift.feature_selection._kan_training import train_stacked


class TabsiftKANEngine(KANReadouts, EngineBase):
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

    def _w(self, sample_weight):
        if sample_weight is None:
            return None
        return torch.as_tensor(sample_weight, dtype=torch.float64, device=self.device).reshape(-1)

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
    def fit(
        self,
        X,
        y,
        *,
        epochs,
        batch_size,
        learning_rate,
        progress=None,
        sample_weight=None,
        validation=None,
        n_iter_no_change=10,
        tol=1e-4,
    ):
        """Train with Adam on shuffled mini-batches.

        This is the one-network case of :meth:`fit_together` (one training
        loop). With linear splines (``spline_order=1``, the paper's setting)
        the gradients come from an explicit backward pass instead of
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
        sample_weight : array-like of shape (n,), default=None
            Non-negative row weights. Each row's loss is multiplied by its
            weight scaled to mean 1 over the rows (``w * n / sum(w)``), so a
            full batch (``batch_size >= n``) minimises the weighted mean loss,
            exactly the loss of the rows repeated as their integer weights
            say, and the step sizes keep their scale.
        validation : tuple, default=None
            ``(X_val, y_val)`` or ``(X_val, y_val, w_val)``: held-out rows for
            early stopping. After each epoch the loss on them is computed;
            training stops when it has not fallen by more than ``tol`` below
            its best for ``n_iter_no_change`` epochs, and the weights of the
            best epoch are restored. None trains every epoch.
        n_iter_no_change : int, default=10
            Epochs without improvement before stopping (with ``validation``).
        tol : float, default=1e-4
            Smallest fall of the held-out loss counted as an improvement.

        Returns
        -------
        self : TabsiftKANEngine
        """
        train_stacked(
            type(self),
            [self],
            [(self._x(X), self._y(y))],
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            progress=progress,
            sample_weights=None if sample_weight is None else [sample_weight],
            validations=None if validation is None else [validation],
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            explicit=self._explicit_backward,
        )
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
    def fit_together(
        cls,
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
    ):
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
        sample_weights : list of array-like, default=None
            One row-weight vector per training set, read as by :meth:`fit`.
        validations : list of tuple, default=None
            One ``(X_val, y_val)`` or ``(X_val, y_val, w_val)`` per engine:
            early stopping as in :meth:`fit`, judged for each network on its
            own held-out rows. A network that stops keeps the weights of its
            best epoch; training ends when every network has stopped.
        n_iter_no_change : int, default=10
        tol : float, default=1e-4
            As in :meth:`fit`.

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
        return train_stacked(
            cls,
            engines,
            datasets,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            progress=progress,
            sample_weights=sample_weights,
            validations=validations,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            explicit=cls._explicit_backward,
        )

    # Order-1 splines train with the explicit backward of _HatStep (False: autograd, the
    # reference the explicit gradients are tested against).
    _explicit_backward = True
