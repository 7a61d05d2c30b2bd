"""The LMS round trip (``grader.batch.lms``, ``grader.batch.export``): downloads in, grades out.

Fast: Canvas and Moodle bulk downloads laid out in ``tmp_path`` and read by ``discover``;
exports from a gradebook made with nbgrader's API (``fake_gradebook``), no notebook run.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime
from pathlib import Path

import fake_gradebook
import nbformat
import pytest

from grader import rubric
from grader.batch import lms
from grader.batch.export import CANVAS_HEADER, MOODLE_HEADER, write_export
from grader.batch.intake import STUDENT_ID, Entry, discover
from grader.course import Course

NOTEBOOK = f"{rubric.NOTEBOOK_NAME}.ipynb"


def _notebook(marker: str) -> bytes:
    """A notebook told apart from others by ``marker``."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(marker, id="marker"))
    return nbformat.writes(nb).encode()


def _rows(folder: Path, names: lms.NameMap | None = None) -> dict[str, Entry]:
    entries = discover(folder, names)
    assert len({e.student for e in entries}) == len(entries)
    assert all(STUDENT_ID.fullmatch(e.student) for e in entries)
    return {e.student: e for e in entries}


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "folder", "expected"),
    [
        (
            "smithjohn_12345_67890_Improvise_a_Jazz_Solo.ipynb",
            False,
            lms.LmsName("canvas", "12345", "smithjohn", False, (67890, 0)),
        ),
        (
            "smithjohn_late_12345_67891_Improvise_a_Jazz_Solo-1.ipynb",
            False,
            lms.LmsName("canvas", "12345", "smithjohn", True, (67891, 1)),
        ),
        (
            "smithjohn_LATE_12345_67892_solo-2.zip",
            False,
            lms.LmsName("canvas", "12345", "smithjohn", True, (67892, 2)),
        ),
        (
            "John Smith_123456_assignsubmission_file_",
            True,
            lms.LmsName("moodle", "123456", "John Smith"),
        ),
        (
            "Zoë Ann O'Neil_77_assignsubmission_file_solo.ipynb",
            False,
            lms.LmsName("moodle", "77", "Zoë Ann O'Neil"),
        ),
        ("ann", True, None),
        ("ann.ipynb", False, None),
        ("smithjohn_12345_67890_x", True, None),  # Canvas names files, not folders
        ("John Smith_123456_assignsubmission_file_", False, None),  # a file with no name
    ],
)
def test_download_names_are_read(name: str, folder: bool, expected: lms.LmsName | None) -> None:
    assert lms.parse_name(name, folder) == expected


def test_names_lose_control_characters() -> None:
    parsed = lms.parse_name("Eve\x1b[31m\nEvil_5_assignsubmission_file_", True)
    assert parsed is not None and parsed.name == "Eve [31m Evil"


# --- Canvas --------------------------------------------------------------------------


def test_canvas_download_is_one_row_per_learner_newest_upload_graded(tmp_path: Path) -> None:
    (tmp_path / "smithjohn_12345_500_Improvise.ipynb").write_bytes(_notebook("old"))
    (tmp_path / "smithjohn_late_12345_900_Improvise-1.ipynb").write_bytes(_notebook("new"))
    (tmp_path / "doejane_777_600_Improvise.ipynb").write_bytes(_notebook("jane"))
    rows = _rows(tmp_path)
    graded = {s: e for s, e in rows.items() if not e.malformed}
    assert sorted(graded) == ["canvas-12345", "canvas-777"]
    assert graded["canvas-12345"].notebook == _notebook("new")
    assert graded["canvas-12345"].lms is not None and graded["canvas-12345"].lms.late
    assert graded["canvas-777"].notebook == _notebook("jane")
    (old,) = [e for s, e in rows.items() if s.startswith("superseded-")]
    assert "another file of canvas-12345" in old.problem
    assert "submission 500" in old.problem and "submission 900" in old.problem
    assert old.lms is None and "Improvise" not in old.problem


def test_a_file_name_suffix_does_not_beat_a_newer_upload(tmp_path: Path) -> None:
    """The learner names the file, Canvas numbers the upload: the number decides."""
    (tmp_path / "smithjohn_12345_900_mine.ipynb").write_bytes(_notebook("new"))
    (tmp_path / "smithjohn_12345_500_mine-9.ipynb").write_bytes(_notebook("old"))
    rows = _rows(tmp_path)
    assert rows["canvas-12345"].notebook == _notebook("new")


def test_a_screenshot_next_to_the_notebook_does_not_take_its_place(tmp_path: Path) -> None:
    (tmp_path / "smithjohn_12345_900_Improvise.ipynb").write_bytes(_notebook("nb"))
    (tmp_path / "smithjohn_12345_900_shot-1.png").write_bytes(b"png")
    (tmp_path / "smithjohn_12345_901_zz.txt").write_bytes(b"text")
    rows = _rows(tmp_path)
    assert rows["canvas-12345"].notebook == _notebook("nb")
    others = [e for s, e in rows.items() if s != "canvas-12345"]
    assert len(others) == 2 and all(e.student.startswith("superseded-") for e in others)


