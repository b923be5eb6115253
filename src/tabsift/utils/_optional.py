"""Lazy import of optional dependencies with an error that names the extra to install.

Minimum versions and the extra that provides each library are read from
tabsift's own package metadata (``setup.cfg``), so they are stated once.
"""

import importlib
import re
from functools import lru_cache
from importlib import metadata

from packaging.requirements import Requirement
from packaging.version import Version

# Import name -> distribution names that provide it (first is the one the extra lists).
_DISTRIBUTIONS = {
    "cupy": ("cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x", "cupy"),
    "dask": ("dask",),
    "distributed": ("distributed",),
    "apricot": ("apricot-select",),
    "data_selection": ("data-selection",),
    "array_api_strict": ("array-api-strict",),
    "line_profiler": ("line_profiler", "line-profiler"),
    "sphinx": ("sphinx",),
    "pyarrow": ("pyarrow",),
    "kan": ("pykan",),
    "ot": ("POT", "pot"),
    "sklearn": ("scikit-learn",),
}


def _normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=1)
def _declared_requirements():
    """Map normalised distribution name -> (extra or None, Requirement)."""
    try:
        requires = metadata.requires("tabsift") or []
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return {}
    declared = {}
    for line in requires:
        req = Requirement(line)
        if req.name.lower() == "tabsift":
            continue
        extra = None
        if req.marker is not None:
            match = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", str(req.marker))
            extra = match.group(1) if match else None
        key = _normalise(req.name)
        # A core requirement wins over an extra; the first extra listed wins otherwise.
        if key not in declared or (extra is None and declared[key][0] is not None):
            declared[key] = (extra, req)
    return declared


def _installed_version(module, name):
    for dist in _DISTRIBUTIONS.get(name, (name,)):
        try:
            return dist, metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None, getattr(module, "__version__", None)


def import_optional_dependency(name, *, extra=None, min_version=None, purpose=None):
    """Import an optional library lazily, with an error that says how to install it.

    Parameters
    ----------
    name : str
        The module to import, for example ``"cupy"`` or ``"dask.dataframe"``.
    extra : str, default=None
        The tabsift extra that provides the library. By default it is looked up
        in tabsift's package metadata.
    min_version : str, default=None
        The oldest supported version. By default the one declared in tabsift's
        package metadata, if any.
    purpose : str, default=None
        What the library is needed for, shown in the error message.

    Returns
    -------
    module : module
        The imported module.

    Raises
    ------
    ImportError
        When the library is missing or older than ``min_version``; the message
        names the pip extra to install.

    Examples
    --------
    >>> from tabsift.utils import import_optional_dependency
    >>> np = import_optional_dependency("numpy")
    >>> np.__name__
    'numpy'
    """
    top = name.split(".")[0]
    dists = _DISTRIBUTIONS.get(top, (top,))
    declared = _declared_requirements()
    entry = next((declared[_normalise(d)] for d in dists if _normalise(d) in declared), None)
    if extra is None and entry is not None:
        extra = entry[0]
    if min_version is None and entry is not None:
        specs = [s.version for s in entry[1].specifier if s.operator in (">=", "==", "~=")]
        min_version = specs[0] if specs else None

    if extra is not None:
        how = f'pip install "tabsift[{extra}]"'
    else:
        how = f"pip install {dists[0]}"
    why = f" (needed for {purpose})" if purpose else ""
    try:
        module = importlib.import_module(name)
    except ImportError as err:
        raise ImportError(
            f"Missing optional dependency '{dists[0]}'{why}. Install it with: {how}"
        ) from err

    if min_version is not None:
        dist, version = _installed_version(importlib.import_module(top), top)
        if version is not None and Version(version.split("+")[0]) < Version(min_version):
            raise ImportError(
                f"tabsift needs {dists[0]}>={min_version}{why}, but version {version} is "
                f"installed. Upgrade it with: {how} --upgrade"
            )
    return module
