"""What a batch run leaves in the course, so that the next run resumes where it stopped.

Only the client writes here, one result at a time, each file replaced atomically
(``atomic_write``): a run that is interrupted loses at most the submissions still
running.

- ``State`` (``.batch/state.json``): per student, the content digest, the grading key
  (``grading_key``: the grader's code, the configuration, the source notebook), the
  status and the limits of the last grading; ``State.done`` says what a rerun skips.
- ``Writer``: one outcome into the gradebook (``grader.scores.write_result``),
  ``autograded/``, ``reviews/``, ``logs/``, the state and ``report.json``; course files a
  submission changed are put back and the submission marked for review.
- ``copy_submission``: what was handed in, kept under ``submitted/`` for formgrader.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from grader import rubric
from grader.batch.intake import Entry, write_private
from grader.batch.integrity import Snapshot
from grader.batch.outcome import (
    CRASHED,
    GRADED,
    NEEDS_REVIEW,
    TIMEOUT,
    Outcome,
)
from grader.batch.task import code_digest
from grader.course import Course
from grader.errors import SubmissionError
from grader.sandbox.limits import Limits
from grader.scores import write_result

STATE_VERSION = 1
"""Version of the state file; a state of another version is ignored (all is graded again)."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a crash leaves the old or the new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)


def state_file(course: Course) -> Path:
    """Where the batch grader remembers what it graded."""
    return course.root / ".batch" / "state.json"


def report_file(course: Course) -> Path:
    """The batch report: every student's status and reason."""
    return course.root / "report.json"


def grading_key(course: Course) -> str:
    """Digest of what decides a grade besides the submission: code, configuration, source."""
    digest = hashlib.sha256(code_digest().encode())
    digest.update(course.config_file.read_bytes())
    digest.update(course.source_notebook.read_bytes())
    return digest.hexdigest()


