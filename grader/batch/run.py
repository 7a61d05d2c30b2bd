"""Batch autograding of a whole class on ``dask.distributed``: parallel, isolated, resumable.

    python -m grader autograde --submissions DIR [--workers N] [--scheduler ADDRESS]
                               [--timeout S] [--memory LIMIT]

The client (this module, in the instructor's process):

1. finds every student's submission in DIR (``grader.batch.intake``: nbgrader's ``submitted/``
   layout, LMS zips, ``<id>.ipynb``) and copies it into the course's ``submitted/``;
2. skips what an earlier run already graded, unchanged (same content digest, same grader,
   configuration and source notebook; ``course/.batch/state.json``);
3. sends the rest to Dask workers: a ``LocalCluster`` of N single-threaded worker
   processes on this machine, or the running scheduler at ADDRESS (workers on many
   machines). Each task is ``grader.batch.task.grade_isolated``: one submission graded in
   sandboxes, returning its scores, its executed notebook and its status;
4. writes every result as it arrives, in this one thread: the gradebook
   (``grader.scores.write_result``), ``autograded/``, ``reviews/``, ``logs/``, the
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
import dataclasses
import functools
import logging
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import nbformat

from grader.batch import lms
from grader.batch.export import write_grades_csv
from grader.batch.intake import Entry, discover
from grader.batch.outcome import CRASHED, GRADED, MALFORMED, NEEDS_REVIEW, Outcome, zero_result
from grader.batch.progress import BatchReport, Progress, summary_table
from grader.batch.state import (
    State,
    Writer,
    copy_submission,
    grading_key,
    state_file,
)
from grader.batch.task import Bundle, Request, code_digest, grade_isolated
from grader.cleanroom import evidence as cleanroom
from grader.course import Course, write_config
from grader.errors import BatchError, IntegrityError
from grader.sandbox.limits import Limits
from grader.sandbox.scratch import start_warm_kernels, sweep

_POLL_SECONDS = 0.2
"""How often the result loop looks for finished tasks and for Ctrl-C."""


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


def _task(request: Request, bundle: Bundle) -> Outcome:
    """What a Dask worker runs: ``grade_isolated``, its own folder hidden from the sandboxes.

    The worker adds the evidence it gathered itself to what the client sent
    (``request.known``).
    """
    hide: tuple[str, ...] = ()
    with contextlib.suppress(Exception):  # not in a worker (called directly): nothing more
        from distributed import get_worker

        hide = (str(get_worker().local_directory),)
    known = {**_worker_evidence(), **request.known}
    outcome = grade_isolated(dataclasses.replace(request, known=known), bundle, extra_hide=hide)
    _worker_evidence().update(outcome.fresh)
    return outcome


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
    names: lms.NameMap | None = None,
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
        names: the instructor's mapping of LMS ids and names to learner ids.

    Raises:
        CourseError: the course is not released.
        SubmissionError: the submissions folder is missing (an entry that cannot be
            graded is a malformed row, see ``grader.batch.intake``).
        BatchError: the engine cannot be reached or its workers run other grader code.
        IntegrityError: the grader's code changed during the run.
    """
    started = time.perf_counter()
    out = out or sys.stdout
    course.require_released()
    write_config(course.root)
    entries = [copy_submission(course, entry) for entry in discover(folder, names)]
    lms.record(course.root, [(e.student, e.lms) for e in entries if e.lms is not None], names)
    key = grading_key(course)
    state = State(state_file(course))
    writer = Writer(course, key, limits, engine.describe(), state)
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
            request = Request(
                entry.student, entry.notebook, entry.timestamp, entry.digest, limits, evidence
            )
            future = client.submit(
                _task,
                request,
                shared,
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
