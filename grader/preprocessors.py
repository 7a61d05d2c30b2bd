"""nbgrader preprocessors of this course.

``GradingExecute`` is nbgrader's ``Execute`` that leaves out the instructor's locked
cells that grading does not need (training, audio, plots, generation): grading then
runs the imports, the data, the layers, the learner's own cells and the grade cells.

``RestoreGradeCells`` puts grade cells a submission deleted back where the source
notebook has them, so that they run (nbgrader's own ``add_missing_cells`` fails when
the cell before a missing one is not a grade or solution cell).
"""

from __future__ import annotations

from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import List, Unicode

from grader.rubric import LOCKED_CELLS_RUN_WHEN_GRADING


def skipped_when_grading(cell: NotebookNode, run_locked: tuple[str, ...] | list[str]) -> bool:
    """Whether grading leaves ``cell`` out: a locked instructor code cell not in ``run_locked``.

    Grade cells, solution cells and cells without nbgrader metadata (the learner's own)
    always run. The decision reads only nbgrader metadata that ``OverwriteCells`` has
    already restored from the gradebook, so a submission cannot change it for
    instructor cells.
    """
    if cell.get("cell_type") != "code":
        return False
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if not meta or meta.get("grade") or meta.get("solution") or not meta.get("locked"):
        return False
    grade_id = meta.get("grade_id")
    return bool(grade_id) and grade_id not in run_locked


class GradingExecute(Execute):
    """Execute every cell except the locked cells grading does not need."""

    run_locked_cells = List(
        Unicode(),
        default_value=list(LOCKED_CELLS_RUN_WHEN_GRADING),
        help="grade_ids of the locked code cells grading runs; it skips the other locked cells",
    ).tag(config=True)

    skip_note = Unicode(
        "[not run while grading: this cell does not affect the grade]\n",
        help="text put in a skipped cell's output",
    ).tag(config=True)

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        """Run ``cell`` unless grading skips it (then it gets a one-line note)."""
        if skipped_when_grading(cell, self.run_locked_cells):
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=self.skip_note)]
            cell.execution_count = None
            return cell, resources
        return super().preprocess_cell(cell, resources, index)


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


class RestoreGradeCells(NbGraderPreprocessor):
    """Insert the grade cells a submission lacks, each after the cell it follows in the source.

    The cell's source, points and checksum come from the gradebook; it sits after the
    nearest cell before it (in the source notebook) that the submission still has.
    """

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        """Restore missing grade cells in ``nb`` (its ids are in ``resources["nbgrader"]``)."""
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            source = gradebook.find_notebook(info["notebook"], info["assignment"])
            order = [cell.name for cell in source.source_cells]
            originals = {cell.name: (cell.source, cell.checksum) for cell in source.source_cells}
            points = {cell.name: float(cell.max_score) for cell in source.grade_cells}
        for position, name in enumerate(order):
            present = [_grade_id(cell) for cell in nb.cells]
            if name not in points or name in present:
                continue
            index = 0
            for earlier in reversed(order[:position]):
                if earlier in present:
                    index = present.index(earlier) + 1
                    break
            text, checksum = originals[name]
            self.log.warning("Grade cell %s is missing; putting it back", name)
            cell = nbformat.v4.new_code_cell(text)
            cell.metadata = NotebookNode(
                deletable=False,
                editable=False,
                nbgrader=NotebookNode(
                    cell_type="code",
                    checksum=checksum,
                    grade=True,
                    grade_id=name,
                    locked=True,
                    points=points[name],
                    schema_version=3,
                    solution=False,
                ),
            )
            nb.cells.insert(index, cell)
        return nb, resources
