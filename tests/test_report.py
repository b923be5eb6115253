"""Tests for tabsift.report: HTML page, PNG figures, results.json, atomic writes."""

import json
import subprocess
import sys
import textwrap
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import tabsift
from tabsift.report import Report, Section

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE = '<script>alert("x")</script> & co'


def _figure(label="line"):
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1, 2], [2, 0, 1], label=label)
    return fig


class BrokenFigure(Figure):
    """A figure whose saving fails, as a full disk or a rendering bug would."""

    def savefig(self, *args, **kwargs):
        raise OSError("disk full (simulated)")


def test_write_produces_page_figures_and_json(tmp_path):
    report = Report("My analysis")
    report.add_section("Intro", text="First paragraph.\n\nSecond paragraph,\nsame one.")
    report.add_section("Plot", figure=_figure(), data={"auc": 0.91, "n": 3})
    report.add_section("Numbers", table=pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan]}))
    index = report.write(tmp_path / "out")

    assert index == tmp_path / "out" / "index.html"
    files = sorted(p.name for p in index.parent.iterdir())
    assert files == ["figure-2-plot.png", "index.html", "results.json"]
    assert (index.parent / "figure-2-plot.png").read_bytes().startswith(PNG_MAGIC)

    html = index.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<style>" in html and "font-family" in html  # the stylesheet is inlined
    assert 'src="figure-2-plot.png"' in html
    assert "<p>First paragraph.</p>" in html
    assert "<p>Second paragraph,\nsame one.</p>" in html  # line breaks kept by pre-wrap
    assert "<th>a</th><th>b</th>" in html
    assert '<tr><td class="num">1</td><td class="num">0.5</td></tr>' in html
    assert '<tr><td class="num">2</td><td class="num"></td></tr>' in html  # NaN cell is empty
    assert f"tabsift {tabsift.__version__}" in html
    assert "http://" not in html and "https://" not in html  # nothing external

    results = json.loads((index.parent / "results.json").read_text(encoding="utf-8"))
    assert results["title"] == "My analysis"
    assert results["tabsift_version"] == tabsift.__version__
    assert results["status"] == "ok"
    assert datetime.fromisoformat(results["created"]).tzinfo is not None
    assert [s["title"] for s in results["sections"]] == ["Intro", "Plot", "Numbers"]
    assert results["sections"][1]["data"] == {"auc": 0.91, "n": 3}
    assert results["sections"][1]["figure"] == "figure-2-plot.png"
    assert results["sections"][0]["figure"] is None
    assert [s["status"] for s in results["sections"]] == ["ok"] * 3


def test_all_text_is_html_escaped(tmp_path):
    report = Report(HOSTILE)
    frame = pd.DataFrame({HOSTILE: ["<b>bold</b>"], "plain": [1]})
    frame.index = pd.Index(["<i>row</i>"], name="<idx>")
    report.add_section(HOSTILE, text=HOSTILE, table=frame, data={"k": HOSTILE}, figure=_figure())
    report.add_section("Broken", status="failed", error="ValueError: <img src=x onerror=alert(1)>")
    html = report.write(tmp_path).read_text(encoding="utf-8")
    for raw in ("<script>", "<b>bold", "<i>row", "<idx>", "<img src=x"):
        assert raw not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<th>&lt;idx&gt;</th>" in html and "<th>&lt;i&gt;row&lt;/i&gt;</th>" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # The figure file name is made from the title but only of safe characters.
    assert (tmp_path / "figure-1-script-alert-x-script-co.png").exists()


def test_failed_section_is_recorded(tmp_path):
    report = Report("R")
    report.add_section("Good", data={"x": 1})
    report.add_section("Bad", status="failed", error="ImportError: no module named tabsift.expr")
    assert report.failed_sections == ["Bad"]
    index = report.write(tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["status"] == "failed"
    bad = results["sections"][1]
    assert bad["status"] == "failed"
    assert bad["error"] == "ImportError: no module named tabsift.expr"
    html = index.read_text()
    assert '<span class="badge failed">failed</span>' in html
    assert "This section failed." in html and "no module named tabsift.expr" in html
    assert "1 failed" in html


def test_data_is_converted_to_plain_json():
    section = Report("R").add_section(
        "S",
        data={
            "float": np.float32(0.5),
            "int": np.int64(3),
            "bool": np.bool_(True),
            "array": np.arange(3),
            "nested": {"nan": float("nan"), "inf": np.inf, 1: (1, 2)},
        },
    )
    assert section.data == {
        "float": 0.5,
        "int": 3,
        "bool": True,
        "array": [0, 1, 2],
        "nested": {"nan": None, "inf": None, "1": [1, 2]},
    }
    assert type(section.data["int"]) is int and type(section.data["bool"]) is bool
    json.dumps(section.data, allow_nan=False)


def test_bad_data_error_names_the_key():
    report = Report("R")
    with pytest.raises(
        TypeError, match=r"data of section 'S'\['model'\]\[1\] is a builtins.object"
    ):
        report.add_section("S", data={"model": [1, object()]})
    with pytest.raises(TypeError, match="JSON keys must be strings"):
        report.add_section("S", data={("a", "b"): 1})
    with pytest.raises(TypeError, match="pass it as table= instead"):
        report.add_section("S", data={"frame": pd.DataFrame({"a": [1]})})
    assert report.sections == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"figure": "plot.png"}, TypeError, "must be a matplotlib Figure, got str"),
        ({"table": {"a": [1]}}, TypeError, "must be a pandas DataFrame, got dict"),
        ({"text": 3}, TypeError, "text of section 'S' must be a str"),
        ({"data": [1, 2]}, TypeError, "data of section 'S' must be a dict, got list"),
        ({"status": "broken"}, ValueError, "status must be one of ['ok', 'failed', 'skipped']"),
        ({"error": ValueError("x")}, TypeError, "error of section 'S' must be a str"),
    ],
)
def test_add_section_validates_parameters(kwargs, error, match):
    with pytest.raises(error, match=match.replace("[", r"\[").replace("]", r"\]")):
        Report("R").add_section("S", **kwargs)


