"""The coreset selectors' standardisation reads large tables block by block."""

import numpy as np
import pytest

from tabsift.sampling._coreset_embedding import weighted_moments


@pytest.mark.parametrize("weighted", [False, True])
def test_block_moments_equal_one_pass_moments(weighted):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((5_000, 6)) * [1, 10, 1e-3, 5, 1, 2] + [0, 3, -7, 1e4, 0, 0]).astype(
        np.float32
    )
    X[:, 4] = np.float32(0.1)  # constant: centred only, even with rounding in the sums
    w = rng.integers(0, 4, len(X)).astype(float) if weighted else None
    mean, scale = weighted_moments(X, w, block_rows=777)
    ref_mean, ref_scale = weighted_moments(X, w, block_rows=10**9)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scale, ref_scale, rtol=1e-12)
    assert scale[4] == 1.0 and ref_scale[4] == 1.0
    expected = np.average(X.astype(np.float64), axis=0, weights=w)
    np.testing.assert_allclose(mean, expected, rtol=1e-12, atol=1e-12)


def test_block_moments_make_no_float64_copy():
    import tracemalloc

    X = np.ones((200_000, 20), dtype=np.float32)
    X[::2] = 3.0
    tracemalloc.start()
    weighted_moments(X, block_rows=10_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < X.nbytes / 2  # a float64 copy would be twice X
