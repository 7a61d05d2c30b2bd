"""Autograde submissions: nbgrader in a scratch course, the clean-room regrade, one gradebook.

For each submission, in a worker thread (several at once with ``jobs``), at the same time:

1. the clean-room regrade (``grader.cleanroom``) scores every graded function from the
   submission's own extracted code, in fresh processes;
2. ``nbgrader autograde`` runs the notebook in a scratch course outside the course
   folder (a copy of the configuration and of the student-free gradebook), so learner
   code finds neither the real gradebook nor the course files next to it.

Then, in the main thread, the course files are checked (and restored if a submission
changed them), and each result is written to the course's gradebook: every grade
cell gets the LOWER of its notebook score and its clean-room score; any disagreement,
a notebook nbgrader could not run, or a changed course file marks the submission
"needs review" with the reason (gradebook comments, ``reviews/<student>.json``,
``grades.csv``). The executed notebook lands in ``autograded/`` as usual.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat

from grader import cleanroom, rubric
from grader.course import Course, open_gradebook, run_nbgrader, write_config
from grader.errors import IntegrityError, SubmissionError
from grader.integrity import Snapshot, code_fingerprint

_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Submission:
    """One learner's submitted notebook (and its timestamp file, if any)."""

    student: str
    notebook: Path
    timestamp: Path | None = None


@dataclass
class SubmissionResult:
    """What grading one submission found, before it is written to the gradebook.

    Attributes:
        student: the learner's id.
        notebook_scores: points per grade cell from the nbgrader run (None: no score).
        notebook_error: why nbgrader could not grade the notebook, if it could not.
        clean: the clean-room regrade.
        autograded: the scratch folder holding nbgrader's executed notebook.
        timestamp: the submission time, if given.
        reasons: why the submission needs review (empty: it does not).
        log: the grading runs' output.
    """

    student: str
    notebook_scores: dict[str, float | None]
    notebook_error: str | None
    clean: cleanroom.CleanRoomResult
    autograded: Path | None
    timestamp: str | None
    reasons: list[str] = field(default_factory=list)
    log: str = ""

    def final_scores(self) -> dict[str, float]:
        """Per grade cell: the lower of the notebook and clean-room scores (a missing one is 0)."""
        return {
            cell.grade_id: min(
                self.notebook_scores.get(cell.grade_id) or 0.0,
                self.clean.scores.get(cell.grade_id, 0.0),
            )
            for cell in rubric.GRADE_CELLS
        }

    def disagreements(self) -> dict[str, list[str]]:
        """Per graded function, the grade cells whose two scores differ."""
        found: dict[str, list[str]] = {}
        for cell in rubric.GRADE_CELLS:
            notebook = self.notebook_scores.get(cell.grade_id)
            clean = self.clean.scores.get(cell.grade_id, 0.0)
            if notebook is None or abs(notebook - clean) > _TOLERANCE:
                found.setdefault(cell.function, []).append(cell.grade_id)
        return found

    def review_reasons(self) -> list[str]:
        """Every reason to review this submission, most important first."""
        reasons = list(self.reasons)
        if self.notebook_error:
            reasons.append(f"nbgrader could not grade the notebook: {self.notebook_error}")
        for function, cells in self.disagreements().items():
            notebook = sum(self.notebook_scores.get(g) or 0.0 for g in cells)
            clean = sum(self.clean.scores.get(g, 0.0) for g in cells)
            reasons.append(
                f"{function}: the notebook run scored {notebook:g} and the clean-room regrade "
                f"{clean:g} ({', '.join(cells)}); the lower score counts"
            )
        reasons.extend(f"clean room: {note}" for note in self.clean.notes)
        return reasons


def find_submissions(folder: Path) -> list[Submission]:
    """The submissions in ``folder``, one per student.

    Accepted layouts: ``<student>/jazz_solo/<notebook>.ipynb``, ``<student>/<notebook>.ipynb``
    and ``<student>.ipynb``. A student folder holding one notebook of another name is
    accepted too. A ``timestamp.txt`` next to the notebook is kept.

    Raises:
        SubmissionError: the folder is missing, a student id is not a plain name or comes
            twice, or a student folder holds no notebook or several.
    """
    if not folder.is_dir():
        raise SubmissionError(f"no submissions folder at {folder}")
    expected = f"{rubric.NOTEBOOK_NAME}.ipynb"
    submissions = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            student, notebook = entry.stem, entry
        elif entry.is_dir():
            student = entry.name
            inner = (
                entry / rubric.ASSIGNMENT_ID if (entry / rubric.ASSIGNMENT_ID).is_dir() else entry
            )
            candidates = sorted(p for p in inner.glob("*.ipynb") if not p.name.startswith("."))
            exact = [p for p in candidates if p.name == expected]
            if exact:
                notebook = exact[0]
            elif len(candidates) == 1:
                notebook = candidates[0]
            else:
                found = ", ".join(p.name for p in candidates) or "no notebook"
                raise SubmissionError(f"{inner}: expected {expected}, found {found}")
        else:
            continue
        if not _STUDENT_ID.match(student):
            raise SubmissionError(f"{entry}: {student!r} is not a usable student id")
        if any(s.student == student for s in submissions):
            raise SubmissionError(f"{entry}: a second submission of {student!r}")
        stamp = notebook.parent / "timestamp.txt"
        submissions.append(Submission(student, notebook, stamp if stamp.is_file() else None))
    return submissions


