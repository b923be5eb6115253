"""Decision trees evolved by a language model (LLEGO), or offline by genetic programming.

- :class:`EvolvedTreeClassifier` and :class:`EvolvedTreeRegressor` evolve a
  population of shallow trees, started from a random forest's trees: with an
  :class:`~tabsift.llm.LLMClient` the model does fitness-guided crossover and
  diversity-guided mutation on trees written as nested dicts; without one,
  genetic operators do the same jobs, so the estimators work offline.
- :class:`Tree` is the fitted tree (``tree_``): arrays over a complete binary
  tree, with ``export_text``, ``to_dict``, ``to_text`` and ``plot``.

A whole population is evaluated on all rows in ``max_depth`` vectorised steps
on the array backend (:mod:`tabsift.backend`); leaves are always refit on the
data. scikit-learn, matplotlib and openai are imported only when needed.
"""

from tabsift.tree._checkpoint import CheckpointError
from tabsift.tree._display import FitnessHistoryDisplay, TreeDisplay
from tabsift.tree._evolved import EvolvedTreeClassifier
from tabsift.tree._evolved_regressor import EvolvedTreeRegressor
from tabsift.tree._tree import Tree

__all__ = [
    "CheckpointError",
    "EvolvedTreeClassifier",
    "EvolvedTreeRegressor",
    "FitnessHistoryDisplay",
    "Tree",
    "TreeDisplay",
]
