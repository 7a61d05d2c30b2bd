"""The steps that turn a process into a sandbox and start the command in it.

Shared by the launcher (``grader.sandbox.launcher``) and the fork server
(``grader.sandbox.forkserver``), which take the same steps: PID 1 of the new namespaces
(``run_as_init``: loopback, mounts, reaping orphans), then the command's own process
(``exec_command``: cgroup, output, limits, user, privileges, status, exec).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict

from grader.sandbox.cgroups import SandboxGroup, watch_group
from grader.sandbox.mounts import set_up_mounts
from grader.sandbox.namespaces import close_fds, die_with_parent, enter_namespaces, loopback_up
from grader.sandbox.seccomp import restrict
from grader.sandbox.spec import END_LINE, JailSpec, Protections, ending, exit_code


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


"""Runs a command in this process (instead of ``exec``) with an environment; never returns."""


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
    this process instead of executing it (``grader.sandbox.forkserver``). ``group``: the
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
        restrict(spec, protections)
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
            sys.stderr.write(f"grader.sandbox.launcher: cannot start {command[0]}: {error}\n")
            sys.stderr.flush()
        os._exit(127)


def record_end(output_fd: int, code: int, note: str = "") -> None:
    """Append how the command ended to its output (where the caller reads it); ``note``:
    what the launcher adds (``SandboxGroup.end``: an out-of-memory kill)."""
    if output_fd < 0:
        return
    with contextlib.suppress(OSError):
        os.write(output_fd, f"\n{END_LINE}{ending(code)}{note}\n".encode())
        os.close(output_fd)


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
        loopback_up()
        protections.network = "isolated: own network namespace, loopback only"
    except OSError as error:
        protections.network = f"isolated: own network namespace, loopback down ({error})"
    try:
        set_up_mounts(spec, protections)
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


def start_sandboxed(
    spec: JailSpec,
    command: list[str],
    fds: tuple[int, int],
    protections: Protections,
    owner: int,
    runner: Runner | None = None,
    in_child: Callable[[], None] | None = None,
) -> tuple[int, SandboxGroup | None]:
    """Set the sandbox up and start the command in a child; (its pid, the sandbox's cgroup).

    The cgroup is named after ``owner``, the launcher, which lives as long as the sandbox.
    When the namespaces could be entered, the child is PID 1 of the new PID namespace
    (``run_as_init``); otherwise it is the command's own process (``exec_command``).
    ``in_child`` runs first in the child (the fork server closes its connection there).
    The status file (``fds[0]``) is the child's alone once this returns.
    """
    group = SandboxGroup.create(spec, protections, owner)
    entered = spec.isolate and enter_namespaces(protections)
    if not spec.isolate:
        why = "not isolated: isolation turned off"
        protections.network = protections.pid = protections.mounts = protections.ipc = why
    child = os.fork()
    if child == 0:
        if in_child is not None:
            in_child()
        if entered:
            code = 1
            try:
                code = run_as_init(spec, command, fds, protections, runner, group)
            finally:
                os._exit(code)
        exec_command(spec, command, fds, protections, runner, group)
    close_fds(fds[:1])
    watch_group(group, child)
    return child, group
