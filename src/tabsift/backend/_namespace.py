"""Namespace lookup, conversion between backends and DLPack hand-off to torch."""

import numpy as np

from tabsift._config import get_config
from tabsift.utils import import_optional_dependency

_KNOWN = ("numpy", "array_api_strict", "cupy")


def _module_root(x):
    return type(x).__module__.split(".")[0]


def is_cupy_array(x):
    """Return True when ``x`` is a CuPy array, without importing CuPy.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import is_cupy_array
    >>> is_cupy_array(np.zeros(3))
    False
    """
    return _module_root(x) == "cupy"


def is_torch_tensor(x):
    """Return True when ``x`` is a torch tensor, without importing torch.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import is_torch_tensor
    >>> is_torch_tensor(np.ones(3))
    False
    """
    return _module_root(x) == "torch"


def is_pandas(x):
    """Return True when ``x`` is a pandas DataFrame, Series or Index.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tabsift.backend import is_pandas
    >>> is_pandas(pd.Series([1.0, 2.0])), is_pandas(np.ones(2))
    (True, False)
    """
    return _module_root(x) == "pandas"


def is_dask_collection(x):
    """Return True when ``x`` is a dask array, DataFrame or bag, without importing dask.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import is_dask_collection
    >>> is_dask_collection(np.ones(3))
    False
    """
    return _module_root(x) == "dask" and hasattr(x, "dask") and hasattr(x, "npartitions")


def array_library(x):
    """Return the name of the library ``x`` comes from (``"numpy"``, ``"cupy"``, ...).

    The top-level module of ``x``'s type, so no library is imported to ask.

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import array_library
    >>> array_library(np.ones(2)), array_library([1.0])
    ('numpy', 'builtins')
    """
    return _module_root(x)


def namespace_by_name(name):
    """Return the array-API compatible namespace called ``name``.

    Parameters
    ----------
    name : {"numpy", "array_api_strict", "cupy"}
        The backend's name.

    Returns
    -------
    xp : module
        ``array_api_compat.numpy``, ``array_api_strict`` or
        ``array_api_compat.cupy``.

    Examples
    --------
    >>> from tabsift.backend import namespace_by_name, namespace_name
    >>> namespace_name(namespace_by_name("numpy"))
    'numpy'
    """
    if name == "numpy":
        import array_api_compat.numpy as xp

        return xp
    if name == "array_api_strict":
        return import_optional_dependency(
            "array_api_strict", extra="dev", purpose="array_backend='array_api_strict'"
        )
    if name == "cupy":
        import_optional_dependency("cupy", extra="gpu", purpose="array_backend='cupy'")
        import array_api_compat.cupy as xp

        return xp
    raise ValueError(
        f"Unknown array backend {name!r}; expected one of {list(_KNOWN)}. "
        "Set it with tabsift.set_config(array_backend=...)."
    )


def namespace_name(xp):
    """Return the short name of an array namespace (``"numpy"``, ``"cupy"``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import get_namespace, namespace_name
    >>> namespace_name(get_namespace(np.ones(2)))
    'numpy'
    """
    name = xp.__name__
    if name.startswith("array_api_compat."):
        name = name.split(".")[1]
    return name.split(".")[0]


def available_namespaces():
    """List the array backends that can be used on this machine.

    CuPy counts only when it imports and sees a CUDA device.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from tabsift.backend import available_namespaces
    >>> "numpy" in available_namespaces()
    True
    """
    names = ["numpy"]
    try:
        import array_api_strict  # noqa: F401

        names.append("array_api_strict")
    except ImportError:
        pass
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            names.append("cupy")
    except Exception:  # ImportError, or a CUDA error when no driver/device is present
        pass
    return names


def get_namespace(*arrays, xp=None):
    """Return the array namespace to compute in for ``arrays``.

    Parameters
    ----------
    *arrays : array-like
        Arrays, pandas objects, lists or None (ignored). pandas, lists and
        scalars count as NumPy.
    xp : module, default=None
        If given, returned as is.

    Returns
    -------
    xp : module
        An array-API compatible namespace. When
        ``tabsift.get_config()["array_backend"]`` is set, that backend is
        returned whatever the input.

    Raises
    ------
    ValueError
        When the arrays come from different libraries.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from tabsift.backend import get_namespace
    >>> get_namespace(pd.DataFrame({"a": [1.0]}), np.ones(1)).__name__
    'array_api_compat.numpy'
    """
    if xp is not None:
        return xp
    forced = get_config()["array_backend"]
    if forced is not None:
        return namespace_by_name(forced)
    import array_api_compat

    candidates = [
        a
        for a in arrays
        if a is not None
        and not is_pandas(a)
        and not isinstance(a, (list, tuple, int, float, bool, np.generic))
        and not is_torch_tensor(a)
    ]
    if not candidates:
        return namespace_by_name("numpy")
    try:
        return array_api_compat.array_namespace(*candidates)
    except TypeError as err:
        kinds = sorted({_module_root(a) for a in candidates})
        raise ValueError(
            f"Arrays from different libraries were mixed ({', '.join(kinds)}). Move them to "
            "one backend first, e.g. with tabsift.backend.asarray(x, xp=...)."
        ) from err


