"""Where sandboxes live on a worker: scratch folders, slots, users, environments, clean-up.

Every task gets a folder under this machine's scratch base (``default_scratch_base``),
put on a tmpfs of its own as root (``mount_scratch``), and a slot of three user ids
(``slot``: the kernel, the maker, the model judge). ``sandbox_environment`` is a
sandbox's whole environment (an allow-list); ``sandbox_spec`` turns the batch's
``Limits`` into a sandbox's ``JailSpec``. ``sweep`` removes what ended tasks and fork
servers left, never following a link (``remove_tree``); ``read_small`` and
``read_json`` read what a sandbox wrote as untrusted data.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grader.errors import BatchError
from grader.sandbox import forkserver
from grader.sandbox.cgroups import alive
from grader.sandbox.limits import Limits
from grader.sandbox.software import install as install_software
from grader.sandbox.spec import JailSpec

UID_BASE = 61000
"""First user id of the sandboxes (root only): slot k of a machine uses UID_BASE + 3k, 3k + 1
and 3k + 2 (the kernel, the maker, the model judge)."""

SLOTS = 512
"""Sandbox slots per machine (tasks graded at once on one machine, at most)."""

_LOG_LIMIT = 400_000
"""Bytes of each log kept in the outcome."""


SOCKET_PATH_LIMIT = 107
"""Longest path of a Unix socket (``sun_path`` holds 108 bytes with its NUL): a kernel's
ZeroMQ sockets lie in its task folder, so that folder's path must leave room for them."""

_SHORT_BASE_LENGTH = 40
"""Longest scratch base taken from ``TMPDIR``; a longer one gives way to ``/tmp``."""


def default_scratch_base() -> Path:
    """This machine's scratch folder for sandboxes (one per user of the grader).

    It lies in the temporary folder (``TMPDIR``) unless that path is so long that a
    kernel's sockets in a task folder would not fit in a Unix socket's path; then in
    ``/tmp``.
    """
    name = f"jazz-batch-{os.geteuid()}"
    base = Path(tempfile.gettempdir()) / name
    return base if len(str(base)) <= _SHORT_BASE_LENGTH else Path("/tmp") / name


def start_warm_kernels(base: Path | None = None) -> str:
    """Start this worker process's fork server (``grader.sandbox.forkserver``) in the background.

    Returns:
        The path of its socket.
    """

    base = base or default_scratch_base()
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o711)
    hold_base(base)
    software = install_software(base)
    folder = base / "forkservers"
    folder.mkdir(mode=0o700, exist_ok=True)
    home = folder / f"home-{os.getpid()}"
    for name in ("home", "tmp"):
        (home / name).mkdir(parents=True, exist_ok=True)
    return str(forkserver.start(folder, sandbox_environment(home, software)))


_HELD: dict[str, Any] = {}
"""The shared locks this process holds on scratch folders (see ``hold_base``)."""


def hold_base(base: Path) -> None:
    """Mark ``base`` as in use by this process until it ends (a shared ``flock``)."""
    if str(base) in _HELD:
        return
    handle = (base / ".in-use").open("a")
    fcntl.flock(handle, fcntl.LOCK_SH)
    _HELD[str(base)] = handle


def sweep(base: Path | None = None, wait: float = 0.0) -> None:
    """Remove what ended grading tasks and fork servers left in ``base``.

    When no process holds ``base`` (``hold_base``; waiting up to ``wait`` seconds for
    workers that are ending), all of it goes; otherwise the task folders no task holds
    (a killed worker's) and the files of fork servers that are no longer running.
    Removal never follows a link.
    """
    base = base or default_scratch_base()
    if not base.is_dir() or base.is_symlink():
        return
    deadline = time.monotonic() + wait
    tasks = base / "tasks"
    with (base / ".in-use").open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                break
            for task in _task_folders(tasks):  # a killed worker's task file systems
                unmount(task)
            remove_tree(base)
            return
    for task in _task_folders(tasks):
        lock = tasks / f"{task.name}.held"
        with contextlib.suppress(OSError), lock.open("a") as held:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            unmount(task)
            remove_tree(task)
            lock.unlink(missing_ok=True)
    servers = base / "forkservers"
    for path in servers.iterdir() if servers.is_dir() else []:
        owner = path.name.split(".")[0].removeprefix("home-")
        if owner.isdigit() and not alive(int(owner)):
            remove_tree(path)


def _task_folders(tasks: Path) -> list[Path]:
    """The task folders under ``tasks`` (not their lock files, never a link)."""
    if not tasks.is_dir() or tasks.is_symlink():
        return []
    return [
        task
        for task in tasks.glob("task-*")
        if task.suffix != ".held" and not task.is_symlink() and task.is_dir()
    ]


MNT_DETACH = 2
"""``umount2`` flag: detach the file system now, free it when it is no longer busy."""


