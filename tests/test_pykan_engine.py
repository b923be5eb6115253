"""The pykan engine: protocol shapes, training, importance signals, and pykan's side effects kept in."""

import os
import pickle
import random

import numpy as np
import pytest

pytest.importorskip("kan")
torch = pytest.importorskip("torch")

from kan.spline import coef2curve  # noqa: E402

from tabsift.datasets import make_informative  # noqa: E402
from tabsift.feature_selection._pykan_engine import PykanEngine  # noqa: E402

D, HIDDEN = 6, 13


def _engine(seed=0, task="classification", n_outputs=2):
    return PykanEngine(
        n_inputs=D,
        n_outputs=n_outputs,
        hidden_width=HIDDEN,
        grid_size=2,
        spline_order=1,
        grid_range=(-1.0, 1.0),
        task=task,
        device=torch.device("cpu"),
        seed=seed,
    )


@pytest.fixture(scope="module")
def data():
    bunch = make_informative(n_samples=300, n_features=D, n_informative=2, random_state=0)
    X = bunch.data.to_numpy()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    informative = [bunch.feature_names.index(name) for name in bunch.informative]
    return (
        torch.tensor(X, dtype=torch.float32),
        torch.tensor(bunch.target.to_numpy(), dtype=torch.int64),
        informative,
    )


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _ = data
    engine = _engine()
    before = engine.loss(X, y)
    engine.fit(X, y, epochs=40, batch_size=64, learning_rate=1e-2)
    return engine, before


def _global_states():
    # pykan seeds numpy's legacy global generator, so that is what is checked.
    return torch.get_rng_state(), np.random.get_state(), random.getstate()  # noqa: NPY002


def _same_states(a, b):
    return (
        torch.equal(a[0], b[0])
        and all(np.array_equal(u, v) for u, v in zip(a[1], b[1], strict=True))
        and a[2] == b[2]
    )


def test_protocol_shapes(fitted, data):
    engine, _ = fitted
    X, y, _ = data
    assert engine.predict_raw(X).shape == (300, 2)
    assert isinstance(engine.loss(X, y), float)
    contributions = engine.first_layer_contributions(X)
    assert contributions.shape == (300, D, HIDDEN)
    # Contributions are the whole first layer: summed over features they give its output.
    layer_out = engine.model_.act_fun[0](X)[0].detach()
    torch.testing.assert_close(contributions.sum(dim=1), layer_out, rtol=1e-5, atol=1e-5)
    for ord in (1, 2):
        norms = engine.coefficient_norms(ord)
        assert norms.shape == (D,) and np.all(norms >= 0)
    assert engine.sensitivity(X).shape == (D,)
    knockout = engine.knockout_losses(X, y)
    assert knockout.shape == (D,) and np.all(knockout >= 0)
    assert engine.feature_function(0, np.linspace(-2, 2, 7)).shape == (7, HIDDEN)
    assert engine.native_scores(X).shape == (D,)
    with pytest.raises(ValueError, match="ord must be 1 or 2"):
        engine.coefficient_norms(3)


def test_contributions_include_scales_and_mask(fitted, data):
    engine, _ = fitted
    X, _, _ = data
    layer = engine.model_.act_fun[0]
    x = X[:5]
    with torch.no_grad():
        spline = coef2curve(x, layer.grid, layer.coef, layer.k)
        expected = (
            layer.scale_base[None] * torch.nn.functional.silu(x)[:, :, None]
            + layer.scale_sp[None] * spline
        ) * layer.mask[None]
    torch.testing.assert_close(engine.first_layer_contributions(x), expected)
    # feature_function evaluates the same univariate functions.
    phi = engine.feature_function(2, x[:, 2].numpy())
    np.testing.assert_allclose(phi, expected[:, 2, :].numpy(), rtol=1e-5, atol=1e-6)


def test_training_reduces_loss(fitted, data):
    engine, before = fitted
    X, y, _ = data
    assert engine.loss(X, y) < 0.5 * before


def test_fit_is_seed_reproducible(data):
    X, y, _ = data
    a = _engine(seed=3).fit(X, y, epochs=2, batch_size=64, learning_rate=1e-2)
    b = _engine(seed=3).fit(X, y, epochs=2, batch_size=64, learning_rate=1e-2)
    # Same weights, batches and steps; pykan's CPU kernels may still round the last bit
    # differently between runs (seen: 6e-8 on outputs of order 1), so not bit-for-bit.
    torch.testing.assert_close(a.predict_raw(X), b.predict_raw(X), rtol=1e-5, atol=1e-6)


