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
