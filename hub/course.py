"""The course on the hub: nbgrader's exchange, each role's Jupyter configuration, the
instructor's course folder with the learners in its gradebook.

The exchange is nbgrader's default (a folder every server can reach), with the modes
nbgrader's documentation gives: the root world-writable with the sticky bit (0o1777,
owned by root); under it the course's folder (0o755), ``outbound`` (0o755, learners
fetch from it), ``inbound`` (0o2733: learners write their submission but cannot list
or read anyone's) and ``feedback`` (0o711: a learner reads only the file whose name is
the digest of their own submission), all owned by the instructor, who releases and
collects.

Each role has a folder on ``JUPYTER_CONFIG_PATH`` (:func:`write_jupyter_configs`):
``nbgrader_config.py`` with the exchange and the course id for everyone; the server's
extensions and JupyterLab's disabled plugins, so that learners get the Assignment List
and Validate but neither formgrader nor the course list nor the Create Assignment
tool. A learner could switch formgrader back on in their own ``~/.jupyter``; it would
show nothing: the course folder is in the instructor's home (mode 0700).
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from collections.abc import Sequence
from pathlib import Path

from grader.rubric import COURSE_ID

EXCHANGE_MODES = {"": 0o755, "outbound": 0o755, "inbound": 0o2733, "feedback": 0o711}
"""Mode of the course's folder in the exchange and of each folder inside it."""

#: nbgrader's server extensions, on or off for each role.
SERVER_EXTENSIONS = {
    "instructor": {
        "nbgrader.server_extensions.formgrader": True,
        "nbgrader.server_extensions.assignment_list": True,
        "nbgrader.server_extensions.validate_assignment": True,
        "nbgrader.server_extensions.course_list": True,
    },
    "learner": {
        "nbgrader.server_extensions.formgrader": False,
        "nbgrader.server_extensions.assignment_list": True,
        "nbgrader.server_extensions.validate_assignment": True,
        "nbgrader.server_extensions.course_list": False,
    },
}

#: nbgrader's JupyterLab plugins a learner has no use for (their menu entries go too).
LEARNER_DISABLED_PLUGINS = {
    "@jupyter/nbgrader:formgrader": True,
    "@jupyter/nbgrader:course-list": True,
    "@jupyter/nbgrader:create-assignment": True,
}
#: For every role: no pop-ups asking the internet for news.
COMMON_DISABLED_PLUGINS = {"@jupyterlab/apputils-extension:announcements": True}


class CourseSetupError(RuntimeError):
    """The exchange or the course folder cannot be made."""


def _owner(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _folder(path: Path, mode: int, uid: int, gid: int) -> None:
    if path.is_symlink():
        raise CourseSetupError(f"{path} is a symbolic link")
    path.mkdir(exist_ok=True)
    os.chown(path, uid, gid)
    path.chmod(mode)  # mkdir's mode passes through the umask; chmod sets it exactly


def make_exchange(root: Path, instructor: str, course_id: str = COURSE_ID) -> Path:
    """Make nbgrader's exchange at ``root`` with the course's folders (modes above).

    Returns:
        The course's folder in the exchange (``root/course_id``).
    """
    root.mkdir(parents=True, exist_ok=True)
    _folder(root, 0o1777, 0, 0)
    uid, gid = _owner(instructor)
    course = root / course_id
    for name, mode in EXCHANGE_MODES.items():
        _folder(course / name if name else course, mode, uid, gid)
    return course


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)


def nbgrader_config_text(exchange: Path, course_root: Path | None) -> str:
    """The system-wide ``nbgrader_config.py``: the exchange, the course id (and folder)."""
    lines = [
        '"""nbgrader on the course hub (written by hub/course.py)."""',
        "c = get_config()  # noqa: F821",
        f"c.Exchange.root = {str(exchange)!r}",
        f"c.CourseDirectory.course_id = {COURSE_ID!r}",
    ]
    if course_root is not None:
        lines.append(f"c.CourseDirectory.root = {str(course_root)!r}")
    return "\n".join(lines) + "\n"


