"""Finding a class's submissions in a folder, whatever layout it was handed in as.

``python -m grader autograde --submissions DIR`` accepts, one entry per student, named by
the student's id (1 to 128 letters, digits and ``_ . @ -``, beginning with a letter or a
digit):

- nbgrader's layout, ``DIR/<id>/jazz_solo/<notebook>.ipynb`` (``DIR`` is then a course's
  ``submitted/``), with an optional ``timestamp.txt`` next to the notebook;
- a folder per student, ``DIR/<id>/<notebook>.ipynb``;
- a notebook per student, ``DIR/<id>.ipynb`` (and optionally ``DIR/<id>.timestamp.txt``);
- an LMS download per student, ``DIR/<id>.zip``, holding the notebook anywhere inside
  (and optionally a ``timestamp.txt``);
- Canvas's and Moodle's bulk downloads, named by their own patterns
  (``grader.batch.lms``): each becomes the learner id an instructor's mapping file gives,
  else ``canvas-<user id>`` or ``moodle-<participant id>``; of several Canvas uploads of
  one learner the newest is graded, each other one a row ``superseded-<12 hex digits>``.

Every entry of ``DIR`` gives exactly one :class:`Entry`; nothing handed in is dropped and
one bad entry never stops the class. An entry that cannot be graded is returned as
*malformed*, with the reason:

- a symbolic link (never followed, whatever it points to), a named pipe, a socket or a
  device (never opened), a hidden entry (its name begins with a dot), a file of another
  kind (``.IPYNB``, ``.ipynb.txt``, a README);
- a name that is not a usable student id (a space, a name that looks like Moodle's
  without its participant number): its row gets an id the grader makes,
  ``invalid-<12 hex digits of the name's SHA-256>``, never the name itself;
- a second entry for an id (``ann/`` and ``ann.ipynb``): the first gradable one, in name
  order, is graded under the id; each other one is a row of its own,
  ``duplicate-<12 hex digits>``, whose reason names the id;
- no notebook or several, a broken, encrypted or unsafe zip (a member with an absolute
  path or ``..``, a symbolic link), a notebook above :data:`MAX_NOTEBOOK_BYTES` (also
  when decompressed), a file that is not UTF-8 JSON notebook, an unreadable
  ``timestamp.txt``.

Files are read as root without ever following a link: every file and folder is opened
relative to its parent's descriptor with ``O_NOFOLLOW`` and checked to be a regular file
(or a folder) before a byte is read. Reasons describe what is wrong and never quote a
file's content; they show a name only where it is an id or made of safe characters.
Each entry carries a content digest, so that a later run can tell an unchanged
submission from a changed one.

Why it is one long module: every layout (a folder, a notebook, a zip, nbgrader's
``submitted/``) and every refusal goes through the same link-free reading helpers;
apart, a layout could be read without them.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import nbformat

from grader import rubric
from grader.batch import lms
from grader.errors import SubmissionError

STUDENT_ID = lms.STUDENT_ID
"""A student id the grader accepts (``grader.batch.lms.STUDENT_ID``)."""

MAX_NOTEBOOK_BYTES = 50_000_000
"""Largest notebook accepted; a bigger one is malformed (outputs of that size are an accident)."""

MAX_ZIP_BYTES = 1_000_000_000
"""Largest zip file opened (its notebook is still held to ``MAX_NOTEBOOK_BYTES``)."""

MAX_ZIP_MEMBERS = 10_000
"""Most members a zip file may list."""

MAX_TIMESTAMP_BYTES = 200
"""Largest ``timestamp.txt`` read."""

_TIMESTAMP = re.compile(r"[0-9A-Za-z][0-9A-Za-z :.,+/_-]{0,79}")
_SHOWABLE = re.compile(r"[A-Za-z0-9 _.,@()+=-]{1,60}")
_NOT_ID_CHARACTER = re.compile(r"[^A-Za-z0-9_.@-]")
_MOODLE_FOLDER = re.compile(r".*_assignsubmission_.*", re.DOTALL)
_IGNORED_PARTS = ("__MACOSX", ".ipynb_checkpoints")
_LEFT_BY_TOOLS = {
    "__MACOSX": "macOS's archiver",
    ".DS_Store": "macOS's Finder",
    ".ipynb_checkpoints": "Jupyter",
    "Thumbs.db": "Windows Explorer",
    "desktop.ini": "Windows Explorer",
}
_STAMP_SUFFIX = ".timestamp.txt"
_CHUNK = 1 << 20

_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

FILE_MODE = 0o640
"""Mode of the files the grader keeps of a submission (``write_private``)."""

FOLDER_MODE = 0o750
"""Mode of the folders ``write_private`` makes."""


@dataclass(frozen=True)
class Entry:
    """One student's submission as found.

    Attributes:
        student: the student's id; for an entry whose name is not a usable id, or a
            second entry for an id, an id the grader made (``invalid-…``,
            ``duplicate-…``).
        origin: the file or folder it came from.
        notebook: the notebook's bytes (None when there is none to grade).
        timestamp: the submission time from ``timestamp.txt``, if any.
        problem: why it cannot be graded (None: it reads as a notebook).
        digest: SHA-256 of what was handed in (notebook and timestamp).
        lms: what an LMS download's name says of the learner (None: not from an LMS).
    """

    student: str
    origin: Path
    notebook: bytes | None
    timestamp: str | None
    problem: str | None
    digest: str
    lms: lms.LmsName | None = None

    @property
    def malformed(self) -> bool:
        """Whether the entry cannot be graded."""
        return self.problem is not None

    def refused(self, problem: str) -> Entry:
        """This entry, malformed for ``problem`` (its notebook is dropped, not graded).

        Its digest changes with the problem, so that a grade kept from an earlier run of
        the same content is not reused for it.
        """
        digest = hashlib.sha256(f"{self.digest}\0refused\0{problem}".encode()).hexdigest()
        return replace(self, notebook=None, problem=problem, digest=digest)


def _digest(notebook: bytes | None, timestamp: str | None, raw: bytes = b"") -> str:
    digest = hashlib.sha256()
    digest.update(notebook if notebook is not None else b"\0no notebook\0" + raw)
    digest.update(b"\0timestamp\0" + (timestamp or "").encode())
    return digest.hexdigest()


def _megabytes(limit: int) -> str:
    return f"{limit // 1_000_000} MB"


def notebook_problem(data: bytes) -> str | None:
    """Why ``data`` is not a gradable notebook (None: it is one).

    The reason describes the fault (where, what kind) and never quotes ``data``.
    """
    if len(data) > MAX_NOTEBOOK_BYTES:
        return f"the notebook is larger than {_megabytes(MAX_NOTEBOOK_BYTES)}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"the notebook is not UTF-8 text ({error.reason} at byte {error.start})"
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:  # its msg is a fixed phrase, never the text
        return (
            f"not a readable notebook: not JSON ({error.msg} at line {error.lineno}, "
            f"column {error.colno})"
        )
    except RecursionError:
        return "not a readable notebook: its JSON is nested too deeply"
    if not isinstance(parsed, dict):
        return "not a readable notebook: its JSON is not an object"
    try:
        notebook = nbformat.reads(text, as_version=4)
    except nbformat.ValidationError:  # its message may quote the notebook
        return "not a readable notebook: it lacks what the notebook format requires"
    except Exception as error:  # nbformat raises version and conversion errors of all kinds
        return f"not a readable notebook: nbformat cannot read it ({type(error).__name__})"
    if not isinstance(notebook.get("cells"), list):
        return "not a readable notebook: it has no list of cells"
    return None


def shown(name: str) -> str:
    """``name`` quoted where it is made of safe characters, else a description of it."""
    if _SHOWABLE.fullmatch(name):
        return repr(name)
    return f"(a name of {len(name)} characters, not shown)"


def _sanitized(name: str) -> str:
    """``name`` with every character outside an id's replaced by ``_``, at most 40 long."""
    clean = _NOT_ID_CHARACTER.sub("_", name)
    return clean if len(clean) <= 40 else clean[:40] + "..."


