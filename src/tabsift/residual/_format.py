"""The JSON format of exported corrections: its name, version, error type and writer.

:func:`corrections_to_dict` writes what the estimators' ``export_corrections``
returns; :mod:`._load` reads it back, strictly, for :class:`FrozenCorrections`.
"""

import numpy as np

from tabsift.utils import plain

FORMAT = "tabsift.residual.corrections"
VERSION = 1

TASKS = ("regression", "classification")
# How corrections name their class: "label" (written since labels replaced indices) or
# "index" (a position in ``classes``; files without the key, which older tabsift wrote).
TARGET_CLASS_KINDS = ("label", "index")


class CorrectionsFormatError(ValueError):
    """Exported corrections that cannot be loaded: a damaged or hand-edited document.

    The message names where the document came from (the file, or "the
    corrections dict") and the field that is wrong, as a path such as
    ``corrections[2].coefficient``.

    Attributes
    ----------
    source : str
        Where the document came from.
    field : str or None
        The bad field, or None when the document as a whole is unreadable.

    Examples
    --------
    >>> from tabsift.residual._format import CorrectionsFormatError
    >>> from tabsift.residual._load import load_corrections
    >>> try:
    ...     load_corrections({"format": "tabsift.residual.corrections", "version": 1,
    ...                       "task": "regression", "feature_names": "x0", "corrections": []})
    ... except CorrectionsFormatError as err:
    ...     err.field
    'feature_names'
    """

    def __init__(self, message, *, source=None, field=None):
        super().__init__(message)
        self.source = source
        self.field = field


def _jsonable_classes(classes):
    if classes is None:
        return None
    return [plain(c) for c in np.asarray(classes).tolist()]


def class_labels(classes):
    """``classes`` as the array a fitted classifier holds: strings as ``object``, like pandas.

    Examples
    --------
    >>> from tabsift.residual._format import class_labels
    >>> class_labels(["no", "yes"]).dtype, class_labels([0, 1]).dtype
    (dtype('O'), dtype('int64'))
    """
    if any(isinstance(label, str) for label in classes):
        return np.asarray(list(classes), dtype=object)
    return np.asarray(list(classes))


def corrections_to_dict(
    *, task, feature_names, classes, intercept, blend_weight, corrections, extra=None
):
    """Build the exported dict (JSON-able; floats round-trip exactly through json)."""
    intercept = float(intercept) if task == "regression" else [float(v) for v in intercept]
    data = {
        "format": FORMAT,
        "version": VERSION,
        "task": task,
        "feature_names": [str(name) for name in feature_names],
        "classes": _jsonable_classes(classes),
        "intercept": intercept,
        "blend_weight": float(blend_weight),
        "corrections": [c.to_dict() for c in corrections],
    }
    if task == "classification":
        # Corrections name their class by its label (Correction.target_class), as read.
        data["target_class_kind"] = "label"
    if extra:
        data.update(extra)
    return data