def mount_scratch(task: Path, size: int) -> str:
    """Put ``task`` on a file system of its own of ``size`` bytes (root only); what it got.

    Everything the sandboxes of one submission write lands there, so a submission that
    fills its disk fills only its own tmpfs (whose pages count against its sandboxes'
    memory), never the machine's disk that other submissions share.
    """
    if os.geteuid() != 0:
        return "on the machine's disk: not root"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    flags = 0x2 | 0x4  # MS_NOSUID | MS_NODEV
    options = f"size={size},mode=0711".encode()
    if libc.mount(b"tmpfs", str(task).encode(), b"tmpfs", flags, options) != 0:
        return f"on the machine's disk: mount refused ({os.strerror(ctypes.get_errno())})"
    return f"a tmpfs of its own, {size / 2**30:g} GiB"


def unmount(task: Path) -> None:
    """Detach the file system ``mount_scratch`` put on ``task``, if any."""
    if os.geteuid() == 0 and os.path.ismount(task):
        ctypes.CDLL(None, use_errno=True).umount2(str(task).encode(), MNT_DETACH)


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything under it, never following a link, however deep.

    A sandbox may leave a tree thousands of folders deep (Python's ``shutil.rmtree``
    recurses and gives up) or links to places outside: GNU ``rm`` walks it without
    recursion, stays on its file system and removes links, not what they point to.
    """
    if not os.path.lexists(path):
        return
    subprocess.run(
        ["rm", "-rf", "--one-file-system", "--", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def warm_kernels(base: Path) -> str | None:
    """The socket of this worker's fork server once it is ready (None: kernels start cold)."""

    if os.environ.get("JAZZ_GRADER_COLD_KERNELS"):
        return None
    path = start_warm_kernels(base)
    return path if forkserver.ready(Path(path)) else None


@contextlib.contextmanager
def slot(base: Path) -> Iterator[tuple[int | None, int | None, int | None]]:
    """Hold a sandbox slot of this machine: its three user ids (all None when not root)."""
    if os.geteuid() != 0:
        yield None, None, None
        return
    folder = base / "slots"
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(SLOTS):
        handle = (folder / f"{number}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        try:
            first = UID_BASE + 3 * number
            yield first, first + 1, first + 2
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise BatchError(f"all {SLOTS} sandbox slots of {socket.gethostname()} are in use")


def sandbox_environment(folder: Path, software: Path) -> dict[str, str]:
    """The whole environment of a sandbox whose home is under ``folder`` (an allow-list).

    Its own code comes from ``software`` (``grader.sandbox.software``), first on its path.
    """
    interpreter_bin = str(Path(sys.executable).parent)
    return {
        "PYTHONPATH": str(software),
        "PATH": os.pathsep.join([interpreter_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(folder / "home"),
        "TMPDIR": str(folder / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "JUPYTER_PLATFORM_DIRS": "1",
        # One worker is one core: TensorFlow's and OpenMP's thread pools stay single.
        "OMP_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
    }


def own(path: Path, uid: int | None) -> None:
    """Give ``path`` and everything under it to ``uid`` (and its group), mode 0700 on top."""
    path.chmod(0o700)
    if uid is None:
        return
    for folder, dirs, files in os.walk(path):
        os.chown(folder, uid, uid)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


def read_tail(path: Path, limit: int = _LOG_LIMIT) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def read_small(path: Path, limit: int) -> bytes | None:
    """A file a sandbox wrote, if it is a plain file (never a link) of at most ``limit`` bytes."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        found = os.fstat(descriptor)
        if not stat.S_ISREG(found.st_mode) or found.st_size > limit:
            return None  # a folder, a pipe, a device planted where a result belongs
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    return data if len(data) <= limit else None


def read_json(path: Path, limit: int) -> Any:
    """A JSON file a sandbox wrote (a plain file of at most ``limit`` bytes), or None."""
    data = read_small(path, limit)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def sandbox_spec(
    folder: Path,
    cwd: Path,
    uid: int | None,
    private: Path,
    name: str,
    limits: Limits,
    hide: tuple[str, ...],
    keep: tuple[tuple[str, bool], ...],
    env: dict[str, str] | None = None,
    forkserver: str | None = None,
) -> JailSpec:
    return JailSpec(
        workdir=str(folder),
        cwd=str(cwd),
        env=env or sandbox_environment(folder),
        status_file=str(private / f"{name}.status.json"),
        cpu_seconds=limits.cpu_seconds,
        memory_bytes=limits.memory_bytes,
        file_bytes=limits.file_bytes,
        processes=limits.processes,
        uid=uid,
        gid=uid,
        hide=hide,
        keep=keep,
        output=str(private / f"{name}.log"),
        forkserver=forkserver,
        group_memory_bytes=limits.sandbox_memory,
        group_processes=limits.processes,
    )
