"""The solution notebook runs end to end, and its full run makes music worth hearing."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from jazz_utils.corpus import read_piece
from jazz_utils.metrics import chord_tone_share
from jazz_utils.piece import to_ticks

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "Improvise_a_Jazz_Solo_with_an_LSTM.ipynb"
RUNNER = ROOT / "tools" / "notebook_runner.py"


def _execute(tmp_path: Path, grading: bool) -> tuple[nbformat.NotebookNode, Path]:
    """Run the solution through ``tools/notebook_runner.py``, as ``make demo`` does."""
    output_dir = tmp_path / "output"
    env = {**os.environ, "JAZZ_OUTPUT_DIR": str(output_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("NBGRADER_EXECUTION", None)
    if grading:
        env["NBGRADER_EXECUTION"] = "autograde"
    executed = tmp_path / SOLUTION.name
    command = [sys.executable, str(RUNNER), str(SOLUTION), "--output", str(executed)]
    command += ["--cwd", str(tmp_path), "--timeout", "900"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    nb = nbformat.read(executed, as_version=4)
    errors = [
        (i, o.get("ename"), o.get("evalue"))
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert done.returncode == 0 and not errors, f"cells raised: {errors}\n{done.stdout[-3000:]}"
    stderr = [
        (i, o.get("text", "")[:300])
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "stream" and o.get("name") == "stderr"
    ]
    assert not stderr, f"cells wrote to stderr (a learner sees a red box): {stderr}"
    return nb, output_dir


def _check_solo(output_dir: Path, min_strong_share: float) -> None:
    for name in ("my_music.mid", "my_music.wav", "piano_roll.png", "metrics.json"):
        assert (output_dir / name).stat().st_size > 0, name
    solo = read_piece(output_dir / "my_music.mid")
    assert len(solo.measures) == 16
    for measure in solo.measures:
        ticks = [(to_ticks(n.offset), to_ticks(n.end)) for n in measure.notes]
        bar = to_ticks(measure.length)
        assert all(end <= bar for _, end in ticks), "no note crosses a bar line"
        assert all(b[0] >= a[1] for a, b in itertools.pairwise(ticks)), "monophonic"
    assert solo.dropped_notes == 0
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["chord_tone_share_strong"] >= min_strong_share
    assert chord_tone_share(solo, strong_only=True) >= min_strong_share


def test_solution_notebook_runs_in_grading_mode(tmp_path: Path) -> None:
    nb, output_dir = _execute(tmp_path, grading=True)
    _check_solo(output_dir, min_strong_share=0.0)
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.slow
def test_full_training_makes_a_solo_on_the_chords(tmp_path: Path) -> None:
    nb, output_dir = _execute(tmp_path, grading=False)
    _check_solo(output_dir, min_strong_share=0.6)
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    accuracy = float(printed.split("mean accuracy over the 30 steps:")[1].split()[0])
    assert accuracy >= 0.85
    # The prose quotes no numbers of the run; the run prints them next to it.
    log = [line for line in printed.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in log] == ["1/100"] + [f"{e}/100" for e in range(10, 101, 10)]
    assert all("loss" in line and "mean accuracy" in line for line in log)


def test_source_notebook_is_stored_clean() -> None:
    nb = nbformat.read(SOLUTION, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
