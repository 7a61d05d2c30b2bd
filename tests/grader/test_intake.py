"""Intake of a submissions folder (``grader.batch.intake``): every entry one row, nothing followed.

Fast: no TensorFlow and no grading run. Each test lays out a folder in ``tmp_path`` next to
honest entries, calls ``discover`` (or the batch's ``copy_submission``) and checks that the
odd entry gives exactly one malformed row with a clear reason, that the honest ones are
still found, and that no secret's bytes reach an entry or a reason.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import rubric
from grader.batch.intake import (
    MAX_NOTEBOOK_BYTES,
    STUDENT_ID,
    Entry,
    discover,
    notebook_problem,
    write_private,
)
from grader.batch.state import copy_submission
from grader.course import Course
from grader.errors import SubmissionError

NOTEBOOK = f"{rubric.NOTEBOOK_NAME}.ipynb"
SECRET = b"root:$6$SECRET-HASH-0123456789:19000:0:99999:7:::\n"
GOOD = nbformat.writes(nbformat.v4.new_notebook()).encode()
HONEST = ("ann", "bob", "cid", "dee")


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the submissions folder that intake must never read."""
    path = tmp_path / "outside" / "shadow"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


@pytest.fixture
def subs(tmp_path: Path) -> Path:
    """A submissions folder with an honest entry of every layout."""
    folder = tmp_path / "subs"
    (folder / "ann" / rubric.ASSIGNMENT_ID).mkdir(parents=True)
    (folder / "ann" / rubric.ASSIGNMENT_ID / NOTEBOOK).write_bytes(GOOD)
    (folder / "bob").mkdir()
    (folder / "bob" / "mine.ipynb").write_bytes(GOOD)
    (folder / "cid.ipynb").write_bytes(GOOD)
    with zipfile.ZipFile(folder / "dee.zip", "w") as archive:
        archive.writestr("deep/er/x.ipynb", GOOD)
    return folder


def _rows(folder: Path) -> dict[str, Entry]:
    entries = discover(folder)
    students = [e.student for e in entries]
    assert len(students) == len(set(students)), students
    for entry in entries:
        assert STUDENT_ID.fullmatch(entry.student), entry.student
    return {e.student: e for e in entries}


def _odd(folder: Path, count: int = 1) -> list[Entry]:
    """The malformed rows besides the honest ones, which must still be found intact."""
    rows = _rows(folder)
    for student in HONEST:
        assert student in rows and not rows[student].malformed, (student, rows.get(student))
        assert rows[student].notebook == GOOD
    odd = [e for s, e in rows.items() if s not in HONEST]
    assert len(odd) == count, odd
    assert all(e.malformed for e in odd)
    return odd


def _nothing_of(secret: bytes, entries: list[Entry]) -> None:
    for entry in entries:
        assert secret.strip() not in (entry.notebook or b"")
        assert secret.strip().decode() not in repr(entry)
        assert entry.problem is None or "SECRET" not in entry.problem


def test_honest_layouts_are_found(subs: Path) -> None:
    (subs / "ann" / rubric.ASSIGNMENT_ID / "timestamp.txt").write_text("2026-01-01 00:00:00")
    (subs / "cid.timestamp.txt").write_text("2026-01-02 00:00:00.000000 UTC\n")
    rows = _rows(subs)
    assert sorted(rows) == list(HONEST)
    assert rows["ann"].timestamp == "2026-01-01 00:00:00"
    assert rows["cid"].timestamp == "2026-01-02 00:00:00.000000 UTC"
    assert rows["bob"].digest == rows["dee"].digest  # the same notebook, no timestamp


def test_symlink_to_a_secret_is_never_read(subs: Path, secret: Path) -> None:
    (subs / "eve.ipynb").symlink_to(secret)
    (odd,) = _odd(subs)
    assert odd.student == "eve"
    assert "is a symbolic link (not followed)" in odd.problem
    _nothing_of(SECRET, discover(subs))


def test_symlink_to_another_learners_notebook_is_not_graded(subs: Path) -> None:
    (subs / "eve.ipynb").symlink_to(subs / "cid.ipynb")
    (odd,) = _odd(subs)
    assert odd.student == "eve" and "symbolic link (not followed)" in odd.problem