def to_numpy(x):
    """Return ``x`` as a NumPy array (copying from the GPU if needed).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabsift.backend import to_numpy
    >>> to_numpy(pd.Series([1, 2]))
    array([1, 2])
    """
    if isinstance(x, np.ndarray):
        return x
    root = _module_root(x)
    if root == "pandas":
        return x.to_numpy()
    if root == "cupy":
        return x.get()
    if root == "torch":
        return x.detach().cpu().numpy()
    if root == "array_api_strict":
        return np.from_dlpack(x)
    return np.asarray(x)


def asarray(x, *, xp=None, dtype=None):
    """Convert ``x`` to an array of namespace ``xp``.

    Parameters
    ----------
    x : array-like
        NumPy, pandas, CuPy, array_api_strict, torch or nested lists.
    xp : module, default=None
        Target namespace; by default :func:`get_namespace` of ``x``.
    dtype : dtype or str, default=None
        Target dtype, as a name (``"float64"``) or a dtype of ``xp``.

    Returns
    -------
    array : array of namespace ``xp``

    Examples
    --------
    >>> from tabsift.backend import asarray
    >>> asarray([[1, 2]], dtype="float32").dtype
    dtype('float32')
    """
    if xp is None:
        xp = get_namespace(x)
    if isinstance(dtype, str):
        dtype = getattr(xp, dtype)
    target = namespace_name(xp)
    source = _module_root(x)
    if source == target or (source == "numpy" and target == "numpy"):
        return xp.asarray(x, dtype=dtype) if dtype is not None else xp.asarray(x)
    if target == "cupy" and source == "torch":
        return xp.asarray(xp.from_dlpack(x), dtype=dtype)
    host = to_numpy(x)
    if target == "numpy":
        return np.asarray(host, dtype=dtype)
    return xp.asarray(host, dtype=dtype) if dtype is not None else xp.asarray(host)


def device(x):
    """Return the device ``x`` lives on (``"cpu"`` for NumPy arrays).

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import device
    >>> device(np.ones(3))
    'cpu'
    """
    import array_api_compat

    return array_api_compat.device(x)


def to_torch(x, *, device=None, dtype=None):
    """Hand ``x`` to torch without a copy where possible (DLPack).

    NumPy arrays share memory with the returned CPU tensor; CuPy arrays are
    passed through DLPack and stay on their GPU.

    Parameters
    ----------
    x : array-like
    device : str or torch.device, default=None
        Move the tensor there after the hand-off (a copy only if it differs).
    dtype : torch.dtype, default=None

    Returns
    -------
    tensor : torch.Tensor

    Examples
    --------
    >>> import numpy as np
    >>> from tabsift.backend import to_torch
    >>> a = np.arange(3.0)
    >>> t = to_torch(a)
    >>> t[0] = 7.0
    >>> float(a[0])
    7.0
    """
    torch = import_optional_dependency("torch")
    root = _module_root(x)
    if root == "torch":
        t = x
    elif root in ("cupy", "array_api_strict"):
        t = torch.from_dlpack(x)
    else:
        host = to_numpy(x)
        if not host.flags.writeable or not host.flags.c_contiguous and not host.flags.f_contiguous:
            host = np.array(host)
        t = torch.from_numpy(host)
    if device is not None or dtype is not None:
        t = t.to(device=device, dtype=dtype)
    return t


def from_torch(t, *, xp):
    """Return torch tensor ``t`` as an array of namespace ``xp`` (DLPack when on GPU).

    Examples
    --------
    >>> import torch
    >>> from tabsift.backend import from_torch, namespace_by_name
    >>> from_torch(torch.ones(2), xp=namespace_by_name("numpy"))
    array([1., 1.], dtype=float32)
    """
    t = t.detach()
    name = namespace_name(xp)
    if name == "cupy":
        return xp.from_dlpack(t)
    host = t.cpu().numpy()
    if name == "numpy":
        return host
    return xp.asarray(host)

