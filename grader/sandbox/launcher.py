"""Run a command with learner code in it inside a sandbox: ``python -m grader.jail SPEC -- CMD...``.

The batch grader (``grader.batch``) runs every process that executes learner code through
this launcher. It starts with the grader's rights and takes away, in this order, what it
can on the operating system it finds:

- **a cgroup of its own** (Linux, as root, where the memory or pids controller is mounted,
  cgroup v1 or v2): the whole sandbox, every process in it together, gets a memory limit
  and a limit on processes and threads; an out-of-memory kill in it ends the whole sandbox
  (exit status of SIGKILL), and the group is removed when the sandbox ends;
- **namespaces** (Linux; as root, or through a user namespace where the kernel allows it):
  a new PID namespace (every process the command starts dies with it, and ``/proc`` shows
  only those), a new IPC namespace (System V shared memory, semaphores and message queues
  and POSIX message queues die with the sandbox), a new network namespace holding only a
  loopback interface (the kernel talks to nbgrader over Unix sockets in its own folder;
  nothing else is reachable), and a new mount namespace in which every world-writable
  place of the system (``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/run/lock``, ...: found by
  ``world_writable_places``) is a private, empty copy and the folders the spec names (the
  course, the submissions, the solutions, other sandboxes) are covered by empty file
  systems, except the sandbox's own folders;
- **resource limits** (``setrlimit``): CPU seconds, address space, file size, processes;
- **user**: when the launcher runs as root, the command runs as the unprivileged user id
  of the spec (no supplementary groups);
- **privileges**: no new privileges (``PR_SET_NO_NEW_PRIVS``: setuid programs such as
  ``su`` run without their owner's rights) and a seccomp filter refusing system calls a
  grading job never needs (``SECCOMP_DENIED``: ptrace, keyrings, bpf, new namespaces,
  mounts, ...);
- **environment**: exactly the variables of the spec (the caller builds an allow-list).

What it achieved is written, as JSON, to the spec's status file before the command starts
(``Protections``); a protection the system refuses is recorded with the reason, never
silently assumed. The wall-clock limit is the caller's job (``run_jailed`` kills the whole
process group, and with it the PID namespace, then removes the sandbox's cgroup).

When the spec names a fork server (``grader.forkserver``) and the command is one it
serves, the launcher hands the command over: the fork server's handler takes the same
steps and runs the command in a process forked from one that has imported TensorFlow.
The launcher then only waits, passes interrupts on, and its end ends the sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import platform
import re
import resource
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import SandboxError

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

ALWAYS_HIDDEN: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
"""Shared scratch folders every sandbox gets an empty, private copy of (where they exist),
besides the other world-writable places ``world_writable_places`` finds."""

WRITABLE_SEARCH: tuple[tuple[str, int], ...] = (("/", 1), ("/var", 3), ("/run", 3), ("/dev", 2))
"""Where world-writable places are looked for, and how many levels deep."""

NEVER_SEARCHED: tuple[str, ...] = ("/proc", "/sys")

PRIVATE_TMPFS = "size=64m,nr_inodes=16384"
"""Size of each private copy of a world-writable place (the sandbox's cgroup bounds their sum)."""

_POLL = 0.2
"""Seconds between the launcher's checks that its parent (the grader) is still alive."""


@dataclass(frozen=True)
class JailSpec:
    """What the sandboxed command gets.

    Attributes:
        workdir: its working directory and home; stays visible and writable.
        env: its whole environment.
        status_file: where the launcher writes the ``Protections`` it achieved.
        cpu_seconds: CPU time limit of each process (RLIMIT_CPU), None for none.
        memory_bytes: address-space limit of each process (RLIMIT_AS), None for none.
        file_bytes: largest file it may write (RLIMIT_FSIZE), None for none.
        processes: processes and threads of its user (RLIMIT_NPROC), applied only with
            a user of its own.
        uid: the user it runs as when the launcher is root (None: stay).
        gid: that user's group.
        isolate: whether to try namespaces at all.
        hide: folders (or files) to cover, besides the world-writable places (which get
            private copies: ``ALWAYS_HIDDEN``, ``world_writable_places``).
        keep: folders under a hidden one that stay visible: (path, read-only).
        cwd: the working directory (default: ``workdir``).
        output: a file that receives the command's stdout and stderr (None: inherited).
        forkserver: the socket of a ``grader.forkserver`` that starts the commands it
            serves warm (None: the launcher starts every command itself).
        group_memory_bytes: memory of the whole sandboxed command, all its processes
            together (a cgroup's limit; root only), None for none.
        group_processes: processes and threads of the whole sandboxed command (the
            cgroup's pids.max; root only), None for none.
        seccomp: whether to refuse, with a seccomp filter, the system calls in
            ``SECCOMP_DENIED`` (and new namespaces).
    """

    workdir: str
    env: dict[str, str]
    status_file: str
    cpu_seconds: int | None = None
    memory_bytes: int | None = None
    file_bytes: int | None = None
    processes: int | None = None
    uid: int | None = None
    gid: int | None = None
    isolate: bool = True
    hide: tuple[str, ...] = ()
    keep: tuple[tuple[str, bool], ...] = ()
    cwd: str | None = None
    output: str | None = None
    forkserver: str | None = None
    group_memory_bytes: int | None = None
    group_processes: int | None = None
    seccomp: bool = True

    def to_json(self) -> str:
        """The spec as one JSON document."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> JailSpec:
        """The spec written by ``to_json``."""
        data = json.loads(text)
        data["hide"] = tuple(data.get("hide", ()))
        data["keep"] = tuple((str(p), bool(ro)) for p, ro in data.get("keep", ()))
        return cls(**data)


@dataclass
class Protections:
    """What the launcher achieved; each field says "yes ..." or why not.

    Attributes:
        network: network namespace with loopback only, or why not.
        pid: own PID namespace, or why not.
        mounts: private mounts: the world-writable places given private copies and the
            folders hidden, or why not.
        ipc: own IPC namespace (System V IPC, POSIX message queues), or why not.
        user: the user the command runs as.
        limits: the resource limits set (per process).
        cgroup: the limits set for the whole sandbox (a cgroup of its own), or why not.
        privileges: whether the command can gain privileges (setuid programs), or why.
        seccomp: the system calls a seccomp filter refuses, or why none.
        notes: anything else worth knowing (a folder that could not be hidden, ...).
        process_group: the command's process group (the caller kills it at its time limit).
    """

    network: str = "not isolated: not attempted"
    pid: str = "not isolated: not attempted"
    mounts: str = "not isolated: not attempted"
    ipc: str = "not isolated: not attempted"
    user: str = "unchanged"
    limits: dict[str, Any] = field(default_factory=dict)
    cgroup: str = "not limited: not attempted"
    privileges: str = "not restricted: not attempted"
    seccomp: str = "no filter: not attempted"
    notes: list[str] = field(default_factory=list)
    process_group: int = 0

    @property
    def network_isolated(self) -> bool:
        """Whether the command had no network but its own loopback."""
        return self.network.startswith("isolated")

    @classmethod
    def read(cls, path: Path) -> Protections | None:
        """The status a launcher wrote, or None if it wrote none (it failed before)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


# --- system calls --------------------------------------------------------------------


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _unshare(flags: int) -> None:
    _check(_libc().unshare(flags), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    libc = _libc()
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    _check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def die_with_parent() -> None:
    with contextlib.suppress(Exception):
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _loopback_up() -> None:
    """Bring up ``lo`` in a fresh network namespace (it starts down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def _enter_user_namespace(flags: int) -> None:
    """unshare with a new user namespace that maps the caller's ids to themselves."""
    uid, gid = os.getuid(), os.getgid()
    _unshare(CLONE_NEWUSER | flags)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def enter_namespaces(protections: Protections) -> bool:
    """Enter new PID, IPC, network and mount namespaces; return whether it worked.

    The caller itself is in the new IPC namespace at once (System V IPC objects the sandbox
    makes die with the last process in it); the PID namespace is its next child's.
    """
    for flags in (
        CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWNS,
        CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS,
    ):
        reasons = []
        try:
            _unshare(flags)
            _record_ipc(protections, flags)
            return True
        except OSError as error:
            reasons.append(f"unshare as uid {os.getuid()}: {error.strerror}")
        if os.geteuid() != 0:
            try:
                _enter_user_namespace(flags)
                protections.notes.append("namespaces entered through a user namespace")
                _record_ipc(protections, flags)
                return True
            except OSError as error:
                reasons.append(f"user namespace: {error.strerror}")
    why = "not isolated: " + "; ".join(reasons) + " (needs root, or user namespaces enabled)"
    protections.network = protections.pid = protections.mounts = protections.ipc = why
    return False


def _record_ipc(protections: Protections, flags: int) -> None:
    if flags & CLONE_NEWIPC:
        protections.ipc = "isolated: own IPC namespace (System V IPC, POSIX message queues)"
    else:
        protections.ipc = "not isolated: the kernel refused a new IPC namespace"


def _root_ids() -> tuple[int, ...]:
    """The owner ids root's files show here: 0, and in a user namespace that does not map
    root (the launcher's fallback without root) the kernel's overflow id as well."""
    try:
        identity = Path("/proc/self/uid_map").read_text().split() == ["0", "0", "4294967295"]
        if identity:
            return (0,)
        return (0, int(Path("/proc/sys/kernel/overflowuid").read_text()))
    except (OSError, ValueError):
        return (0,)


def _trusted_folder(info: os.stat_result, root_ids: tuple[int, ...] = (0,)) -> bool:
    """A folder only root can change (its links and entries are the system's own)."""
    return stat.S_ISDIR(info.st_mode) and info.st_uid in root_ids and not info.st_mode & 0o022


def _world_writable(path: str) -> bool:
    try:
        return bool(os.lstat(path).st_mode & 0o002)
    except OSError:
        return False


def _searched(path: str) -> bool:
    return not any(path == top or path.startswith(top + "/") for top in NEVER_SEARCHED)


def _link_target(link: str, root_ids: tuple[int, ...] = (0,)) -> str | None:
    """Where a link of the system's leads, if every folder on the way is root's alone.

    Only links found in folders only root can change are resolved (see
    ``world_writable_places``), so no learner planted them; the target's folders are
    checked too, and nothing under ``/proc`` or ``/sys`` is taken.
    """
    target = os.path.realpath(link)
    if not _searched(target):
        return None
    try:
        for folder in (*Path(link).parents, *Path(target).parents):
            if not _trusted_folder(os.lstat(folder), root_ids):
                return None
        info = os.lstat(target)
    except OSError:
        return None
    return target if stat.S_ISDIR(info.st_mode) else None


def world_writable_places(
    search: tuple[tuple[str, int], ...] = WRITABLE_SEARCH,
    always: tuple[str, ...] = ALWAYS_HIDDEN,
) -> tuple[dict[str, list[str]], list[str]]:
    """The places any user may write to, where a sandbox could leave something for later.

    Looks ``search`` levels deep (no further into a world-writable folder, never into
    ``/proc`` or ``/sys``, only into folders root alone can change, never following a link
    but to resolve one of the system's own, such as ``/var/lock -> /run/lock``).

    Returns the folders (each with the links that lead to it) and the world-writable
    files, sockets and pipes (devices such as ``/dev/null`` are not counted).
    """
    folders: dict[str, list[str]] = {}
    files: list[str] = []
    root_ids = _root_ids()

    def take(path: str, info: os.stat_result, forced: bool) -> bool:
        """Note ``path``; whether to look into it."""
        if stat.S_ISLNK(info.st_mode):
            target = _link_target(path, root_ids)
            if target is not None and (forced or _world_writable(target)):
                links = folders.setdefault(target, [])
                if path not in links:
                    links.append(path)
            return False
        if stat.S_ISDIR(info.st_mode):
            if info.st_mode & 0o002 or forced:
                folders.setdefault(path, [])
                return False
            return _trusted_folder(info, root_ids)
        kinds = stat.S_ISREG(info.st_mode) or stat.S_ISSOCK(info.st_mode)
        if info.st_mode & 0o002 and (kinds or stat.S_ISFIFO(info.st_mode)):
            files.append(path)
        return False

    def walk(folder: str, depth: int) -> None:
        try:
            with os.scandir(folder) as entries:
                names = sorted(entry.name for entry in entries)
        except OSError:
            return
        for name in names:
            path = os.path.join(folder, name)
            if not _searched(path):
                continue
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if take(path, info, False) and depth > 1:
                walk(path, depth - 1)

    for path in always:
        with contextlib.suppress(OSError):
            take(path, os.lstat(path), True)
    for top, depth in search:
        try:
            if _trusted_folder(os.lstat(top), root_ids):
                walk(top, depth)
        except OSError:
            continue
    return folders, sorted(dict.fromkeys(files))


def _private_copy(path: str) -> str:
    """Mount an empty copy of the world-writable folder ``path``; how, in words."""
    if path == "/dev/mqueue":
        # POSIX message queues: the mqueue file system of the sandbox's IPC namespace
        _mount("mqueue", path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return path + " (own mqueue)"
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"{PRIVATE_TMPFS},mode={mode:o}")
    return path


def _hide(spec: JailSpec, protections: Protections) -> None:
    """Give private copies of world-writable places; cover the hidden folders; bind the
    kept ones back. Runs inside the mount namespace."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = [(Path(p), ro) for p, ro in ((spec.workdir, False), *spec.keep) if Path(p).exists()]
    keep.sort(key=lambda item: len(item[0].parts))
    handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path, _ in keep}
    folders, files = world_writable_places()
    wanted = [(name, "private") for name in folders]
    wanted += [(name, "file") for name in files]
    wanted += [(name, "hide") for name in dict.fromkeys(spec.hide)]
    wanted.sort(key=lambda item: len(Path(item[0]).parts))
    private, covered, hidden = [], [], []
    for name, kind in wanted:
        path = Path(name)
        try:
            if kind == "private":
                if not path.is_dir() or path.is_symlink():
                    continue
                done = _private_copy(name)
                links = folders[name]
                private.append(done + (f" (also {', '.join(links)})" if links else ""))
            elif kind == "file":
                if not path.exists() or path.is_symlink():
                    continue
                _mount("/dev/null", name, None, MS_BIND)
                covered.append(name)
            elif path.is_dir() and not path.is_symlink():
                _mount("tmpfs", name, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=755")
                hidden.append(name)
            elif path.is_file():
                _mount("/dev/null", name, None, MS_BIND)
                hidden.append(name)
        except OSError as error:
            protections.notes.append(f"could not hide {path}: {error.strerror}")
    for path, read_only in keep:
        target = str(path)
        path.mkdir(parents=True, exist_ok=True)
        _mount(f"/proc/self/fd/{handles[path]}", target, None, MS_BIND | MS_REC)
        if read_only:
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        os.close(handles[path])
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        protections.pid = "isolated: own PID namespace and /proc"
    except OSError as error:
        protections.pid = f"isolated: own PID namespace (/proc not remounted: {error.strerror})"
    parts = [f"private copies of the world-writable places {', '.join(private) or '(none)'}"]
    if covered:
        parts.append("world-writable files covered by /dev/null: " + ", ".join(covered))
    parts.append("hidden " + (", ".join(hidden) or "(nothing)"))
    protections.mounts = "isolated: " + "; ".join(parts)


def _closed_to_others(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other users cannot enter, if any."""
    for folder in [*reversed(path.parents), path]:
        try:
            if not folder.stat().st_mode & 0o001:
                return folder
        except OSError:
            return None
    return None


def software_layout(
    packages: tuple[str, ...] = ("grader", "jazz_utils"),
) -> tuple[tuple[str, ...], tuple[tuple[str, bool], ...]]:
    """What a sandbox must hide and keep so that this Python and these packages run in it.

    Kept read-only: the interpreter's installation, the virtual environment and the
    packages. Hidden: a folder on their way that other users cannot enter (say ``/root``
    holding a pyenv Python: the sandbox's user could not start it), and the source tree
    of a package installed in development mode (the repository holds ``solutions/``
    and, by default, ``course/``): of that tree only the packages stay visible.
    """
    import importlib.util

    keep: dict[str, bool] = {}
    hide: dict[str, None] = {}
    base = Path(sys.executable).resolve().parent.parent
    keep[str(base)] = True
    keep[str(Path(sys.prefix).resolve())] = True
    for name in packages:
        found = importlib.util.find_spec(name)
        if found is None or not found.submodule_search_locations:
            continue
        folder = Path(next(iter(found.submodule_search_locations))).resolve()
        keep[str(folder)] = True
        if not any(part in ("site-packages", "dist-packages") for part in folder.parts):
            hide[str(folder.parent)] = None
    for path in list(keep):
        closed = _closed_to_others(Path(path))
        if closed is not None and closed != Path(path):
            hide[str(closed)] = None
    return tuple(hide), tuple(keep.items())


def _set_limits(spec: JailSpec, protections: Protections, own_user: bool) -> None:
    wanted = {
        "cpu_seconds": (resource.RLIMIT_CPU, spec.cpu_seconds),
        "memory_bytes": (resource.RLIMIT_AS, spec.memory_bytes),
        "file_bytes": (resource.RLIMIT_FSIZE, spec.file_bytes),
        "processes": (resource.RLIMIT_NPROC, spec.processes if own_user else None),
        "core_bytes": (resource.RLIMIT_CORE, 0),
    }
    for name, (which, value) in wanted.items():
        if value is None:
            continue
        try:
            resource.setrlimit(which, (value, value))
            protections.limits[name] = value
        except (OSError, ValueError) as error:
            protections.notes.append(f"limit {name} not set: {error}")


def _drop_user(spec: JailSpec, protections: Protections) -> bool:
    if spec.uid is None or os.geteuid() != 0:
        why = "not root" if spec.uid is not None else "no user given"
        protections.user = f"unchanged (uid {os.getuid()}: {why})"
        return False
    gid = spec.gid if spec.gid is not None else spec.uid
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(spec.uid, spec.uid, spec.uid)
    protections.user = f"uid {spec.uid}, gid {gid}, no supplementary groups"
    return True


# --- a cgroup per sandbox: limits for all its processes together ----------------------

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


# --- no new privileges, seccomp -------------------------------------------------------

SECCOMP_DENIED: tuple[str, ...] = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "open_by_handle_at",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
)
"""System calls the sandbox's processes get EPERM for: debugging other processes, kernel
keyrings (kept per user, they would outlive the sandbox), bpf, performance counters,
userfaultfd and io_uring (common kernel-exploit tools), new namespaces (``clone`` with a
namespace flag too), mounts and administration. ``clone3`` answers ENOSYS, as if the
kernel were older, so that the C library falls back to ``clone``, whose flags the filter
can read."""

# fmt: off
_SYSCALLS: dict[str, tuple[int, int, dict[str, int]]] = {
    # machine: (AUDIT_ARCH, seccomp's own number, the numbers of the calls above + clone)
    "x86_64": (
        0xC000003E,
        317,
        {
            "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "keyctl": 250,
            "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298,
            "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
            "io_uring_register": 427, "unshare": 272, "setns": 308, "mount": 165,
            "umount2": 166, "pivot_root": 155, "open_tree": 428, "move_mount": 429,
            "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
            "mount_setattr": 442, "open_by_handle_at": 304, "kexec_load": 246,
            "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
            "delete_module": 176, "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163,
            "quotactl": 179, "clone": 56, "clone3": 435,
        },
    ),
    "aarch64": (
        0xC00000B7,
        277,
        {
            "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "keyctl": 219,
            "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241,
            "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426,
            "io_uring_register": 427, "unshare": 97, "setns": 268, "mount": 40,
            "umount2": 39, "pivot_root": 41, "open_tree": 428, "move_mount": 429,
            "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
            "mount_setattr": 442, "open_by_handle_at": 265, "kexec_load": 104,
            "kexec_file_load": 294, "init_module": 105, "finit_module": 273,
            "delete_module": 106, "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89,
            "quotactl": 60, "clone": 220, "clone3": 435,
        },
    ),
}
# fmt: on

_NAMESPACE_FLAGS = (
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
)
_NAMESPACE_FLAGS |= CLONE_NEWNET
_X32_SYSCALL_BIT = 0x40000000
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (
        ("len", ctypes.c_ushort),
        ("filter", ctypes.POINTER(_SockFilter)),
    )


def seccomp_program(machine: str | None = None) -> list[tuple[int, int, int, int]]:
    """The filter as classic BPF instructions (code, jump if true, jump if false, k).

    Other architectures' system calls (say 32-bit ones on x86_64) get ENOSYS; the calls in
    ``SECCOMP_DENIED`` and ``clone`` with a namespace flag EPERM; ``clone3`` ENOSYS.

    Raises:
        ValueError: no table of system call numbers for this machine.
    """
    machine = machine or platform.machine()
    if machine not in _SYSCALLS:
        raise ValueError(f"no system call table for {machine}")
    arch, _, numbers = _SYSCALLS[machine]
    # (code, label if true or None, label if false or None, k); None: the next instruction
    program: list[tuple[int, str | None, str | None, int]] = [
        (_BPF_LD_W_ABS, None, None, 4),  # seccomp_data.arch
        (_BPF_JEQ_K, None, "nosys", arch),
        (_BPF_LD_W_ABS, None, None, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        program.append((_BPF_JGE_K, "nosys", None, _X32_SYSCALL_BIT))
    for name in SECCOMP_DENIED:
        program.append((_BPF_JEQ_K, "deny", None, numbers[name]))
    program += [
        (_BPF_JEQ_K, "nosys", None, numbers["clone3"]),
        (_BPF_JEQ_K, None, "allow", numbers["clone"]),
        (_BPF_LD_W_ABS, None, None, 16),  # the low half of seccomp_data.args[0]: the flags
        (_BPF_JSET_K, "deny", "allow", _NAMESPACE_FLAGS),
    ]
    labels = {"allow": len(program), "deny": len(program) + 1, "nosys": len(program) + 2}
    program += [
        (_BPF_RET_K, None, None, _SECCOMP_RET_ALLOW),
        (_BPF_RET_K, None, None, _SECCOMP_RET_ERRNO | errno.EPERM),
        (_BPF_RET_K, None, None, _SECCOMP_RET_ERRNO | errno.ENOSYS),
    ]

    def offset(index: int, label: str | None) -> int:
        return 0 if label is None else labels[label] - index - 1

    return [
        (code, offset(i, true), offset(i, false), k)
        for i, (code, true, false, k) in enumerate(program)
    ]


def _install_seccomp() -> None:
    """Install ``seccomp_program`` in this process (needs no_new_privs or CAP_SYS_ADMIN)."""
    program = seccomp_program()
    instructions = (_SockFilter * len(program))(*[_SockFilter(*op) for op in program])
    fprog = _SockFprog(len(program), instructions)
    libc = _libc()
    number = _SYSCALLS[platform.machine()][1]
    result = libc.syscall(
        ctypes.c_long(number),
        ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    if result != 0:
        code = ctypes.get_errno() if result < 0 else errno.EBUSY
        raise OSError(code, f"seccomp: {os.strerror(code)}")


def _restrict(spec: JailSpec, protections: Protections) -> None:
    """No new privileges, then the seccomp filter, in the command's own process."""
    if not sys.platform.startswith("linux"):
        protections.privileges = f"not restricted: no PR_SET_NO_NEW_PRIVS on {sys.platform}"
        protections.seccomp = f"no filter: no seccomp on {sys.platform}"
        return
    try:
        _check(_libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        protections.privileges = (
            "no new privileges: setuid and setgid programs and file capabilities give "
            "no rights (PR_SET_NO_NEW_PRIVS)"
        )
    except OSError as error:
        protections.privileges = f"not restricted: {error}"
        protections.seccomp = "no filter: it needs no_new_privs"
        return
    if not spec.seccomp:
        protections.seccomp = "no filter: turned off"
        return
    try:
        _install_seccomp()
        protections.seccomp = (
            f"filter: {len(SECCOMP_DENIED)} system calls refused (ptrace, keyrings, bpf, "
            "perf_event_open, userfaultfd, io_uring, unshare/setns and clone with a "
            "namespace flag, mounts, modules, kexec, reboot, swap); clone3 answers ENOSYS"
        )
    except (OSError, ValueError) as error:
        protections.seccomp = f"no filter: {error}"


Runner = Callable[[list[str], dict[str, str]], None]
"""Runs a command in this process (instead of ``exec``) with an environment; never returns."""


def exec_command(
    spec: JailSpec,
    command: list[str],
    fds: tuple[int, int],
    protections: Protections,
    runner: Runner | None = None,
    group: SandboxGroup | None = None,
) -> None:
    """The command's own process: group, output, limits, user, privileges, status, exec.

    Never returns. ``fds``: the status file and the output file (-1: none), both opened by
    the launcher before the namespaces hid their folder. ``runner``: run the command in
    this process instead of executing it (``grader.forkserver``). ``group``: the
    sandbox's cgroup, to join first (when no PID 1 of a namespace joined it already).
    """
    status_fd, output_fd = fds
    try:
        if group is not None:
            group.join(protections)
        if output_fd >= 0:
            os.dup2(output_fd, 1)
            os.dup2(output_fd, 2)
            os.close(output_fd)
        own_user = spec.uid is not None and os.geteuid() == 0
        _set_limits(spec, protections, own_user)
        _drop_user(spec, protections)
        _restrict(spec, protections)
        os.write(status_fd, json.dumps(asdict(protections)).encode())
        os.close(status_fd)
        os.chdir(spec.cwd or spec.workdir)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if runner is not None:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            runner(command, spec.env)
        os.execvpe(command[0], command, spec.env)
    except BaseException as error:  # the exec failed: say why, end this process
        with contextlib.suppress(Exception):
            sys.stderr.write(f"grader.jail: cannot start {command[0]}: {error}\n")
            sys.stderr.flush()
        os._exit(127)


END_LINE = "[grader.jail] the command ended: "
"""Start of the last line the launcher writes to the command's output."""


def ending(code: int) -> str:
    """How a command with exit code ``code`` ended, in words (signals by name)."""
    if code > 128:
        try:
            name = signal.Signals(code - 128).name
        except ValueError:
            name = f"signal {code - 128}"
        return f"killed by {name}"
    return f"exit status {code}"


def record_end(output_fd: int, code: int, note: str = "") -> None:
    """Append how the command ended to its output (where the caller reads it); ``note``:
    what the launcher adds (``SandboxGroup.end``: an out-of-memory kill)."""
    if output_fd < 0:
        return
    with contextlib.suppress(OSError):
        os.write(output_fd, f"\n{END_LINE}{ending(code)}{note}\n".encode())
        os.close(output_fd)


def close_fds(fds: tuple[int, ...]) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def run_as_init(
    spec: JailSpec,
    command: list[str],
    fds: tuple[int, int],
    protections: Protections,
    runner: Runner | None = None,
    group: SandboxGroup | None = None,
) -> int:
    """PID 1 of the new namespace: join the sandbox's cgroup, hide, start the command,
    reap orphans, return its exit code."""
    die_with_parent()
    if group is not None:
        group.join(protections)
    try:
        _loopback_up()
        protections.network = "isolated: own network namespace, loopback only"
    except OSError as error:
        protections.network = f"isolated: own network namespace, loopback down ({error})"
    try:
        _hide(spec, protections)
    except OSError as error:
        protections.mounts = f"not isolated: {error}"
    child = os.fork()
    if child == 0:
        exec_command(spec, command, fds, protections, runner)
    close_fds(fds)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1
        if pid == child:
            return exit_code(status)


def launch(spec: JailSpec, command: list[str]) -> int:
    """The launcher's main work (see the module docstring); returns the command's exit code."""
    # An interrupt for the kernel (jupyter_client signals the whole process group) must
    # reach the command, not end the launcher: the launcher and PID 1 ignore it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    status_fd = os.open(spec.status_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    output_fd = -1
    if spec.output:
        output_fd = os.open(spec.output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    fds = (status_fd, output_fd)
    protections = Protections(process_group=os.getpgrp())
    parent = os.getppid()
    group = SandboxGroup.create(spec, protections, os.getpid())
    entered = spec.isolate and enter_namespaces(protections)
    if not spec.isolate:
        why = "not isolated: isolation turned off"
        protections.network = protections.pid = protections.mounts = protections.ipc = why
    child = os.fork()
    if child == 0:
        if entered:
            code = 1
            try:
                code = run_as_init(spec, command, fds, protections, None, group)
            finally:
                os._exit(code)
        exec_command(spec, command, fds, protections, None, group)
    close_fds(fds[:1])
    watch_group(group, child)
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            code, note = end_group(group, exit_code(status))
            record_end(fds[1], code, note)
            return code
        if os.getppid() != parent:  # the grader died: take everything down with it
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        time.sleep(_POLL)


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.jail SPEC_FILE -- COMMAND...``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m grader.jail SPEC_FILE -- COMMAND...", file=sys.stderr)
        return 2
    text = Path(args[0]).read_text(encoding="utf-8")
    spec = JailSpec.from_json(text)
    command = args[2:]
    if spec.forkserver:
        from grader import forkserver

        if forkserver.serves(command):
            code = _delegate(spec, text, command)
            if code is not None:
                return code
    return launch(spec, command)


def _delegate(spec: JailSpec, text: str, command: list[str]) -> int | None:
    """Hand ``command`` to the fork server (``grader.forkserver``); None: it did not start it."""
    from grader import forkserver

    if spec.forkserver is None:
        return None
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    status_fd = os.open(spec.status_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    output_fd = -1
    if spec.output:
        output_fd = os.open(spec.output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    code = forkserver.delegate(spec.forkserver, text, command, (status_fd, output_fd))
    close_fds((status_fd, output_fd))
    return code


# --- the caller's side ---------------------------------------------------------------


@dataclass
class JailResult:
    """How a sandboxed command ended.

    Attributes:
        returncode: its exit code (128 + signal when a signal ended it; None: timed out).
        timed_out: whether the wall-clock limit ended it.
        seconds: its wall time.
        protections: what the launcher achieved (None: it never got that far).
    """

    returncode: int | None
    timed_out: bool
    seconds: float
    protections: Protections | None


def run_jailed(
    spec: JailSpec,
    command: list[str],
    wall_seconds: float,
    log: Path,
    spec_file: Path,
) -> JailResult:
    """Run ``command`` under ``spec``, output appended to ``log``; kill it after ``wall_seconds``.

    Args:
        spec: the sandbox.
        command: the command line (its first item is looked up on the spec's PATH).
        wall_seconds: wall-clock limit; the whole process group is killed when it is reached.
        log: receives the command's stdout and stderr.
        spec_file: where to write the spec (a file the sandbox cannot reach).

    Raises:
        SandboxError: the launcher could not be started.
    """
    spec_file.write_text(spec.to_json(), encoding="utf-8")
    launcher = [sys.executable, "-m", "grader.jail", str(spec_file), "--", *command]
    started = time.perf_counter()
    with log.open("ab") as out:
        try:
            process = subprocess.Popen(
                launcher,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=_launcher_environment(),
            )
        except OSError as error:
            raise SandboxError(f"cannot start the sandbox launcher: {error}") from error
        try:
            code: int | None = process.wait(timeout=max(wall_seconds, 1.0))
            timed_out = False
        except subprocess.TimeoutExpired:
            code, timed_out = None, True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            process.wait()
        remove_group(spec, process.pid)  # where the launcher was killed before it could
    seconds = time.perf_counter() - started
    return JailResult(code, timed_out, seconds, Protections.read(Path(spec.status_file)))


def _launcher_environment() -> dict[str, str]:
    """The launcher's own environment: enough to start Python, nothing of the grader's."""
    keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def errno_name(code: int) -> str:
    """The symbolic name of an errno value (for messages)."""
    return errno.errorcode.get(code, str(code))


if __name__ == "__main__":
    sys.exit(main())