def _short_hash(name: str) -> str:
    return hashlib.sha256(os.fsencode(name)).hexdigest()[:12]


def _why_not_an_id(name: str) -> str:
    """Why the entry ``name`` does not name a student, without quoting it."""
    if name in _LEFT_BY_TOOLS:
        return f"{name} is left by {_LEFT_BY_TOOLS[name]}, not a submission"
    hint = f"with other characters replaced by _ it reads {_sanitized(name)}"
    if name.startswith("."):
        return f"a hidden entry (its name begins with a dot), not a submission ({hint})"
    if _MOODLE_FOLDER.fullmatch(name):
        return (
            "the name looks like a Moodle download's (<full name>_<participant number>_"
            "assignsubmission_...) but is not one, and is not a student id: rename it to the "
            f"learner's id, or map it in a mapping file (--lms-map) ({hint})"
        )
    return (
        "the name is not a usable student id (1 to 128 letters, digits and _ . @ -, "
        f"beginning with a letter or a digit; {hint})"
    )


def _why_not_regular(mode: int) -> str:
    """What a file of ``mode`` is, when it is not a regular file or a folder."""
    if stat.S_ISLNK(mode):
        return "is a symbolic link (not followed)"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file (not opened)"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file (not opened)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file (not opened)"
    if stat.S_ISDIR(mode):
        return "is a folder, not a regular file"
    return "is not a regular file (not opened)"


