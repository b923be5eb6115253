"""Sphinx configuration for tabsift's documentation (built with -W in CI)."""

import tabsift

project = "tabsift"
author = "the tabsift developers"
copyright = "2026, the tabsift developers"
release = tabsift.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# No network in CI: intersphinx inventories are not fetched.
intersphinx_mapping = {}

exclude_patterns = ["_build", "api/generated/*.examples"]
templates_path = ["_templates"]
html_theme = "alabaster"
html_static_path = []
nitpicky = False


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out of class bodies the members scikit-learn defines on our classes (the
    set_*_request setters it generates for each class): scikit-learn documents them, and
    their docstrings cross-reference labels of its own documentation. The method tables
    leave them out in _templates/autosummary/class.rst."""
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and module.split(".")[0] == "sklearn":
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
