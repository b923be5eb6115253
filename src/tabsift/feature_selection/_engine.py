"""The engine protocol: what a KAN implementation offers to :class:`KANSelector`.

An *engine* wraps one Kolmogorov-Arnold network of widths
``[n_inputs, hidden_width, n_outputs]`` together with its training loop and
the quantities the importance methods read from it. :class:`KANSelector`
never touches a network directly: it standardises the data of a fold, builds
an engine with :func:`_make_engine`, trains it and asks it for scores. Two
engines implement the protocol:

- ``"tabsift"``: :class:`~tabsift.feature_selection._kan_network.TabsiftKANEngine`,
  tabsift's batched efficient-KAN network (the default, and the fast one);
- ``"pykan"``: ``tabsift.feature_selection._pykan_engine.PykanEngine``, a
  wrapper around the ``pykan`` library (imported only when asked for).

Every engine implements exactly these methods::

    class Engine:
        def __init__(self, *, n_inputs, n_outputs, hidden_width, grid_size,
                     spline_order, grid_range, task, device, seed): ...
        def fit(self, X, y, *, epochs, batch_size, learning_rate, progress=None): ...
        def predict_raw(self, X): ...
        def loss(self, X, y): ...
        def first_layer_contributions(self, X): ...
        def coefficient_norms(self, ord): ...
        def sensitivity(self, X): ...
        def input_gradients(self, X): ...
        def knockout_losses(self, X, y, groups=None): ...
        def feature_function(self, j, x_grid): ...

Conventions
-----------
- ``task`` is ``"classification"`` or ``"regression"``; ``device`` is a
  :class:`torch.device`; ``seed`` an int from which all randomness (weights,
  mini-batch order) is drawn through :class:`torch.Generator` objects, never
  through global seeds.
- ``X`` is a float32 tensor of shape ``(n, n_inputs)``, already standardised;
  ``y`` holds int64 class indices (classification) or a float32 standardised
  target of shape ``(n,)`` (regression). Engines move tensors to their device.
- ``fit(...)`` trains with Adam on shuffled mini-batches and returns the
  engine; ``progress``, if given, is called as ``progress(epoch)`` after each
  epoch.
- ``predict_raw(X)`` returns a tensor ``(n, n_outputs)``: logits or the
  regression output. ``loss(X, y)`` is the mean cross-entropy or squared
  error, as a float, computed without gradients.
- ``first_layer_contributions(X)`` returns ``c`` of shape
  ``(n, n_inputs, hidden_width)`` with ``c[n, j, o]`` the contribution of
  feature ``j`` to hidden unit ``o`` (base branch plus spline branch); summed
  over ``j`` it is the first layer's output.
- ``coefficient_norms(ord)`` returns a numpy ``(n_inputs,)``: for ``ord=1``
  ``sum_{o,k} |W[o,j,k] s[o,j]|``, for ``ord=2`` the square root of the sum
  of squares (the reading of the paper's text).
- ``sensitivity(X)`` returns numpy ``(n_inputs,)``: the mean over rows of
  ``|d sum_outputs |out| / d x_j|``.
- ``input_gradients(X)`` returns numpy ``(n, n_inputs)``: each row's
  gradient ``d sum_outputs |out| / d x`` (what ``sensitivity`` averages in
  absolute value; the grouped sensitivity of a mixed table reads it).
- ``knockout_losses(X, y, groups=None)`` returns numpy ``(n_inputs,)``: the
  loss with feature ``j``'s first-layer weights set to zero minus the intact
  loss, clipped at 0. The trained weights are left unchanged. With
  ``groups`` (int array ``(n_inputs,)``, the feature each input encodes, e.g.
  a categorical column's one-hot inputs) the inputs of a feature are knocked
  out together: one value per feature ``0..groups.max()``; tabsift's engine
  then replaces the group's summed contribution by its mean over the rows
  rather than zero (pykan's zeroes the group's edges).
- ``feature_function(j, x_grid)`` returns numpy ``(len(x_grid), hidden_width)``:
  ``phi_{j,o}(x)``, the first-layer function of feature ``j`` into each hidden
  unit, on standardised inputs ``x_grid``.
- Row weights (optional, tabsift's engine only): ``fit(..., sample_weight=w)``
  multiplies each row's loss by ``w * n / sum(w)`` (a full batch then
  minimises the weighted mean loss, that of the rows repeated by their
  weights), ``fit_together(..., sample_weights=[w, ...])`` does so per
  engine, and ``loss``, ``knockout_losses`` and ``contribution_square_sums``
  take ``sample_weight`` for weighted means over rows. :class:`KANSelector`
  passes these arguments only when weights are given, and refuses
  ``sample_weight`` with the pykan engine.
- Early stopping (optional, tabsift's engine only): ``fit(..., validation=(X_val,
  y_val[, w_val]), n_iter_no_change=10, tol=1e-4)`` and ``fit_together(...,
  validations=[...])`` compute the held-out loss after each epoch, stop a network
  once it has not improved by more than ``tol`` for ``n_iter_no_change`` epochs,
  restore its best epoch's weights and set ``n_iter_`` (epochs run), ``best_epoch_``
  and ``validation_loss_history_``. :class:`KANSelector` passes them only with
  ``early_stopping`` on, which it refuses with the pykan engine.
- The pykan engine also offers ``native_scores(X)``, numpy ``(n_inputs,)``:
  pykan's own attribution scores (``method="pykan"``).
- Optional: a classmethod ``fit_together(engines, datasets, *, epochs,
  batch_size, learning_rate, progress=None)`` trains several engines of one
  architecture at once (``datasets``: one ``(X, y)`` per engine) with the
  same result as ``fit`` on each, up to float rounding, and returns the
  engines; ``progress(epoch)`` is called after each joint epoch.
  :class:`KANSelector` uses it, when the engine class has it, to train all
  folds' networks together. The tabsift engine has it (one batched network:
  small networks cost mostly fixed per-operation overhead per step).
"""

