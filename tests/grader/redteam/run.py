"""The red-team items in the shared batch: their context, what the batch left, the cleanup
and the golden table."""

from __future__ import annotations

import contextlib
import copy
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from catalogue import (
    GOLDEN,
    NOTEBOOK,
    SOURCE,
)
from nbformat.notebooknode import NotebookNode

from redteam.base import (
    ATTACK,
    FULL_MARKS,
    SHARED_FOLDERS,
    SKIP_ENV,
    UID_BASE,
    Context,
    Item,
)
from redteam.items import items
from redteam.machine import (
    large_files,
    marked_entries,
    mounts_under,
    sandbox_processes,
    sysv_objects,
    text_hits,
)


@dataclass
class RedTeamRun:
    """What grading the red-team batch produced and left behind.

    Attributes:
        items: the items graded (the catalogue less those skipped).
        skipped: names left out (``REDTEAM_SKIP``).
        rows: ``report.json``'s row per student id.
        reviews: ``reviews/<id>.json`` per student id.
        course: the course folder.
        submissions: the submissions folder.
        scratch: the grader's scratch folder for this batch (its ``TMPDIR``).
        marker: the batch's attack marker.
        secret: the secret notebook's marker.
        leak_tag: what an attack prints when it got something.
        leftovers: entries of shared folders named with the marker.
        ipc: System V IPC objects created during the batch: (kind, id) -> uid.
        processes: sandbox processes alive after the batch that were not before.
        secret_hits: course files holding the secret.
        leak_hits: course files holding the leak tag.
        large: oversized result files.
        output: the tail of ``python -m grader autograde``'s output.
        seconds: wall time of the release and of the batch.
    """

    items: list[Item]
    skipped: list[str]
    rows: dict[str, dict[str, Any]]
    reviews: dict[str, dict[str, Any]]
    course: Path
    submissions: Path
    scratch: Path
    marker: str
    secret: str
    leak_tag: str
    leftovers: list[str] = field(default_factory=list)
    ipc: dict[tuple[str, str], int] = field(default_factory=dict)
    processes: dict[int, str] = field(default_factory=dict)
    secret_hits: list[str] = field(default_factory=list)
    leak_hits: list[str] = field(default_factory=list)
    large: list[str] = field(default_factory=list)
    output: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def row_of(self, item: Item) -> tuple[str, dict[str, Any]] | None:
        """(student id, report row) of ``item``; for an intake trick, the row naming its token."""
        if not item.intake:
            row = self.rows.get(item.name)
            return (item.name, row) if row is not None else None
        token = (item.token or "").lower()
        for student, row in self.rows.items():
            text = (student + " " + json.dumps(row)).lower()
            if token in text:
                return student, row
        return None


def _context(workdir: Path, built: dict[str, NotebookNode]) -> Context:
    source = nbformat.read(SOURCE, as_version=4)
    marker = "rtm" + uuid.uuid4().hex[:12]
    secret = "SECRET" + uuid.uuid4().hex
    outside = workdir / "outside"
    secret_folder = outside / "secret_folder"
    secret_folder.mkdir(parents=True)
    notebook = copy.deepcopy(built["solution"])
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(f"The instructor's copy: {secret}"))
    notebook.cells.insert(1, nbformat.v4.new_code_cell(f'INSTRUCTOR_NOTE = "{secret}"\n'))
    secret_notebook = outside / "answers.ipynb"
    nbformat.write(notebook, secret_notebook)
    nbformat.write(notebook, secret_folder / NOTEBOOK)
    release = built["untouched"]
    return Context(source, release, built, marker, secret, outside, secret_notebook, secret_folder)


def _skipped() -> set[str]:
    return {name.strip() for name in os.environ.get(SKIP_ENV, "").split(",") if name.strip()}


@dataclass
class Watch:
    """The red-team items written into a batch, and the machine as it was before the batch.

    Attributes:
        ctx: the items' context (markers, the secret notebook).
        chosen: the items written (the catalogue less those skipped).
        skipped: names left out (``REDTEAM_SKIP``).
        submissions: the submissions folder they were written into.
        scratch: a scratch folder of the batch's own, to be its ``TMPDIR``: what an attack
            leaves there is found, and no other grader on this machine trips on it.
        ipc: System V IPC objects before the batch.
        processes: processes of the sandboxes' users before the batch.
    """

    ctx: Context
    chosen: list[Item]
    skipped: list[str]
    submissions: Path
    scratch: Path
    ipc: dict[tuple[str, str], int]
    processes: dict[int, str]


def write_items(workdir: Path, built: dict[str, NotebookNode], submissions: Path) -> Watch:
    """Write every red-team item into ``submissions``; then look at the machine.

    ``built`` holds every mutant's submission (``untouched`` is the release). Before the
    batch the System V IPC objects and the sandboxes' processes are noted, and a scratch
    folder is made for the batch (the sandboxes' users must be able to enter it).
    """
    ctx = _context(workdir, built)
    skip = _skipped()
    chosen = [item for item in items() if item.name not in skip]
    submissions.mkdir(parents=True, exist_ok=True)
    for item in sorted(chosen, key=lambda i: i.intake):  # the victims exist before links to them
        item.make(ctx, submissions)
    ipc, processes = sysv_objects(), sandbox_processes()
    scratch = Path(tempfile.mkdtemp(prefix="jazz-redteam-", dir="/tmp"))
    scratch.chmod(0o711)
    return Watch(ctx, chosen, sorted(skip), submissions, scratch, ipc, processes)


