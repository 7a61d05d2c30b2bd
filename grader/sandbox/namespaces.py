"""Linux namespaces for a sandbox: new PID, IPC, network and mount namespaces.

``enter_namespaces`` unshares them (as root, or through a user namespace where the kernel
allows it); PID 1 of the new namespace then brings its loopback interface up
(``loopback_up``) and sets its mounts up (``grader.sandbox.mounts``). The system-call
helpers here (``libc``, ``check``, ``mount``) are the sandbox's thin ctypes layer.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import struct
from pathlib import Path

from grader.sandbox.spec import Protections

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
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


# --- system calls --------------------------------------------------------------------


def c_library() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _unshare(flags: int) -> None:
    check(c_library().unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    libc = c_library()
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def close_fds(fds: tuple[int, ...]) -> None:
    """Close each descriptor of ``fds`` (-1: none)."""
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def die_with_parent() -> None:
    with contextlib.suppress(Exception):
        c_library().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def loopback_up() -> None:
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