ENGINES = ("tabsift", "pykan")


class EngineBase:
    """The part of ``__init__`` every engine shares: check and store the configuration.

    Subclasses build their network in :meth:`_build`, called last, from the
    stored attributes (``n_inputs``, ``n_outputs``, ``hidden_width``,
    ``grid_size``, ``spline_order``, ``grid_range``, ``task``, ``device`` as a
    ``torch.device``, and ``seed`` as given).
    """

    def __init__(
        self,
        *,
        n_inputs,
        n_outputs,
        hidden_width,
        grid_size,
        spline_order,
        grid_range,
        task,
        device,
        seed,
    ):
        import torch

        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', found {task!r}.")
        self.n_inputs = int(n_inputs)
        self.n_outputs = int(n_outputs)
        self.hidden_width = int(hidden_width)
        self.grid_size = int(grid_size)
        self.spline_order = int(spline_order)
        self.grid_range = (float(grid_range[0]), float(grid_range[1]))
        self.task = task
        self.device = torch.device(device)
        self.seed = seed
        self._build()

    def _build(self):
        raise NotImplementedError


def _make_engine(name, **kwargs):
    """Build the engine called ``name`` with the protocol's keyword arguments.

    Parameters
    ----------
    name : {"tabsift", "pykan"}
        Which implementation.
    **kwargs
        ``n_inputs, n_outputs, hidden_width, grid_size, spline_order,
        grid_range, task, device, seed``.

    Returns
    -------
    engine : object implementing the engine protocol
    """
    if name == "tabsift":
        from tabsift.feature_selection._kan_network import TabsiftKANEngine

        return TabsiftKANEngine(**kwargs)
    if name == "pykan":
        # Imported only on request: pykan is heavy and writes files on import of some helpers.
        from tabsift.feature_selection._pykan_engine import PykanEngine

        return PykanEngine(**kwargs)
    raise ValueError(f"engine must be one of {list(ENGINES)}, found {name!r}.")
