"""Start TensorFlow without the messages its libraries print as they load.

The notebook calls this before it imports Keras::

    from jazz_utils.quiet_start import quiet_tensorflow

    quiet_tensorflow()  # before `import keras`

TensorFlow's Linux wheels are built for CUDA and look for it as they load, whether the
machine has a GPU or not. Where there is none, a learner's first cells show, in red::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ...

and, on processors where oneDNN is on (Intel's with AVX-512 VNNI, for instance)::

    I0000 ... port.cc:153] oneDNN custom operations are on. You may see slightly different ...

``TF_CPP_MIN_LOG_LEVEL`` stops none of the ``I`` lines and the banner: absl writes them
from static constructors of ``libtensorflow_framework.so.2`` (and again of the profiler's
plugin), before TensorFlow has read the variable; only its level 3, which also hides
every genuine error, stops the ``E`` line. Each is stopped at its source instead:

- the ``cuInit`` error, on Linux where no NVIDIA GPU is present (no driver library
  ``libcuda.so.1`` to load, no NVIDIA display device on the PCI bus) and no device plugin
  is installed: ``TF_ENABLED_DEVICE_TYPES=CPU`` registers only TensorFlow's CPU device, so
  nothing initialises CUDA (the CPU device, and every result, are the same);
- the lines the loader writes: while ``tensorflow`` is imported, file descriptor 2 goes
  through a filter that drops exactly those lines (``LOAD_NOISE`` everywhere, and
  ``NO_GPU_NOISE`` where no NVIDIA GPU is present) and passes every other line on as it
  comes.

Wherever an NVIDIA GPU or driver is present, what TensorFlow says about CUDA (found, not
usable, which libraries are missing) is kept: it is worth reading there.
``TF_CPP_MIN_LOG_LEVEL`` defaults to 1 (TensorFlow's later INFO lines, such as which CPU
instructions it was built for, are hidden; warnings and errors are kept); a value already
set is left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import re
import site
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

#: The NVIDIA driver library TensorFlow opens to initialise CUDA.
NVIDIA_DRIVER = "libcuda.so.1"

#: PCI vendor id of NVIDIA, and the PCI class of display controllers (VGA, 3D).
NVIDIA_VENDOR = "0x10de"
DISPLAY_CLASS = "0x03"

#: The start of an absl INFO line: severity and date (or zeros), time, thread.
_ABSL_INFO = r"I\d{4} [\d:. ]+\d+ "

#: Lines TensorFlow's libraries write to stderr as they load that tell a learner nothing:
#: absl's banner, and oneDNN's notice that round-off may differ from other machines.
LOAD_NOISE: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    ),
    re.compile(_ABSL_INFO + r"port\.cc:\d+\] oneDNN custom operations are on\..*"),
)

#: The line they write where CUDA's runtime is absent: noise only where there is no GPU.
NO_GPU_NOISE: tuple[re.Pattern[str], ...] = (
    re.compile(
        _ABSL_INFO + r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, "
        r"GPU will not be used\."
    ),
)

#: TensorFlow's C++ log level unless one is set: INFO hidden, warnings and errors kept.
DEFAULT_LOG_LEVEL = "1"

#: Seconds to wait for the filter to pass on the last bytes once the import is done.
_DRAIN_SECONDS = 5.0


def nvidia_gpu_present(pci_devices: Path = Path("/sys/bus/pci/devices")) -> bool:
    """Whether this machine has an NVIDIA GPU or driver that TensorFlow may want to use.

    True when the NVIDIA driver library loads, or when an NVIDIA display controller is on
    the PCI bus (a GPU without its driver: TensorFlow's messages then say what is missing).

    Args:
        pci_devices: the sysfs folder of PCI devices (one folder per device).
    """
    try:
        ctypes.CDLL(NVIDIA_DRIVER)
    except OSError:
        pass
    else:
        return True
    with contextlib.suppress(OSError):
        for device in pci_devices.iterdir():
            with contextlib.suppress(OSError):
                vendor = (device / "vendor").read_text().strip()
                kind = (device / "class").read_text().strip()
                if vendor == NVIDIA_VENDOR and kind.startswith(DISPLAY_CLASS):
                    return True
    return False


def device_plugins_present() -> bool:
    """Whether TensorFlow will load a pluggable device (an Intel or Apple GPU, say).

    TensorFlow loads them from a ``tensorflow-plugins`` folder in site-packages, or from
    ``TF_PLUGGABLE_DEVICE_LIBRARY_PATH``; their devices are not CPUs, so
    ``TF_ENABLED_DEVICE_TYPES=CPU`` would hide them.
    """
    if os.environ.get("TF_PLUGGABLE_DEVICE_LIBRARY_PATH"):
        return True
    folders = [*sys.path, *site.getsitepackages()]
    if site.ENABLE_USER_SITE and site.USER_SITE:
        folders.append(site.USER_SITE)
    return any((Path(folder) / "tensorflow-plugins").exists() for folder in folders if folder)


def quiet_tensorflow() -> None:
    """Import TensorFlow without the messages its libraries print as they load.

    Call it before ``import keras`` (or ``tensorflow``). It drops ``LOAD_NOISE`` from
    what TensorFlow's libraries write while they load; on Linux without an NVIDIA GPU it
    also drops ``NO_GPU_NOISE`` and, unless a device plugin is installed, sets
    ``TF_ENABLED_DEVICE_TYPES=CPU`` (unless set). It sets the default
    ``TF_CPP_MIN_LOG_LEVEL``. Once TensorFlow is imported it does
    nothing, so a cell that calls it can be run again.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LOG_LEVEL)
    noise = LOAD_NOISE
    if sys.platform.startswith("linux") and not nvidia_gpu_present():
        noise += NO_GPU_NOISE
        if not device_plugins_present():
            os.environ.setdefault("TF_ENABLED_DEVICE_TYPES", "CPU")
    if sys.platform == "win32":  # no absl banner there, and no descriptor games
        importlib.import_module("tensorflow")
        return
    with dropping_lines(2, noise):
        importlib.import_module("tensorflow")


