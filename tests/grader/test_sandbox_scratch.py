"""The batch grader's scratch folder: each submission's own file system, and the sweep.

Nothing a submission leaves may outlive its batch, whatever shape it leaves it in (a
tree deeper than Python's recursion, links to the grader's files, a full disk), and a
task still running on the machine is never swept away.
"""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox.scratch import hold_base, mount_scratch, remove_tree, sweep, unmount


def _deep_tree(top: Path, depth: int) -> None:
    """A chain of ``depth`` nested folders, made without recursion (as a submission would)."""
    os.makedirs(top, exist_ok=True)
    descriptor = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=descriptor)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
    finally:
        os.close(descriptor)


def test_a_tree_deeper_than_recursion_goes_and_links_are_not_followed(tmp_path: Path) -> None:
    keep = tmp_path / "grader-file.txt"
    keep.write_text("the grader's")
    tree = tmp_path / "task"
    _deep_tree(tree, 3000)
    (tree / "link").symlink_to(keep)
    (tree / "folder-link").symlink_to(tmp_path)
    remove_tree(tree)
    assert not tree.exists()
    assert keep.read_text() == "the grader's"


def test_sweep_removes_what_no_process_holds_and_keeps_live_tasks(tmp_path: Path) -> None:
    base = tmp_path / "scratch"
    tasks = base / "tasks"
    (tasks / "task-live").mkdir(parents=True)
    (tasks / "task-dead").mkdir()
    _deep_tree(tasks / "task-dead" / "kernel", 1500)
    live = (tasks / "task-live.held").open("w")
    fcntl.flock(live, fcntl.LOCK_EX)
    servers = base / "forkservers"
    servers.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    gone = int(dead.stdout)
    (servers / f"{gone}.sock").touch()
    (servers / f"{gone}.log").touch()
    (servers / f"home-{gone}").mkdir()
    (servers / f"{os.getpid()}.log").touch()  # a running fork server's (this process)
    holder = subprocess.Popen(  # another worker holding the scratch folder
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\n"
            "from grader.sandbox.scratch import hold_base\nhold_base(Path(sys.argv[1]))\n"
            "print('held', flush=True)\ntime.sleep(60)",
            str(base),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        sweep(base)
        assert (tasks / "task-live").is_dir() and not (tasks / "task-dead").exists()
        assert sorted(p.name for p in servers.iterdir()) == [f"{os.getpid()}.log"]
    finally:
        holder.kill()
        holder.wait()
        live.close()
    sweep(base)  # nobody holds it now: all of it goes
    assert not base.exists()


def test_this_process_holding_the_folder_keeps_it(tmp_path: Path) -> None:
    base = tmp_path / "scratch"
    base.mkdir()
    hold_base(base)
    sweep(base)
    assert base.is_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason="a tmpfs of its own needs root")
def test_a_submission_fills_only_its_own_file_system(tmp_path: Path) -> None:
    task = tmp_path / "task-x"
    task.mkdir()
    assert mount_scratch(task, 4 * 2**20).startswith("a tmpfs of its own")
    try:
        with pytest.raises(OSError) as raised, (task / "big").open("wb") as handle:
            for _ in range(8):
                handle.write(b"\0" * 2**20)
                handle.flush()
        assert raised.value.errno == errno.ENOSPC
    finally:
        unmount(task)
    assert not os.path.ismount(task) and not (task / "big").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="a tmpfs of its own needs root")
def test_a_killed_workers_task_file_system_is_swept(tmp_path: Path) -> None:
    """A worker killed mid-task leaves its task's tmpfs mounted: the sweep detaches it."""
    base = tmp_path / "scratch"
    task = base / "tasks" / "task-killed"
    task.mkdir(parents=True)
    assert mount_scratch(task, 2**20).startswith("a tmpfs of its own")
    (task / "kernel").mkdir()
    (task / "kernel" / "left.txt").write_text("x")
    sweep(base)
    assert not base.exists() and not os.path.ismount(task)
