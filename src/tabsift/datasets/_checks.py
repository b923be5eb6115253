"""Parameter checks shared by the dataset loaders and generators.

Every check names the parameter, says what was expected and what was found.
"""

import numbers

_TASKS = ("classification", "regression")


def check_bool(value, name):
    """Return ``value`` if it is a bool, else raise a ``TypeError`` naming ``name``."""
    if not isinstance(value, bool):
        raise TypeError(
            f"{name} must be True or False, got {value!r} of type {type(value).__name__}."
        )
    return value


def check_int(value, name, *, min_value=None, max_value=None, hint=""):
    """Return ``value`` as an int if it is an integer within the bounds.

    Booleans are rejected: ``n_samples=True`` is almost surely a mistake.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}.")
    value = int(value)
    if min_value is not None and value < min_value:
        raise ValueError(f"{name} must be >= {min_value}, got {value}.{hint and ' ' + hint}")
    if max_value is not None and value > max_value:
        raise ValueError(f"{name} must be <= {max_value}, got {value}.{hint and ' ' + hint}")
    return value


def check_float(value, name, *, min_value=None, max_value=None, max_inclusive=True):
    """Return ``value`` as a float if it is a finite real number within the bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} of type {type(value).__name__}.")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number, got {value}.")
    if min_value is not None and value < min_value:
        raise ValueError(f"{name} must be >= {min_value}, got {value}.")
    if max_value is not None:
        if max_inclusive and value > max_value:
            raise ValueError(f"{name} must be <= {max_value}, got {value}.")
        if not max_inclusive and value >= max_value:
            raise ValueError(f"{name} must be < {max_value}, got {value}.")
    return value


def check_task(task):
    """Return ``task`` if it is "classification" or "regression"."""
    if task not in _TASKS:
        raise ValueError(f"task must be one of {list(_TASKS)}, got {task!r}.")
    return task


def make_bunch(**kwargs):
    """Build a :class:`sklearn.utils.Bunch` (imported lazily to keep imports light)."""
    from sklearn.utils import Bunch

    return Bunch(**kwargs)


def random_generator(random_state):
    """Turn ``random_state`` (None, int or RandomState) into a ``RandomState``.

    Uses :func:`sklearn.utils.check_random_state` so seeds mean the same as in
    scikit-learn; the global NumPy seed is never touched.
    """
    from sklearn.utils import check_random_state

    try:
        return check_random_state(random_state)
    except ValueError as err:
        raise ValueError(
            f"random_state must be None, an int or a numpy.random.RandomState, "
            f"got {random_state!r}."
        ) from err


def column_names(n, prefix="x", start=0):
    """Names ``x0, x1, ...`` for generated columns."""
    return [f"{prefix}{i}" for i in range(start, start + n)]


def table_bunch(data, y, **fields):
    """Return a generator's Bunch, with the parts every table has derived in one place.

    ``target`` is ``y`` as a Series named ``"target"``, ``frame`` is ``data``
    and ``target`` side by side, ``feature_names`` are ``data``'s columns;
    ``fields`` (task, ground truth, DESCR) are added as given.
    """
    import pandas as pd

    target = pd.Series(y, name="target")
    return make_bunch(
        data=data,
        target=target,
        frame=pd.concat([data, target], axis=1),
        feature_names=list(data.columns),
        **fields,
    )
