"""The student release in notebooks/: current, stubbed, free of solutions and hidden tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from catalogue import MARKERS, NOTEBOOK, SOURCE

from grader.course import check_release, release

ROOT = Path(__file__).resolve().parents[2]
RELEASED = ROOT / "notebooks" / NOTEBOOK
STUB_MESSAGE = "Exercise not done yet"
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "jp-MarkdownHeadingCollapsed")


def _meta(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def _comparable(notebook: nbformat.NotebookNode) -> list[tuple[Any, ...]]:
    """What must not drift: each cell's type, source and metadata (volatile keys dropped)."""
    rows = []
    for cell in notebook.cells:
        metadata = {k: v for k, v in cell.metadata.items() if k not in VOLATILE_CELL_METADATA}
        rows.append((cell.cell_type, cell.source, metadata))
    kernel = notebook.metadata.get("kernelspec", {}).get("name")
    rows.append(("kernel", kernel, {}))
    return rows


def test_release_is_current(tmp_path: Path) -> None:
    fresh = release(tmp_path / "course", ROOT / "solutions", tmp_path / "notebooks")
    committed = nbformat.read(RELEASED, as_version=4)
    regenerated = nbformat.read(fresh, as_version=4)
    assert _comparable(committed) == _comparable(regenerated), (
        "notebooks/ is stale: run `make release` and commit the result"
    )


def test_release_has_stubs_and_neither_solutions_nor_hidden_tests() -> None:
    check_release(RELEASED)
    released = nbformat.read(RELEASED, as_version=4)
    source = nbformat.read(SOURCE, as_version=4)
    solution_lines = set()
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if line.strip() == MARKERS[0]:
                inside = True
            elif line.strip() == MARKERS[1]:
                inside = False
            elif inside and line.strip():
                solution_lines.add(line.strip())
    text = "\n".join(cell.source for cell in released.cells)
    leaked = [line for line in solution_lines if line in text.splitlines()]
    assert not leaked, f"solution code in the release: {leaked}"
    for marker in (*MARKERS, "BEGIN HIDDEN TESTS", "hidden.grade", "from grader"):
        assert marker not in text
    stubs = [c for c in released.cells if _meta(c).get("solution")]
    assert len(stubs) == 3
    for cell in stubs:
        assert "# YOUR CODE HERE" in cell.source and STUB_MESSAGE in cell.source
        assert "# Step" in cell.source or "# Loop" in cell.source  # the hint sits above the stub
    for cell in released.cells:
        if _meta(cell).get("grade"):
            assert cell.source.startswith('"""') and "### " not in cell.source


def test_executing_the_release_stops_at_the_first_exercise(tmp_path: Path) -> None:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(RELEASED, as_version=4)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    with pytest.raises(CellExecutionError) as raised:
        client.execute(env={**os.environ, "JAZZ_OUTPUT_DIR": str(tmp_path / "output")})
    assert raised.value.ename == "NotImplementedError"
    assert STUB_MESSAGE in raised.value.evalue
    failing = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        and any(o.output_type == "error" for o in cell.get("outputs", []))
    ]
    assert len(failing) == 1
    stopped_at = notebook.cells[failing[0]]
    first_exercise = next(i for i, c in enumerate(notebook.cells) if _meta(c).get("solution"))
    assert _meta(stopped_at)["grade_id"] == "check_djmodel"
    assert failing[0] > first_exercise
    ran = [c for c in notebook.cells[: failing[0]] if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in ran)