def _oserror(subject: str, error: OSError) -> SubmissionError:
    """A SubmissionError for ``error``, naming the system's reason (never a file name)."""
    if error.errno == errno.ELOOP:
        return SubmissionError(f"{subject} is a symbolic link (not followed)")
    if error.errno == errno.ENOTDIR:
        return SubmissionError(f"{subject} is not a folder")
    if error.errno == errno.ENOENT:
        return SubmissionError(f"{subject} vanished while it was being read")
    return SubmissionError(f"{subject} could not be read ({error.strerror or 'error'})")


def _lstat(name: str, dir_fd: int | None) -> os.stat_result | None:
    """``name``'s own status in the folder ``dir_fd`` (a link's, not its target's)."""
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def _open_folder(name: str, dir_fd: int | None, subject: str) -> Iterator[int]:
    """A descriptor of the folder ``name`` in ``dir_fd``, opened without following a link."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        status = _lstat(name, dir_fd) if error.errno == errno.ENOTDIR else None
        if status is not None and stat.S_ISLNK(status.st_mode):  # Linux says ENOTDIR
            error = OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        raise _oserror(subject, error) from None
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _open_regular(name: str, dir_fd: int, subject: str) -> Iterator[int]:
    """A descriptor of the regular file ``name`` in ``dir_fd``.

    A link, a pipe, a socket or a device is refused before it is opened (``lstat``) and
    again after (``O_NOFOLLOW``, ``O_NONBLOCK``, ``fstat``), should it change in between.

    Raises:
        SubmissionError: it is not a regular file, or cannot be opened.
    """
    status = _lstat(name, dir_fd)
    if status is None:
        raise SubmissionError(f"{subject} vanished while it was being read")
    if not stat.S_ISREG(status.st_mode):
        raise SubmissionError(f"{subject} {_why_not_regular(status.st_mode)}")
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        raise _oserror(subject, error) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SubmissionError(f"{subject} {_why_not_regular(mode)}")
        yield fd
    finally:
        os.close(fd)


def _read_fd(fd: int, limit: int, subject: str) -> bytes:
    """All of the open regular file ``fd``, refused above ``limit`` bytes."""
    if os.fstat(fd).st_size > limit:
        raise SubmissionError(f"{subject} is larger than {_size(limit)}")
    chunks, total = [], 0
    while True:
        chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:  # it grew while being read
            raise SubmissionError(f"{subject} is larger than {_size(limit)}")


def _size(limit: int) -> str:
    return _megabytes(limit) if limit >= 1_000_000 else f"{limit} bytes"


def _read_regular(name: str, dir_fd: int, limit: int, subject: str) -> bytes:
    """The regular file ``name`` in ``dir_fd`` (see ``_open_regular``), at most ``limit``."""
    with _open_regular(name, dir_fd, subject) as fd:
        return _read_fd(fd, limit, subject)


def _timestamp(data: bytes, subject: str) -> str | None:
    """The submission time in a ``timestamp.txt`` (None: it is empty)."""
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SubmissionError(f"{subject} is not UTF-8 text") from None
    if not text:
        return None
    if not _TIMESTAMP.fullmatch(text) or not any(c.isdigit() for c in text):
        raise SubmissionError(f"{subject} does not hold a date and time ({len(data)} bytes)")
    return text


def _optional_timestamp(name: str, dir_fd: int, subject: str) -> str | None:
    """The timestamp in the file ``name`` of ``dir_fd``, None when there is no such file."""
    if _lstat(name, dir_fd) is None:
        return None
    return _timestamp(_read_regular(name, dir_fd, MAX_TIMESTAMP_BYTES, subject), subject)


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
    listed = ", ".join(shown(PurePosixPath(n).name) for n in sorted(names)[:5])
    return None, (
        f"{where} holds {len(names)} notebooks and not exactly one named {expected}: {listed}"
    )


def _visible(parts: tuple[str, ...]) -> bool:
    return not any(p.startswith(".") or p in _IGNORED_PARTS for p in parts)


def _from_folder(student: str, origin: Path, dir_fd: int) -> Entry:
    """A folder ``<id>/``: nbgrader's ``<id>/jazz_solo/`` or the notebook right inside."""
    with _open_folder(origin.name, dir_fd, f"the folder {student}/") as fd:
        inner = _lstat(rubric.ASSIGNMENT_ID, fd)
        path = f"{student}/{rubric.ASSIGNMENT_ID}/"
        if inner is not None and stat.S_ISLNK(inner.st_mode):
            raise SubmissionError(f"the folder {path} is a symbolic link (not followed)")
        if inner is not None and stat.S_ISDIR(inner.st_mode):
            with _open_folder(rubric.ASSIGNMENT_ID, fd, f"the folder {path}") as inner_fd:
                return _notebook_in(student, origin, inner_fd, path)
        return _notebook_in(student, origin, fd, f"{student}/")


