"""The JSON format of exported corrections, shared by the estimators and FrozenCorrections."""

import json
import math
from pathlib import Path

import numpy as np

from tabsift.residual._correction import Correction
from tabsift.residual._table import TableLayout

FORMAT = "tabsift.residual.corrections"
VERSION = 1


def _jsonable_classes(classes):
    if classes is None:
        return None
    return [c.item() if isinstance(c, np.generic) else c for c in np.asarray(classes).tolist()]


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
    if extra:
        data.update(extra)
    return data


def load_corrections(source):
    """Read and validate exported corrections from a path, JSON text or a dict."""
    if isinstance(source, (str, Path)) and not (
        isinstance(source, str) and source.lstrip().startswith("{")
    ):
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"corrections file {str(path)!r} does not exist; write it with "
                "export_corrections(path) on a fitted residual estimator."
            ) from None
    elif isinstance(source, str):
        data = json.loads(source)
    elif isinstance(source, dict):
        data = source
    else:
        raise TypeError(
            f"corrections must be a path, JSON text or a dict made by export_corrections(), "
            f"found {type(source).__name__}."
        )
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValueError(
            f"expected format={FORMAT!r} and version={VERSION}, found format="
            f"{data.get('format')!r} and version={data.get('version')!r}; pass the output of "
            "export_corrections()."
        )
    task = data.get("task")
    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification', found {task!r}.")
    corrections = [Correction.from_dict(item) for item in data.get("corrections", [])]
    names = [str(n) for n in data["feature_names"]]
    for c in corrections:
        unknown = [col for col in c.columns if col not in names]
        if unknown:
            raise ValueError(
                f"the correction {c.expression!r} reads column(s) {unknown} that are not among "
                f"the feature names {names}."
            )
    blend = float(data.get("blend_weight", 1.0))
    if not 0.0 <= blend <= 1.0:
        raise ValueError(f"blend_weight must be in [0, 1], found {blend!r}.")
    if task == "regression":
        intercept = float(data["intercept"])
        if any(c.target_class is not None for c in corrections):
            raise ValueError("regression corrections cannot have a target_class.")
    else:
        classes = data.get("classes")
        if not classes or len(classes) < 2:
            raise ValueError("classification corrections need the list of at least 2 classes.")
        intercept = np.asarray(data["intercept"], dtype=np.float64)
        if intercept.shape != (len(classes),):
            raise ValueError(
                f"intercept must have one value per class ({len(classes)}), found "
                f"{intercept.shape}."
            )
        for c in corrections:
            if c.target_class is None or not 0 <= c.target_class < len(classes):
                raise ValueError(
                    f"the correction {c.expression!r} has target_class {c.target_class!r}; "
                    f"expected a class index in 0..{len(classes) - 1}."
                )
    if not all(math.isfinite(v) for v in np.atleast_1d(intercept)):
        raise ValueError("intercept must be finite.")
    # Files written before the table layout existed hold numbers only.
    layout = (
        TableLayout.from_dict(data["table"], names)
        if data.get("table") is not None
        else TableLayout.numeric(names)
    )
    categorical = set(layout.category_names)
    for c in corrections:
        read = [col for col in c.columns if col in categorical]
        if read:
            raise ValueError(
                f"the correction {c.expression!r} reads the category column(s) {read}; "
                "formulas read number columns only."
            )
    return {
        "task": task,
        "feature_names": names,
        "classes": data.get("classes"),
        "intercept": intercept,
        "blend_weight": blend,
        "corrections": corrections,
        "layout": layout,
        "raw": data,
    }
