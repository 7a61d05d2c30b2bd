"""Grade one submission in isolation: the unit of work of the batch grader (one Dask task).

``grade_isolated`` is a pure function of its arguments: the submission's bytes, the
release files every task shares (``Bundle``: the nbgrader configuration, the gradebook
without students, the source notebook) and the limits. It returns an ``Outcome`` that
pickles (scores per grade cell, the executed notebook's bytes, logs, status and reason)
and touches nothing outside a private scratch folder, so it runs on any Dask worker.

The grading itself is the course's usual one (``grader.autograde``): ``nbgrader
autograde`` in a scratch course and, at the same time, the clean-room regrade; each grade
cell gets the lower score. Learner code runs only in sandboxes (``grader.jail``), each
in a folder holding only what it needs, owned by a user of its own when the worker runs
as root::

    <scratch>/tasks/<student>-XXXX/          root, 0711
      kernel/    uid A, 0700: the notebook kernel's home/, tmp/, cwd/ and run/ (its
                 connection file and sockets)
      clean/     uid B, 0700: the extracted programs (jobs.json), home/, tmp/, the evidence
      private/   root, 0700: the scratch course (nbgrader_config.py, the gradebook without
                 students, submitted/<student>/...), sandbox specs, logs

nbgrader itself runs here, in the worker (``grader.kernelbox``): only its kernel is
sandboxed, so the scratch gradebook and configuration are out of learner code's reach.
The kernel and the clean room start warm, forked from the worker's fork server
(``grader.forkserver``), inside the same sandboxes.
The source notebook never enters a sandbox either: the clean-room jobs are extracted
from it here, in the worker, which also judges the evidence. No sandbox sees another,
other tasks, the course, the submissions folder or the repository's ``solutions/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from grader import cleanroom, rubric
from grader.autograde import SubmissionResult, last_error
from grader.errors import BatchError
from grader.intake import MAX_NOTEBOOK_BYTES, notebook_problem
from grader.integrity import code_fingerprint
from grader.jail import (
    END_LINE,
    JailResult,
    JailSpec,
    Protections,
    run_jailed,
    software_layout,
)

GRADED = "graded"
NEEDS_REVIEW = "needs review"
TIMEOUT = "timeout"
CRASHED = "crashed"
MALFORMED = "malformed"
STATUSES: tuple[str, ...] = (GRADED, NEEDS_REVIEW, TIMEOUT, CRASHED, MALFORMED)
"""Every status a submission can end with, in the order the summary lists them."""

UID_BASE = 61000
"""First user id of the sandboxes (root only): slot k of a machine uses UID_BASE + 2k and 2k + 1."""

SLOTS = 512
"""Sandbox slots per machine (tasks graded at once on one machine, at most)."""

_LOG_LIMIT = 400_000
"""Bytes of each log kept in the outcome."""

_KERNEL_DIED = ("DeadKernelError", "Kernel died", "kernel died", "Kernel is dead")
"""What nbgrader's error lines say when the kernel process ended under it."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use (each of its two sandboxes, separately).

    Attributes:
        timeout: wall-clock seconds for the notebook run and for the clean-room regrade.
        memory_bytes: address space of each process (RLIMIT_AS). TensorFlow reserves
            about 1.5 GiB of address space before it computes anything; 4 GiB leaves
            room for the grading and stops a runaway allocation well before the machine
            suffers.
        file_bytes: largest file a process may write.
        processes: processes and threads of a sandbox's user (root only: RLIMIT_NPROC).
    """

    timeout: float = 600.0
    memory_bytes: int = 4 * 2**30
    file_bytes: int = 2**30
    processes: int = 4096

    @property
    def cpu_seconds(self) -> int:
        """CPU seconds of each process: twice the wall-clock limit, plus a minute."""
        return int(2 * self.timeout) + 60

    def describe(self) -> dict[str, Any]:
        """The limits as JSON data, for the report."""
        return {
            "timeout_s": self.timeout,
            "cpu_s_per_process": self.cpu_seconds,
            "memory_bytes_per_process": self.memory_bytes,
            "file_bytes": self.file_bytes,
            "processes": self.processes,
        }


@dataclass(frozen=True)
class Bundle:
    """The release files every task needs (scattered to the workers once).

    Attributes:
        config: the course's ``nbgrader_config.py``.
        template_gradebook: the gradebook with the assignment and no student.
        source_notebook: the source notebook (for the clean room's extraction; it never
            enters a sandbox).
        code_digest: digest of the grader's and jazz_utils' code on the client; a worker
            with other code refuses the task.
        hide: the client's folders a sandbox must not see when it runs on the client's
            machine (the course, the submissions, the solutions).
        batch_id: names this batch's clean-room evidence shared by the workers of a machine.
    """

    config: str
    template_gradebook: bytes
    source_notebook: bytes
    code_digest: str
    hide: tuple[str, ...] = ()
    batch_id: str = "default"


@dataclass
class Outcome:
    """What grading one submission gave (see ``grade_isolated``).

    Attributes:
        student: the student's id.
        digest: the submission's content digest (``grader.intake.Entry.digest``).
        status: one of ``STATUSES``.
        reason: why the status is not "graded" (None when it is).
        result: the scores, the clean-room verdicts and the review reasons.
        executed: the executed notebook nbgrader wrote (None: none).
        fresh: clean-room evidence of programs run here, by program key (for reuse).
        protections: what each sandbox achieved (``Protections``, as JSON data).
        seconds: wall time of the task.
        worker: where it ran (host and process id).
    """

    student: str
    digest: str
    status: str
    reason: str | None
    result: SubmissionResult
    executed: bytes | None = None
    fresh: dict[str, Any] = field(default_factory=dict)
    protections: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    worker: str = ""


BATCH_MODULES: tuple[str, ...] = (
    "batch",
    "cleanjob",
    "forkserver",
    "intake",
    "isolated",
    "jail",
    "kernelbox",
)
"""The batch grader's own modules (hashed with ``grader.autograde.GRADING_MODULES``)."""


