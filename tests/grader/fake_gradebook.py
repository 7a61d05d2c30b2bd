"""A course without a release: a gradebook holding the assignment's cells, no notebook run.

For tests of what is written into and read out of the gradebook (late penalties, exports)
without nbgrader generating or grading anything. ``template`` makes the gradebook once
(nbgrader's schema set-up takes seconds; ``shared_template`` makes it once per
session); ``course`` copies it into a course folder with
the grader's configuration, and ``grade`` writes one learner's result as the batch does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import rubric
from grader.course import Course, open_gradebook, write_config
from grader.scores import CleanRoomResult, SubmissionResult, write_result


def template(folder: Path) -> Path:
    """A gradebook with the assignment, its notebook, grade and solution cells, no student."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gradebook.db"
    with open_gradebook(f"sqlite:///{path.resolve()}") as gradebook:
        gradebook.update_or_create_assignment(rubric.ASSIGNMENT_ID)
        gradebook.update_or_create_notebook(rubric.NOTEBOOK_NAME, rubric.ASSIGNMENT_ID)
        for cell in rubric.GRADE_CELLS:
            gradebook.update_or_create_grade_cell(
                cell.grade_id,
                rubric.NOTEBOOK_NAME,
                rubric.ASSIGNMENT_ID,
                max_score=cell.points,
                cell_type="code",
            )
        for function in rubric.GRADED_FUNCTIONS:
            gradebook.update_or_create_solution_cell(
                function, rubric.NOTEBOOK_NAME, rubric.ASSIGNMENT_ID
            )
    return path


_MADE: dict[str, Path] = {}


def shared_template(factory: pytest.TempPathFactory) -> Path:
    """``template``, made once per test session (copy it, never change it)."""
    if "template" not in _MADE:
        _MADE["template"] = template(factory.mktemp("gradebook"))
    return _MADE["template"]


def course(root: Path, gradebook: Path) -> Course:
    """A course at ``root`` with a copy of ``gradebook``, released as far as the CLI checks."""
    made = Course(root)
    write_config(root)
    shutil.copyfile(gradebook, made.gradebook)
    made.template_gradebook.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(gradebook, made.template_gradebook)
    made.source_notebook.parent.mkdir(parents=True, exist_ok=True)
    made.source_notebook.write_text("{}", encoding="utf-8")
    return made


def grade(made: Course, student: str, points: float | None, timestamp: str | None) -> None:
    """Write ``student``'s result: every cell full marks (None) or ``points`` in all."""
    scores = {cell.grade_id: float(cell.points) for cell in rubric.GRADE_CELLS}
    if points is not None:
        left = points
        for cell in rubric.GRADE_CELLS:
            scores[cell.grade_id] = min(float(cell.points), left)
            left -= scores[cell.grade_id]
    clean = CleanRoomResult(scores=scores)
    write_result(made, SubmissionResult(student, None, clean, None, timestamp))
