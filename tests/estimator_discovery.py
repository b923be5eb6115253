"""Every public tabsift estimator, found by discovery (shared by the common checks and the
real-table matrix, so a new estimator is covered by both as soon as it is exported).

Estimators are the classes in the ``__all__`` of a public tabsift subpackage that
derive from scikit-learn's ``BaseEstimator``.
"""

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator

import tabsift


def _public_modules():
    for info in pkgutil.walk_packages(tabsift.__path__, prefix="tabsift."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        yield importlib.import_module(info.name)


def discover_estimators():
    """Return ``[(name, class)]`` for every public tabsift estimator, sorted by name."""
    found = {}
    for module in _public_modules():
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and obj.__module__.startswith("tabsift.")
                and not inspect.isabstract(obj)
            ):
                found[name] = obj
    return sorted(found.items())
