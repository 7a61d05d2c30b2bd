"""Run a command with learner code in it inside a sandbox: ``python -m grader.jail SPEC -- CMD...``.

The batch grader (``grader.batch``) runs every process that executes learner code through
this launcher. It starts with the grader's rights and takes away, in this order, what it
can on the operating system it finds:

- **namespaces** (Linux; as root, or through a user namespace where the kernel allows it):
  a new PID namespace (every process the command starts dies with it, and ``/proc`` shows
  only those), a new network namespace holding only a loopback interface (the kernel
  talks to nbgrader over Unix sockets in its own folder; nothing else is reachable), and
  a new mount namespace in
  which ``/tmp``, ``/var/tmp``, ``/dev/shm`` and the folders the spec names (the course,
  the submissions, the solutions, other sandboxes) are covered by empty file systems,
  except the sandbox's own folders;
- **resource limits** (``setrlimit``): CPU seconds, address space, file size, processes;
- **user**: when the launcher runs as root, the command runs as the unprivileged user id
  of the spec (no supplementary groups);
- **environment**: exactly the variables of the spec (the caller builds an allow-list).

What it achieved is written, as JSON, to the spec's status file before the command starts
(``Protections``); a protection the system refuses is recorded with the reason, never
silently assumed. The wall-clock limit is the caller's job (``run_jailed`` kills the whole
process group, and with it the PID namespace).

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
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import SandboxError

CLONE_NEWNS = 0x00020000
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
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

ALWAYS_HIDDEN: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm")
"""Shared scratch folders every sandbox gets an empty, private copy of."""

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
        hide: folders (or files) to cover, besides ``ALWAYS_HIDDEN``.
        keep: folders under a hidden one that stay visible: (path, read-only).
        cwd: the working directory (default: ``workdir``).
        output: a file that receives the command's stdout and stderr (None: inherited).
        forkserver: the socket of a ``grader.forkserver`` that starts the commands it
            serves warm (None: the launcher starts every command itself).
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
        mounts: private mounts hiding the listed folders, or why not.
        user: the user the command runs as.
        limits: the resource limits set.
        notes: anything else worth knowing (a folder that could not be hidden, ...).
        process_group: the command's process group (the caller kills it at its time limit).
    """

    network: str = "not isolated: not attempted"
    pid: str = "not isolated: not attempted"
    mounts: str = "not isolated: not attempted"
    user: str = "unchanged"
    limits: dict[str, Any] = field(default_factory=dict)
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
    """Enter new PID, network and mount namespaces; return whether it worked."""
    flags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS
    reasons = []
    try:
        _unshare(flags)
        return True
    except OSError as error:
        reasons.append(f"unshare as uid {os.getuid()}: {error.strerror}")
    if os.geteuid() != 0:
        try:
            _enter_user_namespace(flags)
            protections.notes.append("namespaces entered through a user namespace")
            return True
        except OSError as error:
            reasons.append(f"user namespace: {error.strerror}")
    why = "not isolated: " + "; ".join(reasons) + " (needs root, or user namespaces enabled)"
    protections.network = protections.pid = protections.mounts = why
    return False


def _hide(spec: JailSpec, protections: Protections) -> None:
    """Cover the hidden folders; bind the kept ones back. Runs inside the mount namespace."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = [(Path(p), ro) for p, ro in ((spec.workdir, False), *spec.keep) if Path(p).exists()]
    keep.sort(key=lambda item: len(item[0].parts))
    handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path, _ in keep}
    hidden = []
    names = sorted(dict.fromkeys((*ALWAYS_HIDDEN, *spec.hide)), key=lambda n: len(Path(n).parts))
    for name in names:
        path = Path(name)
        try:
            if path.is_dir() and not path.is_symlink():
                _mount("tmpfs", str(path), "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=755")
            elif path.is_file():
                _mount("/dev/null", str(path), None, MS_BIND)
            else:
                continue
            hidden.append(str(path))
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
    protections.mounts = "isolated: hidden " + ", ".join(hidden)


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


Runner = Callable[[list[str], dict[str, str]], None]
"""Runs a command in this process (instead of ``exec``) with an environment; never returns."""


def exec_command(
    spec: JailSpec,
    command: list[str],
    fds: tuple[int, int],
    protections: Protections,
    runner: Runner | None = None,
) -> None:
    """The command's own process: output, limits, user, status, exec. Never returns.

    ``fds``: the status file and the output file (-1: none), both opened by the launcher
    before the namespaces hid their folder. ``runner``: run the command in this process
    instead of executing it (``grader.forkserver``).
    """
    status_fd, output_fd = fds
    try:
        if output_fd >= 0:
            os.dup2(output_fd, 1)
            os.dup2(output_fd, 2)
            os.close(output_fd)
        own_user = spec.uid is not None and os.geteuid() == 0
        _set_limits(spec, protections, own_user)
        _drop_user(spec, protections)
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


def record_end(output_fd: int, code: int) -> None:
    """Append how the command ended to its output (where the caller reads it)."""
    if output_fd < 0:
        return
    with contextlib.suppress(OSError):
        os.write(output_fd, f"\n{END_LINE}{ending(code)}\n".encode())
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
) -> int:
    """PID 1 of the new namespace: start the command, reap orphans, return its exit code."""
    die_with_parent()
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
    entered = spec.isolate and enter_namespaces(protections)
    if not spec.isolate:
        why = "not isolated: isolation turned off"
        protections.network = protections.pid = protections.mounts = why
    child = os.fork()
    if child == 0:
        if entered:
            code = 1
            try:
                code = run_as_init(spec, command, fds, protections)
            finally:
                os._exit(code)
        exec_command(spec, command, fds, protections)
    close_fds(fds[:1])
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            code = exit_code(status)
            record_end(fds[1], code)
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
