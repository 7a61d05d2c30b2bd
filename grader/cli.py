"""``python -m grader``: the course's commands, wrapping nbgrader.

    python -m grader release    [--course course] [--solutions solutions] [--notebooks notebooks]
                                [--due WHEN] [--exchange [DIR]]
    python -m grader due        WHEN | --none [--course course]
    python -m grader collect    [--course course] [--exchange DIR]
    python -m grader autograde  --submissions DIR [--course course] [--workers N]
                                [--scheduler ADDRESS] [--timeout S] [--memory LIMIT] [--no-feedback]
                                [--lms-map FILE]
    python -m grader feedback   [--course course] [--release [--exchange DIR]]
    python -m grader export     [--course course] [--to FILE] [--format csv|canvas|moodle]
                                [--lms-map FILE] [--column NAME]

See grader/README.md for the course folder's layout; grader/exchange.py for the exchange
(without DIR, nbgrader's configured ``Exchange.root``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SAWarning

from grader import deadlines, exchange, rubric
from grader.batch.export import FORMATS, write_export
from grader.batch.lms import NameMap
from grader.batch.run import Engine, parse_size, run_batch
from grader.course import Course, open_gradebook, prepare, release, run_nbgrader
from grader.errors import GradingError
from grader.sandbox.limits import Limits


def _default_jobs() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def course_option(command: argparse.ArgumentParser) -> None:
        command.add_argument("--course", type=Path, default=Path("course"), help="course folder")

    rel = commands.add_parser("release", help="regenerate the student release (notebooks/)")
    course_option(rel)
    rel.add_argument("--solutions", type=Path, default=Path("solutions"))
    rel.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    exchange_help = "nbgrader's exchange folder (default: nbgrader's configured Exchange.root)"
    rel.add_argument(
        "--exchange",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="also release to learners through the exchange; " + exchange_help,
    )

    col = commands.add_parser("collect", help="collect submissions from the exchange")
    course_option(col)
    col.add_argument("--exchange", default="", metavar="DIR", help=exchange_help)

    rel.add_argument("--due", default=None, help='due date with zone: "2026-12-07 17:00 UTC"')

    due = commands.add_parser("due", help="set or clear the due date (penalties follow)")
    course_option(due)
    due.add_argument("when", nargs="?", default=None, help='"2026-12-07 17:00 UTC"')
    due.add_argument("--none", action="store_true", help="clear the due date")

    auto = commands.add_parser("autograde", help="grade a folder of submissions")
    course_option(auto)
    auto.add_argument("--submissions", type=Path, required=True, help="one entry per student")
    auto.add_argument("--solutions", type=Path, default=Path("solutions"))
    auto.add_argument(
        "--workers",
        "--jobs",
        dest="workers",
        type=int,
        default=_default_jobs(),
        help="local Dask worker processes, one submission each at a time (default: CPU cores)",
    )
    auto.add_argument(
        "--scheduler", default=None, help="address of a running Dask scheduler (tcp://host:8786)"
    )
    auto.add_argument(
        "--timeout", type=float, default=Limits.timeout, help="seconds per submission"
    )
    auto.add_argument("--memory", default="4GiB", help="memory of each process of a submission")
    auto.add_argument("--no-feedback", action="store_true", help="skip the HTML feedback")
    auto.add_argument("--lms-map", type=Path, default=None, help="CSV: lms_id/lms_name,student_id")

    feedback = commands.add_parser("feedback", help="HTML feedback for graded students")
    course_option(feedback)
    feedback.add_argument("--student", default=None, help="only this student (default: all)")
    feedback.add_argument(
        "--release", action="store_true", help="then release it to learners via the exchange"
    )
    feedback.add_argument("--exchange", default="", metavar="DIR", help=exchange_help)

    export = commands.add_parser("export", help="write grades.csv, Canvas's or Moodle's file")
    course_option(export)
    export.add_argument("--to", type=Path, default=None, help="default: a file in COURSE")
    export.add_argument("--format", choices=FORMATS, default="csv", help="default: csv")
    export.add_argument("--lms-map", type=Path, default=None, help="CSV: LMS ids, names, SIS")
    export.add_argument("--column", default=rubric.ASSIGNMENT_ID, help="Canvas column header")
    return parser


def _feedback(course: Course, student: str | None = None) -> None:
    args = ["generate_feedback", rubric.ASSIGNMENT_ID, "--force"]
    if student:
        args.append(f"--student={student}")
    done = run_nbgrader(course.root, args, log=course.logs_dir / "feedback.log")
    if done.returncode != 0:
        raise GradingError(f"nbgrader generate_feedback failed:\n{done.stdout[-2000:]}")
    print(f"feedback: {course.root / 'feedback'}")


def _set_due(course: Course, due: datetime | None, refresh: bool = True) -> None:
    """Set the due date in the course's gradebook; refresh every penalty and grades.csv."""
    with open_gradebook(course.db_url) as gradebook:
        deadlines.set_due_date(gradebook, due)
    print(f"due date: {deadlines.format_utc(due) or 'none'}")
    if refresh:
        print(f"penalties refreshed in the gradebook and {write_export(course, 'csv').path}")


