"""Reading exported corrections back: strict, field by field.

A document is read strictly: every field is checked for its type and range
before anything is built from it, and a bad one is reported by name
(``corrections[2].coefficient``) with the file it came from.
"""

import json
import numbers
from pathlib import Path

import numpy as np

from tabsift.expr import Expression, ExpressionError, parse
from tabsift.residual._correction import SOURCES, Correction
from tabsift.residual._format import (
    FORMAT,
    TARGET_CLASS_KINDS,
    TASKS,
    VERSION,
    CorrectionsFormatError,
)
from tabsift.residual._load_fields import _FIX, _describe, _Reader
from tabsift.residual._table import BASE_INPUTS, CATEGORY, NUMBER, TableLayout

# Top-level keys: what corrections_to_dict writes, plus what the estimators add.
_REQUIRED = ("format", "version", "task", "feature_names", "corrections")
_OPTIONAL = (
    "classes",
    "intercept",
    "blend_weight",
    "estimator",
    "base_estimator",
    "validation_scores",
    "table",
    "target_class_kind",
)
_CORRECTION_REQUIRED = ("expression", "coefficient")
_CORRECTION_OPTIONAL = ("tree", "explanation", "validation_gain", "source", "target_class")
_CATEGORY_KEYS = ("name", "kind", "categories", "other", "missing")


def _read_document(source):
    """Return ``(data, where)``: the parsed document and a description of where it came from."""
    if isinstance(source, dict):
        return source, "the corrections dict"
    if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith("{")
    ):
        path = Path(source)
        where = f"corrections file {str(path)!r}"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"corrections file {str(path)!r} does not exist; write it with "
                "export_corrections(path) on a fitted residual estimator."
            ) from None
        except OSError as err:
            raise CorrectionsFormatError(f"{where} cannot be read: {err}.", source=where) from err
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise CorrectionsFormatError(
                f"{where} cannot be loaded: it is not UTF-8 text (byte {err.start}); it is "
                f"damaged or not a corrections file; {_FIX}.",
                source=where,
            ) from None
    elif isinstance(source, str):
        where, text = "the corrections JSON text", source
    else:
        raise TypeError(
            f"corrections must be a path, JSON text or a dict made by export_corrections(), "
            f"found {type(source).__name__}."
        )
    try:
        return json.loads(text), where
    except json.JSONDecodeError as err:
        problem = f"{err.msg}: line {err.lineno}, column {err.colno}"
    except (ValueError, RecursionError) as err:  # huge integers, absurd nesting
        problem = str(err) or type(err).__name__
    raise CorrectionsFormatError(
        f"{where} cannot be loaded: it is not valid JSON ({problem}); it is truncated or "
        f"damaged; {_FIX}.",
        source=where,
    )


def _read_layout(reader, data, names):
    """Return the validated ``"table"`` entry as a TableLayout (absent: numbers only)."""
    if data is None:
        # Files written before the table layout existed hold numbers only.
        return TableLayout.numeric(names)
    reader.keys(data, "table", ("base_input", "columns"))
    base_input = data["base_input"]
    if base_input not in BASE_INPUTS:
        reader.fail(
            "table.base_input", f"must be one of {list(BASE_INPUTS)}, found {_describe(base_input)}"
        )
    columns = reader.items(data["columns"], "table.columns")
    if len(columns) != len(names):
        reader.fail(
            "table.columns",
            f"must describe the {len(names)} feature_names in order, found {len(columns)} "
            "column(s)",
        )
    kinds, categories = [], {}
    for j, (column, name) in enumerate(zip(columns, names, strict=True)):
        field = f"table.columns[{j}]"
        if not isinstance(column, dict):
            reader.fail(field, f"must be a JSON object, found {_describe(column)}")
        kind = column.get("kind")
        if kind == NUMBER:
            reader.keys(column, field, ("name", "kind"))
        elif kind == CATEGORY:
            reader.keys(column, field, _CATEGORY_KEYS)
        else:
            reader.fail(
                f"{field}.kind", f"must be {NUMBER!r} or {CATEGORY!r}, found {_describe(kind)}"
            )
        if column["name"] != name:
            reader.fail(
                f"{field}.name",
                f"must be the feature name {name!r} (same order), found {_describe(column['name'])}",
            )
        kinds.append(kind)
        if kind == CATEGORY:
            categories[name] = {
                "categories": reader.names(column["categories"], f"{field}.categories"),
                "other": reader.flag(column["other"], f"{field}.other"),
                "missing": reader.flag(column["missing"], f"{field}.missing"),
            }
    if (base_input == "array") != (not categories):
        reader.fail(
            "table.base_input",
            f"is {base_input!r}, which does not fit a table "
            + ("with category columns" if categories else "of number columns only")
            + " (expected "
            + ("'categories' or 'one_hot'" if categories else "'array'")
            + ")",
        )
    return TableLayout(list(names), kinds, categories, base_input)