def code_digest() -> str:
    """Digest of the grader's modules that grade, sandbox and record (as named in the package)."""
    from grader.autograde import GRADING_MODULES

    folder = Path(__file__).parent
    names = sorted({*GRADING_MODULES, *BATCH_MODULES})
    digest = hashlib.sha256()
    for path, value in code_fingerprint([folder / f"{name}.py" for name in names]).items():
        digest.update(f"{path.name}:{value}\n".encode())
    return digest.hexdigest()


def default_scratch_base() -> Path:
    """This machine's scratch folder for sandboxes (one per user of the grader)."""
    return Path(tempfile.gettempdir()) / f"jazz-batch-{os.geteuid()}"


def start_warm_kernels(base: Path | None = None) -> str:
    """Start this worker process's fork server (``grader.forkserver``) in the background.

    Returns:
        The path of its socket.
    """
    from grader import forkserver

    base = base or default_scratch_base()
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o711)
    folder = base / "forkservers"
    folder.mkdir(mode=0o700, exist_ok=True)
    home = folder / f"home-{os.getpid()}"
    for name in ("home", "tmp"):
        (home / name).mkdir(parents=True, exist_ok=True)
    return str(forkserver.start(folder, sandbox_environment(home)))


def warm_kernels(base: Path) -> str | None:
    """The socket of this worker's fork server once it is ready (None: kernels start cold)."""
    from grader import forkserver

    if os.environ.get("JAZZ_GRADER_COLD_KERNELS"):
        return None
    path = start_warm_kernels(base)
    return path if forkserver.ready(Path(path)) else None


