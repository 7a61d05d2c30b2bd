"""Snapshots of files that learner code must not change while it is being graded.

The course's own files (configuration, source, release, gradebooks) are kept in memory
and put back if a submission changed them; the grader's code is only hashed: a change
there means the grading environment itself was tampered with, and the run stops (see
``grader.scores``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Snapshot:
    """The contents of a set of files (None for a file that did not exist)."""

    files: dict[Path, bytes | None]

    @classmethod
    def take(cls, paths: Iterable[Path]) -> Snapshot:
        """Read ``paths`` now."""
        return cls({path: _read(path) for path in paths})

    def changed(self, current: Iterable[Path] = ()) -> list[Path]:
        """Files whose contents differ from the snapshot, and files in ``current`` it lacks."""
        changed = [path for path, data in self.files.items() if _read(path) != data]
        changed.extend(path for path in current if path not in self.files and path.exists())
        return sorted(set(changed))

    def restore(self, paths: Iterable[Path]) -> None:
        """Put ``paths`` back as they were (removing those that did not exist)."""
        for path in paths:
            data = self.files.get(path)
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def code_fingerprint(files: Iterable[Path]) -> dict[Path, str]:
    """SHA-256 of each file (an empty digest for a missing one)."""
    fingerprint: dict[Path, str] = {}
    for path in files:
        data = _read(path)
        fingerprint[path] = "" if data is None else hashlib.sha256(data).hexdigest()
    return fingerprint
