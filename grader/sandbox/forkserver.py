"""Warm kernels: a process that has imported TensorFlow forks each sandboxed kernel.

A notebook kernel spends about 3.5 s of CPU importing TensorFlow, Keras and jazz_utils
before it runs a single grade cell; plain ``nbgrader autograde`` pays that for every
submission. The batch grader pays it once per worker: each Dask worker starts one fork
server (``python -m grader.sandbox.forkserver SOCKET``) that imports those modules and then
waits on a Unix socket in a folder only the grader can open. For every kernel:

1. jupyter_client starts the sandbox launcher (``python -m grader.sandbox.launcher SPEC --
   python -m ipykernel_launcher -f ...``), a small process that imports none of that;
2. the launcher sees ``JailSpec.forkserver`` and hands the request (the spec, the command,
   its status and output files as descriptors) to the fork server (``delegate``);
3. the fork server forks a handler, which sets the sandbox up exactly as the launcher
   would (``grader.sandbox.confine``: namespaces, hidden folders, limits, user,
   environment) and runs ``ipykernel_launcher`` in the forked process instead of executing
   a new Python;
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
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from grader.sandbox import protocol
from grader.sandbox.cgroups import end_group, peer_pid
from grader.sandbox.confine import record_end, start_sandboxed
from grader.sandbox.namespaces import die_with_parent
from grader.sandbox.spec import JailSpec, Protections, exit_code

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
    "grader.cleanroom.maker",
    "grader.cleanroom.modelrun",
)
"""What the notebook's imports cell and grade cells import, and what the clean room's
sandboxes run: loaded once, in the server, from the sandboxes' own copy of the code
(``grader.sandbox.software``: the server starts with that copy first on its path)."""

READY_SECONDS = 60.0
"""How long a worker waits for its fork server to finish importing."""


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
            sys.stderr.write(f"grader.sandbox.forkserver: {command[2]} failed: {error!r}\n")
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
    message, received = protocol.receive(conn, max_fds=2)
    if message is None or not protocol.serves([str(part) for part in message.get("command", [])]):
        for fd in received:
            os.close(fd)
        return 1
    flags = list(message.get("fds", [False, False]))
    queue = list(received)
    status_fd = queue.pop(0) if flags[0] and queue else -1
    output_fd = queue.pop(0) if flags[1] and queue else -1
    spec = JailSpec.from_json(message["spec"])
    command = [str(part) for part in message["command"]]
    os.setpgid(0, 0)  # the sandbox's own group: an interrupt reaches it and nothing else
    protections = Protections(process_group=int(message.get("process_group", 0)))
    protections.notes.append("forked from the worker's fork server (warm start)")
    fds = (status_fd, output_fd)
    # the sandbox's cgroup, named after its launcher (the kernel says which process that is)
    child, group = start_sandboxed(
        spec, command, fds, protections, peer_pid(conn), _run_module, conn.close
    )
    with contextlib.suppress(OSError):
        protocol.send(conn, {"started": True})
    code, note = end_group(group, _watch(conn, child))
    record_end(fds[1], code, note)
    with contextlib.suppress(OSError):
        protocol.send(conn, {"exit": code})
    return code


def _watch(conn: socket.socket, child: int) -> int:
    """Wait for ``child``; pass the launcher's interrupts on; kill it if the launcher goes."""
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            return exit_code(status)
        readable, _, _ = select.select([conn], [], [], 0.2)
        if not readable:
            continue
        try:
            message, _ = protocol.receive(conn)
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
    die_with_parent()
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
            die_with_parent()
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                code = _handle(conn)
            except BaseException as error:  # report it, then end the handler
                with contextlib.suppress(Exception):
                    sys.stderr.write(f"grader.sandbox.forkserver: a request failed: {error!r}\n")
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
            [sys.executable, "-m", "grader.sandbox.forkserver", str(path)],
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
    """``python -m grader.sandbox.forkserver SOCKET``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m grader.sandbox.forkserver SOCKET", file=sys.stderr)
        return 2
    serve(args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
