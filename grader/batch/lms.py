"""LMS downloads: Canvas's and Moodle's file names, the mapping file, learners' LMS identities.

A bulk download names each learner's submission by the LMS's own pattern:

- Canvas ("Download Submissions"): one file per submitted file,
  ``<name>[_late]_<user id>_<submission id>_<file name>``, where ``<name>`` is the
  learner's sortable name or login with its punctuation removed, ``_late`` marks a
  submission Canvas counts as late, and a file uploaded again carries a ``-1``, ``-2``...
  before its extension (the learner chooses ``<file name>``, and may choose a name);
- Moodle ("Download all submissions"): a folder per learner,
  ``<full name>_<participant id>_assignsubmission_file_`` (or, without folders, files
  ``<full name>_<participant id>_assignsubmission_file_<file name>``).

:func:`parse_name` reads these; :func:`learner_id` turns one into a learner id: the
mapping file's (:class:`NameMap`) where it names the LMS id or name, else
``canvas-<user id>`` or ``moodle-<participant id>``. The numbers are the LMS's, never
chosen by a learner, so two learners never share an id; the names are the learners' own
(a learner may rename themselves to look like another) and are never an id, a path or a
key unless the instructor's mapping file makes them one. A name whose rest holds another
``_<number>_<number>_`` could be read as two learners (a learner who calls themselves
``x_999_1`` would otherwise pass as user 999): it is refused for review, never guessed.
Of several Canvas files of one learner, a notebook or zip before any other file, then the
newest (highest submission id, then resubmission number) is graded
(``grader.batch.intake``).

What a download says of each learner (LMS, id, name, Canvas's late mark) and what the
mapping file adds (e-mail, SIS ids, section) is kept in ``course/lms.json``
(:func:`record`, :func:`identities`) for the LMS exports (``grader.batch.export``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import SubmissionError
from grader.rubric import STUDENT_ID

CANVAS = "canvas"
MOODLE = "moodle"

MAX_MAP_BYTES = 10_000_000
"""Largest mapping file read."""

MAX_NAME_CHARS = 100
"""Longest LMS name kept (for the exports' name columns)."""


_CANVAS = re.compile(
    r"(?P<name>.*?)(?:_(?P<late>[Ll][Aa][Tt][Ee]))?_(?P<user>[0-9]{1,20})_(?P<submission>[0-9]{1,20})"
    r"_(?P<file>.+)",
    re.DOTALL,
)
_MOODLE = re.compile(
    r"(?P<name>.+?)_(?P<user>[0-9]{1,20})_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.*)",
    re.DOTALL,
)
_NUMBER_PAIR = re.compile(r"_[0-9]{1,20}_[0-9]{1,20}_")
_RESUBMISSION = re.compile(r"-(?P<number>[0-9]{1,4})$")
_EXTENSIONS = (".ipynb", ".zip")
MAP_COLUMNS = ("lms_id", "lms_name", "student_id", "full_name", "email")
CANVAS_COLUMNS = ("sis_user_id", "sis_login_id", "section")


class LmsError(SubmissionError):
    """The mapping file cannot be read, or is not laid out as documented."""


@dataclass(frozen=True)
class LmsName:
    """What an LMS download's name says of its learner.

    Attributes:
        lms: ``canvas`` or ``moodle``.
        lms_id: the LMS's number for the learner (Canvas user id, Moodle participant id).
        name: the learner's name as the LMS wrote it, printable, at most ``MAX_NAME_CHARS``.
        late: Canvas marked the submission late.
        order: newer is larger: (Canvas submission id, resubmission number); (0, 0) for Moodle.
        problem: why the name cannot be trusted to name one learner (None: it can).
    """

    lms: str
    lms_id: str
    name: str
    late: bool = False
    order: tuple[int, int] = (0, 0)
    problem: str | None = None

    def describe(self, student: str) -> str:
        """How a reason refers to the entry: never the learner's name or file name."""
        where = "Canvas" if self.lms == CANVAS else "Moodle"
        if self.lms == CANVAS:
            number, again = self.order
            more = f", resubmission {again}" if again else ""
            return f"the {where} download of {student} (submission {number}{more})"
        return f"the {where} download of {student}"


def clean_name(text: str) -> str:
    """``text`` with control, format and space characters as single spaces, at most
    ``MAX_NAME_CHARS`` long."""
    kept = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    return " ".join(kept.split())[:MAX_NAME_CHARS]


def parse_name(name: str, folder: bool) -> LmsName | None:
    """The LMS identity in the entry name ``name`` (None: not an LMS download's name).

    Canvas names files only; Moodle names folders, or files when downloaded without.
    """
    moodle = _MOODLE.fullmatch(name)
    if moodle is not None and (folder or moodle["file"]):
        return LmsName(MOODLE, str(int(moodle["user"])), clean_name(moodle["name"]))
    canvas = _CANVAS.fullmatch(name)
    if canvas is None or folder:
        return None
    stem = canvas["file"]
    for extension in _EXTENSIONS:
        if stem.lower().endswith(extension):
            stem = stem[: -len(extension)]
    again = _RESUBMISSION.search(stem)
    order = (int(canvas["submission"]), int(again["number"]) if again else 0)
    user = str(int(canvas["user"]))
    problem = None
    if _NUMBER_PAIR.search(f"_{canvas['file']}"):
        problem = (
            f"the Canvas file name reads as user {user} and as another learner (its rest holds "
            "another _<number>_<number>_): rename it to the learner's id, for review"
        )
    return LmsName(CANVAS, user, clean_name(canvas["name"]), bool(canvas["late"]), order, problem)


@dataclass
class NameMap:
    """The instructor's mapping file: LMS id or name to learner id, with extra columns.

    A CSV file with a header row: ``student_id`` and at least one of ``lms_id`` (the
    Canvas user id or Moodle participant id) and ``lms_name`` (the name as the download
    writes it, or a whole entry name of the submissions folder); optional ``full_name``,
    ``email``, and for Canvas's import ``sis_user_id``, ``sis_login_id``, ``section``.
    """

    by_id: dict[str, dict[str, str]] = field(default_factory=dict)
    by_name: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> NameMap:
        """Read the mapping file at ``path`` (the instructor's).

        Raises:
            LmsError: it is missing, too large, not UTF-8 CSV, lacks the columns, names an
                id that is not a usable learner id, or maps one LMS id or name twice.
        """
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_MAP_BYTES + 1)
        except OSError as error:
            raise LmsError(f"the mapping file {path} cannot be read ({error.strerror})") from None
        if len(data) > MAX_MAP_BYTES:
            raise LmsError(f"the mapping file {path} is larger than {MAX_MAP_BYTES} bytes")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise LmsError(f"the mapping file {path} is not UTF-8 text") from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        columns = {c.strip() for c in reader.fieldnames or []}
        if "student_id" not in columns or not columns & {"lms_id", "lms_name"}:
            raise LmsError(
                f"the mapping file {path} needs a header row with student_id and lms_id or lms_name"
            )
        names = cls()
        for number, raw in enumerate(reader, 2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
            names._add(row, f"{path}, line {number}")
        return names

    def _add(self, row: dict[str, str], where: str) -> None:
        student = row.get("student_id", "")
        if not STUDENT_ID.fullmatch(student):
            raise LmsError(f"{where}: student_id is not a usable learner id")
        keys = [("lms_id", self.by_id, row.get("lms_id", ""))]
        keys.append(("lms_name", self.by_name, row.get("lms_name", "").casefold()))
        if not any(key for _, _, key in keys):
            raise LmsError(f"{where}: neither lms_id nor lms_name is given")
        for column, table, key in keys:
            if not key:
                continue
            if key in table and table[key]["student_id"] != student:
                raise LmsError(f"{where}: this {column} is mapped to two learners")
            table[key] = row

    def row(self, parsed: LmsName | None, entry_name: str) -> dict[str, str] | None:
        """The mapping row for an entry: by LMS id, then LMS name, then ``entry_name``.

        ``entry_name``: the entry's name without ``.ipynb`` or ``.zip``.
        """
        if parsed is not None and parsed.lms_id in self.by_id:
            return self.by_id[parsed.lms_id]
        if parsed is not None and parsed.name.casefold() in self.by_name:
            return self.by_name[parsed.name.casefold()]
        return self.by_name.get(entry_name.casefold())

    def for_student(self, student: str) -> dict[str, str]:
        """The mapping row naming ``student`` ({}: none)."""
        for table in (self.by_id, self.by_name):
            for row in table.values():
                if row["student_id"] == student:
                    return row
        return {}


def learner_id(parsed: LmsName | None, entry_name: str, names: NameMap | None) -> str | None:
    """The learner id of an entry: the mapping file's, else the LMS number's, else None.

    None also for a name that cannot be trusted to name one learner (``LmsName.problem``).
    """
    if parsed is not None and parsed.problem:
        return None
    row = names.row(parsed, entry_name) if names is not None else None
    if row is not None:
        return row["student_id"]
    if parsed is not None:
        return f"{parsed.lms}-{parsed.lms_id}"
    return None


def lms_file(course_root: Path) -> Path:
    """Where a course keeps its learners' LMS identities."""
    return course_root / "lms.json"


def identities(course_root: Path) -> dict[str, dict[str, Any]]:
    """The learners' LMS identities the course kept, by learner id ({}: none)."""
    try:
        data = json.loads(lms_file(course_root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record(
    course_root: Path, found: Iterable[tuple[str, LmsName]], names: NameMap | None = None
) -> None:
    """Keep what each download's name said of its learner in ``lms.json`` (merged, atomic).

    ``found``: (learner id, LMS identity) for each graded entry that came from an LMS.
    """
    found = list(found)
    if not found:
        return
    kept = identities(course_root)
    for student, parsed in found:
        entry: dict[str, Any] = {
            "lms": parsed.lms,
            "lms_id": parsed.lms_id,
            "name": parsed.name,
            "late": parsed.late,
        }
        extra = names.for_student(student) if names is not None else {}
        for column in ("full_name", "email", *CANVAS_COLUMNS):
            if extra.get(column):
                entry[column] = clean_name(extra[column])
        kept[student] = entry
    course_root.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=course_root, prefix=".lms.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(dict(sorted(kept.items())), out, indent=1)
    os.replace(temporary, lms_file(course_root))
