"""Grades out of the gradebook: our grades.csv, Canvas's gradebook CSV, Moodle's worksheet.

- ``grades.csv`` (``COLUMNS``): one row per student, points per graded function, the raw
  score, the late penalty, the final score, how late, review flags.
- Canvas (``CANVAS_HEADER``): the gradebook import file, ``Student, ID, SIS User ID, SIS
  Login ID, Section`` and the assignment's column, a ``Points Possible`` row first, one
  row per learner with a Canvas user id.
- Moodle (``MOODLE_HEADER``): the assignment's offline grading worksheet, as Moodle's
  "Download grading worksheet" writes it; Moodle's "Upload grading worksheet" reads
  ``Identifier`` (``Participant <participant id>``), ``Grade``, ``Last modified
  (grade)`` and ``Feedback comments``. One row per learner with a participant id.

Every export first refreshes the late penalties against the gradebook's due date
(``grader.deadlines``), so a changed due date reaches every file and the gradebook.
Learners' LMS ids come from the downloads they were graded from (``course/lms.json``) or
a mapping file (``grader.batch.lms.NameMap``); a learner without one is left out of that
LMS's file and named in what the export returns. Names are the learners' own: a cell
that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``) is written with
a leading ``'``.

``GradesCsvExport`` is an nbgrader export plugin, so ``nbgrader export
--ExportApp.plugin_class=grader.batch.export.GradesCsvExport`` writes the same grades.csv;
``python -m grader export`` calls these functions directly.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import BasePlugin, ExportPlugin

from grader import deadlines, rubric
from grader.batch import lms
from grader.course import Course, open_gradebook
from grader.errors import CourseError

COLUMNS: tuple[str, ...] = (
    "student_id",
    "timestamp",
    *rubric.GRADED_FUNCTIONS,
    "raw_score",
    "late_penalty",
    "score",
    "max_score",
    "late_by",
    "needs_review",
    "review_reason",
    "status",
)
"""grades.csv's columns; ``score`` is the final score (``raw_score`` less ``late_penalty``)."""

CANVAS_HEADER: tuple[str, ...] = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
"""Canvas's gradebook import columns before the assignment's."""

MOODLE_HEADER: tuple[str, ...] = (
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
)
"""The columns of Moodle's offline grading worksheet."""

FORMATS = ("csv", "canvas", "moodle")
"""What ``python -m grader export --format`` writes."""

DEFAULT_FILES = {"csv": "grades.csv", "canvas": "canvas_grades.csv", "moodle": "moodle_grades.csv"}
"""Where each format goes in the course folder unless ``--to`` says otherwise."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LMS_ID = re.compile(r"(canvas|moodle)-([0-9]{1,20})")


def _review(reviews_dir: Path | None, student: str) -> dict[str, Any]:
    if reviews_dir is None:
        return {}
    path = reviews_dir / f"{student}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _lateness(gradebook: Gradebook, student: str, plugin: BasePlugin | None) -> Any:
    """The student's lateness, refreshed by ``plugin`` or as the gradebook holds it."""
    if plugin is not None:
        return deadlines.apply_late_penalty(gradebook, student, plugin)
    submission = gradebook.find_submission(rubric.ASSIGNMENT_ID, student)
    seconds = submission.total_seconds_late
    if submission.duedate is not None and submission.timestamp is None:
        seconds = None
    return deadlines.Lateness(
        float(submission.score or 0.0), float(submission.late_submission_penalty or 0.0), seconds
    )


def grade_rows(
    gradebook: Gradebook,
    reviews_dir: Path | None = None,
    plugin: BasePlugin | None = None,
    known: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One row per student with a submission of the assignment (see ``COLUMNS``).

    Args:
        gradebook: the course's gradebook.
        reviews_dir: the course's ``reviews/`` (review flags and reasons).
        plugin: the late-submission plugin; given, every penalty is recomputed against the
            due date and written to the gradebook (committed) first.
        known: learners' LMS identities (``grader.batch.lms.identities``): a Canvas late
            mark shows in ``late_by`` where the submission has no time.
    """
    rows = []
    known = known or {}
    for student in sorted(gradebook.students, key=lambda s: s.id):
        try:
            submission = gradebook.find_submission(rubric.ASSIGNMENT_ID, student.id)
        except MissingEntry:
            continue
        row: dict[str, Any] = {"student_id": student.id, "timestamp": submission.timestamp or ""}
        for function in rubric.GRADED_FUNCTIONS:
            points = 0.0
            for cell in rubric.cells_of(function):
                grade = gradebook.find_grade(
                    cell.grade_id, rubric.NOTEBOOK_NAME, rubric.ASSIGNMENT_ID, student.id
                )
                points += float(grade.score or 0.0)
            row[function] = f"{points:g}"
        lateness = _lateness(gradebook, student.id, plugin)
        late_by = lateness.late_by
        if submission.timestamp is None and known.get(student.id, {}).get("late"):
            late_by = "late per Canvas (no time in the download)"
        review = _review(reviews_dir, student.id)
        needs_review = bool(review.get("needs_review")) or bool(submission.needs_manual_grade)
        row.update(
            raw_score=f"{lateness.raw:g}",
            late_penalty=f"{lateness.penalty:g}",
            score=f"{lateness.final:g}",
            max_score=f"{rubric.TOTAL_POINTS:g}",
            late_by=late_by,
            needs_review="yes" if needs_review else "no",
            review_reason=" | ".join(review.get("reasons", [])),
            status=review.get("status") or ("needs review" if needs_review else "graded"),
        )
        rows.append(row)
    if plugin is not None:
        gradebook.db.commit()
    return rows


def _cell(value: Any) -> str:
    """``value`` as a CSV cell no spreadsheet reads as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) and text != "-" else text


