"""The clean-room regrade: each graded function re-tested away from the notebook run.

After nbgrader has run a submission, every graded function is tested again in a fresh
Python process that holds only the function's own extracted code (``grader.extract``):
no other cell of the submission ran there, so nothing it patched (modules, builtins,
IPython, the grader, the display of results) is in place. That process only *probes*
(``grader.probes``) and writes the evidence as JSON; the scores are *judged* here, in
the grading process (``grader.judges``), which never runs learner code. A function's
final score is the lower of its notebook score and its clean-room score.

The child process is ``python -m grader.cleanroom JOB OUT``: it reads the job (JSON),
writes its progress and evidence to OUT (JSON) after every test, and is restarted on
the remaining tests if learner code ends it early (``os._exit``, a crash).
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbformat.notebooknode import NotebookNode

from grader import judges, rubric
from grader.extract import Program, extract, first_grade_cell, sanitized_cells

CLEANROOM_TIMEOUT = 600.0
"""Seconds the clean-room regrade of one submission may take in all."""

_EVIDENCE_LIMIT = 20_000_000
"""Largest evidence file read back, in bytes."""


@dataclass(frozen=True)
class FunctionJob:
    """One graded function's extracted program and the grade cells that test it."""

    function: str
    blocks: tuple[str, ...]
    grade_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The job as JSON data for the child process."""
        return {
            "function": self.function,
            "blocks": list(self.blocks),
            "grade_ids": list(self.grade_ids),
        }


class EvidenceCache:
    """Evidence of extracted programs already run in this grading session, by program.

    Two submissions whose extracted function is the same text get the same evidence
    (the probes are deterministic), so a batch runs each distinct program once: many
    submissions share the untouched stubs or a correct function. A program another
    thread is running is waited for rather than run twice. Safe across threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store: dict[str, dict[str, Any]] = {}
        self._running: dict[str, threading.Event] = {}

    @staticmethod
    def key(job: FunctionJob) -> str:
        """A digest of everything the child process receives for ``job``."""
        return hashlib.sha256(json.dumps(job.to_json(), sort_keys=True).encode()).hexdigest()

    def get(self, job: FunctionJob) -> dict[str, Any] | None:
        """The cached evidence of ``job``'s grade cells, if any."""
        with self._lock:
            found = self._store.get(self.key(job))
        return json.loads(json.dumps(found)) if found is not None else None

    def claim(self, job: FunctionJob) -> tuple[dict[str, Any] | None, threading.Event | None]:
        """(evidence, None) if cached; (None, event) if another thread is running ``job``;
        (None, None) if the caller now runs it and must call ``release``."""
        key = self.key(job)
        with self._lock:
            if key in self._store:
                return json.loads(json.dumps(self._store[key])), None
            if key in self._running:
                return None, self._running[key]
            self._running[key] = threading.Event()
            return None, None

    def release(self, job: FunctionJob, evidence: dict[str, Any] | None) -> None:
        """End a claimed run, keeping its evidence unless it is None (the run failed)."""
        key = self.key(job)
        with self._lock:
            if evidence is not None:
                self._store[key] = json.loads(json.dumps(evidence))
            event = self._running.pop(key, None)
        if event is not None:
            event.set()

    def put(self, job: FunctionJob, evidence: dict[str, Any]) -> None:
        """Remember ``job``'s evidence."""
        with self._lock:
            self._store[self.key(job)] = json.loads(json.dumps(evidence))


@dataclass
class CleanRoomResult:
    """Scores and verdicts of the clean-room regrade of one submission.

    Attributes:
        scores: points per grade cell id.
        verdicts: the judged rubric per grade cell id.
        notes: what went wrong in the clean room itself (a process that ended early, ...).
        programs: the extracted source of each graded function.
    """

    scores: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, judges.Verdict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    programs: dict[str, str] = field(default_factory=dict)


def build_jobs(submission: NotebookNode, source: NotebookNode) -> list[FunctionJob]:
    """Extract every graded function of ``submission`` (locked cells from ``source``)."""
    cells = sanitized_cells(submission, source, rubric.LOCKED_CELLS_RUN_WHEN_GRADING)
    jobs = []
    for function in rubric.GRADED_FUNCTIONS:
        grade_ids = tuple(cell.grade_id for cell in rubric.cells_of(function))
        stop = first_grade_cell(cells, grade_ids, function)
        program: Program = extract(cells, function, stop)
        jobs.append(FunctionJob(function, program.blocks, grade_ids))
    return jobs


