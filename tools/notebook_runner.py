"""Execute a notebook headless, showing progress as it runs (``make demo`` uses it).

    python tools/notebook_runner.py NOTEBOOK --output OUT.ipynb [--cwd DIR] [--timeout S]

A developer tool, not part of the installed package: it imports only nbformat
and nbclient (dev dependencies), so it runs as a script from any folder of a
fresh clone once ``make install`` has run.

Each cell is announced as it starts with a one-line summary, its printed output
is echoed live (so training epochs scroll by), and its run time is shown when it
ends. The executed notebook, outputs included, is written to ``--output``.
A cell that raises stops the run: the notebook is still written, and the
command exits with status 1 naming the cell.

Each line a cell prints is shown once: the kernel echoes what libraries write to its
file descriptors 1 and 2 (TensorFlow's C++ log, say) to its own stdout and stderr as
well as to the notebook, so those go to a log file beside its connection file, shown
only if the kernel dies. The kernel talks to the runner over ZeroMQ's ``ipc`` transport
(Unix sockets in that private folder, as the grader's kernels do), so ipykernel has no
reason to warn that TCP on localhost is unencrypted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Lines of the kernel's own output shown when it dies.
DEATH_LINES = 30


def _summary(source: str, width: int = 70) -> str:
    for line in source.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text if len(text) <= width else text[: width - 3] + "..."
    return "(comment only)"


def kernel_config(folder: Path) -> Any:
    """Kernel-manager settings: ``ipc`` sockets and the connection file in ``folder``.

    On Windows, where ZeroMQ has no ``ipc`` transport, the default (TCP) is kept.
    """
    from traitlets.config import Config

    config = Config()
    if sys.platform != "win32":
        config.AsyncKernelManager.transport = "ipc"
        config.AsyncKernelManager.ip = str(folder / "kernel-ipc")
    config.AsyncKernelManager.connection_file = str(folder / "kernel.json")
    return config


def _error_report(nb: Any, error: Exception) -> str:
    """The traceback of the cell that raised, without its printed output (shown already)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return "\n".join(output.get("traceback", [])) or f"{output.ename}: {output.evalue}"
    return str(error)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_notebook(
    notebook: str | Path,
    output: str | Path,
    cwd: str | Path | None = None,
    timeout: int = 1200,
    echo: bool = True,
) -> bool:
    """Execute ``notebook`` and write the executed copy to ``output``.

    Args:
        notebook: the .ipynb to run (it is not modified).
        output: where to write the executed notebook.
        cwd: the kernel's working directory (default: the notebook's folder).
        timeout: seconds one cell may run.
        echo: print progress and cell output to stdout.

    Returns:
        True when every cell ran; False when one raised or the kernel died (the notebook
        is written anyway).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    started: dict[int, float] = {}

    class _Client(NotebookClient):
        def process_message(self, msg: dict, cell: Any, cell_index: int) -> Any:
            result = super().process_message(msg, cell, cell_index)
            if echo and msg.get("msg_type") == "stream":
                sys.stdout.write(
                    "    " + msg["content"]["text"].replace("\n", "\n    ").rstrip(" ")
                )
                sys.stdout.flush()
            return result

    def on_start(cell: Any, cell_index: int, **_: Any) -> None:
        started[cell_index] = time.perf_counter()
        if echo:
            position = code_cells.index(cell_index) + 1 if cell_index in code_cells else 0
            print(f"[{position:2d}/{len(code_cells)}] {_summary(cell.source)}", flush=True)

    def on_done(cell: Any, cell_index: int, **_: Any) -> None:
        if echo and cell_index in started:
            now = time.perf_counter()
            print(
                f"        done in {now - started[cell_index]:.1f} s ({now - begin:.0f} s so far)",
                flush=True,
            )

    begin = time.perf_counter()
    ok = True
    with tempfile.TemporaryDirectory(prefix="jazz-kernel-") as folder:
        client = _Client(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(Path(cwd) if cwd else notebook.parent)}},
            on_cell_execute=on_start,
            on_cell_executed=on_done,
            config=kernel_config(Path(folder)),
        )
        kernel_log = Path(folder) / "kernel.log"
        with kernel_log.open("wb") as log:
            try:
                client.execute(stdout=log, stderr=log)
            except CellExecutionError as error:
                ok = False
                if echo:
                    print(
                        "\nA cell raised an error; the run stopped there.\n"
                        + _error_report(nb, error),
                        flush=True,
                    )
            except DeadKernelError as error:
                ok = False
                if echo:
                    print(
                        f"\nThe kernel died ({error}); the run stopped there. Its last output:\n"
                        f"{_tail(kernel_log, DEATH_LINES)}",
                        flush=True,
                    )
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, output)
    if echo:
        print(f"wrote {output} after {time.perf_counter() - begin:.0f} s", flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description="Execute a notebook headless with progress.")
    parser.add_argument("notebook")
    parser.add_argument("--output", required=True, help="where to write the executed notebook")
    parser.add_argument("--cwd", default=None, help="the kernel's working directory")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds one cell may run")
    args = parser.parse_args(argv)
    return 0 if run_notebook(args.notebook, args.output, args.cwd, args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
