"""Output limits of ``GradingExecute``, held while a real python3 kernel runs the notebook.

A cell that prints 150 MB on one line must leave a small notebook that is still graded
and still gives feedback (issue 12, item 6): output is cut as it arrives, with notes
saying what was left out, and the cells after it keep their output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config.loader import PyFileConfigLoader

from grader.preprocessors import (
    ALWAYS_KEPT_BYTES,
    GradingExecute,
    cut_to_bytes,
    limit_error,
    limit_text,
    utf8_size,
)

CONFIG = Path(__file__).resolve().parents[2] / "grader" / "nbgrader_config.py"

pytestmark = pytest.mark.timeout(120)


def _run(tmp_path: Path, sources: list[str], **limits: Any) -> nbformat.NotebookNode:
    """``sources`` as code cells, run by ``GradingExecute`` in a fresh python3 kernel."""
    nb = new_notebook(cells=[new_code_cell(source) for source in sources])
    executor = GradingExecute(kernel_name="python3", timeout=60, **limits)
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return nb


def _text(cell: nbformat.NotebookNode, name: str = "stdout") -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == name)


def test_the_course_configuration_sets_the_documented_limits() -> None:
    config = PyFileConfigLoader(CONFIG.name, str(CONFIG.parent)).load_config()
    executor = GradingExecute(config=config)
    assert executor.max_cell_stream_bytes == 100_000
    assert executor.max_line_chars == 10_000
    assert executor.max_rich_output_bytes == 500_000
    assert executor.max_notebook_output_bytes == 5_000_000
    defaults = GradingExecute()
    for name in ("max_cell_stream_bytes", "max_line_chars", "max_rich_output_bytes"):
        assert getattr(defaults, name) == getattr(executor, name)
    assert defaults.max_notebook_output_bytes == executor.max_notebook_output_bytes
    assert config.LimitOutput.max_lines == -1  # the byte caps bound lines; stderr stays visible
    assert config.LimitOutput.max_traceback > 0


def test_huge_outputs_leave_a_small_notebook_and_the_next_cell_intact(tmp_path: Path) -> None:
    nb = _run(
        tmp_path,
        [
            'print("x" * 20_000_000)',
            "for i in range(200_000):\n    print(i)",
            'from IPython.display import HTML, display\ndisplay(HTML("<b>" + "y" * 10_000_000))',
            'print("normal output")\n6 * 7',
        ],
    )
    written = nbformat.writes(nb)
    assert len(written.encode()) < 1_000_000
    long_line, many_lines, html, normal = nb.cells

    text = _text(long_line)
    assert text.startswith("x" * 10_000 + " [line cut by the grader: 19,990,000 more characters]")
    assert len(text) < 11_000

    text = _text(many_lines)
    assert text.startswith("0\n1\n2\n")
    assert "[output truncated by the grader: " in text and " more bytes]" in text
    assert utf8_size(text) < 101_000
    kept = [line for line in text.splitlines() if not line.startswith("[")]
    assert kept == [str(i) for i in range(len(kept))]  # whole lines, in order, then the note

    [display] = html.outputs
    assert display.output_type == "display_data"
    assert list(display.data) == ["text/plain"]
    assert display.data["text/plain"].startswith("[output removed by the grader: text/html")

    assert [o.output_type for o in normal.outputs] == ["stream", "execute_result"]
    assert normal.outputs[0].text == "normal output\n"
    assert normal.outputs[1].data == {"text/plain": "42"}
    assert normal.execution_count == 4


def test_a_full_notebook_still_keeps_what_grading_reads(tmp_path: Path) -> None:
    """Past the notebook's limit, stream and displays go, but errors, results and stderr stay."""
    nb = _run(
        tmp_path,
        [
            'print("a" * 5_000)',
            'print("out")\nimport sys\nprint("err", file=sys.stderr)',
            'print("b")\n1.5',
            'raise ValueError("v" * 100_000)',
            "for i in range(3_000):\n    print(i, flush=True)",
        ],
        max_notebook_output_bytes=3_000,
        max_cell_stream_bytes=100_000,
    )
    filled, streams, result, error, flushed = nb.cells
    assert "[output truncated by the grader:" in _text(filled)

    assert "[output truncated by the grader:" in _text(streams, "stdout")
    assert "[output truncated by the grader:" in _text(streams, "stderr")  # scores a grade cell 0

    [note, value] = result.outputs
    assert note.name == "stdout" and "[output truncated by the grader:" in note.text
    assert value.output_type == "execute_result" and value.data == {"text/plain": "1.5"}

    [raised] = error.outputs
    assert raised.output_type == "error" and raised.ename == "ValueError"
    assert raised.evalue.startswith("vvvv") and "[output truncated by the grader:" in raised.evalue
    size = sum(utf8_size(entry) for entry in raised.traceback) + utf8_size(raised.evalue)
    assert size < 2 * ALWAYS_KEPT_BYTES

    assert [o.output_type for o in flushed.outputs] == ["stream"]  # not 3,000 outputs
    assert len(nbformat.writes(nb).encode()) < 20_000


def test_clearing_output_frees_the_cell_budget(tmp_path: Path) -> None:
    """A progress display redrawn with clear_output keeps only its last state, uncut."""
    nb = _run(
        tmp_path,
        [
            "from IPython.display import clear_output\n"
            "for step in range(50):\n"
            "    clear_output(wait=True)\n"
            '    print(f"step {step:02d} " + "z" * 100)',
        ],
        max_cell_stream_bytes=1_000,
    )
    assert _text(nb.cells[0]) == "step 49 " + "z" * 100 + "\n"


def test_limit_text_cuts_long_lines_and_stops_at_a_line_end() -> None:
    assert limit_text("short\n", 100, 10) == ("short\n", 0)
    assert limit_text("abcdef\nxy\n", -1, 3) == (
        "abc [line cut by the grader: 3 more characters]\nxy\n",
        0,
    )
    assert limit_text("one\ntwo\nthree\n", 9, -1) == ("one\ntwo\n", 6)
    assert limit_text("one\ntwo\nthree\n", 9, 100) == ("one\ntwo\n", 6)
    assert limit_text("éééé", 5, -1) == ("éé", 4)  # never half a character
    assert cut_to_bytes("aé", 2) == "a"


def test_limit_error_keeps_the_name_and_the_last_entries() -> None:
    content = {"ename": "E", "evalue": "v" * 50, "traceback": [f"frame {i}" for i in range(500)]}
    limit_error(content, 200, 20)
    assert content["ename"] == "E"
    assert content["evalue"].startswith("v" * 20 + " [line cut by the grader: 30")
    assert content["traceback"][-1] == "frame 499"
    assert content["traceback"][0].endswith("traceback entries removed by the grader]")
