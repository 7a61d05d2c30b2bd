"""Memory, CPU and process limits for each user's server, held by cgroup v1 groups.

JupyterHub's ``LocalProcessSpawner`` reads ``mem_limit`` and ``cpu_limit`` but enforces
neither. Here each user gets a group under ``jazz-hub/`` in the ``memory``, ``cpu`` and
``pids`` hierarchies (root only); the server process joins them before it drops to the
user's uid, so its kernels and everything they start are held too:

- ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes`` where swap is
  accounted): past it the kernel's OOM killer ends a process of the group;
- ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``: at most ``cpus`` cores of time;
- ``pids.max``: processes and threads of the group together.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "cpu", "pids")
FOLDER = "jazz-hub"
"""The default folder, in each hierarchy, that holds one group per user of a hub."""

CPU_PERIOD_US = 100_000
_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


class LimitError(RuntimeError):
    """A group cannot be made or joined (no cgroup v1 hierarchy, not root, odd name)."""


@dataclass(frozen=True)
class Limits:
    """What one user's server and its kernels may use together.

    Attributes:
        memory_bytes: resident memory (and swap) of the whole group.
        cpus: cores of CPU time (1.5 = one and a half cores).
        processes: processes and threads.
    """

    memory_bytes: int = 3 * 2**30
    cpus: float = 1.0
    processes: int = 512


def available(root: Path = CGROUP_ROOT) -> list[str]:
    """The controllers of :data:`CONTROLLERS` mounted as cgroup v1 hierarchies."""
    return [name for name in CONTROLLERS if (root / name / "cgroup.procs").exists()]


def _write(path: Path, value: str) -> None:
    path.write_text(value)


class UserGroups:
    """One hub's groups: ``ROOT/<controller>/<folder>/<user>`` for each user.

    Args:
        folder: the hub's folder in each hierarchy (:data:`FOLDER`; tests use their own,
            so that ending a test's hub never touches another's).
        root: where the cgroup v1 hierarchies are mounted.
    """

    def __init__(self, folder: str = FOLDER, root: Path = CGROUP_ROOT) -> None:
        if not _NAME.fullmatch(folder):
            raise LimitError(f"not a cgroup folder name: {folder!r}")
        self.folder = folder
        self.root = root

    def group(self, controller: str, user: str) -> Path:
        """The folder of ``user``'s group in one hierarchy."""
        if not _NAME.fullmatch(user):
            raise LimitError(f"not a Unix user name: {user!r}")
        return self.root / controller / self.folder / user

    def prepare(self, user: str, limits: Limits) -> dict[str, Path]:
        """Make (or reuse) ``user``'s groups and write ``limits`` into them.

        Returns:
            Each controller's group folder.

        Raises:
            LimitError: not root, or a controller of :data:`CONTROLLERS` is not mounted.
        """
        if os.geteuid() != 0:
            raise LimitError("cgroup limits need root (JupyterHub runs as root to switch users)")
        missing = sorted(set(CONTROLLERS) - set(available(self.root)))
        if missing:
            raise LimitError(f"cgroup v1 controllers not mounted under {self.root}: {missing}")
        groups = {name: self.group(name, user) for name in CONTROLLERS}
        for folder in groups.values():
            folder.mkdir(parents=True, exist_ok=True)
        memory = groups["memory"]
        _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
        swap = memory / "memory.memsw.limit_in_bytes"
        if swap.exists():
            _write(swap, str(limits.memory_bytes))
        cpu = groups["cpu"]
        _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write(cpu / "cpu.cfs_quota_us", str(max(1000, int(limits.cpus * CPU_PERIOD_US))))
        _write(groups["pids"] / "pids.max", str(limits.processes))
        return groups

    def joiner(self, user: str) -> Callable[[], None]:
        """A function that moves the calling process into ``user``'s groups.

        Meant for ``preexec_fn`` (after fork, before the uid changes): it only writes
        ``0`` (the caller itself) into each ``cgroup.procs``; the paths are worked out now.
        """
        files = [self.group(name, user) / "cgroup.procs" for name in CONTROLLERS]

        def join() -> None:
            for path in files:
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, b"0")
                finally:
                    os.close(fd)

        return join

    def members(self, user: str) -> set[int]:
        """Every process in any of ``user``'s groups (its server, kernels, their children)."""
        found: set[int] = set()
        for name in CONTROLLERS:
            with contextlib.suppress(OSError):
                text = (self.group(name, user) / "cgroup.procs").read_text()
                found |= {int(pid) for pid in text.split()}
        return found

    def users(self) -> list[str]:
        """The users that have a group in any hierarchy."""
        names: set[str] = set()
        for name in CONTROLLERS:
            with contextlib.suppress(OSError):
                folder = self.root / name / self.folder
                names |= {entry.name for entry in folder.iterdir() if entry.is_dir()}
        return sorted(names)

    def end(self, user: str, grace: float = 5.0) -> set[int]:
        """Stop every process of ``user``'s groups (SIGTERM, then SIGKILL); remove them.

        Returns:
            The processes still there afterwards (empty when all went well).
        """
        for signum in (signal.SIGTERM, signal.SIGKILL):
            pids = self.members(user)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
            deadline = time.monotonic() + grace
            while self.members(user) and time.monotonic() < deadline:
                time.sleep(0.1)
        left = self.members(user)
        if not left:
            for name in CONTROLLERS:
                with contextlib.suppress(OSError):
                    self.group(name, user).rmdir()
        return left

    def end_all(self) -> set[int]:
        """:meth:`end` for every user's groups, then remove the hub's folders."""
        left: set[int] = set()
        for user in self.users():
            left |= self.end(user)
        if not left:
            for name in CONTROLLERS:
                with contextlib.suppress(OSError):
                    (self.root / name / self.folder).rmdir()
        return left
