"""KAN engine backed by pykan, the reference implementation of Liu et al.

tabsift's own engine (``_kan_network.TabsiftKANEngine``) is the default; this
one exists so users can compare against pykan and use pykan's own attribution
(``KANSelector(method="pykan")``). It implements the private engine protocol
documented in ``_engine.py`` around a ``kan.KAN`` model, configured to match
tabsift's network as closely as pykan allows:

- the same width ``[n_inputs, hidden_width, n_outputs]``, grid, spline order
  and grid range, with pykan's SiLU base branch plus B-spline branch;
- the grid is fixed (pykan never updates it unless asked) and there is no
  regularisation;
- pykan's symbolic branch is switched off (``symbolic_enabled=False``): its
  mask is zero at construction anyway, and its per-edge Python loop would
  only cost time;
- training is our own loop around pykan's forward (``model(x)``): Adam over
  the spline coefficients and the base/spline scales, ``epochs`` passes over
  shuffled mini-batches of ``batch_size`` rows drawn from a seeded
  ``torch.Generator``. pykan's ``fit`` counts steps, draws each batch
  independently from numpy's global generator and evaluates a test batch
  every step, so it could not match epochs exactly nor leave global seeds
  alone. Activation statistics (``save_act``) are off while training, as
  pykan's own ``fit`` does when ``lamb=0``.

Initialisation is pykan's (``noise_scale=0.3``, base scales uniform around 0),
not tabsift's, so the two engines start from different weights.

pykan has side effects that a library must not have, and this module contains
them:

- its constructor seeds the global generators (``torch.manual_seed``,
  ``np.random.seed``, ``random.seed``): their states are saved before and
  restored after construction, so users' global random streams are untouched;
- it writes checkpoints and figures into the working directory in several
  methods: every pykan call runs with the working directory switched to a
  fresh private temporary directory (also used as ``ckpt_path``), removed
  afterwards. Because the working directory is process-wide, calls to this
  engine are **not thread-safe**: do not run them concurrently with other
  threads that use relative paths.
"""

import contextlib
import os
import random
import tempfile

import numpy as np

from tabsift.feature_selection._engine import EngineBase
from tabsift.utils import import_optional_dependency

# Rows per chunk in evaluation: about 4M floats per (rows, d, hidden) tensor.
_CHUNK_ELEMENTS = 1 << 22


def _torch():
    import torch

    return torch


def _import_kan():
    return import_optional_dependency("kan", purpose="KANSelector(engine='pykan')")


@contextlib.contextmanager
def _private_workdir(model=None):
    """Run the block inside a fresh temporary directory, removed afterwards.

    pykan writes ``./model``, ``./figures`` and similar paths relative to the
    working directory (and to ``model.ckpt_path``); both point inside the
    temporary directory for the duration of the block. The previous working
    directory is restored even when the block raises.
    """
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="tabsift-pykan-") as tmp:
        if model is not None:
            model.ckpt_path = os.path.join(tmp, "model")
        os.chdir(tmp)
        try:
            yield tmp
        finally:
            os.chdir(previous)


@contextlib.contextmanager
def _global_rng_preserved(torch):
    """Restore torch's, numpy's and Python's global random states on exit."""
    # The legacy global state is exactly what pykan overwrites, hence NPY002.
    np_state = np.random.get_state()  # noqa: NPY002
    py_state = random.getstate()
    devices = []
    if torch.cuda.is_available():
        # torch.manual_seed queues a CUDA seed when CUDA is not initialised
        # yet; initialising first lets fork_rng save and restore CUDA states.
        torch.cuda.init()
        devices = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            np.random.set_state(np_state)  # noqa: NPY002
            random.setstate(py_state)


