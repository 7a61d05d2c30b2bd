"""Make sure ``.venv`` is one this project can use, before ``make`` installs into it.

    PYTHON tools/venv_check.py [--venv .venv] [--python-name NAME] [--explicit] [--goal GOAL]

Run by every ``make`` target that installs (the ``venv`` target), with the interpreter
named by ``make``'s ``PYTHON``. It reads ``requires-python`` from ``pyproject.toml`` and:

- with no ``.venv``: checks that this interpreter is in that range (naming the range and
  the supported interpreters it finds on ``PATH`` when it is not), then creates ``.venv``
  and upgrades its pip; a failed creation leaves no ``.venv`` behind;
- with a ``.venv``: checks that it works (its ``bin/python`` and its pip are there), that
  the Python it was made with is in the range, and, when ``PYTHON`` was named by the user
  (``--explicit``), that it is that Python; otherwise it stops with the exact commands to
  run (``rm -rf .venv`` and ``make GOAL PYTHON=...``).

Exit status: 0 when ``.venv`` is ready, 2 when the user must act (the message says how),
1 when creating ``.venv`` failed. Standard library only, and written for old Pythons too,
so that it can explain itself to a Python outside the range instead of failing to parse.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SPEC_PART = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\d+)\.(\d+)\s*$")
_INTERPRETER_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"


class VenvError(Exception):
    """``.venv`` or the interpreter cannot be used; the message says what to do."""


def requires_python(pyproject: Path) -> str:
    """``project.requires-python`` of ``pyproject`` (read with a regex: no tomllib before 3.11).

    Args:
        pyproject: path of a ``pyproject.toml``.

    Returns:
        The specifier text, e.g. ``">=3.11,<3.14"``.

    Raises:
        VenvError: when the file has no ``requires-python`` line.
    """
    match = re.search(r'^requires-python\s*=\s*"([^"]+)"', pyproject.read_text(), re.M)
    if match is None:
        raise VenvError(f"{pyproject} has no requires-python line")
    return match.group(1)


def allows(spec: str, version: tuple[int, int]) -> bool:
    """Whether the specifier ``spec`` (clauses on MAJOR.MINOR, comma-separated) admits ``version``.

    Args:
        spec: e.g. ``">=3.11,<3.14"``; each clause is one of ``>= <= == != > <`` and X.Y.
        version: ``(major, minor)``.

    Returns:
        True when every clause admits ``version``.

    Raises:
        VenvError: for a clause this checker does not understand.
    """
    checks = {
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
    }
    for clause in spec.split(","):
        match = _SPEC_PART.match(clause)
        if match is None:
            raise VenvError(f"cannot read the requires-python clause {clause!r}")
        bound = (int(match.group(2)), int(match.group(3)))
        if not checks[match.group(1)](version, bound):
            return False
    return True


def supported_minors(spec: str) -> list[str]:
    """The Python 3 versions ``spec`` admits, e.g. ``["3.11", "3.12", "3.13"]``."""
    return [f"3.{minor}" for minor in range(100) if allows(spec, (3, minor))]


def venv_version(venv: Path) -> tuple[int, int, str] | None:
    """The Python ``venv`` was made with, from its ``pyvenv.cfg``.

    Args:
        venv: the virtual environment's folder.

    Returns:
        ``(major, minor, full version text)``, or None when ``pyvenv.cfg`` is missing or
        names no version.
    """
    config = venv / "pyvenv.cfg"
    if not config.is_file():
        return None
    values = {}
    for line in config.read_text().splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    text = values.get("version_info") or values.get("version") or ""
    match = re.match(r"(\d+)\.(\d+)(\.\d+)?", text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(0)


def venv_is_complete(venv: Path) -> bool:
    """Whether ``venv`` has a Python that still exists and a pip to install with."""
    python = venv / "bin" / "python"
    has_pip = any(venv.glob("lib/python*/site-packages/pip/__init__.py"))
    return python.exists() and os.access(python, os.X_OK) and has_pip


def interpreters_on_path(spec: str) -> list[str]:
    """Commands ``python3.X`` on ``PATH`` that run and are in ``spec``, newest first.

    A command is run (``-c``, 10 s at most) rather than trusted: pyenv's shims exist for
    versions that are not active and fail when run.
    """
    found = []
    for version in reversed(supported_minors(spec)):
        name = f"python{version}"
        if shutil.which(name) is None:
            continue
        try:
            probe = subprocess.run(
                [name, "-c", _INTERPRETER_PROBE],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0 and probe.stdout.strip() == version:
            found.append(name)
    return found


def _range_words(spec: str) -> str:
    return f"{spec} (Python {', '.join(supported_minors(spec))})"


def _suggestion(spec: str, goal: str) -> str:
    found = interpreters_on_path(spec)
    if found:
        return f"make {goal} PYTHON={found[0]}"
    return (
        f"make {goal} PYTHON=/path/to/python3.X  (no Python in {spec} was found on PATH: "
        "install one, e.g. with your system's packages, pyenv or uv)"
    )


def check_existing(
    venv: Path, spec: str, python_name: str, explicit: bool, here: tuple[int, int], goal: str
) -> None:
    """Raise :class:`VenvError` unless the existing ``venv`` can be used as it is.

    Args:
        venv: the virtual environment's folder (it exists).
        spec: ``requires-python``.
        python_name: how the user named the interpreter (``make``'s ``PYTHON``).
        explicit: the user named ``PYTHON`` on the command line or in the environment.
        here: ``(major, minor)`` of that interpreter.
        goal: the ``make`` target, for the message.
    """
    made_with = venv_version(venv)
    if made_with is None or not venv_is_complete(venv):
        again = f"make {goal}" + (f" PYTHON={python_name}" if explicit else "")
        raise VenvError(
            f"{venv} is incomplete or broken: its Python or its pip is missing (an "
            "interrupted install, or the Python it was made with is gone).\n"
            f"  Run: rm -rf {venv} && {again}"
        )
    major, minor, full = made_with
    if not allows(spec, (major, minor)):
        if explicit and allows(spec, here):
            fix = f"make {goal} PYTHON={python_name}"
        else:
            fix = _suggestion(spec, goal)
        raise VenvError(
            f"{venv} was made with Python {full}, outside this project's range "
            f"{_range_words(spec)}.\n  Run: rm -rf {venv} && {fix}"
        )
    if explicit and (major, minor) != here:
        raise VenvError(
            f"{venv} was made with Python {full}, but PYTHON={python_name} is Python "
            f"{here[0]}.{here[1]}.\n"
            f"  To use {python_name}, run: rm -rf {venv} && make {goal} PYTHON={python_name}\n"
            f"  To keep {venv}, run make without PYTHON=."
        )


def create(venv: Path, spec: str, python_name: str, here: tuple[int, int], goal: str) -> None:
    """Create ``venv`` with this interpreter and upgrade its pip; remove it again on failure.

    Args:
        venv: the folder to create (it does not exist).
        spec: ``requires-python``.
        python_name: how the user named the interpreter (``make``'s ``PYTHON``).
        here: ``(major, minor)`` of this interpreter, checked against ``spec`` first.
        goal: the ``make`` target, for the message.

    Raises:
        VenvError: this interpreter is outside ``spec``.
        OSError, subprocess.CalledProcessError: ``venv`` or the pip upgrade failed
            (``venv`` has been removed again).
    """
    if not allows(spec, here):
        raise VenvError(
            f"PYTHON={python_name} is Python {here[0]}.{here[1]}; this project needs "
            f"{_range_words(spec)}.\n  Run: {_suggestion(spec, goal)}"
        )
    print(
        f"Creating {venv} with Python {sys.version.split()[0]} ({sys.executable}) "
        "and upgrading its pip (about 10 s)",
        flush=True,
    )
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--upgrade", "pip"],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(venv, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--venv", type=Path, default=Path(".venv"))
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    parser.add_argument("--python-name", default="python3", help="make's PYTHON, for messages")
    parser.add_argument("--explicit", action="store_true", help="the user named PYTHON")
    parser.add_argument("--goal", default="install", help="the make target, for messages")
    args = parser.parse_args(argv)
    here = (sys.version_info[0], sys.version_info[1])
    try:
        spec = requires_python(args.pyproject)
        if os.path.lexists(args.venv):
            check_existing(args.venv, spec, args.python_name, args.explicit, here, args.goal)
        else:
            create(args.venv, spec, args.python_name, here, args.goal)
    except VenvError as problem:
        print(f"make: {problem}", file=sys.stderr)
        return 2
    except (OSError, subprocess.CalledProcessError) as failure:
        print(
            f"make: creating {args.venv} failed ({failure}); nothing was left behind.\n"
            "  On Debian or Ubuntu, `python3 -m venv` needs the python3-venv package "
            f"(apt-get install python3.{here[1]}-venv); then run make {args.goal} again.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