class State:
    """``.batch/state.json``: per student, the digest and status of the last grading."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.students: dict[str, dict[str, Any]] = {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get("version") == STATE_VERSION:
            students = data.get("students")
            self.students = students if isinstance(students, dict) else {}

    def done(self, entry: Entry, key: str, limits: Limits) -> bool:
        """Whether ``entry`` was graded by an earlier run and nothing that decides it changed.

        A time-out or a crash is kept only under the same limits: raising ``--timeout``
        or ``--memory`` grades those submissions again.
        """
        record = self.students.get(entry.student)
        if not isinstance(record, dict) or not record.get("final"):
            return False
        if record.get("digest") != entry.digest or record.get("key") != key:
            return False
        if record.get("status") in (TIMEOUT, CRASHED):
            return record.get("limits") == limits.describe()
        return True

    def record(self, outcome: Outcome, key: str, limits: Limits, final: bool) -> None:
        """Remember ``outcome`` and save the file."""
        self.students[outcome.student] = {
            "digest": outcome.digest,
            "key": key,
            "status": outcome.status,
            "final": final,
            "limits": limits.describe(),
            "graded_at": _now(),
        }
        payload = {"version": STATE_VERSION, "students": self.students}
        atomic_write(self.path, json.dumps(payload, indent=1, sort_keys=True))


def copy_submission(course: Course, entry: Entry) -> Entry:
    """Keep what was handed in under ``submitted/`` (nbgrader's formgrader reads it there).

    The notebook and timestamp are written as fresh private files through folders opened
    without following links (``grader.batch.intake.write_private``), never copied from the
    entry's origin. Returns the entry, or the entry malformed with the reason when its
    place in the course cannot be written safely (a link or a file in the way).
    """
    if entry.notebook is None:
        return entry
    files = {f"{rubric.NOTEBOOK_NAME}.ipynb": entry.notebook}
    if entry.timestamp:
        files["timestamp.txt"] = entry.timestamp.encode("utf-8")
    try:
        write_private(course.root, course.submitted_dir(entry.student), files)
    except SubmissionError as error:
        return entry.refused(f"not kept in the course: {error}")
    return entry


def _isolation_summary(outcomes: list[dict[str, Any]]) -> dict[str, str]:
    """What the sandboxes of this run achieved, protection by protection."""
    summary: dict[str, str] = {}
    for name in ("network", "user", "mounts", "pid", "ipc", "cgroup", "privileges", "seccomp"):
        seen = sorted({p.get(name, "unknown") for p in outcomes if p})
        summary[name] = " | ".join(seen) if seen else "no submission ran in a sandbox"
    return summary


class Writer:
    """Writes results into the course, one at a time, in the client's thread."""

    def __init__(self, course: Course, key: str, limits: Limits, engine: str, state: State) -> None:
        self.course = course
        self.key = key
        self.limits = limits
        self.engine = engine
        self.state = state
        self.rows: dict[str, dict[str, Any]] = {}
        self.protections: list[dict[str, Any]] = []
        self.write_seconds: list[float] = []
        self.snapshot = Snapshot.take(course.protected_paths())
        previous = self._previous_report()
        self.rows.update(previous.get("students", {}))
        self.protections.extend(previous.get("_protections", []))

    def _previous_report(self) -> dict[str, Any]:
        try:
            data = json.loads(report_file(self.course).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, outcome: Outcome, final: bool = True) -> dict[str, Any]:
        """Write one outcome: gradebook, autograded notebook, review, log, state, report."""
        started = time.perf_counter()
        result = outcome.result
        changed = self.snapshot.changed(self.course.protected_paths())
        if changed:  # only where the sandboxes could not hide the course (see report.json)
            self.snapshot.restore(changed)
            names = sorted({str(p.relative_to(self.course.root)) for p in changed})
            result.reasons.append(
                "course files changed while this submission was graded (restored): "
                + ", ".join(names)
            )
            if outcome.status == GRADED:
                outcome.status, outcome.reason = NEEDS_REVIEW, result.reasons[-1]
        with tempfile.TemporaryDirectory(prefix="jazz-result-") as scratch:
            if outcome.executed is not None:
                folder = Path(scratch) / "autograded"
                folder.mkdir()
                (folder / f"{rubric.NOTEBOOK_NAME}.ipynb").write_bytes(outcome.executed)
                result.autograded = folder
            write_result(self.course, result)
            result.autograded = None
        review_path = self.course.reviews_dir / f"{outcome.student}.json"
        review = json.loads(review_path.read_text(encoding="utf-8"))
        review.update(
            status=outcome.status,
            status_reason=outcome.reason,
            digest=outcome.digest,
            worker=outcome.worker,
            seconds=round(outcome.seconds, 2),
            isolation=outcome.protections,
        )
        atomic_write(review_path, json.dumps(review, indent=2))
        self.state.record(outcome, self.key, self.limits, final)
        self.snapshot = Snapshot.take(self.course.protected_paths())
        notebook_protections = outcome.protections.get("notebook")
        if notebook_protections:
            self.protections = [*self.protections[-200:], notebook_protections]
        row = {
            "status": outcome.status,
            "reason": outcome.reason,
            "score": review["score"],
            "max_score": review["max_score"],
            "needs_review": review["needs_review"],
            "digest": outcome.digest,
            "graded_at": _now(),
            "seconds": round(outcome.seconds, 2),
            "worker": outcome.worker,
            "network": (notebook_protections or {}).get("network", "no sandbox (not run)"),
        }
        self.rows[outcome.student] = row
        self.save()
        self.write_seconds.append(time.perf_counter() - started)
        return row

    def save(self) -> Path:
        """Write ``report.json`` (atomically)."""
        isolation = _isolation_summary(self.protections)
        payload = {
            "assignment": rubric.ASSIGNMENT_ID,
            "updated": _now(),
            "engine": self.engine,
            "limits": self.limits.describe(),
            "isolation": isolation,
            "counts": dict(Counter(row["status"] for row in self.rows.values())),
            "client_seconds_per_result": round(sum(self.write_seconds) / len(self.write_seconds), 3)
            if self.write_seconds
            else None,
            "students": dict(sorted(self.rows.items())),
            "_protections": self.protections[-20:],
        }
        path = report_file(self.course)
        atomic_write(path, json.dumps(payload, indent=2))
        return path
