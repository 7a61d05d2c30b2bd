"""The class of the batch tests, graded in three runs (the session fixture ``klass``).

The runs, each through ``python -m grader autograde`` as an
instructor would run it:

- **A**, through a real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1
  (one of them killed mid-batch, a fresh one started in its place): a class with every
  accepted layout (nbgrader's ``submitted/``, an LMS zip, ``<id>.ipynb``), an infinite
  loop, a memory hog, a kernel that kills itself, broken JSON, a zip without a notebook
  and a submission that tries to read the gradebook, the source notebook, the solutions
  and another student's work;
- **B**, on a local cluster of one worker, interrupted (SIGINT) after its first result: one
  submission changed since A, one new;
- **C**, the same command again: it finishes B's work and re-runs nothing else.

tests/grader/test_batch.py reads what each run left (``Class``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
from catalogue import NOTEBOOK, SOURCE, build_mutant, mutants

from grader.sandbox.scratch import UID_BASE, default_scratch_base

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 75
MEMORY = "3GiB"
HONEST = ("ann", "ben", "cid")
"""Students whose submissions are honest attempts: their scores must equal plain nbgrader's."""

LOOP = "while True:\n    pass\n"
HOG = "hog = []\nwhile True:\n    hog.append(bytearray(100_000_000))\n"
KILL = "import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGKILL)\n"
PEEK = """\
import json
import os
import socket
from pathlib import Path

TARGETS = {targets}
seen = {{}}
for _name, _path in TARGETS.items():
    try:
        seen[_name] = "READ %d bytes" % len(Path(_path).read_bytes())
    except Exception as _error:
        seen[_name] = "blocked: " + type(_error).__name__
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=2):
        seen["scheduler"] = "CONNECTED"
except OSError as _error:
    seen["scheduler"] = "blocked: " + type(_error).__name__
seen["processes"] = len([p for p in os.listdir("/proc") if p.isdigit()])
seen["uid"] = os.getuid()
for _module in (
    "grader.reference",
    "grader.judges",
    "grader.probes",
    "grader.cleanroom.evidence",
    "grader.cleanroom.run",
):
    try:
        __import__(_module)
        seen[_module] = "IMPORTED"
    except ImportError as _error:
        seen[_module] = "blocked: " + type(_error).__name__
import grader as run_grader
import jazz_utils as _jazz_utils
seen["code"] = [str(Path(run_grader.__file__).parent), str(Path(_jazz_utils.__file__).parent)]
print("ISOLATION " + json.dumps(seen))
"""


