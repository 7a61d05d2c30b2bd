"""Warm kernels: a process that has imported TensorFlow forks each sandboxed kernel.

A notebook kernel spends about 3.5 s of CPU importing TensorFlow, Keras and jazz_utils
before it runs a single grade cell; plain ``nbgrader autograde`` pays that for every
submission. The batch grader pays it once per worker: each Dask worker starts one fork
server (``python -m grader.forkserver SOCKET``) that imports those modules and then
waits on a Unix socket in a folder only the grader can open. For every kernel:

1. jupyter_client starts the sandbox launcher (``python -m grader.jail SPEC -- python -m
   ipykernel_launcher -f ...``), a small process that imports none of that;
2. the launcher sees ``JailSpec.forkserver`` and hands the request (the spec, the command,
   its status and output files as descriptors) to the fork server (``delegate``);
3. the fork server forks a handler, which sets the sandbox up exactly as the launcher
   would (``grader.jail``: namespaces, hidden folders, limits, user, environment) and runs
   ``ipykernel_launcher`` in the forked process instead of executing a new Python;
4. the launcher waits and returns the kernel's exit status; an interrupt it receives is
   passed on; when the launcher ends (the kernel's manager or the batch's watchdog killed
   it), the handler kills the whole sandbox.

The fork server runs no learner code and holds nothing of the course: only imported
modules. Every kernel is a fresh copy of it. Where the server is missing or does not
answer, the launcher starts the kernel itself, as before (the kernel is only slower).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PRELOAD: tuple[str, ...] = (
    "numpy",
    "tensorflow",
    "keras",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "jazz_utils",
    "jazz_utils.checks",
    "jazz_utils.audio",
    "jazz_utils.chords",
    "jazz_utils.data",
    "jazz_utils.generate",
    "jazz_utils.metrics",
    "jazz_utils.plots",
    "grader.hidden",
    "grader.maker",
    "grader.modelrun",
)
"""What the notebook's imports cell and grade cells import, and what the clean room's
sandboxes run: loaded once, in the server, from the sandboxes' own copy of the code
(``grader.software``: the server starts with that copy first on its path)."""

MODULES: tuple[str, ...] = ("ipykernel_launcher", "grader.maker", "grader.modelrun")
"""The commands the fork server runs, ``python -m MODULE ...``: a notebook's kernel, the
clean room's maker (which forks its children in turn) and the model judge."""

READY_SECONDS = 60.0
"""How long a worker waits for its fork server to finish importing."""

_HEADER = struct.Struct("!I")
_MAX_REQUEST = 1 << 20


def serves(command: list[str]) -> bool:
    """Whether the fork server can start ``command`` (this Python, one of ``MODULES``)."""
    if len(command) < 3 or command[1] != "-m" or command[2] not in MODULES:
        return False
    program = command[0]
    if program in ("python", "python3"):
        return True
    with contextlib.suppress(OSError):
        return Path(program).resolve() == Path(sys.executable).resolve()
    return False


# --- the launcher's side -------------------------------------------------------------


def _send(conn: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    payload = _HEADER.pack(len(data)) + data
    if fds:
        socket.send_fds(conn, [payload], fds)
    else:
        conn.sendall(payload)


def _receive(conn: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any] | None, list[int]]:
    """One message (None at the end of the connection) and the descriptors sent with it."""
    if max_fds:
        head, fds, _, _ = socket.recv_fds(conn, _HEADER.size, max_fds)
    else:
        head, fds = conn.recv(_HEADER.size), []
    if len(head) < _HEADER.size:
        for fd in fds:
            os.close(fd)
        return None, []
    (size,) = _HEADER.unpack(head)
    if size > _MAX_REQUEST:
        raise ValueError(f"a message of {size} bytes")
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None, fds
        data += chunk
    return json.loads(data), fds


def delegate(path: str, spec_json: str, command: list[str], fds: tuple[int, int]) -> int | None:
    """Have the fork server at ``path`` run ``command`` under the spec; its exit status.

    ``fds`` are the status and output files (-1: none); they stay the caller's to close.
    Returns None when the server cannot be reached or fails before the command starts:
    the caller then starts the command itself, so a fault of the fork server never
    counts against a submission.
    """
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        return None
    request = {
        "spec": spec_json,
        "command": command,
        "process_group": os.getpgrp(),
        "fds": [fd >= 0 for fd in fds],
    }
    try:
        _send(conn, request, [fd for fd in fds if fd >= 0])
    except OSError:
        conn.close()
        return None

    def forward(signum: int, frame: Any) -> None:
        with contextlib.suppress(OSError):
            _send(conn, {"signal": signum})

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    started = False
    while True:
        try:
            message, _ = _receive(conn)
        except InterruptedError:
            continue
        except (OSError, ValueError):
            message = None
        if message is None:
            conn.close()
            if started:  # the handler died, and the sandbox with it
                return 128 + signal.SIGKILL
            for signum in (signal.SIGTERM, signal.SIGHUP):  # the caller starts the command
                signal.signal(signum, signal.SIG_DFL)
            return None
        if message.get("started"):
            started = True
        if "exit" in message:
            conn.close()
            return int(message["exit"])


# --- the server's side ---------------------------------------------------------------


