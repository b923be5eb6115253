import numpy as np
import pandas as pd
import pytest

import tabsift
from tabsift.backend import (
    asarray,
    column_mean_std,
    from_torch,
    get_namespace,
    gumbel_top_k,
    is_cupy_array,
    is_dask_collection,
    min_sq_distances,
    namespace_by_name,
    namespace_name,
    sigmoid,
    sq_distances,
    to_numpy,
    to_torch,
)


def test_namespace_from_numpy_pandas_and_lists():
    assert namespace_name(get_namespace(np.ones(3))) == "numpy"
    assert namespace_name(get_namespace(pd.DataFrame({"a": [1.0]}))) == "numpy"
    assert namespace_name(get_namespace([1, 2], None)) == "numpy"


def test_namespace_follows_input_and_roundtrips(xp):
    a = asarray(np.arange(6.0).reshape(2, 3), xp=xp)
    assert namespace_name(get_namespace(a)) == namespace_name(xp)
    np.testing.assert_array_equal(to_numpy(a), np.arange(6.0).reshape(2, 3))


def test_config_forces_backend():
    pytest.importorskip("array_api_strict")
    with tabsift.config_context(array_backend="array_api_strict"):
        assert namespace_name(get_namespace(np.ones(2))) == "array_api_strict"
    assert namespace_name(get_namespace(np.ones(2))) == "numpy"


def test_mixed_backends_is_a_clear_error():
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(ValueError, match="different libraries"):
        get_namespace(np.ones(2), strict.asarray([1.0, 2.0]))


def test_unknown_backend_names_the_parameter():
    with pytest.raises(ValueError, match="array_backend"):
        tabsift.set_config(array_backend="tensorflow")
    with pytest.raises(ValueError, match="Unknown array backend 'jax'"):
        namespace_by_name("jax")


def test_is_dask_collection_by_module_name():
    dask_array = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")
    assert is_dask_collection(dask_array.ones((4, 2), chunks=2))
    assert is_dask_collection(dd.from_pandas(pd.DataFrame({"a": [1.0, 2.0]}), npartitions=1))
    assert not is_dask_collection(np.ones(2))
    assert not is_dask_collection(pd.DataFrame({"a": [1.0]}))


def test_is_cupy_array_does_not_import_cupy():
    import sys

    before = "cupy" in sys.modules
    assert not is_cupy_array(np.ones(1))
    assert ("cupy" in sys.modules) == before


def test_column_mean_std(xp, rng):
    X_np = rng.normal(size=(200, 4)) * [1.0, 2.0, 3.0, 0.0] + 5
    mean, scale = column_mean_std(asarray(X_np, xp=xp))
    np.testing.assert_allclose(to_numpy(mean), X_np.mean(axis=0))
    expected = X_np.std(axis=0)
    expected[3] = 1.0
    np.testing.assert_allclose(to_numpy(scale), expected)


def test_sigmoid_is_stable(xp):
    x_np = np.array([-800.0, -3.0, 0.0, 2.5, 800.0])
    s = to_numpy(sigmoid(asarray(x_np, xp=xp)))
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s[1:4], 1 / (1 + np.exp(-x_np[1:4])))
    assert s[0] == 0.0 and s[-1] == 1.0


def test_distances_match_brute_force_and_chunks(xp, rng):
    X_np = rng.normal(size=(103, 5))
    C_np = rng.normal(size=(7, 5))
    brute = ((X_np[:, None, :] - C_np[None, :, :]) ** 2).sum(-1)
    D = to_numpy(sq_distances(asarray(X_np, xp=xp), asarray(C_np, xp=xp)))
    np.testing.assert_allclose(D, brute, atol=1e-10)
    d, i = min_sq_distances(asarray(X_np, xp=xp), asarray(C_np, xp=xp), chunk_size=10)
    np.testing.assert_allclose(to_numpy(d), brute.min(axis=1), atol=1e-10)
    np.testing.assert_array_equal(to_numpy(i), brute.argmin(axis=1))


def test_gumbel_top_k_same_rows_on_every_backend(xp):
    logw = np.log(np.linspace(0.1, 1.0, 50))
    ref = gumbel_top_k(logw, 10, random_state=3)
    got = gumbel_top_k(asarray(logw, xp=xp), 10, random_state=3)
    np.testing.assert_array_equal(to_numpy(got), ref)
    assert len(set(ref.tolist())) == 10


def test_gumbel_top_k_samples_proportionally():
    # One draw per seed: the empirical frequency of index 1 approaches 3/4.
    logw = np.log(np.array([1.0, 3.0]))
    hits = sum(int(gumbel_top_k(logw, 1, random_state=s)[0] == 1) for s in range(2000))
    assert abs(hits / 2000 - 0.75) < 0.04


def test_gumbel_top_k_never_picks_zero_weight_and_checks_k():
    logw = np.array([0.0, -np.inf, 0.0, 0.0])
    for seed in range(20):
        assert 1 not in gumbel_top_k(logw, 3, random_state=seed).tolist()
    with pytest.raises(ValueError, match="k must be between 0"):
        gumbel_top_k(logw, 5)


def test_torch_handoff_shares_memory():
    torch = pytest.importorskip("torch")
    a = np.zeros(4)
    t = to_torch(a)
    t += 1
    np.testing.assert_array_equal(a, np.ones(4))
    back = from_torch(t * 2, xp=namespace_by_name("numpy"))
    np.testing.assert_array_equal(back, 2 * np.ones(4))
    assert to_torch(pd.Series([1.0, 2.0]), dtype=torch.float32).dtype == torch.float32


def test_torch_handoff_from_strict(xp):
    torch = pytest.importorskip("torch")
    a = asarray(np.arange(3.0), xp=xp)
    t = to_torch(a)
    assert isinstance(t, torch.Tensor)
    np.testing.assert_array_equal(t.cpu().numpy(), np.arange(3.0))


def test_top_k_ties_broken_by_index_on_every_backend(xp):
    keys = np.array([1.0, 3.0, 3.0, 2.0, 3.0, 3.0, 0.0, 2.0])
    expected = np.argsort(-keys, kind="stable")[:3]
    assert gumbel_top_k(keys, 3, top_k=True).tolist() == expected.tolist() == [1, 2, 4]
    got = gumbel_top_k(asarray(keys, xp=xp), 3, top_k=True)
    assert to_numpy(got).tolist() == expected.tolist()
    assert gumbel_top_k(keys, 0, top_k=True).tolist() == []
    assert sorted(gumbel_top_k(keys, 8, top_k=True).tolist()) == list(range(8))
