"""What a learner sees when notebooks run: each line once, and no stderr from TensorFlow.

``tools/notebook_runner.py`` (``make demo``) shows each line a cell prints exactly once and
starts its kernel over ``ipc``, so ipykernel does not warn about unencrypted TCP; the
notebook's first cells (its imports cell, the three layers, one LSTM call) write nothing
to stderr on a machine without a GPU. Every test here starts a kernel.

The kernels run without ``PYTEST_CURRENT_TEST``: where it is set, ipykernel leaves file
descriptors 1 and 2 alone, and what C libraries write there would never reach a cell.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools import notebook_runner

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "Improvise_a_Jazz_Solo_with_an_LSTM.ipynb"
RUNNER = ROOT / "tools" / "notebook_runner.py"

#: The notebook's cells that create the three layers, and a first call of the LSTM.
FIRST_LAYERS = """\
n_a = 64
n_values = 90
reshaper = Reshape((1, n_values))
LSTM_cell = LSTM(n_a, return_state=True)
densor = Dense(n_values, activation="softmax")"""
FIRST_CALL = """\
x = reshaper(np.zeros((2, n_values), dtype="float32"))
_, a, c = LSTM_cell(x)
print(densor(a).shape)"""


def _write_notebook(path: Path, *sources: str) -> Path:
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nb = nbformat.v4.new_notebook(cells=cells)
    nbformat.write(nb, path)
    return path


def _stderr_outputs(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    return [
        (index, output.get("text", ""))
        for index, cell in enumerate(nb.cells)
        for output in cell.get("outputs", [])
        if output.get("name") == "stderr"
    ]


def _imports_cell() -> str:
    """The solution notebook's imports cell, as the learner runs it."""
    nb = nbformat.read(SOLUTION, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and "import keras" in c.source)


def _run_runner(notebook: Path) -> tuple[int, str, Path]:
    """Run ``tools/notebook_runner.py`` as ``make demo`` does: exit status, what it showed
    (ANSI colours removed), the executed notebook."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    executed = notebook.with_name("executed.ipynb")
    done = subprocess.run(
        [sys.executable, str(RUNNER), str(notebook), "--output", str(executed)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return done.returncode, re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr), executed


def test_the_runner_prints_each_line_once_and_no_transport_warning(tmp_path: Path) -> None:
    notebook = _write_notebook(
        tmp_path / "lines.ipynb",
        'print("a line to stdout")',
        'import sys\nprint("a line to sys.stderr", file=sys.stderr)',
        'import os\nos.write(2, b"a line to file descriptor 2\\n")\nos.write(1, b"and to 1\\n")',
    )
    status, shown, executed = _run_runner(notebook)
    assert status == 0, shown
    lines = [line.strip() for line in shown.splitlines()]
    for line in (
        "a line to stdout",
        "a line to sys.stderr",
        "a line to file descriptor 2",
        "and to 1",
    ):
        assert lines.count(line) == 1, (line, shown)
    assert "eavesdropping" not in shown and "without encryption" not in shown, shown
    assert [text for _, text in _stderr_outputs(nbformat.read(executed, as_version=4))] == [
        "a line to sys.stderr\n",
        "a line to file descriptor 2\n",
    ]


def test_a_failing_cell_is_reported_once(tmp_path: Path) -> None:
    notebook = _write_notebook(
        tmp_path / "fails.ipynb",
        'import sys\nprint("said before failing", file=sys.stderr)\nraise ValueError("no")',
        'print("never run")',
    )
    status, shown, _ = _run_runner(notebook)
    assert status == 1, shown
    assert "A cell raised an error; the run stopped there." in shown
    assert [line.strip() for line in shown.splitlines()].count("said before failing") == 1, shown
    assert shown.count("ValueError: no") == 1 and "never run" not in shown, shown


def test_the_runners_kernel_talks_over_ipc_in_its_own_folder(tmp_path: Path) -> None:
    config = notebook_runner.kernel_config(tmp_path)
    if sys.platform != "win32":
        assert config.AsyncKernelManager.transport == "ipc"
        assert config.AsyncKernelManager.ip == str(tmp_path / "kernel-ipc")
    assert config.AsyncKernelManager.connection_file == str(tmp_path / "kernel.json")


def test_when_the_kernel_dies_the_runner_shows_its_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    notebook = _write_notebook(
        tmp_path / "dies.ipynb",
        "import os, signal, time\n"
        'os.write(2, b"the kernel\'s last words\\n")\n'
        "time.sleep(0.5)\n"
        "os.kill(os.getpid(), signal.SIGKILL)",
        'print("never run")',
    )
    executed = tmp_path / "executed.ipynb"
    ok = notebook_runner.run_notebook(notebook, executed, timeout=120)
    shown = capsys.readouterr().out
    assert not ok
    assert "The kernel died" in shown, shown
    assert "the kernel's last words" in shown.split("The kernel died")[1], shown
    assert "never run" not in shown and executed.exists()


def test_the_first_cells_of_the_notebook_write_no_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The solution's imports cell, the three layers, one LSTM call: in a kernel started as
    the runner starts one, with TensorFlow's log level left to the notebook."""
    for name in [name for name in os.environ if name.startswith("TF_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    monkeypatch.setenv("JAZZ_OUTPUT_DIR", str(tmp_path / "output"))
    notebook = _write_notebook(tmp_path / "first.ipynb", _imports_cell(), FIRST_LAYERS, FIRST_CALL)
    executed = tmp_path / "executed.ipynb"
    ok = notebook_runner.run_notebook(notebook, executed, cwd=tmp_path, timeout=300)
    shown = capsys.readouterr().out
    assert ok, shown
    nb = nbformat.read(executed, as_version=4)
    assert _stderr_outputs(nb) == [], (
        "the solution's imports cell must have `from jazz_utils.quiet_start import "
        "quiet_tensorflow` and `quiet_tensorflow()` before `import keras`; stderr by cell: "
        f"{_stderr_outputs(nb)}"
    )
    assert nb.cells[2].outputs[0]["text"] == "(2, 90)\n"