def _notebook_scores(scratch: Course, student: str) -> dict[str, float | None]:
    scores: dict[str, float | None] = {}
    with open_gradebook(scratch.db_url) as gradebook:
        for cell in rubric.GRADE_CELLS:
            try:
                grade = gradebook.find_grade(
                    cell.grade_id, rubric.NOTEBOOK_NAME, rubric.ASSIGNMENT_ID, student
                )
                scores[cell.grade_id] = (
                    None if grade.auto_score is None else float(grade.auto_score)
                )
            except Exception:  # no submission or no grade recorded
                scores[cell.grade_id] = None
    return scores


def grade_submission(
    course: Course,
    submission: Submission,
    scratch_root: Path,
    cache: cleanroom.EvidenceCache | None = None,
) -> SubmissionResult:
    """Grade one submission away from the course folder (steps 1 and 2 of the module docstring).

    Args:
        course: the released course (its source notebook and student-free gradebook are used).
        submission: the learner's notebook.
        scratch_root: an empty private folder, outside the course.
        cache: clean-room evidence shared by the submissions of one grading run.
    """
    student = submission.student
    timestamp = submission.timestamp.read_text().strip() if submission.timestamp else None
    try:
        notebook = nbformat.read(submission.notebook, as_version=4)
    except Exception as error:  # not a notebook at all
        empty = cleanroom.CleanRoomResult(notes=["the submission is not a readable notebook"])
        return SubmissionResult(
            student, {}, f"unreadable notebook ({error})", empty, None, timestamp
        )
    source = nbformat.read(course.source_notebook, as_version=4)
    # The clean room runs while nbgrader does (both wait on their own processes), in a
    # folder of its own, away from the notebook's scratch course.
    clean_dir = Path(tempfile.mkdtemp(prefix="jazz-clean-"))
    try:
        with ThreadPoolExecutor(max_workers=1) as side:
            clean_future = side.submit(cleanroom.regrade, notebook, source, clean_dir, cache=cache)
            done, scores, autograded, log = _run_nbgrader(course, scratch_root, submission)
            clean = clean_future.result()
        child_log = clean_dir / "child.log"
        text = log.read_text(encoding="utf-8", errors="replace")
        if child_log.exists():
            text += "\n--- clean room ---\n" + child_log.read_text(
                encoding="utf-8", errors="replace"
            )
    finally:
        shutil.rmtree(clean_dir, ignore_errors=True)
    error = None
    if done.returncode != 0 or not (autograded / f"{rubric.NOTEBOOK_NAME}.ipynb").is_file():
        error = _last_error(done.stdout) or f"nbgrader exited with status {done.returncode}"
    return SubmissionResult(
        student,
        scores,
        error,
        clean,
        autograded if autograded.is_dir() else None,
        timestamp,
        log=text,
    )


def _run_nbgrader(
    course: Course, scratch_root: Path, submission: Submission
) -> tuple[subprocess.CompletedProcess[str], dict[str, float | None], Path, Path]:
    """nbgrader autograde of one submission in a scratch course under ``scratch_root``."""
    student = submission.student

    scratch = Course(scratch_root / "course")
    write_config(scratch.root)
    shutil.copyfile(course.template_gradebook, scratch.gradebook)
    target = scratch.submitted_dir(student)
    target.mkdir(parents=True)
    shutil.copyfile(submission.notebook, target / f"{rubric.NOTEBOOK_NAME}.ipynb")
    if submission.timestamp:
        shutil.copyfile(submission.timestamp, target / "timestamp.txt")
    log = scratch_root / "nbgrader.log"
    done = run_nbgrader(
        scratch.root,
        ["autograde", rubric.ASSIGNMENT_ID, f"--student={student}", "--force"],
        log=log,
    )
    return done, _notebook_scores(scratch, student), scratch.autograded_dir(student), log


_EXCEPTION_LINE = re.compile(r"^\s*(?:[\w]+\.)*\w*(?:Error|Exception|Exit|Interrupt)\b:?.*$")


