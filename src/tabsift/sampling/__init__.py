"""Row selectors: importance resampling and coreset/instance selection.

Every selector follows imbalanced-learn's sampler contract: ``fit_resample(X, y)``
returns the selected rows (and their targets) and ``sample_indices_`` records
which rows of the input were kept, so selectors compose in an
``imblearn.pipeline.Pipeline``. Any table is accepted (text, categories,
missing values); the rows returned are always the input's own, with their
dtypes.
"""

# Importance resampling (DSIR, issue 7).
from tabsift.sampling._dsir import ImportanceResampler

# Coreset and instance selectors (issue 8).
# isort: split
from tabsift.sampling._coreset_random import StratifiedRandomSelector
from tabsift.sampling._fit_on_selection import FitOnSelection
from tabsift.sampling._gais import GraphAttentionSelector
from tabsift.sampling._hybrid import HybridCoresetSelector
from tabsift.sampling._kcenter import KCenterSelector
from tabsift.sampling._llm_choice import LLMChoiceSelector
from tabsift.sampling._ot_coreset import OTCoresetSelector

# Displays of a selection (issue 16).
# isort: split
from tabsift.sampling._display import SelectionDisplay, WeightDisplay

__all__ = [
    "ImportanceResampler",
    "FitOnSelection",
    "GraphAttentionSelector",
    "HybridCoresetSelector",
    "KCenterSelector",
    "LLMChoiceSelector",
    "OTCoresetSelector",
    "SelectionDisplay",
    "StratifiedRandomSelector",
    "WeightDisplay",
]
