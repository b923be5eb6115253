"""Progress bars: shown for long work in a notebook or terminal, silenced by ``verbose=0``.

The rule every tabsift estimator and job follows:

- ``verbose="auto"`` (the estimators' default): a bar appears only when the work
  has already taken :data:`AUTO_DELAY` seconds *and* someone can see it (a
  Jupyter/IPython session or a terminal on stderr). Quick fits, scripts whose
  stderr goes to a file or pipe, and test runs stay silent.
- ``verbose=0`` (or ``False``): never a bar.
- ``verbose >= 1`` (or ``True``): a bar at once, wherever stderr goes.

Each bar's description names the phase it measures ("KAN folds", "rule search
starts", ...).
"""

import sys

from tabsift.utils._sklearn_compat import StrOptions

#: Seconds a phase must have run before ``verbose="auto"`` shows its bar.
AUTO_DELAY = 2.0

#: ``_parameter_constraints`` entry for a ``verbose`` parameter that takes "auto".
VERBOSE_CONSTRAINT = ["verbose", StrOptions({"auto"})]


def _someone_watches():
    """Return True in IPython/Jupyter or when stderr is a terminal."""
    from tabsift.utils._figures import _in_ipython

    if _in_ipython():
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress_settings(verbose):
    """Return ``(enabled, delay)`` for a ``verbose`` value, following the module's rule.

    Parameters
    ----------
    verbose : int, bool or "auto"
        The estimator's or job's ``verbose``.

    Returns
    -------
    enabled : bool
        Whether a bar may be drawn at all.
    delay : float
        Seconds before it appears (0 for an explicit ``verbose >= 1``).

    Examples
    --------
    >>> from tabsift.utils._progress import progress_settings
    >>> progress_settings(0), progress_settings(2)
    ((False, 0.0), (True, 0.0))
    """
    if isinstance(verbose, str):
        if verbose != "auto":
            raise ValueError(f"verbose must be an int, a bool or 'auto'; got {verbose!r}.")
        return _someone_watches(), AUTO_DELAY
    return bool(verbose), 0.0


def progress(iterable=None, *, verbose=1, total=None, desc=None, leave=False, unit="it"):
    """Wrap ``iterable`` in a tqdm progress bar, following ``verbose``.

    Parameters
    ----------
    iterable : iterable, default=None
        What to iterate over; ``None`` gives a manually updated bar.
    verbose : int, bool or "auto", default=1
        ``0`` disables the bar; ``"auto"`` shows it only for work longer than
        :data:`AUTO_DELAY` seconds in a notebook or terminal; ``>= 1`` always.
    total, desc, leave, unit
        Passed to :class:`tqdm.auto.tqdm`.

    Returns
    -------
    bar : tqdm.tqdm
        The bar (disabled when ``verbose == 0``), iterable like ``iterable``.

    Examples
    --------
    >>> from tabsift.utils import progress
    >>> sum(progress(range(4), verbose=0))
    6
    """
    from tqdm.auto import tqdm

    enabled, delay = progress_settings(verbose)
    return tqdm(
        iterable, total=total, desc=desc, leave=leave, unit=unit, disable=not enabled,
        delay=delay,
    )
