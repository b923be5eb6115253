"""Turn section data into plain JSON values, with errors that say where the problem is."""

import math
import numbers
from pathlib import PurePath


def to_jsonable(value, where="data"):
    """Return ``value`` made of dict, list, str, int, float, bool and None only.

    NumPy scalars and arrays become Python numbers and lists, tuples become
    lists, paths become strings; NaN and infinities become None because JSON
    has no representation for them. Anything else raises a ``TypeError``
    naming the offending key, e.g. ``data['scores'][2]``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, numbers.Integral)):
                raise TypeError(
                    f"{where} has the key {key!r} of type {type(key).__name__}; JSON keys must "
                    f"be strings: convert the key with str()."
                )
            out[str(key)] = to_jsonable(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    module = type(value).__module__.split(".")[0]
    if module == "numpy" and hasattr(value, "tolist"):
        # NumPy scalars and arrays: tolist() gives Python numbers (nested lists).
        return to_jsonable(value.tolist(), where)
    raise TypeError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which JSON cannot "
        f"hold. Use numbers, strings, booleans, None, lists and dicts (convert a DataFrame "
        f"with .to_dict(orient='records') or pass it as table= instead)."
    )