def observe(watch: Watch, course: Path, output: str, seconds: dict[str, float]) -> RedTeamRun:
    """What the batch graded into ``course`` and left on the machine, for the red-team tests.

    The sandboxes' processes (given up to 10 s to go), System V IPC, files named with the
    marker in the shared folders and the scratch folder, and file systems still mounted
    there are compared with ``watch``; the course's files are searched for the secret and
    the leak tag. Rows and reviews are read only if the batch wrote its report.
    """
    ctx = watch.ctx
    run = RedTeamRun(
        watch.chosen,
        watch.skipped,
        {},
        {},
        course,
        watch.submissions,
        watch.scratch,
        ctx.marker,
        ctx.secret,
        ctx.leak_tag(),
        output=output[-6000:],
        seconds=seconds,
    )
    deadline = time.monotonic() + 10
    while True:  # processes of the last sandboxes may take a moment to go
        run.processes = {
            pid: command
            for pid, command in sandbox_processes(watch.scratch).items()
            if pid not in watch.processes
        }
        if not run.processes or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    run.ipc = {key: uid for key, uid in sysv_objects().items() if key not in watch.ipc}
    run.leftovers = marked_entries(ctx.marker, (*SHARED_FOLDERS, str(watch.scratch)))
    run.leftovers += [f"mounted: {point}" for point in mounts_under(watch.scratch)]
    if not (course / "report.json").is_file():
        return run
    report = json.loads((course / "report.json").read_text())
    run.rows = report.get("students", {})
    run.reviews = {
        path.stem: json.loads(path.read_text()) for path in (course / "reviews").glob("*.json")
    }
    run.secret_hits = text_hits(course, ctx.secret)
    run.leak_hits = text_hits(course, ctx.leak_tag())
    run.large = large_files(course)
    return run


def _remove(path: str) -> None:
    """Remove a file or a (possibly very deep) tree, not following symlinks."""
    if os.path.islink(path) or not os.path.isdir(path):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    subprocess.run(["rm", "-rf", "--one-file-system", "--", path], check=False)


def _remove_ipc(kind: str, ident: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    ipc_rmid = 0
    if kind == "shm":
        libc.shmctl(ident, ipc_rmid, None)
    elif kind == "sem":
        libc.semctl(ident, 0, ipc_rmid)
    else:
        libc.msgctl(ident, ipc_rmid, None)


def cleanup(run: RedTeamRun) -> None:
    """Remove what the batch's attacks left on this machine (only what carries their marks).

    Files and folders named with the marker, System V IPC objects the sandboxes' users
    created during the batch, processes whose command line carries the marker (the
    daemon attack's), each killed by its id, and the batch's scratch folder (file systems
    mounted in it detached first).
    """
    for path in marked_entries(run.marker, (*SHARED_FOLDERS, str(run.scratch))):
        _remove(path)
    for (kind, ident), uid in run.ipc.items():
        if uid >= UID_BASE:
            with contextlib.suppress(Exception):
                _remove_ipc(kind, int(ident))
    for pid, command in sandbox_processes().items():
        if run.marker in command:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(run.submissions, ignore_errors=True)
    libc = ctypes.CDLL(None, use_errno=True)
    for point in mounts_under(run.scratch):
        libc.umount2(point.encode(), 2)  # MNT_DETACH
    _remove(str(run.scratch))


# --- goldens -------------------------------------------------------------------------


def base_totals() -> dict[str, float]:
    """Each mutant's golden total (tests/grader/golden/mutant_scores.json)."""
    table = json.loads(GOLDEN.read_text())
    return {name: float(row["total"]) for name, row in table["mutants"].items()}


def expected_rows() -> dict[str, Any]:
    """The golden table as the catalogue states it (the design's expectations)."""
    return {
        "max_score": FULL_MARKS,
        "items": {
            item.name: {
                "group": item.group,
                "class": item.kind,
                "description": item.description,
                "base": item.base,
                "total": item.expected_total,
                "status": item.expected_status,
            }
            for item in items()
        },
    }


def golden_rows(run: RedTeamRun) -> dict[str, Any]:
    """The golden table from a run: each item's total and status as graded.

    An attack's total is never recorded above its base's golden total: a run in which an
    attack gained cannot raise the bar the tests hold it to.
    """
    table = expected_rows()
    bases = base_totals()
    for item in run.items:
        found = run.row_of(item)
        if found is None:
            continue
        row = table["items"][item.name]
        total = float(found[1].get("score", 0.0))
        if item.group == ATTACK:
            total = min(total, bases.get(item.base, 0.0))
        row["total"], row["status"] = total, found[1].get("status")
    return table
