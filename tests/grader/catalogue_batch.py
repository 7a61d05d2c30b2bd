"""The one batch that grades the mutant, the cheat and the red-team catalogues.

Each catalogue is a set of submissions the grader must score exactly (``catalogue.py``:
mutants, ``cheats.py``: cheats, ``redteam/``: attacks, honest variants and victims).
``run_catalogues`` releases one course and grades them all in one ``python -m grader
autograde``, exactly as an instructor would: one release, one start of the batch's
workers and one warm evidence cache for all three test modules (test_mutants.py,
test_cheats.py, test_redteam.py), which read the same run through the session fixtures of
tests/grader/conftest.py. The cheat that writes to course files is graded at the same
time into a copy of the course, by a ``python -m grader`` of its own, so that what it
changes is attributed to it alone.

The red-team items join the batch only as root (their attacks kill every process they
can see, fork-bomb and fill memory: only root's sandboxes hold them); then the batch runs
with a scratch folder of its own, and the machine is looked at before and after it
(``redteam.run``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from catalogue import NOTEBOOK, ROOT, SOURCE, CatalogueError, build_mutant, mutants
from cheats import cheats
from nbformat.notebooknode import NotebookNode
from redteam import run as redteam_run

TIMEOUT_S = 75
"""The batch's ``--timeout``, in seconds.

