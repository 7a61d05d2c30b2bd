"""What a sandbox is asked for and what it achieved: the launcher's data.

``JailSpec`` is what the caller asks for (written as JSON to a file the sandbox cannot
reach); ``Protections`` is what the launcher achieved, written to the spec's status file
before the command starts; ``JailResult`` is how the command ended, as the caller sees
it. The last line the launcher writes to the command's output starts with ``END_LINE``.
"""

from __future__ import annotations

import errno
import json
import os
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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
        forkserver: the socket of a ``grader.sandbox.forkserver`` that starts the commands it
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


END_LINE = "[grader.sandbox] the command ended: "
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


def exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def errno_name(code: int) -> str:
    """The symbolic name of an errno value (for messages)."""
    return errno.errorcode.get(code, str(code))