def _notebook_in(student: str, origin: Path, fd: int, path: str) -> Entry:
    """The single notebook (and ``timestamp.txt``) of the open folder ``fd`` (``path``)."""
    where = f"the folder {path}"
    names = []
    for name in sorted(os.listdir(fd)):
        status = _lstat(name, fd) if name.endswith(".ipynb") and _visible((name,)) else None
        if status is not None and not stat.S_ISDIR(status.st_mode):
            names.append(name)  # links and pipes too: refused below if chosen
    timestamp = _optional_timestamp("timestamp.txt", fd, f"the file {path}timestamp.txt")
    chosen, problem = _pick(names, where)
    if chosen is None:
        return Entry(student, origin, None, timestamp, problem, _digest(None, timestamp))
    subject = f"the notebook {shown(chosen)} in {where}"
    data = _read_regular(chosen, fd, MAX_NOTEBOOK_BYTES, subject)
    return Entry(student, origin, data, timestamp, notebook_problem(data), _digest(data, timestamp))


def _from_notebook(student: str, origin: Path, dir_fd: int) -> Entry:
    """A notebook ``<id>.ipynb``, with ``<id>.timestamp.txt`` if there is one."""
    plain = origin.name == f"{student}.ipynb"  # else an LMS name: never quoted
    subject = f"the notebook {origin.name}" if plain else f"the notebook of {student}"
    data = _read_regular(origin.name, dir_fd, MAX_NOTEBOOK_BYTES, subject)
    stamp = f"{origin.name[: -len('.ipynb')]}{_STAMP_SUFFIX}"
    where = f"the file {stamp}" if plain else f"the timestamp file of {student}"
    timestamp = _optional_timestamp(stamp, dir_fd, where)
    return Entry(student, origin, data, timestamp, notebook_problem(data), _digest(data, timestamp))