def _read_correction(reader, item, i, *, task, classes, kind):
    field = f"corrections[{i}]"
    reader.keys(item, field, _CORRECTION_REQUIRED, _CORRECTION_OPTIONAL)
    text = reader.text(item["expression"], f"{field}.expression", allow_empty=False)
    try:
        expression = parse(text)
    except ExpressionError as err:
        # The parser's own "Fix:" line is about typing a formula, not about this file.
        reader.fail(
            f"{field}.expression",
            f"is not a valid formula ({err.reason})",
            cause=err,
            detail=str(err).split("\nFix:")[0],
        )
    if item.get("tree") is not None:
        try:
            tree_text = Expression.from_dict(item["tree"]).text
        except (ExpressionError, TypeError, ValueError, OverflowError, RecursionError) as err:
            reader.fail(f"{field}.tree", f"is not a valid formula tree: {err}", cause=err)
        if tree_text != expression.text:
            reader.fail(
                f"{field}.tree",
                f"reads {tree_text!r}, which does not match the expression {expression.text!r}",
            )
    coefficient = reader.number(item["coefficient"], f"{field}.coefficient")
    explanation = reader.text(item.get("explanation", ""), f"{field}.explanation")
    gain = reader.number(item.get("validation_gain", 0.0), f"{field}.validation_gain")
    source = item.get("source", "offline")
    if source not in SOURCES:
        reader.fail(f"{field}.source", f"must be one of {list(SOURCES)}, found {_describe(source)}")
    target = item.get("target_class")
    if task == "regression":
        if target is not None:
            reader.fail(
                f"{field}.target_class",
                f"must be null for regression corrections, found {_describe(target)}",
            )
    else:
        if target is None:
            reader.fail(f"{field}.target_class", "is missing (classification corrections need it)")
        # In memory a correction names its class by label; older files hold its index.
        if kind == "label":
            target = classes[reader.label(target, f"{field}.target_class", classes)]
        else:
            target = classes[reader.index(target, f"{field}.target_class", len(classes))]
    return Correction(
        expression=expression.text,
        coefficient=coefficient,
        explanation=explanation,
        validation_gain=gain,
        source=source,
        target_class=target,
    )


def _read_header(reader, data):
    """Check the format name and version; return the task."""
    if data["format"] != FORMAT:
        reader.fail(
            "format",
            f"must be {FORMAT!r}, found {_describe(data['format'])}; pass the output of "
            "export_corrections()",
        )
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, numbers.Integral):
        reader.fail("version", f"must be the integer {VERSION}, found {_describe(version)}")
    if version != VERSION:
        reader.fail(
            "version", f"is {_describe(version)}, but this tabsift reads version {VERSION} only"
        )
    task = data["task"]
    if task not in TASKS:
        reader.fail("task", f"must be one of {list(TASKS)}, found {_describe(task)}")
    return task


def _read_classes(reader, classes):
    """Return the validated class labels: at least two, distinct, all strings or all numbers."""
    classes = reader.items(classes, "classes", min_length=2)
    seen = set()
    for j, label in enumerate(classes):
        if isinstance(label, (bool, np.bool_)) or not isinstance(label, (str, numbers.Real)):
            reader.fail(f"classes[{j}]", f"must be a string or a number, found {_describe(label)}")
        if not isinstance(label, str):
            reader.number(label, f"classes[{j}]")
        if label in seen:
            reader.fail(f"classes[{j}]", f"repeats the class {label!r}")
        seen.add(label)
    if len({isinstance(label, str) for label in classes}) > 1:
        reader.fail("classes", f"mixes strings and numbers ({classes[:6]})")
    return classes


