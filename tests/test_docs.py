"""The documentation keeps up with the code.

- every public name is listed in the API reference (docs/api/*.rst);
- every public class and function has a numpydoc docstring with an Examples section;
- every user-guide page runs top to bottom, shell commands included, and prints what it shows;
- the CLI usage text in the API reference matches the real parser;
- the example gallery covers every family and job; no notebook is stored without outputs.

The Sphinx build itself, which executes the gallery, runs separately in CI (``sphinx -W``),
not here.
"""

import importlib
import importlib.util
import inspect
import json
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# The public modules whose ``__all__`` the API reference must cover: tabsift and
# every module below it without a leading underscore in its path, found by
# discovery so that a new family is covered as soon as it exists.
def _public_module_names():
    import pkgutil

    import tabsift

    names = ["tabsift"]
    for info in pkgutil.walk_packages(tabsift.__path__, prefix="tabsift."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return tuple(names)


PUBLIC_MODULES = _public_module_names()


def test_discovery_finds_every_family():
    for name in ("tabsift.feature_selection", "tabsift.llm.testing", "tabsift.cli"):
        assert name in PUBLIC_MODULES


# Public names of tabsift.llm still lacking an Examples section; each is an
# expected failure until its docstring is written. Empty: every one has one.
LLM_DOCSTRINGS_PENDING = frozenset()


def _public_objects():
    """Yield ``(qualified name, object)`` for every name in a public ``__all__``."""
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or name == "__version__":
                continue  # subpackages have their own page; the version is not API
            yield f"{module_name}.{name}", obj


def _documented_names():
    """Fully qualified names documented in docs/api: autosummary lists, ``auto*`` and ``data``."""
    names = set()
    directive = re.compile(r"^\.\. (\w+(?:::\w+)?):: *(\S*)")
    for page in sorted((DOCS / "api").glob("*.rst")):
        current = None
        in_autosummary = False
        for line in page.read_text().splitlines():
            match = directive.match(line)
            if match:
                kind, argument = match.groups()
                in_autosummary = kind == "autosummary"
                if kind in ("currentmodule", "automodule", "module"):
                    current = argument
                elif argument and kind in ("data", "py:data", "function", "py:function", "class"):
                    names.add(f"{current}.{argument}")  # documented by hand
                elif kind.startswith("auto") and kind != "autosummary" and argument:
                    names.add(argument if "." in argument else f"{current}.{argument}")
                continue
            if in_autosummary:
                stripped = line.strip()
                if line and not line[0].isspace():
                    in_autosummary = False  # back to unindented text: the directive ended
                elif stripped and not stripped.startswith(":"):
                    entry = stripped.lstrip("~")
                    names.add(entry if entry.startswith("tabsift.") else f"{current}.{entry}")
    return names


def test_api_reference_lists_every_public_name():
    documented = _documented_names()
    missing = [name for name, _ in _public_objects() if name not in documented]
    assert not missing, (
        f"public names missing from the API reference: {missing}. Add each to the "
        "autosummary list of its module's page in docs/api/."
    )


def test_api_reference_lists_only_existing_names():
    stale = []
    for qualified in sorted(_documented_names()):
        module_name, _, name = qualified.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            # A module documented as a whole (automodule), e.g. tabsift.llm.testing.
            if importlib.util.find_spec(qualified) is None:
                stale.append(qualified)
            continue
        if not hasattr(module, name):
            stale.append(qualified)
    assert not stale, f"the API reference lists names that do not exist: {stale}"


def _lacks_examples(obj):
    from numpydoc.docscrape import NumpyDocString

    doc = inspect.getdoc(obj)
    if not doc:
        return "no docstring"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parsed = NumpyDocString(doc)
    if caught:
        return f"numpydoc: {caught[0].message}"
    if not parsed["Examples"]:
        return "no Examples section"
    return None


def _documentable():
    for qualified, obj in _public_objects():
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield qualified, obj


def test_public_classes_and_functions_have_examples():
    pytest.importorskip("numpydoc")
    offenders = []
    for qualified, obj in _documentable():
        if qualified in LLM_DOCSTRINGS_PENDING:
            continue
        problem = _lacks_examples(obj)
        if problem:
            offenders.append(f"{qualified}: {problem}")
    assert offenders == [], (
        "public classes and functions need a numpydoc docstring with an Examples section "
        "that runs as a doctest:\n" + "\n".join(offenders)
    )


if LLM_DOCSTRINGS_PENDING:

    @pytest.mark.xfail(reason="llm docstrings pending", strict=True)
    @pytest.mark.parametrize("qualified", sorted(LLM_DOCSTRINGS_PENDING))
    def test_pending_llm_docstrings_have_examples(qualified):
        pytest.importorskip("numpydoc")
        obj = dict(_documentable())[qualified]
        assert _lacks_examples(obj) is None


# ----------------------------------------------------------------- user guide code
def _page_items(page):
    """A user-guide page as it would be followed: its Python blocks and shell commands, in order.

    Returns ``("python", code)`` for each ``.. code-block:: python`` and ``("shell", command,
    shown_output_lines)`` for each ``$ command`` line of a literal block, with the lines
    shown under it (up to the next ``$`` or the end of the block).
    """
    lines = page.read_text().splitlines()
    items, i = [], 0
    while i < len(lines):
        if lines[i].strip() == ".. code-block:: python":
            i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                body.append(lines[i][4:])
                i += 1
            items.append(("python", "\n".join(body).strip("\n")))
        elif lines[i].startswith("    $ "):
            while i < len(lines) and lines[i].startswith("    "):
                command, shown = lines[i][6:], []
                i += 1
                while i < len(lines) and lines[i].startswith("    ") and not lines[i].startswith("    $ "):
                    shown.append(lines[i][4:])
                    i += 1
                items.append(("shell", command, shown))
        else:
            i += 1
    return items


GUIDE_PAGES = sorted(
    p.name for p in (DOCS / "user_guide").glob("*.rst")
    if any(item[0] in ("python", "shell") for item in _page_items(p))
)


def _run_shell(command):
    """Run a ``tabsift ...`` or ``python ...`` line of the guide; its exit code and output."""
    import contextlib
    import io
    import shlex
    import subprocess
    import sys

    argv = shlex.split(command)
    if argv[0] == "tabsift":
        from tabsift.cli import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(argv[1:])
        return code, out.getvalue()
    assert argv[0] == "python", f"the guide shows a command the test cannot run: {command}"
    done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("page", GUIDE_PAGES)
def test_user_guide_runs_top_to_bottom(page, tmp_path, monkeypatch):
    """Every Python block and shell command of a page runs, in the page's order, in one
    folder and one namespace (blocks build on each other), and each command prints what the
    page shows (``...`` matches anything; timings such as ``(1.7 s)`` are not compared)."""
    import doctest

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    namespace = {"__name__": "__main__"}
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    for n, item in enumerate(_page_items(DOCS / "user_guide" / page)):
        if item[0] == "python":
            exec(compile(item[1], f"{page} block {n}", "exec"), namespace)  # noqa: S102
            continue
        _, command, shown = item
        code, output = _run_shell(command)
        assert code == 0, f"{page}: `{command}` exited {code}:\n{output}"
        want = re.sub(r"\(\d+(\.\d+)? s\)", "(... s)", "\n".join(shown) + "\n")
        got = re.sub(r"\(\d+(\.\d+)? s\)", "(... s)", output)
        assert checker.check_output(want, got, flags), (
            f"{page}: `{command}` printed\n{output}\nbut the page shows\n{want}"
        )


# ------------------------------------------------------------------------ CLI usage
def _literal_after(text, marker):
    """The indented literal block that follows the line ``marker``."""
    lines = text.splitlines()
    start = lines.index(marker) + 1
    body = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        body.append(line[4:])
    return "\n".join(body).strip("\n")


@pytest.mark.parametrize(
    ("argv", "marker"),
    [
        (["--help"], "``tabsift --help``::"),
        (["demo", "--help"], "``tabsift demo --help``::"),
        (["select-features", "--help"], "``tabsift select-features --help``::"),
        (["fit-rules", "--help"], "``tabsift fit-rules --help``::"),
        (["correct-residuals", "--help"], "``tabsift correct-residuals --help``::"),
        (["select-rows", "--help"], "``tabsift select-rows --help``::"),
        (["fit-tree", "--help"], "``tabsift fit-tree --help``::"),
    ],
)
def test_cli_usage_text_matches_the_parser(argv, marker, monkeypatch, capsys):
    from tabsift.cli import main

    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal width
    assert main(argv) == 0
    actual = [line.rstrip() for line in capsys.readouterr().out.strip("\n").splitlines()]
    shown = _literal_after((DOCS / "api" / "cli.rst").read_text(), marker).splitlines()
    assert shown == actual, "docs/api/cli.rst shows stale usage text; paste the new output"


# ---------------------------------------------------------------- gallery, notebooks
# The examples are sphinx-gallery scripts in examples/, executed by the docs build (CI runs
# it once), which renders their output and figures and offers each as a notebook to
# download. No notebook is stored in the repository: one without outputs shows nothing
# but code, and stored outputs would go stale.
EXAMPLES = ROOT / "examples"
SKIPPED_DIRS = {".venv", ".git", "_build", "auto_examples", "build", "dist", ".ipynb_checkpoints"}


def test_no_notebook_is_stored_without_outputs():
    import os

    stored = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]  # no descent into builds, venvs
        stored += [Path(folder, f).relative_to(ROOT) for f in files if f.endswith(".ipynb")]
    without_outputs = []
    for path in stored:
        cells = json.loads((ROOT / path).read_text())["cells"]
        if any(cell["cell_type"] == "code" and not cell.get("outputs") for cell in cells):
            without_outputs.append(str(path))
    assert not without_outputs, (
        f"notebooks with code cells that show no output: {without_outputs}. Write the "
        "example as a sphinx-gallery script in examples/ (the docs build runs it and offers "
        "it as a notebook) instead of storing a notebook."
    )


