"""A report made of sections, written as an HTML page, PNG figures and a JSON file."""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tabsift.report._html import page_html
from tabsift.report._json import to_jsonable
from tabsift.utils import atomic_write, atomic_write_text

_STATUSES = ("ok", "failed", "skipped")


@dataclass
class Section:
    """One section of a :class:`Report`; create it with :meth:`Report.add_section`.

    Attributes
    ----------
    title : str
        The heading.
    text : str or None
        Plain text (escaped when rendered).
    code : str or None
        Preformatted text (a tree or rule drawn as text), shown monospaced
        with its spaces and line breaks kept.
    figure : matplotlib.figure.Figure or None
        Saved as PNG when the report is written.
    table : pandas.DataFrame or None
        Rendered as an HTML table.
    data : dict
        JSON-ready results.
    status : {"ok", "failed", "skipped"}
        How the section went.
    error : str or None
        The error of a failed or skipped section.

    Examples
    --------
    >>> from tabsift.report import Report
    >>> section = Report("R").add_section("Broken", status="failed", error="ValueError: no")
    >>> section.status, section.data
    ('failed', {})
    """

    title: str
    text: str | None = None
    figure: object = None
    table: object = None
    data: dict = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None
    code: str | None = None


def _slug(text, limit=40):
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return slug or "section"