def test_a_name_that_reads_as_another_learner_is_refused(tmp_path: Path) -> None:
    """A learner named ``x_999_1`` must not pass as Canvas user 999."""
    (tmp_path / "smithjohn_999_10_mine.ipynb").write_bytes(_notebook("victim"))
    (tmp_path / "x_999_99999_12345_500_mine.ipynb").write_bytes(_notebook("attacker"))
    rows = _rows(tmp_path)
    assert rows["canvas-999"].notebook == _notebook("victim")
    (odd,) = [e for s, e in rows.items() if s != "canvas-999"]
    assert odd.student.startswith("invalid-") and odd.malformed and odd.lms is None
    assert "reads as user 999 and as another learner" in odd.problem
    assert "x_999" not in odd.problem


def test_a_learner_named_like_another_keeps_their_own_row(tmp_path: Path) -> None:
    (tmp_path / "smithjohn_1_10_a.ipynb").write_bytes(_notebook("one"))
    (tmp_path / "smithjohn_2_20_a.ipynb").write_bytes(_notebook("two"))
    rows = _rows(tmp_path)
    assert rows["canvas-1"].notebook == _notebook("one")
    assert rows["canvas-2"].notebook == _notebook("two")


def test_canvas_symlink_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.ipynb"
    secret.write_bytes(_notebook("SECRET"))
    subs = tmp_path / "subs"
    subs.mkdir()
    os.symlink(secret, subs / "smithjohn_12345_500_x.ipynb")
    (row,) = discover(subs)
    assert row.student == "canvas-12345" and row.malformed and "symbolic link" in row.problem
    assert row.notebook is None and "SECRET" not in repr(row)


def test_canvas_upper_case_extension_is_its_learners_malformed_row(tmp_path: Path) -> None:
    (tmp_path / "smithjohn_12345_500_x.IPYNB").write_bytes(_notebook("x"))
    (row,) = discover(tmp_path)
    assert row.student == "canvas-12345" and row.malformed and "lower case" in row.problem


# --- Moodle --------------------------------------------------------------------------


def test_moodle_download_never_stops_the_run(tmp_path: Path) -> None:
    for name, marker in (("John Smith", "john"), ("Ann Lee", "ann")):
        folder = tmp_path / f"{name}_{len(name)}0_assignsubmission_file_"
        folder.mkdir()
        (folder / "Improvise.ipynb").write_bytes(_notebook(marker))
    empty = tmp_path / "Bad\x1b Name_99_assignsubmission_file_"
    empty.mkdir()
    (tmp_path / "Ann Lee_70_assignsubmission_onlinetext_onlinetext.html").write_text("hi")
    rows = _rows(tmp_path)
    assert rows["moodle-100"].notebook == _notebook("john")
    assert rows["moodle-70"].notebook == _notebook("ann")
    assert rows["moodle-99"].malformed and "no notebook" in rows["moodle-99"].problem
    assert "Bad" not in rows["moodle-99"].problem
    others = [e for s, e in rows.items() if not s.startswith("moodle-")]
    assert len(others) == 1 and others[0].malformed  # the online text: a row, no stop
    assert "Ann Lee" not in others[0].problem


def test_mapping_file_gives_learner_ids(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    folder = subs / "John Smith_123456_assignsubmission_file_"
    folder.mkdir()
    (folder / NOTEBOOK).write_bytes(_notebook("john"))
    (subs / "smithjane_42_500_x.ipynb").write_bytes(_notebook("jane"))
    (subs / "Eve Adams.ipynb").write_bytes(_notebook("eve"))
    (subs / "doeann_43_501_x.ipynb").write_bytes(_notebook("ann"))
    mapping = tmp_path / "map.csv"
    mapping.write_text(
        "\ufefflms_id,lms_name,student_id,email\n"
        "123456,,jsmith,john@example.org\n"
        ",SmithJane,jane.smith,\n"
        ",eve adams,eadams,\n",
        encoding="utf-8",
    )
    rows = _rows(subs, lms.NameMap.read(mapping))
    assert sorted(rows) == ["canvas-43", "eadams", "jane.smith", "jsmith"]
    assert rows["jsmith"].notebook == _notebook("john")
    assert rows["jane.smith"].notebook == _notebook("jane")
    assert rows["eadams"].notebook == _notebook("eve")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,id\nx,y\n", "needs a header row"),
        ("lms_id,student_id\n1,bad id\n", "not a usable learner id"),
        ("lms_id,student_id\n1,ann\n1,bob\n", "mapped to two learners"),
        ("lms_id,lms_name,student_id\n,,ann\n", "neither lms_id nor lms_name"),
    ],
)
def test_a_bad_mapping_file_is_refused_with_the_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "map.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(lms.LmsError, match=message):
        lms.NameMap.read(path)


# --- exports -------------------------------------------------------------------------


