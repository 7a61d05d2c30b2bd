"""Local Unix accounts for a course on this machine: an instructor and a few learners.

Each account is made with ``useradd`` (a home of mode 0700, so no learner reads
another's files) and marked in its GECOS field with :data:`MARK`; passwords are random
and set with ``chpasswd``. Only marked accounts are ever changed or deleted: an
existing account of the same name that this module did not make stops the start.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

MARK = "jazz-hub course account"
"""The GECOS field of every account made here."""

_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


class AccountError(RuntimeError):
    """An account cannot be made, changed or deleted."""


@dataclass(frozen=True)
class Account:
    """One user of the course.

    Attributes:
        name: the Unix user name, also the hub's user name and nbgrader's student id.
        password: what the login page asks for (PAM checks it against /etc/shadow).
        role: ``"instructor"`` or ``"learner"``.
    """

    name: str
    password: str
    role: str

    @property
    def home(self) -> Path:
        """The account's home folder."""
        return Path(pwd.getpwnam(self.name).pw_dir)


def is_ours(name: str) -> bool:
    """True when ``name`` is an account this module made."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return False
    return entry.pw_gecos.split(",")[0] == MARK


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise AccountError(f"not a Unix user name: {name!r}")


def _run(command: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(command, input=stdin, text=True, capture_output=True, check=False)
    if done.returncode != 0:
        raise AccountError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()}")


def ensure(name: str, role: str, password: str | None = None) -> Account:
    """Make the account ``name`` (or reuse one made here) and give it a new password.

    Raises:
        AccountError: not root, a bad name, or an account of that name not made here.
    """
    _check_name(name)
    if os.geteuid() != 0:
        raise AccountError("making Unix accounts needs root")
    try:
        pwd.getpwnam(name)
    except KeyError:
        _run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", MARK, name])
    if not is_ours(name):
        raise AccountError(f"the account {name!r} exists and was not made for the course")
    account = Account(name, password or secrets.token_urlsafe(9), role)
    account.home.chmod(0o700)
    _run(["chpasswd"], stdin=f"{name}:{account.password}\n")
    return account


def remove(name: str) -> None:
    """Delete an account made here, with its home folder (what its user made there).

    Raises:
        AccountError: the account exists but was not made here, or ``userdel`` failed.
    """
    _check_name(name)
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    if not is_ours(name):
        raise AccountError(f"refusing to delete {name!r}: not made for the course")
    _run(["userdel", "--remove", name])