class Report:
    """Collect titled sections (text, figure, table, results) and write them to a folder.

    :meth:`write` produces ``index.html``, a self-contained page with inline
    CSS; one PNG file per figure, referenced from the page; and
    ``results.json`` with the title, the tabsift version, a timestamp and each
    section's data. Every file is written atomically and ``results.json``
    last, so an interrupted run never leaves a half-written file, and a
    ``results.json`` always belongs to a complete report.

    Parameters
    ----------
    title : str
        The report's title, shown on the page and stored in the JSON.

    Attributes
    ----------
    sections : list of Section
        The sections, in the order they were added.

    See Also
    --------
    tabsift.utils.atomic_write : How each file is written.

    Examples
    --------
    >>> import json, tempfile
    >>> from matplotlib.figure import Figure
    >>> from tabsift.report import Report
    >>> report = Report("Example")
    >>> fig = Figure(figsize=(3, 2))
    >>> _ = fig.add_subplot().plot([0, 1], [1, 0])
    >>> _ = report.add_section("Line", text="A falling line.", figure=fig, data={"slope": -1})
    >>> index = report.write(tempfile.mkdtemp())
    >>> sorted(p.name for p in index.parent.iterdir())
    ['figure-1-line.png', 'index.html', 'results.json']
    >>> json.loads((index.parent / "results.json").read_text())["sections"][0]["data"]
    {'slope': -1}
    """

    def __init__(self, title):
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"title must be a non-empty string, got {title!r}.")
        self.title = title
        self.sections = []

    def __repr__(self):
        return f"Report({self.title!r}, sections={len(self.sections)})"

    @property
    def failed_sections(self):
        """List of str: Titles of the sections whose status is ``"failed"``."""
        return [s.title for s in self.sections if s.status == "failed"]

    def add_section(
        self,
        title,
        *,
        text=None,
        figure=None,
        table=None,
        data=None,
        status="ok",
        error=None,
        code=None,
    ):
        """Add a section; every part is optional except the title.

        Parameters
        ----------
        title : str
            The section heading.
        text : str, default=None
            Plain text, HTML-escaped on the page; blank lines separate
            paragraphs.
        figure : matplotlib.figure.Figure, default=None
            Saved as a PNG file at :meth:`write` time. Create it with
            ``matplotlib.figure.Figure()`` rather than ``pyplot`` so no GUI
            backend is involved.
        table : pandas.DataFrame, default=None
            Rendered as an HTML table (at most 200 rows shown).
        data : dict, default=None
            JSON-able results stored in ``results.json``. NumPy numbers and
            arrays are converted; NaN and infinities become ``null``.
        status : {"ok", "failed", "skipped"}, default="ok"
            Shown as a badge; a failed section counts in
            :attr:`failed_sections`.
        error : str, default=None
            The error of a failed or skipped section, shown in a highlighted box.
        code : str, default=None
            Preformatted text shown after ``text`` in a monospaced block that
            keeps every space and line break (a tree or a rule drawn as
            text, whose indentation carries meaning).

        Returns
        -------
        section : Section
            The added section.
        """
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"title must be a non-empty string, got {title!r}.")
        if text is not None and not isinstance(text, str):
            raise TypeError(f"text of section {title!r} must be a str, got {type(text).__name__}.")
        if code is not None and not isinstance(code, str):
            raise TypeError(f"code of section {title!r} must be a str, got {type(code).__name__}.")
        if figure is not None and not callable(getattr(figure, "savefig", None)):
            raise TypeError(
                f"figure of section {title!r} must be a matplotlib Figure, got "
                f"{type(figure).__name__}. Create one with matplotlib.figure.Figure()."
            )
        if table is not None:
            import pandas as pd

            if not isinstance(table, pd.DataFrame):
                raise TypeError(
                    f"table of section {title!r} must be a pandas DataFrame, got "
                    f"{type(table).__name__}; wrap it with pandas.DataFrame(...)."
                )
        if data is not None and not isinstance(data, dict):
            raise TypeError(f"data of section {title!r} must be a dict, got {type(data).__name__}.")
        if status not in _STATUSES:
            raise ValueError(f"status must be one of {list(_STATUSES)}, got {status!r}.")
        if error is not None and not isinstance(error, str):
            raise TypeError(
                f"error of section {title!r} must be a str, got {type(error).__name__}."
            )
        # Convert now so a bad value is reported where it was added, not at write time.
        data = to_jsonable(data or {}, where=f"data of section {title!r}")
        section = Section(title, text, figure, table, data, status, error, code)
        self.sections.append(section)
        return section

    def _figure_names(self):
        return [
            f"figure-{i}-{_slug(s.title)}.png" if s.figure is not None else None
            for i, s in enumerate(self.sections, start=1)
        ]

    def to_dict(self, *, created=None):
        """Return the content of ``results.json``.

        Parameters
        ----------
        created : str, default=None
            ISO 8601 timestamp; by default the current UTC time.

        Returns
        -------
        results : dict
            ``title``, ``tabsift_version``, ``created``, ``status`` (``"ok"``
            or ``"failed"``) and ``sections``, a list of dicts with ``title``,
            ``status``, ``error``, ``figure`` (file name or None) and ``data``.
        """
        from tabsift import __version__

        if created is None:
            created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return {
            "title": self.title,
            "tabsift_version": __version__,
            "created": created,
            "status": "failed" if self.failed_sections else "ok",
            "sections": [
                {
                    "title": s.title,
                    "status": s.status,
                    "error": s.error,
                    "figure": name,
                    "data": s.data,
                }
                for s, name in zip(self.sections, self._figure_names(), strict=True)
            ],
        }

    def write(self, folder):
        """Write the report into ``folder`` (created if missing).

        Figures are written first, then ``index.html``, then ``results.json``,
        each atomically (temporary file, then rename). If anything fails,
        for example a figure that cannot be saved, the error propagates and
        the folder keeps the previous complete ``index.html`` and
        ``results.json``, if any.

        Parameters
        ----------
        folder : str or path-like
            Destination folder. Files of the same names are replaced; other
            files are left alone.

        Returns
        -------
        index : pathlib.Path
            The written ``index.html``.
        """
        from tabsift import __version__

        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(
                f"cannot write the report into {str(folder)!r}: it is a file, not a folder. "
                f"Choose another folder."
            )
        folder.mkdir(parents=True, exist_ok=True)
        names = self._figure_names()
        for section, name in zip(self.sections, names, strict=True):
            if name is not None:
                with atomic_write(folder / name, "wb") as f:
                    section.figure.savefig(f, format="png", dpi=100, bbox_inches="tight")
        results = self.to_dict()
        html = page_html(
            self.title, self.sections, names, version=__version__, created=results["created"]
        )
        index = folder / "index.html"
        atomic_write_text(index, html)
        atomic_write_text(
            folder / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n"
        )
        return index
