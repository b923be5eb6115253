"""tabsift's KAN network and engine: B-spline basis, layer algebra, training, importances."""

import copy

import numpy as np
import pytest
import torch

from tabsift.feature_selection._engine import _make_engine
from tabsift.feature_selection._kan_layers import KANLayer, bspline_basis, make_knots
from tabsift.feature_selection._kan_network import TabsiftKANEngine


def _engine(task="regression", n_inputs=3, n_outputs=1, hidden=5, seed=0, **kw):
    params = dict(
        n_inputs=n_inputs,
        n_outputs=n_outputs,
        hidden_width=hidden,
        grid_size=2,
        spline_order=1,
        grid_range=(-1.0, 1.0),
        task=task,
        device="cpu",
        seed=seed,
    )
    params.update(kw)
    return TabsiftKANEngine(**params)


def _naive_basis(x, knots, i, k):
    """Scalar Cox-de Boor recursion, straight from the textbook definition."""
    if k == 0:
        return 1.0 if knots[i] <= x < knots[i + 1] else 0.0
    left = (x - knots[i]) / (knots[i + k] - knots[i]) * _naive_basis(x, knots, i, k - 1)
    right = (knots[i + k + 1] - x) / (knots[i + k + 1] - knots[i + 1])
    return left + right * _naive_basis(x, knots, i + 1, k - 1)