@contextlib.contextmanager
def dropping_lines(fd: int, patterns: tuple[re.Pattern[str], ...]) -> Iterator[None]:
    """While the block runs, lines written to file descriptor ``fd`` that match one of
    ``patterns`` in full are dropped; everything else reaches ``fd`` as it comes.

    Works below Python (C and C++ libraries writing to the descriptor): ``fd`` is pointed
    at a pipe whose reader passes lines on to the original. Python's own ``sys.stderr`` is
    flushed first, so nothing written before the block is held back.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    original = os.dup(fd)
    read_end, write_end = os.pipe()
    forward = threading.Thread(
        target=_forward_lines,
        args=(read_end, os.dup(original), patterns),
        name="jazz-utils-quiet-start",
        daemon=True,
    )
    forward.start()
    os.dup2(write_end, fd)
    os.close(write_end)
    try:
        yield
    finally:
        os.dup2(original, fd)  # closes the pipe's last write end: the reader sees its end
        os.close(original)
        forward.join(_DRAIN_SECONDS)


def _forward_lines(read_end: int, out: int, patterns: tuple[re.Pattern[str], ...]) -> None:
    """Copy whole lines from ``read_end`` to ``out`` except those matching ``patterns``."""
    pending = b""
    try:
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = [line + b"\n" for line in lines if not _matches(line, patterns)]
            if kept:
                _write_all(out, b"".join(kept))
        if pending and not _matches(pending, patterns):
            _write_all(out, pending)
    finally:
        os.close(read_end)
        os.close(out)


def _matches(line: bytes, patterns: tuple[re.Pattern[str], ...]) -> bool:
    text = line.decode(errors="replace").rstrip("\r")
    return any(pattern.fullmatch(text) for pattern in patterns)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]
