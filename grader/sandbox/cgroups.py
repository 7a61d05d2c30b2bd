"""A cgroup per sandbox: memory and process limits for all its processes together.

Made under the grader's own cgroup (v1 or v2, where the ``memory`` and ``pids``
controllers are mounted; root only). An out-of-memory kill in the group ends the whole
sandbox; the group is removed when the sandbox ends, and a group whose launcher is gone
is a leftover that the next sandbox removes (``remove_group``, ``_sweep``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.namespaces import close_fds
from grader.sandbox.spec import JailSpec, Protections

_POLL = 0.2
"""Seconds between the checks of a sandbox's group while its command runs."""

CGROUP_FOLDER = "jazz-grader"
"""The folder, under the grader's own cgroup, holding one group per running sandbox."""

_GROUP_CONTROLLERS = ("memory", "pids")
_GROUP_END_SECONDS = 5.0
"""How long the end of a sandbox waits for its group's last processes to go."""


def _size(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def group_name(status_file: str, owner: int) -> str:
    """The cgroup name of a sandbox: its status file's digest, the PID namespace of its
    launcher and the launcher's pid there.

    All are the grader's own (never learner data); ``owner``, the launcher, lives as long
    as the sandbox, so a group whose owner is gone is a leftover (``_sweep``, which judges
    only the groups of launchers in its own PID namespace).
    """
    digest = hashlib.sha256(status_file.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{digest[:16]}-{_pid_namespace()}-{owner}"


def _unescape(field_text: str) -> str:
    """A path of /proc/self/mountinfo (spaces and the like come as octal escapes)."""
    return re.sub(r"\\([0-7]{3})", lambda found: chr(int(found.group(1), 8)), field_text)


def _group_bases() -> tuple[int, dict[str, Path]]:
    """Where this process's sandbox groups go: the cgroup version and, per controller, the
    folder ``CGROUP_FOLDER`` under this process's own group (so the limits of the group
    the grader runs in still hold). Empty where no memory or pids controller is mounted.
    """
    own_v1: dict[str, str] = {}
    own_v2: str | None = None
    for line in Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines():
        number, controllers, path = line.split(":", 2)
        if number == "0" and not controllers:
            own_v2 = path
        for name in controllers.split(","):
            own_v1[name] = path
    mounts_v1: dict[str, tuple[str, str]] = {}
    mount_v2: tuple[str, str] | None = None
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        kind, root, point = fields[dash + 1], _unescape(fields[3]), _unescape(fields[4])
        if kind == "cgroup" and len(fields) > dash + 3:
            for option in fields[dash + 3].split(","):
                if option in _GROUP_CONTROLLERS:
                    mounts_v1.setdefault(option, (point, root))
        elif kind == "cgroup2" and mount_v2 is None:
            mount_v2 = (point, root)

    def inside(mount: tuple[str, str], own: str) -> Path | None:
        point, root = mount
        if root != "/" and not (own == root or own.startswith(root.rstrip("/") + "/")):
            return None
        relative = own[len(root) :] if root != "/" else own
        return Path(point) / relative.lstrip("/")

    if mount_v2 is not None and own_v2 is not None:
        own = inside(mount_v2, own_v2)
        try:
            offered = Path(own or "/nonexistent", "cgroup.controllers").read_text().split()
        except OSError:
            offered = []
        if own is not None and any(name in offered for name in _GROUP_CONTROLLERS):
            # under the grader's own group; failing that (cgroup v2 lets no group both
            # hold processes and hand controllers down), under the top of the hierarchy
            return 2, {"unified": own / CGROUP_FOLDER, "top": Path(mount_v2[0], CGROUP_FOLDER)}
    bases = {}
    for name in _GROUP_CONTROLLERS:
        if name in mounts_v1 and name in own_v1:
            own = inside(mounts_v1[name], own_v1[name])
            if own is not None:
                bases[name] = own / CGROUP_FOLDER
    return 1, bases


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _members(folder: Path) -> list[int]:
    try:
        text = (folder / "cgroup.procs").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(word) for word in text.split() if word.isdigit() and int(word) > 0]


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _empty_group(folder: Path, seconds: float = _GROUP_END_SECONDS) -> bool:
    """Kill every process in the group ``folder`` and remove it; whether it is gone."""
    deadline = time.monotonic() + seconds
    kill_file = folder / "cgroup.kill"
    while True:
        if kill_file.exists():
            with contextlib.suppress(OSError):
                _write(kill_file, "1")
        for pid in _members(folder):
            if pid != os.getpid():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        try:
            os.rmdir(folder)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
        time.sleep(0.02)


def _sweep(base: Path) -> None:
    """Remove the groups under ``base`` left by launchers that are gone (killed outright)."""
    try:
        names = [entry.name for entry in os.scandir(base) if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return
    here = _pid_namespace()
    for name in names:
        _, namespace, owner = name.split("-", 2) if name.count("-") == 2 else ("", "", "")
        if namespace == here and owner.isdigit() and not alive(int(owner)):
            _empty_group(base / name, seconds=1.0)


def _enable_controllers(folder: Path, names: list[str]) -> None:
    """Hand ``names`` down to the children of the v2 group ``folder`` (where not yet)."""
    enabled = (folder / "cgroup.subtree_control").read_text().split()
    missing = [name for name in names if name not in enabled]
    if missing:
        _write(folder / "cgroup.subtree_control", " ".join("+" + name for name in missing))


def _new_group(base: Path, name: str, controllers: list[str] | None = None) -> Path:
    """Make the group ``base/name`` (and ``base``); a leftover of that name is removed first."""
    folder = base / name
    for _ in range(5):
        try:
            with contextlib.suppress(FileExistsError):
                os.mkdir(base, 0o755)
            if controllers:
                _enable_controllers(base.parent, controllers)
                _enable_controllers(base, controllers)
            _sweep(base)
            os.mkdir(folder, 0o755)
            return folder
        except FileExistsError:
            _empty_group(folder)
        except FileNotFoundError:  # the last sandbox of another launcher removed ``base``
            continue
    raise OSError(errno.EEXIST, f"cannot make the cgroup {base / name}")


@dataclass
class SandboxGroup:
    """The cgroup(s) of one sandbox: its limits, its members, its end.

    Made by the launcher (or the fork server's handler) before the sandbox's first process
    starts; that process joins it (``join``) before it starts the command, so the command
    and everything it starts are in it; the launcher watches it for out-of-memory kills
    (``watch``) and removes it when the sandbox ends (``end``).

    The watching thread starts with the group, before the launcher enters its namespaces:
    after ``unshare(CLONE_NEWPID)`` the kernel lets a process start no more threads. Until
    ``watch`` names the sandbox's first process, it only waits.
    """

    version: int
    folders: dict[str, Path]
    memory_bytes: int | None
    processes: int | None
    join_fds: list[int] = field(default_factory=list)
    out_of_memory_seen: bool = False
    child: int = 0
    _go: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def create(cls, spec: JailSpec, protections: Protections, owner: int) -> SandboxGroup | None:
        """The sandbox's group, limits set (None where none: ``protections.cgroup`` says why)."""
        if spec.group_memory_bytes is None and spec.group_processes is None:
            protections.cgroup = "not limited: no limit for the whole sandbox was asked for"
            return None
        if os.geteuid() != 0:
            protections.cgroup = f"not limited: needs root (runs as uid {os.geteuid()})"
            return None
        if not sys.platform.startswith("linux"):
            protections.cgroup = f"not limited: no cgroups on {sys.platform}"
            return None
        group = None
        try:
            version, bases = _group_bases()
            if not bases:
                protections.cgroup = "not limited: no memory or pids cgroup controller mounted"
                return None
            group = cls(version, {}, spec.group_memory_bytes, spec.group_processes)
            group._make(bases, group_name(spec.status_file, owner))
        except (OSError, ValueError) as error:
            if group is not None:
                group.remove()
            protections.cgroup = f"not limited: cannot make a cgroup: {error}"
            return None
        protections.cgroup = group.describe()
        if "memory" in group.folders:
            group._thread = threading.Thread(target=group._guard, name="oom-guard", daemon=True)
            group._thread.start()
        return group

    def _make(self, bases: dict[str, Path], name: str) -> None:
        if self.version == 2:
            wanted, folder = self._make_v2(bases, name)
            self.folders = dict.fromkeys(wanted, folder)
            if self.memory_bytes is not None and "memory" in wanted:
                _write(folder / "memory.max", str(self.memory_bytes))
                with contextlib.suppress(OSError):
                    _write(folder / "memory.swap.max", "0")
                with contextlib.suppress(OSError):  # an OOM kill takes the whole group
                    _write(folder / "memory.oom.group", "1")
            if self.processes is not None and "pids" in wanted:
                _write(folder / "pids.max", str(self.processes))
        else:
            if self.memory_bytes is not None and "memory" in bases:
                folder = self.folders["memory"] = _new_group(bases["memory"], name)
                _write(folder / "memory.limit_in_bytes", str(self.memory_bytes))
                swap = folder / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    _write(swap, str(self.memory_bytes))
            if self.processes is not None and "pids" in bases:
                folder = self.folders["pids"] = _new_group(bases["pids"], name)
                _write(folder / "pids.max", str(self.processes))
        if not self.folders:
            raise OSError(errno.ENOENT, "neither a memory nor a pids controller to limit with")
        for folder in dict.fromkeys(self.folders.values()):
            self.join_fds.append(os.open(folder / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC))

    @staticmethod
    def _make_v2(bases: dict[str, Path], name: str) -> tuple[list[str], Path]:
        failure: OSError | None = None
        for base in dict.fromkeys((bases["unified"], bases["top"])):
            try:
                offered = (base.parent / "cgroup.controllers").read_text().split()
                wanted = [c for c in _GROUP_CONTROLLERS if c in offered]
                return wanted, _new_group(base, name, wanted)
            except OSError as error:
                failure = error
        raise failure or OSError(errno.ENOENT, "no cgroup v2 folder")

    def describe(self) -> str:
        """The limits set, in words."""
        limits = []
        if "memory" in self.folders and self.memory_bytes is not None:
            limits.append(f"memory {_size(self.memory_bytes)}")
        if "pids" in self.folders and self.processes is not None:
            limits.append(f"{self.processes} processes and threads")
        missing = [c for c in _GROUP_CONTROLLERS if c not in self.folders]
        unset = f"; no {' or '.join(missing)} controller" if missing else ""
        return (
            f"limited: {' and '.join(limits)} for the whole sandbox "
            f"(cgroup v{self.version}; an out-of-memory kill ends the sandbox{unset})"
        )

    def join(self, protections: Protections) -> None:
        """Move the calling process (the sandbox's first) into the group."""
        try:
            for fd in self.join_fds:
                os.write(fd, b"0")
        except OSError as error:
            protections.cgroup = f"not limited: could not join the sandbox's cgroup: {error}"
        finally:
            close_fds(tuple(self.join_fds))
            self.join_fds = []

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the group for lack of memory."""
        folder = self.folders.get("memory")
        if folder is None:
            return False
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (folder / name).read_text(encoding="ascii")
        except OSError:
            return False
        counts = dict(line.split(None, 1) for line in text.splitlines() if " " in line)
        return any(
            counts.get(key, "0").strip() not in ("0", "")
            for key in ("oom_kill", "oom_group_kill", "under_oom")
        )

    def watch(self, child: int) -> None:
        """In the launcher, once ``child`` (the sandbox's first process) runs: close the
        launcher's copies of the join descriptors and have the watching thread end the
        whole sandbox as soon as the kernel kills one of its processes for lack of memory.
        """
        close_fds(tuple(self.join_fds))
        self.join_fds = []
        self.child = child
        self._go.set()

    def _guard(self) -> None:
        self._go.wait()
        while not self._stop.wait(_POLL):
            if self.out_of_memory():
                self.out_of_memory_seen = True
                self.kill()
                return

    def kill(self) -> None:
        """Kill the sandbox's first process and every process in the group."""
        if self.child > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGKILL)
        for folder in dict.fromkeys(self.folders.values()):
            for pid in _members(folder):
                if pid != os.getpid():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)

    def remove(self) -> bool:
        """Kill what is left in the group and remove it; whether it is gone."""
        self._stop.set()
        self._go.set()
        close_fds(tuple(self.join_fds))
        self.join_fds = []
        gone = all([_empty_group(f) for f in dict.fromkeys(self.folders.values())])
        for folder in dict.fromkeys(self.folders.values()):
            with contextlib.suppress(OSError):  # the last sandbox of the grader's group
                os.rmdir(folder.parent)
        return gone

    def end(self, code: int) -> tuple[int, str]:
        """The sandbox has ended with ``code``: remove the group; the exit code to report
        (SIGKILL's after an out-of-memory kill) and what to add to the end line."""
        self._stop.set()
        self._go.set()
        if self._thread is not None:
            self._thread.join()
        out_of_memory = self.out_of_memory_seen or self.out_of_memory()
        gone = self.remove()
        note = "" if gone else " (its cgroup could not be removed: a process would not die)"
        if out_of_memory:
            limit = _size(self.memory_bytes) if self.memory_bytes else "its limit"
            why = f": out of memory (the whole sandbox may use {limit}; every process in it"
            return 128 + signal.SIGKILL, f"{why} was killed){note}"
        return code, note


def watch_group(group: SandboxGroup | None, child: int) -> None:
    """``SandboxGroup.watch`` where there is a group."""
    if group is not None:
        group.watch(child)


def end_group(group: SandboxGroup | None, code: int) -> tuple[int, str]:
    """``SandboxGroup.end`` where there is a group: the exit code and a note for the end line."""
    return (code, "") if group is None else group.end(code)


def remove_group(spec: JailSpec, owner: int) -> None:
    """Remove the group of the sandbox whose launcher was ``owner``, if it is still there
    (the launcher was killed outright): ``run_jailed`` calls it once the launcher is gone."""
    if os.geteuid() != 0 or (spec.group_memory_bytes is None and spec.group_processes is None):
        return
    with contextlib.suppress(OSError, ValueError):
        _, bases = _group_bases()
        for base in dict.fromkeys(bases.values()):
            folder = base / group_name(spec.status_file, owner)
            if folder.exists():
                _empty_group(folder)
            with contextlib.suppress(OSError):
                os.rmdir(base)


def peer_pid(conn: socket.socket) -> int:
    """The process at the other end of a Unix socket (the kernel's word), else this one."""
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid = struct.unpack("3i", creds)[0]
    except (OSError, AttributeError, struct.error):
        return os.getpid()
    return pid if pid > 0 else os.getpid()