def _why_unsafe(info: zipfile.ZipInfo) -> str | None:
    """Why the zip member ``info`` is refused (None: it is a plain file or folder)."""
    name = info.filename
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
        return "a member whose path leaves the archive (absolute, or with ..)"
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return "a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "a member that is not a regular file"
    if info.flag_bits & 0x1:
        return "an encrypted member"
    return None


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, subject: str) -> bytes:
    """The member ``info`` decompressed, refused above ``limit`` bytes whatever it declares."""
    if info.file_size > limit:
        raise SubmissionError(f"{subject} is larger than {_size(limit)}")
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise SubmissionError(f"{subject} is larger than {_size(limit)} (decompressed)")
    return data


def _from_zip(student: str, origin: Path, dir_fd: int) -> Entry:
    """An LMS download ``<id>.zip`` holding the notebook anywhere inside."""
    plain = origin.name.lower() == f"{student}.zip".lower()  # else an LMS name: never quoted
    subject = f"the zip file {origin.name}" if plain else f"the zip file of {student}"
    with _open_regular(origin.name, dir_fd, subject) as fd:
        if os.fstat(fd).st_size > MAX_ZIP_BYTES:
            raise SubmissionError(f"{subject} is larger than {_size(MAX_ZIP_BYTES)}")
        whole = hashlib.sha256()
        while chunk := os.read(fd, _CHUNK):
            whole.update(chunk)
        raw = whole.digest()
        os.lseek(fd, 0, os.SEEK_SET)
        with os.fdopen(os.dup(fd), "rb") as handle:
            try:
                return _from_archive(student, origin, handle, raw)
            except SubmissionError as error:
                return Entry(student, origin, None, None, str(error), _digest(None, None, raw))
            except (
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                OSError,
                RuntimeError,
                ValueError,
                NotImplementedError,
                KeyError,
            ) as error:  # the message may quote the archive's names: only the kind is kept
                problem = f"not a readable zip file ({type(error).__name__})"
                return Entry(student, origin, None, None, problem, _digest(None, None, raw))


def _from_archive(student: str, origin: Path, handle: BinaryIO, raw: bytes) -> Entry:
    """The notebook of the open zip file ``handle`` (``raw``: the whole file's digest)."""
    with zipfile.ZipFile(handle) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise SubmissionError(f"the zip file holds more than {MAX_ZIP_MEMBERS} members")
        for info in infos:
            why = _why_unsafe(info)
            if why is not None:
                raise SubmissionError(f"the zip file holds {why}: none of it is read")
        members = [
            info
            for info in infos
            if not info.is_dir() and _visible(PurePosixPath(info.filename).parts)
        ]
        names = [m.filename for m in members if m.filename.endswith(".ipynb")]
        chosen, problem = _pick(names, "the zip file")
        stamps = [m for m in members if PurePosixPath(m.filename).name == "timestamp.txt"]
        timestamp = None
        if stamps:
            where = "the timestamp.txt in the zip file"
            timestamp = _timestamp(_member(archive, stamps[0], MAX_TIMESTAMP_BYTES, where), where)
        if chosen is None:
            return Entry(student, origin, None, timestamp, problem, _digest(None, timestamp, raw))
        info = next(m for m in members if m.filename == chosen)
        data = _member(archive, info, MAX_NOTEBOOK_BYTES, "the notebook in the zip file")
    return Entry(student, origin, data, timestamp, notebook_problem(data), _digest(data, timestamp))


_Reader = Callable[[str, Path, int], Entry]


@dataclass
class _Found:
    """One entry of the submissions folder, before ids are settled."""

    name: str
    student: str | None  # the id its name gives, None when that is not a usable id
    subject: str  # how reasons refer to it
    entry: Entry
    gradable_kind: bool = True  # a folder, a notebook or a zip (not a stray file)

    @property
    def order(self) -> tuple[bool, tuple[int, int]] | None:
        """How fit and how new a Canvas file is, larger first (None: not from Canvas)."""
        parsed = self.entry.lms
        if parsed is None or parsed.lms != lms.CANVAS:
            return None
        return (self.gradable_kind, parsed.order)