def _last_error(output: str) -> str | None:
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
    disagreements = result.disagreements()
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
            flagged = cell.grade_id in disagreements.get(cell.function, [])
            grade.needs_manual_grade = bool(
                flagged or result.notebook_error or grade.manual_score is not None
            )
        for function in rubric.GRADED_FUNCTIONS:
            comment = gradebook.find_comment(
                function, rubric.NOTEBOOK_NAME, rubric.ASSIGNMENT_ID, result.student
            )
            mine = [r for r in reasons if r.startswith(f"{function}:")]
            comment.auto_comment = "Needs review. " + " ".join(mine) if mine else None
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
        "score": sum(final.values()),
        "max_score": rubric.TOTAL_POINTS,
        "cells": {
            cell.grade_id: {
                "function": cell.function,
                "points": cell.points,
                "notebook": result.notebook_scores.get(cell.grade_id),
                "clean_room": result.clean.scores.get(cell.grade_id),
                "final": final[cell.grade_id],
            }
            for cell in rubric.GRADE_CELLS
        },
        "clean_room_report": {g: v.report() for g, v in result.clean.verdicts.items()},
        "clean_room_programs": result.clean.programs,
    }
    (course.reviews_dir / f"{result.student}.json").write_text(json.dumps(review, indent=2))
    course.logs_dir.mkdir(parents=True, exist_ok=True)
    (course.logs_dir / f"{result.student}.log").write_text(result.log, encoding="utf-8")


GRADING_MODULES: tuple[str, ...] = (
    "__init__",
    "__main__",
    "autograde",
    "cleanroom",
    "cli",
    "course",
    "errors",
    "export",
    "extract",
    "hidden",
    "integrity",
    "judges",
    "nbgrader_config",
    "preprocessors",
    "probes",
    "reference",
    "rubric",
)
"""The grader's modules that compute or record scores (jazz_utils plays no part in them)."""


def _grading_code() -> list[Path]:
    folder = Path(__file__).parent
    return [folder / f"{name}.py" for name in GRADING_MODULES]


Progress = Callable[[str], None]


def autograde(
    course: Course,
    submissions: list[Submission],
    jobs: int = 1,
    progress: Progress | None = None,
) -> list[SubmissionResult]:
    """Grade ``submissions`` into ``course`` (see the module docstring).

    Args:
        course: a released course.
        submissions: from ``find_submissions``.
        jobs: submissions graded at the same time.
        progress: called with a line of text as each submission finishes.

    Returns:
        The results, in the order of ``submissions``.

    Raises:
        CourseError: the course is not released.
        IntegrityError: the grader's code changed during grading.
    """
    course.require_released()
    write_config(course.root)
    for submission in submissions:
        folder = course.submitted_dir(submission.student)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(submission.notebook, folder / f"{rubric.NOTEBOOK_NAME}.ipynb")
        if submission.timestamp:
            shutil.copyfile(submission.timestamp, folder / "timestamp.txt")

    code_before = code_fingerprint(_grading_code())
    snapshot = Snapshot.take(course.protected_paths())
    lock = threading.Lock()
    active: set[str] = set()
    window: set[str] = set()
    scratch_roots: list[Path] = []
    cache = cleanroom.EvidenceCache()

    def work(submission: Submission) -> SubmissionResult:
        with lock:
            active.add(submission.student)
            window.add(submission.student)
        scratch_root = Path(tempfile.mkdtemp(prefix="jazz-grade-"))
        with lock:
            scratch_roots.append(scratch_root)
        try:
            return grade_submission(course, submission, scratch_root, cache)
        except Exception as error:  # a failure of the grading run itself, not of the learner
            empty = cleanroom.CleanRoomResult(notes=[f"grading failed: {error}"])
            return SubmissionResult(
                submission.student,
                {},
                f"grading failed ({type(error).__name__})",
                empty,
                None,
                None,
            )
        finally:
            with lock:
                active.discard(submission.student)

    results: dict[str, SubmissionResult] = {}
    tampered: dict[str, list[Path]] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures: dict[Future[SubmissionResult], Submission] = {
                pool.submit(work, s): s for s in submissions
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                changed = snapshot.changed(course.protected_paths())
                with lock:
                    suspects = set(window)
                    window.clear()
                    window.update(active)
                if changed:
                    snapshot.restore(changed)
                    for student in suspects:
                        tampered.setdefault(student, []).extend(changed)
                for future in done:
                    result = future.result()
                    results[result.student] = result
                    if progress:
                        total = sum(result.final_scores().values())
                        flag = "  NEEDS REVIEW" if result.review_reasons() else ""
                        progress(f"{result.student}: {total:g} / {rubric.TOTAL_POINTS:g}{flag}")
        code_after = code_fingerprint(_grading_code())
        changed_code = [
            path for path, digest in code_before.items() if code_after.get(path) != digest
        ]
        if changed_code:
            raise IntegrityError(
                "the grader's code changed while submissions were graded; nothing was "
                f"written to the gradebook: {[str(p) for p in changed_code]}"
            )
        for student, paths in tampered.items():
            names = sorted({str(p.relative_to(course.root)) for p in paths})
            results[student].reasons.append(
                "course files changed while this submission was graded (restored): "
                + ", ".join(names)
            )
        for submission in submissions:
            write_result(course, results[submission.student])
    finally:
        for scratch_root in scratch_roots:
            shutil.rmtree(scratch_root, ignore_errors=True)
    return [results[s.student] for s in submissions]