Measured on a 2-core machine under a load average of 7 to 16: honest work (mutants,
cheats' bases, honest variants, victims) took at most 12 s in the notebook and 12 s in the
clean room; the slowest item whose golden status is not ``timeout`` took 46 s
(forge_lambda_layer's notebook, a Python-coded LSTM in a Lambda layer). The one item
that must time out (endless_lines_and_hang) costs the batch a full ``TIMEOUT_S``.
"""

WORKERS = 2
"""The batch's ``--workers`` (``$CATALOGUE_JOBS`` overrides it)."""


@dataclass
class CatalogueRun:
    """What the batch produced for the mutant and cheat catalogues.

    Attributes:
        reviews: each submission's ``reviews/<student>.json`` (both courses).
        course_files_intact: whether the course's protected files were unchanged by the
            cheat that writes to them.
        seconds: wall time of each step.
        release_notebook: the release the submissions were built from.
        course: the course folder the catalogue was graded into.
    """

    reviews: dict[str, dict[str, Any]]
    course_files_intact: bool
    seconds: dict[str, float] = field(default_factory=dict)
    release_notebook: Path | None = None
    course: Path | None = None


@dataclass
class Catalogues:
    """The one batch's results: ``catalogue`` (mutants and cheats), ``redteam`` (or None)."""

    catalogue: CatalogueRun | None
    redteam: redteam_run.RedTeamRun | None = None


def _grader_process(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``python -m grader ARGS`` in ``cwd`` (in ``env``, default: this process's)."""
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "grader", *args],
        cwd=cwd,
        env={**(os.environ if env is None else env), "TF_CPP_MIN_LOG_LEVEL": "3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen[str], what: str) -> None:
    """Wait for a ``python -m grader`` process; raise CatalogueError if it failed."""
    output, _ = process.communicate()
    if process.returncode != 0:
        raise CatalogueError(f"python -m grader {what} failed:\n{output[-4000:]}")


def _grader(args: list[str], cwd: Path) -> None:
    _finish(_grader_process(args, cwd), args[0])


def _protected_digest(course: Path) -> dict[str, bytes]:
    """The course files no grading run may change (the gradebook is checked by ``_inflated``)."""
    files = [course / "nbgrader_config.py"]
    for folder in ("source", "release", ".grader"):
        files.extend(p for p in (course / folder).rglob("*") if p.is_file())
    return {str(p.relative_to(course)): p.read_bytes() for p in files}


def _inflated(course: Path) -> int:
    """Grades in the course's gradebook that nobody but a cheat would write."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(course / "gradebook.db")) as db:
        query = "SELECT COUNT(*) FROM grade WHERE manual_score IS NOT NULL OR auto_score > 5"
        return int(db.execute(query).fetchone()[0])


def _write(folder: Path, name: str, notebook: NotebookNode) -> None:
    (folder / name).mkdir(parents=True)
    nbformat.write(notebook, folder / name / NOTEBOOK)


def _autograde(course: Path, submissions: Path, workers: int, *options: str) -> list[str]:
    """``autograde``'s arguments: ``submissions`` into ``course``, ``workers`` at a time."""
    where = ["--course", str(course), "--submissions", str(submissions)]
    return ["autograde", *where, "--workers", str(workers), *options]


def run_catalogues(
    workdir: Path, catalogue: bool = True, redteam: bool = False, jobs: int | None = None
) -> Catalogues:
    """Release a course in ``workdir`` and grade the chosen catalogues in one batch.

    Args:
        workdir: an empty folder.
        catalogue: grade the mutants and the cheats.
        redteam: grade the red-team items (as root only).
        jobs: the batch's workers (default: ``$CATALOGUE_JOBS``, else ``WORKERS``).

    Returns:
        the runs of the catalogues graded.

    Raises:
        CatalogueError: the release or a batch failed.
    """
    jobs = jobs or int(os.environ.get("CATALOGUE_JOBS", "0")) or WORKERS
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    course, late_course = workdir / "main" / "course", workdir / "late" / "course"
    release_args = [
        "--solutions",
        str(ROOT / "solutions"),
        "--notebooks",
        str(workdir / "notebooks"),
    ]
    _grader(["release", "--course", str(course), *release_args], workdir)
    seconds["release"] = time.perf_counter() - start
    source = nbformat.read(SOURCE, as_version=4)
    release = nbformat.read(workdir / "notebooks" / NOTEBOOK, as_version=4)
    built = {m.name: build_mutant(m, source, release) for m in mutants()}
    main_batch, late_batch = workdir / "submissions", workdir / "submissions-late"
    main_batch.mkdir()
    if catalogue:
        shutil.copytree(course, late_course)
        for name, notebook in built.items():
            _write(main_batch, name, notebook)
        for cheat in cheats():
            folder = late_batch if cheat.separate_run else main_batch
            _write(folder, cheat.name, cheat.transform(built[cheat.base]))
    watch = redteam_run.write_items(workdir, built, main_batch) if redteam else None
    env = dict(os.environ)
    if watch is not None:
        env["TMPDIR"] = str(watch.scratch)
    options = ["--timeout", str(TIMEOUT_S)]
    if not redteam:
        options.append("--no-feedback")  # the red-team tests read every item's feedback too

    start = time.perf_counter()
    late = None
    if catalogue:
        before = _protected_digest(late_course)
        late_args = _autograde(late_course, late_batch, 1, "--timeout", str(TIMEOUT_S))
        late_args.append("--no-feedback")
        late = _grader_process(late_args, workdir / "late", env)
    main = _grader_process(_autograde(course, main_batch, jobs, *options), workdir / "main", env)
    output, _ = main.communicate()
    late_output = late.communicate()[0] if late is not None else ""
    seconds["autograde"] = time.perf_counter() - start
    found = Catalogues(None)
    if watch is not None:
        found.redteam = redteam_run.observe(watch, course, output, seconds)
    try:
        if main.returncode != 0:
            raise CatalogueError(f"python -m grader autograde failed:\n{output[-4000:]}")
        if late is not None and late.returncode != 0:
            raise CatalogueError(
                f"python -m grader autograde (late) failed:\n{late_output[-4000:]}"
            )
    except CatalogueError:
        if found.redteam is not None:
            redteam_run.cleanup(found.redteam)
        raise
    if not catalogue:
        return found
    intact = _protected_digest(late_course) == before and _inflated(late_course) == 0
    start = time.perf_counter()
    _grader(["export", "--course", str(course)], workdir)
    if not redteam:
        _grader(["feedback", "--course", str(course), "--student", "solution"], workdir)
    seconds["export_feedback"] = time.perf_counter() - start
    reviews = {
        path.stem: json.loads(path.read_text())
        for folder in (course, late_course)
        for path in sorted((folder / "reviews").glob("*.json"))
    }
    found.catalogue = CatalogueRun(
        reviews, intact, seconds, workdir / "notebooks" / NOTEBOOK, course
    )
    return found


def golden_table(path: Path, rows: dict[str, Any], config: pytest.Config) -> dict[str, Any]:
    """The golden table in ``path``; with ``--update-golden``, ``rows`` written there first."""
    if config.getoption("--update-golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=2) + "\n")
    return json.loads(path.read_text())


def golden_rows(run: CatalogueRun) -> dict[str, Any]:
    """The golden table's content from a run: final points per grade cell, totals, flags."""
    descriptions = {m.name: m.description for m in mutants()}
    descriptions.update({c.name: c.description for c in cheats()})

    def row(name: str) -> dict[str, Any]:
        review = run.reviews[name]
        return {
            "description": descriptions[name],
            "total": review["score"],
            "cells": {g: cell["final"] for g, cell in review["cells"].items()},
        }

    return {
        "max_score": next(iter(run.reviews.values()))["max_score"],
        "mutants": {m.name: row(m.name) for m in mutants()},
        "cheats": {
            c.name: {
                **row(c.name),
                "base": c.base,
                "needs_review": run.reviews[c.name]["needs_review"],
            }
            for c in cheats()
        },
    }
