"""A small JSON-Schema subset validator, enough to check structured LLM replies."""

import math
import re

from tabsift.llm._errors import SchemaValidationError

__all__ = ["validate_json"]

_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")
_VALIDATION_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
    }
)
# Annotations change nothing about validity.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$schema", "$id", "$comment", "format"}
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_type(value, name):
    found = _json_type(value)
    if name == "number":
        return found in ("integer", "number") and not (
            isinstance(value, float) and not math.isfinite(value)
        )
    if name == "integer":
        # JSON has one number type: 3.0 is an integer (JSON Schema draft 6 and later).
        return found == "integer" or (
            found == "number" and math.isfinite(value) and float(value).is_integer()
        )
    return found == name


def _json_equal(a, b):
    """Equality without Python's True == 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _child(path, key):
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(path, message):
    raise SchemaValidationError(f"{path}: {message}", path=path)


def _check_schema(schema, path):
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise TypeError(
            f"the schema at {path} must be a dict (or True/False), found {type(schema).__name__}."
        )
    unknown = set(schema) - _VALIDATION_KEYWORDS - _ANNOTATIONS
    if unknown:
        raise ValueError(
            f"the schema at {path} uses keyword(s) {sorted(unknown)} that validate_json does not "
            f"support; supported: {sorted(_VALIDATION_KEYWORDS)}. Remove them or check the "
            "value with a validator function."
        )
    types = schema.get("type")
    for name in [types] if isinstance(types, str) else (types or []):
        if name not in _TYPES:
            raise ValueError(
                f"the schema at {path} has type {name!r}; expected one of {list(_TYPES)}."
            )


def _check_type(value, schema, path):
    if "type" in schema:
        types = schema["type"]
        types = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(value, t) for t in types):
            expected = " or ".join(types)
            _fail(path, f"expected type {expected}, found {_json_type(value)} {_show(value)}")


def _check_allowed_values(value, schema, path):
    if "enum" in schema and not any(_json_equal(value, v) for v in schema["enum"]):
        _fail(path, f"expected one of {_show(list(schema['enum']))}, found {_show(value)}")
    if "const" in schema and not _json_equal(value, schema["const"]):
        _fail(path, f"expected {_show(schema['const'])}, found {_show(value)}")


def _check_number_bounds(value, schema, path):
    if "minimum" in schema and value < schema["minimum"]:
        _fail(path, f"expected a number >= {schema['minimum']}, found {_show(value)}")
    if "maximum" in schema and value > schema["maximum"]:
        _fail(path, f"expected a number <= {schema['maximum']}, found {_show(value)}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        _fail(path, f"expected a number > {schema['exclusiveMinimum']}, found {_show(value)}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        _fail(path, f"expected a number < {schema['exclusiveMaximum']}, found {_show(value)}")


def _check_size(size, schema, path, *, low, high, unit):
    if low in schema and size < schema[low]:
        _fail(path, f"expected at least {schema[low]} {unit}, found {size}")
    if high in schema and size > schema[high]:
        _fail(path, f"expected at most {schema[high]} {unit}, found {size}")


def _check_array(value, schema, path):
    _check_size(len(value), schema, path, low="minItems", high="maxItems", unit="items")
    if "items" in schema:
        for i, item in enumerate(value):
            _validate(item, schema["items"], _child(path, i))


def _check_object(value, schema, path):
    properties = schema.get("properties", {})
    missing = [name for name in schema.get("required", ()) if name not in value]
    if missing:
        _fail(
            path,
            f"missing required key(s) {missing}; the object has keys {sorted(map(str, value))}",
        )
    extra_schema = schema.get("additionalProperties", True)
    for key, item in value.items():
        if not isinstance(key, str):
            _fail(path, f"object keys must be strings, found {_show(key)}")
        if key in properties:
            _validate(item, properties[key], _child(path, key))
        elif extra_schema is False:
            _fail(
                path,
                f"unexpected key {key!r}; allowed keys: {sorted(properties)}",
            )
        elif extra_schema is not True:
            _validate(item, extra_schema, _child(path, key))


def _validate(value, schema, path):
    if schema is True:
        return
    if schema is False:
        _fail(path, f"no value is allowed here, found {_show(value)}")
    _check_schema(schema, path)
    _check_type(value, schema, path)
    _check_allowed_values(value, schema, path)
    if _is_type(value, "number"):
        _check_number_bounds(value, schema, path)
    if isinstance(value, str):
        _check_size(len(value), schema, path, low="minLength", high="maxLength", unit="characters")
    if isinstance(value, (list, tuple)):
        _check_array(value, schema, path)
    if isinstance(value, dict):
        _check_object(value, schema, path)


def validate_json(obj, schema):
    """Check a JSON value against a schema written in a subset of JSON Schema.

    Supported keywords: ``type`` (``object``, ``array``, ``string``,
    ``integer``, ``number``, ``boolean``, ``null``, or a list of them),
    ``properties``, ``required``, ``additionalProperties`` (a bool or a
    schema), ``items``, ``enum``, ``const``, ``minimum``, ``maximum``,
    ``exclusiveMinimum``, ``exclusiveMaximum``, ``minItems``, ``maxItems``,
    ``minLength`` and ``maxLength``; annotations such as ``description`` are
    ignored. Any other keyword is an error rather than silently ignored.
    Booleans are not numbers, and ``3.0`` counts as an integer.

    Parameters
    ----------
    obj : object
        A value as returned by :func:`json.loads`.
    schema : dict or bool
        The schema.

    Returns
    -------
    None

    Raises
    ------
    SchemaValidationError
        At the first mismatch; the message starts with a JSON path such as
        ``$.thresholds[2]``.
    ValueError
        When the schema uses an unsupported keyword or type name.

    See Also
    --------
    extract_json : Find the JSON value in a reply.
    LLMClient.chat_json : Ask, extract, validate and ask again on failure.

    Examples
    --------
    >>> from tabsift.llm import validate_json
    >>> schema = {
    ...     "type": "object",
    ...     "properties": {"thresholds": {"type": "array", "items": {"type": "number"}}},
    ...     "required": ["thresholds"],
    ... }
    >>> validate_json({"thresholds": [1, 2.5]}, schema)
    >>> validate_json({"thresholds": [1, 2, "x"]}, schema)
    Traceback (most recent call last):
    ...
    tabsift.llm.SchemaValidationError: $.thresholds[2]: expected type number, found string 'x'
    """
    _validate(obj, schema, "$")