def _candidate(name: str, mode: int) -> tuple[str, _Reader | None, str]:
    """(the id ``name`` claims, its reader, the fault of its kind or "") for an entry."""
    lower = name.lower()
    if stat.S_ISDIR(mode):
        return name, _from_folder, ""
    if name.endswith(".ipynb"):
        return name[: -len(".ipynb")], _from_notebook, ""
    if lower.endswith(".zip"):
        return name[: -len(".zip")], _from_zip, ""
    if lower.endswith(".ipynb"):
        fault = "is not graded: a notebook's name must end in .ipynb, in lower case"
    elif ".ipynb." in lower:
        fault = (
            "is not graded: its name has a suffix after .ipynb (added by a browser or an "
            "LMS?), and a notebook's name must end in .ipynb"
        )
    elif name.endswith(_STAMP_SUFFIX):
        fault = "is a timestamp file with no notebook of the same id next to it"
    else:
        fault = "is not a submission: only folders, .ipynb notebooks and .zip files are graded"
    return name, None, fault


def _subject(name: str, mode: int, usable: bool) -> str:
    """How a reason refers to the entry ``name`` (its name only when it is safe)."""
    if not usable:
        return "this entry"
    if stat.S_ISDIR(mode):
        return f"the folder {name}/"
    if stat.S_ISLNK(mode) or not stat.S_ISREG(mode):
        return f"the entry {name}"
    return f"the file {name}"


def _examine(
    folder: Path, name: str, dir_fd: int, names: set[str], known: lms.NameMap | None
) -> _Found | None:
    """The entry ``name`` of the submissions folder, read (None: a notebook's timestamp).

    ``known``: the instructor's mapping of LMS ids and names to learner ids.
    """
    origin = folder / name
    status = _lstat(name, dir_fd)
    if status is None:
        problem = "this entry vanished while the folder was read"
        entry = Entry(
            f"invalid-{_short_hash(name)}", origin, None, None, problem, _digest(None, None)
        )
        return _Found(name, None, "this entry", entry)
    if name.endswith(_STAMP_SUFFIX) and f"{name[: -len(_STAMP_SUFFIX)]}.ipynb" in names:
        return None  # read (or refused) with its notebook
    mode = status.st_mode
    student, reader, fault = _candidate(name, mode)
    parsed = lms.parse_name(name, stat.S_ISDIR(mode))
    student = lms.learner_id(parsed, student, known) or student
    usable = STUDENT_ID.fullmatch(student) is not None and not (parsed and parsed.problem)
    subject = _subject(name, mode, usable) if parsed is None else parsed.describe(student)
    problems = [parsed.problem] if parsed and parsed.problem else []
    if problems:
        parsed, subject = None, "this entry"  # its row is an id the grader makes
    elif not usable:
        problems.append(_why_not_an_id(name))
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        problems.append(f"{subject} {_why_not_regular(mode)}")
    elif fault and usable:  # an unusable name is reason enough
        problems.append(f"{subject} {fault}")
    row_id = student if usable else f"invalid-{_short_hash(name)}"
    if problems or reader is None:
        problem = "; ".join(problems)
        marker = problem.encode() + b"\0" + os.fsencode(name)
        entry = Entry(row_id, origin, None, None, problem, _digest(None, None, marker), parsed)
        return _Found(name, row_id if usable else None, subject, entry, reader is not None)
    try:
        entry = replace(reader(row_id, origin, dir_fd), lms=parsed)
    except SubmissionError as error:
        marker = str(error).encode()
        entry = Entry(row_id, origin, None, None, str(error), _digest(None, None, marker), parsed)
    except OSError as error:
        problem = str(_oserror(subject, error))
        marker = problem.encode()
        entry = Entry(row_id, origin, None, None, problem, _digest(None, None, marker), parsed)
    return _Found(name, row_id, subject, entry, True)


def _fresh_id(base: str, taken: set[str]) -> str:
    """``base``, or ``base`` with a number, whichever no entry has taken yet."""
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    taken.add(candidate)
    return candidate


