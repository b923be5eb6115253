"""Sphinx configuration for tabsift's documentation (built with -W in CI).

The example gallery (``examples/``) is executed at build time by sphinx-gallery: every
figure on its pages comes from the current code. Set ``TABSIFT_DOCS_NO_GALLERY=1`` (or
pass ``-D plot_gallery=0``) to build the pages without running the examples.
"""

import os
import warnings

# Before anything imports torch: one thread (the networks are small; CI has 2 cores), and
# the non-interactive backend for the example gallery.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import tabsift  # noqa: E402

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
    "sphinx_gallery.gen_gallery",
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
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_css_files = ["tabsift.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    # No network at build time: no icon links, no version switcher.
    "icon_links": [],
    # Example pages give the code the full width (79-character lines fit at 1400 px).
    "secondary_sidebar_items": {"auto_examples/**": []},
}
html_sidebars = {"install": [], "auto_examples/index": []}

# ----------------------------------------------------------------- example gallery
# Small data and one torch thread per example (each sets it), so the whole gallery executes
# in about three minutes on a 2-core CI machine.
warnings.filterwarnings(
    "ignore", message="Matplotlib is currently using agg", category=UserWarning
)

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "subsection_order": [
        f"../examples/{family}"
        for family in (
            "foundation", "feature_selection", "tree", "rules", "residual", "sampling", "cli",
        )
    ],
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "plot_gallery": "False" if os.environ.get("TABSIFT_DOCS_NO_GALLERY") else "True",
    # "Examples using X" on each API page: backreferences for everything in tabsift.
    "backreferences_dir": "api/generated",
    "doc_module": ("tabsift",),
    "reference_url": {"tabsift": None},
    "reset_modules": ("matplotlib",),
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "show_memory": False,
    "download_all_examples": True,
    "within_subsection_order": "FileNameSortKey",
    "capture_repr": ("_repr_html_", "__repr__"),
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 1,
}
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
