"""The red-team suite: every attack gains nothing, harms no one and leaves nothing behind.

One batch grades every attack, every honest variant and two victims (``tests/grader/redteam/``)
next to the mutants and cheats (``tests/grader/catalogue_batch.py``: ``run_catalogues``,
the session fixture ``redteam_run``) through ``python -m grader autograde --workers 2
--timeout 75``, as an instructor would. Then:

- each attack scores at most its golden total and at most what the same work earns
  without the attack (its base mutant's golden total);
- the two victims (the solution, byte-identical, graded after the cache poisoners) and
  every honest variant keep 25 / 25;
- each intake trick is a ``malformed`` row with a reason and 0 points, and no notebook
  of it reaches the course;
- nothing is left on the machine: no file named with the batch's marker in ``/tmp``,
  ``/var/tmp``, ``/dev/shm``, ``/run/lock`` or the batch's scratch folder, and no file
  system still mounted there; no System V IPC object; no process of a sandbox's user;
- no file of the course holds the secret notebook's marker or an attack's leak line, and
  no result file is oversized.

``pytest tests/grader/test_redteam.py --update-golden`` rewrites
``tests/grader/golden/redteam_scores.json``
from the run (an attack's total is never recorded above its base's); review the diff.
``REDTEAM_SKIP=name,name`` leaves items out (their tests skip): for a grader that stops
a whole batch on one entry.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from catalogue_batch import golden_table
from redteam.base import ATTACK, CLASSES, FULL_MARKS, HONEST, MALFORMED, REDTEAM_GOLDEN, VICTIMS
from redteam.items import items
from redteam.run import RedTeamRun, base_totals, golden_rows

pytestmark = [
    pytest.mark.catalogue,
    # The attacks kill every process they can see, fork-bomb and fill memory: they run only
    # where the grader's sandboxes hold them, as root (CI). As another user the sandbox is
    # only scrubbed environment and limits, and they would hit that user's own processes.
    pytest.mark.skipif(os.geteuid() != 0, reason="the red-team attacks need root's sandboxes"),
]

ITEMS = {item.name: item for item in items()}
ATTACKS = [name for name, item in ITEMS.items() if item.group == ATTACK]
GRADED_ATTACKS = [name for name in ATTACKS if not ITEMS[name].intake]
INTAKE = [name for name in ATTACKS if ITEMS[name].intake]
HONEST_VARIANTS = [name for name, item in ITEMS.items() if item.group == HONEST]


@pytest.fixture(scope="module")
def golden(redteam_run: RedTeamRun, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The golden table (rewritten from this run with --update-golden)."""
    return golden_table(REDTEAM_GOLDEN, golden_rows(redteam_run), request.config)


def _row(run: RedTeamRun, name: str) -> dict[str, Any]:
    """The report row of item ``name`` (the test skips when the item was left out)."""
    if name in run.skipped:
        pytest.skip(f"{name} left out of the batch (REDTEAM_SKIP)")
    found = run.row_of(ITEMS[name])
    assert found is not None, f"{name}: no row in report.json"
    return found[1]


def test_the_catalogue_covers_every_class() -> None:
    assert len(ATTACKS) >= 25
    assert len(HONEST_VARIANTS) >= 8
    assert {ITEMS[name].kind for name in ATTACKS} == set(CLASSES)
    assert len(ITEMS) == len(items()), "two items share a name"


def test_the_golden_table_lists_the_catalogue() -> None:
    table = json.loads(REDTEAM_GOLDEN.read_text())["items"]
    assert set(table) == set(ITEMS)
    for name, item in ITEMS.items():
        assert table[name]["class"] == item.kind, name
        assert table[name]["group"] == item.group, name


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_gains_nothing(redteam_run: RedTeamRun, golden: dict[str, Any], name: str) -> None:
    row = _row(redteam_run, name)
    item = ITEMS[name]
    score = float(row["score"])
    assert score <= golden["items"][name]["total"], f"{name} gained: {row}"
    assert score <= base_totals()[item.base], f"{name} beat its base {item.base}: {row}"
    assert float(row["max_score"]) == FULL_MARKS


@pytest.mark.parametrize("name", list(ITEMS))
def test_status_is_the_golden_status(
    redteam_run: RedTeamRun, golden: dict[str, Any], name: str
) -> None:
    row = _row(redteam_run, name)
    assert row["status"] == golden["items"][name]["status"], row.get("reason")


@pytest.mark.parametrize("name", VICTIMS)
def test_victims_keep_full_marks(redteam_run: RedTeamRun, name: str) -> None:
    row = _row(redteam_run, name)
    assert float(row["score"]) == FULL_MARKS, row
    assert row["status"] == "graded", row


@pytest.mark.parametrize("name", HONEST_VARIANTS)
def test_honest_variant_keeps_full_marks(redteam_run: RedTeamRun, name: str) -> None:
    row = _row(redteam_run, name)
    review = redteam_run.reviews.get(name, {})
    assert float(row["score"]) == FULL_MARKS, (row, review.get("reasons"))
    assert row["status"] == "graded", row


@pytest.mark.parametrize("name", INTAKE)
def test_intake_trick_is_malformed_and_not_copied(redteam_run: RedTeamRun, name: str) -> None:
    row = _row(redteam_run, name)
    student, _ = redteam_run.row_of(ITEMS[name]) or ("", {})
    assert row["status"] == MALFORMED, row
    assert row.get("reason"), row
    assert float(row["score"]) == 0.0, row
    for folder in ("submitted", "autograded"):
        copied = list((redteam_run.course / folder / student).rglob("*.ipynb"))
        assert not copied, f"{name}: {copied}"


def test_nothing_is_left_in_shared_folders(redteam_run: RedTeamRun) -> None:
    assert not redteam_run.leftovers, redteam_run.leftovers


def test_no_system_v_ipc_is_left(redteam_run: RedTeamRun) -> None:
    assert not redteam_run.ipc, redteam_run.ipc


def test_no_sandbox_process_is_left(redteam_run: RedTeamRun) -> None:
    assert not redteam_run.processes, redteam_run.processes


def test_the_secret_never_reaches_the_course(redteam_run: RedTeamRun) -> None:
    assert not redteam_run.secret_hits, redteam_run.secret_hits


def test_no_attack_reports_a_success(redteam_run: RedTeamRun) -> None:
    """No course file holds an attack's leak line (read a hidden file, reached the network...)."""
    assert not redteam_run.leak_hits, redteam_run.leak_hits


def test_output_is_capped(redteam_run: RedTeamRun) -> None:
    assert not redteam_run.large, redteam_run.large


def test_every_submission_has_a_row(redteam_run: RedTeamRun) -> None:
    missing = [item.name for item in redteam_run.items if redteam_run.row_of(item) is None]
    assert not missing, missing
