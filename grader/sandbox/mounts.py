"""What a sandbox sees of the file system: private places, hidden folders, kept software.

Inside the sandbox's mount namespace (``hide``) every world-writable place of the system
gets a private, empty copy (``world_writable_places``), world-writable files are covered by
``/dev/null``, the folders the spec names are covered by empty file systems, and the
sandbox's own folders and the software it runs (``software_layout``) are bound back.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path

from grader.sandbox.namespaces import (
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    mount,
)
from grader.sandbox.spec import JailSpec, Protections

ALWAYS_HIDDEN: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
"""Shared scratch folders every sandbox gets an empty, private copy of (where they exist),
besides the other world-writable places ``world_writable_places`` finds."""

WRITABLE_SEARCH: tuple[tuple[str, int], ...] = (("/", 1), ("/var", 3), ("/run", 3), ("/dev", 2))
"""Where world-writable places are looked for, and how many levels deep."""

NEVER_SEARCHED: tuple[str, ...] = ("/proc", "/sys")

PRIVATE_TMPFS = "size=64m,nr_inodes=16384"
"""Size of each private copy of a world-writable place (the sandbox's cgroup bounds their sum)."""


def _root_ids() -> tuple[int, ...]:
    """The owner ids root's files show here: 0, and in a user namespace that does not map
    root (the launcher's fallback without root) the kernel's overflow id as well."""
    try:
        identity = Path("/proc/self/uid_map").read_text().split() == ["0", "0", "4294967295"]
        if identity:
            return (0,)
        return (0, int(Path("/proc/sys/kernel/overflowuid").read_text()))
    except (OSError, ValueError):
        return (0,)


def _trusted_folder(info: os.stat_result, root_ids: tuple[int, ...] = (0,)) -> bool:
    """A folder only root can change (its links and entries are the system's own)."""
    return stat.S_ISDIR(info.st_mode) and info.st_uid in root_ids and not info.st_mode & 0o022


def _world_writable(path: str) -> bool:
    try:
        return bool(os.lstat(path).st_mode & 0o002)
    except OSError:
        return False


def _searched(path: str) -> bool:
    return not any(path == top or path.startswith(top + "/") for top in NEVER_SEARCHED)


def _link_target(link: str, root_ids: tuple[int, ...] = (0,)) -> str | None:
    """Where a link of the system's leads, if every folder on the way is root's alone.

    Only links found in folders only root can change are resolved (see
    ``world_writable_places``), so no learner planted them; the target's folders are
    checked too, and nothing under ``/proc`` or ``/sys`` is taken.
    """
    target = os.path.realpath(link)
    if not _searched(target):
        return None
    try:
        for folder in (*Path(link).parents, *Path(target).parents):
            if not _trusted_folder(os.lstat(folder), root_ids):
                return None
        info = os.lstat(target)
    except OSError:
        return None
    return target if stat.S_ISDIR(info.st_mode) else None


def world_writable_places(
    search: tuple[tuple[str, int], ...] = WRITABLE_SEARCH,
    always: tuple[str, ...] = ALWAYS_HIDDEN,
) -> tuple[dict[str, list[str]], list[str]]:
    """The places any user may write to, where a sandbox could leave something for later.

    Looks ``search`` levels deep (no further into a world-writable folder, never into
    ``/proc`` or ``/sys``, only into folders root alone can change, never following a link
    but to resolve one of the system's own, such as ``/var/lock -> /run/lock``).

    Returns the folders (each with the links that lead to it) and the world-writable
    files, sockets and pipes (devices such as ``/dev/null`` are not counted).
    """
    folders: dict[str, list[str]] = {}
    files: list[str] = []
    root_ids = _root_ids()

    def take(path: str, info: os.stat_result, forced: bool) -> bool:
        """Note ``path``; whether to look into it."""
        if stat.S_ISLNK(info.st_mode):
            target = _link_target(path, root_ids)
            if target is not None and (forced or _world_writable(target)):
                links = folders.setdefault(target, [])
                if path not in links:
                    links.append(path)
            return False
        if stat.S_ISDIR(info.st_mode):
            if info.st_mode & 0o002 or forced:
                folders.setdefault(path, [])
                return False
            return _trusted_folder(info, root_ids)
        kinds = stat.S_ISREG(info.st_mode) or stat.S_ISSOCK(info.st_mode)
        if info.st_mode & 0o002 and (kinds or stat.S_ISFIFO(info.st_mode)):
            files.append(path)
        return False

    def walk(folder: str, depth: int) -> None:
        try:
            with os.scandir(folder) as entries:
                names = sorted(entry.name for entry in entries)
        except OSError:
            return
        for name in names:
            path = os.path.join(folder, name)
            if not _searched(path):
                continue
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if take(path, info, False) and depth > 1:
                walk(path, depth - 1)

    for path in always:
        with contextlib.suppress(OSError):
            take(path, os.lstat(path), True)
    for top, depth in search:
        try:
            if _trusted_folder(os.lstat(top), root_ids):
                walk(top, depth)
        except OSError:
            continue
    return folders, sorted(dict.fromkeys(files))


def _private_copy(path: str) -> str:
    """Mount an empty copy of the world-writable folder ``path``; how, in words."""
    if path == "/dev/mqueue":
        # POSIX message queues: the mqueue file system of the sandbox's IPC namespace
        mount("mqueue", path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return path + " (own mqueue)"
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"{PRIVATE_TMPFS},mode={mode:o}")
    return path


def set_up_mounts(spec: JailSpec, protections: Protections) -> None:
    """Give private copies of world-writable places; cover the hidden folders; bind the
    kept ones back. Runs inside the mount namespace."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = [(Path(p), ro) for p, ro in ((spec.workdir, False), *spec.keep) if Path(p).exists()]
    keep.sort(key=lambda item: len(item[0].parts))
    handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path, _ in keep}
    folders, files = world_writable_places()
    wanted = [(name, "private") for name in folders]
    wanted += [(name, "file") for name in files]
    wanted += [(name, "hide") for name in dict.fromkeys(spec.hide)]
    wanted.sort(key=lambda item: len(Path(item[0]).parts))
    private, covered, hidden = [], [], []
    for name, kind in wanted:
        path = Path(name)
        try:
            if kind == "private":
                if not path.is_dir() or path.is_symlink():
                    continue
                done = _private_copy(name)
                links = folders[name]
                private.append(done + (f" (also {', '.join(links)})" if links else ""))
            elif kind == "file":
                if not path.exists() or path.is_symlink():
                    continue
                mount("/dev/null", name, None, MS_BIND)
                covered.append(name)
            elif path.is_dir() and not path.is_symlink():
                mount("tmpfs", name, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=755")
                hidden.append(name)
            elif path.is_file():
                mount("/dev/null", name, None, MS_BIND)
                hidden.append(name)
        except OSError as error:
            protections.notes.append(f"could not hide {path}: {error.strerror}")
    for path, read_only in keep:
        target = str(path)
        path.mkdir(parents=True, exist_ok=True)
        mount(f"/proc/self/fd/{handles[path]}", target, None, MS_BIND | MS_REC)
        if read_only:
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        os.close(handles[path])
    try:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        protections.pid = "isolated: own PID namespace and /proc"
    except OSError as error:
        protections.pid = f"isolated: own PID namespace (/proc not remounted: {error.strerror})"
    parts = [f"private copies of the world-writable places {', '.join(private) or '(none)'}"]
    if covered:
        parts.append("world-writable files covered by /dev/null: " + ", ".join(covered))
    parts.append("hidden " + (", ".join(hidden) or "(nothing)"))
    protections.mounts = "isolated: " + "; ".join(parts)


def _closed_to_others(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other users cannot enter, if any."""
    for folder in [*reversed(path.parents), path]:
        try:
            if not folder.stat().st_mode & 0o001:
                return folder
        except OSError:
            return None
    return None


def software_layout(
    packages: tuple[str, ...] = ("grader", "jazz_utils"),
) -> tuple[tuple[str, ...], tuple[tuple[str, bool], ...]]:
    """What a sandbox must hide and keep so that this Python and these packages run in it.

    Kept read-only: the interpreter's installation, the virtual environment and the
    packages. Hidden: a folder on their way that other users cannot enter (say ``/root``
    holding a pyenv Python: the sandbox's user could not start it), and the source tree
    of a package installed in development mode (the repository holds ``solutions/``
    and, by default, ``course/``): of that tree only the packages stay visible.
    """
    import importlib.util

    keep: dict[str, bool] = {}
    hide: dict[str, None] = {}
    base = Path(sys.executable).resolve().parent.parent
    keep[str(base)] = True
    keep[str(Path(sys.prefix).resolve())] = True
    for name in packages:
        found = importlib.util.find_spec(name)
        if found is None or not found.submodule_search_locations:
            continue
        folder = Path(next(iter(found.submodule_search_locations))).resolve()
        keep[str(folder)] = True
        if not any(part in ("site-packages", "dist-packages") for part in folder.parts):
            hide[str(folder.parent)] = None
    for path in list(keep):
        closed = _closed_to_others(Path(path))
        if closed is not None and closed != Path(path):
            hide[str(closed)] = None
    return tuple(hide), tuple(keep.items())
