"""Batch autograding of a whole class on ``dask.distributed``: parallel, isolated, resumable.

    python -m grader autograde --submissions DIR [--workers N] [--scheduler ADDRESS]
                               [--timeout S] [--memory LIMIT]

The client (this module, in the instructor's process):

1. finds every student's submission in DIR (``grader.intake``: nbgrader's ``submitted/``
   layout, LMS zips, ``<id>.ipynb``) and copies it into the course's ``submitted/``;
2. skips what an earlier run already graded, unchanged (same content digest, same grader,
   configuration and source notebook; ``course/.batch/state.json``);
3. sends the rest to Dask workers: a ``LocalCluster`` of N single-threaded worker
   processes on this machine, or the running scheduler at ADDRESS (workers on many
   machines). Each task is ``grader.isolated.grade_isolated``: one submission graded in
   sandboxes, returning its scores, its executed notebook and its status;
4. writes every result as it arrives, in this one thread: the gradebook
   (``grader.autograde.write_result``), ``autograded/``, ``reviews/``, ``logs/``, the
   state file and ``report.json``, each file replaced atomically, so an interrupted
   batch loses at most the submissions still running;
5. ends with ``grades.csv`` and a summary table.

A task whose worker dies is re-run on another worker by the scheduler; a task that fails
is retried once; a submission that cannot be graded (time limit, memory, dead kernel,
not a notebook) gets its status and reason and 0 points, and every other submission is
graded. Clean-room evidence of a program already probed in the batch travels with later
tasks, so the same function text (the untouched stubs, a shared correct answer) is
probed once per batch rather than once per submission.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import nbformat

from grader import cleanroom, rubric
from grader.autograde import write_result
from grader.course import Course, write_config
from grader.errors import BatchError, IntegrityError, SubmissionError
from grader.export import write_grades_csv
from grader.intake import Entry, discover, write_private
from grader.integrity import Snapshot
from grader.isolated import (
    CRASHED,
    GRADED,
    MALFORMED,
    NEEDS_REVIEW,
    STATUSES,
    TIMEOUT,
    Bundle,
    Limits,
    Outcome,
    code_digest,
    grade_isolated,
    start_warm_kernels,
    sweep,
    zero_result,
)

_POLL_SECONDS = 0.2
"""How often the result loop looks for finished tasks and for Ctrl-C."""

STATE_VERSION = 1
"""Version of the state file; a state of another version is ignored (all is graded again)."""


@dataclass(frozen=True)
class Engine:
    """Where the tasks run.

    Attributes:
        workers: worker processes of the local cluster (one thread each); ignored with
            ``scheduler``.
        scheduler: address of a running Dask scheduler (``tcp://host:8786``), or None
            for a local cluster.
    """

    workers: int = 1
    scheduler: str | None = None

    def describe(self) -> str:
        """One line for the report."""
        if self.scheduler:
            return f"Dask scheduler at {self.scheduler}"
        return f"local Dask cluster of {self.workers} single-threaded worker processes"


@dataclass
class BatchReport:
    """What a batch run did.

    Attributes:
        rows: every student's row of ``report.json`` (this run's and earlier ones').
        executed: students graded by this run.
        reused: students skipped because an earlier run graded them, unchanged.
        seconds: wall time of the run.
        path: the report file.
    """

    rows: dict[str, dict[str, Any]]
    executed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    seconds: float = 0.0
    path: Path | None = None

    def counts(self) -> dict[str, int]:
        """Students per status, in the order of ``STATUSES``."""
        found = Counter(row["status"] for row in self.rows.values())
        return {status: found[status] for status in STATUSES if found[status]}


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(I?B?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in ``text``: ``4GiB``, ``4G``, ``512MB``, ``1.5g`` (binary units) or a plain number.

    Raises:
        BatchError: the text is not a size.
    """
    match = _SIZE.match(text)
    if not match:
        raise BatchError(f"{text!r} is not a memory size (say 4GiB, 512M or 2000000000)")
    number, unit = float(match.group(1)), match.group(2).upper()
    return int(number * 1024 ** " KMGT".index(unit or " "))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _atomic_write(path: Path, text: str) -> None:
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
        _atomic_write(self.path, json.dumps(payload, indent=1, sort_keys=True))


# --- progress ------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """A text progress bar with an estimate of the time left, and one line per student.

    On a terminal the bar stays on the last line of stderr; otherwise each student's
    line carries the bar. The estimate counts only submissions that ran on a worker
    (a malformed one takes no time).
    """

    def __init__(self, total: int, out: TextIO | None = None, width: int = 24) -> None:
        self.total = total
        self.done = 0
        self.timed = 0
        self.untimed = 0
        self.width = width
        self.out = out or sys.stdout
        self.started = time.perf_counter()
        self.live = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()

    def bar(self) -> str:
        """``[#####.....]  5/10  elapsed 1m02s  ETA 1m02s``."""
        filled = int(self.width * self.done / self.total) if self.total else self.width
        elapsed = time.perf_counter() - self.started
        left = self.total - self.done
        if left == 0:
            eta = "0m00s"
        elif self.timed:
            eta = _clock(elapsed / self.timed * left)
        else:
            eta = "?"
        digits = len(str(self.total))
        return (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done:>{digits}}/{self.total}"
            f"  elapsed {_clock(elapsed)}  ETA {eta}"
        )

    def step(self, line: str, timed: bool = True) -> None:
        """One more student finished (``timed``: on a worker): print its line and the bar."""
        self.done += 1
        if timed:
            self.timed += 1
        else:
            self.untimed += 1
        if self.live:
            sys.stderr.write("\r\033[K")
            print(line, file=self.out, flush=True)
            sys.stderr.write(self.bar())
            sys.stderr.flush()
        else:
            print(f"{self.bar()}  {line}", file=self.out, flush=True)

    def close(self) -> None:
        """End the live bar's line."""
        if self.live:
            sys.stderr.write("\n")
            sys.stderr.flush()


def summary_table(report: BatchReport, limit: int = 40) -> str:
    """The end-of-run summary: students per status, then a row per student.

    With more than ``limit`` students only those not plainly graded are listed.
    """
    lines = ["", "status         students"]
    lines += [f"{status:<14} {count:>8}" for status, count in report.counts().items()]
    rows = sorted(report.rows.items())
    if len(rows) > limit:
        rows = [(s, r) for s, r in rows if r["status"] != GRADED]
    if rows:
        width = max(7, *(len(s) for s, _ in rows))
        lines += ["", f"{'student':<{width}}  {'status':<12}  {'score':>11}  reason"]
        for student, row in rows:
            score = f"{row['score']:g} / {row['max_score']:g}"
            reason = (row.get("reason") or "")[:90]
            lines.append(f"{student:<{width}}  {row['status']:<12}  {score:>11}  {reason}")
    lines.append("")
    lines.append(
        f"{len(report.executed)} graded now, {len(report.reused)} unchanged since an earlier "
        f"run (not run again), in {_clock(report.seconds)}"
    )
    return "\n".join(lines)


# --- the engine ----------------------------------------------------------------------


@contextlib.contextmanager
def dask_client(engine: Engine) -> Iterator[Any]:
    """A Dask client on a local cluster or on the scheduler at ``engine.scheduler``.

    Raises:
        BatchError: the scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster

    if engine.scheduler:
        try:
            client = Client(engine.scheduler, timeout=30)
        except (OSError, TimeoutError) as error:
            raise BatchError(
                f"cannot reach the Dask scheduler at {engine.scheduler}: {error}"
            ) from error
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=max(1, engine.workers),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit=0,  # the sandboxes limit memory; the worker processes themselves are small
        silence_logs=logging.ERROR,
    )
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


@functools.lru_cache(maxsize=1)
def _worker_evidence() -> dict[str, Any]:
    """Clean-room evidence this worker process gathered, by program key (kept between tasks)."""
    return {}


def _task(
    student: str,
    notebook: bytes,
    timestamp: str | None,
    digest: str,
    bundle: Bundle,
    limits: Limits,
    known: dict[str, Any],
) -> Outcome:
    """What a Dask worker runs: ``grade_isolated``, its own folder hidden from the sandboxes.

    The worker adds the evidence it gathered itself to what the client sent (``known``).
    """
    hide: tuple[str, ...] = ()
    with contextlib.suppress(Exception):  # not in a worker (called directly): nothing more
        from distributed import get_worker

        hide = (str(get_worker().local_directory),)
    evidence = {**_worker_evidence(), **known}
    outcome = grade_isolated(
        student, notebook, timestamp, digest, bundle, limits, evidence, extra_hide=hide
    )
    _worker_evidence().update(outcome.fresh)
    return outcome


# --- writing results -----------------------------------------------------------------


def _copy_submission(course: Course, entry: Entry) -> Entry:
    """Keep what was handed in under ``submitted/`` (nbgrader's formgrader reads it there).

    The notebook and timestamp are written as fresh private files through folders opened
    without following links (``grader.intake.write_private``), never copied from the
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

    def __init__(
        self, course: Course, key: str, limits: Limits, engine: Engine, state: State
    ) -> None:
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
        _atomic_write(review_path, json.dumps(review, indent=2))
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
            "engine": self.engine.describe(),
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
        _atomic_write(path, json.dumps(payload, indent=2))
        return path


def _line(student: str, row: dict[str, Any]) -> str:
    flag = "" if row["status"] == GRADED else f"  {row['status'].upper()}"
    if row["status"] not in (GRADED, NEEDS_REVIEW) and row.get("reason"):
        flag += f": {row['reason']}"
    return f"{student}: {row['score']:g} / {row['max_score']:g}{flag}"


def _job_keys(entry: Entry, source: nbformat.NotebookNode, secret: cleanroom.Secret) -> list[str]:
    """The clean-room program key of ``entry`` (none when its functions cannot be extracted)."""
    try:
        submission = nbformat.reads(entry.notebook.decode("utf-8"), as_version=4)  # type: ignore[union-attr]
        return [cleanroom.program_key(cleanroom.build_jobs(submission, source), secret)]
    except Exception:  # the worker reports what is wrong with it
        return []


def run_batch(
    course: Course,
    folder: Path,
    engine: Engine,
    limits: Limits,
    hide: tuple[Path, ...] = (),
    out: TextIO | None = None,
    client_factory: Callable[[Engine], Any] = dask_client,
) -> BatchReport:
    """Grade every submission in ``folder`` into ``course`` (see the module docstring).

    Args:
        course: a released course.
        folder: the submissions.
        engine: local cluster or scheduler address.
        limits: the sandboxes' limits.
        hide: more folders of this machine the sandboxes must not see (say ``solutions/``).
        out: where progress and the summary go (default: stdout).
        client_factory: opens the Dask client (a context manager; tests may replace it).

    Raises:
        CourseError: the course is not released.
        SubmissionError: the submissions folder is missing (an entry that cannot be
            graded is a malformed row, see ``grader.intake``).
        BatchError: the engine cannot be reached or its workers run other grader code.
        IntegrityError: the grader's code changed during the run.
    """
    started = time.perf_counter()
    out = out or sys.stdout
    course.require_released()
    write_config(course.root)
    entries = [_copy_submission(course, entry) for entry in discover(folder)]
    key = grading_key(course)
    state = State(state_file(course))
    writer = Writer(course, key, limits, engine, state)
    todo = [e for e in entries if not state.done(e, key, limits)]
    report = BatchReport(writer.rows, reused=[e.student for e in entries if e not in todo])
    progress = Progress(len(todo), out)
    if report.reused:
        print(f"{len(report.reused)} submissions unchanged since they were graded: kept", file=out)
    digest_before = code_digest()

    for entry in [e for e in todo if e.malformed]:
        result = zero_result(entry.student, entry.timestamp, f"malformed: {entry.problem}")
        outcome = Outcome(entry.student, entry.digest, MALFORMED, entry.problem, result)
        progress.step(_line(entry.student, writer.write(outcome)), timed=False)
        report.executed.append(entry.student)
    runnable = [e for e in todo if not e.malformed]
    try:
        if runnable:
            sweep()
            _run_tasks(
                course, runnable, engine, limits, hide, writer, progress, report, client_factory
            )
    finally:
        progress.close()
        writer.save()
        # This machine's scratch: all of it once no worker holds it (a local cluster's
        # workers are ending now).
        sweep(wait=10.0 if engine.scheduler is None else 0.0)
    if code_digest() != digest_before:
        raise IntegrityError(
            "the grader's or jazz_utils' code changed while submissions were graded: "
            "check the installation, then run the batch again (unchanged work is kept)"
        )
    write_grades_csv(course)
    report.rows = writer.rows
    report.seconds = time.perf_counter() - started
    report.path = writer.save()
    print(summary_table(report), file=out)
    return report


def _run_tasks(
    course: Course,
    entries: list[Entry],
    engine: Engine,
    limits: Limits,
    hide: tuple[Path, ...],
    writer: Writer,
    progress: Progress,
    report: BatchReport,
    client_factory: Callable[[Engine], Any],
) -> None:
    """Send ``entries`` to the workers, a few more than they can run at once, and write results."""
    from distributed import as_completed

    source_bytes = course.source_notebook.read_bytes()
    source = nbformat.reads(source_bytes.decode("utf-8"), as_version=4)
    bundle = Bundle(
        config=course.config_file.read_text(encoding="utf-8"),
        template_gradebook=course.template_gradebook.read_bytes(),
        source_notebook=source_bytes,
        code_digest=code_digest(),
        batch_id=uuid.uuid4().hex,
        secret_seed=secrets.randbits(62),
        hide=tuple(
            str(p.resolve())
            for p in (course.root, *hide)
            if p.exists() and p.resolve() != Path("/")
        ),
    )
    known: dict[str, Any] = {}
    pending = list(entries)
    with client_factory(engine) as client:
        # Each worker starts importing TensorFlow into its fork server now, while the
        # first tasks are sent (a worker that joins later starts its own at its first task).
        with contextlib.suppress(Exception):  # what killed workers left on these machines
            client.run(sweep)
        with contextlib.suppress(Exception):  # only slower without: a task starts its own
            client.run(start_warm_kernels)
        shared = client.scatter(bundle, broadcast=True)
        window = max(2, 2 * sum(client.nthreads().values()))
        futures: dict[Any, Entry] = {}

        def submit(entry: Entry) -> Any:
            keys = _job_keys(entry, source, cleanroom.Secret(bundle.secret_seed))
            evidence = {k: known[k] for k in keys if k in known}
            future = client.submit(
                _task,
                entry.student,
                entry.notebook,
                entry.timestamp,
                entry.digest,
                shared,
                limits,
                evidence,
                key=f"grade-{entry.student}-{entry.digest[:12]}-{time.time_ns()}",
                retries=1,
                pure=False,
            )
            futures[future] = entry
            return future

        running = as_completed([submit(pending.pop(0)) for _ in range(min(window, len(pending)))])
        with _interruptible() as interrupted:
            while not running.is_empty():
                if interrupted():
                    raise KeyboardInterrupt
                if not running.has_ready():
                    time.sleep(_POLL_SECONDS)
                    continue
                for future in running.next_batch(block=False):
                    _collect(future, futures.pop(future), known, writer, report, progress)
                    if pending:
                        running.add(submit(pending.pop(0)))


@contextlib.contextmanager
def _interruptible() -> Iterator[Callable[[], bool]]:
    """Turn Ctrl-C (SIGINT) into a flag the result loop checks between results.

    Python raises KeyboardInterrupt wherever the main thread happens to be, which may be a
    finaliser that swallows it; the flag stops the loop at a safe point instead. A second
    Ctrl-C interrupts at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    state = {"count": 0}

    def handler(signum: int, frame: Any) -> None:
        state["count"] += 1
        if state["count"] > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: state["count"] > 0
    finally:
        signal.signal(signal.SIGINT, previous)


def _collect(
    future: Any,
    entry: Entry,
    known: dict[str, Any],
    writer: Writer,
    report: BatchReport,
    progress: Progress,
) -> None:
    """Write the result of one finished task (or the reason it has none)."""
    try:
        outcome: Outcome = future.result()
        final = True
    except Exception as error:  # the task itself failed (twice) or its workers died
        outcome = _failed(entry, error)
        final = "KilledWorker" in type(error).__name__
    known.update(outcome.fresh)
    row = writer.write(outcome, final)
    report.executed.append(entry.student)
    progress.step(_line(entry.student, row))


def _failed(entry: Entry, error: BaseException) -> Outcome:
    """The outcome of a task that could not be run (recorded, and run again next time)."""
    name = type(error).__name__
    if name == "KilledWorker":
        reason = "it ended every worker that ran it (the grading process itself died)"
    else:
        reason = f"grading failed on the worker: {name}: {str(error)[:300]}"
    result = zero_result(entry.student, entry.timestamp, f"crashed: {reason}")
    return Outcome(entry.student, entry.digest, CRASHED, reason, result)
