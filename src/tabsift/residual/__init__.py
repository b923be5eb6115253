"""Residual-correction agents: explicit correction formulas on top of a base model (MARICL).

- :class:`ResidualAgentRegressor` and :class:`ResidualAgentClassifier` fit a
  base model, look at its out-of-fold residuals, and add a few correction
  terms, each one formula in tabsift's safe expression language
  (:mod:`tabsift.expr`) with a fitted coefficient, kept only when it lowers
  the loss on held-out rows. Classification corrections act on the logits.
- Without an LLM (``llm=None``) an offline proposer searches products,
  ratios, squares, saturations, thresholds and sigmoid interactions over the
  features most related to the residuals (mean absolute TreeSHAP value of a
  small xgboost model fit to them). With an :class:`~tabsift.llm.LLMClient`,
  encoder, decoder and critic agents write and refine the formulas.
- Raw tables are accepted: formulas read the number columns (a correction
  adds 0 on a row where one of its columns is missing); text and category
  columns reach the base model only, natively for the default XGBoost base,
  one-hot for any other.
- :class:`Correction` is one kept term; :class:`FrozenCorrections` applies
  exported corrections to a prefit base model with no LLM call;
  :func:`plot_residuals` draws validation residuals before and after.

Model output is parsed, never executed. xgboost and matplotlib are imported
only when needed.
"""

from tabsift.residual._classifier import ResidualAgentClassifier
from tabsift.residual._correction import Correction
from tabsift.residual._display import ResidualDisplay
from tabsift.residual._format import CorrectionsFormatError
from tabsift.residual._frozen import FrozenCorrections
from tabsift.residual._plot import plot_residuals
from tabsift.residual._regressor import ResidualAgentRegressor

__all__ = [
    "CorrectionsFormatError",
    "Correction",
    "FrozenCorrections",
    "ResidualAgentClassifier",
    "ResidualAgentRegressor",
    "ResidualDisplay",
    "plot_residuals",
]