def _child_environment() -> dict[str, str]:
    from grader.course import grading_environment

    env = grading_environment()
    env["NBGRADER_EXECUTION"] = "autograde"  # what the notebook sees while it is graded
    return env


def _read_progress(path: Path) -> dict[str, Any]:
    """The child's progress file, or an empty one when missing or unreadable."""
    try:
        if path.stat().st_size > _EVIDENCE_LIMIT:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_FORK = {"children": False}
"""Whether children are forked from this process (see ``fork_children``)."""


def fork_children() -> None:
    """Fork the clean room's children from this process from now on, instead of new Pythons.

    For a process that imported TensorFlow before it read any job and holds nothing else
    (the batch grader's warm start, ``grader.forkserver``): each child starts with the
    imports done, saving about 3 s of CPU.
    """
    _FORK["children"] = True


def _launch(
    job_file: Path, out_file: Path, workdir: Path, timeout: float
) -> tuple[int | None, bool]:
    """Run one child process; return (exit code, whether it timed out)."""
    with (workdir / "child.log").open("a", encoding="utf-8") as log:
        if _FORK["children"]:
            return _wait_forked(_fork_child(job_file, out_file, workdir, log.fileno()), timeout)
        process = subprocess.Popen(
            [sys.executable, "-m", "grader.cleanroom", str(job_file), str(out_file)],
            cwd=workdir / "run",
            env=_child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code: int | None = process.wait(timeout=max(timeout, 1.0))
            timed_out = False
        except subprocess.TimeoutExpired:
            code, timed_out = None, True
        # Whatever the learner's code started in the child's session goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return code, timed_out


def _fork_child(job_file: Path, out_file: Path, workdir: Path, log_fd: int) -> int:
    """Fork the child that runs ``child_main``, in a session of its own; its process id."""
    env = _child_environment()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid != 0:
        return pid
    code = 1
    try:
        os.setsid()
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.chdir(workdir / "run")
        sys.path[0] = os.getcwd()
        os.environ.clear()
        os.environ.update(env)
        code = child_main(job_file, out_file)
    finally:
        os._exit(code)


def _wait_forked(pid: int, timeout: float) -> tuple[int | None, bool]:
    """Wait for a forked child as ``Popen.wait`` would (a signal gives -N); kill its session."""
    deadline = time.monotonic() + max(timeout, 1.0)
    code: int | None = None
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            break
        if time.monotonic() > deadline:
            timed_out = True
            break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if timed_out:
        os.waitpid(pid, 0)
    return code, timed_out


def collect_evidence(
    jobs: list[FunctionJob],
    workdir: Path,
    timeout: float = CLEANROOM_TIMEOUT,
    cache: EvidenceCache | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Run the jobs in fresh child processes; return (evidence per grade id, notes).

    A child that ends early is restarted on the tests it had not finished; the test (or
    the function whose code was running) that it ended on gets an error as evidence.
    Jobs found in ``cache`` are not run again (jobs another submission is running are
    waited for); jobs that ran to the end are added to it.
    """
    evidence: dict[str, Any] = {}
    notes: list[str] = []
    if cache is None:
        _run_jobs(jobs, workdir, timeout, evidence, notes)
        return evidence, notes
    mine: list[FunctionJob] = []
    waiting: list[tuple[FunctionJob, threading.Event]] = []
    for job in jobs:
        cached, event = cache.claim(job)
        if cached is not None:
            evidence.update(cached)
        elif event is not None:
            waiting.append((job, event))
        else:
            mine.append(job)
    failed = {g for job in mine for g in job.grade_ids}  # until the run says otherwise
    try:
        if mine:
            failed = _run_jobs(mine, workdir, timeout, evidence, notes)
    finally:
        for job in mine:
            ok = all(g in evidence for g in job.grade_ids) and not failed & set(job.grade_ids)
            cache.release(job, {g: evidence[g] for g in job.grade_ids} if ok else None)
    late = []
    for job, event in waiting:
        event.wait(timeout)
        cached = cache.get(job)
        if cached is None:
            late.append(job)
        else:
            evidence.update(cached)
    if late:
        _run_jobs(late, workdir / "late", timeout, evidence, notes)
    return evidence, notes


def _run_jobs(
    jobs: list[FunctionJob],
    workdir: Path,
    timeout: float,
    evidence: dict[str, Any],
    notes: list[str],
) -> set[str]:
    """Run ``jobs`` in child processes, filling ``evidence`` and ``notes``.

    Returns:
        The grade ids whose evidence is an error made up here (the child ended or ran
        out of time), which must not be cached.
    """
    (workdir / "run").mkdir(parents=True, exist_ok=True)
    failed: set[str] = set()
    pending = list(jobs)
    deadline = time.monotonic() + timeout
    for attempt in range(1, 2 + sum(len(job.grade_ids) for job in jobs)):
        if not pending:
            break
        job_file = workdir / f"job-{attempt}.json"
        out_file = workdir / f"evidence-{attempt}.json"
        job_file.write_text(json.dumps({"functions": [job.to_json() for job in pending]}))
        code, timed_out = _launch(job_file, out_file, workdir, deadline - time.monotonic())
        progress = _read_progress(out_file)
        found = progress.get("evidence")
        if isinstance(found, dict):
            for job in pending:
                for grade_id in job.grade_ids:
                    if grade_id in found and grade_id not in evidence:
                        evidence[grade_id] = found[grade_id]
        remaining = [g for job in pending for g in job.grade_ids if g not in evidence]
        if not remaining:
            break
        if timed_out:
            for grade_id in remaining:
                evidence[grade_id] = {"error": "the clean-room regrade ran out of time"}
                failed.add(grade_id)
            notes.append(f"the clean-room process ran past {timeout:.0f} s")
            break
        current = progress.get("current") if isinstance(progress.get("current"), dict) else {}
        blamed = _blame(pending, remaining, current)
        failed.update(blamed)
        for grade_id in blamed:
            evidence[grade_id] = {
                "error": f"the clean-room process ended while testing (exit code {code})"
            }
        notes.append(f"the clean-room process ended (exit code {code}) during {', '.join(blamed)}")
        pending = [
            FunctionJob(
                job.function, job.blocks, tuple(g for g in job.grade_ids if g not in evidence)
            )
            for job in pending
        ]
        pending = [job for job in pending if job.grade_ids]
    return failed


def _blame(pending: list[FunctionJob], remaining: list[str], current: dict[str, Any]) -> list[str]:
    """The tests a child that ended early was running: one test, or a whole function."""
    grade_id = current.get("grade_id")
    if isinstance(grade_id, str) and grade_id in remaining:
        return [grade_id]
    function = current.get("function")
    for job in pending:
        if job.function == function:
            return [g for g in job.grade_ids if g in remaining] or remaining[:1]
    return remaining[:1]


def judge_evidence(
    jobs: list[FunctionJob], evidence: dict[str, Any], notes: list[str]
) -> CleanRoomResult:
    """The clean room's scores: each grade cell's evidence judged (``grader.judges``).

    Args:
        jobs: the submission's extracted functions (``build_jobs``).
        evidence: what the children found, per grade id (``collect_evidence``).
        notes: what went wrong while gathering it.
    """
    result = CleanRoomResult(notes=list(notes))
    if any(isinstance(e, dict) and e.get("tampered") for e in evidence.values()):
        result.notes.append(TAMPERED)
    for job in jobs:
        result.programs[job.function] = "\n\n".join(job.blocks)
        for grade_id in job.grade_ids:
            verdict = judges.judge(grade_id, evidence.get(grade_id, {"error": "no result"}))
            result.verdicts[grade_id] = verdict
            result.scores[grade_id] = verdict.points
    return result


# --- the child process ---------------------------------------------------------------

WATCHED_MODULES: tuple[str, ...] = (
    "builtins",
    "json",
    "numpy",
    "numpy.testing",
    "keras",
    "keras.ops",
    "keras.layers",
    "grader",
    "grader.probes",
    "grader.reference",
    "grader.hidden",
    "grader.cleanroom",
)
"""Modules whose attributes learner code must leave alone while it is probed."""

TAMPERED = "the submission modified the grader or its libraries while it was tested"


def _watched_classes() -> list[type]:
    import keras

    return [keras.Model, keras.layers.Layer, keras.layers.LSTM, keras.layers.Dense]


Fingerprint = dict[str, tuple[int, dict[str, int]]]


def _fingerprint(
    classes: list[type],
    modules: dict[str, Any] = sys.modules,
    names: tuple[str, ...] = WATCHED_MODULES,
    identity: Any = id,
    attributes: Any = vars,
) -> Fingerprint:
    """Identity of each watched module and class, and of every attribute each has.

    The helpers are default arguments, bound when this module is imported (before any
    learner code), so rebinding ``id``, ``vars`` or this function later changes nothing.
    """
    prints: Fingerprint = {}
    for name in names:
        module = modules.get(name)
        if module is not None:
            prints[name] = (
                identity(module),
                {k: identity(v) for k, v in attributes(module).items()},
            )
    probes = modules.get("grader.probes")
    if probes is not None:
        table = attributes(probes).get("PROBES", {})
        prints["grader.probes.PROBES"] = (
            identity(table),
            {k: identity(v) for k, v in table.items()},
        )
    for cls in classes:
        prints[f"class {cls.__qualname__}"] = (
            identity(cls),
            {k: identity(v) for k, v in attributes(cls).items()},
        )
    return prints


def _tampered(
    before: Fingerprint, classes: list[type], fingerprint: Any = _fingerprint
) -> list[str]:
    """What changed since ``before``: replaced modules, rebound or deleted attributes."""
    now = fingerprint(classes)
    changed = []
    for name, (identity, attributes) in before.items():
        current = now.get(name)
        if current is None or current[0] != identity:
            changed.append(name)
            continue
        changed.extend(
            f"{name}.{key}" for key, value in attributes.items() if current[1].get(key) != value
        )
    return changed


def _write_progress(path: Path, progress: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(progress), encoding="utf-8")
    os.replace(temporary, path)


def child_main(job_path: Path, out_path: Path) -> int:
    """Run a clean-room job: build each function from its blocks, probe it, record evidence.

    Everything the child relies on (the probe, the integrity check, the writer) is bound
    to local names before learner code runs; after the learner's code is defined and after
    each probe, the watched modules are compared with a fingerprint taken before, and
    evidence gathered while they were modified is replaced by an error. The process ends
    with ``os._exit`` so that no exit handler the learner registered runs after the last
    write.
    """
    import keras  # noqa: F401 - imported before the fingerprint, as learner code will use it

    from grader import probes
    from grader.hidden import roundtrip

    collect, quiet, describe = probes.collect, probes.quiet, probes.describe_error
    write, tampered, exit_now = _write_progress, _tampered, os._exit
    job = json.loads(job_path.read_text(encoding="utf-8"))
    classes = _watched_classes()
    before = _fingerprint(classes)
    progress: dict[str, Any] = {"evidence": {}, "current": {}}
    for item in job["functions"]:
        function = item["function"]
        progress["current"] = {"function": function, "grade_id": None}
        write(out_path, progress)
        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        first_error: str | None = None
        for number, block in enumerate(item["blocks"]):
            with quiet():
                try:
                    code = compile(block, f"<submission: {function}, block {number}>", "exec")
                    exec(code, namespace)
                except (Exception, SystemExit) as error:  # a cell that raises, as in the notebook
                    first_error = first_error or describe(error)
        candidate = namespace.get(function)
        for grade_id in item["grade_ids"]:
            progress["current"] = {"function": function, "grade_id": grade_id}
            write(out_path, progress)
            if callable(candidate):
                found = roundtrip(collect(grade_id, candidate, function))
            else:
                reason = f"{function} is not defined as a function"
                found = {"error": reason + (f" ({first_error})" if first_error else "")}
            changed = tampered(before, classes)
            if changed:
                found = {"error": f"{TAMPERED}: {', '.join(changed[:5])}", "tampered": True}
            progress["evidence"][grade_id] = found
        progress["current"] = {}
        write(out_path, progress)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    exit_now(0)
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process: ``python -m grader.cleanroom JOB OUT``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m grader.cleanroom JOB OUT", file=sys.stderr)
        return 2
    return child_main(Path(args[0]), Path(args[1]))


if __name__ == "__main__":
    sys.exit(main())
