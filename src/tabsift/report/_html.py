"""HTML rendering of a report: every piece of text is escaped here, once."""

import json
import math
import numbers
import re
from html import escape
from importlib import resources

_MAX_TABLE_ROWS = 200


def _stylesheet():
    return resources.files("tabsift.report").joinpath("report.css").read_text(encoding="utf-8")


def text_html(text):
    """Plain text to paragraphs: blank lines separate paragraphs, line breaks stay.

    Runs of spaces are kept too (the stylesheet sets ``white-space: pre-wrap``),
    so an indented line or a tree drawn inside the text keeps its shape.
    """
    paragraphs = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text.strip()) if p.strip()]
    return "\n".join(
        "<p>" + "\n".join(escape(line.rstrip()) for line in p.splitlines()) + "</p>"
        for p in paragraphs
    )


def _cell(value):
    """Escaped text of a table cell and whether it is a number (right-aligned)."""
    if value is None:
        return "", False
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if isinstance(value, numbers.Integral):
            return escape(str(int(value))), True
        value = float(value)
        return ("" if math.isnan(value) else escape(f"{value:.4g}")), True
    try:
        # pandas missing values (NaT, NA) compare oddly; render them empty.
        if value != value:
            return "", False
    except (TypeError, ValueError):
        pass
    return escape(str(value)), False


def _label(key):
    if isinstance(key, tuple):
        return " / ".join(str(k) for k in key)
    return str(key)


def table_html(frame, max_rows=_MAX_TABLE_ROWS):
    """Render a DataFrame as an escaped HTML table (the index only if it is named)."""
    import pandas as pd

    show_index = not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None
    columns = list(frame.columns)
    head = "".join(f"<th>{escape(_label(c))}</th>" for c in columns)
    if show_index:
        index_name = _label(frame.index.name) if frame.index.name is not None else ""
        head = f"<th>{escape(index_name)}</th>" + head
    rows = []
    for index, values in zip(
        frame.index[:max_rows], frame.head(max_rows).itertuples(index=False), strict=True
    ):
        cells = []
        if show_index:
            cells.append(f"<th>{escape(_label(index))}</th>")
        for value in values:
            text, is_number = _cell(value)
            cells.append(f'<td class="num">{text}</td>' if is_number else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if len(frame) > max_rows:
        note = f'<p class="note">Showing {max_rows} of {len(frame)} rows.</p>'
    return (
        f'<div class="table-wrap"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + f"\n</tbody></table></div>{note}"
    )


def _section_html(number, section, figure_name):
    parts = [
        f'<section id="section-{number}" class="status-{escape(section.status)}">',
        f'<h2>{number}. {escape(section.title)}<span class="badge {escape(section.status)}">'
        f"{escape(section.status)}</span></h2>",
    ]
    if section.error:
        parts.append(
            f'<div class="error"><strong>This section {escape(section.status)}.</strong>'
            f"<pre>{escape(section.error)}</pre></div>"
        )
    if section.text:
        parts.append(text_html(section.text))
    if section.code:
        parts.append(f'<pre class="code">{escape(section.code.strip(chr(10)))}</pre>')
    if figure_name is not None:
        alt = f"Figure of section {number}: {section.title}"
        parts.append(f'<figure><img src="{escape(figure_name)}" alt="{escape(alt)}"></figure>')
    if section.table is not None:
        parts.append(table_html(section.table))
    if section.data:
        pretty = json.dumps(section.data, indent=2, ensure_ascii=False)
        parts.append(
            f"<details><summary>Results (also in results.json)</summary>"
            f"<pre>{escape(pretty)}</pre></details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def page_html(title, sections, figure_names, *, version, created):
    """Return the whole ``index.html`` page, with the stylesheet inlined."""
    failed = sum(section.status == "failed" for section in sections)
    summary = f"{len(sections)} sections" + (f", {failed} failed" if failed else "")
    toc = "\n".join(
        f'<li><a href="#section-{i}">{escape(s.title)}</a>'
        f'<span class="badge {escape(s.status)}">{escape(s.status)}</span></li>'
        for i, s in enumerate(sections, start=1)
    )
    body = "\n".join(
        _section_html(i, s, name)
        for i, (s, name) in enumerate(zip(sections, figure_names, strict=True), start=1)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tabsift {escape(version)}">
<title>{escape(title)}</title>
<style>
{_stylesheet()}
</style>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<p class="meta">tabsift {escape(version)} &middot; {escape(created)} &middot; {summary}</p>
</header>
<nav><ol>
{toc}
</ol></nav>
{body}
<footer><p>Machine-readable results: <a href="results.json">results.json</a>.</p></footer>
</body>
</html>
"""
