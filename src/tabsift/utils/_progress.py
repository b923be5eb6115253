"""Progress bars that ``verbose=0`` silences."""


def progress(iterable=None, *, verbose=1, total=None, desc=None, leave=False, unit="it"):
    """Wrap ``iterable`` in a tqdm progress bar when ``verbose`` is positive.

    Parameters
    ----------
    iterable : iterable, default=None
        What to iterate over; ``None`` gives a manually updated bar.
    verbose : int, default=1
        ``0`` disables the bar.
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

    return tqdm(
        iterable, total=total, desc=desc, leave=leave, unit=unit, disable=not verbose
    )