def _write(destination: Path, header: list[str], rows: list[list[Any]]) -> None:
    with destination.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([[_cell(v) for v in row] for row in rows])


@dataclass
class Export:
    """What an export wrote.

    Attributes:
        path: the file.
        rows: learners written.
        left_out: learners graded but not written (no id in that LMS).
    """

    path: Path
    rows: int
    left_out: list[str]


def _identity(
    student: str, kind: str, known: dict[str, dict[str, Any]], names: lms.NameMap | None
) -> dict[str, Any] | None:
    """What is known of ``student`` in the LMS ``kind`` (None: no id there)."""
    found = dict(known.get(student, {}))
    if found and found.get("lms") != kind:
        found = {}
    extra = names.for_student(student) if names is not None else {}
    found.update({k: lms.clean_name(v) for k, v in extra.items() if v and k != "student_id"})
    match = _LMS_ID.fullmatch(student)
    if not found.get("lms_id") and match and match.group(1) == kind:
        found["lms_id"] = match.group(2)
    return found if str(found.get("lms_id", "")).isdigit() else None


def _canvas(rows: list[dict[str, Any]], known: dict[str, Any], names: Any, column: str) -> Any:
    table, left = [["Points Possible", "", "", "", "", f"{rubric.TOTAL_POINTS:g}"]], []
    for row in rows:
        who = _identity(row["student_id"], lms.CANVAS, known, names)
        if who is None:
            left.append(row["student_id"])
            continue
        name = who.get("full_name") or who.get("name") or row["student_id"]
        table.append(
            [
                name,
                who["lms_id"],
                who.get("sis_user_id", ""),
                who.get("sis_login_id", ""),
                who.get("section", ""),
                row["score"],
            ]
        )
    return [*CANVAS_HEADER, column], table, left


def _feedback(row: dict[str, Any]) -> str:
    text = f"Autograded: {row['score']} / {row['max_score']}"
    if row["late_penalty"] not in ("0", ""):
        text += f" ({row['raw_score']} less {row['late_penalty']} for lateness: {row['late_by']})"
    if row["needs_review"] == "yes":
        text += "; to be reviewed by the instructor"
    return text


def _moodle(rows: list[dict[str, Any]], known: dict[str, Any], names: Any, now: str) -> Any:
    table, left = [], []
    for row in rows:
        who = _identity(row["student_id"], lms.MOODLE, known, names)
        if who is None:
            left.append(row["student_id"])
            continue
        stamp = row["timestamp"]
        table.append(
            [
                f"Participant {who['lms_id']}",
                who.get("full_name") or who.get("name") or row["student_id"],
                who.get("email", ""),
                "Submitted for grading",
                row["score"],
                f"{rubric.TOTAL_POINTS:g}",
                "Yes",
                f"{stamp:%Y-%m-%dT%H:%M:%S+00:00}" if isinstance(stamp, datetime) else "-",
                now,
                _feedback(row),
            ]
        )
    return list(MOODLE_HEADER), table, left


def write_export(
    course: Course,
    fmt: str = "csv",
    destination: Path | None = None,
    names: lms.NameMap | None = None,
    column: str = rubric.ASSIGNMENT_ID,
) -> Export:
    """Write the course's grades as ``fmt`` (one of ``FORMATS``) to ``destination``.

    Args:
        course: a released course.
        fmt: ``csv`` (grades.csv), ``canvas`` or ``moodle``.
        destination: the file (default: ``DEFAULT_FILES[fmt]`` in the course folder).
        names: a mapping file's rows (ids, names, e-mail, SIS ids) to add.
        column: the assignment's column header in Canvas (as Canvas names it, say
            ``Jazz Solo (1234)``).

    Raises:
        CourseError: ``fmt`` is not one of ``FORMATS``.
    """
    if fmt not in FORMATS:
        raise CourseError(f"no export format {fmt!r}: one of {', '.join(FORMATS)}")
    destination = destination or course.root / DEFAULT_FILES[fmt]
    known = lms.identities(course.root)
    plugin = deadlines.penalty_plugin(course.config_file)
    with open_gradebook(course.db_url) as gradebook:
        rows = grade_rows(gradebook, course.reviews_dir, plugin, known)
    if fmt == "csv":
        _write(destination, list(COLUMNS), [[row[c] for c in COLUMNS] for row in rows])
        return Export(destination, len(rows), [])
    if fmt == "canvas":
        header, table, left = _canvas(rows, known, names, column)
    else:
        now = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S+00:00}"
        header, table, left = _moodle(rows, known, names, now)
    _write(destination, header, table)
    return Export(destination, len(table) - (fmt == "canvas"), left)


def write_grades_csv(course: Course, destination: Path | None = None) -> Path:
    """Write the course's grades.csv (or ``destination``); return its path."""
    return write_export(course, "csv", destination).path


class GradesCsvExport(ExportPlugin):
    """nbgrader export plugin writing this course's grades.csv (``--to`` names the file)."""

    def export(self, gradebook: Gradebook) -> None:
        """Write the rows of ``grade_rows`` (run in the course folder: reviews, config)."""
        destination = Path(self.to or "grades.csv")
        reviews = Path("reviews")
        plugin = deadlines.penalty_plugin(Path("nbgrader_config.py"))
        rows = grade_rows(
            gradebook, reviews if reviews.is_dir() else None, plugin, lms.identities(Path())
        )
        _write(destination, list(COLUMNS), [[row[c] for c in COLUMNS] for row in rows])
