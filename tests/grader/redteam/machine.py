"""What a batch can leave on this machine: marked files, mounts, System V IPC, processes,
secrets and leak lines in the course, oversized results."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from redteam.base import SHARED_FOLDERS, UID_BASE

# --- observing the machine -----------------------------------------------------------


def marked_entries(marker: str, folders: tuple[str, ...] = SHARED_FOLDERS) -> list[str]:
    """Paths under ``folders`` whose names carry ``marker`` (symlinks not followed).

    The search goes 12 folders deep and not into a marked folder (a tree made too deep
    to walk is found at its top).
    """
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    stack = [(folder, 0) for folder in folders]
    while stack:
        folder, depth = stack.pop()
        try:
            info = os.stat(folder, follow_symlinks=False)
            if (info.st_dev, info.st_ino) in seen or not stat.S_ISDIR(info.st_mode):
                continue
            seen.add((info.st_dev, info.st_ino))
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if marker in entry.name:
                found.append(entry.path)
                continue
            with contextlib.suppress(OSError):
                if depth < 12 and entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, depth + 1))
    return sorted(found)


def mounts_under(folder: Path) -> list[str]:
    """Mount points below ``folder`` (a task's scratch file system left mounted), deepest first."""
    prefix = str(folder).rstrip("/") + "/"
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1] for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


def sysv_objects() -> dict[tuple[str, str], int]:
    """System V IPC objects on this machine: (kind, id) -> owner uid."""
    found: dict[tuple[str, str], int] = {}
    for kind, uid_column in (("shm", 7), ("sem", 4), ("msg", 7)):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > uid_column:
                found[(kind, parts[1])] = int(parts[uid_column])
    return found


def sandbox_processes(scratch: Path | None = None) -> dict[int, str]:
    """Processes of the sandboxes' users (uid >= UID_BASE): pid -> command line.

    With ``scratch``, only those of this batch: a process whose environment names another
    grader's scratch folder (``jazz-batch-`` elsewhere: a batch running beside this one)
    is left out; one that names ``scratch``, or none, is kept.
    """
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            uid = int(uid_line.split()[1])
            if uid < UID_BASE:
                continue
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            if scratch is not None:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
                if b"jazz-batch-" in environ and str(scratch).encode() not in environ:
                    continue
            found[int(entry)] = command.decode(errors="replace").strip()
        except (OSError, StopIteration, ValueError):
            continue
    return found


def text_hits(root: Path, needle: str, limit: int = 60_000_000) -> list[str]:
    """Files under ``root`` (not following symlinks) that contain ``needle``, with a line each."""
    hits = []
    data_needle = needle.encode()
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            try:
                if path.is_symlink() or path.stat().st_size > limit:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            at = data.find(data_needle)
            for _ in range(3):
                if at < 0:
                    break
                line = data[at : at + 160].split(b"\n")[0].decode(errors="replace")
                hits.append(f"{path.relative_to(root)}: {line}")
                at = data.find(data_needle, at + 1)
    return hits


def large_files(root: Path, limit: int = 25_000_000) -> list[str]:
    """Result files of the course larger than ``limit`` bytes (output must be capped)."""
    found = []
    for folder in ("autograded", "logs", "reviews", "feedback"):
        for path in (root / folder).rglob("*"):
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink() and path.stat().st_size > limit:
                    found.append(f"{path.relative_to(root)} ({path.stat().st_size} bytes)")
    for name in ("report.json", "grades.csv"):
        with contextlib.suppress(OSError):
            if (root / name).stat().st_size > limit:
                found.append(name)
    return found
