"""Reports: titled sections of text, figures, tables and results, written to a folder.

A :class:`Report` writes a self-contained ``index.html`` (inline CSS, figures
as PNG files beside it) and a machine-readable ``results.json``. Files are
written atomically, so an interrupted run never leaves a half-written file.
"""

from tabsift.report._report import Report, Section

__all__ = ["Report", "Section"]
