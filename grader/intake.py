"""Finding a class's submissions in a folder, whatever layout it was handed in as.

``python -m grader autograde --submissions DIR`` accepts, one entry per student, named by
the student's id:

- nbgrader's layout, ``DIR/<id>/jazz_solo/<notebook>.ipynb`` (``DIR`` is then a course's
  ``submitted/``), with an optional ``timestamp.txt`` next to the notebook;
- a folder per student, ``DIR/<id>/<notebook>.ipynb``;
- a notebook per student, ``DIR/<id>.ipynb``;
- an LMS download per student, ``DIR/<id>.zip``, holding the notebook anywhere inside
  (and optionally a ``timestamp.txt``).

An entry that cannot be graded (no notebook, several, a broken zip, a file that is not a
notebook) is still returned, as *malformed* with the reason: nothing handed in is dropped.
Each entry carries a content digest, so that a later run can tell an unchanged
submission from a changed one.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat

from grader import rubric
from grader.errors import SubmissionError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
"""A student id the grader accepts (it becomes a folder name and a gradebook key)."""

MAX_NOTEBOOK_BYTES = 50_000_000
"""Largest notebook accepted; a bigger one is malformed (outputs of that size are an accident)."""

_IGNORED_PARTS = ("__MACOSX", ".ipynb_checkpoints")


@dataclass(frozen=True)
class Entry:
    """One student's submission as found.

    Attributes:
        student: the student's id.
        origin: the file or folder it came from.
        notebook: the notebook's bytes (None when there is none to grade).
        timestamp: the submission time from ``timestamp.txt``, if any.
        problem: why it cannot be graded (None: it reads as a notebook).
        digest: SHA-256 of what was handed in (notebook and timestamp).
    """

    student: str
    origin: Path
    notebook: bytes | None
    timestamp: str | None
    problem: str | None
    digest: str

    @property
    def malformed(self) -> bool:
        """Whether the entry cannot be graded."""
        return self.problem is not None


def _digest(notebook: bytes | None, timestamp: str | None, raw: bytes = b"") -> str:
    digest = hashlib.sha256()
    digest.update(notebook if notebook is not None else b"\0no notebook\0" + raw)
    digest.update(b"\0timestamp\0" + (timestamp or "").encode())
    return digest.hexdigest()


def notebook_problem(data: bytes) -> str | None:
    """Why ``data`` is not a gradable notebook (None: it is one)."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        return f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 1_000_000} MB"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"the notebook is not UTF-8 text ({error.reason} at byte {error.start})"
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises JSON, validation and version errors
        message = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        return f"not a readable notebook: {message}"
    if not isinstance(notebook.get("cells"), list):
        return "not a readable notebook: it has no list of cells"
    return None


def _pick(names: list[str], where: str) -> tuple[str | None, str | None]:
    """The notebook among ``names``: (name, None) or (None, why there is no single one)."""
    expected = f"{rubric.NOTEBOOK_NAME}.ipynb"
    exact = [n for n in names if PurePosixPath(n).name == expected]
    if len(exact) == 1:
        return exact[0], None
    if len(names) == 1:
        return names[0], None
    if not names:
        return None, f"{where} holds no notebook"
    listed = ", ".join(sorted(PurePosixPath(n).name for n in names)[:5])
    return None, f"{where} holds several notebooks and none is {expected} only: {listed}"


def _visible(parts: tuple[str, ...]) -> bool:
    return not any(p.startswith(".") or p in _IGNORED_PARTS for p in parts)


def _from_folder(student: str, folder: Path) -> Entry:
    inner = folder / rubric.ASSIGNMENT_ID if (folder / rubric.ASSIGNMENT_ID).is_dir() else folder
    names = sorted(p.name for p in inner.glob("*.ipynb") if _visible((p.name,)) and p.is_file())
    chosen, problem = _pick(names, f"the folder {inner.name}/")
    stamp_file = inner / "timestamp.txt"
    timestamp = stamp_file.read_text(errors="replace").strip() if stamp_file.is_file() else None
    if chosen is None:
        return Entry(student, folder, None, timestamp, problem, _digest(None, timestamp))
    data = (inner / chosen).read_bytes()
    return Entry(student, folder, data, timestamp, notebook_problem(data), _digest(data, timestamp))


def _from_zip(student: str, path: Path) -> Entry:
    raw = path.read_bytes()
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir() and _visible(PurePosixPath(info.filename).parts)
            ]
            names = [m.filename for m in members if m.filename.endswith(".ipynb")]
            chosen, problem = _pick(names, "the zip file")
            stamps = [m for m in members if PurePosixPath(m.filename).name == "timestamp.txt"]
            timestamp = (
                archive.read(stamps[0]).decode("utf-8", "replace").strip() if stamps else None
            )
            if chosen is None:
                return Entry(student, path, None, timestamp, problem, _digest(None, timestamp, raw))
            info = archive.getinfo(chosen)
            if info.file_size > MAX_NOTEBOOK_BYTES:
                problem = f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 1_000_000} MB"
                return Entry(student, path, None, timestamp, problem, _digest(None, timestamp, raw))
            data = archive.read(info)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as error:
        problem = f"not a readable zip file ({error})"
        return Entry(student, path, None, None, problem, _digest(None, None, raw))
    return Entry(student, path, data, timestamp, notebook_problem(data), _digest(data, timestamp))


def _from_notebook(student: str, path: Path) -> Entry:
    data = path.read_bytes()
    stamp = path.with_name(f"{student}.timestamp.txt")
    timestamp = stamp.read_text(errors="replace").strip() if stamp.is_file() else None
    return Entry(student, path, data, timestamp, notebook_problem(data), _digest(data, timestamp))


def discover(folder: Path) -> list[Entry]:
    """Every student's submission in ``folder`` (see the module docstring), sorted by id.

    Raises:
        SubmissionError: the folder is missing, an entry's name is not a usable student
            id, or a student has two entries (say ``ann.ipynb`` and ``ann.zip``).
    """
    if not folder.is_dir():
        raise SubmissionError(f"no submissions folder at {folder}")
    entries: dict[str, Entry] = {}
    for item in sorted(folder.iterdir()):
        if not _visible((item.name,)):
            continue
        if item.is_dir():
            student, read = item.name, _from_folder
        elif item.is_file() and item.suffix == ".ipynb":
            student, read = item.stem, _from_notebook
        elif item.is_file() and item.suffix.lower() == ".zip":
            student, read = item.stem, _from_zip
        else:
            continue  # a stray file (a README, a timestamp of a notebook): not a submission
        if not STUDENT_ID.match(student):
            raise SubmissionError(f"{item}: {student!r} is not a usable student id")
        if student in entries:
            raise SubmissionError(
                f"{item}: a second submission of {student!r} (first: {entries[student].origin})"
            )
        entries[student] = read(student, item)
    return [entries[s] for s in sorted(entries)]
