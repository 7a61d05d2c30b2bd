"""What grading one submission came to: its status, its scores, its feedback notebook.

A task (``grader.batch.task``) ends with an ``Outcome``: one of ``STATUSES`` and the
reason, the ``SubmissionResult`` (scores, the clean room's verdicts, review reasons),
the executed notebook with each grade cell's output replaced by its judged rubric
(``with_verdicts``) and what each sandbox achieved. ``classify`` tells a time-out or a
dead kernel from a notebook that ran; ``zero_result`` gives 0 points with the reason to
a submission that could not be graded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grader import rubric
from grader.sandbox.limits import Limits
from grader.sandbox.spec import END_LINE, JailResult, Protections
from grader.scores import CleanRoomResult, SubmissionResult

GRADED = "graded"
NEEDS_REVIEW = "needs review"
TIMEOUT = "timeout"
CRASHED = "crashed"
MALFORMED = "malformed"
STATUSES: tuple[str, ...] = (GRADED, NEEDS_REVIEW, TIMEOUT, CRASHED, MALFORMED)
"""Every status a submission can end with, in the order the summary lists them."""

_KERNEL_DIED = ("DeadKernelError", "Kernel died", "kernel died", "Kernel is dead")
"""What nbgrader's error lines say when the kernel process ended under it."""


@dataclass
class Outcome:
    """What grading one submission gave (see ``grade_isolated``).

    Attributes:
        student: the student's id.
        digest: the submission's content digest (``grader.batch.intake.Entry.digest``).
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


def classify(
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


def with_verdicts(executed: bytes, clean: CleanRoomResult) -> bytes:
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


def protections_data(found: Protections | None) -> dict[str, Any]:
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
    clean: CleanRoomResult | None = None,
    log: str = "",
) -> SubmissionResult:
    """A result with 0 points in every grade cell, for a submission that could not be graded.

    ``why`` becomes the notebook error, so the gradebook marks the submission for manual
    grading and the review file and grades.csv give the reason. The clean room's verdicts,
    if any, are kept for the instructor; its scores are set to 0 too.
    """
    zeros = {cell.grade_id: 0.0 for cell in rubric.GRADE_CELLS}
    kept = clean or CleanRoomResult()
    clean_zero = CleanRoomResult(
        scores=zeros, verdicts=kept.verdicts, notes=kept.notes, programs=kept.programs
    )
    return SubmissionResult(student, why, clean_zero, None, timestamp, log=log)