def _exchange_root(option: str) -> Path | None:
    """``--exchange``'s folder; None (nbgrader's configured root) when it names none."""
    return Path(option) if option else None


def run(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = _parser().parse_args(argv)
    # nbgrader's own gradebook updates trip SQLAlchemy warnings that say nothing to a user.
    warnings.filterwarnings("ignore", category=SAWarning)
    course = Course(args.course)
    started = time.perf_counter()
    if args.command == "release":
        due = deadlines.parse_due(args.due) if args.due else None  # refused before releasing
        target = release(args.course, args.solutions, args.notebooks)
        print(f"released {target} (course folder {args.course})")
        if args.exchange is not None:
            where = exchange.release_assignment(course, _exchange_root(args.exchange))
            print(f"released to the exchange:\n{where}")
        if due is not None:
            _set_due(course, due, refresh=False)
    elif args.command == "due":
        if args.none == (args.when is not None):
            raise deadlines.DeadlineError("give the due date, or --none to clear it")
        course.require_released()
        _set_due(course, None if args.none else deadlines.parse_due(args.when))
    elif args.command == "collect":
        done = exchange.collect(course, _exchange_root(args.exchange))
        print(
            f"collected: {len(done.students)} in {args.course / 'submitted'} "
            f"({', '.join(done.students)})"
        )
        for line in done.refused:
            print(f"not collected: {line}")
    elif args.command == "autograde":
        limits = Limits(timeout=args.timeout, memory_bytes=parse_size(args.memory))
        names = NameMap.read(args.lms_map) if args.lms_map else None  # refused before grading
        if not course.template_gradebook.exists():
            prepare(args.course, args.solutions)
        engine = Engine(workers=args.workers, scheduler=args.scheduler)
        report = run_batch(
            course, args.submissions, engine, limits, hide=(args.solutions,), names=names
        )
        print(f"grades: {course.grades_csv}\nreport: {report.path}")
        if not args.no_feedback:
            _feedback(course)
    elif args.command == "feedback":
        course.require_released()
        _feedback(course, args.student)
        if args.release:
            root = _exchange_root(args.exchange)
            where, left_out = exchange.release_feedback(course, root, args.student)
            print(f"feedback released to the exchange:\n{where}")
            if left_out:
                print(f"not submitted through the exchange, not released: {', '.join(left_out)}")
    elif args.command == "export":
        course.require_released()
        names = NameMap.read(args.lms_map) if args.lms_map else None
        done = write_export(course, args.format, args.to, names, args.column)
        print(f"grades ({args.format}, learners: {done.rows}): {done.path}")
        if done.left_out:
            print(f"left out, no {args.format} id: {', '.join(done.left_out)}")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: errors of the grader are reported in one line, exit status 1."""
    try:
        return run(argv)
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\ninterrupted: every result written so far is kept; run the same command again "
            "to grade the rest (nothing graded and unchanged runs again)",
            file=sys.stderr,
        )
        return 130