def _run_module(command: list[str], env: dict[str, str]) -> None:
    """Run ``python -m MODULE ARGS`` in this forked, sandboxed process (never returns)."""
    import runpy

    code = 0
    try:
        os.environ.clear()
        os.environ.update(env)
        sys.argv = [command[2], *command[3:]]
        sys.path[0] = os.getcwd()
        if command[2].startswith("grader."):  # imported already: run its main, not a copy
            code = importlib.import_module(command[2]).main(command[3:])
        else:
            runpy.run_module(command[2], run_name="__main__", alter_sys=True)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException as error:  # the module failed: say so in the sandbox's log
        with contextlib.suppress(Exception):
            sys.stderr.write(f"grader.forkserver: {command[2]} failed: {error!r}\n")
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    os._exit(code)


def _handle(conn: socket.socket) -> int:
    """One command: set its sandbox up, run it, watch the launcher; the command's exit status.

    A request for a command this server does not serve is refused before anything starts
    (the launcher then starts it itself).
    """
    from grader import jail

    message, received = _receive(conn, max_fds=2)
    if message is None or not serves([str(part) for part in message.get("command", [])]):
        for fd in received:
            os.close(fd)
        return 1
    flags = list(message.get("fds", [False, False]))
    queue = list(received)
    status_fd = queue.pop(0) if flags[0] and queue else -1
    output_fd = queue.pop(0) if flags[1] and queue else -1
    spec = jail.JailSpec.from_json(message["spec"])
    command = [str(part) for part in message["command"]]
    os.setpgid(0, 0)  # the sandbox's own group: an interrupt reaches it and nothing else
    protections = jail.Protections(process_group=int(message.get("process_group", 0)))
    protections.notes.append("forked from the worker's fork server (warm start)")
    runner = _run_module
    # the sandbox's cgroup, named after its launcher (the kernel says which process that is)
    group = jail.SandboxGroup.create(spec, protections, jail.peer_pid(conn))
    entered = spec.isolate and jail.enter_namespaces(protections)
    if not spec.isolate:
        why = "not isolated: isolation turned off"
        protections.network = protections.pid = protections.mounts = protections.ipc = why
    fds = (status_fd, output_fd)
    child = os.fork()
    if child == 0:
        conn.close()
        if entered:
            code = 1
            try:
                code = jail.run_as_init(spec, command, fds, protections, runner, group)
            finally:
                os._exit(code)
        jail.exec_command(spec, command, fds, protections, runner, group)
    jail.close_fds(fds[:1])
    jail.watch_group(group, child)
    with contextlib.suppress(OSError):
        _send(conn, {"started": True})
    code, note = jail.end_group(group, _watch(conn, child))
    jail.record_end(fds[1], code, note)
    with contextlib.suppress(OSError):
        _send(conn, {"exit": code})
    return code


def _watch(conn: socket.socket, child: int) -> int:
    """Wait for ``child``; pass the launcher's interrupts on; kill it if the launcher goes."""
    from grader import jail

    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            return jail.exit_code(status)
        readable, _, _ = select.select([conn], [], [], 0.2)
        if not readable:
            continue
        try:
            message, _ = _receive(conn)
        except (OSError, ValueError):
            message = None
        signum = int(message.get("signal", 0)) if message is not None else signal.SIGKILL
        if signum == signal.SIGINT:  # for the kernel: this handler and PID 1 ignore it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgrp(), signal.SIGINT)
            continue
        # The launcher was killed, or asked to end: the sandbox ends with it (killing
        # PID 1 of its namespace ends every process in it).
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        return 128 + signal.SIGKILL


def serve(path: str) -> None:
    """The fork server's main loop: import, listen on ``path``, fork a handler per request."""
    from grader import jail

    jail.die_with_parent()
    parent = os.getppid()
    for name in PRELOAD:
        __import__(name)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".tmp")
    os.chmod(path + ".tmp", 0o600)
    server.listen(64)
    os.replace(path + ".tmp", path)  # the socket appears once the imports are done
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        if os.getppid() != parent:
            return
        readable, _, _ = select.select([server], [], [], 0.5)
        if not readable:
            continue
        conn, _ = server.accept()
        handler = os.fork()
        if handler == 0:
            server.close()
            jail.die_with_parent()
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                code = _handle(conn)
            except BaseException as error:  # report it, then end the handler
                with contextlib.suppress(Exception):
                    sys.stderr.write(f"grader.forkserver: a request failed: {error!r}\n")
            finally:
                os._exit(0 if code == 0 else 1)
        conn.close()


# --- the worker's side ---------------------------------------------------------------

_lock = threading.Lock()
_servers: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}


def start(folder: Path, env: dict[str, str]) -> Path:
    """Start this process's fork server in ``folder`` (once); the path of its socket.

    The server starts in the background; ``ready`` waits for it.
    """
    key = str(folder)
    with _lock:
        found = _servers.get(key)
        if found is not None and found[0].poll() is None:
            return found[1]
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
        path = folder / f"{os.getpid()}.sock"
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        log = (folder / f"{os.getpid()}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "grader.forkserver", str(path)],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _servers[key] = (process, path)
        return path


def ready(path: Path, timeout: float = READY_SECONDS) -> bool:
    """Whether the fork server behind ``path`` is up (waits while it imports)."""
    process = next((p for p, where in _servers.values() if where == path), None)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        if process is not None and process.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def stop_all() -> None:
    """End every fork server this process started."""
    with _lock:
        for process, _ in _servers.values():
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        _servers.clear()


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.forkserver SOCKET``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m grader.forkserver SOCKET", file=sys.stderr)
        return 2
    serve(args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
