"""Small shared utilities: optional imports, atomic file writes, progress bars."""

from tabsift.utils._atomic import atomic_write, atomic_write_bytes, atomic_write_text
from tabsift.utils._csv import neutralise_formulas
from tabsift.utils._optional import import_optional_dependency
from tabsift.utils._progress import progress

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "import_optional_dependency",
    "neutralise_formulas",
    "progress",
]
