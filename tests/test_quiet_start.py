"""TensorFlow starts without its loaders' noise, and nothing else is hidden.

The lines below are what TensorFlow 2.21 printed here (2 cores, no GPU) when Keras was
imported and the first LSTM was called, with ``TF_CPP_MIN_LOG_LEVEL=2`` (and
``TF_ENABLE_ONEDNN_OPTS=1`` for oneDNN's notice, which some processors get by default).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jazz_utils import quiet_start
from jazz_utils.quiet_start import (
    LOAD_NOISE,
    NO_GPU_NOISE,
    device_plugins_present,
    dropping_lines,
    nvidia_gpu_present,
)

ABSL_PRE_INIT = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
)
CUDART = (
    "I0000 00:00:1796064958.940814   21809 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used."
)
ONEDNN = (
    "I0000 00:00:1796066529.390172    8761 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors from "
    "different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`."
)
CU_INIT = (
    "E0000 00:00:1796064964.779110   21809 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)"
)
CPU_GUARD = (
    "I0000 00:00:1796065290.267946   27532 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations."
)

#: A fresh Python that starts TensorFlow as the notebook does and runs one LSTM step.
FIRST_LSTM = textwrap.dedent(
    """
    import os, sys
    from jazz_utils import quiet_start
    if sys.argv[1] == "gpu":  # as on a machine with an NVIDIA GPU
        quiet_start.nvidia_gpu_present = lambda: True
    quiet_start.quiet_tensorflow()
    import keras, numpy as np
    from keras.layers import LSTM
    print(LSTM(4, return_state=True)(np.zeros((1, 1, 3), "float32"))[0].shape)
    print(os.environ.get("TF_ENABLED_DEVICE_TYPES"), os.environ["TF_CPP_MIN_LOG_LEVEL"])
    """
)


NOISE = LOAD_NOISE + NO_GPU_NOISE


def _matches(line: str, patterns: tuple[re.Pattern[str], ...] = NOISE) -> bool:
    return any(pattern.fullmatch(line) for pattern in patterns)


def test_the_loaders_lines_are_recognised_and_nothing_else() -> None:
    assert _matches(ABSL_PRE_INIT, LOAD_NOISE) and _matches(ONEDNN, LOAD_NOISE)
    assert _matches(CUDART, NO_GPU_NOISE) and not _matches(CUDART, LOAD_NOISE)
    assert not _matches(CU_INIT) and not _matches(CPU_GUARD)
    assert not _matches("E0000 00:00:1.0 1 cudart_stub.cc:31] Could not find cuda drivers")
    assert not _matches(CUDART + " and something else")
    assert not _matches("W0000 00:00:1.0 1 port.cc:153] oneDNN custom operations are on.")


def test_dropping_lines_drops_exactly_the_matching_lines(tmp_path: Path) -> None:
    target = tmp_path / "stderr.txt"
    with target.open("wb") as out:
        fd = out.fileno()
        os.write(fd, b"before\n")
        with dropping_lines(fd, NOISE):
            os.write(fd, f"{ABSL_PRE_INIT}\n{ONEDNN}\n{CUDART}\nkept 1\n".encode())
            os.write(fd, f"{CU_INIT}\nkept ".encode())
            os.write(fd, b"2\nno newline at the end")
        os.write(fd, f"\nafter\n{CUDART}\n".encode())
    assert target.read_text().splitlines() == [
        "before",
        "kept 1",
        CU_INIT,
        "kept 2",
        "no newline at the end",
        "after",
        CUDART,  # outside the block nothing is dropped
    ]


def test_dropping_lines_restores_the_descriptor_when_the_block_raises(tmp_path: Path) -> None:
    target = tmp_path / "stderr.txt"
    with target.open("wb") as out:
        fd = out.fileno()
        with pytest.raises(ImportError), dropping_lines(fd, NOISE):
            os.write(fd, b"kept\n")
            raise ImportError("no tensorflow")
        os.write(fd, b"after\n")
    assert target.read_text() == "kept\nafter\n"


def _fake_device(root: Path, name: str, vendor: str, kind: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "vendor").write_text(vendor + "\n")
    (root / name / "class").write_text(kind + "\n")


def test_an_nvidia_display_device_counts_as_a_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_driver(name: str) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(quiet_start.ctypes, "CDLL", no_driver)
    _fake_device(tmp_path, "0000:00:01.0", "0x1af4", "0x020000")  # virtio network
    _fake_device(tmp_path, "0000:00:02.0", "0x10de", "0x068000")  # NVIDIA, not a display
    assert not nvidia_gpu_present(tmp_path)
    assert not nvidia_gpu_present(tmp_path / "missing")
    _fake_device(tmp_path, "0000:00:03.0", "0x10de", "0x030200")  # NVIDIA 3D controller
    assert nvidia_gpu_present(tmp_path)


def test_a_loadable_driver_counts_as_a_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quiet_start.ctypes, "CDLL", lambda name: object())
    assert nvidia_gpu_present(tmp_path / "missing")


def test_device_plugins_are_noticed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_PLUGGABLE_DEVICE_LIBRARY_PATH", raising=False)
    assert not device_plugins_present()
    monkeypatch.setenv("TF_PLUGGABLE_DEVICE_LIBRARY_PATH", str(tmp_path / "libplugin.so"))
    assert device_plugins_present()
    monkeypatch.delenv("TF_PLUGGABLE_DEVICE_LIBRARY_PATH")
    (tmp_path / "tensorflow-plugins").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert device_plugins_present()


def test_once_tensorflow_is_loaded_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("TF_ENABLED_DEVICE_TYPES", raising=False)
    quiet_start.quiet_tensorflow()
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert "TF_ENABLED_DEVICE_TYPES" not in os.environ


def _first_lstm(machine: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env["TF_ENABLE_ONEDNN_OPTS"] = "1"  # its notice, as on processors where it is on
    return subprocess.run(
        [sys.executable, "-c", FIRST_LSTM, machine],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or nvidia_gpu_present(),
    reason="the probe's noise is silenced only on Linux without an NVIDIA GPU",
)
def test_without_a_gpu_tensorflow_starts_and_runs_in_silence() -> None:
    done = _first_lstm("cpu")
    assert done.stdout.split("\n")[:2] == ["(1, 4)", "CPU 1"]
    assert done.stderr == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TensorFlow probes CUDA on Linux")
def test_with_a_gpu_nothing_is_hidden() -> None:
    done = _first_lstm("gpu")
    assert done.stdout.split("\n")[:2] == ["(1, 4)", "None 1"]
    if not nvidia_gpu_present():  # this machine has none: TensorFlow's messages say so
        lines = done.stderr.splitlines()
        assert not [line for line in lines if _matches(line, LOAD_NOISE)]
        assert any("cudart_stub.cc" in line and "GPU will not be used" in line for line in lines)
        assert any("failed call to cuInit" in line for line in lines)
