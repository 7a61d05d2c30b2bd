"""The cheat catalogue: no attempt to score without solving gains a single point.

Each cheat is a submission built on the untouched release (or on a mutant) that edits
or deletes test cells, patches modules, hooks IPython, exits the kernel, reads hidden
tests or writes to the course's files (tests/grader/cheats.py); it is graded through
``python -m grader`` in the same batch as the mutants (tests/grader/catalogue_batch.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from catalogue import GOLDEN, NOTEBOOK
from catalogue_batch import CatalogueRun
from cheats import cheats

pytestmark = pytest.mark.catalogue

CHEATS = {c.name: c for c in cheats()}


def test_the_catalogue_has_at_least_eight_cheats() -> None:
    assert len(CHEATS) >= 8


@pytest.mark.parametrize("name", list(CHEATS))
def test_no_cheat_gains_a_point(catalogue_run: CatalogueRun, name: str) -> None:
    cheat = CHEATS[name]
    review = catalogue_run.reviews[name]
    base = catalogue_run.reviews[cheat.base]
    for grade_id, cell in review["cells"].items():
        assert cell["final"] <= base["cells"][grade_id]["final"], (name, grade_id)
    assert review["score"] <= base["score"]


def _sandboxed(review: dict) -> bool:
    """Whether the submission's kernel ran with the course hidden (the sandbox's mounts)."""
    mounts = review.get("isolation", {}).get("notebook", {}).get("mounts", "")
    return mounts.startswith("isolated")


@pytest.mark.parametrize("name", list(CHEATS))
def test_cheat_scores_its_golden_score(catalogue_run: CatalogueRun, name: str) -> None:
    expected = json.loads(GOLDEN.read_text())["cheats"][name]
    review = catalogue_run.reviews[name]
    assert {g: c["final"] for g, c in review["cells"].items()} == expected["cells"]
    if name == "cheat_write_course_files" and not _sandboxed(review):
        return  # without a sandbox it reaches the course: see the test below
    assert review["needs_review"] == expected["needs_review"]


@pytest.mark.parametrize("name", [n for n, c in CHEATS.items() if c.flagged])
def test_cheat_is_marked_for_review_with_a_reason(catalogue_run: CatalogueRun, name: str) -> None:
    review = catalogue_run.reviews[name]
    assert review["needs_review"] and review["reasons"]


@pytest.mark.parametrize("name", list(CHEATS))
def test_feedback_shows_the_clean_rooms_checks_not_the_cheats(
    catalogue_run: CatalogueRun, name: str
) -> None:
    """Whatever a cheat printed in its grade cells, the learner's feedback shows the judges'."""
    assert catalogue_run.course is not None
    review = catalogue_run.reviews[name]
    folder = catalogue_run.course / "autograded" / name / "jazz_solo" / NOTEBOOK
    if not folder.exists() or not review["clean_room_report"]:
        return  # the separately graded cheat, or a notebook nbgrader could not run
    for cell in nbformat.read(folder, as_version=4).cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and cell.outputs:
            text = "".join(o.get("text", "") for o in cell.outputs)
            assert text.strip() == review["clean_room_report"][grade_id].strip(), (name, text)


def test_course_files_are_out_of_reach_or_restored(catalogue_run: CatalogueRun) -> None:
    """In its sandbox the cheat finds no course; without one, what it writes is put back."""
    assert catalogue_run.course_files_intact
    review = catalogue_run.reviews["cheat_write_course_files"]
    if _sandboxed(review):
        assert catalogue_run.course is not None
        late = catalogue_run.course.parent.parent / "late" / "course"
        executed = late / "autograded" / "cheat_write_course_files" / "jazz_solo" / NOTEBOOK
        outputs = [
            "".join(output.get("text", ""))
            for cell in nbformat.read(executed, as_version=4).cells
            for output in cell.get("outputs", [])
        ]
        assert any("wrote to []" in text for text in outputs), outputs
        assert not any("course files changed" in reason for reason in review["reasons"])
        return
    changed = next(reason for reason in review["reasons"] if "course files changed" in reason)
    assert "gradebook.db" in changed and "nbgrader_config.py" in changed


def test_hidden_tests_are_not_in_the_release(catalogue_run: CatalogueRun) -> None:
    release: Path = catalogue_run.release_notebook
    for cell in nbformat.read(release, as_version=4).cells:
        assert "HIDDEN TESTS" not in cell.source and "hidden.grade" not in cell.source
