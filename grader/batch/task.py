"""Grade one submission in isolation: the unit of work of the batch grader (one Dask task).

``grade_isolated`` is a pure function of its arguments: the submission's bytes, the
release files every task shares (``Bundle``: the nbgrader configuration, the gradebook
without students, the source notebook) and the limits. It returns an ``Outcome`` that
pickles (scores per grade cell, the executed notebook's bytes, logs, status and reason)
and touches nothing outside a private scratch folder, so it runs on any Dask worker.

Two things happen at once, each with its learner code in sandboxes (``grader.sandbox.launcher``),
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
  (``grader.sandbox.kernelbox``); only its kernel is sandboxed, so the scratch gradebook and
  configuration are out of learner code's reach. Its executed notebook becomes the
  learner's feedback; its grade cells decide nothing.
- **The clean room** (``grader.cleanroom``): the graded functions, extracted here from
  the submission, are run by the maker (uid B), which records the models they make; the
  model judge (uid C, no learner code) runs those models on this batch's secret inputs
  and signs what they computed; the scores are judged here.

The kernel, the maker and the model judge start warm, forked from the worker's fork
server (``grader.sandbox.forkserver``), and import their code from the sandboxes' own copy
(``grader.sandbox.software``). The source notebook, the references, the judges and this batch's
secret never enter a sandbox. No sandbox sees another, other tasks, the course, the
submissions folder or the repository.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import os
import signal
import socket
import sqlite3
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from grader import rubric
from grader.batch.intake import MAX_NOTEBOOK_BYTES, notebook_problem
from grader.batch.integrity import code_fingerprint
from grader.batch.outcome import (
    GRADED,
    MALFORMED,
    NEEDS_REVIEW,
    Outcome,
    classify,
    protections_data,
    with_verdicts,
    zero_result,
)
from grader.cleanroom import evidence as cleanroom
from grader.cleanroom.run import CleanRun, SharedEvidence, clean_room, diagnose, evidence_folder
from grader.errors import BatchError
from grader.sandbox import kernelbox
from grader.sandbox.limits import Limits
from grader.sandbox.mounts import software_layout
from grader.sandbox.scratch import (
    default_scratch_base,
    hold_base,
    install_software,
    mount_scratch,
    own,
    read_small,
    read_tail,
    remove_tree,
    sandbox_environment,
    sandbox_spec,
    slot,
    unmount,
    warm_kernels,
)
from grader.sandbox.software import digest as software_digest
from grader.sandbox.software import hidden_sources
from grader.sandbox.spec import JailSpec, Protections
from grader.scores import SubmissionResult, last_error


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
        secret_seed: the batch's secret (``grader.cleanroom.evidence.Secret``): its
            hidden-test cases and the model judge's signature key come from it; no
            sandbox receives it.
    """

    config: str
    template_gradebook: bytes
    source_notebook: bytes
    code_digest: str
    hide: tuple[str, ...] = ()
    batch_id: str = "default"
    secret_seed: int = 0


def code_digest() -> str:
    """Digest of the grader's code: every module of the package, and the sandboxes' copy.

    Every ``.py`` file under ``grader/`` counts (named by its path in the package), so a
    module added to any wing is covered without a list to keep up to date.
    """
    folder = Path(__file__).resolve().parent.parent
    files = sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)
    digest = hashlib.sha256()
    for path, value in code_fingerprint(files).items():
        digest.update(f"{path.relative_to(folder).as_posix()}:{value}\n".encode())
    digest.update(f"sandbox software:{software_digest()}\n".encode())
    return digest.hexdigest()


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


@dataclass(frozen=True)
class Request:
    """One submission to grade, as a task receives it (the release files travel apart).

    Attributes:
        student: the student's id.
        notebook: the submitted notebook's bytes.
        timestamp: the submission time, if given.
        digest: the submission's content digest, returned as is.
        limits: the sandboxes' limits.
        known: clean-room evidence of programs already run in this batch, by program key.
    """

    student: str
    notebook: bytes
    timestamp: str | None
    digest: str
    limits: Limits
    known: dict[str, Any] = field(default_factory=dict)