def discover(folder: Path, known: lms.NameMap | None = None) -> list[Entry]:
    """Every entry of ``folder``, one each (see the module docstring), sorted by id.

    ``folder`` itself is the instructor's and may be a link; nothing inside it is followed.
    ``known``: the instructor's mapping of LMS ids and names to learner ids
    (``grader.batch.lms.NameMap``).

    Raises:
        SubmissionError: the folder is missing or cannot be listed.
    """
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        raise SubmissionError(f"no submissions folder at {folder}") from None
    try:
        names = set(os.listdir(dir_fd))
        found = [
            f for n in sorted(names) if (f := _examine(folder, n, dir_fd, names, known)) is not None
        ]
    finally:
        os.close(dir_fd)
    by_id: dict[str, list[_Found]] = {}
    for item in found:
        if item.student is not None:
            by_id.setdefault(item.student, []).append(item)
    taken = set(by_id)
    entries: list[Entry] = []
    for student, group in by_id.items():
        resubmitted = all(f.order is not None for f in group)
        if resubmitted:  # Canvas: the newest upload is the learner's submission
            group.sort(key=lambda f: (f.order, f.name), reverse=True)
        else:
            group.sort(key=lambda f: (f.entry.malformed, f.name))
        first, *others = group
        entries.append(first.entry)
        for other in others:
            if resubmitted:
                reason = (
                    f"another file of {student}: {other.subject}, not graded: the graded one "
                    f"is the newest notebook, {first.subject}"
                )
                prefix = "superseded"
            else:
                reason = (
                    f"a second entry for id {student}: {other.subject} (the id's own row is "
                    f"{first.subject})"
                )
                prefix = "duplicate"
            if other.entry.problem:
                reason += f"; {other.entry.problem}"
            row_id = _fresh_id(f"{prefix}-{_short_hash(other.name)}", taken)
            entries.append(replace(other.entry.refused(reason), student=row_id, lms=None))
    for item in found:
        if item.student is None:
            entries.append(replace(item.entry, student=_fresh_id(item.entry.student, taken)))
    return sorted(entries, key=lambda e: e.student)


def write_private(base: Path, folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (name: bytes) into ``folder``, below ``base``, as fresh regular files.

    ``base`` is the grader's own (the course); every folder from there to ``folder`` is
    opened without following a link, and made (mode ``FOLDER_MODE``) where missing. Each
    file is written to a new file of mode ``FILE_MODE`` and renamed over its name, which
    replaces a link or a shared file there rather than writing through it. A file that
    already holds the same bytes, privately, is left as it is.

    Raises:
        SubmissionError: a folder on the way is a link or not a folder, or a file cannot
            be written.
    """
    parts = folder.relative_to(base).parts
    if any(part in ("", ".", "..") for part in parts):
        raise SubmissionError(f"{folder} is not a folder below {base}")
    where = "the course's folder"
    with contextlib.ExitStack() as stack:
        try:
            fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise _oserror(where, error) from None
        stack.callback(os.close, fd)
        for number, part in enumerate(parts, 1):
            where = "the course's folder " + "/".join(parts[:number])
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, FOLDER_MODE, dir_fd=fd)
            fd = stack.enter_context(_open_folder(part, fd, where))
        for name, data in files.items():
            if _holds(fd, name, data):
                continue
            temporary = f".{name}.{uuid.uuid4().hex}.tmp"
            try:
                out = os.open(temporary, _NEW_FILE_FLAGS, FILE_MODE, dir_fd=fd)
                try:
                    os.fchmod(out, FILE_MODE)
                    view = memoryview(data)
                    while view:
                        view = view[os.write(out, view) :]
                finally:
                    os.close(out)
                os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
            except OSError as error:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=fd)
                raise SubmissionError(
                    f"{where}: {name} could not be written ({error.strerror or 'error'})"
                ) from None


def _holds(fd: int, name: str, data: bytes) -> bool:
    """Whether ``name`` in ``fd`` is a private regular file (one link) holding ``data``."""
    status = _lstat(name, fd)
    if status is None or not stat.S_ISREG(status.st_mode):
        return False
    if status.st_nlink != 1 or status.st_mode & 0o7027 or status.st_size != len(data):
        return False
    try:
        return _read_regular(name, fd, len(data), name) == data
    except (SubmissionError, OSError):
        return False