class PykanEngine(EngineBase):
    """Train a pykan ``KAN`` and read feature importances from it.

    Implements the private engine protocol of ``_engine.py`` (see there for
    the meaning of each method) plus :meth:`native_scores`, pykan's own
    attribution. Not thread-safe: see the module docstring.

    Parameters
    ----------
    n_inputs : int
        Number of input features ``d``.
    n_outputs : int
        Number of outputs (classes for classification, 1 for regression).
    hidden_width : int
        Width of the hidden KAN layer.
    grid_size : int
        Number of grid intervals of each spline.
    spline_order : int
        Order of the B-splines.
    grid_range : tuple of float
        ``(low, high)`` range of the (fixed) grid.
    task : {"classification", "regression"}
        Loss: cross-entropy on logits or mean squared error.
    device : torch.device
        Device that holds the model; inputs must be on it.
    seed : int
        Seed of pykan's initialisation and of the mini-batch order.

    Attributes
    ----------
    model_ : kan.MultKAN
        The pykan model.
    """

    def _build(self):
        # numpy's global seed, which pykan sets, only accepts 32-bit values.
        if self.seed is None:
            self.seed = np.random.SeedSequence().generate_state(1)[0]
        self.seed = int(self.seed) % 2**32
        self.model_ = self._build_model()

    def _build_model(self):
        torch = _torch()
        kan = _import_kan()
        # pykan turns each entry of the width list it receives into a pair, in place.
        width = [self.n_inputs, self.hidden_width, self.n_outputs]
        with _global_rng_preserved(torch), _private_workdir() as tmp:
            return kan.KAN(
                width=list(width),
                grid=self.grid_size,
                k=self.spline_order,
                grid_range=list(self.grid_range),
                seed=self.seed,
                symbolic_enabled=False,
                save_act=False,
                auto_save=False,
                ckpt_path=os.path.join(tmp, "model"),
                device=self.device,
            )

    # pykan models hold lambdas and cannot be pickled: pickle the weights and rebuild.
    def __getstate__(self):
        state = self.__dict__.copy()
        model = state.pop("model_")
        state["_model_state"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return state

    def __setstate__(self, state):
        weights = state.pop("_model_state")
        self.__dict__.update(state)
        self.model_ = self._build_model()
        self.model_.load_state_dict(weights)
        self.model_.eval()

    # -- helpers ---------------------------------------------------------------

    def _loss_tensor(self, out, y):
        import torch.nn.functional as F

        if self.task == "classification":
            return F.cross_entropy(out, y)
        return F.mse_loss(out.reshape(y.shape), y)

    def _x(self, X):
        return _torch().as_tensor(X, dtype=_torch().float32, device=self.device)

    def _y(self, y):
        torch = _torch()
        dtype = torch.int64 if self.task == "classification" else torch.float32
        return torch.as_tensor(y, dtype=dtype, device=self.device).reshape(-1)

    def _row_chunks(self, n):
        # pykan materialises (rows, d, hidden) tensors several times per layer: bound them.
        size = max(1, _CHUNK_ELEMENTS // max(1, self.n_inputs * self.hidden_width))
        return [slice(start, start + size) for start in range(0, n, size)]

    def _trainable_parameters(self):
        # Spline coefficients and the base/spline scales of every layer; the
        # symbolic branch (off) and pykan's fixed affine terms are left out.
        return [p for layer in self.model_.act_fun for p in layer.parameters() if p.requires_grad]

    # -- protocol --------------------------------------------------------------

    def fit(self, X, y, *, epochs, batch_size, learning_rate, progress=None):
        """Train with Adam on shuffled mini-batches for ``epochs`` passes."""
        import torch

        X, y = self._x(X), self._y(y)
        model = self.model_
        model.save_act = False
        model.symbolic_enabled = False
        n = X.shape[0]
        generator = torch.Generator().manual_seed(self.seed)
        optimizer = torch.optim.Adam(self._trainable_parameters(), lr=learning_rate)
        model.train()
        with _private_workdir(model):
            for epoch in range(int(epochs)):
                order = torch.randperm(n, generator=generator).to(X.device)
                for start in range(0, n, int(batch_size)):
                    idx = order[start : start + int(batch_size)]
                    loss = self._loss_tensor(model(X[idx]), y[idx])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                if progress is not None:
                    progress(epoch)
        model.eval()
        return self

    def predict_raw(self, X):
        """Logits (classification) or predictions (regression), shape (n, n_outputs)."""
        import torch

        X = self._x(X)
        with torch.no_grad(), _private_workdir(self.model_):
            parts = [self.model_(X[rows]) for rows in self._row_chunks(X.shape[0])]
        return torch.cat(parts) if parts else X.new_zeros((0, self.n_outputs))

    def loss(self, X, y):
        """Cross-entropy or mean squared error on ``(X, y)``."""
        import torch

        with torch.no_grad():
            return float(self._loss_tensor(self.predict_raw(X), self._y(y)))

    def first_layer_contributions(self, X):
        """``c[n, j, o]``: feature j's first-layer output into hidden unit o, (n, d, hidden).

        pykan's ``postacts`` (n, hidden, d) already include ``scale_base``,
        ``scale_sp`` and the edge ``mask``.
        """
        import torch

        X = self._x(X)
        with torch.no_grad(), _private_workdir(self.model_):
            _, _, postacts, _ = self.model_.act_fun[0](X)
        return postacts.permute(0, 2, 1).contiguous()

    def coefficient_norms(self, ord):
        """L1 (``ord=1``) or L2 (``ord=2``) norm of feature j's scaled spline coefficients."""
        import torch

        layer = self.model_.act_fun[0]
        with torch.no_grad():
            # coef: (d, hidden, n_basis); scale_sp and mask: (d, hidden).
            w = layer.coef * (layer.scale_sp * layer.mask)[:, :, None]
            w = w.reshape(self.n_inputs, -1).double()
            if ord == 1:
                norms = w.abs().sum(dim=1)
            elif ord == 2:
                norms = torch.sqrt((w**2).sum(dim=1))
            else:
                raise ValueError(f"ord must be 1 or 2, found {ord!r}.")
        return norms.cpu().numpy()

    def sensitivity(self, X):
        """Mean over rows of ``|d sum_outputs |out| / d x_j|``, shape (d,)."""
        import torch

        X = self._x(X)
        total = torch.zeros(self.n_inputs, dtype=torch.float64, device=self.device)
        with torch.enable_grad(), _private_workdir(self.model_):
            for rows in self._row_chunks(X.shape[0]):
                # Rows do not interact: one backward of the sum gives each row's gradient.
                x = X[rows].detach().clone().requires_grad_(True)
                (grad,) = torch.autograd.grad(self.model_(x).abs().sum(), x)
                total += grad.abs().sum(dim=0).double()
        return (total / max(X.shape[0], 1)).cpu().numpy()

    def input_gradients(self, X):
        """Each row's gradient ``d sum_outputs |out| / d x``, shape (n, d)."""
        import torch

        X = self._x(X)
        parts = []
        with torch.enable_grad(), _private_workdir(self.model_):
            for rows in self._row_chunks(X.shape[0]):
                x = X[rows].detach().clone().requires_grad_(True)
                (grad,) = torch.autograd.grad(self.model_(x).abs().sum(), x)
                parts.append(grad.double().cpu().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self.n_inputs))

    def knockout_losses(self, X, y, groups=None):
        """Loss increase when feature j's first-layer edges are removed, clipped at 0.

        Each feature is knocked out by zeroing its row of the first layer's
        edge mask (which multiplies both the base and the spline branch); the
        mask is restored afterwards, even on error. With ``groups`` (the
        feature of each input), a feature's inputs are knocked out together,
        their edges zeroed as for one input (tabsift's engine replaces a
        group's contribution by its mean instead; pykan's mask cannot).
        """
        import torch

        X, y = self._x(X), self._y(y)
        layer = self.model_.act_fun[0]
        intact = self.loss(X, y)
        saved = layer.mask.detach().clone()
        if groups is None:
            members = [[j] for j in range(self.n_inputs)]
        else:
            groups = np.asarray(groups)
            members = [np.flatnonzero(groups == g) for g in range(int(groups.max()) + 1)]
        out = np.zeros(len(members))
        for g, inputs in enumerate(members):
            try:
                with torch.no_grad():
                    layer.mask[list(inputs), :] = 0.0
                out[g] = max(self.loss(X, y) - intact, 0.0) if len(inputs) else 0.0
            finally:
                with torch.no_grad():
                    layer.mask.copy_(saved)
        return out

    def feature_function(self, j, x_grid):
        """``phi_{j,o}(x)`` on ``x_grid`` for every hidden unit o, shape (len(x_grid), hidden)."""
        import torch

        layer = self.model_.act_fun[0]
        grid = torch.as_tensor(np.asarray(x_grid, dtype=np.float32).reshape(-1), device=self.device)
        # The first layer is a sum of univariate functions: other columns do not matter.
        X = torch.zeros((grid.shape[0], self.n_inputs), dtype=grid.dtype, device=self.device)
        X[:, j] = grid
        with torch.no_grad(), _private_workdir(self.model_):
            _, _, postacts, _ = layer(X)
        return postacts[:, :, j].double().cpu().numpy()

    # -- pykan's own attribution -------------------------------------------------

    def native_scores(self, X):
        """Pykan's ``feature_score`` after a forward pass on ``X``, shape (d,).

        pykan's attribution (``model.attribute()``) scales each edge by the
        standard deviation of its activations over the *last batch that went
        through the model*, so the scores depend on ``X``: it is passed
        through the model (with activation statistics on) right before, in
        one batch: the statistics are over all of ``X``, so it is not split
        into chunks like the other methods.
        """
        import torch

        X = self._x(X)
        model = self.model_
        with torch.no_grad(), _private_workdir(model):
            model.save_act = True
            try:
                model(X)
                scores = model.feature_score  # runs model.attribute()
            finally:
                model.save_act = False
        return scores.detach().double().cpu().numpy()
