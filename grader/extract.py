"""Extract a graded function from a submission: its definition and only what it needs.

The clean-room regrade re-tests each graded function in a fresh process built from the
submission's own source, without anything else the notebook ran. ``extract`` slices the
notebook's top-level statements: the statement that defines the function, then, again
and again, the last statements before it that bind a name it (or an already chosen
statement) reads: imports, helper functions, globals such as ``n_values`` or
``x_initializer``, and the statements those need. Everything else, in particular code
that patches modules, IPython or the grader, is left out.

Which cells count mirrors grading: locked cells come from the trusted source notebook
(as nbgrader's ``OverwriteCells`` does), locked cells that grading skips and grade
cells are left out, solution cells and the learner's own cells come from the submission.
"""

from __future__ import annotations

import ast
import symtable
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from nbformat.notebooknode import NotebookNode

_STAR = "*"
_COMPOUND = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.Try,
    ast.With,
    ast.AsyncWith,
    ast.Match,
)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class CodeCell:
    """A code cell as grading sees it.

    Attributes:
        index: the cell's position in the submission.
        grade_id: its nbgrader grade_id, if any.
        source: its code (the source notebook's for locked cells).
        kind: ``"instructor"`` (locked, run while grading), ``"skipped"`` (locked, not
            run), ``"solution"``, ``"grade"`` or ``"learner"`` (a cell the learner added).
    """

    index: int
    grade_id: str | None
    source: str
    kind: str

    @property
    def runs(self) -> bool:
        """Whether the clean room may take statements from this cell."""
        return self.kind in ("instructor", "solution", "learner")


def sanitized_cells(
    submission: NotebookNode, source: NotebookNode, run_locked: Sequence[str]
) -> list[CodeCell]:
    """The submission's code cells, with locked cells restored from ``source``.

    Args:
        submission: the learner's notebook, as submitted.
        source: the course's source notebook (trusted).
        run_locked: grade_ids of the locked cells grading runs.
    """
    trusted = {
        cell.metadata["nbgrader"]["grade_id"]: cell
        for cell in source.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    }
    seen: set[str] = set()
    cells: list[CodeCell] = []
    for index, cell in enumerate(submission.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in trusted and grade_id not in seen:
            seen.add(grade_id)
            original = trusted[grade_id]
            meta = original.metadata["nbgrader"]
            if meta.get("grade"):
                if original.cell_type == "code":
                    cells.append(CodeCell(index, grade_id, original.source, "grade"))
            elif meta.get("solution"):
                if cell.cell_type == "code":
                    cells.append(CodeCell(index, grade_id, cell.source, "solution"))
            elif meta.get("locked"):
                if original.cell_type == "code":
                    kind = "instructor" if grade_id in run_locked else "skipped"
                    cells.append(CodeCell(index, grade_id, original.source, kind))
            elif cell.cell_type == "code":
                cells.append(CodeCell(index, grade_id, cell.source, "learner"))
        elif cell.cell_type == "code":
            cells.append(CodeCell(index, None, cell.source, "learner"))
    return cells


@dataclass
class _Statement:
    position: int
    cell: int
    node: ast.stmt
    binds: set[str]
    conditional: bool
    reads_now: set[str] = field(default_factory=set)
    reads_later: set[str] = field(default_factory=set)


def _python_source(source: str) -> str:
    """IPython syntax (magics, ``!`` commands) turned into plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _target_names(node: ast.AST) -> Iterable[str]:
    """Names a statement binds in the module scope (not inside nested scopes)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
        return
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            if alias.name == "*":
                yield _STAR
            else:
                yield alias.asname or alias.name.split(".")[0]
        return
    if isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
        return
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        yield node.id
    if isinstance(node, ast.ExceptHandler) and node.name:
        yield node.name
    if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        yield node.name
    if isinstance(node, ast.MatchMapping) and node.rest:
        yield node.rest
    for child in ast.iter_child_nodes(node):
        yield from _target_names(child)


def _scope_globals(table: symtable.SymbolTable) -> set[str]:
    """Global names read inside the nested scopes of ``table``."""
    names: set[str] = set()
    for child in table.get_children():
        for symbol in child.get_symbols():
            if symbol.is_referenced() and symbol.is_global():
                names.add(symbol.get_name())
        names |= _scope_globals(child)
    return names


def _reads(node: ast.stmt) -> tuple[set[str], set[str]]:
    """(names read when the statement runs, global names read later inside its scopes)."""
    table = symtable.symtable(ast.unparse(node), "<statement>", "exec")
    now = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    return now, _scope_globals(table)


def _statements(cells: Sequence[CodeCell], stop: int) -> list[_Statement]:
    statements: list[_Statement] = []
    for cell in cells:
        if cell.index >= stop or not cell.runs:
            continue
        try:
            module = ast.parse(_python_source(cell.source))
            compile(module, "<cell>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue  # the cell raises before running anything, in the notebook too
        for node in module.body:
            now, later = _reads(node)
            statements.append(
                _Statement(
                    position=len(statements),
                    cell=cell.index,
                    node=node,
                    binds=set(_target_names(node)),
                    conditional=isinstance(node, _COMPOUND),
                    reads_now=now,
                    reads_later=later,
                )
            )
    return statements


@dataclass(frozen=True)
class Program:
    """The extracted code of one graded function: blocks to run in order, one per cell.

    A block that raises stops there, as a notebook cell does, and the next block runs.
    """

    function: str
    blocks: tuple[str, ...]

    @property
    def source(self) -> str:
        """All blocks, for reading."""
        return "\n\n".join(self.blocks)


def extract(cells: Sequence[CodeCell], function: str, stop: int) -> Program:
    """Slice out ``function`` and what it needs from cells before position ``stop``.

    Args:
        cells: from ``sanitized_cells``.
        function: the graded function's name.
        stop: the submission index of the function's first grade cell: names are
            resolved as they stand there.
    """
    statements = _statements(cells, stop)
    chosen: set[int] = set()
    work: list[tuple[str, int]] = [(function, len(statements))]
    visited: set[tuple[str, int]] = set()

    def choose(statement: _Statement) -> None:
        if statement.position in chosen:
            return
        chosen.add(statement.position)
        work.extend((name, statement.position) for name in statement.reads_now)
        later = len(statements) if isinstance(statement.node, _DEFINITIONS) else statement.position
        work.extend((name, later) for name in statement.reads_later)

    while work:
        name, before = work.pop()
        if (name, before) in visited:
            continue
        visited.add((name, before))
        for statement in reversed(statements[:before]):
            if name in statement.binds:
                choose(statement)
                if not statement.conditional:
                    break
            elif _STAR in statement.binds:
                choose(statement)

    blocks: list[str] = []
    current_cell: int | None = None
    current: list[str] = []
    for statement in statements:
        if statement.position not in chosen:
            continue
        if statement.cell != current_cell and current:
            blocks.append("\n".join(current))
            current = []
        current_cell = statement.cell
        current.append(ast.unparse(statement.node))
    if current:
        blocks.append("\n".join(current))
    return Program(function, tuple(blocks))


def first_grade_cell(cells: Sequence[CodeCell], grade_ids: Sequence[str], function: str) -> int:
    """Where ``function`` is graded: its first grade cell, else just after its solution cell.

    Returns:
        A submission cell index (one past the last cell when neither is present).
    """
    for cell in cells:
        if cell.kind == "grade" and cell.grade_id in grade_ids:
            return cell.index
    for cell in cells:
        if cell.kind == "solution" and cell.grade_id == function:
            return cell.index + 1
    return max((cell.index for cell in cells), default=-1) + 1