def test_titles_are_validated():
    with pytest.raises(ValueError, match="title must be a non-empty string"):
        Report("  ")
    with pytest.raises(ValueError, match="title must be a non-empty string, got None"):
        Report("R").add_section(None)


def test_interrupted_write_leaves_no_report_files(tmp_path):
    report = Report("R")
    report.add_section("First", figure=_figure())
    report.add_section("Second", figure=BrokenFigure())
    with pytest.raises(OSError, match="disk full"):
        report.write(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    # The first figure was complete before the failure; no page, no JSON, no temp file.
    assert names == ["figure-1-first.png"]
    assert (tmp_path / "figure-1-first.png").read_bytes().startswith(PNG_MAGIC)


def test_interrupted_write_keeps_the_previous_complete_report(tmp_path):
    old = Report("Old")
    old.add_section("First", figure=_figure(), data={"version": 1})
    old.write(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    new = Report("New")
    new.add_section("First", figure=_figure("other"), data={"version": 2})
    new.add_section("Second", figure=BrokenFigure())
    with pytest.raises(OSError):
        new.write(tmp_path)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(after) == set(before)  # no temporary or half-written file
    assert after["index.html"] == before["index.html"]
    assert after["results.json"] == before["results.json"]
    assert json.loads(after["results.json"])["title"] == "Old"


def test_write_into_a_file_is_a_clear_error(tmp_path):
    path = tmp_path / "taken"
    path.write_text("x")
    with pytest.raises(NotADirectoryError, match="it is a file, not a folder"):
        Report("R").write(path)


def test_table_rendering_details(tmp_path):
    frame = pd.DataFrame(
        {("grp", "x"): np.arange(250) / 3, ("grp", "flag"): [True] * 250},
    )
    report = Report("R")
    report.add_section("T", table=frame)
    html = report.write(tmp_path).read_text()
    assert "<th>grp / x</th><th>grp / flag</th>" in html
    assert '<td class="num">0.3333</td>' in html
    assert "Showing 200 of 250 rows." in html
    assert html.count("<tr>") == 201  # header + 200 rows
    assert "<td>True</td>" in html


def test_section_defaults_and_repr():
    report = Report("R")
    section = report.add_section("Only a title")
    assert isinstance(section, Section)
    assert section.data == {} and section.status == "ok" and section.error is None
    assert repr(report) == "Report('R', sections=1)"
    assert report.to_dict(created="2024-01-01T00:00:00+00:00")["created"].startswith("2024")


def test_writing_needs_no_pyplot(tmp_path):
    # Figures built with matplotlib.figure.Figure are saved without a GUI backend.
    code = textwrap.dedent(
        f"""
        import sys
        from matplotlib.figure import Figure
        from tabsift.report import Report
        fig = Figure()
        fig.add_subplot().plot([1, 2])
        report = Report("R")
        report.add_section("S", figure=fig)
        report.write({str(tmp_path)!r})
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert (tmp_path / "figure-1-s.png").read_bytes().startswith(PNG_MAGIC)


def test_tree_text_keeps_its_indentation(tmp_path):
    tree = "|--- x <= 1.0\n|   |--- class: a\n|--- x > 1.0\n|   |--- class: b"
    report = Report("Indented")
    report.add_section("Tree", text="Drawn inline:\n  indented line", code=tree)
    html = report.write(tmp_path).read_text(encoding="utf-8")
    # The code block keeps every space and line break, escaped once.
    assert '<pre class="code">|--- x &lt;= 1.0\n|   |--- class: a\n' in html
    assert "pre.code" in html and "white-space: pre" in html
    # Plain text keeps its leading spaces too (pre-wrap paragraphs).
    assert "<p>Drawn inline:\n  indented line</p>" in html
    assert "section > p { white-space: pre-wrap; }" in html
    with pytest.raises(TypeError, match="code of section 'Bad' must be a str"):
        report.add_section("Bad", code=3)