def test_symlinked_folder_is_not_descended(subs: Path, secret: Path) -> None:
    (secret.parent / "jazz_solo").mkdir()
    (secret.parent / "jazz_solo" / NOTEBOOK).write_bytes(SECRET)
    (subs / "eve").symlink_to(secret.parent, target_is_directory=True)
    (odd,) = _odd(subs)
    assert odd.student == "eve" and "symbolic link (not followed)" in odd.problem
    _nothing_of(SECRET, discover(subs))


def test_links_inside_a_learners_folder_are_not_followed(subs: Path, secret: Path) -> None:
    (subs / "eve").mkdir()
    (subs / "eve" / rubric.ASSIGNMENT_ID).symlink_to(secret.parent, target_is_directory=True)
    (subs / "fay").mkdir()
    (subs / "fay" / NOTEBOOK).symlink_to(secret)
    (subs / "gus").mkdir()
    (subs / "gus" / NOTEBOOK).write_bytes(GOOD)
    (subs / "gus" / "timestamp.txt").symlink_to(secret)
    odd = _odd(subs, count=3)
    assert [e.student for e in odd] == ["eve", "fay", "gus"]
    assert all("symbolic link (not followed)" in e.problem for e in odd)
    _nothing_of(SECRET, discover(subs))


def test_fifo_is_never_opened(subs: Path) -> None:
    os.mkfifo(subs / "eve.ipynb")  # opening it for reading would block with no writer
    (odd,) = _odd(subs)
    assert odd.student == "eve" and "named pipe" in odd.problem


def test_dot_name_gets_a_row(subs: Path) -> None:
    (subs / ".eve.ipynb").write_bytes(GOOD)
    (odd,) = _odd(subs)
    assert odd.student.startswith("invalid-")
    assert "begins with a dot" in odd.problem


def test_upper_case_extension_gets_a_row(subs: Path) -> None:
    (subs / "eve.IPYNB").write_bytes(GOOD)
    (odd,) = _odd(subs)
    assert odd.student == "eve.IPYNB" and "in lower case" in odd.problem


def test_suffix_after_ipynb_gets_a_row(subs: Path) -> None:
    (subs / "eve.ipynb.txt").write_bytes(GOOD)
    (odd,) = _odd(subs)
    assert "suffix after .ipynb" in odd.problem


def test_stray_file_gets_a_row(subs: Path) -> None:
    (subs / "README.md").write_text("notes")
    (odd,) = _odd(subs)
    assert odd.student == "README.md" and "not a submission" in odd.problem


def test_name_with_a_space_gets_a_safe_id(subs: Path) -> None:
    name = "eve smith.ipynb"
    (subs / name).write_bytes(GOOD)
    (odd,) = _odd(subs)
    assert odd.student == "invalid-" + hashlib.sha256(name.encode()).hexdigest()[:12]
    assert "not a usable student id" in odd.problem and "eve smith" not in odd.problem


def test_moodle_like_folder_without_a_participant_number_gets_a_safe_id(subs: Path) -> None:
    folder = subs / "John Smith_12a456_assignsubmission_file_"
    folder.mkdir()
    (folder / NOTEBOOK).write_bytes(GOOD)
    (odd,) = _odd(subs)
    assert odd.student.startswith("invalid-")
    assert "Moodle" in odd.problem and "John Smith" not in odd.problem


def test_moodle_folder_is_its_participants_row(subs: Path) -> None:
    """A real Moodle folder is graded under its participant number, never its name."""
    folder = subs / "John Smith_123456_assignsubmission_file_"
    folder.mkdir()
    (folder / NOTEBOOK).write_bytes(GOOD)
    rows = _rows(subs)
    assert sorted(rows) == sorted([*HONEST, "moodle-123456"])
    entry = rows["moodle-123456"]
    assert not entry.malformed and entry.notebook == GOOD
    assert entry.lms is not None and entry.lms.name == "John Smith"


def test_unprintable_name_is_not_quoted(subs: Path) -> None:
    name = os.fsdecode(b"eve\n\x1b[31m\xff.ipynb")
    (subs / name).write_bytes(GOOD)
    (odd,) = _odd(subs)
    assert odd.student.startswith("invalid-")
    assert odd.problem.isprintable() and "\x1b" not in odd.problem


