"""tabsift: explainable machine learning and data selection on tables.

The top-level package is kept light: submodules are imported on first
attribute access, so ``import tabsift`` does not load torch, scikit-learn,
xgboost or shap.
"""

import importlib

from tabsift._config import config_context, get_config, set_config

__version__ = "0.1.0.dev0"

_SUBMODULES = frozenset(
    {
        "backend",
        "cli",
        "datasets",
        "expr",
        "feature_selection",
        "llm",
        "report",
        "rules",
        "residual",
        "sampling",
        "table",
        "tree",
        "utils",
    }
)

__all__ = ["__version__", "config_context", "get_config", "set_config", *sorted(_SUBMODULES)]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"tabsift.{name}")
    raise AttributeError(f"module 'tabsift' has no attribute {name!r}")


def __dir__():
    return __all__
