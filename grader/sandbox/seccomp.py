"""No new privileges and a seccomp filter: the system calls a grading job never needs.

``restrict`` runs in the command's own process, last before it starts: it sets
``PR_SET_NO_NEW_PRIVS`` (setuid programs give no rights) and installs the filter of
``seccomp_program``, which refuses ``SECCOMP_DENIED`` and new namespaces.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys

from grader.sandbox.namespaces import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    c_library,
    check,
)
from grader.sandbox.spec import JailSpec, Protections

PR_SET_NO_NEW_PRIVS = 38

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
    libc = c_library()
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


def restrict(spec: JailSpec, protections: Protections) -> None:
    """No new privileges, then the seccomp filter, in the command's own process."""
    if not sys.platform.startswith("linux"):
        protections.privileges = f"not restricted: no PR_SET_NO_NEW_PRIVS on {sys.platform}"
        protections.seccomp = f"no filter: no seccomp on {sys.platform}"
        return
    try:
        check(c_library().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
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
