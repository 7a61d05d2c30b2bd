"""``make``'s install steps: which Python makes ``.venv``, what a broken or foreign ``.venv``
and a failed pip do, which install each target asks for, and that no install is silent.

Nothing is installed: ``.venv`` is a fake whose ``bin/python`` records its arguments.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools import heartbeat, venv_check

ROOT = Path(__file__).resolve().parent.parent
SPEC = ">=3.11,<3.14"
HERE = f"{sys.version_info[0]}.{sys.version_info[1]}"
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _fake_venv(venv: Path, version: str = HERE, pip: bool = True) -> Path:
    """A ``.venv`` whose python logs its arguments to ``calls.log`` beside it.

    The fake python exits with ``$FAKE_PIP_STATUS`` (0 by default), like a pip that failed.
    """
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {version}.1\n")
    python = venv / "bin" / "python"
    log = venv.parent / "calls.log"
    python.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexit "${{FAKE_PIP_STATUS:-0}}"\n')
    python.chmod(0o755)
    if pip:
        site = venv / "lib" / f"python{version}" / "site-packages" / "pip"
        site.mkdir(parents=True)
        (site / "__init__.py").write_text("")
    return venv


# ------------------------------------------------------------------ the rules


def test_requires_python_is_read_as_pyproject_says() -> None:
    spec = venv_check.requires_python(ROOT / "pyproject.toml")
    assert spec == SPEC
    assert venv_check.supported_minors(spec) == ["3.11", "3.12", "3.13"]
    assert venv_check.allows(spec, (3, 13)) and not venv_check.allows(spec, (3, 14))
    assert not venv_check.allows(spec, (3, 10))
    with pytest.raises(venv_check.VenvError, match="~=3.11"):
        venv_check.allows("~=3.11", (3, 11))


@pytest.mark.parametrize(
    ("line", "expected"),
    [("version = 3.13.0", (3, 13, "3.13.0")), ("version_info = 3.12.1.final.0", (3, 12, "3.12.1"))],
)
def test_venv_version_comes_from_pyvenv_cfg(tmp_path: Path, line: str, expected: tuple) -> None:
    (tmp_path / "pyvenv.cfg").write_text(f"home = /usr/bin\n{line}\n")
    assert venv_check.venv_version(tmp_path) == expected
    assert venv_check.venv_version(tmp_path / "missing") is None


# ------------------------------------------------------------- an existing .venv


def test_a_venv_of_a_python_outside_the_range_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    venv = _fake_venv(tmp_path / ".venv", version="3.10")
    with pytest.raises(venv_check.VenvError) as problem:
        venv_check.check_existing(venv, SPEC, "python3.12", True, (3, 12), "demo")
    message = str(problem.value)
    assert "made with Python 3.10.1" in message and SPEC in message
    assert f"rm -rf {venv} && make demo PYTHON=python3.12" in message


def test_a_venv_of_another_python_than_the_one_asked_for_is_refused(tmp_path: Path) -> None:
    venv = _fake_venv(tmp_path / ".venv", version="3.13")
    with pytest.raises(venv_check.VenvError) as problem:
        venv_check.check_existing(venv, SPEC, "python3.12", True, (3, 12), "test")
    assert f"rm -rf {venv} && make test PYTHON=python3.12" in str(problem.value)
    # Without PYTHON= on the command line, any .venv in the range is used as it is.
    venv_check.check_existing(venv, SPEC, "python3", False, (3, 10), "test")


@pytest.mark.parametrize("damage", ["no pip", "python gone", "no pyvenv.cfg"])
def test_a_broken_venv_is_refused(tmp_path: Path, damage: str) -> None:
    venv = _fake_venv(tmp_path / ".venv", pip=damage != "no pip")
    if damage == "python gone":
        (venv / "bin" / "python").unlink()
        (venv / "bin" / "python").symlink_to(tmp_path / "uninstalled-python3.12")
    if damage == "no pyvenv.cfg":
        (venv / "pyvenv.cfg").unlink()
    with pytest.raises(venv_check.VenvError, match="incomplete or broken") as problem:
        venv_check.check_existing(venv, SPEC, "python3", False, (3, 12), "demo")
    assert f"rm -rf {venv} && make demo" in str(problem.value)


def test_the_fix_names_a_python_on_path_that_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in [("python3.13", "exit 127"), ("python3.12", "echo 3.12")]:
        # python3.13 is like a pyenv shim of a version that is not active: it fails.
        (bin_dir / name).write_text(f"#!/bin/sh\n{script}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert venv_check.interpreters_on_path(SPEC) == ["python3.12"]
    with pytest.raises(venv_check.VenvError, match="make lab PYTHON=python3.12"):
        venv_check.create(tmp_path / ".venv", SPEC, "python3", (3, 10), "lab")
    assert not (tmp_path / ".venv").exists()


# ------------------------------------------------------------------ making one


def test_the_python_is_checked_before_the_venv_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    ran: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda command, **_: ran.append(command))
    with pytest.raises(venv_check.VenvError) as problem:
        venv_check.create(tmp_path / ".venv", SPEC, "python3", (3, 10), "demo")
    assert "PYTHON=python3 is Python 3.10" in str(problem.value)
    assert "Python 3.11, 3.12, 3.13" in str(problem.value)
    assert ran == [] and not (tmp_path / ".venv").exists()


def test_a_failed_venv_creation_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = tmp_path / ".venv"

    def run(command: list[str], **_: object) -> None:
        venv.mkdir(exist_ok=True)  # venv made the folder, then ensurepip failed
        if "pip" in command:
            raise subprocess.CalledProcessError(1, command)

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(subprocess.CalledProcessError):
        venv_check.create(venv, SPEC, "python3", (3, 12), "demo")
    assert not venv.exists()


# ------------------------------------------------------------- through make


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the Makefile, pyproject.toml and the two tools, with a fake ``.venv``."""
    for name in ["Makefile", "pyproject.toml", "tools/venv_check.py", "tools/heartbeat.py"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    past = time.time() - 60
    os.utime(tmp_path / "pyproject.toml", (past, past))
    _fake_venv(tmp_path / ".venv")
    return tmp_path


def _make(project: Path, *args: str, pip_status: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAKE_PIP_STATUS": str(pip_status)}
    env.pop("PYTHON", None)
    env.pop("MAKEFLAGS", None)
    return subprocess.run(
        ["make", "--no-print-directory", *args, f"PYTHON={sys.executable}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _pip_calls(project: Path) -> list[str]:
    log = project / "calls.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split("pip install ", 1)[1] for line in lines if "pip install" in line]


@needs_make
def test_learner_targets_install_no_extras_and_dev_targets_add_them(project: Path) -> None:
    stamps = project / ".venv"
    assert _make(project, "install").returncode == 0
    assert _pip_calls(project) == ["-e ."]
    assert (stamps / ".installed-learner").exists()
    assert not (stamps / ".installed-dev").exists()
    # After the learner's install, a dev target installs the extras ...
    assert _make(project, "install-dev").returncode == 0
    assert _pip_calls(project) == ["-e .", "-e .[dev]"]
    # ... and then neither reinstalls anything.
    assert _make(project, "install").returncode == 0
    assert _make(project, "install-dev").returncode == 0
    assert len(_pip_calls(project)) == 2
    dry_run = _make(project, "-n", "demo").stdout
    assert "pip install" not in dry_run and "notebook_runner.py" in dry_run


@needs_make
def test_each_target_asks_for_its_install(project: Path) -> None:
    learner = ["demo", "lab"]
    dev = ["test", "test-all", "lint", "bench", "release", "corpus", "format"]
    for target in learner + dev:
        commands = _make(project, "-n", target).stdout
        wanted = 'pip install -e ".[dev]"' if target in dev else "pip install -e ."
        assert wanted in commands, target
        if target in learner:
            assert "[dev]" not in commands and "[grader]" not in commands, target


@needs_make
def test_install_announces_itself_and_its_size(project: Path) -> None:
    for target in ["install", "install-dev"]:
        shown = _make(project, target).stdout
        assert "Installing the course" in shown
        assert re.search(r"about \d+ (min|s)", shown) and re.search(r"\d(\.\d)? GB", shown)
        assert "--quiet" not in (ROOT / "Makefile").read_text()


@needs_make
def test_a_failed_install_is_redone_by_the_next_make(project: Path) -> None:
    failed = _make(project, "install-dev", pip_status=1)
    assert failed.returncode != 0
    assert not list((project / ".venv").glob(".installed-*"))
    assert _make(project, "install-dev").returncode == 0
    assert _pip_calls(project) == ["-e .[dev]", "-e .[dev]"]
    assert (project / ".venv" / ".installed-learner").exists()


@needs_make
def test_a_changed_pyproject_reinstalls(project: Path) -> None:
    assert _make(project, "install").returncode == 0
    later = time.time() + 5  # surely newer than the stamp, whatever the clock's grain
    os.utime(project / "pyproject.toml", (later, later))
    assert _make(project, "install").returncode == 0
    assert _pip_calls(project) == ["-e .", "-e ."]


@needs_make
def test_make_stops_on_a_venv_of_another_python(project: Path) -> None:
    shutil.rmtree(project / ".venv")
    _fake_venv(project / ".venv", version="3.9")
    result = _make(project, "demo")
    assert result.returncode == 2
    assert "made with Python 3.9.1" in result.stderr
    assert "rm -rf .venv && make demo" in result.stderr
    assert _pip_calls(project) == []


@needs_make
def test_make_checks_the_python_before_making_the_venv(project: Path) -> None:
    shutil.rmtree(project / ".venv")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(SPEC, ">=3.98,<3.99"))
    result = _make(project, "test")
    assert result.returncode == 2
    assert f"is Python {HERE}; this project needs >=3.98,<3.99 (Python 3.98)" in result.stderr
    assert not (project / ".venv").exists()


# ------------------------------------------------------------ never silent


def test_heartbeat_fills_silences_and_keeps_the_status() -> None:
    out = io.StringIO()
    command = [
        sys.executable,
        "-c",
        "import sys, time; print('one', flush=True); time.sleep(0.7); print('two'); sys.exit(3)",
    ]
    assert heartbeat.run(command, every=0.2, out=out) == 3
    lines = out.getvalue().splitlines()
    assert lines[0] == "one" and lines[-1] == "two"
    assert any("still running" in line for line in lines[1:-1])