def _data(n=200, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    y = torch.sin(2 * X[:, 0]) + X[:, 1] ** 2 - 1 + 0.05 * torch.randn(n, generator=g)
    return X, y


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("grid_size", [1, 2, 5])
def test_basis_is_a_partition_of_unity_inside_the_grid(order, grid_size):
    knots = make_knots(grid_size, order, (-1.5, 2.0), dtype=torch.float64)
    x = torch.linspace(-1.5, 2.0, 301, dtype=torch.float64)
    basis = bspline_basis(x, knots, order)
    assert basis.shape == (301, grid_size + order)
    assert torch.all(basis >= 0)
    torch.testing.assert_close(basis.sum(-1), torch.ones(301, dtype=torch.float64))
    # Beyond the extended knots every basis function is zero.
    outside = bspline_basis(torch.tensor([-100.0, 100.0], dtype=torch.float64), knots, order)
    assert torch.all(outside == 0)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_basis_matches_scalar_cox_de_boor(order):
    knots = make_knots(3, order, (-1.0, 1.0), dtype=torch.float64)
    rng = np.random.default_rng(order)
    x = rng.uniform(float(knots[0]) - 0.5, float(knots[-1]) + 0.5, size=(40, 2))
    basis = bspline_basis(torch.tensor(x), knots, order).numpy()  # (40, 2, n_basis)
    kn = knots.tolist()
    expected = np.array(
        [[[_naive_basis(v, kn, i, order) for i in range(3 + order)] for v in row] for row in x]
    )
    np.testing.assert_allclose(basis, expected, atol=1e-12)


def test_knots_are_uniform_and_extended():
    assert make_knots(2, 1, (-1, 1)).tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
    knots = make_knots(4, 3, (0.0, 2.0))
    assert knots.numel() == 4 + 2 * 3 + 1
    torch.testing.assert_close(torch.diff(knots), torch.full((10,), 0.5))


def test_contributions_sum_to_the_first_layer_output():
    engine = _engine(n_inputs=4, hidden=7, spline_order=2, grid_size=3)
    X, _ = _data(d=4)
    layer = engine.network.layers[0]
    with torch.no_grad():
        # Give the splines real weight so the test does not pass on the base branch alone.
        layer.spline_weight.normal_(generator=torch.Generator().manual_seed(1))
        layer.spline_scaler.uniform_(0.5, 2.0, generator=torch.Generator().manual_seed(2))
    contrib = engine.first_layer_contributions(X)
    assert contrib.shape == (200, 4, 7)
    with torch.no_grad():
        torch.testing.assert_close(contrib.sum(1), layer(X), rtol=1e-5, atol=1e-5)
    # And the layer is the formula of the docstring.
    j, o = 2, 3
    x = X[:, j]
    basis = bspline_basis(x, layer.knots, layer.spline_order)
    manual = layer.base_weight[o, j] * torch.nn.functional.silu(x) + basis @ (
        layer.spline_weight[o, j] * layer.spline_scaler[o, j]
    )
    torch.testing.assert_close(contrib[:, j, o], manual.detach(), rtol=1e-5, atol=1e-5)
    # The Gram-matrix sums of squares (KAN-L2 without the contributions) are the direct ones.
    direct = contrib.double().square().sum(dim=(0, 2)).numpy()
    np.testing.assert_allclose(engine.contribution_square_sums(X), direct, rtol=1e-5)


def test_gradients_reach_every_parameter():
    engine = _engine(n_inputs=3, hidden=5)
    X, y = _data()
    out = engine.network(X)
    ((out[:, 0] - y) ** 2).mean().backward()
    for name, param in engine.network.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_seeded_initialisation_is_reproducible():
    a, b, c = _engine(seed=3), _engine(seed=3), _engine(seed=4)
    for pa, pb in zip(a.network.parameters(), b.network.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)
    assert not torch.equal(a.network.layers[0].base_weight, c.network.layers[0].base_weight)
    # Training is reproducible too, and never touches torch's global generator.
    X, y = _data()
    state = torch.get_rng_state()
    a.fit(X, y, epochs=3, batch_size=32, learning_rate=1e-2)
    b.fit(X, y, epochs=3, batch_size=32, learning_rate=1e-2)
    assert torch.equal(torch.get_rng_state(), state)
    assert a.loss_history_ == b.loss_history_
    torch.testing.assert_close(a.predict_raw(X), b.predict_raw(X))


def test_training_reduces_the_loss():
    X, y = _data(n=300)
    engine = _engine(hidden=7)
    before = engine.loss(X, y)
    progress_calls = []
    engine.fit(X, y, epochs=40, batch_size=64, learning_rate=1e-2, progress=progress_calls.append)
    after = engine.loss(X, y)
    assert progress_calls == list(range(40))
    assert len(engine.loss_history_) == 40
    assert engine.loss_history_[-1] < engine.loss_history_[0]
    assert after < 0.5 * before


def test_classification_engine_learns_and_outputs_logits():
    X, _ = _data(n=300)
    y = (X[:, 0] + X[:, 1] > 0).long()
    engine = _engine(task="classification", n_outputs=2, hidden=7)
    engine.fit(X, y, epochs=30, batch_size=64, learning_rate=1e-2)
    logits = engine.predict_raw(X)
    assert logits.shape == (300, 2)
    accuracy = (logits.argmax(1) == y).float().mean().item()
    assert accuracy > 0.9
    expected = torch.nn.functional.cross_entropy(logits, y).item()
    assert engine.loss(X, y) == pytest.approx(expected, rel=1e-5)


def _trained_engine(task="regression"):
    X, y = _data(n=300, d=4)
    if task == "classification":
        y = (y > y.median()).long()
    engine = _engine(task=task, n_inputs=4, n_outputs=2 if task == "classification" else 1)
    engine.fit(X, y, epochs=40, batch_size=64, learning_rate=1e-2)
    return engine, X, y


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_knockout_equals_zeroing_the_weights(task):
    engine, X, y = _trained_engine(task)
    ko = engine.knockout_losses(X, y)
    intact = engine.loss(X, y)
    expected = []
    for j in range(4):
        copy_ = copy.deepcopy(engine)
        layer = copy_.network.layers[0]
        with torch.no_grad():
            layer.base_weight[:, j] = 0
            layer.spline_weight[:, j] = 0
        expected.append(max(copy_.loss(X, y) - intact, 0.0))
    np.testing.assert_allclose(ko, expected, rtol=1e-4, atol=1e-6)
    # The weights of the engine itself are untouched.
    assert engine.loss(X, y) == intact
    # The target depends on x0 and x1 only: knocking them out hurts most. (Noise features
    # are not free to knock out: removing a contribution also removes its mean, a bias.)
    assert min(ko[0], ko[1]) > max(ko[2], ko[3])


def test_knockout_in_feature_blocks_matches_one_block(monkeypatch):
    engine, X, y = _trained_engine()
    whole = engine.knockout_losses(X, y)
    from tabsift.feature_selection import _kan_layers

    # Force tiny row and feature chunks: the result must not depend on chunking.
    monkeypatch.setattr(_kan_layers, "_CHUNK_ELEMENTS", 7 * 5 * 3)
    np.testing.assert_allclose(engine.knockout_losses(X, y), whole, rtol=1e-5, atol=1e-7)


def test_sensitivity_is_the_mean_absolute_input_gradient():
    engine, X, _ = _trained_engine()
    si = engine.sensitivity(X)
    rows = []
    for i in range(20):
        x = X[i : i + 1].clone().requires_grad_(True)
        engine.network(x).abs().sum().backward()
        rows.append(x.grad.abs()[0].numpy())
    np.testing.assert_allclose(engine.sensitivity(X[:20]), np.mean(rows, axis=0), rtol=1e-5)
    assert si.shape == (4,)
    assert min(si[0], si[1]) > max(si[2], si[3])


def test_coefficient_norms_and_feature_function():
    engine, X, _ = _trained_engine()
    layer = engine.network.layers[0]
    ws = (layer.spline_weight * layer.spline_scaler.unsqueeze(-1)).detach()
    np.testing.assert_allclose(engine.coefficient_norms(1), ws.abs().sum((0, 2)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        engine.coefficient_norms(2), ws.square().sum((0, 2)).sqrt().numpy(), rtol=1e-6
    )
    with pytest.raises(ValueError, match="ord must be 1 or 2"):
        engine.coefficient_norms(3)
    grid = np.linspace(-3, 3, 50)
    phi = engine.feature_function(1, grid)
    assert phi.shape == (50, engine.hidden_width)
    X_grid = torch.zeros(50, 4)
    X_grid[:, 1] = torch.tensor(grid, dtype=torch.float32)
    expected = engine.first_layer_contributions(X_grid)[:, 1, :].numpy()
    np.testing.assert_allclose(phi, expected, rtol=1e-5, atol=1e-6)


def test_make_engine_and_bad_arguments():
    engine = _make_engine(
        "tabsift",
        n_inputs=2,
        n_outputs=1,
        hidden_width=3,
        grid_size=2,
        spline_order=1,
        grid_range=(-1, 1),
        task="regression",
        device=torch.device("cpu"),
        seed=0,
    )
    assert isinstance(engine, TabsiftKANEngine)
    with pytest.raises(ValueError, match="engine must be one of"):
        _make_engine("nope")
    with pytest.raises(ValueError, match="task must be"):
        _engine(task="ranking")


def test_layer_is_a_plain_module_usable_alone():
    knots = make_knots(2, 1, (-1, 1))
    layer = KANLayer(3, 2, knots=knots, spline_order=1, generator=torch.Generator().manual_seed(0))
    assert layer(torch.zeros(5, 3)).shape == (5, 2)
    assert layer.spline_weight.shape == (2, 3, 3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")
def test_engine_runs_on_cuda_like_on_cpu():
    X, y = _data(n=256, d=3)
    cuda = _engine(device="cuda")
    cuda.fit(X, y, epochs=5, batch_size=64, learning_rate=1e-2)
    assert cuda.network.layers[0].base_weight.device.type == "cuda"
    assert cuda.predict_raw(X).device.type == "cuda"
    assert cuda.loss_history_[-1] < cuda.loss_history_[0]
    for name in ("knockout_losses",):
        assert getattr(cuda, name)(X, y).shape == (3,)
    assert cuda.sensitivity(X).shape == (3,)
    assert cuda.feature_function(0, np.linspace(-1, 1, 7)).shape == (7, 5)
    # Several engines trained together on CUDA match each trained alone.
    sets = [(X[:192], y[:192]), (X[56:], y[56:])]  # 3 and 4 steps an epoch
    together = TabsiftKANEngine.fit_together(
        [_engine(device="cuda", seed=s) for s in (1, 2)],
        sets,
        epochs=5,
        batch_size=64,
        learning_rate=1e-2,
    )
    for seed, engine, (Xs, ys) in zip((1, 2), together, sets, strict=True):
        alone = _engine(device="cuda", seed=seed)
        alone.fit(Xs, ys, epochs=5, batch_size=64, learning_rate=1e-2)
        np.testing.assert_allclose(engine.loss_history_, alone.loss_history_, rtol=1e-4)


def _train_sets(sizes, task, d=4):
    sets = []
    for i, n in enumerate(sizes):
        X, y = _data(n=n, d=d, seed=10 + i)
        sets.append((X, (y > 0).long() if task == "classification" else y))
    return sets


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize(
    "sizes",
    [
        (150, 150, 150),
        # 32-row batches: 5, 4 and 4 steps an epoch, so networks 1 and 2 sit out step 5
        # (their Adam step count must not move) and network 2's last batch is short.
        (130, 128, 100),
    ],
)
def test_fit_together_equals_fitting_each_engine_alone(task, sizes):
    n_outputs = 2 if task == "classification" else 1
    sets = _train_sets(sizes, task)
    kw = dict(task=task, n_inputs=4, n_outputs=n_outputs, hidden=6, spline_order=2, grid_size=3)
    alone = [
        _engine(seed=s, **kw).fit(X, y, epochs=8, batch_size=32, learning_rate=1e-2)
        for s, (X, y) in enumerate(sets)
    ]
    together = [_engine(seed=s, **kw) for s in range(3)]
    calls = []
    state = torch.get_rng_state()
    returned = TabsiftKANEngine.fit_together(
        together, sets, epochs=8, batch_size=32, learning_rate=1e-2, progress=calls.append
    )
    assert returned == together
    assert calls == list(range(8))
    assert torch.equal(torch.get_rng_state(), state)
    for a, b, (X, y) in zip(alone, together, sets, strict=True):
        # Same arithmetic per network; only batched products may round differently (last
        # bits), and Adam, which divides by the gradient's size, can turn that into up to
        # ~1e-5 on a weight whose gradient is near 0: compared at the tensor's scale.
        for (name, pa), pb in zip(
            a.network.named_parameters(), b.network.parameters(), strict=True
        ):
            assert (pb - pa).abs().max() <= 1e-4 * pa.abs().max(), name
        np.testing.assert_allclose(b.loss_history_, a.loss_history_, rtol=1e-5)
        out_a, out_b = a.predict_raw(X), b.predict_raw(X)
        assert (out_b - out_a).abs().max() <= 1e-4 * out_a.abs().max()
        # Engines trained together are ordinary engines afterwards.
        assert not b.network.training
        np.testing.assert_allclose(b.knockout_losses(X, y), a.knockout_losses(X, y), atol=1e-4)
        assert b.network.layers[0].base_weight.grad is None
    # Training moved the weights (a test of equality between two no-ops would pass too).
    assert alone[0].loss_history_[-1] < alone[0].loss_history_[0]


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_order_one_fit_with_explicit_backward_equals_autograd(task, monkeypatch):
    n_outputs = 2 if task == "classification" else 1
    ((X, y),) = _train_sets((130,), task)  # 32-row batches: the last one has 2 rows
    kw = dict(task=task, n_inputs=4, n_outputs=n_outputs, hidden=6, spline_order=1, grid_size=2)
    fast = _engine(seed=3, **kw).fit(X, y, epochs=8, batch_size=32, learning_rate=1e-2)
    monkeypatch.setattr(TabsiftKANEngine, "_explicit_backward", False)
    slow = _engine(seed=3, **kw).fit(X, y, epochs=8, batch_size=32, learning_rate=1e-2)
    for (name, pa), pb in zip(
        slow.network.named_parameters(), fast.network.parameters(), strict=True
    ):
        assert (pb - pa).abs().max() <= 1e-4 * pa.abs().max(), name
    np.testing.assert_allclose(fast.loss_history_, slow.loss_history_, rtol=1e-5)
    assert fast.loss_history_[-1] < fast.loss_history_[0]
    assert not fast.network.training
    assert fast.network.layers[0].base_weight.grad is None


def test_fit_together_checks_its_inputs():
    sets = _train_sets((40, 40), "regression", d=3)
    with pytest.raises(ValueError, match="one .X, y. training set per engine; found 2 engines"):
        TabsiftKANEngine.fit_together(
            [_engine(), _engine()], sets[:1], epochs=1, batch_size=8, learning_rate=1e-2
        )
    with pytest.raises(ValueError, match="engines of one architecture only"):
        TabsiftKANEngine.fit_together(
            [_engine(), _engine(hidden=4)], sets, epochs=1, batch_size=8, learning_rate=1e-2
        )
    assert TabsiftKANEngine.fit_together([], [], epochs=1, batch_size=8, learning_rate=1e-2) == []
    # One engine alone trains like fit.
    (engine,) = TabsiftKANEngine.fit_together(
        [_engine(seed=1)], sets[:1], epochs=2, batch_size=8, learning_rate=1e-2
    )
    reference = _engine(seed=1).fit(*sets[0], epochs=2, batch_size=8, learning_rate=1e-2)
    np.testing.assert_allclose(engine.loss_history_, reference.loss_history_, rtol=1e-5)


def test_closed_form_hat_basis_equals_the_recursion():
    from tabsift.feature_selection._kan_layers import _stacked_features
    from tabsift.feature_selection._kan_speed import _HatStep

    for grid_size, grid_range in [(2, (-1.0, 1.0)), (5, (-3.0, 2.0))]:
        knots = make_knots(grid_size, 1, grid_range)
        nb = knots.numel() - 2
        values = torch.cat([torch.linspace(-6, 6, 2001), knots, torch.randn(500) * 2])
        h = values[: values.numel() // 2 * 2].reshape(1, -1, 2)  # (m=1, rows, hidden width 2)
        n_rows = h.shape[1]
        matrices = [torch.zeros(1, 2, 3 * (1 + nb)), torch.zeros(1, 1, 2 * (1 + nb))]
        scalers = [torch.ones(1, 2, 3), torch.ones(1, 1, 2)]
        step = _HatStep(matrices, scalers, matrices, scalers, [knots, knots], n_rows, False)
        step.outputs[0].copy_(h)
        step._hidden_features(1)
        expected = _stacked_features(h, knots, 1)
        torch.testing.assert_close(step.features[1], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("grid_size", [1, 2, 5])
def test_explicit_hat_step_equals_autograd(task, grid_size):
    from tabsift.feature_selection._kan_layers import _scaled_matrix, _stacked_features
    from tabsift.feature_selection._kan_speed import _HatStep

    gen = torch.Generator().manual_seed(3)
    m, B, d, h, c = 3, 16, 4, 5, 2 if task == "classification" else 1
    knots = make_knots(grid_size, 1, (-1.0, 1.0))
    nb = knots.numel() - 2

    def param(*shape):
        return torch.randn(*shape, generator=gen).requires_grad_(True)

    matrices = [param(m, h, d * (1 + nb)), param(m, c, h * (1 + nb))]
    scalers = [param(m, h, d), param(m, c, h)]
    x = _stacked_features(torch.randn(m, B, d, generator=gen), knots, 1)
    if task == "classification":
        y = torch.randint(0, c, (m, B), generator=gen)
    else:
        y = torch.randn(m, B, generator=gen)
    w = torch.rand(m, B, generator=gen)
    out = torch.bmm(x, _scaled_matrix(matrices[0], scalers[0]).mT)
    hidden = _stacked_features(out, knots, 1)
    out = torch.bmm(hidden, _scaled_matrix(matrices[1], scalers[1]).mT)
    if task == "classification":
        rows = torch.nn.functional.cross_entropy(
            out.reshape(-1, c), y.reshape(-1), reduction="none"
        )
        rows = rows.reshape(m, B)
    else:
        rows = (out[..., 0] - y) ** 2
    expected = (rows * w).sum(1)
    expected.sum().backward()

    with torch.no_grad():
        plain = [p.detach().clone() for p in matrices], [p.detach().clone() for p in scalers]
        matrix_grads = [torch.full_like(p, torch.nan) for p in matrices]
        scaler_grads = [torch.full_like(p, torch.nan) for p in scalers]
        step = _HatStep(*plain, matrix_grads, scaler_grads, [knots, knots], B,
                        task == "classification")
        loss = torch.full((m,), torch.nan)
        if task == "classification":
            target = -torch.nn.functional.one_hot(y, c).float() * w.unsqueeze(-1)
            step(x, target, w.unsqueeze(-1), loss)
        else:
            step(x, y.unsqueeze(-1), 2.0 * w.unsqueeze(-1), loss)
            loss /= 2.0  # the regression step reports twice the loss
    torch.testing.assert_close(loss, expected.detach(), rtol=1e-5, atol=1e-6)
    for p, g in zip(matrices + scalers, matrix_grads + scaler_grads, strict=True):
        torch.testing.assert_close(g, p.grad, rtol=1e-4, atol=1e-5)
    # The same buffers serve the next step: a second call gives the same values.
    again = [g.clone() for g in matrix_grads + scaler_grads]
    with torch.no_grad():
        if task == "classification":
            step(x, target, w.unsqueeze(-1), loss)
        else:
            step(x, y.unsqueeze(-1), 2.0 * w.unsqueeze(-1), loss)
    for a, b in zip(again, matrix_grads + scaler_grads, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("fused", [True, False, "changed"])
def test_flat_adam_equals_torch_adam(fused, monkeypatch):
    from tabsift.feature_selection import _kan_speed
    from tabsift.feature_selection._kan_speed import _FlatAdam

    if fused is True and _kan_speed._FUSED_ADAM is None:
        pytest.skip("this torch has no fused Adam kernel")
    if fused == "changed":
        # A future torch whose private kernel has another signature: the formula takes over.
        def other_signature(*args, **kwargs):
            raise TypeError("_fused_adam_() got an unexpected keyword argument 'lr'")

        monkeypatch.setattr(_kan_speed, "_FUSED_ADAM", other_signature)
        fused = True
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(300, generator=gen)
    grads = [torch.randn(300, generator=gen) for _ in range(20)]
    flat, flat_grad = start.clone(), torch.zeros(300)
    ours = _FlatAdam(flat, flat_grad, 1e-2, fused=fused)
    reference = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([reference], lr=1e-2)
    for g in grads:
        flat_grad.copy_(g)
        ours.step()
        reference.grad = g.clone()
        optimizer.step()
    torch.testing.assert_close(flat, reference.detach(), rtol=1e-6, atol=1e-7)
    assert (flat - start).abs().min() > 0  # every weight moved
