"""The house's layout (CONTRIBUTING.md, "The house"): imports go one way between its folders,
``jazz_utils`` has no import circle, the LSTM reference exists once, long modules say why.

The grader's own floors are checked in ``tests/grader/test_layout.py``. Everything here
reads the source (``tools/import_graph.py``); nothing of the project is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tools import import_graph

ROOT = Path(__file__).resolve().parent.parent

BELOW: dict[str, tuple[str, ...]] = {
    "jazz_utils": (),
    "grader": ("jazz_utils",),
    "tools": ("jazz_utils", "grader"),
    "bench": ("jazz_utils", "grader"),
    "hub": ("grader",),
}
"""What each folder may import of the others (tests may import all of them)."""

LONG_MODULE = 500
LONG_REASON = "Why it is one long module:"


def _first_party(folder: str) -> dict[str, set[str]]:
    """For each module of ``folder``, the project's top-level folders it imports."""
    tops = {*BELOW, "tests"}
    found = {}
    for module, path in import_graph.modules(folder, ROOT).items():
        names = import_graph.imported_names(module, path)
        found[module] = {name.split(".")[0] for name in names} & tops - {folder}
    return found


@pytest.mark.parametrize("folder", sorted(BELOW))
def test_a_folder_imports_only_the_folders_below_it(folder: str) -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in sorted(_first_party(folder).items())
        for target in sorted(targets)
        if target not in BELOW[folder]
    ]
    assert not wrong, "\n".join(wrong)


def test_jazz_utils_has_no_import_circle() -> None:
    found = import_graph.circles(import_graph.graph(import_graph.modules("jazz_utils", ROOT)))
    assert not found, "\n".join(found)


def test_the_rules_see_what_they_are_for(tmp_path: Path) -> None:
    """An upward import (even inside a function) and a circle are found; an import only
    annotations see (``if TYPE_CHECKING:``) is not an arrow."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from pkg import b\n    import grader.cli\n")
    (package / "b.py").write_text("from pkg.a import f\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n"
    )
    known = import_graph.modules("pkg", tmp_path)
    arrows = import_graph.graph(known)
    assert import_graph.circles(arrows) == ["pkg.a -> pkg.b -> pkg.a"]
    assert arrows["pkg.c"] == set()
    assert "grader.cli" in import_graph.imported_names("pkg.a", known["pkg.a"])


REFERENCE_FILES = ("jazz_utils/lstm_reference.py", "jazz_utils/lstm_harness.py")


def _functions(path: Path) -> set[str]:
    """The names of the functions ``path`` defines at its top level, without a leading ``_``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name.lstrip("_")
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def test_the_lstm_reference_and_its_keras_harness_exist_once() -> None:
    """No other module of the library or the grader defines a function of the same name
    (public or private): the checks and the grader both import these."""
    reference = set().union(*(_functions(ROOT / name) for name in REFERENCE_FILES))
    assert {"lstm_step", "dense_softmax", "sigmoid", "smallest_margin"} <= reference
    twice = [
        f"{path.relative_to(ROOT)}: {name}"
        for folder in ("jazz_utils", "grader")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in REFERENCE_FILES
        for name in sorted(_functions(path) & reference)
    ]
    assert not twice, "\n".join(twice)


def _python_files() -> list[Path]:
    return [
        path
        for folder in ("jazz_utils", "grader", "tools", "bench", "tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "fixtures" not in path.parts
    ]


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_long_module_says_why(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    if lines <= LONG_MODULE:
        return
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert LONG_REASON in docstring, (
        f"{path.relative_to(ROOT)} has {lines} lines: split it, or say in its docstring "
        f"({LONG_REASON!r}) why it is one module"
    )
