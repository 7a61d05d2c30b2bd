"""The mutant catalogue: the grader tells right from wrong; each mistake gets its golden score.

Every row is graded through ``python -m grader`` (tests/grader/catalogue.py), in the one
batch of tests/grader/catalogue_batch.py; refresh the golden table after a deliberate
rubric change with ``pytest tests/grader/test_mutants.py tests/grader/test_cheats.py
--update-golden`` and review the diff.
"""

from __future__ import annotations

import csv
from typing import Any

import nbformat
import pytest
from catalogue import GOLDEN, NOTEBOOK, mutants
from catalogue_batch import CatalogueRun, golden_rows, golden_table
from cheats import cheats

pytestmark = pytest.mark.catalogue

MUTANTS = [m.name for m in mutants()]
MISTAKES = [name for name in MUTANTS if name != "solution"]


@pytest.fixture(scope="module")
def golden(catalogue_run: CatalogueRun, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The golden table (rewritten from this run with --update-golden)."""
    return golden_table(GOLDEN, golden_rows(catalogue_run), request.config)


def test_the_catalogue_has_at_least_twelve_mistakes() -> None:
    assert len(MISTAKES) - 1 >= 12  # "untouched" is not a mistake of its own


def test_the_solution_gets_full_marks(catalogue_run: CatalogueRun) -> None:
    review = catalogue_run.reviews["solution"]
    assert review["score"] == review["max_score"] == 25
    assert not review["needs_review"], review["reasons"]


def test_the_untouched_release_gets_zero(catalogue_run: CatalogueRun) -> None:
    review = catalogue_run.reviews["untouched"]
    assert review["score"] == 0
    assert not review["needs_review"], review["reasons"]


@pytest.mark.parametrize("name", MISTAKES)
def test_every_mistake_scores_less_than_full(catalogue_run: CatalogueRun, name: str) -> None:
    assert catalogue_run.reviews[name]["score"] < catalogue_run.reviews[name]["max_score"]


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_scores_its_golden_score(
    catalogue_run: CatalogueRun, golden: dict[str, Any], name: str
) -> None:
    expected = golden["mutants"][name]
    review = catalogue_run.reviews[name]
    got = {grade_id: cell["final"] for grade_id, cell in review["cells"].items()}
    assert got == expected["cells"], f"{name}: {expected['description']}"
    assert review["score"] == expected["total"]


@pytest.mark.parametrize("name", MUTANTS)
def test_honest_work_is_never_sent_for_review(catalogue_run: CatalogueRun, name: str) -> None:
    review = catalogue_run.reviews[name]
    assert not review["needs_review"], review["reasons"]


def test_feedback_shows_each_grade_cells_judged_checks(catalogue_run: CatalogueRun) -> None:
    """The executed notebook's grade cells show the clean room's rubric, never stderr."""
    assert catalogue_run.course is not None
    for name in ("solution", "state_reset"):
        executed = catalogue_run.course / "autograded" / name / "jazz_solo" / NOTEBOOK
        review = catalogue_run.reviews[name]
        for cell in nbformat.read(executed, as_version=4).cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if not cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
                continue
            assert not [o for o in cell.outputs if o.get("name") == "stderr"]
            text = "".join(o.get("text", "") for o in cell.outputs)
            assert text.startswith(review["clean_room_report"][grade_id].splitlines()[0]), text
    state_reset = catalogue_run.course / "autograded" / "state_reset" / "jazz_solo" / NOTEBOOK
    assert "FAIL" in state_reset.read_text()


def test_grades_csv_and_feedback(catalogue_run: CatalogueRun) -> None:
    assert catalogue_run.course is not None
    with (catalogue_run.course / "grades.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    late = {cheat.name for cheat in cheats() if cheat.separate_run}
    assert set(rows) == set(catalogue_run.reviews) - late
    assert rows["solution"]["score"] == "25" and rows["solution"]["needs_review"] == "no"
    assert rows["state_reset"]["djmodel"] == "6" and rows["state_reset"]["score"] == "21"
    flagged = rows["cheat_os_exit"]  # its kernel died, and its maker ended without a result
    assert flagged["needs_review"] == "yes" and "kernel died" in flagged["review_reason"]
    assert rows["cheat_input_transformer"]["needs_review"] == "no"  # only its kernel was fooled
    feedback = catalogue_run.course / "feedback" / "solution" / "jazz_solo"
    html = (feedback / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    assert "equal to a fused reference LSTM: 5 / 5 points" in html
