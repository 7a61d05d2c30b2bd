"""Due dates and late penalties (``grader.deadlines``), through the gradebook and grades.csv.

Fast: a gradebook made with nbgrader's API (``fake_gradebook``), results written as the
batch writes them (``grader.scores.write_result``), no notebook run. The course's
configuration is the grader's: 1 point per started hour late, never below 0.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import fake_gradebook
import pytest
from nbgrader.api import Gradebook
from nbgrader.plugins.export import CsvExportPlugin

from grader import cli, deadlines, rubric
from grader.batch.export import COLUMNS, write_export
from grader.course import Course, open_gradebook

DUE = "2026-12-07 17:00 UTC"


@pytest.fixture
def course(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Course:
    """A course with the assignment due at ``DUE``."""
    made = fake_gradebook.course(
        tmp_path / "course", fake_gradebook.shared_template(tmp_path_factory)
    )
    assert cli.main(["due", DUE, "--course", str(made.root)]) == 0
    return made


def _grades(course: Course) -> dict[str, dict[str, str]]:
    path = write_export(course, "csv").path
    with path.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return {row["student_id"]: row for row in reader}


def _stored_penalty(course: Course, student: str) -> float | None:
    with open_gradebook(course.db_url) as gradebook:
        notebook = gradebook.find_submission_notebook(
            rubric.NOTEBOOK_NAME, rubric.ASSIGNMENT_ID, student
        )
        return notebook.late_submission_penalty


def _nbgrader_export(course: Course, tmp_path: Path) -> dict[str, dict[str, str]]:
    """What nbgrader's own ``nbgrader export`` writes for the course."""
    out = tmp_path / "nbgrader.csv"
    with Gradebook(course.db_url) as gradebook:
        CsvExportPlugin(to=str(out)).export(gradebook)
    with out.open(encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_on_time_costs_nothing(course: Course, tmp_path: Path) -> None:
    fake_gradebook.grade(course, "ann", None, "2026-12-07 16:59:59 UTC")
    row = _grades(course)["ann"]
    assert (row["raw_score"], row["late_penalty"], row["score"], row["late_by"]) == (
        "25",
        "0",
        "25",
        "",
    )
    assert _stored_penalty(course, "ann") is None
    assert float(_nbgrader_export(course, tmp_path)["ann"]["score"]) == 25


def test_late_work_loses_a_point_per_started_hour(course: Course, tmp_path: Path) -> None:
    fake_gradebook.grade(course, "bob", None, "2026-12-07 19:30:00 UTC")  # 2 h 30 min late
    fake_gradebook.grade(course, "cid", 20, "2026-12-07 18:00:01+01:00")  # 1 s late
    rows = _grades(course)
    assert (rows["bob"]["raw_score"], rows["bob"]["late_penalty"], rows["bob"]["score"]) == (
        "25",
        "3",
        "22",
    )
    assert rows["bob"]["late_by"] == "2 h 30 min"
    assert (rows["cid"]["late_penalty"], rows["cid"]["score"]) == ("1", "19")
    assert rows["cid"]["late_by"] == "1 min"
    assert _stored_penalty(course, "bob") == 3
    plain = _nbgrader_export(course, tmp_path)  # nbgrader's own export and formgrader agree
    assert float(plain["bob"]["late_submission_penalty"]) == 3
    assert float(plain["bob"]["raw_score"]) == 25 and float(plain["bob"]["score"]) == 22
    review = (course.reviews_dir / "bob.json").read_text(encoding="utf-8")
    assert '"late_penalty": 3.0' in review and '"final_score": 22.0' in review


def test_a_penalty_never_takes_more_than_the_score(course: Course) -> None:
    fake_gradebook.grade(course, "dee", 4, "2026-12-09 17:00:00 UTC")  # 48 h late, 4 points
    row = _grades(course)["dee"]
    assert (row["raw_score"], row["late_penalty"], row["score"]) == ("4", "4", "0")
    assert row["late_by"] == "2 d"


def test_a_later_due_date_makes_late_work_on_time(course: Course) -> None:
    fake_gradebook.grade(course, "bob", None, "2026-12-07 19:30:00 UTC")
    assert _grades(course)["bob"]["score"] == "22"
    assert cli.main(["due", "2026-12-08 09:00 Europe/Paris", "--course", str(course.root)]) == 0
    with course.grades_csv.open(encoding="utf-8") as handle:  # `due` rewrote grades.csv
        row = {r["student_id"]: r for r in csv.DictReader(handle)}["bob"]
    assert (row["late_penalty"], row["score"], row["late_by"]) == ("0", "25", "")
    assert _stored_penalty(course, "bob") is None
    assert cli.main(["due", "2026-12-07 18:00 UTC", "--course", str(course.root)]) == 0
    assert _grades(course)["bob"]["late_penalty"] == "2"
    assert cli.main(["due", "--none", "--course", str(course.root)]) == 0
    assert _grades(course)["bob"]["late_penalty"] == "0"


def test_a_due_date_changed_elsewhere_reaches_the_next_export(course: Course) -> None:
    """formgrader edits the gradebook's due date directly: the export recomputes."""
    fake_gradebook.grade(course, "bob", None, "2026-12-07 19:30:00 UTC")
    with open_gradebook(course.db_url) as gradebook:
        deadlines.set_due_date(gradebook, datetime(2026, 12, 7, 20, 0))
    row = _grades(course)["bob"]
    assert (row["late_penalty"], row["score"]) == ("0", "25")
    assert _stored_penalty(course, "bob") is None


def test_an_extension_moves_the_learners_due_date(course: Course) -> None:
    fake_gradebook.grade(course, "bob", None, "2026-12-07 19:30:00 UTC")
    with open_gradebook(course.db_url) as gradebook:
        gradebook.find_submission(rubric.ASSIGNMENT_ID, "bob").extension = timedelta(hours=3)
        gradebook.db.commit()
    assert _grades(course)["bob"]["late_penalty"] == "0"


def test_no_submission_time_is_no_penalty_and_says_so(course: Course) -> None:
    fake_gradebook.grade(course, "eve", None, None)
    row = _grades(course)["eve"]
    assert (row["late_penalty"], row["score"]) == ("0", "25")
    assert row["late_by"] == "unknown (no submission time)"


def test_without_a_due_date_nothing_is_late(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    made = fake_gradebook.course(
        tmp_path / "course", fake_gradebook.shared_template(tmp_path_factory)
    )
    fake_gradebook.grade(made, "ann", None, "2030-01-01 00:00:00 UTC")
    row = _grades(made)["ann"]
    assert (row["late_penalty"], row["score"], row["late_by"]) == ("0", "25", "")


@pytest.mark.parametrize(
    ("method", "seconds", "penalty"),
    [
        ("none", 7200, None),
        ("zero", 1, 20.0),
        ("per_hour", 0, None),
        ("per_hour", 1, 2.0),
        ("per_hour", 3600, 2.0),
        ("per_hour", 3601, 4.0),
    ],
)
def test_penalty_methods(method: str, seconds: float, penalty: float | None) -> None:
    plugin = deadlines.LatePenalty(penalty_method=method, points_per_hour=2.0)
    assert plugin.late_submission_penalty("ann", 20.0, seconds) == penalty


def test_grace_minutes_cost_nothing_then_count_from_the_due_date() -> None:
    plugin = deadlines.LatePenalty(penalty_method="per_hour", grace_minutes=10)
    assert plugin.late_submission_penalty("ann", 20.0, 600) is None
    assert plugin.late_submission_penalty("ann", 20.0, 601) == 1.0


def test_the_course_configuration_charges_per_hour(course: Course) -> None:
    plugin = deadlines.penalty_plugin(course.config_file)
    assert isinstance(plugin, deadlines.LatePenalty)
    assert plugin.penalty_method == "per_hour" and plugin.points_per_hour == 1.0


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-12-07 17:00 UTC", datetime(2026, 12, 7, 17, 0)),
        ("2026-12-07T17:00:00Z", datetime(2026, 12, 7, 17, 0)),
        ("2026-12-07 18:30+01:30", datetime(2026, 12, 7, 17, 0)),
        ("2026-12-07 09:00 America/Los_Angeles", datetime(2026, 12, 7, 17, 0)),
        ("2026-07-07 19:00 Europe/Paris", datetime(2026, 7, 7, 17, 0)),
    ],
)
def test_due_dates_are_read_with_their_zone(text: str, utc: datetime) -> None:
    assert deadlines.parse_due(text) == utc


@pytest.mark.parametrize(
    "text",
    ["2026-12-07 17:00", "2026-12-07 17:00 XYZ", "next friday UTC", "", "2026-12-07+01:00 UTC"],
)
def test_due_dates_without_a_known_zone_are_refused(text: str) -> None:
    with pytest.raises(deadlines.DeadlineError):
        deadlines.parse_due(text)


def test_release_refuses_a_bad_due_date_before_doing_anything(tmp_path: Path) -> None:
    root = tmp_path / "course"
    assert cli.main(["release", "--course", str(root), "--due", "friday"]) == 1
    assert not root.exists()


def test_due_needs_a_date_or_none(course: Course) -> None:
    assert cli.main(["due", "--course", str(course.root)]) == 1
    assert cli.main(["due", DUE, "--none", "--course", str(course.root)]) == 1
