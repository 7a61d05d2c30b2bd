"""grades.csv: one row per student, with the scores per graded function and review flags.

``GradesCsvExport`` is an nbgrader export plugin, so ``nbgrader export
--ExportApp.plugin_class=grader.batch.export.GradesCsvExport`` writes the same file;
``python -m grader export`` calls it directly.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

from grader import rubric
from grader.course import Course, open_gradebook

COLUMNS: tuple[str, ...] = (
    "student_id",
    "timestamp",
    *rubric.GRADED_FUNCTIONS,
    "score",
    "max_score",
    "needs_review",
    "review_reason",
    "status",
)


def _review(reviews_dir: Path | None, student: str) -> dict[str, Any]:
    if reviews_dir is None:
        return {}
    path = reviews_dir / f"{student}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def grade_rows(gradebook: Gradebook, reviews_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per student with a submission of the assignment (see ``COLUMNS``)."""
    rows = []
    for student in sorted(gradebook.students, key=lambda s: s.id):
        try:
            submission = gradebook.find_submission(rubric.ASSIGNMENT_ID, student.id)
        except MissingEntry:
            continue
        row: dict[str, Any] = {"student_id": student.id, "timestamp": submission.timestamp or ""}
        total = 0.0
        for function in rubric.GRADED_FUNCTIONS:
            points = 0.0
            for cell in rubric.cells_of(function):
                grade = gradebook.find_grade(
                    cell.grade_id, rubric.NOTEBOOK_NAME, rubric.ASSIGNMENT_ID, student.id
                )
                points += float(grade.score or 0.0)
            row[function] = f"{points:g}"
            total += points
        review = _review(reviews_dir, student.id)
        needs_review = bool(review.get("needs_review")) or bool(submission.needs_manual_grade)
        row.update(
            score=f"{total:g}",
            max_score=f"{rubric.TOTAL_POINTS:g}",
            needs_review="yes" if needs_review else "no",
            review_reason=" | ".join(review.get("reasons", [])),
            status=review.get("status") or ("needs review" if needs_review else "graded"),
        )
        rows.append(row)
    return rows


def write_grades_csv(course: Course, destination: Path | None = None) -> Path:
    """Write the course's grades.csv (or ``destination``); return its path."""
    destination = destination or course.grades_csv
    with open_gradebook(course.db_url) as gradebook:
        rows = grade_rows(gradebook, course.reviews_dir)
    with destination.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return destination


class GradesCsvExport(ExportPlugin):
    """nbgrader export plugin writing this course's grades.csv (``--to`` names the file)."""

    def export(self, gradebook: Gradebook) -> None:
        """Write the rows of ``grade_rows`` (reviews are read from ``reviews/`` in the cwd)."""
        destination = Path(self.to or "grades.csv")
        reviews = Path("reviews")
        rows = grade_rows(gradebook, reviews if reviews.is_dir() else None)
        with destination.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
