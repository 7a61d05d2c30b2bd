"""How the sandbox launcher and the fork server talk: the commands served and the messages.

The launcher (``grader.sandbox.launcher``) asks whether the fork server ``serves`` a
command, and if so hands it over (``delegate``: the spec, the command, its status and
output files as descriptors) over the server's Unix socket; the server
(``grader.sandbox.forkserver``) answers ``started`` once the sandbox is set up and ``exit``
with the command's exit status. Each message is a 4-byte length and a JSON document
(``send``, ``receive``). Both sides import this module; neither imports the other.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import Any

MODULES: tuple[str, ...] = (
    "ipykernel_launcher",
    "grader.cleanroom.maker",
    "grader.cleanroom.modelrun",
)
"""The commands the fork server runs, ``python -m MODULE ...``: a notebook's kernel, the
clean room's maker (which forks its children in turn) and the model judge."""

HEADER = struct.Struct("!I")
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


def send(conn: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    payload = HEADER.pack(len(data)) + data
    if fds:
        socket.send_fds(conn, [payload], fds)
    else:
        conn.sendall(payload)


def receive(conn: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any] | None, list[int]]:
    """One message (None at the end of the connection) and the descriptors sent with it."""
    if max_fds:
        head, fds, _, _ = socket.recv_fds(conn, HEADER.size, max_fds)
    else:
        head, fds = conn.recv(HEADER.size), []
    if len(head) < HEADER.size:
        for fd in fds:
            os.close(fd)
        return None, []
    (size,) = HEADER.unpack(head)
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
        send(conn, request, [fd for fd in fds if fd >= 0])
    except OSError:
        conn.close()
        return None

    def forward(signum: int, frame: Any) -> None:
        with contextlib.suppress(OSError):
            send(conn, {"signal": signum})

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    started = False
    while True:
        try:
            message, _ = receive(conn)
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
