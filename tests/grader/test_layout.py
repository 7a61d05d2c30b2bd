"""The grader's layout: imports go one way, module names written in text resolve.

``grader/`` is a flat scoring core with three wings above it (see grader/README.md)::

    cli, __main__  ->  batch  ->  cleanroom  ->  sandbox  ->  core

A module may import from its own floor and the floors below, never from one above, and
no import (at the top of a module or inside a function) may close a circle. Everything
here reads the source with ``ast``: nothing of the grader is imported but packages found
by ``importlib.util.find_spec``. How long a module may be is checked for the whole house
in ``tests/test_house.py``.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from tools import import_graph

ROOT = Path(__file__).resolve().parents[2]
GRADER = ROOT / "grader"

FLOORS: dict[str, int] = {"core": 0, "sandbox": 1, "cleanroom": 2, "batch": 3, "cli": 4}
"""How high each part of the grader sits: imports go from a higher floor to a lower one."""

TOP_MODULES = ("grader.cli", "grader.__main__")
"""Core-folder modules that sit on the top floor (the command line)."""


MODULES = import_graph.modules("grader", ROOT)
_ARROWS = import_graph.graph(MODULES)


def _floor(module: str) -> int:
    if module in TOP_MODULES:
        return FLOORS["cli"]
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in FLOORS:
        return FLOORS[parts[1]]
    return FLOORS["core"]


def _imports(module: str) -> set[str]:
    """The grader modules ``module`` imports, anywhere in its source."""
    found = _ARROWS[module]
    # A package's ``__init__`` runs on the way to any of its modules; it imports nothing.
    return {name for name in found if name not in ("grader", *_wing_packages())}


def _wing_packages() -> tuple[str, ...]:
    return tuple(f"grader.{wing}" for wing in FLOORS if (GRADER / wing).is_dir())


GRAPH = {module: _imports(module) for module in MODULES}


def test_the_wings_are_packages_that_say_what_they_own_and_import_nothing() -> None:
    for wing in ("sandbox", "cleanroom", "batch"):
        init = GRADER / wing / "__init__.py"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"grader/{wing}/__init__.py has no docstring"
        code = [node for node in tree.body if not isinstance(node, ast.Expr)]
        assert not code, f"grader/{wing}/__init__.py does more than say what it owns"


def _upward(graph: dict[str, set[str]]) -> list[str]:
    """Every import in ``graph`` that goes to a higher floor."""
    return [
        f"{module} ({_floor(module)}) imports {target} ({_floor(target)})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if _floor(target) > _floor(module)
    ]


def _circles(graph: dict[str, set[str]]) -> list[str]:
    """The import circles of ``graph``, each as ``a -> b -> a``."""
    return import_graph.circles(graph)


def test_imports_never_run_up_a_floor() -> None:
    upward = _upward(GRAPH)
    assert not upward, "\n".join(upward)


def test_no_import_circle() -> None:
    circles = _circles(GRAPH)
    assert not circles, "\n".join(circles)


def test_the_checks_see_an_upward_arrow_and_a_circle() -> None:
    """The two rules above catch what they are for (on a made-up graph), and the graph
    holds imports made inside functions too."""
    made_up = {
        "grader.judges": {"grader.cleanroom.run"},
        "grader.sandbox.launcher": {"grader.sandbox.forkserver"},
        "grader.sandbox.forkserver": {"grader.sandbox.launcher"},
    }
    assert _upward(made_up) == ["grader.judges (0) imports grader.cleanroom.run (2)"]
    assert _circles(made_up) == [
        "grader.sandbox.forkserver -> grader.sandbox.launcher -> grader.sandbox.forkserver"
    ]
    assert "grader.sandbox.protocol" in GRAPH["grader.sandbox.launcher"]
    assert "grader.sandbox.protocol" in GRAPH["grader.sandbox.forkserver"]
    assert "grader.judges" in GRAPH["grader.hidden"]  # imported inside ``grade``


# --- module names written as text -----------------------------------------------------

_QUOTED = re.compile(r"""["'`](grader(?:\.\w+)+)["'`]""")
_COMMAND = re.compile(r"-m\s+[\"']?(grader(?:\.\w+)*)")
_PLAIN_FILES = ("grader/README.md", "CONTRIBUTING.md", "Makefile")


def _named_in(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return {*_QUOTED.findall(text), *_COMMAND.findall(text)}


def _written_names() -> dict[str, set[str]]:
    """Every dotted ``grader...`` name quoted, back-quoted or run with ``-m``, by file."""
    files = [*GRADER.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    files += [ROOT / name for name in _PLAIN_FILES if (ROOT / name).is_file()]
    found: dict[str, set[str]] = {}
    for path in files:
        for name in _named_in(path):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def _top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _resolves(name: str) -> bool:
    """Whether ``name`` is a grader module, or names something defined at the top of one
    (``grader.batch.intake.Entry`` and its attribute ``grader.batch.intake.Entry.digest``)."""
    if name in MODULES:
        return importlib.util.find_spec(name) is not None
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:cut])
        if module in MODULES:
            return parts[cut] in _top_level_names(MODULES[module])
    return False


_NOT_MODULES = {"grader.server_extensions"}
"""Prefixes that name nbgrader's own modules in its configuration, not this package's."""


def test_every_module_name_written_as_text_resolves() -> None:
    found = _written_names()
    assert "grader.sandbox.launcher" in found  # the launcher's command line
    assert "grader.cleanroom.maker" in found and "grader.cleanroom.modelrun" in found
    wrong = [
        f"{name} (in {', '.join(sorted(files))})"
        for name, files in sorted(found.items())
        if not any(name.startswith(prefix) for prefix in _NOT_MODULES) and not _resolves(name)
    ]
    assert not wrong, "names of no grader module:\n" + "\n".join(wrong)


def test_the_module_lists_name_modules_that_exist() -> None:
    """The fork server's preload and served modules, and the sandboxes' copy, by their tuples."""
    lists = {
        "grader/sandbox/forkserver.py": "PRELOAD",
        "grader/sandbox/protocol.py": "MODULES",
        "grader/sandbox/software.py": "SANDBOX_MODULES",
    }
    for file, variable in lists.items():
        tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
        values = next(
            node.value
            for node in tree.body
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            and variable
            in [t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])]
        )
        names = ast.literal_eval(values)
        assert names, (file, variable)
        for name in names:
            assert importlib.util.find_spec(name) is not None, (file, variable, name)


def test_the_readmes_map_matches_the_tree() -> None:
    """grader/README.md's map names every module in its folder, and nothing else."""
    text = (GRADER / "README.md").read_text(encoding="utf-8")
    block = text.split("## The map", 1)[1].split("```", 2)[1]
    named: set[str] = set()
    folder = ""
    for line in block.splitlines():
        depth = len(line) - len(line.lstrip(" "))
        names = re.split(r"\s{3,}", line.strip())[0] if line.strip() else ""
        if not names or depth > 4:  # a description's second line
            continue
        if depth == 2:
            folder = names.rstrip("/") if names.endswith("/") else ""
        for module in re.findall(r"\w+\.py", names):
            named.add(f"{folder}/{module}" if folder and depth == 4 else module)
    tree = {
        path.relative_to(GRADER).as_posix()
        for path in GRADER.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    }
    assert named == tree, (sorted(named - tree), sorted(tree - named))