def _insert_after_imports(notebook: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    changed = copy.deepcopy(notebook)
    for index, cell in enumerate(changed.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "imports":
            changed.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
            return changed
    raise AssertionError("the release has no imports cell")


def run_grader(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-5000:]
    return done


def _autograde(klass: Class, *engine: str) -> list[str]:
    """The arguments of ``python -m grader autograde`` for the class, on ``engine``."""
    return [
        "autograde",
        "--course",
        str(klass.course),
        "--submissions",
        str(klass.submissions),
        *engine,
        "--timeout",
        str(TIMEOUT_S),
        "--memory",
        MEMORY,
        "--no-feedback",
    ]


def gradebook_scores(course: Path) -> dict[str, dict[str, float]]:
    """Per student, the auto score of each grade cell in a course's gradebook."""
    query = (
        "SELECT submitted_assignment.student_id, base_cell.name, grade.auto_score FROM grade "
        "JOIN base_cell ON grade.cell_id = base_cell.id "
        "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id"
    )
    found: dict[str, dict[str, float]] = {}
    with contextlib.closing(sqlite3.connect(course / "gradebook.db")) as db:
        for student, cell, score in db.execute(query):
            found.setdefault(student, {})[cell] = score
    return found


# --- a Dask cluster of separate processes on loopback ----------------------------------


@dataclass
class Cluster:
    """A ``dask scheduler`` and its ``dask worker`` processes, all on 127.0.0.1."""

    folder: Path
    port: int = 0
    scheduler: subprocess.Popen[bytes] | None = None
    address: str = ""
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> None:
        """Start the scheduler (on ``port``; 0: the system chooses) and two workers."""
        info = self.folder / "scheduler.json"
        self.scheduler = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-dashboard",
                "--scheduler-file",
                str(info),
            ],
            stdout=(self.folder / "scheduler.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        self.address = json.loads(info.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            self.add_worker()

    def add_worker(self) -> subprocess.Popen[bytes]:
        """One more single-threaded worker process, without a nanny (a kill is final)."""
        number = len(self.workers)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                self.address,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--name",
                f"worker-{number}",
                "--local-directory",
                str(self.folder / f"w{number}"),
            ],
            stdout=(self.folder / f"worker-{number}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        """End every process of the cluster."""
        for process in [*self.workers, self.scheduler]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            if process is not None:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


def _grading_descendants(pid: int) -> list[psutil.Process]:
    """The sandbox processes a worker started (its sandbox launchers and below)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [
        c for c in children if _cmdline(c) and "grader.sandbox.launcher" in " ".join(_cmdline(c))
    ]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


# --- the class ------------------------------------------------------------------------


@dataclass
class Class:
    """The released course, the submissions and what each batch run left."""

    course: Path
    submissions: Path
    release: nbformat.NotebookNode
    killed: dict[str, Any] = field(default_factory=dict)
    output_a: str = ""
    report_a: dict[str, Any] = field(default_factory=dict)
    scores_a: dict[str, dict[str, float]] = field(default_factory=dict)
    state_a: dict[str, Any] = field(default_factory=dict)
    output_b: str = ""
    report_b: dict[str, Any] = field(default_factory=dict)
    output_c: str = ""
    report_c: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)


def _write_class(work: Path, course: Path, release: nbformat.NotebookNode, port: int) -> Path:
    """The submissions of run A, in every layout the grader accepts."""
    source = nbformat.read(SOURCE, as_version=4)
    by_name = {m.name: m for m in mutants()}
    folder = work / "submissions"
    folder.mkdir()
    # ann: nbgrader's submitted/ layout with a timestamp
    ann = folder / "ann" / "jazz_solo"
    ann.mkdir(parents=True)
    nbformat.write(build_mutant(by_name["solution"], source, release), ann / NOTEBOOK)
    (ann / "timestamp.txt").write_text("2026-05-01 09:30:00.000000 UTC")
    # ben: an LMS zip download, the notebook in a folder inside
    ben = nbformat.writes(build_mutant(by_name["state_reset"], source, release))
    with zipfile.ZipFile(folder / "ben.zip", "w") as archive:
        archive.writestr(f"submission/{NOTEBOOK}", ben)
        archive.writestr("__MACOSX/._junk", "x")
    # cid: one notebook named after the student
    nbformat.write(build_mutant(by_name["untouched"], source, release), folder / "cid.ipynb")
    nbformat.write(_insert_after_imports(release, LOOP), folder / "dan.ipynb")
    nbformat.write(_insert_after_imports(release, HOG), folder / "eve.ipynb")
    nbformat.write(_insert_after_imports(release, KILL), folder / "fay.ipynb")
    (folder / "gus.ipynb").write_text('{"cells": [ this is not JSON')
    with zipfile.ZipFile(folder / "hal.zip", "w") as archive:
        archive.writestr("README.txt", "forgot the notebook")
    targets = {
        "gradebook": str(course / "gradebook.db"),
        "source notebook": str(course / "source" / "jazz_solo" / NOTEBOOK),
        "solutions": str(SOURCE),
        "other submission": str(ann / NOTEBOOK),
        "other submitted copy": str(course / "submitted" / "ann" / "jazz_solo" / NOTEBOOK),
        "references": str(ROOT / "grader" / "reference.py"),
        "installed hidden tests": str(ROOT / "grader" / "hidden.py"),
    }
    peek = PEEK.format(targets=json.dumps(targets, indent=4), port=port)
    nbformat.write(_insert_after_imports(release, peek), folder / "ivy.ipynb")
    return folder


def _run_a(klass: Class, work: Path, port: int) -> None:
    """Run A through a scheduler on ``port`` and two workers; kill the first worker that grades."""
    cluster = Cluster(work / "cluster", port)
    cluster.folder.mkdir()
    cluster.start()
    started = time.perf_counter()
    command = [sys.executable, "-m", "grader", *_autograde(klass, "--scheduler", cluster.address)]
    try:
        batch = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        victim, sandboxes = _wait_for_work(cluster, batch)
        names = {_student_of(p) for p in sandboxes}
        klass.killed = {"pid": victim.pid, "students": sorted(n for n in names if n)}
        victim.kill()
        victim.wait()
        time.sleep(3)
        klass.killed["orphans"] = [p.pid for p in sandboxes if _alive(p)]
        cluster.add_worker()
        klass.output_a, _ = batch.communicate(timeout=1500)
        assert batch.returncode == 0, klass.output_a[-5000:]
    finally:
        cluster.stop()
    klass.seconds["run A"] = time.perf_counter() - started
    klass.report_a = json.loads((klass.course / "report.json").read_text())
    klass.scores_a = gradebook_scores(klass.course)
    klass.state_a = json.loads((klass.course / ".batch" / "state.json").read_text())


def _wait_for_work(
    cluster: Cluster, batch: subprocess.Popen[str]
) -> tuple[subprocess.Popen[bytes], list[psutil.Process]]:
    """The first worker whose sandbox has run for a few seconds, and its sandbox processes."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert batch.poll() is None, batch.communicate()[0][-5000:]
        for worker in cluster.workers:
            sandboxes = _grading_descendants(worker.pid)
            if sandboxes and time.time() - min(p.create_time() for p in sandboxes) > 4:
                return worker, psutil.Process(worker.pid).children(recursive=True)
        time.sleep(0.5)
    raise AssertionError("no worker started grading within 300 s")


def _student_of(process: psutil.Process) -> str | None:
    """The student a sandbox launcher works for (its task's scratch course names them)."""
    arguments = _cmdline(process)
    if "grader.sandbox.launcher" not in arguments:
        return None
    spec = Path(arguments[arguments.index("grader.sandbox.launcher") + 1])
    with contextlib.suppress(OSError):
        return next((spec.parent / "course" / "submitted").iterdir()).name
    return None


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _run_b_interrupted(klass: Class) -> None:
    """Change cid, add jon, start the batch on a local cluster and interrupt it after one result."""
    source = nbformat.read(SOURCE, as_version=4)
    by_name = {m.name: m for m in mutants()}
    changed = build_mutant(by_name["feeds_x0"], source, klass.release)
    nbformat.write(changed, klass.submissions / "cid.ipynb")
    newcomer = build_mutant(by_name["argmax_axis_sample"], source, klass.release)
    nbformat.write(newcomer, klass.submissions / "jon.ipynb")
    state = klass.course / ".batch" / "state.json"
    before = json.loads(state.read_text())["students"]
    started = time.perf_counter()
    batch = subprocess.Popen(
        # one worker, one submission at a time: the interrupt lands between the two
        [sys.executable, "-m", "grader", *_autograde(klass, "--workers", "1")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and batch.poll() is None:
        now = json.loads(state.read_text())["students"]
        if any(now.get(s) != before.get(s) for s in ("cid", "jon")):
            break
        time.sleep(0.3)
    assert batch.poll() is None, "the batch finished before it could be interrupted"
    batch.send_signal(signal.SIGINT)
    klass.output_b, _ = batch.communicate(timeout=120)
    klass.seconds["run B"] = time.perf_counter() - started
    klass.report_b = json.loads((klass.course / "report.json").read_text())


def grade_class(work: Path) -> Class:
    """Release a course in ``work``, then runs A, B (interrupted) and C."""
    course = work / "course"
    started = time.perf_counter()
    run_grader(
        "release",
        "--course",
        str(course),
        "--solutions",
        str(ROOT / "solutions"),
        "--notebooks",
        str(work / "notebooks"),
    )
    release = nbformat.read(work / "notebooks" / NOTEBOOK, as_version=4)
    result = Class(course, work / "submissions", release)
    result.seconds["release"] = time.perf_counter() - started
    port = _free_port()  # the scheduler's: the peeking submission tries to reach it
    _write_class(work, course, release, port)
    _run_a(result, work, port)
    _run_b_interrupted(result)
    started = time.perf_counter()
    result.output_c = run_grader(*_autograde(result, "--workers", "2")).stdout
    result.seconds["run C"] = time.perf_counter() - started
    result.report_c = json.loads((course / "report.json").read_text())
    result.leftovers = _leftovers()
    print("batch test timings:", {k: round(v, 1) for k, v in result.seconds.items()})
    return result


def _leftovers() -> list[str]:
    """What grading left on this machine: its scratch folder, sandbox users' processes."""
    found = [str(default_scratch_base())] if default_scratch_base().exists() else []
    for process in psutil.process_iter(["uids", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if process.info["uids"] and process.info["uids"].real >= UID_BASE:
                found.append(f"process {process.pid}: {process.info['cmdline']}")
    return found


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rows_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return report["students"]