def test_trailing_newline_is_not_an_id(subs: Path) -> None:
    (subs / "eve\n.ipynb").write_bytes(GOOD)
    (odd,) = _odd(subs)
    assert odd.student.startswith("invalid-") and "\n" not in odd.problem


def test_duplicate_ids_give_two_rows(subs: Path) -> None:
    (subs / "cid").mkdir()
    (subs / "cid" / NOTEBOOK).write_bytes(GOOD)
    (odd,) = _odd(subs)
    assert odd.student.startswith("duplicate-")
    assert "a second entry for id cid" in odd.problem


def test_a_gradable_entry_wins_over_a_broken_one(subs: Path) -> None:
    (subs / "cid.zip").write_bytes(b"not a zip")  # sorts after cid.ipynb either way
    (subs / "bob.IPYNB").write_bytes(GOOD)
    (subs / "ann.zip").write_bytes(b"not a zip")
    rows = _rows(subs)
    assert not rows["ann"].malformed and not rows["cid"].malformed
    duplicates = [e for s, e in rows.items() if s.startswith("duplicate-")]
    assert len(duplicates) == 2
    assert all("not a readable zip file" in e.problem for e in duplicates)


def test_zip_slip_is_refused(subs: Path) -> None:
    with zipfile.ZipFile(subs / "eve.zip", "w") as archive:
        archive.writestr("../../evil.ipynb", GOOD)
    with zipfile.ZipFile(subs / "fay.zip", "w") as archive:
        archive.writestr(NOTEBOOK, GOOD)
        archive.writestr("/etc/cron.d/x", b"* * * * * root true\n")
    odd = _odd(subs, count=2)
    assert all("leaves the archive" in e.problem for e in odd)


def test_zip_with_a_symlink_member_is_refused(subs: Path) -> None:
    link = zipfile.ZipInfo(NOTEBOOK)
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(subs / "eve.zip", "w") as archive:
        archive.writestr(link, "/etc/shadow")
    (odd,) = _odd(subs)
    assert odd.student == "eve" and "symbolic link" in odd.problem


