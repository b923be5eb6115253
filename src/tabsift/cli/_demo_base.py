"""Building blocks of ``tabsift demo`` sections, importable by any family module.

A family writes its demo section in its own module (``tabsift/cli/_demo_<family>.py``)
with :func:`demo_section` and :func:`figure` (and :func:`offline_llm` when it shows an
LLM path), and adds one import and one entry to ``SECTIONS`` in :mod:`tabsift.cli._demo`.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DemoContext:
    """What every demo section is given.

    Attributes
    ----------
    quick : bool
        Use smaller data (``--quick``).
    seed : int
        Seed for every generator (``--seed``).
    verbose : int
        Verbosity (``-v``).
    """

    quick: bool = False
    seed: int = 0
    verbose: int = 0

    def size(self, full, quick):
        """Return ``quick`` in quick mode, ``full`` otherwise."""
        return quick if self.quick else full


def demo_section(title):
    """Mark a function as a demo section with the given report title."""

    def decorate(func):
        func.title = title
        return func

    return decorate


def figure(ncols=1, width=5.0, height=4.0):
    """Return ``(fig, axes)``: a matplotlib Figure with ``ncols`` axes side by side."""
    # Figure() needs no GUI backend: savefig renders with Agg.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, np.atleast_1d(axes)



def offline_llm(responder):
    """Return a local OpenAI-compatible server whose "model" is ``responder``.

    The demo runs offline, with no model to ask, yet its LLM paths should run
    for real: requests, retries and reply validation of
    :class:`tabsift.llm.LLMClient` over HTTP. So a section that shows one
    scripts the model's replies (``responder`` is a function of the request
    body returning the reply text) and uses the returned server as a context
    manager; ``server.client()`` is an :class:`~tabsift.llm.LLMClient` for it.
    """
    # The one place the demo takes tabsift.llm.testing: its LocalLLMServer is the
    # documented, standard-library-only local server shipped with tabsift (not a
    # test-only dependency). Imported on call, so only the sections that show an
    # LLM path load it.
    from tabsift.llm.testing import LocalLLMServer

    return LocalLLMServer(responder)
