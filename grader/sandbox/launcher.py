"""Run a command with learner code in it inside a sandbox.

    python -m grader.sandbox.launcher SPEC -- CMD...

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

When the spec names a fork server (``grader.sandbox.forkserver``) and the command is one it
serves, the launcher hands the command over: the fork server's handler takes the same
steps and runs the command in a process forked from one that has imported TensorFlow.
The launcher then only waits, passes interrupts on, and its end ends the sandbox.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from grader.errors import SandboxError
from grader.sandbox import protocol
from grader.sandbox.cgroups import end_group, remove_group
from grader.sandbox.confine import record_end, start_sandboxed
from grader.sandbox.namespaces import close_fds
from grader.sandbox.spec import JailResult, JailSpec, Protections, exit_code

_POLL = 0.2
"""Seconds between the launcher's checks that its parent (the grader) is still alive."""


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
    child, group = start_sandboxed(spec, command, fds, protections, os.getpid())
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
    """``python -m grader.sandbox.launcher SPEC_FILE -- COMMAND...``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m grader.sandbox.launcher SPEC_FILE -- COMMAND...", file=sys.stderr)
        return 2
    text = Path(args[0]).read_text(encoding="utf-8")
    spec = JailSpec.from_json(text)
    command = args[2:]
    if spec.forkserver and protocol.serves(command):
        code = _delegate(spec, text, command)
        if code is not None:
            return code
    return launch(spec, command)


def _delegate(spec: JailSpec, text: str, command: list[str]) -> int | None:
    """Hand ``command`` to the fork server; None: it did not start it (the launcher does)."""
    if spec.forkserver is None:
        return None
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    status_fd = os.open(spec.status_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    output_fd = -1
    if spec.output:
        output_fd = os.open(spec.output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    code = protocol.delegate(spec.forkserver, text, command, (status_fd, output_fd))
    close_fds((status_fd, output_fd))
    return code


# --- the caller's side ---------------------------------------------------------------


# --- the caller's side ---------------------------------------------------------------


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
    launcher = [sys.executable, "-m", "grader.sandbox.launcher", str(spec_file), "--", *command]
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
    """The launcher's own environment: enough to start Python, nothing of the grader's.

    The folder holding this ``grader`` package comes first on its path, so the launcher
    runs the caller's own code whatever the install (a wheel, a development checkout, or
    a checkout run without installing it) and wherever the caller's working folder is.
    """
    keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


if __name__ == "__main__":
    sys.exit(main())