@pytest.fixture
def graded(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Course:
    """A course that graded a Canvas learner, a Moodle learner and a plain one."""
    made = fake_gradebook.course(
        tmp_path / "course", fake_gradebook.shared_template(tmp_path_factory)
    )
    hostile = '=HYPERLINK("http://x")_55_assignsubmission_file_'
    found = [
        ("canvas-12345", lms.parse_name("smithjohn_late_12345_9_x.ipynb", False)),
        ("moodle-55", lms.parse_name(hostile, True)),
    ]
    lms.record(made.root, [(s, p) for s, p in found if p is not None])
    fake_gradebook.grade(made, "canvas-12345", 20, None)
    fake_gradebook.grade(made, "moodle-55", None, "2026-12-07 10:00:00 UTC")
    fake_gradebook.grade(made, "ann", 10, None)
    return made


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_canvas_export_is_canvas_gradebook_import(graded: Course, tmp_path: Path) -> None:
    mapping = tmp_path / "map.csv"
    mapping.write_text(
        "lms_id,student_id,sis_user_id,sis_login_id,section\n12345,canvas-12345,S1,jsmith,A\n",
        encoding="utf-8",
    )
    done = write_export(graded, "canvas", names=lms.NameMap.read(mapping), column="Jazz (77)")
    table = _read(done.path)
    assert table[0] == [*CANVAS_HEADER, "Jazz (77)"]
    assert table[1][0].strip() == "Points Possible" and table[1][-1] == "25"
    assert table[2:] == [["smithjohn", "12345", "S1", "jsmith", "A", "20"]]
    assert sorted(done.left_out) == ["ann", "moodle-55"] and done.rows == 1
    with write_export(graded, "csv").path.open(encoding="utf-8") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert rows["canvas-12345"]["late_by"] == "late per Canvas (no time in the download)"


def test_moodle_export_is_moodles_grading_worksheet(graded: Course) -> None:
    done = write_export(graded, "moodle")
    table = _read(done.path)
    assert table[0] == list(MOODLE_HEADER)
    (row,) = table[1:]
    cells = dict(zip(MOODLE_HEADER, row, strict=True))
    assert cells["Identifier"] == "Participant 55"
    assert cells["Grade"] == "25" and cells["Maximum Grade"] == "25"
    assert cells["Full name"].startswith("'=")  # no spreadsheet formula from a learner's name
    assert cells["Last modified (submission)"] == "2026-12-07T10:00:00+00:00"
    assert datetime.fromisoformat(cells["Last modified (grade)"]).year >= 2026
    assert cells["Feedback comments"].startswith("Autograded: 25 / 25")
    assert sorted(done.left_out) == ["ann", "canvas-12345"]


def test_a_mapping_file_gives_lms_ids_to_learners_graded_from_other_layouts(
    graded: Course,
) -> None:
    mapping = graded.root / "map.csv"
    mapping.write_text("lms_id,student_id,full_name,email\n31,ann,-Ann,ann@example.org\n")
    done = write_export(graded, "moodle", names=lms.NameMap.read(mapping))
    rows = {r[0]: dict(zip(MOODLE_HEADER, r, strict=True)) for r in _read(done.path)[1:]}
    ann = rows["Participant 31"]
    assert (ann["Full name"], ann["Email address"], ann["Grade"]) == (
        "'-Ann",
        "ann@example.org",
        "10",
    )
    assert ann["Last modified (submission)"] == "-"  # no time, as Moodle writes it
    assert done.left_out == ["canvas-12345"]


def test_unknown_format_is_refused(graded: Course) -> None:
    from grader.errors import CourseError

    with pytest.raises(CourseError):
        write_export(graded, "blackboard")


def test_a_batch_of_bad_lms_entries_gives_a_row_each(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Through ``run_batch``: no entry stops the class, each learner's identity is kept."""
    from grader.batch.run import Engine, run_batch
    from grader.sandbox.limits import Limits

    made = fake_gradebook.course(
        tmp_path / "course", fake_gradebook.shared_template(tmp_path_factory)
    )
    subs = tmp_path / "subs"
    (subs / "John Smith_123456_assignsubmission_file_").mkdir(parents=True)  # no notebook
    os.symlink("/etc/passwd", subs / "smithjane_late_42_500_x.ipynb")
    mapping = tmp_path / "map.csv"
    mapping.write_text("lms_id,student_id,email\n123456,jsmith,j@example.org\n")

    def no_cluster(engine: Engine) -> None:
        raise AssertionError("nothing here is gradable: no cluster is needed")

    report = run_batch(
        made,
        subs,
        Engine(),
        Limits(),
        out=io.StringIO(),
        client_factory=no_cluster,  # type: ignore[arg-type]
        names=lms.NameMap.read(mapping),
    )
    assert sorted(report.rows) == ["canvas-42", "jsmith"]
    assert all(row["status"] == "malformed" for row in report.rows.values())
    kept = lms.identities(made.root)
    assert kept["jsmith"] == {
        "lms": "moodle",
        "lms_id": "123456",
        "name": "John Smith",
        "late": False,
        "email": "j@example.org",
    }
    assert kept["canvas-42"]["late"] is True and kept["canvas-42"]["name"] == "smithjane"
    with made.grades_csv.open(encoding="utf-8") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert rows["jsmith"]["score"] == "0" and "no notebook" in rows["jsmith"]["review_reason"]
    assert "symbolic link" in rows["canvas-42"]["review_reason"]
