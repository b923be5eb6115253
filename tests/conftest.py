"""Shared fixtures: the array namespaces installed here, and torch's and BLAS's thread counts."""

import importlib.util

import numpy as np
import pytest

from tabsift.backend import available_namespaces, namespace_by_name

_ALL_BACKENDS = ("numpy", "array_api_strict", "cupy")


def pytest_configure(config):
    # On CI's 2 cores, torch's default thread pool fights pytest for the CPU.
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(1)
    # Same for the BLAS behind numpy and scikit-learn: small solves (LogisticRegression in
    # the common checks) run several times slower when their threads wait for a busy core.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _backend_params():
    available = set(available_namespaces())
    params = []
    for name in _ALL_BACKENDS:
        marks = []
        if name not in available:
            reason = (
                "cupy is not installed or no CUDA device is visible"
                if name == "cupy"
                else f"{name} is not installed (pip install 'tabsift[dev]')"
            )
            marks.append(pytest.mark.skip(reason=reason))
        if name == "cupy":
            marks.append(pytest.mark.gpu)
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.fixture(params=_backend_params())
def xp(request):
    """Every installed array namespace: numpy, array_api_strict, cupy (GPU only)."""
    return namespace_by_name(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
