"""One array backend for every estimator: NumPy by default, CuPy on a GPU.

The namespace is chosen once, from the input, with ``array_api_compat``
(pandas and lists count as NumPy) and can be forced with
``tabsift.set_config(array_backend=...)``. Estimators record the namespace they
were fit on and refuse input from another one with a clear error.

Helpers here are the only place tabsift asks "which array library is this?".
CuPy and torch are never imported just to answer that question: types are
recognised by their module name.
"""

from tabsift.backend._kernels import (
    column_mean_std,
    gumbel_top_k,
    min_sq_distances,
    sigmoid,
    sq_distances,
)
from tabsift.backend._namespace import (
    array_library,
    asarray,
    available_namespaces,
    device,
    from_torch,
    get_namespace,
    is_cupy_array,
    is_dask_collection,
    is_pandas,
    is_torch_tensor,
    namespace_by_name,
    namespace_name,
    to_numpy,
    to_torch,
)

__all__ = [
    "array_library",
    "asarray",
    "available_namespaces",
    "column_mean_std",
    "device",
    "from_torch",
    "get_namespace",
    "gumbel_top_k",
    "is_cupy_array",
    "is_dask_collection",
    "is_pandas",
    "is_torch_tensor",
    "min_sq_distances",
    "namespace_by_name",
    "namespace_name",
    "sigmoid",
    "sq_distances",
    "to_numpy",
    "to_torch",
]
