"""Feature selection: keep the columns a model relies on.

- :class:`KANSelector` scores features with Kolmogorov-Arnold networks
  (KAN-L1, KAN-L2, KAN-SI, KAN-KO), trained per cross-validation fold.
- :class:`ShapSelector` ranks features by mean absolute SHAP value of
  gradient-boosted trees (xgboost + shap): the practical baseline.
- :class:`PermutationImportanceSelector` ranks features by held-out
  permutation importance (the paper's random-forest baseline).
- :func:`evaluate_selectors` compares selectors with selection done inside
  each cross-validation training fold; :func:`paper_baselines` builds the
  paper's baselines.

Selectors that take a fraction keep ``floor(fraction * n_features)``
features, at least one, as scikit-learn's RFE does. torch, xgboost, shap
and matplotlib are imported only when a selector is fitted or plotted.

Every selector takes a raw mixed table (text and category columns, numbers
stored as text with ``?`` for missing) and ranks the columns it was given:
a categorical column is one feature, scored over all its encoded columns,
so ``get_feature_names_out`` names input columns and ``transform`` of a
DataFrame returns the kept columns as they were. Missing values are accepted
where the model honours them (XGBoost natively; the permutation baseline
imputes inside its model); KANSelector names each numeric column with
missing values instead.
"""

from tabsift.feature_selection._baselines import paper_baselines
from tabsift.feature_selection._display import ImportanceDisplay, ShapeDisplay
from tabsift.feature_selection._evaluate import SelectorEvaluation, evaluate_selectors
from tabsift.feature_selection._kan import KANSelector
from tabsift.feature_selection._permutation import PermutationImportanceSelector
from tabsift.feature_selection._shap import ShapSelector

__all__ = [
    "ImportanceDisplay",
    "KANSelector",
    "PermutationImportanceSelector",
    "SelectorEvaluation",
    "ShapeDisplay",
    "ShapSelector",
    "evaluate_selectors",
    "paper_baselines",
]
