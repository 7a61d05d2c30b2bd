"""Grading results: what grading one submission found, and how it is written to the course.

The batch grader (``grader.batch``) grades each submission in sandboxes on a Dask worker
(``grader.batch.task``): ``nbgrader autograde`` runs the notebook (its executed copy is
the learner's feedback), and the clean-room regrade (``grader.cleanroom``) scores every
graded function from what it makes, judged outside every sandbox that ran learner code.
The worker returns a ``SubmissionResult``; the batch's one writing process passes it to
``write_result``: every grade cell gets its clean-room score; a notebook nbgrader could
not run, a clean room that went wrong, or a changed course file marks the submission
"needs review" with the reason (gradebook comments, ``reviews/<student>.json``,
``grades.csv``). The late penalty, against the gradebook's due date as it is now, is
written to the submission (``grader.deadlines``). The executed notebook lands in
``autograded/`` as usual.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from grader import deadlines, judges, rubric
from grader.course import Course, open_gradebook


@dataclass
class CleanRoomResult:
    """Scores and verdicts of the clean-room regrade of one submission.

    Attributes:
        scores: points per grade cell id.
        verdicts: the judged rubric per grade cell id.
        notes: what went wrong in the clean room itself (a process that ended early, ...).
        programs: the extracted source of each graded function.
        diagnoses: for a function that lost points, what the notebook's public check
            says of it (learner feedback only: it ran next to learner code).
    """

    scores: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, judges.Verdict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    programs: dict[str, str] = field(default_factory=dict)
    diagnoses: dict[str, str] = field(default_factory=dict)

    def lost_points(self) -> list[str]:
        """The graded functions that scored below their points."""
        return [
            function
            for function in rubric.GRADED_FUNCTIONS
            if any(
                self.scores.get(cell.grade_id, 0.0) < cell.points
                for cell in rubric.cells_of(function)
            )
        ]

    def report(self, grade_id: str) -> str:
        """The judged checks of ``grade_id``, with the public check's words if it failed."""
        verdict = self.verdicts[grade_id]
        text = verdict.report()
        function = rubric.GRADE_CELLS_BY_ID[grade_id].function
        if verdict.points < verdict.max_points and self.diagnoses.get(function):
            text += f"\nThe notebook's check of {function} says: {self.diagnoses[function]}"
        return text


@dataclass
class SubmissionResult:
    """What grading one submission found, before it is written to the gradebook.

    Attributes:
        student: the learner's id.
        notebook_error: why nbgrader could not run the notebook, if it could not.
        clean: the clean-room regrade.
        autograded: the scratch folder holding nbgrader's executed notebook.
        timestamp: the submission time, if given.
        reasons: why the submission needs review (empty: it does not).
        log: the grading runs' output.
    """

    student: str
    notebook_error: str | None
    clean: CleanRoomResult
    autograded: Path | None
    timestamp: str | None
    reasons: list[str] = field(default_factory=list)
    log: str = ""

    def final_scores(self) -> dict[str, float]:
        """Per grade cell: the clean room's score (a missing one is 0).

        The notebook's own grade cells decide nothing: learner code ran in that kernel
        and could print any score there.
        """
        return {
            cell.grade_id: self.clean.scores.get(cell.grade_id, 0.0) for cell in rubric.GRADE_CELLS
        }

    def review_reasons(self) -> list[str]:
        """Every reason to review this submission, most important first."""
        reasons = list(self.reasons)
        if self.notebook_error:
            reasons.append(f"nbgrader could not run the notebook: {self.notebook_error}")
        reasons.extend(f"clean room: {note}" for note in self.clean.notes)
        return reasons


_EXCEPTION_LINE = re.compile(r"^\s*(?:[\w]+\.)*\w*(?:Error|Exception|Exit|Interrupt)\b:?.*$")


def last_error(output: str) -> str | None:
    """The most telling error line of nbgrader's output (an exception, else its last ERROR)."""
    lines = output.splitlines()
    exceptions = [line.strip() for line in lines if _EXCEPTION_LINE.match(line)]
    if exceptions:
        return exceptions[-1][:300]
    errors = [line.strip() for line in lines if "ERROR" in line]
    return errors[-1][:300] if errors else None


def _parse_timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text)
    except Exception:  # an unreadable timestamp file
        return None


def write_result(course: Course, result: SubmissionResult) -> None:
    """Write one result into the course: gradebook, autograded notebook, review file, log."""
    reasons = result.review_reasons()
    final = result.final_scores()
    with open_gradebook(course.db_url) as gradebook:
        gradebook.update_or_create_student(result.student)
        stamp = _parse_timestamp(result.timestamp)
        kwargs: dict[str, Any] = {"timestamp": stamp} if stamp else {}
        gradebook.update_or_create_submission(rubric.ASSIGNMENT_ID, result.student, **kwargs)
        for cell in rubric.GRADE_CELLS:
            grade = gradebook.find_grade(
                cell.grade_id, rubric.NOTEBOOK_NAME, rubric.ASSIGNMENT_ID, result.student
            )
            grade.auto_score = final[cell.grade_id]
            grade.needs_manual_grade = bool(reasons or grade.manual_score is not None)
        for function in rubric.GRADED_FUNCTIONS:
            comment = gradebook.find_comment(
                function, rubric.NOTEBOOK_NAME, rubric.ASSIGNMENT_ID, result.student
            )
            mine = [r for r in reasons if r.startswith(f"{function}:")]
            comment.auto_comment = "Needs review. " + " ".join(mine) if mine else None
        gradebook.db.flush()
        plugin = deadlines.penalty_plugin(course.config_file)
        lateness = deadlines.apply_late_penalty(gradebook, result.student, plugin)
        due = deadlines.due_date(gradebook)
        gradebook.db.commit()

    destination = course.autograded_dir(result.student)
    if destination.exists():
        shutil.rmtree(destination)
    if result.autograded is not None:
        shutil.copytree(result.autograded, destination)

    course.reviews_dir.mkdir(parents=True, exist_ok=True)
    review = {
        "student": result.student,
        "needs_review": bool(reasons),
        "reasons": reasons,
        "score": lateness.final,
        "max_score": rubric.TOTAL_POINTS,
        "late": deadlines.describe(lateness, due),
        "cells": {
            cell.grade_id: {
                "function": cell.function,
                "points": cell.points,
                "final": final[cell.grade_id],
            }
            for cell in rubric.GRADE_CELLS
        },
        "clean_room_report": {g: result.clean.report(g) for g in result.clean.verdicts},
        "clean_room_programs": result.clean.programs,
    }
    (course.reviews_dir / f"{result.student}.json").write_text(json.dumps(review, indent=2))
    course.logs_dir.mkdir(parents=True, exist_ok=True)
    (course.logs_dir / f"{result.student}.log").write_text(result.log, encoding="utf-8")
