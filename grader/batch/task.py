"""Grade one submission in isolation: the unit of work of the batch grader (one Dask task).

``grade_isolated`` is a pure function of its arguments: the submission's bytes, the
release files every task shares (``Bundle``: the nbgrader configuration, the gradebook
without students, the source notebook) and the limits. It returns an ``Outcome`` that
pickles (scores per grade cell, the executed notebook's bytes, logs, status and reason)
and touches nothing outside a private scratch folder, so it runs on any Dask worker.

Two things happen at once, each with its learner code in sandboxes (``grader.jail``),
each sandbox in a folder of its own, owned by a user of its own when the worker runs as
root::

    <scratch>/tasks/task-XXXX/               root, 0711 (no name from the submission)
      kernel/    uid A, 0700: the notebook kernel's home/, tmp/, cwd/ and run/ (its
                 connection file and sockets)
      clean/     uid B, 0700: the maker's job (the extracted programs and the layers'
                 weights), home/, tmp/, the artefacts it writes
      judge/     uid C, 0700: the model judge's job (the artefacts and this batch's
                 inputs), its signed evidence
      private/   root, 0700: the scratch course (nbgrader_config.py, the gradebook without
                 students, submitted/<student>/...), sandbox specs, logs

- **The notebook run**: ``nbgrader autograde`` runs here, in the worker
  (``grader.kernelbox``); only its kernel is sandboxed, so the scratch gradebook and
  configuration are out of learner code's reach. Its executed notebook becomes the
  learner's feedback; its grade cells decide nothing.
- **The clean room** (``grader.cleanroom``): the graded functions, extracted here from
  the submission, are run by the maker (uid B), which records the models they make; the
  model judge (uid C, no learner code) runs those models on this batch's secret inputs
  and signs what they computed; the scores are judged here.

The kernel, the maker and the model judge start warm, forked from the worker's fork
server (``grader.forkserver``), and import their code from the sandboxes' own copy
(``grader.software``). The source notebook, the references, the judges and this batch's
secret never enter a sandbox. No sandbox sees another, other tasks, the course, the
submissions folder or the repository.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import fcntl
import hashlib
import json
import math
import os
import signal
import socket
import sqlite3
import stat
import subprocess
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
    alive,
    run_jailed,
    software_layout,
)
from grader.jail import ending as jail_ending
from grader.software import digest as software_digest
from grader.software import hidden_sources
from grader.software import install as install_software

GRADED = "graded"
NEEDS_REVIEW = "needs review"
TIMEOUT = "timeout"
CRASHED = "crashed"
MALFORMED = "malformed"
STATUSES: tuple[str, ...] = (GRADED, NEEDS_REVIEW, TIMEOUT, CRASHED, MALFORMED)
"""Every status a submission can end with, in the order the summary lists them."""

UID_BASE = 61000
"""First user id of the sandboxes (root only): slot k of a machine uses UID_BASE + 3k, 3k + 1
and 3k + 2 (the kernel, the maker, the model judge)."""

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
        processes: processes and threads of a sandbox's user (root only: RLIMIT_NPROC),
            and of each sandbox as a whole (root only: its cgroup's pids.max).
        scratch_bytes: size of the file system all sandboxes of one submission write to
            (a tmpfs of its own, root only): disk a submission can fill.
        sandbox_memory_bytes: memory of each sandbox as a whole, all its processes
            together (root only: its cgroup's memory limit; an out-of-memory kill in it
            ends the sandbox). None: ``memory_bytes``, so that ``--memory`` bounds a
            sandbox however many processes it starts.
    """

    timeout: float = 600.0
    memory_bytes: int = 4 * 2**30
    file_bytes: int = 2**30
    processes: int = 4096
    sandbox_memory_bytes: int | None = None
    scratch_bytes: int = 2 * 2**30

    @property
    def sandbox_memory(self) -> int:
        """Memory of each sandbox as a whole (``sandbox_memory_bytes`` or ``memory_bytes``)."""
        if self.sandbox_memory_bytes is not None:
            return self.sandbox_memory_bytes
        return self.memory_bytes

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
            "memory_bytes_per_sandbox": self.sandbox_memory,
            "file_bytes": self.file_bytes,
            "scratch_bytes_per_submission": self.scratch_bytes,
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
        secret_seed: the batch's secret (``grader.cleanroom.Secret``): its hidden-test cases
            and the model judge's signature key come from it; no sandbox receives it.
    """

    config: str
    template_gradebook: bytes
    source_notebook: bytes
    code_digest: str
    hide: tuple[str, ...] = ()
    batch_id: str = "default"
    secret_seed: int = 0


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
    "forkserver",
    "intake",
    "isolated",
    "jail",
    "kernelbox",
    "maker",
    "modelrun",
    "software",
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
    digest.update(f"sandbox software:{software_digest()}\n".encode())
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
    hold_base(base)
    software = install_software(base)
    folder = base / "forkservers"
    folder.mkdir(mode=0o700, exist_ok=True)
    home = folder / f"home-{os.getpid()}"
    for name in ("home", "tmp"):
        (home / name).mkdir(parents=True, exist_ok=True)
    return str(forkserver.start(folder, sandbox_environment(home, software)))


_HELD: dict[str, Any] = {}
"""The shared locks this process holds on scratch folders (see ``hold_base``)."""


def hold_base(base: Path) -> None:
    """Mark ``base`` as in use by this process until it ends (a shared ``flock``)."""
    if str(base) in _HELD:
        return
    handle = (base / ".in-use").open("a")
    fcntl.flock(handle, fcntl.LOCK_SH)
    _HELD[str(base)] = handle


def sweep(base: Path | None = None, wait: float = 0.0) -> None:
    """Remove what ended grading tasks and fork servers left in ``base``.

    When no process holds ``base`` (``hold_base``; waiting up to ``wait`` seconds for
    workers that are ending), all of it goes; otherwise the task folders no task holds
    (a killed worker's) and the files of fork servers that are no longer running.
    Removal never follows a link.
    """
    base = base or default_scratch_base()
    if not base.is_dir() or base.is_symlink():
        return
    deadline = time.monotonic() + wait
    tasks = base / "tasks"
    with (base / ".in-use").open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                break
            for task in _task_folders(tasks):  # a killed worker's task file systems
                _unmount(task)
            remove_tree(base)
            return
    for task in _task_folders(tasks):
        lock = tasks / f"{task.name}.held"
        with contextlib.suppress(OSError), lock.open("a") as held:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _unmount(task)
            remove_tree(task)
            lock.unlink(missing_ok=True)
    servers = base / "forkservers"
    for path in servers.iterdir() if servers.is_dir() else []:
        owner = path.name.split(".")[0].removeprefix("home-")
        if owner.isdigit() and not alive(int(owner)):
            remove_tree(path)


def _task_folders(tasks: Path) -> list[Path]:
    """The task folders under ``tasks`` (not their lock files, never a link)."""
    if not tasks.is_dir() or tasks.is_symlink():
        return []
    return [
        task
        for task in tasks.glob("task-*")
        if task.suffix != ".held" and not task.is_symlink() and task.is_dir()
    ]


MNT_DETACH = 2
"""``umount2`` flag: detach the file system now, free it when it is no longer busy."""


def _mount_scratch(task: Path, size: int) -> str:
    """Put ``task`` on a file system of its own of ``size`` bytes (root only); what it got.

    Everything the sandboxes of one submission write lands there, so a submission that
    fills its disk fills only its own tmpfs (whose pages count against its sandboxes'
    memory), never the machine's disk that other submissions share.
    """
    if os.geteuid() != 0:
        return "on the machine's disk: not root"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    flags = 0x2 | 0x4  # MS_NOSUID | MS_NODEV
    options = f"size={size},mode=0711".encode()
    if libc.mount(b"tmpfs", str(task).encode(), b"tmpfs", flags, options) != 0:
        return f"on the machine's disk: mount refused ({os.strerror(ctypes.get_errno())})"
    return f"a tmpfs of its own, {size / 2**30:g} GiB"


def _unmount(task: Path) -> None:
    """Detach the file system ``_mount_scratch`` put on ``task``, if any."""
    if os.geteuid() == 0 and os.path.ismount(task):
        ctypes.CDLL(None, use_errno=True).umount2(str(task).encode(), MNT_DETACH)


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything under it, never following a link, however deep.

    A sandbox may leave a tree thousands of folders deep (Python's ``shutil.rmtree``
    recurses and gives up) or links to places outside: GNU ``rm`` walks it without
    recursion, stays on its file system and removes links, not what they point to.
    """
    if not os.path.lexists(path):
        return
    subprocess.run(
        ["rm", "-rf", "--one-file-system", "--", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def warm_kernels(base: Path) -> str | None:
    """The socket of this worker's fork server once it is ready (None: kernels start cold)."""
    from grader import forkserver

    if os.environ.get("JAZZ_GRADER_COLD_KERNELS"):
        return None
    path = start_warm_kernels(base)
    return path if forkserver.ready(Path(path)) else None


@contextlib.contextmanager
def _slot(base: Path) -> Iterator[tuple[int | None, int | None, int | None]]:
    """Hold a sandbox slot of this machine: its three user ids (all None when not root)."""
    if os.geteuid() != 0:
        yield None, None, None
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
            first = UID_BASE + 3 * number
            yield first, first + 1, first + 2
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise BatchError(f"all {SLOTS} sandbox slots of {socket.gethostname()} are in use")


def sandbox_environment(folder: Path, software: Path) -> dict[str, str]:
    """The whole environment of a sandbox whose home is under ``folder`` (an allow-list).

    Its own code comes from ``software`` (``grader.software``), first on its path.
    """
    interpreter_bin = str(Path(sys.executable).parent)
    return {
        "PYTHONPATH": str(software),
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
    """A file a sandbox wrote, if it is a plain file (never a link) of at most ``limit`` bytes."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        found = os.fstat(descriptor)
        if not stat.S_ISREG(found.st_mode) or found.st_size > limit:
            return None  # a folder, a pipe, a device planted where a result belongs
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    return data if len(data) <= limit else None


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
        group_memory_bytes=limits.sandbox_memory,
        group_processes=limits.processes,
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
    hold_base(base)
    software_hide, keep = software_layout()
    sources = hidden_sources()
    keep = tuple((path, ro) for path, ro in keep if path not in sources)
    hide = (*software_hide, *sources, *bundle.hide, *extra_hide, str(base))
    with _slot(base) as uids:
        task = Path(tempfile.mkdtemp(prefix="task-", dir=base / "tasks"))
        held = (base / "tasks" / f"{task.name}.held").open("w")
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            scratch = _mount_scratch(task, limits.scratch_bytes)
            task.chmod(0o711)
            request = Request(student, notebook, timestamp, digest, bundle, limits, known or {})
            outcome = _grade_in(task, request, uids, hide, keep)
            outcome.protections["scratch"] = scratch
        finally:
            _unmount(task)
            remove_tree(task)
            Path(held.name).unlink(missing_ok=True)
            held.close()
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
                remove_tree(old)
    return root / batch_id


class SharedEvidence:
    """Clean-room evidence shared by the worker processes of one machine in one batch.

    A program (``cleanroom.EvidenceCache.key``) is probed by the first task that claims
    it (an exclusive ``flock`` on ``<key>.lock``, held while it probes); a task that finds
    it claimed waits for the evidence rather than probing it a second time. Only evidence
    of a clean room that went well is kept, under a key the grader computed.
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


@dataclass
class CleanRun:
    """What the clean room's two sandboxes gave for one submission.

    Attributes:
        evidence: per grade id, in the shape ``grader.judges`` reads.
        notes: what went wrong (each makes the submission "needs review").
        fresh: the evidence under its program key when it may be reused (nothing went wrong).
        maker: the maker sandbox's run (None: the evidence was known).
        judge: the model judge sandbox's run (None: not needed or known).
    """

    evidence: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    fresh: dict[str, Any] = field(default_factory=dict)
    maker: JailResult | None = None
    judge: JailResult | None = None


def _clean_room(
    jobs: list[cleanroom.FunctionJob],
    key: str,
    known: dict[str, Any],
    shared: SharedEvidence,
    specs: tuple[JailSpec, JailSpec],
    folders: tuple[Path, Path, Path],
    uids: tuple[int | None, int | None],
    limits: Limits,
    secret: cleanroom.Secret,
) -> CleanRun:
    """Evidence for every grade cell: known in this batch, or made and judged here.

    ``key`` is the grader's digest of the submission's programs (``cleanroom.program_key``);
    a submission with the same programs claimed first is waited for, not run twice.
    ``specs`` are the maker's and the model judge's sandboxes, ``folders`` their working
    folders and the task's private folder, ``uids`` their users.
    """
    deadline = time.monotonic() + limits.timeout
    found = known.get(key) or shared.get(key)
    if found is not None:
        return CleanRun(found)
    handle = shared.claim(key)
    if handle is None:
        found = shared.wait(key, deadline)
        if found is not None:
            return CleanRun(found)
        handle = shared.claim(key)
    try:
        found = shared.get(key)  # stored between the look and the claim
        if found is not None:
            return CleanRun(found)
        run = _make_and_judge(jobs, specs, folders, uids, limits, secret, deadline)
        if not run.notes:
            shared.put(key, run.evidence)
            run.fresh = {key: run.evidence}
        return run
    finally:
        if handle is not None:
            handle.close()


def _read_json(path: Path, limit: int) -> Any:
    """A JSON file a sandbox wrote (a plain file of at most ``limit`` bytes), or None."""
    data = _read_small(path, limit)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _make_and_judge(
    jobs: list[cleanroom.FunctionJob],
    specs: tuple[JailSpec, JailSpec],
    folders: tuple[Path, Path, Path],
    uids: tuple[int | None, int | None],
    limits: Limits,
    secret: cleanroom.Secret,
    deadline: float,
) -> CleanRun:
    """Run the maker on the learner's functions, then the model judge on what they made."""
    from grader.maker import ARTEFACT_LIMIT, plain_evidence
    from grader.modelrun import LAMBDA

    maker_spec, judge_spec = specs
    clean_dir, judge_dir, private = folders
    notes: list[str] = []
    request = cleanroom.maker_request(jobs, secret)
    (clean_dir / "job.json").write_text(json.dumps(request), encoding="utf-8")
    _own(clean_dir, uids[0])
    seconds = max(1.0, deadline - time.monotonic())
    command = [sys.executable, "-m", "grader.maker", "job.json", f"{max(1.0, seconds - 5):.0f}"]
    maker = run_jailed(
        maker_spec, command, seconds, private / "maker.launcher.log", private / "maker.spec.json"
    )
    if maker.timed_out:
        notes.append(f"the clean room ran past {limits.timeout:.0f} s")
    elif maker.returncode != 0:
        notes.append(f"the clean room's maker ended oddly ({_ending(maker.returncode)})")
    owners = cleanroom.case_owners(secret)
    model_artefacts: dict[str, Any] = {}
    samples: Any = {"error": "no result"}
    for index, job in enumerate(jobs):
        written = _read_json(clean_dir / f"artefacts-{index}.json", ARTEFACT_LIMIT)
        made = written.get("artefacts") if isinstance(written, dict) else None
        if not isinstance(made, dict) or written.get("function") != job.function:
            notes.append(f"{job.function}: the clean room wrote no readable result")
            continue
        for case, artefact in made.items():
            if owners.get(case) == job.function:
                model_artefacts[case] = artefact
        if job.function == "predict_and_sample":
            samples = made.get("sampling", samples)
    judged = {case: plain_evidence(a) for case, a in model_artefacts.items()}
    to_run = {case: a for case, a in model_artefacts.items() if judged[case] is None}
    judge: JailResult | None = None
    if to_run:
        (judge_dir / "job.json").write_text(
            json.dumps(cleanroom.judge_request(to_run, secret)), encoding="utf-8"
        )
        _own(judge_dir, uids[1])
        seconds = max(1.0, deadline - time.monotonic())
        judge = run_jailed(
            judge_spec,
            [sys.executable, "-m", "grader.modelrun", "job.json", "evidence.json"],
            seconds,
            private / "judge.launcher.log",
            private / "judge.spec.json",
        )
        verified = cleanroom.verify(_read_json(judge_dir / "evidence.json", 50_000_000), secret)
        if verified is None:
            how = "ran out of time" if judge.timed_out else _ending(judge.returncode)
            notes.append(f"the model judge gave no signed result ({how})")
            verified = {}
        for case in to_run:
            judged[case] = verified.get(case, {"error": "the model could not be judged"})
        lambdas = sorted(
            {
                owners[c]
                for c, found in judged.items()
                if isinstance(found, dict) and LAMBDA in str(found.get("error", ""))
            }
        )
        notes.extend(
            f"{function}: its model holds a Lambda layer, which the grader does not run "
            "(scored 0 there): look at it by hand"
            for function in lambdas
        )
    evidence = cleanroom.assemble(judged, samples, secret.cases())
    return CleanRun(evidence, notes, {}, maker, judge)


def _diagnose(
    jobs: list[cleanroom.FunctionJob],
    functions: list[str],
    maker_spec: JailSpec,
    task: Path,
    uid: int | None,
    limits: Limits,
) -> dict[str, str]:
    """What the public checks say of the functions that lost points (feedback, not scores).

    A second, short maker run in a fresh folder (the first one's folder was the learner's
    to fill); only for submissions that lost points, so a correct one pays nothing.
    """
    from grader.maker import ARTEFACT_LIMIT

    wanted = [job for job in jobs if job.function in functions]
    if not wanted:
        return {}
    folder = task / "diagnose"
    for name in ("home", "tmp"):
        (folder / name).mkdir(parents=True)
    request = {
        "functions": [
            {"function": job.function, "blocks": list(job.blocks), "diagnose": True}
            for job in wanted
        ]
    }
    (folder / "job.json").write_text(json.dumps(request), encoding="utf-8")
    _own(folder, uid)
    private = task / "private"
    spec = dataclasses.replace(
        maker_spec,
        workdir=str(folder),
        cwd=str(folder),
        env={**maker_spec.env, "HOME": str(folder / "home"), "TMPDIR": str(folder / "tmp")},
        status_file=str(private / "diagnose.status.json"),
        output=str(private / "diagnose.log"),
    )
    seconds = min(60.0, limits.timeout)
    command = [sys.executable, "-m", "grader.maker", "job.json", f"{seconds - 5:.0f}"]
    run_jailed(spec, command, seconds, private / "diagnose.launcher.log", private / "d.spec.json")
    found = {}
    for index, job in enumerate(wanted):
        written = _read_json(folder / f"artefacts-{index}.json", ARTEFACT_LIMIT)
        made = written.get("artefacts") if isinstance(written, dict) else None
        text = made.get("diagnosis") if isinstance(made, dict) else None
        if isinstance(text, str) and text:
            found[job.function] = text[:1500]
    return found


def _ending(code: int | None) -> str:
    if code is None:
        return "no exit status"
    return jail_ending(code)


def _grade_in(
    task: Path,
    request: Request,
    uids: tuple[int | None, int | None, int | None],
    hide: tuple[str, ...],
    keep: tuple[tuple[str, bool], ...],
) -> Outcome:
    """The body of ``grade_isolated`` inside the task's scratch folder."""
    student, limits = request.student, request.limits
    secret = cleanroom.Secret(request.bundle.secret_seed)
    private, kernel_dir = task / "private", task / "kernel"
    clean_dir, judge_dir = task / "clean", task / "judge"
    private.mkdir(mode=0o700)
    for folder in ("home", "tmp", "run", "cwd"):
        (kernel_dir / folder).mkdir(parents=True)
    for sandbox in (clean_dir, judge_dir):
        for folder in ("home", "tmp"):
            (sandbox / folder).mkdir(parents=True)
    course = _scratch_course(private, request)
    jobs, extraction_note = _clean_jobs(request)
    key = cleanroom.program_key(jobs, secret)
    known = {key: request.known[key]} if key in request.known else {}
    _own(kernel_dir, uids[0])
    _own(clean_dir, uids[1])
    _own(judge_dir, uids[2])

    base = task.parent.parent
    software = install_software(base)
    keep = (*keep, (str(software), True))
    kernel_env = {
        **sandbox_environment(kernel_dir, software),
        "NBGRADER_EXECUTION": "autograde",
    }
    server = warm_kernels(base)
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
    shared = SharedEvidence(_evidence_folder(base, request.bundle.batch_id))
    maker_env = {**sandbox_environment(clean_dir, software), "NBGRADER_EXECUTION": "autograde"}
    maker_spec = _jail(
        clean_dir, clean_dir, uids[1], private, "clean", limits, hide, keep, maker_env, server
    )
    judge_env = sandbox_environment(judge_dir, software)
    judge_spec = _jail(
        judge_dir, judge_dir, uids[2], private, "judge", limits, hide, keep, judge_env, server
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        clean_future = pool.submit(
            _clean_room,
            jobs,
            key,
            known,
            shared,
            (maker_spec, judge_spec),
            (clean_dir, judge_dir, private),
            (uids[1], uids[2]),
            limits,
            secret,
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
        clean_run: CleanRun = clean_future.result()
    notes = list(clean_run.notes)
    if extraction_note:
        notes.append(extraction_note)
    clean = cleanroom.judge_evidence(jobs, clean_run.evidence, notes, secret.cases())
    if not notes and not notebook_timed_out:
        clean.diagnoses = _diagnose(jobs, clean.lost_points(), maker_spec, task, uids[1], limits)

    log = (nbgrader.get("log") or "") + (nbgrader.get("error") or "")
    kernel_log = _read_tail(private / "kernel.log")
    clean_log = _read_tail(private / "clean.log") + _read_tail(private / "judge.log")
    executed_file = course / "autograded" / student / rubric.ASSIGNMENT_ID
    executed = _read_small(executed_file / f"{rubric.NOTEBOOK_NAME}.ipynb", MAX_NOTEBOOK_BYTES)
    if executed is not None and notebook_problem(executed) is not None:
        executed = None
    if executed is not None:
        executed = with_verdicts(executed, clean)
    tampered = gradebook_tampering(course / "gradebook.db", student)
    if (course / "nbgrader_config.py").read_bytes() != request.bundle.config.encode("utf-8"):
        tampered.insert(0, "nbgrader_config.py")

    status, reason = _classify(
        notebook_timed_out, clean_run.maker, notes, log, executed, limits, kernel_log
    )
    clean_seconds = "all evidence known"
    if clean_run.maker:
        judge = f"{clean_run.judge.seconds:.1f} s" if clean_run.judge else "not needed"
        clean_seconds = f"maker {clean_run.maker.seconds:.1f} s, model judge {judge}"
    text = (
        f"--- nbgrader ({notebook_seconds:.1f} s) ---\n{log}\n"
        f"--- kernel ---\n{kernel_log}\n"
        f"--- clean room ({clean_seconds}) ---\n{clean_log}\n"
    )
    protections = {
        "notebook": _protections(Protections.read(Path(kernel_spec.status_file))),
        "clean_room": _protections(clean_run.maker.protections if clean_run.maker else None),
        "model_judge": _protections(clean_run.judge.protections if clean_run.judge else None),
    }
    fresh = clean_run.fresh
    if status is not None:
        result = zero_result(student, request.timestamp, f"{status}: {reason}", clean, text)
        return Outcome(
            student, request.digest, status, reason, result, executed, fresh, protections
        )

    error = None
    if not nbgrader.get("success") or executed is None:
        error = last_error(log) or "nbgrader could not run the notebook"
    result = SubmissionResult(student, error, clean, None, request.timestamp, log=text)
    if tampered:
        result.reasons.append(
            "course files changed while this submission was graded (its scratch copy; the "
            "course itself was out of its reach): " + ", ".join(tampered)
        )
    status = NEEDS_REVIEW if result.review_reasons() else GRADED
    reason = "; ".join(result.review_reasons()) if status == NEEDS_REVIEW else None
    return Outcome(student, request.digest, status, reason, result, executed, fresh, protections)


def with_verdicts(executed: bytes, clean: cleanroom.CleanRoomResult) -> bytes:
    """The executed notebook with each grade cell's output replaced by its judged rubric.

    The learner's feedback then says, check by check, what their functions did and what
    each failed check found (the grade cells in the notebook only say where grading
    happens). Notebooks that cannot be read are returned as they are.
    """
    try:
        notebook = json.loads(executed)
        for cell in notebook.get("cells", []):
            grade_id = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")
            verdict = clean.verdicts.get(grade_id) if isinstance(grade_id, str) else None
            if cell.get("cell_type") != "code" or verdict is None:
                continue
            text = clean.report(grade_id) + "\n"
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
        return json.dumps(notebook, indent=1).encode("utf-8")
    except (ValueError, AttributeError, TypeError):
        return executed


def _protections(found: Protections | None) -> dict[str, Any]:
    if found is None:
        return {"network": "not run in a sandbox (nothing to run, or it failed to start)"}
    return {
        "network": found.network,
        "pid": found.pid,
        "mounts": found.mounts,
        "ipc": found.ipc,
        "user": found.user,
        "limits": found.limits,
        "cgroup": found.cgroup,
        "privileges": found.privileges,
        "seccomp": found.seccomp,
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
        scores=zeros, verdicts=kept.verdicts, notes=kept.notes, programs=kept.programs
    )
    return SubmissionResult(student, why, clean_zero, None, timestamp, log=log)
