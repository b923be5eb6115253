"""Boolean rule learners: expressive Boolean formulas over raw table columns.

- :class:`BooleanRuleClassifier` learns one rule per class, a tree of
  ``And``, ``Or``, ``AtLeast(k)``, ``AtMost(k)`` and ``Choose(k)`` operators
  over literals such as ``glucose > 127``, by simulated annealing (BoolXAI),
  with optional LLM help (BoolXLLM): feature pre-selection and
  plain-language descriptions.
- :class:`Binarizer` turns numeric and categorical columns into those
  literals (quantile, user or LLM-proposed thresholds). It reads raw tables
  as :mod:`tabsift.table` describes them: numbers stored as text get
  thresholds, placeholders such as ``?`` are missing values (literals false),
  columns without any value give no literal.
- :class:`Rule`, :class:`Operator`, :class:`Literal` and :class:`Constant`
  are the learned rule as data: evaluated by vectorised code, printed by
  ``export_text``, serialised by ``to_dict`` / ``from_dict``, drawn by ``plot``.

The search caches each node's boolean vector over the rows, so a move
re-evaluates only the changed node and its ancestors. It runs on NumPy
(sequential moves on at most ``max_samples`` rows: per-move overhead, not
array work, dominates). Applying a rule (:meth:`Rule.evaluate`,
:meth:`Binarizer.transform`, ``predict``, ``predict_proba``) runs on the
input's array namespace (:func:`tabsift.backend.get_namespace`: NumPy,
``array_api_strict`` or CuPy, or the configured ``array_backend``).
"""

from tabsift.rules._binarizer import Binarizer
from tabsift.rules._classifier import BooleanRuleClassifier
from tabsift.rules._display import RuleDisplay
from tabsift.rules._nodes import Constant, Literal, Operator
from tabsift.rules._rule import Rule

__all__ = [
    "Binarizer",
    "BooleanRuleClassifier",
    "Constant",
    "Literal",
    "Operator",
    "Rule",
    "RuleDisplay",
]
