"""Batch grading on dask.distributed (``grader.batch``): parallel, isolated, resumable.

Three batch runs share the work, each through ``python -m grader autograde`` as an
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

The scores of A are compared with plain serial ``nbgrader autograde`` of the same
submissions in a copy of the course.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
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
import pytest
from catalogue import NOTEBOOK, SOURCE, build_mutant, mutants

from grader.batch.intake import discover, notebook_problem
from grader.batch.task import read_scores
from grader.errors import BatchError
from grader.sandbox.limits import Limits
from grader.sandbox.mounts import software_layout
from grader.sandbox.scratch import UID_BASE, default_scratch_base
from grader.sandbox.software import SYSTEM_FOLDERS, hidden_sources

ROOT = Path(__file__).resolve().parent.parent
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
import grader as _grader
import jazz_utils as _jazz_utils
seen["code"] = [str(Path(_grader.__file__).parent), str(Path(_jazz_utils.__file__).parent)]
print("ISOLATION " + json.dumps(seen))
"""


def _insert_after_imports(notebook: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    changed = copy.deepcopy(notebook)
    for index, cell in enumerate(changed.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "imports":
            changed.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
            return changed
    raise AssertionError("the release has no imports cell")


def _grader(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
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


def _gradebook_scores(course: Path) -> dict[str, dict[str, float]]:
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
    klass.scores_a = _gradebook_scores(klass.course)
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


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Class:
    """Release a course, then runs A, B (interrupted) and C."""
    work = tmp_path_factory.mktemp("batch")
    course = work / "course"
    started = time.perf_counter()
    _grader(
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
    result.output_c = _grader(*_autograde(result, "--workers", "2")).stdout
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


def test_nothing_of_the_batches_is_left_on_the_machine(klass: Class) -> None:
    """Run A's worker was killed mid-task; runs B and C swept what it left, then their own."""
    assert klass.leftovers == []


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return report["students"]


# --- run A: statuses, isolation, engine ------------------------------------------------


def test_every_student_has_a_row_with_the_right_status(klass: Class) -> None:
    rows = _rows(klass.report_a)
    expected = {
        "ann": "graded",
        "ben": "graded",
        "cid": "graded",
        "dan": "timeout",
        "eve": "crashed",
        "fay": "crashed",
        "gus": "malformed",
        "hal": "malformed",
        "ivy": "graded",
    }
    assert {s: r["status"] for s, r in rows.items()} == expected
    assert rows["ann"]["score"] == 25 and rows["ben"]["score"] == 21 and rows["cid"]["score"] == 0
    assert "time limit" in rows["dan"]["reason"]
    assert "memory" in rows["eve"]["reason"]
    assert "kernel died" in rows["fay"]["reason"]
    assert "not a readable notebook" in rows["gus"]["reason"]
    assert "holds no notebook" in rows["hal"]["reason"]
    for student in ("dan", "eve", "fay", "gus", "hal"):
        assert rows[student]["score"] == 0 and rows[student]["needs_review"]


def test_grades_csv_and_reviews_carry_status_and_reason(klass: Class) -> None:
    import csv

    with (klass.course / "grades.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(_rows(klass.report_c))
    assert rows["dan"]["needs_review"] == "yes" and "timeout" in rows["dan"]["review_reason"]
    assert rows["ann"]["score"] == "25" and rows["ann"]["needs_review"] == "no"
    review = json.loads((klass.course / "reviews" / "fay.json").read_text())
    assert review["status"] == "crashed" and "kernel" in review["status_reason"]


def test_scores_equal_plain_serial_nbgrader(klass: Class, tmp_path: Path) -> None:
    """The same submissions, graded by stock ``nbgrader autograde`` one after another."""
    plain = tmp_path / "plain"
    for name in ("source", "release"):
        shutil.copytree(klass.course / name, plain / name)
    (plain / "nbgrader_config.py").write_bytes((klass.course / "nbgrader_config.py").read_bytes())
    (plain / "gradebook.db").write_bytes((klass.course / ".grader" / "assignment.db").read_bytes())
    notebooks = {
        "ann": klass.submissions / "ann" / "jazz_solo" / NOTEBOOK,
        "ben": None,
        "cid": None,
    }
    for student in HONEST:
        target = plain / "submitted" / student / "jazz_solo"
        target.mkdir(parents=True)
        data = _submitted_in_run_a(klass, student, notebooks[student])
        (target / NOTEBOOK).write_bytes(data)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            "autograde",
            "jazz_solo",
            f"--CourseDirectory.root={plain}",
        ],
        cwd=plain,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    serial = _gradebook_scores(plain)
    for student in HONEST:
        assert klass.scores_a[student] == serial[student], student


def _submitted_in_run_a(klass: Class, student: str, path: Path | None) -> bytes:
    """The notebook run A graded for ``student`` (cid's changed after A)."""
    if path is not None:
        return path.read_bytes()
    if student == "ben":
        with zipfile.ZipFile(klass.submissions / "ben.zip") as archive:
            return archive.read(f"submission/{NOTEBOOK}")
    source = nbformat.read(SOURCE, as_version=4)
    by_name = {m.name: m for m in mutants()}
    return nbformat.writes(build_mutant(by_name["untouched"], source, klass.release)).encode()


def _isolation_seen(klass: Class) -> dict[str, Any]:
    executed = klass.course / "autograded" / "ivy" / "jazz_solo" / NOTEBOOK
    for cell in nbformat.read(executed, as_version=4).cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            if "ISOLATION " in text:
                return json.loads(text.split("ISOLATION ", 1)[1].splitlines()[0])
    raise AssertionError("the peeking submission printed nothing")


def test_a_submission_reads_no_gradebook_source_or_other_work(klass: Class) -> None:
    isolation = klass.report_a["isolation"]
    if not isolation["mounts"].startswith("isolated"):
        assert os.geteuid() != 0, isolation  # as root the sandbox must hide the course
        pytest.skip(f"this machine cannot hide folders from a sandbox: {isolation['mounts']}")
    seen = _isolation_seen(klass)
    for target in ("gradebook", "source notebook", "solutions", "other submission"):
        assert seen[target].startswith("blocked"), (target, seen)
    assert seen["other submitted copy"].startswith("blocked"), seen
    # The kernel's code is the checked copy, without references, judges or probes.
    for target in ("references", "installed hidden tests"):
        assert seen[target].startswith("blocked"), (target, seen)
    for module in (
        "grader.reference",
        "grader.judges",
        "grader.probes",
        "grader.cleanroom.evidence",
        "grader.cleanroom.run",
    ):
        assert seen[module].startswith("blocked"), (module, seen)
    assert all("/software/" in folder for folder in seen["code"]), seen["code"]
    assert seen["processes"] < 10  # its own PID namespace: nbgrader, the kernel, a few more
    if os.geteuid() == 0:
        assert seen["uid"] != 0


def test_network_is_isolated_or_the_report_says_why(klass: Class) -> None:
    network = klass.report_a["isolation"]["network"]
    seen = _isolation_seen(klass)
    if network.startswith("isolated"):
        assert seen["scheduler"].startswith("blocked"), seen
        assert all(
            r["network"].startswith("isolated")
            for r in _rows(klass.report_a).values()
            if r["status"] != "malformed"
        )
    else:
        assert network.startswith("not isolated: ")


def test_a_killed_worker_loses_nothing(klass: Class) -> None:
    assert klass.killed["students"], "the killed worker was grading nobody"
    rows = _rows(klass.report_a)
    for student in klass.killed["students"]:
        assert rows[student]["status"] in ("graded", "timeout", "crashed"), rows[student]
        assert not rows[student]["worker"].endswith(f":{klass.killed['pid']}")
    assert klass.killed["orphans"] == [], "sandboxes outlived their worker"


def test_the_engine_and_limits_are_reported(klass: Class) -> None:
    report = klass.report_a
    assert report["engine"].startswith("Dask scheduler at tcp://127.0.0.1:")
    assert report["limits"]["timeout_s"] == TIMEOUT_S
    assert report["limits"]["memory_bytes_per_process"] == 3 * 2**30
    assert "ETA" in klass.output_a and "status" in klass.output_a.split("ETA")[-1]


# --- runs B and C: interrupted, resumed ------------------------------------------------


def test_an_interrupted_batch_keeps_what_it_graded(klass: Class) -> None:
    assert "interrupted" in klass.output_b.lower()
    done_b = {s for s, r in _rows(klass.report_b).items() if r != _rows(klass.report_a).get(s)}
    assert done_b and done_b <= {"cid", "jon"}


def test_resuming_runs_only_what_changed_or_was_left(klass: Class) -> None:
    before, after = _rows(klass.report_a), _rows(klass.report_c)
    rerun = {s for s in after if after[s].get("graded_at") != before.get(s, {}).get("graded_at")}
    finished_in_b = {s for s, r in _rows(klass.report_b).items() if r != before.get(s)}
    assert rerun == {"cid", "jon"}
    assert "unchanged since they were graded" in klass.output_c
    c_executed = {s for s in after if after[s] != _rows(klass.report_b).get(s)}
    assert c_executed == {"cid", "jon"} - finished_in_b
    assert after["cid"]["score"] == 21 and after["jon"]["score"] == 23
    for student in set(before) - {"cid"}:
        assert after[student] == before[student], student


# --- pieces ----------------------------------------------------------------------------


def test_intake_reads_every_layout_and_keeps_malformed_entries(tmp_path: Path) -> None:
    good = nbformat.writes(nbformat.v4.new_notebook()).encode()
    (tmp_path / "a" / "jazz_solo").mkdir(parents=True)
    (tmp_path / "a" / "jazz_solo" / NOTEBOOK).write_bytes(good)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "mine.ipynb").write_bytes(good)
    (tmp_path / "c.ipynb").write_bytes(good)
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as archive:
        archive.writestr("deep/er/x.ipynb", good)
        archive.writestr("timestamp.txt", "2026-01-01 00:00:00")
    (tmp_path / "e.zip").write_bytes(b"not a zip")
    (tmp_path / "f").mkdir()
    (tmp_path / "g.ipynb").write_bytes(b"\xff\xfe")
    (tmp_path / "notes.txt").write_text("ignored")
    entries = {e.student: e for e in discover(tmp_path)}
    assert sorted(entries) == [*"abcdefg", "notes.txt"]
    assert entries["notes.txt"].malformed  # every entry gets a row, none is skipped
    assert not any(entries[s].malformed for s in "abcd")
    assert entries["d"].timestamp == "2026-01-01 00:00:00"
    assert "zip" in entries["e"].problem and "no notebook" in entries["f"].problem
    assert "UTF-8" in entries["g"].problem
    assert entries["a"].digest == entries["b"].digest == entries["c"].digest  # same notebook
    assert entries["d"].digest != entries["a"].digest  # the same one with a timestamp
    (tmp_path / "a.zip").write_bytes(b"")
    rows = {e.student: e for e in discover(tmp_path)}  # a second entry never stops the class
    duplicates = [e for s, e in rows.items() if s.startswith("duplicate-")]
    assert len(duplicates) == 1 and "a second entry for id a" in duplicates[0].problem
    assert not rows["a"].malformed


def test_notebook_problem_names_what_is_wrong() -> None:
    assert notebook_problem(nbformat.writes(nbformat.v4.new_notebook()).encode()) is None
    assert "not a readable notebook" in notebook_problem(b'{"cells": [')
    assert "not a readable notebook" in notebook_problem(b'{"nbformat": 4}')


def test_memory_sizes_and_limits() -> None:
    from grader.batch.run import parse_size

    assert parse_size("4GiB") == parse_size("4g") == 4 * 2**30
    assert parse_size("512M") == 512 * 2**20 and parse_size("1000") == 1000
    with pytest.raises(BatchError):
        parse_size("lots")
    assert Limits(timeout=30).cpu_seconds > 30


def test_scores_are_read_from_an_untrusted_gradebook_as_numbers_only(klass: Class) -> None:
    scores = read_scores(klass.course / "gradebook.db", "ann")
    assert sum(s or 0 for s in scores.values()) == 25
    assert read_scores(klass.course / "missing.db", "ann") == dict.fromkeys(scores)


def test_the_sandbox_layout_keeps_the_software_and_hides_the_repository() -> None:
    hide, keep = software_layout()
    kept = [Path(path) for path, read_only in keep if read_only]
    assert Path(sys.prefix).resolve() in kept
    assert str(ROOT) in hide  # the repository holds solutions/ and course/
    hidden = set(hidden_sources())
    assert {str(ROOT), str(ROOT / "grader"), str(ROOT / "jazz_utils")} <= hidden
    # Other checkouts of the project (their solutions/) may lie anywhere outside the
    # system's folders: every such top-level folder is covered.
    top = Path("/") / ROOT.parts[1]
    assert str(top) in hidden or top.name in SYSTEM_FOLDERS
    assert not hidden & {"/usr", "/etc", "/proc", "/dev"}


def test_the_sandboxes_code_is_a_copy_without_answers(tmp_path: Path) -> None:
    from grader.sandbox import software

    folder = software.install(tmp_path)
    assert software.install(tmp_path) == folder  # made once, named by its digest
    files = {p.relative_to(folder).as_posix() for p in (folder / "grader").rglob("*.py")}
    assert files == {software.module_path(name) for name in software.SANDBOX_MODULES}
    modules = {Path(name).stem for name in files}
    assert not modules & {"reference", "judges", "probes", "evidence", "run", "rubric", "extract"}
    assert (folder / "jazz_utils" / "data" / "manifest.json").is_file()
    assert not [p for p in folder.rglob("*") if p.stat().st_mode & 0o022]  # nobody else writes
    text = "\n".join(p.read_text() for p in (folder / "grader").rglob("*.py"))
    assert "BEGIN SOLUTION" not in text and "def greedy_decode" not in text


# --- warm starts ---------------------------------------------------------------------


def test_kernels_and_clean_rooms_start_warm_from_the_fork_server(klass: Class) -> None:
    """Run A's kernels were forked from their worker's fork server, in full sandboxes."""
    for student in HONEST:
        review = json.loads((klass.course / "reviews" / f"{student}.json").read_text())
        notebook = review["isolation"]["notebook"]
        assert any("fork server" in note for note in notebook["notes"]), notebook
        assert notebook["network"] == klass.report_a["students"][student]["network"]
    probed = [
        json.loads(path.read_text()).get("isolation", {}).get("clean_room") or {}
        for path in (klass.course / "reviews").glob("*.json")
    ]
    assert any("fork server" in " ".join(p.get("notes") or []) for p in probed), probed


GRADE_BOTH_WAYS = """\
import json
import os
import sys
import uuid
from pathlib import Path

from grader.batch.task import Bundle, Request, code_digest, grade_isolated
from grader.course import Course
from grader.sandbox import forkserver
from grader.sandbox.limits import Limits

course = Course(Path(sys.argv[1]))
notebook, scratch, timeout = sys.argv[2:5]
bundle = Bundle(
    config=course.config_file.read_text(encoding="utf-8"),
    template_gradebook=course.template_gradebook.read_bytes(),
    source_notebook=course.source_notebook.read_bytes(),
    code_digest=code_digest(),
    hide=(str(course.root),),
    batch_id=uuid.uuid4().hex,
)
found = {}
for mode in ("cold", "warm"):
    if mode == "cold":
        os.environ["JAZZ_GRADER_COLD_KERNELS"] = "1"
    else:
        del os.environ["JAZZ_GRADER_COLD_KERNELS"]
    limits = Limits(timeout=float(timeout))
    request = Request("ann", Path(notebook).read_bytes(), None, mode, limits)
    outcome = grade_isolated(request, bundle, scratch_base=Path(scratch))
    found[mode] = {
        "status": outcome.status,
        "reason": outcome.reason,
        "scores": outcome.result.final_scores(),
        "notebook": outcome.protections["notebook"],
        "log": outcome.result.log[-3000:],
    }
forkserver.stop_all()
print("RESULT " + json.dumps(found))
sys.stdout.flush()
os._exit(0)  # as a Dask worker ends: without waiting for nbgrader's ZeroMQ context
"""


def test_a_cold_kernel_grades_as_a_warm_one(tmp_path: Path) -> None:
    """Without the fork server (or when it is not there) kernels start as new Pythons.

    Graded in a process of its own, as on a worker, with and without the warm start.
    """
    course, notebooks = tmp_path / "course", tmp_path / "notebooks"
    _grader("release", "--course", str(course), "--notebooks", str(notebooks))
    source = nbformat.read(SOURCE, as_version=4)
    release = nbformat.read(notebooks / NOTEBOOK, as_version=4)
    solution = next(m for m in mutants() if m.name == "solution")
    notebook = tmp_path / "ann.ipynb"
    nbformat.write(build_mutant(solution, source, release), notebook)
    script = tmp_path / "grade_both_ways.py"
    script.write_text(GRADE_BOTH_WAYS)
    done = subprocess.run(
        [sys.executable, str(script), str(course), str(notebook), str(tmp_path / "s"), "75"],
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=400,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-5000:]
    found = json.loads(lines[-1][len("RESULT ") :])
    cold, warm = found["cold"], found["warm"]
    for outcome in (cold, warm):
        assert outcome["status"] == "graded", (outcome["reason"], outcome["log"])
    assert cold["scores"] == warm["scores"]
    assert sum(warm["scores"].values()) == 25
    assert not any("fork server" in n for n in cold["notebook"]["notes"])
    assert any("fork server" in n for n in warm["notebook"]["notes"])
    assert cold["notebook"]["network"] == warm["notebook"]["network"]


def test_the_fork_server_starts_only_known_modules() -> None:
    from grader.sandbox.protocol import serves

    assert serves(["python", "-m", "ipykernel_launcher", "-f", "kernel.json"])
    assert serves([sys.executable, "-m", "grader.cleanroom.maker", "job.json", "60"])
    assert serves([sys.executable, "-m", "grader.cleanroom.modelrun", "job.json", "evidence.json"])
    assert not serves([sys.executable, "-m", "grader.cleanroom.run", "job.json"])
    assert not serves(["python", "-m", "http.server"])
    assert not serves(["/usr/bin/env", "-m", "ipykernel_launcher"])
    assert not serves(["python", "-c", "print(1)"])


def _one_shot_server(path: Path, replies: list[dict[str, Any]]) -> Any:
    """A stand-in fork server: takes one request, sends ``replies``, hangs up."""
    import socket
    import struct
    import threading

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1 << 16)
            for reply in replies:
                data = json.dumps(reply).encode()
                conn.sendall(struct.pack("!I", len(data)) + data)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_fork_server_that_fails_before_the_start_is_bypassed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The launcher starts the command itself rather than report a dead kernel."""
    from grader.sandbox.protocol import delegate

    command = ["python", "-m", "ipykernel_launcher", "-f", "kernel.json"]
    # delegate installs the launcher's signal handlers: not this test process's to change
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    assert delegate(str(tmp_path / "nobody.sock"), "{}", command, (-1, -1)) is None
    thread = _one_shot_server(tmp_path / "fails.sock", [])
    assert delegate(str(tmp_path / "fails.sock"), "{}", command, (-1, -1)) is None
    thread.join(10)
    thread = _one_shot_server(tmp_path / "dies.sock", [{"started": True}])
    assert delegate(str(tmp_path / "dies.sock"), "{}", command, (-1, -1)) == 128 + signal.SIGKILL
    thread.join(10)
    thread = _one_shot_server(tmp_path / "ends.sock", [{"started": True}, {"exit": 3}])
    assert delegate(str(tmp_path / "ends.sock"), "{}", command, (-1, -1)) == 3
    thread.join(10)
