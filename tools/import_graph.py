"""Who imports whom in this repository, read from the source with ``ast`` (nothing is run).

    python tools/import_graph.py grader        # every arrow inside grader/, then circles
    python tools/import_graph.py jazz_utils

The layout tests (``tests/test_house.py``, ``tests/grader/test_layout.py``) read the same
graph to check that imports go one way and form no circle. An import counts wherever it
is written (at the top of a module or inside a function), except under
``if TYPE_CHECKING:``, which only annotations see.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules(package: str, root: Path = ROOT) -> dict[str, Path]:
    """Every module of ``package`` (a folder of ``root``) by dotted name.

    A package's ``__init__.py`` goes by the package's own name.
    """
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
            else:
                stack.append(child)
    return found


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name ``module`` (the file ``path``) imports, made absolute.

    ``from a.b import c`` gives both ``a.b`` and ``a.b.c``: ``c`` may be a module.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        names.add(base)
        names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name}


def graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """For each module of ``known``, the modules of ``known`` it imports."""

    def resolve(name: str) -> str:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name

    arrows = {}
    for module, path in known.items():
        targets = {resolve(name) for name in imported_names(module, path)}
        arrows[module] = {target for target in targets if target and target != module}
    return arrows


def circles(arrows: dict[str, set[str]]) -> list[str]:
    """The import circles of ``arrows``, each written ``a -> b -> a``."""
    state: dict[str, str] = {}
    found: list[str] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(arrows.get(module, ())):
            if state.get(target) == "open":
                found.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(arrows):
        if module not in state:
            visit(module, [module])
    return found


def main(argv: list[str] | None = None) -> int:
    """Print the arrows of one top-level package and its circles; 1 when there are any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", help="a top-level folder: grader, jazz_utils, ...")
    args = parser.parse_args(argv)
    arrows = graph(modules(args.package))
    nothing = f"(nothing of {args.package})"
    for module, targets in sorted(arrows.items()):
        print(f"{module} -> {', '.join(sorted(targets)) or nothing}")
    found = circles(arrows)
    for circle in found:
        print(f"circle: {circle}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
