"""nbgrader's exchange for this course: release to it, collect from it, return feedback.

On a shared server (JupyterHub) learners fetch the assignment, submit it and fetch their
feedback in JupyterLab's Assignment List, through nbgrader's exchange: a folder every
user can reach (``Exchange.root``; ``<root>/<course_id>/outbound``, ``inbound`` and
``feedback``). The instructor's side is here, run by ``python -m grader``:

- ``release_assignment``: the course's ``release/`` (made by ``python -m grader release``)
  into ``outbound/``, replacing an earlier release;
- ``collect``: ``inbound/`` into ``course/submitted/<id>/jazz_solo/``, a learner's newer
  submission replacing the older one; ``python -m grader autograde --submissions
  course/submitted`` grades that folder in sandboxes;
- ``release_feedback``: ``course/feedback/`` into ``feedback/``, where each learner's
  Assignment List finds the HTML of what they submitted (nbgrader matches it by the secret
  the submission carried).

The exchange's root is the one given (``--exchange DIR``) or, without one, nbgrader's own
configuration's (``c.Exchange.root`` in a ``nbgrader_config.py`` on Jupyter's config path,
such as ``/etc/jupyter/``, which learners' servers read too). Nothing here runs learner
code; nbgrader's commands run on the course folder as the grader does elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

from grader.course import Course, run_nbgrader
from grader.errors import ExchangeError
from grader.rubric import ASSIGNMENT_ID, NOTEBOOK_NAME

EXCHANGE_TIMEOUT = 600
"""Seconds one exchange command may run (copies only)."""
STAGING = ".feedback-release"
"""Where feedback is staged for nbgrader's release_feedback, relative to the course."""
CARRIED = ("timestamp.txt", "submission_secret.txt")
"""The files of a collected submission nbgrader's release_feedback reads beside the HTML."""
MAX_FEEDBACK_BYTES = 50_000_000
"""The largest feedback page released (the notebook's own limit)."""


def _exchange_args(exchange: Path | None) -> list[str]:
    """nbgrader's option for ``exchange``; none: nbgrader's configuration decides."""
    return [] if exchange is None else [f"--Exchange.root={exchange.resolve()}"]


def _run(course: Course, args: list[str], exchange: Path | None, what: str) -> str:
    """Run ``nbgrader ARGS`` on the course with the exchange; its output, or ExchangeError."""
    course.logs_dir.mkdir(parents=True, exist_ok=True)
    done = run_nbgrader(
        course.root,
        [*args, *_exchange_args(exchange)],
        log=course.logs_dir / "exchange.log",
        timeout=EXCHANGE_TIMEOUT,
    )
    if done.returncode != 0:
        raise ExchangeError(f"nbgrader {args[0]} failed ({what}):\n{done.stdout[-3000:]}")
    return done.stdout


def release_assignment(course: Course, exchange: Path | None) -> str:
    """Put the course's release into the exchange's ``outbound/``, replacing an earlier one.

    Returns:
        nbgrader's own words on where it went.

    Raises:
        CourseError: the course is not released (run ``python -m grader release``).
        ExchangeError: nbgrader could not write to the exchange.
    """
    course.require_released()
    out = _run(course, ["release_assignment", ASSIGNMENT_ID, "--force"], exchange, "release")
    return _destination(out)


def collect(course: Course, exchange: Path | None) -> list[str]:
    """Copy every learner's latest submission into ``course/submitted/<id>/jazz_solo/``.

    A submission newer than the one already collected replaces it (``--update``).

    Returns:
        The ids of the learners whose submission is now in ``submitted/``, sorted.

    Raises:
        CourseError: the course is not released.
        ExchangeError: nbgrader could not read the exchange.
    """
    course.require_released()
    _run(course, ["collect", ASSIGNMENT_ID, "--update"], exchange, "collect")
    submitted = course.root / "submitted"
    return sorted(
        p.parent.name
        for p in submitted.glob(f"*/{ASSIGNMENT_ID}")
        if p.is_dir() and not p.is_symlink()
    )


def release_feedback(
    course: Course, exchange: Path | None, student: str | None = None
) -> tuple[str, list[str]]:
    """Put the HTML feedback of ``course/feedback/`` into the exchange for learners to fetch.

    nbgrader finds a learner's feedback by the secret their submission carried
    (``submission_secret.txt``) and names it by its timestamp; both came in with
    ``collect`` and stay in ``submitted/``, while the batch grader's feedback folders hold
    only the HTML. So each learner's HTML is staged with those two files
    (``.feedback-release/``, removed after) and released from there. Feedback of a learner whose
    submission did not come through the exchange (no secret) is left out and named.

    Returns:
        nbgrader's words on where it went, and the ids left out.

    Raises:
        CourseError: the course is not released.
        ExchangeError: nbgrader could not write to the exchange.
    """
    course.require_released()
    staging = course.root / STAGING
    if staging.exists():
        shutil.rmtree(staging)
    html_name = f"{NOTEBOOK_NAME}.html"
    released, left_out = [], []
    for html in sorted((course.root / "feedback").glob(f"*/{ASSIGNMENT_ID}/{html_name}")):
        learner = html.parent.parent.name
        if student and learner != student:
            continue
        carried = {n: _small_file(course.submitted_dir(learner) / n) for n in CARRIED}
        page = _small_file(html, limit=MAX_FEEDBACK_BYTES)
        if page is None or None in carried.values():
            left_out.append(learner)
            continue
        folder = staging / learner / ASSIGNMENT_ID
        folder.mkdir(parents=True)
        (folder / html_name).write_bytes(page)
        for name, data in carried.items():
            (folder / name).write_bytes(data or b"")
        released.append(learner)
    if not released:
        return "(no feedback to release)", left_out
    args = ["release_feedback", ASSIGNMENT_ID, f"--CourseDirectory.feedback_directory={STAGING}"]
    try:
        out = _run(course, args, exchange, "feedback")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _destination(out), left_out


def _small_file(path: Path, limit: int = 4096) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes, read without following a
    link; None for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        data = handle.read(limit + 1)
    return data if len(data) <= limit else None


def _destination(output: str) -> str:
    """nbgrader's ``Destination: ...`` or ``Feedback released to: ...`` lines, one per line."""
    lines = re.findall(r"(?:Destination|released to|Releasing feedback)[^\n]*", output)
    return "\n".join(dict.fromkeys(lines)) or "(nbgrader said nothing of where)"
