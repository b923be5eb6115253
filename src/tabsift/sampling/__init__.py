"""Row selectors: importance resampling and coreset/instance selection.

Every selector follows imbalanced-learn's sampler contract: ``fit_resample(X, y)``
returns the selected rows (and their targets) and ``sample_indices_`` records
which rows of the input were kept, so selectors compose in an
``imblearn.pipeline.Pipeline``.
"""

# Importance resampling (DSIR, issue 7).

# Coreset and instance selectors (issue 8).

__all__ = []
