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

import datetime as dt
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import Course, grading_environment, run_nbgrader
from grader.errors import ExchangeError
from grader.rubric import ASSIGNMENT_ID, COURSE_ID, NOTEBOOK_NAME, STUDENT_ID

EXCHANGE_TIMEOUT = 600
"""Seconds one exchange command may run (copies only)."""
STAGING = ".feedback-release"
"""Where feedback is staged for nbgrader's release_feedback, relative to the course."""
CARRIED = ("timestamp.txt", "submission_secret.txt")
"""The files of a collected submission nbgrader's release_feedback reads beside the HTML."""
MAX_FEEDBACK_BYTES = 50_000_000
"""The largest feedback page released (the notebook's own limit)."""
MAX_NOTEBOOK_BYTES = 50_000_000
"""The largest notebook collected (the batch grader's intake takes no larger)."""
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


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


@dataclass
class Collected:
    """What ``collect`` took from the exchange.

    Attributes:
        students: the learners whose latest submission is now in ``submitted/``, sorted.
        refused: one line per inbound entry left alone, and why (never the entry's
            content; its name only when it is a valid learner id).
    """

    students: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def configured_root(course: Course) -> Path:
    """nbgrader's ``Exchange.root`` as nbgrader itself reads it for ``course``."""
    done = subprocess.run(
        [sys.executable, "-c", _READ_ROOT, str(course.root.resolve())],
        cwd=course.root,
        env=grading_environment(),
        capture_output=True,
        text=True,
        timeout=EXCHANGE_TIMEOUT,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise ExchangeError(f"could not read nbgrader's Exchange.root:\n{done.stderr[-2000:]}")
    return Path(lines[-1])


_READ_ROOT = """
import sys
from nbgrader.apps.collectapp import CollectApp
from nbgrader.exchange.default.exchange import Exchange
app = CollectApp()
app.initialize([f"--CourseDirectory.root={sys.argv[1]}"])
print(Exchange(coursedir=app.coursedir, authenticator=None, config=app.config).root)
"""


def collect(course: Course, exchange: Path | None) -> Collected:
    """Copy every learner's latest submission into ``course/submitted/<id>/jazz_solo/``.

    nbgrader's own ``collect`` believes the inbound folder's name (``<id>+<assignment>+
    <time>``), which the learner wrote, and copies with links followed. Here, without
    following a link anywhere:

    - an entry counts for the learner its name gives only when that learner's Unix
      account owns it (or root, or the user collecting: nobody else can make such files);
      one learner cannot hand in, or replace, work under another's name;
    - its time is when the exchange saw it arrive: the latest inode change time of the
      entry and its files, which no learner can set back (the time in its name and its
      ``timestamp.txt`` are the learner's claim). That time is what ``timestamp.txt`` in
      ``submitted/`` holds, so late penalties rest on it;
    - of a learner's entries the latest one is taken; it replaces what was collected before.

    Returns:
        A :class:`Collected`.

    Raises:
        CourseError: the course is not released.
        ExchangeError: the exchange's inbound folder cannot be read.
    """
    course.require_released()
    root = exchange.resolve() if exchange is not None else configured_root(course)
    inbound = root / COURSE_ID / "inbound"
    result = Collected()
    latest: dict[str, tuple[float, str]] = {}
    try:
        inbound_fd = os.open(inbound, _DIR_FLAGS)
    except OSError as error:
        raise ExchangeError(
            f"cannot read the exchange's inbound folder {inbound}: {error}"
        ) from None
    try:
        for name in sorted(os.listdir(inbound_fd)):
            student, why = _claimed_by(name, inbound_fd)
            if student is None:
                result.refused.append(why)
                continue
            try:
                arrived = _arrival(name, inbound_fd)
            except OSError as error:
                result.refused.append(f"{student}: an entry could not be read ({error.strerror})")
                continue
            if student not in latest or arrived > latest[student][0]:
                latest[student] = (arrived, name)
        for student, (arrived, name) in sorted(latest.items()):
            problem = _copy_entry(course, student, name, inbound_fd, arrived)
            if problem:
                result.refused.append(f"{student}: {problem}")
            else:
                result.students.append(student)
    finally:
        os.close(inbound_fd)
    return result


def _claimed_by(name: str, inbound_fd: int) -> tuple[str | None, str]:
    """The learner an inbound entry counts for, or None and why not."""
    parts = name.split("+")
    if len(parts) < 3 or parts[1] != ASSIGNMENT_ID:
        return None, "an entry not named <id>+jazz_solo+<time> was left alone"
    student = parts[0]
    if not STUDENT_ID.fullmatch(student):
        return None, "an entry whose name is not a learner id was left alone"
    try:
        info = os.lstat(name, dir_fd=inbound_fd)
    except OSError:
        return None, f"{student}: an entry vanished while collecting"
    if not stat.S_ISDIR(info.st_mode):
        return None, f"{student}: an entry that is not a folder was left alone"
    if info.st_uid not in (0, os.geteuid(), _uid_of(student)):
        return None, f"{student}: an entry made by another user was left alone (needs review)"
    return student, ""


def _uid_of(student: str) -> int | None:
    try:
        return pwd.getpwnam(student).pw_uid
    except KeyError:
        return None


def _arrival(name: str, inbound_fd: int) -> float:
    """The latest inode change time of an entry and of what it holds, links not followed."""
    fd = os.open(name, _DIR_FLAGS, dir_fd=inbound_fd)
    try:
        latest = os.fstat(fd).st_ctime
        for child in os.listdir(fd):
            latest = max(latest, os.lstat(child, dir_fd=fd).st_ctime)
        return latest
    finally:
        os.close(fd)


def _copy_entry(course: Course, student: str, name: str, inbound_fd: int, arrived: float) -> str:
    """Copy the notebook and the secret of one entry into ``submitted/``; a problem or ''."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=inbound_fd)
    except OSError as error:
        return f"its entry could not be opened ({error.strerror})"
    try:
        notebook = _read_regular(f"{NOTEBOOK_NAME}.ipynb", fd, MAX_NOTEBOOK_BYTES)
        secret = _read_regular("submission_secret.txt", fd, 4096)
    finally:
        os.close(fd)
    if notebook is None:
        return f"no readable {NOTEBOOK_NAME}.ipynb of at most {MAX_NOTEBOOK_BYTES} bytes"
    target = course.submitted_dir(student)
    if target.is_symlink() or target.parent.is_symlink():
        return "its folder in submitted/ is a link"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / f"{NOTEBOOK_NAME}.ipynb").write_bytes(notebook)
    when = dt.datetime.fromtimestamp(arrived, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    (target / "timestamp.txt").write_text(when + "\n")
    if secret is not None:
        (target / "submission_secret.txt").write_bytes(secret)
    return ""


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


def _read_regular(name: str | Path, dir_fd: int | None, limit: int) -> bytes | None:
    """The bytes of the regular file ``name`` (in ``dir_fd``, if given) of at most ``limit``
    bytes, read without following a link or waiting on a pipe; None for anything else."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        data = handle.read(limit + 1)
    return data if len(data) <= limit else None


def _small_file(path: Path, limit: int = 4096) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes (see ``_read_regular``)."""
    return _read_regular(path, None, limit)


def _destination(output: str) -> str:
    """nbgrader's ``Destination: ...`` or ``Feedback released to: ...`` lines, one per line."""
    lines = re.findall(r"(?:Destination|released to|Releasing feedback)[^\n]*", output)
    return "\n".join(dict.fromkeys(lines)) or "(nbgrader said nothing of where)"
