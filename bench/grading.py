"""Benchmark: plain serial ``nbgrader autograde`` with full training versus ``python -m grader``.

Grades the same submission (the source notebook's solution, as a learner would hand it
in) twice, side by side in one run, and prints both wall times and their ratio:

- plain: stock nbgrader (its default preprocessors; only the cell time limit raised so
  that training can finish) on the assignment as it would be without a grading mode:
  the notebook trains its full 100 epochs and runs every cell (audio, plots,
  generation, the fused-LSTM timing), then the hidden tests;
- ours: ``python -m grader autograde`` on a course released by ``python -m grader
  release``: nbgrader runs only the cells grading needs, the clean-room regrade runs
  beside it, and the results land in the gradebook and grades.csv.

Neither timing includes releasing the assignment.

    python bench/grading.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from _timing import timed_run

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "Improvise_a_Jazz_Solo_with_an_LSTM.ipynb"
GRADING_LINE = 'GRADING = bool(os.environ.get("NBGRADER_EXECUTION"))'
PLAIN_CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "jazz-solo-lstm-plain"
c.Execute.timeout = 3600  # nbgrader's default (30 s a cell) would stop the training
"""
TARGET = 0.25


def _submission(folder: Path) -> Path:
    """The solution as a learner hands it in: the release with the answers typed in."""
    source = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    notebook = nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)
    answers = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            lines = answers[grade_id].split("\n")
            cell.source = "\n".join(
                line
                for line in lines
                if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
            )
    path = folder / "learner" / NOTEBOOK
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    return path


def _plain(work: Path, submission: Path) -> float:
    """Time stock nbgrader autograde of ``submission`` with full training."""
    course = work / "plain"
    (course / "source" / "jazz_solo").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(PLAIN_CONFIG)
    notebook = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    imports = next((cell for cell in notebook.cells if GRADING_LINE in cell.source), None)
    if imports is None:
        sys.exit(f"the source notebook no longer sets {GRADING_LINE!r}; update the benchmark")
    imports.source = imports.source.replace(GRADING_LINE, "GRADING = False  # (benchmark)")
    nbformat.write(notebook, course / "source" / "jazz_solo" / NOTEBOOK)
    nbgrader = [sys.executable, "-m", "nbgrader"]
    root = f"--CourseDirectory.root={course}"
    timed_run([*nbgrader, "generate_assignment", "jazz_solo", "--force", root], course)
    target = course / "submitted" / "learner" / "jazz_solo"
    target.mkdir(parents=True)
    shutil.copyfile(submission, target / NOTEBOOK)
    return timed_run([*nbgrader, "autograde", "jazz_solo", "--force", root], course)


def _ours(work: Path, submission: Path) -> tuple[float, dict]:
    """Time ``python -m grader autograde`` of ``submission``; return it and the review file."""
    course = work / "ours"
    grader = [sys.executable, "-m", "grader"]
    timed_run(
        [*grader, "release", "--course", str(course), "--notebooks", str(work / "notebooks")],
        ROOT,
    )
    seconds = timed_run(
        [
            *grader,
            "autograde",
            "--course",
            str(course),
            "--submissions",
            str(submission.parent.parent),
            "--jobs",
            "1",
            "--no-feedback",
        ],
        ROOT,
    )
    review = json.loads((course / "reviews" / "learner.json").read_text())
    return seconds, review


def main() -> None:
    """Run both gradings, print their wall times and ratio; exit 1 when the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="keep the courses in DIR")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jazz-bench-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        submission = _submission(work / "submissions")
        plain = _plain(work, submission)
        ours, review = _ours(work, submission)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    ratio = ours / plain
    print(f"machine: {os.cpu_count()} CPU cores")
    print(f"plain serial nbgrader autograde, full training (100 epochs): {plain:7.1f} s")
    print(
        f"python -m grader autograde (grading mode, clean room):     {ours:7.1f} s"
        f"  ({review['score']:g} / {review['max_score']:g} points)"
    )
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"ratio ours/plain: {ratio:.2f} (target: at most {TARGET}; {verdict})")
    if ratio > TARGET:
        sys.exit(1)


if __name__ == "__main__":
    main()
