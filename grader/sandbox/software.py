"""What the sandboxes may import: a checked, read-only copy of the code they run.

A sandbox runs Python with the libraries of this interpreter, but its own code comes
from one place only: ``<scratch>/software/<digest>/``, which holds

- ``jazz_utils`` (the library the notebook imports), and
- the few modules of ``grader`` that run inside a sandbox (``SANDBOX_MODULES``: the
  launcher and fork server with the protections they set up, the maker, the model
  judge, and ``hidden``, whose ``grade`` only says where grading happens when the
  judges are absent).

It is copied from the installed packages, named by the digest of what was copied, and
put first on the sandbox's ``PYTHONPATH``; the installed packages themselves, and a
checkout they are installed from in development mode (holding ``solutions/``, the
grader's references and judges, perhaps ``course/``), are covered by empty file
systems. So a kernel imports exactly the code whose digest the batch checked, whatever
the install layout (editable or wheel), and the grader's test cases, probes and judges
are not there to import. (The NumPy LSTM the checks and the grader compare models with,
``jazz_utils.lstm_reference``, is there: it is the public checks' maths, and knowing it
tells a submission nothing about the batch's secret cases.)
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

SANDBOX_MODULES: tuple[str, ...] = (
    "grader",
    "grader.errors",
    "grader.hidden",
    "grader.calling",
    "grader.sandbox",
    "grader.sandbox.spec",
    "grader.sandbox.namespaces",
    "grader.sandbox.mounts",
    "grader.sandbox.cgroups",
    "grader.sandbox.seccomp",
    "grader.sandbox.confine",
    "grader.sandbox.protocol",
    "grader.sandbox.launcher",
    "grader.sandbox.forkserver",
    "grader.cleanroom",
    "grader.cleanroom.maker",
    "grader.cleanroom.modelrun",
)
"""The grader's modules a sandbox holds (packages by their ``__init__``): the launcher and
the fork server, the maker and the model judge and what they import; none of them holds
an answer, a test case or the clean room's orchestration."""

_SKIPPED = ("__pycache__", ".pyc")


def package_folder(name: str) -> Path:
    """Where the installed package ``name`` lives (resolved)."""
    found = importlib.util.find_spec(name)
    if found is None or not found.submodule_search_locations:
        raise ImportError(f"the package {name} is not installed")
    return Path(next(iter(found.submodule_search_locations))).resolve()


def module_path(name: str) -> str:
    """The file of the grader's module ``name`` (dotted), relative to the package's parent.

    ``grader.sandbox.spec`` -> ``grader/sandbox/spec.py``; a package, such as
    ``grader.sandbox``, -> ``grader/sandbox/__init__.py``.
    """
    parts = name.split(".")
    module = Path(*parts).with_suffix(".py")
    if (package_folder("grader").parent / module).is_file():
        return module.as_posix()
    return (Path(*parts) / "__init__.py").as_posix()


def _files() -> list[tuple[Path, str]]:
    """(source file, path in the copy) of everything the sandboxes get, in a stable order."""
    files = []
    grader = package_folder("grader")
    for name in SANDBOX_MODULES:
        relative = module_path(name)
        files.append((grader.parent / relative, relative))
    library = package_folder("jazz_utils")
    for path in sorted(library.rglob("*")):
        relative = path.relative_to(library)
        if (
            path.is_file()
            and not path.is_symlink()
            and not any(s in str(relative) for s in _SKIPPED)
        ):
            files.append((path, f"jazz_utils/{relative.as_posix()}"))
    return files


def digest() -> str:
    """SHA-256 over the names and contents of what the sandboxes get."""
    hasher = hashlib.sha256()
    for source, target in _files():
        hasher.update(target.encode() + b"\0" + hashlib.sha256(source.read_bytes()).digest())
    return hasher.hexdigest()


def install(base: Path) -> Path:
    """The sandboxes' code under ``base/software/<digest>``, copied there once (atomically).

    The copy is the grader's (root's when the grader is root), readable by everyone and
    writable by no sandbox.
    """
    folder = base / "software"
    folder.mkdir(mode=0o711, parents=True, exist_ok=True)
    target = folder / digest()[:24]
    if target.is_dir() and not target.is_symlink():
        return target
    staging = Path(tempfile.mkdtemp(prefix=".copy-", dir=folder))
    for source, name in _files():
        destination = staging / name
        destination.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        shutil.copyfile(source, destination, follow_symlinks=False)
        destination.chmod(0o644)
    for path in [staging, *staging.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    try:
        os.rename(staging, target)
    except OSError:  # another worker of this machine copied it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


SYSTEM_FOLDERS: frozenset[str] = frozenset(
    {
        "bin",
        "boot",
        "dev",
        "etc",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "proc",
        "run",
        "sbin",
        "sys",
        "tmp",
        "usr",
        "var",
    }
)
"""The top-level folders a sandbox keeps (the system's software and its own places);
every other one (``/home``, ``/root``, ``/work``, ``/srv``, ``/mnt``, ``/opt``...) is covered,
and only the interpreter and the sandbox's own folders are bound back into it."""


def hidden_sources(root: Path = Path("/")) -> tuple[str, ...]:
    """What a sandbox must not see of the machine's files.

    The installed packages and, for a development install, the checkout holding them;
    and every top-level folder but the system's (``SYSTEM_FOLDERS``): other checkouts of
    this project (with their ``solutions/``), people's homes and course folders may lie
    anywhere there.
    """
    hide: dict[str, None] = {}
    for name in ("grader", "jazz_utils"):
        folder = package_folder(name)
        hide[str(folder)] = None
        if not any(part in ("site-packages", "dist-packages") for part in folder.parts):
            hide[str(folder.parent)] = None
    for entry in sorted(root.iterdir()):
        if entry.name not in SYSTEM_FOLDERS and entry.is_dir() and not entry.is_symlink():
            hide[str(entry)] = None
    return tuple(hide)
