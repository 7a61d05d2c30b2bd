"""``make hub``'s parts without a hub: cgroup limits enforced, the exchange's modes, each
role's Jupyter configuration, accounts touched only when made here.

The limits and the exchange need root (cgroup v1, ``chown``); they are skipped without it.
``tests/test_course_browser.py`` runs the whole hub.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hub import accounts, course, limits

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="cgroups and chown need root")


@pytest.fixture()
def groups() -> limits.UserGroups:
    """A folder of cgroups for this test only, removed (with its processes) after it."""
    if set(limits.available()) != set(limits.CONTROLLERS):
        pytest.skip(f"cgroup v1 controllers {limits.CONTROLLERS} are not all mounted")
    made = limits.UserGroups(f"jazz-hub-unit-{secrets.token_hex(3)}")
    yield made
    assert not made.end_all(), "processes outlived the test's groups"


def _in_group(groups: limits.UserGroups, user: str, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=groups.joiner(user),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@ROOT_ONLY
def test_the_memory_limit_holds_for_the_group(groups: limits.UserGroups) -> None:
    groups.prepare("learner", limits.Limits(memory_bytes=64 * 2**20, cpus=1.0, processes=64))
    small = _in_group(groups, "learner", "b = bytearray(16 * 2**20); print('ok')")
    assert small.returncode == 0 and "ok" in small.stdout, small.stderr
    # Touching 256 MiB in a 64 MiB group: the kernel's OOM killer ends the process.
    big = _in_group(
        groups,
        "learner",
        "b = bytearray(256 * 2**20); b[::4096] = b'x' * len(b[::4096]); print('ok')",
    )
    assert big.returncode == -9 and "ok" not in big.stdout, (big.returncode, big.stderr[-500:])


@ROOT_ONLY
def test_the_process_limit_holds_for_the_group(groups: limits.UserGroups) -> None:
    groups.prepare("learner", limits.Limits(memory_bytes=2**30, cpus=1.0, processes=8))
    fork_bomb = (
        "import os, time\n"
        "made = 0\n"
        "try:\n"
        "    for _ in range(50):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "        made += 1\n"
        "except OSError as error:\n"
        "    print('refused after', made, type(error).__name__)\n"
    )
    done = _in_group(groups, "learner", fork_bomb)
    assert "refused after" in done.stdout, (done.stdout, done.stderr)
    assert int(done.stdout.split()[2]) < 8
    assert groups.end("learner") == set()


@ROOT_ONLY
def test_the_cpu_limit_is_written_as_a_quota(groups: limits.UserGroups) -> None:
    made = groups.prepare("learner", limits.Limits(cpus=1.5))
    assert (made["cpu"] / "cpu.cfs_period_us").read_text().strip() == "100000"
    assert (made["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "150000"


def test_names_that_are_not_unix_names_are_refused() -> None:
    for bad in ("../etc", "Ann", "a b", "", "x" * 40):
        with pytest.raises(limits.LimitError):
            limits.UserGroups().group("memory", bad)
    with pytest.raises(accounts.AccountError):
        accounts.ensure("../root", "learner")


def test_an_account_not_made_here_is_never_changed() -> None:
    assert not accounts.is_ours("root")
    if os.geteuid() == 0:
        with pytest.raises(accounts.AccountError, match="not made for the course"):
            accounts.ensure("root", "learner")
        with pytest.raises(accounts.AccountError, match="refusing"):
            accounts.remove("root")


@ROOT_ONLY
def test_the_exchange_has_nbgraders_modes(tmp_path: Path) -> None:
    made = course.make_exchange(tmp_path / "exchange", "root", course_id="jazz-solo-lstm")
    assert stat.S_IMODE((tmp_path / "exchange").stat().st_mode) == 0o1777
    modes = {name: stat.S_IMODE((made / name).stat().st_mode) for name in course.EXCHANGE_MODES}
    assert modes == course.EXCHANGE_MODES
    # Run again (a second `make hub`): the same modes, nothing else changed.
    course.make_exchange(tmp_path / "exchange", "root", course_id="jazz-solo-lstm")
    assert {n: stat.S_IMODE((made / n).stat().st_mode) for n in modes} == modes


def test_learners_get_no_formgrader_and_everyone_gets_the_exchange(tmp_path: Path) -> None:
    exchange = tmp_path / "exchange"
    paths = course.write_jupyter_configs(tmp_path / "jupyter", exchange, tmp_path / "course")
    assert set(paths) == {"instructor", "learner"}
    for role, folder in paths.items():
        server = json.loads((folder / "jupyter_server_config.json").read_text())
        extensions = server["ServerApp"]["jpserver_extensions"]
        instructor = role == "instructor"
        assert extensions["nbgrader.server_extensions.formgrader"] is instructor
        assert extensions["nbgrader.server_extensions.course_list"] is instructor
        assert extensions["nbgrader.server_extensions.assignment_list"] is True
        assert extensions["nbgrader.server_extensions.validate_assignment"] is True
        page = json.loads((folder / "labconfig" / "page_config.json").read_text())
        hidden = {name for name, off in page["disabledExtensions"].items() if off}
        assert ("@jupyter/nbgrader:formgrader" in hidden) is not instructor
        config = (folder / "nbgrader_config.py").read_text()
        assert f"c.Exchange.root = {str(exchange)!r}" in config
        assert "c.CourseDirectory.course_id = 'jazz-solo-lstm'" in config
        assert ("c.CourseDirectory.root" in config) is instructor
