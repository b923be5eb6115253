"""KANSelector's parameters: their constraints, and the settings fit resolves from them.

scikit-learn's parameter validation checks each parameter alone
(:data:`KAN_PARAMETER_CONSTRAINTS`); :func:`check_combinations` checks the
pairs that must agree. The ``"auto"`` values (``device``, ``early_stopping``,
``verbose``) are resolved here against the data and the folds.
"""

import math
import numbers
import warnings

from tabsift.feature_selection._engine import ENGINES
from tabsift.feature_selection._importance import METHODS, READINGS
from tabsift.utils import Interval, RealNotInt, StrOptions

# early_stopping="auto" is on when every fold sets aside at least this many rows.
_AUTO_MIN_VALIDATION_ROWS = 100

# verbose="auto" shows progress bars for a fit estimated to take longer than this.
_AUTO_PROGRESS_SECONDS = 5.0

KAN_PARAMETER_CONSTRAINTS = {
    "method": [StrOptions(set(METHODS))],
    "n_features_to_select": [
        Interval(RealNotInt, 0, 1, closed="right"),
        Interval(numbers.Integral, 1, None, closed="left"),
    ],
    "reading": [StrOptions(set(READINGS))],
    "threshold": [numbers.Real, None],
    "hidden_width": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "grid_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "spline_order": [Interval(numbers.Integral, 1, None, closed="left")],
    "grid_range": [tuple, list],
    "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
    "early_stopping": [StrOptions({"auto"}), "boolean"],
    "validation_fraction": [Interval(RealNotInt, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "cv": [Interval(numbers.Integral, 1, None, closed="left"), "cv_object", None],
    "task": [StrOptions({"auto", "classification", "regression"})],
    "missing_values": [StrOptions({"error", "impute"})],
    "engine": [StrOptions(set(ENGINES))],
    "device": "no_validation",  # a str or torch.device, checked in fit
    "random_state": ["random_state"],
    "verbose": [StrOptions({"auto"}), "verbose"],
}


def check_combinations(selector):
    """Raise when two of ``selector``'s parameters disagree, or ``grid_range`` is no range."""
    if selector.method == "pykan" and selector.engine != "pykan":
        raise ValueError(
            f"method='pykan' reads pykan's own attribution scores, so it needs "
            f"engine='pykan'; found engine={selector.engine!r}. Pass engine='pykan', or choose "
            "method 'l1', 'l2', 'si' or 'ko'."
        )
    if selector.reading == "coefficients" and selector.method not in ("l1", "l2"):
        raise ValueError(
            f"reading='coefficients' applies to method 'l1' or 'l2' only; found "
            f"method={selector.method!r}. Leave reading at its default 'contribution'."
        )
    grid_range = selector.grid_range
    ok = len(grid_range) == 2 and all(
        isinstance(v, numbers.Real) and math.isfinite(v) for v in grid_range
    )
    if not ok or not grid_range[0] < grid_range[1]:
        raise ValueError(
            f"grid_range must be two finite numbers (low, high) with low < high; found "
            f"{grid_range!r}."
        )


def resolve_device(selector, X=None):
    """Return the torch device ``selector.device`` names; ``"auto"`` follows ``X`` (a tensor).

    Warns when ``X`` lives on a GPU but the device named is the CPU.
    """
    device = _named_device(selector, X)
    if X is not None and X.device.type != "cpu" and device.type == "cpu":
        warnings.warn(
            f"X lives on {X.device} but device={selector.device!r}: KANSelector copies it to "
            "the host and trains on the CPU; pass device='auto' (or 'cuda') to train "
            "where the data is.",
            UserWarning,
            stacklevel=3,
        )
    return device


def _named_device(selector, X):
    """Return the torch device ``selector.device`` names, ``"auto"`` resolved."""
    import torch

    if isinstance(selector.device, str) and selector.device == "auto":
        if X is not None and X.device.type != "cpu":
            return X.device
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(selector.device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValueError(
            f"device must be a torch device or its name, such as 'cpu' or 'cuda'; found "
            f"{selector.device!r}."
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={selector.device!r} asks for CUDA, but torch sees no CUDA device "
            "(torch.cuda.is_available() is False); use device='cpu'."
        )
    return device


def resolve_early_stopping(selector, folds):
    """Return ``early_stopping`` as a bool, checked against the engine and the folds' sizes."""
    smallest = min(len(train) for train, _ in folds)
    n_val = math.ceil(selector.validation_fraction * smallest)
    if selector.early_stopping == "auto":
        return selector.engine == "tabsift" and n_val >= _AUTO_MIN_VALIDATION_ROWS
    if not selector.early_stopping:
        return False
    if selector.engine != "tabsift":
        raise ValueError(
            f"early_stopping=True needs engine='tabsift'; engine={selector.engine!r} trains "
            "pykan's own network for a fixed number of epochs. Pass early_stopping=False "
            "(or 'auto'), or engine='tabsift'."
        )
    if smallest - n_val < 1:
        raise ValueError(
            f"early_stopping=True sets aside validation_fraction={selector.validation_fraction!r}"
            f" of a fold's {smallest} training rows, which leaves none to train on; lower "
            "validation_fraction, pass fewer folds in cv, or early_stopping=False."
        )
    return True


def resolve_verbose(selector, n_train_rows, n_inputs, hidden):
    """Return ``verbose`` for the bars: ``"auto"`` only for a fit estimated long, else an int.

    ``"auto"`` stays ``"auto"`` (a bar once the step has run a couple of
    seconds, when someone watches) only for a fit estimated to take over a
    few seconds, else 0; an explicit int is kept.
    """
    if selector.verbose != "auto":
        return int(selector.verbose)
    # Calibrated on the 2-core CPU machine (benchmarks/RESULTS.md): about 1.2 ns per
    # row, input, hidden unit and epoch, plus 0.3 ms per mini-batch step of all folds.
    steps = selector.epochs * math.ceil(max(n_train_rows) / selector.batch_size)
    work = selector.epochs * sum(n_train_rows) * n_inputs * hidden
    seconds = 1.2e-9 * work + 3e-4 * steps
    if selector.engine == "pykan":
        seconds *= 30  # benchmarks/RESULTS.md: pykan trains about 30x slower
    return "auto" if seconds > _AUTO_PROGRESS_SECONDS else 0
