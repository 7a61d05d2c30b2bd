"""Repository rules: CI runs the README's command, clean imports (installs: test_install.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_exactly_the_readme_test_command() -> None:
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert commands == ["make test"]
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme


def test_no_star_imports_and_no_sys_path_patching() -> None:
    sources = [
        *ROOT.glob("jazz_utils/**/*.py"),
        *ROOT.glob("grader/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("tools/*.py"),
        *ROOT.glob("bench/*.py"),
    ]
    for path in sources:
        if path == Path(__file__).resolve():
            continue
        text = path.read_text()
        assert not re.search(r"^\s*from\s+\S+\s+import\s+\*", text, re.M), path
        assert "sys.path.insert" not in text and "sys.path.append" not in text, path


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = (
        "import sys, jazz_utils, grader\n"
        "names = ('tensorflow', 'keras', 'music21', 'matplotlib', 'mido')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve() -> None:
    import jazz_utils

    for name in jazz_utils.__all__:
        assert getattr(jazz_utils, name) is not None
