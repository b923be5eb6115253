"""Plots made without an ``ax`` show in a notebook and stay out of pyplot elsewhere."""

import sys
import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tabsift.datasets import make_planted_tree  # noqa: E402
from tabsift.tree import EvolvedTreeClassifier  # noqa: E402
from tabsift.utils import _figures  # noqa: E402
from tabsift.utils._figures import new_figure  # noqa: E402


@pytest.fixture
def notebook(monkeypatch):
    """Pretend to run inside an IPython shell (pyplot's own IPython hooks stay real)."""
    monkeypatch.setattr(_figures, "_in_ipython", lambda: True)
    yield
    plt.close("all")


@pytest.mark.parametrize(("shell", "expected"), [(object(), True), (None, False)])
def test_an_ipython_shell_is_recognised(monkeypatch, shell, expected):
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell  # None: IPython imported, but no shell running
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert _figures._in_ipython() is expected
    monkeypatch.delitem(sys.modules, "IPython")
    assert _figures._in_ipython() is False


def test_outside_ipython_figures_stay_out_of_pyplot(monkeypatch):
    monkeypatch.setattr(_figures, "_in_ipython", lambda: False)
    before = plt.get_fignums()
    new_figure()
    assert plt.get_fignums() == before


def test_in_a_notebook_figures_go_through_pyplot(notebook):
    before = len(plt.get_fignums())
    fig = new_figure(figsize=(3, 2))
    assert len(plt.get_fignums()) == before + 1 and plt.fignum_exists(fig.number)


def test_an_estimator_plot_shows_in_a_notebook(notebook):
    data = make_planted_tree(n_samples=200, depth=1, noise=0.0, random_state=0)
    clf = EvolvedTreeClassifier(max_depth=1, n_generations=1, random_state=0)
    clf.fit(data.data, data.target)
    before = len(plt.get_fignums())
    ax = clf.plot_history()
    assert len(plt.get_fignums()) == before + 1
    assert plt.fignum_exists(ax.figure.number)
    # An ax given by the user is drawn on, nothing new is made.
    fig, own = plt.subplots()
    assert clf.plot_history(ax=own) is own
    assert np.isin(fig.number, plt.get_fignums())
