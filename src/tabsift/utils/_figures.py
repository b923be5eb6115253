"""New matplotlib figures that show in a notebook and stay out of pyplot elsewhere."""

import sys


def _in_ipython():
    """Return True inside an IPython shell or Jupyter kernel (IPython is never imported here)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return callable(get_ipython) and get_ipython() is not None


def new_figure(**kwargs):
    """Return a matplotlib ``Figure`` for a plot method that was given no ``ax``.

    Inside IPython/Jupyter the figure is made through ``pyplot``, so the inline
    backend shows it under the cell (a bare ``Figure()`` displays only as
    ``<Axes: ...>``). Elsewhere (scripts, tests, the HTML report) it is a bare
    ``Figure``: no GUI backend is touched and pyplot keeps no reference to it.

    Examples
    --------
    >>> from tabsift.utils._figures import new_figure
    >>> fig = new_figure(figsize=(3, 2))
    >>> type(fig).__name__, fig.get_size_inches().tolist()
    ('Figure', [3.0, 2.0])
    """
    if _in_ipython():
        import matplotlib.pyplot as plt

        return plt.figure(**kwargs)
    from matplotlib.figure import Figure

    return Figure(**kwargs)