def _gallery_scripts():
    return sorted(EXAMPLES.rglob("plot_*.py"))


def test_every_gallery_folder_has_a_header():
    folders = [EXAMPLES]
    folders += [p for p in EXAMPLES.iterdir() if p.is_dir() and p.name[0] not in "._"]
    missing = [str(f.relative_to(ROOT)) for f in folders if not (f / "GALLERY_HEADER.rst").is_file()]
    assert not missing, f"sphinx-gallery needs a GALLERY_HEADER.rst in {missing}"


@pytest.mark.parametrize("script", _gallery_scripts(), ids=lambda p: p.name)
def test_gallery_script_starts_with_a_titled_docstring(script):
    import ast

    doc = ast.get_docstring(ast.parse(script.read_text()))
    assert doc, f"{script.name}: a gallery example starts with a docstring (its page's text)"
    title, underline = doc.splitlines()[:2]
    assert title and set(underline) == {"="} and len(underline) >= len(title), (
        f"{script.name}: the docstring's first line is the title, underlined with '='"
    )


def test_gallery_covers_every_family_and_every_job():
    from tabsift.cli import build_parser

    families = {"feature_selection", "tree", "rules", "residual", "sampling"}
    missing = sorted(f for f in families if not list((EXAMPLES / f).glob("plot_*.py")))
    assert not missing, f"families without a gallery example: {missing}"

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    jobs = set(subparsers.choices) - {"demo"}  # the demo is the report of every family
    text = "\n".join(p.read_text() for p in (EXAMPLES / "cli").glob("plot_cli_*.py"))
    without = sorted(job for job in jobs if f'["{job}"' not in text and f'"{job}",' not in text)
    assert not without, f"CLI jobs no example in examples/cli runs through main([...]): {without}"