def grade_isolated(
    request: Request,
    bundle: Bundle,
    scratch_base: Path | None = None,
    extra_hide: tuple[str, ...] = (),
) -> Outcome:
    """Grade one submission with its learner code in sandboxes (see the module docstring).

    Args:
        request: the submission and its limits.
        bundle: the release files (scattered to the workers once per batch).
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
    student, digest = request.student, request.digest
    problem = notebook_problem(request.notebook)
    if problem is not None:
        result = zero_result(student, request.timestamp, problem)
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
    with slot(base) as uids:
        task = Path(tempfile.mkdtemp(prefix="task-", dir=base / "tasks"))
        held = (base / "tasks" / f"{task.name}.held").open("w")
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            scratch = mount_scratch(task, request.limits.scratch_bytes)
            task.chmod(0o711)
            outcome = _grade_in(task, request, bundle, uids, hide, keep)
            outcome.protections["scratch"] = scratch
        finally:
            unmount(task)
            remove_tree(task)
            Path(held.name).unlink(missing_ok=True)
            held.close()
    outcome.seconds = time.perf_counter() - started
    outcome.worker = worker
    return outcome


def _scratch_course(private: Path, request: Request, bundle: Bundle) -> Path:
    """The scratch course nbgrader grades in (root's, out of every sandbox's reach)."""
    course = private / "course"
    submitted = course / "submitted" / request.student / rubric.ASSIGNMENT_ID
    submitted.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(bundle.config, encoding="utf-8")
    (course / "gradebook.db").write_bytes(bundle.template_gradebook)
    (submitted / f"{rubric.NOTEBOOK_NAME}.ipynb").write_bytes(request.notebook)
    if request.timestamp:
        (submitted / "timestamp.txt").write_text(request.timestamp, encoding="utf-8")
    return course


def _clean_jobs(request: Request, bundle: Bundle) -> tuple[list[cleanroom.FunctionJob], str | None]:
    """The clean-room jobs (extracted in the worker, from the source notebook it holds)."""
    submission = nbformat.reads(request.notebook.decode("utf-8"), as_version=4)
    source = nbformat.reads(bundle.source_notebook.decode("utf-8"), as_version=4)
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


def _grade_in(
    task: Path,
    request: Request,
    bundle: Bundle,
    uids: tuple[int | None, int | None, int | None],
    hide: tuple[str, ...],
    keep: tuple[tuple[str, bool], ...],
) -> Outcome:
    """The body of ``grade_isolated`` inside the task's scratch folder."""
    student, limits = request.student, request.limits
    secret = cleanroom.Secret(bundle.secret_seed)
    private, kernel_dir = task / "private", task / "kernel"
    clean_dir, judge_dir = task / "clean", task / "judge"
    private.mkdir(mode=0o700)
    for folder in ("home", "tmp", "run", "cwd"):
        (kernel_dir / folder).mkdir(parents=True)
    for sandbox in (clean_dir, judge_dir):
        for folder in ("home", "tmp"):
            (sandbox / folder).mkdir(parents=True)
    course = _scratch_course(private, request, bundle)
    jobs, extraction_note = _clean_jobs(request, bundle)
    key = cleanroom.program_key(jobs, secret)
    known = {key: request.known[key]} if key in request.known else {}
    own(kernel_dir, uids[0])
    own(clean_dir, uids[1])
    own(judge_dir, uids[2])

    base = task.parent.parent
    software = install_software(base)
    keep = (*keep, (str(software), True))
    kernel_env = {
        **sandbox_environment(kernel_dir, software),
        "NBGRADER_EXECUTION": "autograde",
    }
    server = warm_kernels(base)
    kernel_spec = sandbox_spec(
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
    shared = SharedEvidence(evidence_folder(base, bundle.batch_id))
    maker_env = {**sandbox_environment(clean_dir, software), "NBGRADER_EXECUTION": "autograde"}
    maker_spec = sandbox_spec(
        clean_dir, clean_dir, uids[1], private, "clean", limits, hide, keep, maker_env, server
    )
    judge_env = sandbox_environment(judge_dir, software)
    judge_spec = sandbox_spec(
        judge_dir, judge_dir, uids[2], private, "judge", limits, hide, keep, judge_env, server
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        clean_future = pool.submit(
            clean_room,
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
        clean.diagnoses = diagnose(jobs, clean.lost_points(), maker_spec, task, uids[1], limits)

    log = (nbgrader.get("log") or "") + (nbgrader.get("error") or "")
    kernel_log = read_tail(private / "kernel.log")
    clean_log = read_tail(private / "clean.log") + read_tail(private / "judge.log")
    executed_file = course / "autograded" / student / rubric.ASSIGNMENT_ID
    executed = read_small(executed_file / f"{rubric.NOTEBOOK_NAME}.ipynb", MAX_NOTEBOOK_BYTES)
    if executed is not None and notebook_problem(executed) is not None:
        executed = None
    if executed is not None:
        executed = with_verdicts(executed, clean)
    tampered = gradebook_tampering(course / "gradebook.db", student)
    if (course / "nbgrader_config.py").read_bytes() != bundle.config.encode("utf-8"):
        tampered.insert(0, "nbgrader_config.py")

    status, reason = classify(
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
        "notebook": protections_data(Protections.read(Path(kernel_spec.status_file))),
        "clean_room": protections_data(clean_run.maker.protections if clean_run.maker else None),
        "model_judge": protections_data(clean_run.judge.protections if clean_run.judge else None),
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
