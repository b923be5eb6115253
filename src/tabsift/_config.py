"""Global configuration, scoped per thread, in the style of ``sklearn.set_config``."""

import threading
from contextlib import contextmanager

_ARRAY_BACKENDS = (None, "numpy", "array_api_strict", "cupy")

_global_config = {
    "array_backend": None,
}
_threadlocal = threading.local()


def _get_threadlocal_config():
    if not hasattr(_threadlocal, "config"):
        _threadlocal.config = _global_config.copy()
    return _threadlocal.config


def get_config():
    """Return a copy of tabsift's current configuration.

    Returns
    -------
    config : dict
        Keys are the parameters of :func:`set_config`.

    Examples
    --------
    >>> import tabsift
    >>> tabsift.get_config()["array_backend"] is None
    True
    """
    return _get_threadlocal_config().copy()


def set_config(array_backend="keep"):
    """Set tabsift's configuration for the current thread.

    Parameters
    ----------
    array_backend : {None, "numpy", "array_api_strict", "cupy"}, default="keep"
        The array namespace estimators compute in. ``None`` (the initial
        value) means: follow the input, NumPy for NumPy and pandas input,
        CuPy for CuPy input. A name forces that namespace; input is moved
        to it. ``"keep"`` leaves the current value unchanged.

    See Also
    --------
    config_context : Set the configuration inside a ``with`` block only.

    Examples
    --------
    >>> import tabsift
    >>> tabsift.set_config(array_backend="numpy")
    >>> tabsift.get_config()["array_backend"]
    'numpy'
    >>> tabsift.set_config(array_backend=None)
    """
    config = _get_threadlocal_config()
    if array_backend != "keep":
        if array_backend not in _ARRAY_BACKENDS:
            raise ValueError(
                f"array_backend={array_backend!r} is not supported; expected one of "
                f"{list(_ARRAY_BACKENDS)}."
            )
        config["array_backend"] = array_backend


@contextmanager
def config_context(*, array_backend="keep"):
    """Temporarily change tabsift's configuration inside a ``with`` block.

    Parameters
    ----------
    array_backend : {None, "numpy", "array_api_strict", "cupy"}, default="keep"
        See :func:`set_config`.

    Examples
    --------
    >>> import tabsift
    >>> with tabsift.config_context(array_backend="numpy"):
    ...     tabsift.get_config()["array_backend"]
    'numpy'
    >>> tabsift.get_config()["array_backend"] is None
    True
    """
    old = get_config()
    set_config(array_backend=array_backend)
    try:
        yield
    finally:
        set_config(**old)
