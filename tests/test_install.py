"""What the installs promise: learners get no dev tools, every import is declared, conda
asks only for names conda-forge has, the licence is an SPDX string (nothing runs pip)."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

from tools.import_graph import imported_names, modules

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "Improvise_a_Jazz_Solo_with_an_LSTM.ipynb"

#: The module each distribution of pyproject.toml is imported as, where the two differ.
IMPORT_NAMES = {"ipython": "IPython", "pyyaml": "yaml", "pytest-timeout": None}
#: Imported by grader/ and tests/, installed by nbgrader (they are its own API and
#: dependencies), so they come with the learner's install without being named there.
WITH_NBGRADER = {"traitlets", "sqlalchemy", "nbconvert", "jupyter_client"}
#: Named only by the [dev] and [grader] extras: a learner's code path must import none
#: (yaml and psutil do come with JupyterLab, but nothing promises that).
EXTRAS_ONLY = {"dask", "distributed", "pytest", "hypothesis", "playwright", "yaml", "psutil"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return Requirement(requirement).name.lower().replace("_", "-")


def _imports_of(requirements: list[str]) -> set[str]:
    """The top-level modules the distributions in ``requirements`` provide."""
    found = set()
    for requirement in requirements:
        name = _name(requirement)
        if name == _project()["name"]:
            continue
        module = IMPORT_NAMES.get(name, name.replace("-", "_"))
        if module:
            found.add(module)
    return found


def _third_party(names: set[str], local: set[str]) -> set[str]:
    tops = {name.split(".")[0] for name in names}
    return {top for top in tops if top not in sys.stdlib_module_names and top not in local}


def _notebook_imports(path: Path) -> set[str]:
    """Every dotted name the code cells of ``path`` import (``from a import b`` gives a.b)."""
    names: set[str] = set()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        code = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _learner_closure() -> tuple[set[str], set[str]]:
    """Modules of jazz_utils/grader/tools a learner's run reaches, and what else they import.

    The roots are every jazz_utils module, tools/notebook_runner.py (``make demo``) and
    the imports of both notebooks (the solutions notebook's hidden tests import grader).
    """
    known = {**modules("jazz_utils"), **modules("grader"), **modules("tools")}

    def resolve(name: str) -> str:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name

    outside: set[str] = set()
    todo = [m for m in known if m.startswith("jazz_utils")] + ["tools.notebook_runner"]
    for folder in ("solutions", "notebooks"):
        todo += _notebook_imports(ROOT / folder / NOTEBOOK)
    seen: set[str] = set()
    while todo:
        module = resolve(name := todo.pop())
        if not module:
            outside.add(name)
        elif module not in seen:
            seen.add(module)
            todo += imported_names(module, known[module])
    return seen, _third_party(outside, set())


def test_learner_install_has_no_dev_or_grading_tools() -> None:
    project = _project()
    base = {_name(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    assert set(extras) == {"grader", "dev", "hub"}
    tools = {"pytest", "playwright", "ruff", "dask", "distributed", "hypothesis", "jupyterhub"}
    assert not base & tools
    assert {_name(r) for r in extras["grader"]} == {"dask", "distributed"}
    assert {_name(r) for r in extras["hub"]} == {"jupyterhub"}, "the hub's own, for make hub"
    assert "jazz-solo-lstm[grader]" in extras["dev"], "dev includes the grader extra"


def test_learner_code_path_imports_only_the_base_install() -> None:
    reached, third_party = _learner_closure()
    assert "grader.hidden" in reached, "the solutions notebook's hidden tests are on the path"
    assert not third_party & EXTRAS_ONLY
    assert third_party <= _imports_of(_project()["dependencies"])


def test_every_import_is_declared_where_it_is_used() -> None:
    project = _project()
    base = _imports_of(project["dependencies"]) | WITH_NBGRADER
    grading = base | _imports_of(project["optional-dependencies"]["grader"])
    everything = grading | _imports_of(project["optional-dependencies"]["dev"])
    hub = grading | _imports_of(project["optional-dependencies"]["hub"])
    folders = [("jazz_utils", base), ("grader", grading), ("hub", hub), ("tests", everything)]
    for folder, allowed in folders:
        local = {p.stem for p in (ROOT / folder).rglob("*.py")}
        local |= {p.parent.name for p in (ROOT / folder).rglob("*.py")}
        local |= {folder, "jazz_utils", "grader", "tools", "hub"}
        names: set[str] = set()
        for path in (ROOT / folder).rglob("*.py"):
            names |= imported_names(f"{folder}.module", path)
        assert _third_party(names, local) <= allowed, folder


def test_environment_yml_asks_conda_for_known_names_and_pip_for_the_project() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    listed = (ROOT / "tests" / "fixtures" / "conda_forge_names.txt").read_text().splitlines()
    known = {line.strip() for line in listed if line.strip() and not line.startswith("#")}
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    for spec in conda:
        name = re.match(r"[A-Za-z0-9_.-]+", spec).group(0)
        assert name in known, f"{name} is not in tests/fixtures/conda_forge_names.txt"
    python = next(d for d in conda if re.match(r"python\b", d))
    assert python.removeprefix("python") == _project()["requires-python"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-e ."], "pip installs the project: pyproject.toml's ranges"


def test_license_is_an_spdx_string_with_its_file() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert _project()["license"] == "MIT"
    assert _project()["license-files"] == ["LICENSE"]
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    setuptools = next(Requirement(r) for r in build["requires"] if r.startswith("setuptools"))
    assert setuptools.specifier.contains("77") and not setuptools.specifier.contains("76.1")


def test_requires_python_and_ruff_agree() -> None:
    spec = _project()["requires-python"]
    lowest = re.search(r">=\s*3\.(\d+)", spec).group(1)
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["target-version"] == f"py3{lowest}"
    readme = (ROOT / "README.md").read_text()
    assert f"Python 3.{lowest}" in readme