def _read_targets(reader, data, task):
    """Return ``(classes, intercept)``, the labels and one intercept per class.

    Regression has no classes (``[]``) and a single float intercept.
    """
    classes = data.get("classes")
    if task == "regression":
        if classes is not None:
            reader.fail("classes", f"must be null for regression, found {_describe(classes)}")
        if "intercept" not in data:
            reader.fail("intercept", "is missing")
        return [], reader.number(data["intercept"], "intercept")
    classes = _read_classes(reader, classes)
    n_classes = len(classes)
    if "intercept" not in data:
        reader.fail("intercept", "is missing")
    values = reader.items(data["intercept"], "intercept")
    if len(values) != n_classes:
        reader.fail(
            "intercept", f"must hold one value per class ({n_classes}), found {len(values)}"
        )
    intercept = np.array(
        [reader.number(v, f"intercept[{j}]") for j, v in enumerate(values)], dtype=np.float64
    )
    return classes, intercept


def _check_descriptive_keys(reader, data):
    """Check the keys the estimators add for readers: names and validation scores."""
    for key in ("estimator", "base_estimator"):
        if data.get(key) is not None:
            reader.text(data[key], key)
    if data.get("validation_scores") is not None and not isinstance(
        data["validation_scores"], dict
    ):
        reader.fail(
            "validation_scores",
            f"must be a JSON object, found {_describe(data['validation_scores'])}",
        )


def _read_target_class_kind(reader, data):
    """Return how corrections name their class: ``"label"``, or ``"index"`` (older files)."""
    kind = data.get("target_class_kind", "index")
    if kind not in TARGET_CLASS_KINDS:
        reader.fail(
            "target_class_kind",
            f"must be one of {list(TARGET_CLASS_KINDS)}, found {_describe(kind)}",
        )
    return kind


def _check_correction_columns(reader, corrections, names, layout):
    """Refuse a correction reading a column that is unknown or holds categories."""
    known, categorical = set(names), set(layout.category_names)
    for i, c in enumerate(corrections):
        unknown = [col for col in c.columns if col not in known]
        if unknown:
            reader.fail(
                f"corrections[{i}].expression",
                f"({c.expression!r}) reads column(s) {unknown} that are not among the feature "
                f"names {names[:20]}",
            )
        read = [col for col in c.columns if col in categorical]
        if read:
            reader.fail(
                f"corrections[{i}].expression",
                f"({c.expression!r}) reads the category column(s) {read}; formulas read number "
                "columns only",
            )


def load_corrections(source):
    """Read and validate exported corrections from a path, JSON text or a dict.

    Raises :class:`CorrectionsFormatError` (a ``ValueError``) naming the
    source and the bad field for any document that is not exactly what
    :func:`corrections_to_dict` writes.

    A classification correction's ``target_class`` is the class label when
    ``target_class_kind`` is ``"label"`` (what ``export_corrections`` writes);
    files without that key, written by older tabsift, hold the index of the
    class in ``classes`` and still load. Either way the loaded
    :class:`Correction` holds the label.
    """
    data, where = _read_document(source)
    reader = _Reader(where)
    reader.keys(data, None, _REQUIRED, _OPTIONAL)
    task = _read_header(reader, data)
    names = reader.names(data["feature_names"], "feature_names", min_length=1)
    blend = reader.number(data.get("blend_weight", 1.0), "blend_weight", low=0.0, high=1.0)
    classes, intercept = _read_targets(reader, data, task)
    _check_descriptive_keys(reader, data)
    layout = _read_layout(reader, data.get("table"), names)
    kind = _read_target_class_kind(reader, data)
    corrections = [
        _read_correction(reader, item, i, task=task, classes=classes, kind=kind)
        for i, item in enumerate(reader.items(data["corrections"], "corrections"))
    ]
    _check_correction_columns(reader, corrections, names, layout)
    return {
        "task": task,
        "feature_names": names,
        "classes": classes if task == "classification" else None,
        "intercept": intercept,
        "blend_weight": blend,
        "corrections": corrections,
        "layout": layout,
        "raw": data,
    }