def test_regression_task(data):
    X, _, _ = data
    target = torch.sin(X[:, 0]) + 0.1 * X[:, 1]
    engine = _engine(task="regression", n_outputs=1)
    before = engine.loss(X, target)
    engine.fit(X, target, epochs=10, batch_size=64, learning_rate=1e-2)
    assert engine.predict_raw(X).shape == (300, 1)
    assert engine.loss(X, target) < before


def test_global_random_state_untouched(data):
    X, y, _ = data
    before = _global_states()
    engine = _engine(seed=0)
    engine.fit(X, y, epochs=1, batch_size=64, learning_rate=1e-2)
    engine.native_scores(X)
    assert _same_states(before, _global_states())


def test_no_files_written_to_working_directory(tmp_path, monkeypatch, data):
    X, y, _ = data
    monkeypatch.chdir(tmp_path)
    created = []
    real_tempdir = __import__("tempfile").TemporaryDirectory

    def spy(*args, **kwargs):
        tmp = real_tempdir(*args, **kwargs)
        created.append(tmp.name)
        return tmp

    monkeypatch.setattr("tempfile.TemporaryDirectory", spy)
    engine = _engine()
    engine.fit(X, y, epochs=1, batch_size=64, learning_rate=1e-2)
    engine.loss(X, y)
    engine.knockout_losses(X, y)
    engine.sensitivity(X)
    engine.native_scores(X)
    assert os.getcwd() == str(tmp_path)
    assert list(tmp_path.iterdir()) == []
    # pykan's checkpoint path lived in private directories that are gone now.
    assert created and engine.model_.ckpt_path.startswith(tuple(created))
    assert not any(os.path.exists(path) for path in created)


def test_working_directory_restored_on_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = _engine()
    with pytest.raises(IndexError):
        engine.predict_raw(torch.zeros((3, D - 1)))  # too few columns: pykan fails
    assert os.getcwd() == str(tmp_path)


def test_knockout_of_informative_feature_hurts_more(fitted, data):
    engine, _ = fitted
    X, y, informative = data
    intact = engine.loss(X, y)
    knockout = engine.knockout_losses(X, y)
    noise = [j for j in range(D) if j not in informative]
    assert knockout[informative].min() > knockout[noise].max()
    # The mask is restored: the intact loss is unchanged.
    assert engine.loss(X, y) == intact
    assert torch.all(engine.model_.act_fun[0].mask == 1)


def test_native_scores_rank_informative_first(fitted, data):
    engine, _ = fitted
    X, _, informative = data
    scores = engine.native_scores(X)
    assert set(np.argsort(scores)[::-1][:2]) == set(informative)


def test_pickle_round_trip(fitted, data):
    # pykan models hold lambdas; the engine pickles its weights and rebuilds the model.
    engine, _ = fitted
    X, y, _ = data
    restored = pickle.loads(pickle.dumps(engine))
    torch.testing.assert_close(restored.predict_raw(X), engine.predict_raw(X), rtol=0, atol=0)
    np.testing.assert_array_equal(restored.native_scores(X), engine.native_scores(X))


def test_bad_task_and_seed_range():
    with pytest.raises(ValueError, match="task must be 'classification' or 'regression'"):
        _engine(task="ranking")
    # numpy's global seed only takes 32 bits; larger seeds are folded, not rejected.
    assert _engine(seed=2**40 + 5).seed == 5


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")
def test_runs_on_cuda(data):
    X, y, informative = data
    engine = PykanEngine(
        n_inputs=D,
        n_outputs=2,
        hidden_width=HIDDEN,
        grid_size=2,
        spline_order=1,
        grid_range=(-1.0, 1.0),
        task="classification",
        device=torch.device("cuda"),
        seed=0,
    )
    engine.fit(X, y, epochs=5, batch_size=64, learning_rate=1e-2)  # CPU inputs are moved
    assert engine.predict_raw(X).device.type == "cuda"
    assert engine.first_layer_contributions(X).shape == (300, D, HIDDEN)
    for scores in (engine.sensitivity(X), engine.knockout_losses(X, y), engine.native_scores(X)):
        assert scores.shape == (D,) and np.isfinite(scores).all()


def test_chunked_evaluation_matches_one_batch(fitted, data, monkeypatch):
    engine, _ = fitted
    X, y, _ = data
    whole = engine.predict_raw(X), engine.sensitivity(X), engine.loss(X, y)
    # 7 rows per chunk: 300 rows go through in 43 uneven chunks.
    monkeypatch.setattr("tabsift.feature_selection._pykan_engine._CHUNK_ELEMENTS", 7 * D * HIDDEN)
    assert len(engine._row_chunks(300)) == 43
    torch.testing.assert_close(engine.predict_raw(X), whole[0])
    np.testing.assert_allclose(engine.sensitivity(X), whole[1], rtol=1e-5)
    assert engine.loss(X, y) == pytest.approx(whole[2], rel=1e-6)
