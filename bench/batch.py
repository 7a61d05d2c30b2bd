"""Benchmark: serial ``nbgrader autograde`` versus the batch grader on 2 Dask workers.

Grades the same 8 submissions twice, in one run, and prints both wall times and the
throughput ratio (serial time / batch time):

- serial: stock ``nbgrader autograde jazz_solo`` over the 8 students in one process,
  in a copy of the course with the course's configuration (the same grading mode:
  ``GradingExecute`` runs the cells grading needs, ``NBGRADER_EXECUTION`` set);
- batch: ``python -m grader autograde --workers 2``: a local Dask cluster of two
  single-threaded workers, each submission in its sandboxes (nbgrader and the clean-room
  regrade, the lower score kept), results written to the gradebook as they arrive.
  The cluster's start-up is inside the timing.

The submissions are the solution with small variations a class shows: an extra cell of
the learner's, a note, different comments and names inside the graded functions (those
change the clean room's program text, so its evidence is gathered again), a renamed
variable. Neither timing includes releasing the assignment. Both gradings must agree on
every student's score.

With ``--distinct`` every student's three functions also differ from everyone else's (a
local variable named after the student), as in a real class, so the clean room probes
every submission; that is the case the README's estimate for a class of 1,000 uses.

    python bench/batch.py [--keep DIR] [--workers 2] [--count 8] [--distinct]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat
from _timing import timed_run

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "Improvise_a_Jazz_Solo_with_an_LSTM.ipynb"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
TARGET = 1.6

Variation = Callable[[nbformat.NotebookNode], None]


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _cell(notebook: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in notebook.cells if _grade_id(c) == grade_id)


def _after(grade_id: str, cell: nbformat.NotebookNode) -> Variation:
    def vary(notebook: nbformat.NotebookNode) -> None:
        index = notebook.cells.index(_cell(notebook, grade_id))
        notebook.cells.insert(index + 1, cell)

    return vary


def _edit(grade_id: str, old: str, new: str) -> Variation:
    def vary(notebook: nbformat.NotebookNode) -> None:
        cell = _cell(notebook, grade_id)
        if cell.source.count(old) < 1:
            sys.exit(f"the variation {old!r} no longer matches {grade_id}: update the benchmark")
        cell.source = cell.source.replace(old, new)

    return vary


VARIATIONS: dict[str, Variation] = {
    "s1": lambda notebook: None,
    "s2": _after("imports", nbformat.v4.new_code_cell('print("ready")')),
    "s3": _after("data_load", nbformat.v4.new_markdown_cell("My notes: m windows of Tx values.")),
    "s4": _edit("djmodel", "    outputs = []", "    outputs = []  # one output per step"),
    "s5": _after("layers", nbformat.v4.new_code_cell("print(n_a, n_values)")),
    "s6": _edit("predict_and_sample", "pred = ", "prediction = pred = "),
    "s7": _edit("music_inference_model", "    outputs = []", "    outputs = []  # Ty outputs"),
    "s8": _after("imports", nbformat.v4.new_code_cell("import math\n\nprint(math.pi)")),
}


RENAMED = {"djmodel": "out", "music_inference_model": "out", "predict_and_sample": "pred"}
"""For ``--distinct``: a local variable of each graded function, renamed per student."""


def _distinct(notebook: nbformat.NotebookNode, student: str) -> None:
    """Make the student's three functions unlike anyone else's (the same behaviour)."""
    for grade_id, name in RENAMED.items():
        cell = _cell(notebook, grade_id)
        renamed = re.sub(rf"\b{name}\b", f"{name}_{student}", cell.source)
        if renamed == cell.source:
            sys.exit(f"{name} is no longer in {grade_id}: update the benchmark")
        cell.source = renamed


def _submissions(
    folder: Path, release: nbformat.NotebookNode, count: int, distinct: bool = False
) -> list[str]:
    """The solution typed into the release, with a variation per student (they repeat)."""
    source = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    answers = {
        _grade_id(c): "\n".join(
            line for line in c.source.split("\n") if line.strip() not in MARKERS
        )
        for c in source.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    variations = list(VARIATIONS.values())
    students = [f"s{number}" for number in range(1, count + 1)]
    for number, student in enumerate(students):
        vary = variations[number % len(variations)]
        notebook = copy.deepcopy(release)
        for cell in notebook.cells:
            if _grade_id(cell) in answers:
                cell.source = answers[_grade_id(cell)]
        vary(notebook)
        if distinct:
            _distinct(notebook, student)
        target = folder / student / "jazz_solo"
        target.mkdir(parents=True)
        nbformat.write(notebook, target / NOTEBOOK)
    return students


def _totals(course: Path) -> dict[str, float]:
    query = (
        "SELECT submitted_assignment.student_id, SUM(grade.auto_score) FROM grade "
        "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
        "GROUP BY submitted_assignment.student_id"
    )
    with sqlite3.connect(course / "gradebook.db") as db:
        return {student: float(total or 0) for student, total in db.execute(query)}


def _serial(work: Path, course: Path, submissions: Path) -> float:
    """Time stock nbgrader over every submission, one after another, in a copy of the course."""
    plain = work / "serial"
    for name in ("source", "release"):
        shutil.copytree(course / name, plain / name)
    shutil.copyfile(course / "nbgrader_config.py", plain / "nbgrader_config.py")
    shutil.copyfile(course / ".grader" / "assignment.db", plain / "gradebook.db")
    shutil.copytree(submissions, plain / "submitted")
    command = [sys.executable, "-m", "nbgrader", "autograde", "jazz_solo"]
    return timed_run([*command, f"--CourseDirectory.root={plain}"], plain)


def _batch(course: Path, submissions: Path, workers: int) -> tuple[float, dict]:
    command = [
        sys.executable,
        "-m",
        "grader",
        "autograde",
        "--course",
        str(course),
        "--submissions",
        str(submissions),
        "--workers",
        str(workers),
        "--no-feedback",
    ]
    seconds = timed_run(command, ROOT)
    return seconds, json.loads((course / "report.json").read_text())


def main() -> None:
    """Run both gradings; print times, per-submission times and the ratio; exit 1 below target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="keep the courses in DIR")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--count", type=int, default=8, help="submissions (default 8)")
    parser.add_argument(
        "--distinct", action="store_true", help="every student's functions differ (a real class)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jazz-bench-batch-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        course = work / "course"
        grader = [sys.executable, "-m", "grader"]
        release = [*grader, "release", "--course", str(course), "--notebooks", str(work / "nb")]
        timed_run(release, ROOT)
        submissions = work / "submissions"
        release_notebook = nbformat.read(work / "nb" / NOTEBOOK, as_version=4)
        students = _submissions(submissions, release_notebook, args.count, args.distinct)
        serial = _serial(work, course, submissions)
        batch, report = _batch(course, submissions, args.workers)
        serial_totals, batch_totals = _totals(work / "serial"), _totals(course)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    rows = report["students"]
    statuses = sorted({rows[s]["status"] for s in students})
    task_seconds = [rows[s]["seconds"] for s in students]
    n = len(students)
    ratio = serial / batch
    kind = "every one's functions distinct" if args.distinct else "the solution, varied"
    print(f"machine: {os.cpu_count()} CPU cores; {n} submissions ({kind})")
    print(
        f"serial nbgrader autograde (one process):        {serial:7.1f} s  "
        f"({serial / n:.1f} s per submission)"
    )
    print(
        f"batch grader, {args.workers} Dask workers (sandboxes):      {batch:7.1f} s  "
        f"({batch / n:.1f} s per submission of wall time; "
        f"{sum(task_seconds) / n:.1f} s per task on a worker)"
    )
    stamps = sorted(dt.datetime.fromisoformat(rows[s]["graded_at"]) for s in students)
    if n > 2:
        steady = (stamps[-1] - stamps[0]).total_seconds() / (n - 1)
        print(
            f"after the first result, one more every {steady:.1f} s "
            f"(start-up and the first result: {batch - steady * (n - 1):.1f} s)"
        )
    print(f"statuses: {', '.join(statuses)}; isolation: {report['isolation']['network']}")
    if serial_totals != batch_totals:
        print(f"SCORES DIFFER: serial {serial_totals} batch {batch_totals}")
        sys.exit(1)
    print(f"scores agree: {sorted(set(batch_totals.values()))} of 25 points")
    if set(batch_totals.values()) != {25.0}:
        print("every submission is a right answer and must score 25: the benchmark is broken")
        sys.exit(1)
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"throughput ratio batch/serial: {ratio:.2f}x (target: at least {TARGET}x; {verdict})")
    if ratio < TARGET:
        sys.exit(1)


if __name__ == "__main__":
    main()
