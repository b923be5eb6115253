"""State files are data: nothing in src/ may load a file in a format that can run code."""

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tabsift"

# Loaders that execute code embedded in what they read (pickle's __reduce__, torch's
# unpickler, NumPy object arrays) or evaluate text.
FORBIDDEN = {
    "pickle.load": re.compile(r"\bpickle\.loads?\("),
    "cPickle / dill / joblib load": re.compile(r"\b(cPickle|dill|joblib)\.loads?\("),
    "torch.load": re.compile(r"\btorch\.load\("),
    "allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
    "pandas.read_pickle": re.compile(r"\bread_pickle\("),
    "eval / exec": re.compile(r"(?<![\w.])(eval|exec)\("),
}


def _code_lines(path):
    """(number, line) of a source file, comments and docstring examples left out."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(("#", ">>>", "...")):
            continue
        yield number, line


@pytest.mark.parametrize("what", list(FORBIDDEN))
def test_src_never_loads_code_from_files(what):
    pattern = FORBIDDEN[what]
    hits = [
        f"{path.relative_to(SRC.parent)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in _code_lines(path)
        if pattern.search(line)
    ]
    assert not hits, f"{what} found in src/ (state files must be data):\n" + "\n".join(hits)


def test_the_patterns_catch_what_they_are_for():
    assert FORBIDDEN["pickle.load"].search("state = pickle.load(f)")
    assert FORBIDDEN["pickle.load"].search("pickle.loads(blob)")
    assert not FORBIDDEN["pickle.load"].search("pickle.dumps(state)")
    assert FORBIDDEN["allow_pickle=True"].search("np.load(path, allow_pickle = True)")
    assert FORBIDDEN["eval / exec"].search("value = eval(text)")
    assert not FORBIDDEN["eval / exec"].search("model.eval()")
    assert not FORBIDDEN["eval / exec"].search("expression.evaluate(X)")