@contextlib.contextmanager
def _slot(base: Path) -> Iterator[tuple[int | None, int | None]]:
    """Hold a sandbox slot of this machine: its two user ids (None, None when not root)."""
    if os.geteuid() != 0:
        yield None, None
        return
    folder = base / "slots"
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(SLOTS):
        handle = (folder / f"{number}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        try:
            yield UID_BASE + 2 * number, UID_BASE + 2 * number + 1
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise BatchError(f"all {SLOTS} sandbox slots of {socket.gethostname()} are in use")


def sandbox_environment(folder: Path) -> dict[str, str]:
    """The whole environment of a sandbox whose home is under ``folder`` (an allow-list)."""
    interpreter_bin = str(Path(sys.executable).parent)
    return {
        "PATH": os.pathsep.join([interpreter_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(folder / "home"),
        "TMPDIR": str(folder / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "JUPYTER_PLATFORM_DIRS": "1",
        # One worker is one core: TensorFlow's and OpenMP's thread pools stay single.
        "OMP_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
    }


def _own(path: Path, uid: int | None) -> None:
    """Give ``path`` and everything under it to ``uid`` (and its group), mode 0700 on top."""
    path.chmod(0o700)
    if uid is None:
        return
    for folder, dirs, files in os.walk(path):
        os.chown(folder, uid, uid)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


def _read_tail(path: Path, limit: int = _LOG_LIMIT) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _read_small(path: Path, limit: int) -> bytes | None:
    """A file the sandbox wrote, if it is a plain file no larger than ``limit``."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_bytes()
    except OSError:
        return None


def read_scores(gradebook: Path, student: str) -> dict[str, float | None]:
    """Points per grade cell that nbgrader saved for ``student`` (None: none saved).

    The gradebook was in the sandbox's reach, so it is read as untrusted data: a copy,
    opened read-only, only numbers kept, anything but a finite number dropped.
    """
    scores: dict[str, float | None] = {cell.grade_id: None for cell in rubric.GRADE_CELLS}
    query = (
        "SELECT base_cell.name, grade.auto_score FROM grade "
        "JOIN base_cell ON grade.cell_id = base_cell.id "
        "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
        "WHERE submitted_assignment.student_id = ?"
    )
    try:
        with contextlib.closing(sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True)) as db:
            db.execute("PRAGMA trusted_schema = OFF")
            rows = db.execute(query, (student,)).fetchall()
    except sqlite3.Error:
        return scores
    for name, value in rows:
        if name in scores and isinstance(value, (int, float)) and math.isfinite(value):
            scores[name] = float(value)
    return scores


def gradebook_tampering(gradebook: Path, student: str) -> list[str]:
    """What in a scratch gradebook nbgrader would not have written (empty: nothing).

    nbgrader's autograde adds one student and automatic scores within each cell's points;
    manual scores, other students or scores above the points come from somewhere else.
    """
    checks = (
        ("manual scores", "SELECT COUNT(*) FROM grade WHERE manual_score IS NOT NULL"),
        ("other students", "SELECT COUNT(*) FROM student WHERE id != ?"),
        (
            "scores above the cells' points",
            "SELECT COUNT(*) FROM grade JOIN grade_cells ON grade.cell_id = grade_cells.id "
            "WHERE grade.auto_score > grade_cells.max_score",
        ),
    )
    found = []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True)) as db:
            db.execute("PRAGMA trusted_schema = OFF")
            for what, query in checks:
                arguments = (student,) if "?" in query else ()
                if db.execute(query, arguments).fetchone()[0]:
                    found.append(what)
    except sqlite3.Error as error:
        found.append(f"unreadable ({error})")
    return [f"gradebook.db ({', '.join(found)})"] if found else []


def _read_evidence(path: Path) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """The clean job's output (untrusted: only the expected shapes are kept)."""
    data = _read_small(path, 50_000_000)
    try:
        found = json.loads(data) if data is not None else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return {}, ["the clean-room regrade wrote no result"], {}
    evidence = found.get("evidence") if isinstance(found.get("evidence"), dict) else {}
    notes = [str(n) for n in found.get("notes", []) if isinstance(n, str)][:20]
    fresh = found.get("fresh") if isinstance(found.get("fresh"), dict) else {}
    return evidence, notes, fresh


def _error_names(executed: bytes | None) -> set[str]:
    """The exception names of the error outputs in the executed notebook."""
    if not executed:
        return set()
    try:
        notebook = json.loads(executed)
    except ValueError:
        return set()
    names = set()
    for cell in notebook.get("cells", []) if isinstance(notebook, dict) else []:
        for output in cell.get("outputs", []) if isinstance(cell, dict) else []:
            if isinstance(output, dict) and output.get("output_type") == "error":
                names.add(str(output.get("ename")))
    return names


def _classify(
    notebook_timed_out: bool,
    clean_run: JailResult | None,
    clean_notes: list[str],
    log: str,
    executed: bytes | None,
    limits: Limits,
    kernel_log: str = "",
) -> tuple[str | None, str | None]:
    """(status, reason) when the submission could not be graded normally, else (None, None).

    ``log`` is nbgrader's, ``kernel_log`` the kernel's own output, whose last line the
    sandbox launcher writes (how the kernel process ended).
    """
    if notebook_timed_out:
        return TIMEOUT, f"the notebook run passed the time limit of {limits.timeout:g} s"
    clean_timed_out = clean_run is not None and clean_run.timed_out
    if clean_timed_out or any("ran past" in note for note in clean_notes):
        return TIMEOUT, f"the clean-room regrade passed the time limit of {limits.timeout:g} s"
    memory = f"{limits.memory_bytes / 2**30:g} GiB per process"
    errors = "\n".join(
        line for line in log.splitlines() if line.startswith(("[ERROR]", "[AutogradeApp | ERROR]"))
    )
    if any(marker in errors for marker in _KERNEL_DIED):
        return CRASHED, "the kernel died while the notebook ran: " + _death(kernel_log, limits)
    if "MemoryError" in _error_names(executed):
        return CRASHED, f"the notebook ran out of memory (limit {memory})"
    return None, None


def _death(kernel_log: str, limits: Limits) -> str:
    """Why the kernel process ended, from the last line the sandbox launcher wrote."""
    ends = [line for line in kernel_log.splitlines() if line.startswith(END_LINE)]
    how = ends[-1][len(END_LINE) :].strip() if ends else "it ended"
    memory = f"{limits.memory_bytes / 2**30:g} GiB per process"
    if any(marker in kernel_log for marker in ("MemoryError", "bad_alloc", "Cannot allocate")):
        return f"{how}, out of memory (limit {memory})"
    if "SIGXCPU" in how:
        return f"{how}: it used up its CPU time ({limits.cpu_seconds} s)"
    if "SIGABRT" in how or "SIGSEGV" in how or "SIGBUS" in how:
        return f"{how}, as an allocation past the memory limit ({memory}) ends a kernel"
    if "SIGKILL" in how:
        return f"{how} (by its own code, or by the system for lack of memory)"
    return how


def _jail(
    folder: Path,
    cwd: Path,
    uid: int | None,
    private: Path,
    name: str,
    limits: Limits,
    hide: tuple[str, ...],
    keep: tuple[tuple[str, bool], ...],
    env: dict[str, str] | None = None,
    forkserver: str | None = None,
) -> JailSpec:
    return JailSpec(
        workdir=str(folder),
        cwd=str(cwd),
        env=env or sandbox_environment(folder),
        status_file=str(private / f"{name}.status.json"),
        cpu_seconds=limits.cpu_seconds,
        memory_bytes=limits.memory_bytes,
        file_bytes=limits.file_bytes,
        processes=limits.processes,
        uid=uid,
        gid=uid,
        hide=hide,
        keep=keep,
        output=str(private / f"{name}.log"),
        forkserver=forkserver,
    )


def grade_isolated(
    student: str,
    notebook: bytes,
    timestamp: str | None,
    digest: str,
    bundle: Bundle,
    limits: Limits,
    known: dict[str, Any] | None = None,
    scratch_base: Path | None = None,
    extra_hide: tuple[str, ...] = (),
) -> Outcome:
    """Grade one submission with its learner code in sandboxes (see the module docstring).

    Args:
        student: the student's id.
        notebook: the submitted notebook's bytes.
        timestamp: the submission time, if given.
        digest: the submission's content digest, returned as is.
        bundle: the release files.
        limits: the sandboxes' limits.
        known: clean-room evidence of programs already run in this batch, by program key.
        scratch_base: where the task's scratch folder goes (default: ``default_scratch_base``).
        extra_hide: more folders the sandboxes must not see (the Dask worker's own folder).

    Raises:
        BatchError: this worker's grader code differs from the client's, or the machine
            has no free sandbox slot.
    """
    started = time.perf_counter()
    mine = code_digest()
    if mine != bundle.code_digest:
        raise BatchError(
            f"the worker on {socket.gethostname()} runs other grader code than the client "
            f"(digest {mine[:12]} vs {bundle.code_digest[:12]}): install the same version there"
        )
    worker = f"{socket.gethostname()}:{os.getpid()}"
    problem = notebook_problem(notebook)
    if problem is not None:
        result = zero_result(student, timestamp, problem)
        return Outcome(student, digest, MALFORMED, problem, result, worker=worker)
    base = scratch_base or default_scratch_base()
    (base / "tasks").mkdir(parents=True, exist_ok=True)
    base.chmod(0o711)
    (base / "tasks").chmod(0o711)
    software_hide, keep = software_layout()
    hide = (*software_hide, *bundle.hide, *extra_hide, str(base))
    with _slot(base) as uids:
        task = Path(tempfile.mkdtemp(prefix=f"{student}-", dir=base / "tasks"))
        try:
            task.chmod(0o711)
            request = Request(student, notebook, timestamp, digest, bundle, limits, known or {})
            outcome = _grade_in(task, request, uids, hide, keep)
        finally:
            shutil.rmtree(task, ignore_errors=True)
    outcome.seconds = time.perf_counter() - started
    outcome.worker = worker
    return outcome


@dataclass(frozen=True)
class Request:
    """The arguments of one task (see ``grade_isolated``)."""

    student: str
    notebook: bytes
    timestamp: str | None
    digest: str
    bundle: Bundle
    limits: Limits
    known: dict[str, Any]


def _scratch_course(private: Path, request: Request) -> Path:
    """The scratch course nbgrader grades in (root's, out of every sandbox's reach)."""
    course = private / "course"
    submitted = course / "submitted" / request.student / rubric.ASSIGNMENT_ID
    submitted.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(request.bundle.config, encoding="utf-8")
    (course / "gradebook.db").write_bytes(request.bundle.template_gradebook)
    (submitted / f"{rubric.NOTEBOOK_NAME}.ipynb").write_bytes(request.notebook)
    if request.timestamp:
        (submitted / "timestamp.txt").write_text(request.timestamp, encoding="utf-8")
    return course


def _clean_jobs(request: Request) -> tuple[list[cleanroom.FunctionJob], str | None]:
    """The clean-room jobs (extracted in the worker, from the source notebook it holds)."""
    submission = nbformat.reads(request.notebook.decode("utf-8"), as_version=4)
    source = nbformat.reads(request.bundle.source_notebook.decode("utf-8"), as_version=4)
    try:
        return cleanroom.build_jobs(submission, source), None
    except Exception as error:  # extraction of a pathological notebook: nothing to regrade
        return [], f"the clean room could not extract the functions ({error})"


def _run_notebook(
    course: Path,
    student: str,
    spec: JailSpec,
    spec_file: Path,
    kernel_dir: Path,
    uid: int | None,
    timeout: float,
) -> tuple[dict[str, Any], bool, float]:
    """nbgrader in this process, its kernel sandboxed, killed when ``timeout`` passes.

    Returns:
        (nbgrader's result, whether the time limit ended it, seconds).
    """
    from grader import kernelbox

    spec_file.write_text(spec.to_json(), encoding="utf-8")
    finished = threading.Event()
    timed_out = threading.Event()

    def watchdog() -> None:
        if finished.wait(timeout):
            return
        timed_out.set()
        while not finished.is_set():  # kill the kernel (and its namespace) until nbgrader ends
            found = Protections.read(Path(spec.status_file))
            if found is not None and found.process_group > 1:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(found.process_group, signal.SIGKILL)
            finished.wait(1.0)

    started = time.perf_counter()
    guard = threading.Thread(target=watchdog, name=f"watchdog-{student}", daemon=True)
    guard.start()
    try:
        result = kernelbox.autograde(course, student, spec_file, kernel_dir, uid)
    except Exception as error:  # nbgrader itself failed: the submission needs a person
        result = {"success": False, "log": "", "error": f"{type(error).__name__}: {error}"}
    finally:
        finished.set()
        guard.join()
    return result, timed_out.is_set(), time.perf_counter() - started


def _evidence_folder(base: Path, batch_id: str) -> Path:
    """This batch's shared evidence on this machine; other batches' older than a day go."""
    root = base / "evidence"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in root.iterdir():
        with contextlib.suppress(OSError):
            if old.name != batch_id and time.time() - old.stat().st_mtime > 86_400:
                shutil.rmtree(old, ignore_errors=True)
    return root / batch_id


class SharedEvidence:
    """Clean-room evidence shared by the worker processes of one machine in one batch.

    A program (``cleanroom.EvidenceCache.key``) is probed by the first task that claims
    it (an exclusive ``flock`` on ``<key>.lock``, held while it probes); a task that finds
    it claimed waits for the evidence rather than probing it a second time. Only evidence
    of a probe that ran to its end is kept (what ``grader.cleanjob`` reports as fresh).
    The folder is root's (or the grader's) alone: no sandbox sees it.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder = folder

    def get(self, key: str) -> dict[str, Any] | None:
        """The evidence of program ``key``, if a task has stored it."""
        try:
            found = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def put(self, key: str, evidence: dict[str, Any]) -> None:
        """Store the evidence of program ``key`` (atomically)."""
        temporary = self.folder / f".{key}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(evidence), encoding="utf-8")
        temporary.replace(self.folder / f"{key}.json")

    def claim(self, key: str) -> Any | None:
        """Claim program ``key`` (the returned handle holds the claim), or None if taken."""
        handle = (self.folder / f"{key}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        return handle

    def wait(self, key: str, deadline: float) -> dict[str, Any] | None:
        """The evidence of ``key`` once the task that claimed it is done (None: it failed)."""
        while time.monotonic() < deadline:
            handle = self.claim(key)
            if handle is not None:  # the other task is done (or died): its result, if any
                handle.close()
                return self.get(key)
            time.sleep(0.5)
        return None


def _clean_room(
    jobs: list[cleanroom.FunctionJob],
    keys: list[str],
    known: dict[str, Any],
    shared: SharedEvidence,
    spec: JailSpec,
    clean_dir: Path,
    private: Path,
    uid: int | None,
    limits: Limits,
) -> tuple[dict[str, Any], list[str], dict[str, Any], JailResult | None]:
    """Evidence for every job: known, shared on this machine, or probed here in a sandbox.

    Returns:
        (evidence per grade id, notes, fresh evidence per program key, the sandbox's run).
    """
    deadline = time.monotonic() + limits.timeout
    known = dict(known)
    mine: list[cleanroom.FunctionJob] = []
    waiting: list[tuple[cleanroom.FunctionJob, str]] = []
    claims = []
    for job, key in zip(jobs, keys, strict=True):
        found = known.get(key) or shared.get(key)
        if found is not None:
            known[key] = found
            continue
        handle = shared.claim(key)
        if handle is None:
            waiting.append((job, key))
            continue
        claims.append(handle)
        found = shared.get(key)  # stored between the look and the claim
        if found is not None:
            known[key] = found
        else:
            mine.append(job)
    notes: list[str] = []
    fresh: dict[str, Any] = {}
    probed: dict[str, Any] = {}  # per grade id, errors of probes that failed included
    run: JailResult | None = None
    try:
        if mine:
            run, probed, notes, fresh = _probe(mine, spec, clean_dir, private, uid, limits, "")
            for key, found in fresh.items():
                shared.put(key, found)
    finally:
        for handle in claims:
            handle.close()
    late = []
    for job, key in waiting:
        found = shared.wait(key, deadline)
        if found is None:
            late.append(job)
        else:
            known[key] = found
    if late:
        remaining = max(1.0, deadline - time.monotonic())
        late_limits = Limits(remaining, limits.memory_bytes, limits.file_bytes, limits.processes)
        run, late_probed, late_notes, late_fresh = _probe(
            late, spec, clean_dir, private, uid, late_limits, "late-"
        )
        probed.update(late_probed)
        notes += late_notes
        fresh.update(late_fresh)
    evidence: dict[str, Any] = {}
    for job, key in zip(jobs, keys, strict=True):
        stored = known.get(key) or {}
        for grade_id in job.grade_ids:
            if grade_id in stored:
                evidence[grade_id] = stored[grade_id]
            elif grade_id in probed:
                evidence[grade_id] = probed[grade_id]
    return evidence, notes, fresh, run


def _probe(
    jobs: list[cleanroom.FunctionJob],
    spec: JailSpec,
    clean_dir: Path,
    private: Path,
    uid: int | None,
    limits: Limits,
    prefix: str,
) -> tuple[JailResult, dict[str, Any], list[str], dict[str, Any]]:
    """Run ``grader.cleanjob`` on ``jobs`` in the clean-room sandbox."""
    payload = {
        "jobs": [job.to_json() for job in jobs],
        "known": {},
        "timeout": max(limits.timeout * 0.9, limits.timeout - 15),
    }
    job_file = f"{prefix}jobs.json"
    (clean_dir / job_file).write_text(json.dumps(payload), encoding="utf-8")
    _own(clean_dir, uid)
    command = [sys.executable, "-m", "grader.cleanjob", job_file, f"{prefix}evidence.json"]
    run = run_jailed(
        spec,
        command,
        limits.timeout,
        private / f"{prefix}clean.launcher.log",
        private / f"{prefix}clean.spec.json",
    )
    evidence, notes, fresh = _read_evidence(clean_dir / f"{prefix}evidence.json")
    return run, evidence, notes, fresh


def _grade_in(
    task: Path,
    request: Request,
    uids: tuple[int | None, int | None],
    hide: tuple[str, ...],
    keep: tuple[tuple[str, bool], ...],
) -> Outcome:
    """The body of ``grade_isolated`` inside the task's scratch folder."""
    student, limits = request.student, request.limits
    private, kernel_dir, clean_dir = task / "private", task / "kernel", task / "clean"
    private.mkdir(mode=0o700)
    for folder in ("home", "tmp", "run", "cwd"):
        (kernel_dir / folder).mkdir(parents=True)
    for folder in ("home", "tmp"):
        (clean_dir / folder).mkdir(parents=True)
    course = _scratch_course(private, request)
    jobs, extraction_note = _clean_jobs(request)
    keys = [cleanroom.EvidenceCache.key(job) for job in jobs]
    known = {key: request.known[key] for key in keys if key in request.known}
    _own(kernel_dir, uids[0])
    _own(clean_dir, uids[1])

    kernel_env = {**sandbox_environment(kernel_dir), "NBGRADER_EXECUTION": "autograde"}
    server = warm_kernels(task.parent.parent)
    kernel_spec = _jail(
        kernel_dir,
        kernel_dir / "cwd",
        uids[0],
        private,
        "kernel",
        limits,
        hide,
        keep,
        kernel_env,
        server,
    )
    shared = SharedEvidence(_evidence_folder(task.parent.parent, request.bundle.batch_id))
    clean_spec = _jail(
        clean_dir, clean_dir, uids[1], private, "clean", limits, hide, keep, None, server
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        clean_future = pool.submit(
            _clean_room, jobs, keys, known, shared, clean_spec, clean_dir, private, uids[1], limits
        )
        nbgrader, notebook_timed_out, notebook_seconds = _run_notebook(
            course,
            student,
            kernel_spec,
            private / "kernel.spec.json",
            kernel_dir,
            uids[0],
            limits.timeout,
        )
        evidence, notes, fresh, clean_run = clean_future.result()
    if extraction_note:
        notes.append(extraction_note)
    clean = cleanroom.judge_evidence(jobs, evidence, notes)

    log = (nbgrader.get("log") or "") + (nbgrader.get("error") or "")
    kernel_log = _read_tail(private / "kernel.log")
    clean_log = _read_tail(private / "clean.log") + _read_tail(clean_dir / "child.log")
    executed_file = course / "autograded" / student / rubric.ASSIGNMENT_ID
    executed = _read_small(executed_file / f"{rubric.NOTEBOOK_NAME}.ipynb", MAX_NOTEBOOK_BYTES)
    if executed is not None and notebook_problem(executed) is not None:
        executed = None
    scores = read_scores(course / "gradebook.db", student)
    tampered = gradebook_tampering(course / "gradebook.db", student)
    if (course / "nbgrader_config.py").read_bytes() != request.bundle.config.encode("utf-8"):
        tampered.insert(0, "nbgrader_config.py")

    status, reason = _classify(
        notebook_timed_out, clean_run, notes, log, executed, limits, kernel_log
    )
    clean_seconds = f"{clean_run.seconds:.1f} s" if clean_run else "all evidence known"
    text = (
        f"--- nbgrader ({notebook_seconds:.1f} s) ---\n{log}\n"
        f"--- kernel ---\n{kernel_log}\n"
        f"--- clean room ({clean_seconds}) ---\n{clean_log}\n"
    )
    protections = {
        "notebook": _protections(Protections.read(Path(kernel_spec.status_file))),
        "clean_room": _protections(clean_run.protections if clean_run else None),
    }
    if status is not None:
        result = zero_result(student, request.timestamp, f"{status}: {reason}", clean, text)
        return Outcome(
            student, request.digest, status, reason, result, executed, fresh, protections
        )

    error = None
    if not nbgrader.get("success") or executed is None:
        error = last_error(log) or "nbgrader could not run the notebook"
    result = SubmissionResult(student, scores, error, clean, None, request.timestamp, log=text)
    if tampered:
        result.reasons.append(
            "course files changed while this submission was graded (its scratch copy; the "
            "course itself was out of its reach): " + ", ".join(tampered)
        )
    status = NEEDS_REVIEW if result.review_reasons() else GRADED
    reason = "; ".join(result.review_reasons()) if status == NEEDS_REVIEW else None
    return Outcome(student, request.digest, status, reason, result, executed, fresh, protections)


def _protections(found: Protections | None) -> dict[str, Any]:
    if found is None:
        return {"network": "not run in a sandbox (nothing to run, or it failed to start)"}
    return {
        "network": found.network,
        "pid": found.pid,
        "mounts": found.mounts,
        "user": found.user,
        "limits": found.limits,
        "notes": found.notes,
    }


def zero_result(
    student: str,
    timestamp: str | None,
    why: str,
    clean: cleanroom.CleanRoomResult | None = None,
    log: str = "",
) -> SubmissionResult:
    """A result with 0 points in every grade cell, for a submission that could not be graded.

    ``why`` becomes the notebook error, so the gradebook marks the submission for manual
    grading and the review file and grades.csv give the reason. The clean room's verdicts,
    if any, are kept for the instructor; its scores are set to 0 too.
    """
    zeros = {cell.grade_id: 0.0 for cell in rubric.GRADE_CELLS}
    kept = clean or cleanroom.CleanRoomResult()
    clean_zero = cleanroom.CleanRoomResult(
        scores=dict(zeros), verdicts=kept.verdicts, notes=kept.notes, programs=kept.programs
    )
    return SubmissionResult(student, dict(zeros), why, clean_zero, None, timestamp, log=log)
