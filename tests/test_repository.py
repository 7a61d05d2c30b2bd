"""Repository rules: one set of dependencies, CI runs the README's command, clean imports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normalise(requirement: str) -> tuple[str, str]:
    parsed = Requirement(requirement.replace(" ", ""))
    return parsed.name.lower().replace("_", "-"), str(parsed.specifier)


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    project = _pyproject()["project"]
    wanted = {
        _normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    }
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {
        _normalise(d)
        for d in env["dependencies"]
        if isinstance(d, str) and not d.startswith(("python", "pip"))
    }
    assert conda == wanted
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == ['-e ".[dev]"']
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.removeprefix("python") == project["requires-python"]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert commands == ["make test"]
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme


def test_license_is_mit() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert _pyproject()["project"]["license"]["text"] == "MIT"


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