def test_zip_bomb_is_refused_without_inflating_it(
    subs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = b'{"cells": [], "pad": "' + b" " * 3_000_000 + b'"}'
    with zipfile.ZipFile(subs / "eve.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(NOTEBOOK, big)
    assert (subs / "eve.zip").stat().st_size < 100_000
    monkeypatch.setattr("grader.batch.intake.MAX_NOTEBOOK_BYTES", 1_000_000)
    (odd,) = _odd(subs)
    assert "larger than" in odd.problem


def test_zip_bomb_that_lies_about_its_size_is_cut(
    subs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = b" " * 3_000_000
    with zipfile.ZipFile(subs / "eve.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(NOTEBOOK, big)
    data = bytearray((subs / "eve.zip").read_bytes())
    declared = (3_000_000).to_bytes(4, "little")
    assert data.count(declared) == 2  # local header and central directory
    (subs / "eve.zip").write_bytes(bytes(data).replace(declared, (100).to_bytes(4, "little")))
    monkeypatch.setattr("grader.batch.intake.MAX_NOTEBOOK_BYTES", 1_000_000)
    (odd,) = _odd(subs)
    assert odd.malformed and len(odd.problem) < 300


def test_broken_zip_is_one_row(subs: Path) -> None:
    (subs / "eve.zip").write_bytes(b"PK\x03\x04" + SECRET)
    (odd,) = _odd(subs)
    assert "not a readable zip file" in odd.problem
    _nothing_of(SECRET, [odd])


def test_non_utf8_notebook_is_described_not_quoted(subs: Path) -> None:
    (subs / "eve.ipynb").write_bytes(b"\xff\xfe" + SECRET)
    (subs / "fay.ipynb").write_bytes(SECRET)  # not JSON: nbformat's own error quotes it
    odd = _odd(subs, count=2)
    assert "not UTF-8" in odd[0].problem and "not JSON" in odd[1].problem
    for entry in odd:
        assert "SECRET" not in entry.problem and "root" not in entry.problem


def test_notebook_problem_never_quotes_the_notebook() -> None:
    assert notebook_problem(GOOD) is None
    for data in (
        b'{"cells": [ "SECRET',
        b'["SECRET"]',
        b'{"nbformat": 4, "SECRET": 1}',
        b'{"nbformat": "SECRET", "nbformat_minor": 0, "metadata": {}, "cells": []}',
        b"[" * 100_000,
    ):
        problem = notebook_problem(data)
        assert problem and "not a readable notebook" in problem and "SECRET" not in problem
    assert "larger than" in notebook_problem(b" " * (MAX_NOTEBOOK_BYTES + 1))


def test_bad_timestamp_is_refused_not_quoted(subs: Path) -> None:
    (subs / "eve.ipynb").write_bytes(GOOD)
    (subs / "eve.timestamp.txt").write_bytes(SECRET)
    (odd,) = _odd(subs)
    assert odd.student == "eve" and "date and time" in odd.problem
    _nothing_of(SECRET, [odd])


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="no submissions folder"):
        discover(tmp_path / "nowhere")


def test_copy_writes_a_fresh_private_file(tmp_path: Path, subs: Path, secret: Path) -> None:
    course = Course(tmp_path / "course")
    folder = course.submitted_dir("cid")
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).symlink_to(secret)  # a link planted where the copy goes
    entry = _rows(subs)["cid"]
    assert copy_submission(course, entry) == entry
    target = folder / NOTEBOOK
    assert not target.is_symlink() and target.read_bytes() == GOOD
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert secret.read_bytes() == SECRET  # written around the link, not through it
    assert copy_submission(course, entry) == entry  # unchanged: left as it is


def test_copy_refuses_a_linked_folder(tmp_path: Path, subs: Path, secret: Path) -> None:
    course = Course(tmp_path / "course")
    (course.root / "submitted").mkdir(parents=True)
    (course.root / "submitted" / "cid").symlink_to(secret.parent, target_is_directory=True)
    entry = _rows(subs)["cid"]
    refused = copy_submission(course, entry)
    assert refused.malformed and refused.notebook is None and refused.digest != entry.digest
    assert "symbolic link (not followed)" in refused.problem
    assert sorted(p.name for p in secret.parent.iterdir()) == ["shadow"]


def test_write_private_refuses_paths_outside(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError):
        write_private(tmp_path, tmp_path / "a" / ".." / "b", {"x": b"1"})


def test_intake_reads_every_layout_and_keeps_malformed_entries(tmp_path: Path) -> None:
    good = nbformat.writes(nbformat.v4.new_notebook()).encode()
    (tmp_path / "a" / "jazz_solo").mkdir(parents=True)
    (tmp_path / "a" / "jazz_solo" / NOTEBOOK).write_bytes(good)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "mine.ipynb").write_bytes(good)
    (tmp_path / "c.ipynb").write_bytes(good)
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as archive:
        archive.writestr("deep/er/x.ipynb", good)
        archive.writestr("timestamp.txt", "2026-01-01 00:00:00")
    (tmp_path / "e.zip").write_bytes(b"not a zip")
    (tmp_path / "f").mkdir()
    (tmp_path / "g.ipynb").write_bytes(b"\xff\xfe")
    (tmp_path / "notes.txt").write_text("ignored")
    entries = {e.student: e for e in discover(tmp_path)}
    assert sorted(entries) == [*"abcdefg", "notes.txt"]
    assert entries["notes.txt"].malformed  # every entry gets a row, none is skipped
    assert not any(entries[s].malformed for s in "abcd")
    assert entries["d"].timestamp == "2026-01-01 00:00:00"
    assert "zip" in entries["e"].problem and "no notebook" in entries["f"].problem
    assert "UTF-8" in entries["g"].problem
    assert entries["a"].digest == entries["b"].digest == entries["c"].digest  # same notebook
    assert entries["d"].digest != entries["a"].digest  # the same one with a timestamp
    (tmp_path / "a.zip").write_bytes(b"")
    rows = {e.student: e for e in discover(tmp_path)}  # a second entry never stops the class
    duplicates = [e for s, e in rows.items() if s.startswith("duplicate-")]
    assert len(duplicates) == 1 and "a second entry for id a" in duplicates[0].problem
    assert not rows["a"].malformed


def test_notebook_problem_names_what_is_wrong() -> None:
    assert notebook_problem(nbformat.writes(nbformat.v4.new_notebook()).encode()) is None
    assert "not a readable notebook" in notebook_problem(b'{"cells": [')
    assert "not a readable notebook" in notebook_problem(b'{"nbformat": 4}')
