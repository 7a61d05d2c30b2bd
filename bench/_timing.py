"""Timing helpers shared by the benchmarks in ``bench/`` (not a benchmark itself).

The benchmarks run as scripts (``python bench/audio.py``), so this module is
imported as ``_timing`` from the script's own folder.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``action``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def quiet_environment() -> dict[str, str]:
    """This process's environment with TensorFlow quiet, matplotlib headless, and this
    Python's ``bin`` folder first on ``PATH`` (so ``nbgrader`` and ``jupyter`` are its own)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def timed_run(command: Sequence[str], cwd: Path) -> float:
    """Run ``command`` in ``cwd`` with :func:`quiet_environment`; return its wall time.

    Stops the benchmark (exit status 1, the command's last output on stderr) if it fails.
    """
    start = time.perf_counter()
    done = subprocess.run(
        list(command),
        cwd=cwd,
        env=quiet_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}")
    return seconds
