"""The README's Quickstart is what CI runs: keep the two in step."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quickstart_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quickstart_has_exactly_two_commands():
    commands = _quickstart_commands()
    assert len(commands) == 2
    assert commands[0].endswith("tabsift demo")
    assert "[dev]" in commands[1] and "pytest" in commands[1]


def test_ci_runs_the_test_command_verbatim_after_cpu_torch():
    ci = (ROOT / ".ci" / "run").read_text()
    command = _quickstart_commands()[1]
    assert command in ci.splitlines()
    assert ci.index("pip install --quiet torch==2.13.0") < ci.index(command)