def write_jupyter_configs(folder: Path, exchange: Path, course_root: Path) -> dict[str, Path]:
    """Write one Jupyter configuration folder per role under ``folder``.

    Returns:
        Each role's folder, for its servers' ``JUPYTER_CONFIG_PATH``.
    """
    made = {}
    for role, extensions in SERVER_EXTENSIONS.items():
        target = folder / role
        instructor = role == "instructor"
        _write(
            target / "nbgrader_config.py",
            nbgrader_config_text(exchange, course_root if instructor else None),
        )
        server = {"ServerApp": {"jpserver_extensions": extensions}}
        _write(target / "jupyter_server_config.json", json.dumps(server, indent=2) + "\n")
        disabled = dict(COMMON_DISABLED_PLUGINS)
        if not instructor:
            disabled |= LEARNER_DISABLED_PLUGINS
        page = {"disabledExtensions": disabled}
        _write(target / "labconfig" / "page_config.json", json.dumps(page, indent=2) + "\n")
        for path in (folder, target, target / "labconfig"):
            path.chmod(0o755)
        made[role] = target
    return made


def as_user(
    user: str,
    command: Sequence[str],
    cwd: Path,
    bin_dir: Path,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as ``user`` (``runuser``) in ``cwd``, ``bin_dir`` first on PATH.

    The environment is made from nothing but ``PATH``, ``HOME``, ``USER``, ``LANG`` and
    ``env``: none of the caller's (root's) variables reach the user's command.
    """
    entry = pwd.getpwnam(user)
    environment = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": entry.pw_dir,
        "USER": user,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        **(env or {}),
    }
    return subprocess.run(
        [
            "runuser",
            "-u",
            user,
            "--",
            "env",
            *(f"{k}={v}" for k, v in environment.items()),
            *command,
        ],
        cwd=cwd,
        text=True,
        capture_output=True,
        check=False,
    )


def prepare_course(
    course_root: Path,
    instructor: str,
    learners: Sequence[str],
    python: Path,
    repository: Path,
    config_path: Path,
) -> None:
    """Generate the course in ``course_root`` (unless it has a gradebook already) and put
    the learners in its gradebook.

    The course is generated from ``repository/solutions`` by ``python -m grader
    release`` (as root, with ``python`` and the repository's code), then handed to the
    instructor, who adds each learner with ``nbgrader db student add``. Nothing is
    released to the exchange: that is the instructor's first step (README.md, "Teaching
    a course").

    Raises:
        CourseSetupError: a command failed.
    """
    if (course_root / "gradebook.db").exists():
        add_students(course_root, instructor, learners, python, config_path)
        return
    uid, gid = _owner(instructor)
    course_root.parent.mkdir(parents=True, exist_ok=True)
    student_copy = course_root / ".student-copy"
    done = subprocess.run(
        [
            str(python),
            "-m",
            "grader",
            "release",
            "--course",
            str(course_root),
            "--solutions",
            str(repository / "solutions"),
            "--notebooks",
            str(student_copy),
        ],
        cwd=repository,
        env={**os.environ, "PYTHONPATH": str(repository)},
        text=True,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise CourseSetupError(f"python -m grader release failed:\n{done.stdout}{done.stderr}")
    chown_tree(course_root, uid, gid)
    course_root.chmod(0o700)
    add_students(course_root, instructor, learners, python, config_path)


def add_students(
    course_root: Path,
    instructor: str,
    learners: Sequence[str],
    python: Path,
    config_path: Path,
) -> None:
    """Add each learner to the course's gradebook (``nbgrader db student add``, as the
    instructor; a learner already there is kept as is).

    Raises:
        CourseSetupError: nbgrader failed.
    """
    for learner in learners:
        added = as_user(
            instructor,
            [str(python), "-m", "nbgrader", "db", "student", "add", learner],
            cwd=course_root,
            bin_dir=python.parent,
            env={"JUPYTER_CONFIG_PATH": str(config_path)},
        )
        if added.returncode != 0:
            raise CourseSetupError(
                f"nbgrader db student add {learner} failed:\n{added.stdout}{added.stderr}"
            )


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give ``root`` and everything under it to ``uid``:``gid``, never following links."""
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)
