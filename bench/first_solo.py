"""Benchmark: a newcomer's ``make demo``, the way it was and the way it is, side by side.

Runs the solution notebook through ``tools/notebook_runner.py`` (what ``make demo``
runs) twice per repeat, alternating, on this machine:

- before: the notebook as it was until issue 13: one ``LSTM(n_a, return_state=True)``
  that loops over its one-step sequence, ``model.fit([X, a0, c0], list(Y))`` with
  Keras's per-output loss and 30 per-step accuracy metrics and a line per epoch, and a
  closing cell that builds and trains a second unrolled model to time it;
- now: the notebook in ``solutions/`` (``unroll=True``, the stacked training view with
  one summed loss and one accuracy, the epoch log; the timing cell reuses the epochs
  timed while training).

For each it prints the seconds until ``my_music.wav`` exists (the first solo a learner
hears), the seconds of the whole run, the longest wait without a line of output, and
the final loss and mean accuracy, then the ratios before/now. The training maths is
the same (the first epoch's loss agrees to float rounding); after 100 epochs of Adam
the two runs part by float rounding, so their final losses differ a little.

    python bench/first_solo.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "Improvise_a_Jazz_Solo_with_an_LSTM.ipynb"
RUNNER = ROOT / "tools" / "notebook_runner.py"
TARGET_FIRST_SOLO = 45.0
TARGET_DEMO = 75.0

#: The cells that changed, as they were before issue 13 (by nbgrader grade_id).
BEFORE = {
    "layers": (
        "n_a = 64\n"
        "reshaper = Reshape((1, n_values))\n"
        "LSTM_cell = LSTM(n_a, return_state=True)\n"
        'densor = Dense(n_values, activation="softmax")'
    ),
    "train": (
        "EPOCHS = 5 if GRADING else 100\n"
        "m = X.shape[0]\n"
        'a0 = np.zeros((m, n_a), dtype="float32")\n'
        'c0 = np.zeros((m, n_a), dtype="float32")\n'
        'model.compile(optimizer=Adam(learning_rate=0.01), loss="categorical_crossentropy",\n'
        '              metrics=["accuracy"] * X.shape[1])\n'
        "history = model.fit([X, a0, c0], list(Y), epochs=EPOCHS, verbose=0 if GRADING else 2)"
    ),
    "train_plot": (
        'accuracy_keys = [k for k in history.history if "accuracy" in k]\n'
        "final_accuracy = float(np.mean([history.history[k][-1] for k in accuracy_keys]))\n"
        "print(f\"final loss {history.history['loss'][-1]:.3f}, \"\n"
        '      f"mean accuracy over the {len(accuracy_keys)} steps {final_accuracy:.3f}")\n'
        "loss_curve(history)"
    ),
    "temperature": (
        "for diversity in (0.0, 0.5, 1.0, 1.5):\n"
        "    take = generate_music(inference_model, indices_values, blues_in_f,\n"
        "                          diversity=diversity, seed=3, out_path=None)\n"
        "    share = solo_metrics(take).chord_tone_share\n"
        '    print(f"diversity {diversity:3.1f}: chord-tone share {share:.2f}")'
    ),
    "fused_timing": (
        "import time\n"
        "\n"
        "def seconds_per_epoch(net, inputs, targets, epochs=3):\n"
        '    net.compile(optimizer=Adam(learning_rate=0.01), loss="categorical_crossentropy")\n'
        "    net.fit(inputs, targets, epochs=1, verbose=0)\n"
        "    start = time.perf_counter()\n"
        "    net.fit(inputs, targets, epochs=epochs, verbose=0)\n"
        "    return (time.perf_counter() - start) / epochs\n"
        "\n"
        "if not GRADING:\n"
        "    unrolled_copy = djmodel(Tx, LSTM(n_a, return_state=True),\n"
        '                            Dense(n_values, activation="softmax"),\n'
        "                            Reshape((1, n_values)))\n"
        "    t_unrolled = seconds_per_epoch(unrolled_copy, [X, a0, c0], list(Y))\n"
        "    t_fused = seconds_per_epoch(fused, X, np.swapaxes(Y, 0, 1))\n"
        '    print(f"unrolled {t_unrolled * 1000:.0f} ms, fused {t_fused * 1000:.0f} ms per epoch")'
    ),
}


@dataclass
class Run:
    """One executed notebook: its times (s) and what it learned."""

    first_solo: float
    total: float
    longest_silence: float
    loss: float
    accuracy: float


def notebook_as_before(target: Path) -> Path:
    """Write the solution notebook with the :data:`BEFORE` cells to ``target``."""
    nb = nbformat.read(SOLUTION, as_version=4)
    found = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in BEFORE:
            cell.source = BEFORE[grade_id]
            found.add(grade_id)
    missing = sorted(set(BEFORE) - found)
    if missing:
        sys.exit(f"the solution notebook has no cells {missing}: update bench/first_solo.py")
    nbformat.write(nb, target)
    return target


def run_once(notebook: Path, folder: Path) -> Run:
    """Run ``notebook`` as ``make demo`` does, in ``folder``; time the first solo."""
    output = folder / "output"
    output.mkdir(parents=True)
    env = {**os.environ, "JAZZ_OUTPUT_DIR": str(output), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.update(PYTHONHASHSEED="0", MPLBACKEND="Agg")
    env.pop("NBGRADER_EXECUTION", None)
    command = [sys.executable, str(RUNNER), str(notebook), "--output", str(folder / "run.ipynb")]
    command += ["--cwd", str(folder)]
    wav = output / "my_music.wav"
    start = time.perf_counter()
    first_solo: list[float] = []
    last_line = [start]
    silences: list[float] = []
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )

    def watch_for_the_solo() -> None:
        while process.poll() is None and not first_solo:
            if wav.exists() and wav.stat().st_size > 0:
                first_solo.append(time.perf_counter() - start)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_for_the_solo, daemon=True)
    watcher.start()
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        now = time.perf_counter()
        silences.append(now - last_line[0])
        last_line[0] = now
        lines.append(line)
    process.wait()
    total = time.perf_counter() - start
    watcher.join()
    if process.returncode != 0 or not first_solo:
        sys.exit(f"{notebook.name} failed:\n{''.join(lines)[-3000:]}")
    text = "".join(lines)
    loss = re.findall(r"loss:? +(\d+\.\d+)", text)
    accuracy = re.findall(r"mean accuracy[^\n]*?(\d\.\d{3})", text)
    return Run(
        first_solo=first_solo[0],
        total=total,
        longest_silence=max(silences, default=0.0),
        loss=float(loss[-1]) if loss else float("nan"),
        accuracy=float(accuracy[-1]) if accuracy else float("nan"),
    )


def main() -> None:
    """Run both notebooks ``--repeat`` times, alternating, and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (median shown)")
    args = parser.parse_args()
    runs: dict[str, list[Run]] = {"before": [], "now": []}
    with tempfile.TemporaryDirectory(prefix="jazz-first-solo-") as scratch:
        before = notebook_as_before(Path(scratch) / "before.ipynb")
        for repeat in range(args.repeat):
            for name, notebook in (("before", before), ("now", SOLUTION)):
                folder = Path(scratch) / f"{name}-{repeat}"
                print(f"running the notebook {name} ({repeat + 1}/{args.repeat})...", flush=True)
                runs[name].append(run_once(notebook, folder))
    load = os.getloadavg()[0]

    def median(name: str, field: str) -> float:
        return statistics.median(getattr(run, field) for run in runs[name])

    print(f"\nmake demo's notebook, median of {args.repeat} run(s) each, load {load:.1f}:")
    print(f"{'':28s}{'before':>10s}{'now':>10s}{'before/now':>12s}")
    for field, label in (
        ("first_solo", "until my_music.wav (s)"),
        ("total", "whole notebook (s)"),
        ("longest_silence", "longest silence (s)"),
    ):
        b, n = median("before", field), median("now", field)
        print(f"{label:28s}{b:10.1f}{n:10.1f}{b / n:11.2f}x")
    for field, label in (("loss", "final loss"), ("accuracy", "final mean accuracy")):
        print(f"{label:28s}{median('before', field):10.3f}{median('now', field):10.3f}")
    first, total = median("now", "first_solo"), median("now", "total")
    print(
        f"targets: first solo <= {TARGET_FIRST_SOLO:.0f} s: "
        f"{'met' if first <= TARGET_FIRST_SOLO else 'MISSED'} ({first:.1f} s); "
        f"notebook <= {TARGET_DEMO:.0f} s: {'met' if total <= TARGET_DEMO else 'MISSED'} "
        f"({total:.1f} s; make demo adds its own start, about a second)"
    )


if __name__ == "__main__":
    main()
