"""Run a long command so that it is never silent for long: ``make``'s installs use it.

    python tools/heartbeat.py [--every 10] -- COMMAND [ARGS...]

In a terminal the command simply runs (pip draws its own progress bars there). When the
output is not a terminal (CI, ``make ... | tee log``), pip prints nothing while it
unpacks TensorFlow, about a minute; then every ``--every`` seconds without a line, this
prints one saying the command is still running and for how long. The command's own lines
pass through unchanged, and its exit status is this program's.

Standard library only: it runs with the interpreter of a fresh ``.venv``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time


def run(command: list[str], every: float, out=None) -> int:
    """Run ``command``, copying its output to ``out`` and filling silences of ``every`` s.

    Args:
        command: the program and its arguments.
        every: seconds of silence before a "still running" line (and between two of them).
        out: where to write (default ``sys.stdout``); the command's stderr is merged into it.

    Returns:
        The command's exit status.
    """
    out = out or sys.stdout
    started = time.monotonic()
    last_output = [started]
    lock = threading.Lock()
    done = threading.Event()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    name = os.path.basename(command[0]) + (f" {command[2]}" if command[1:2] == ["-m"] else "")

    def watch() -> None:
        while not done.wait(min(1.0, every)):
            now = time.monotonic()
            with lock:
                if now - last_output[0] >= every:
                    out.write(f"  ... {name} still running ({now - started:.0f} s so far)\n")
                    out.flush()
                    last_output[0] = now

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert process.stdout is not None
    for line in iter(process.stdout.readline, b""):
        with lock:
            out.write(line.decode(errors="replace"))
            out.flush()
            last_output[0] = time.monotonic()
    status = process.wait()
    done.set()
    watcher.join()
    return status


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=float, default=10.0, help="seconds of silence")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    if sys.stdout.isatty():
        sys.stdout.flush()
        os.execvp(command[0], command)
    return run(command, args.every)


if __name__ == "__main__":
    sys.exit(main())
