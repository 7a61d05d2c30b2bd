"""Batch grading on dask.distributed (``grader.batch``): parallel, isolated, resumable.

The class of tests/grader/batch_class.py (every accepted layout, every fault) is graded
in three runs through ``python -m grader autograde``, as an instructor would (the session
fixture ``klass``): A on a real Dask scheduler with a worker killed mid-batch, B
interrupted, C resumed. These tests read what each run left; A's scores are compared
with plain serial ``nbgrader autograde`` of the same submissions in a copy of the course.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
from batch_class import HONEST, TIMEOUT_S, Class, gradebook_scores, rows_of
from catalogue import NOTEBOOK, SOURCE, build_mutant, mutants

from grader.batch.task import read_scores
from grader.errors import BatchError
from grader.sandbox.limits import Limits


def test_nothing_of_the_batches_is_left_on_the_machine(klass: Class) -> None:
    """Run A's worker was killed mid-task; runs B and C swept what it left, then their own."""
    assert klass.leftovers == []


# --- run A: statuses, isolation, engine ------------------------------------------------


def test_every_student_has_a_row_with_the_right_status(klass: Class) -> None:
    rows = rows_of(klass.report_a)
    expected = {
        "ann": "graded",
        "ben": "graded",
        "cid": "graded",
        "dan": "timeout",
        "eve": "crashed",
        "fay": "crashed",
        "gus": "malformed",
        "hal": "malformed",
        "ivy": "graded",
    }
    assert {s: r["status"] for s, r in rows.items()} == expected
    assert rows["ann"]["score"] == 25 and rows["ben"]["score"] == 21 and rows["cid"]["score"] == 0
    assert "time limit" in rows["dan"]["reason"]
    assert "memory" in rows["eve"]["reason"]
    assert "kernel died" in rows["fay"]["reason"]
    assert "not a readable notebook" in rows["gus"]["reason"]
    assert "holds no notebook" in rows["hal"]["reason"]
    for student in ("dan", "eve", "fay", "gus", "hal"):
        assert rows[student]["score"] == 0 and rows[student]["needs_review"]


def test_grades_csv_and_reviews_carry_status_and_reason(klass: Class) -> None:
    import csv

    with (klass.course / "grades.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(rows_of(klass.report_c))
    assert rows["dan"]["needs_review"] == "yes" and "timeout" in rows["dan"]["review_reason"]
    assert rows["ann"]["score"] == "25" and rows["ann"]["needs_review"] == "no"
    review = json.loads((klass.course / "reviews" / "fay.json").read_text())
    assert review["status"] == "crashed" and "kernel" in review["status_reason"]


def test_scores_equal_plain_serial_nbgrader(klass: Class, tmp_path: Path) -> None:
    """The same submissions, graded by stock ``nbgrader autograde`` one after another."""
    plain = tmp_path / "plain"
    for name in ("source", "release"):
        shutil.copytree(klass.course / name, plain / name)
    (plain / "nbgrader_config.py").write_bytes((klass.course / "nbgrader_config.py").read_bytes())
    (plain / "gradebook.db").write_bytes((klass.course / ".grader" / "assignment.db").read_bytes())
    notebooks = {
        "ann": klass.submissions / "ann" / "jazz_solo" / NOTEBOOK,
        "ben": None,
        "cid": None,
    }
    for student in HONEST:
        target = plain / "submitted" / student / "jazz_solo"
        target.mkdir(parents=True)
        data = _submitted_in_run_a(klass, student, notebooks[student])
        (target / NOTEBOOK).write_bytes(data)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            "autograde",
            "jazz_solo",
            f"--CourseDirectory.root={plain}",
        ],
        cwd=plain,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    serial = gradebook_scores(plain)
    for student in HONEST:
        assert klass.scores_a[student] == serial[student], student


def _submitted_in_run_a(klass: Class, student: str, path: Path | None) -> bytes:
    """The notebook run A graded for ``student`` (cid's changed after A)."""
    if path is not None:
        return path.read_bytes()
    if student == "ben":
        with zipfile.ZipFile(klass.submissions / "ben.zip") as archive:
            return archive.read(f"submission/{NOTEBOOK}")
    source = nbformat.read(SOURCE, as_version=4)
    by_name = {m.name: m for m in mutants()}
    return nbformat.writes(build_mutant(by_name["untouched"], source, klass.release)).encode()


def _isolation_seen(klass: Class) -> dict[str, Any]:
    executed = klass.course / "autograded" / "ivy" / "jazz_solo" / NOTEBOOK
    for cell in nbformat.read(executed, as_version=4).cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            if "ISOLATION " in text:
                return json.loads(text.split("ISOLATION ", 1)[1].splitlines()[0])
    raise AssertionError("the peeking submission printed nothing")


def test_a_submission_reads_no_gradebook_source_or_other_work(klass: Class) -> None:
    isolation = klass.report_a["isolation"]
    if not isolation["mounts"].startswith("isolated"):
        assert os.geteuid() != 0, isolation  # as root the sandbox must hide the course
        pytest.skip(f"this machine cannot hide folders from a sandbox: {isolation['mounts']}")
    seen = _isolation_seen(klass)
    for target in ("gradebook", "source notebook", "solutions", "other submission"):
        assert seen[target].startswith("blocked"), (target, seen)
    assert seen["other submitted copy"].startswith("blocked"), seen
    # The kernel's code is the checked copy, without references, judges or probes.
    for target in ("references", "installed hidden tests"):
        assert seen[target].startswith("blocked"), (target, seen)
    for module in (
        "grader.reference",
        "grader.judges",
        "grader.probes",
        "grader.cleanroom.evidence",
        "grader.cleanroom.run",
    ):
        assert seen[module].startswith("blocked"), (module, seen)
    assert all("/software/" in folder for folder in seen["code"]), seen["code"]
    assert seen["processes"] < 10  # its own PID namespace: nbgrader, the kernel, a few more
    if os.geteuid() == 0:
        assert seen["uid"] != 0


def test_network_is_isolated_or_the_report_says_why(klass: Class) -> None:
    network = klass.report_a["isolation"]["network"]
    seen = _isolation_seen(klass)
    if network.startswith("isolated"):
        assert seen["scheduler"].startswith("blocked"), seen
        assert all(
            r["network"].startswith("isolated")
            for r in rows_of(klass.report_a).values()
            if r["status"] != "malformed"
        )
    else:
        assert network.startswith("not isolated: ")


def test_a_killed_worker_loses_nothing(klass: Class) -> None:
    assert klass.killed["students"], "the killed worker was grading nobody"
    rows = rows_of(klass.report_a)
    for student in klass.killed["students"]:
        assert rows[student]["status"] in ("graded", "timeout", "crashed"), rows[student]
        assert not rows[student]["worker"].endswith(f":{klass.killed['pid']}")
    assert klass.killed["orphans"] == [], "sandboxes outlived their worker"


def test_the_engine_and_limits_are_reported(klass: Class) -> None:
    report = klass.report_a
    assert report["engine"].startswith("Dask scheduler at tcp://127.0.0.1:")
    assert report["limits"]["timeout_s"] == TIMEOUT_S
    assert report["limits"]["memory_bytes_per_process"] == 3 * 2**30
    assert "ETA" in klass.output_a and "status" in klass.output_a.split("ETA")[-1]


# --- runs B and C: interrupted, resumed ------------------------------------------------


def test_an_interrupted_batch_keeps_what_it_graded(klass: Class) -> None:
    assert "interrupted" in klass.output_b.lower()
    done_b = {s for s, r in rows_of(klass.report_b).items() if r != rows_of(klass.report_a).get(s)}
    assert done_b and done_b <= {"cid", "jon"}


def test_resuming_runs_only_what_changed_or_was_left(klass: Class) -> None:
    before, after = rows_of(klass.report_a), rows_of(klass.report_c)
    rerun = {s for s in after if after[s].get("graded_at") != before.get(s, {}).get("graded_at")}
    finished_in_b = {s for s, r in rows_of(klass.report_b).items() if r != before.get(s)}
    assert rerun == {"cid", "jon"}
    assert "unchanged since they were graded" in klass.output_c
    c_executed = {s for s in after if after[s] != rows_of(klass.report_b).get(s)}
    assert c_executed == {"cid", "jon"} - finished_in_b
    assert after["cid"]["score"] == 21 and after["jon"]["score"] == 23
    for student in set(before) - {"cid"}:
        assert after[student] == before[student], student


def test_memory_sizes_and_limits() -> None:
    from grader.batch.run import parse_size

    assert parse_size("4GiB") == parse_size("4g") == 4 * 2**30
    assert parse_size("512M") == 512 * 2**20 and parse_size("1000") == 1000
    with pytest.raises(BatchError):
        parse_size("lots")
    assert Limits(timeout=30).cpu_seconds > 30


def test_scores_are_read_from_an_untrusted_gradebook_as_numbers_only(klass: Class) -> None:
    scores = read_scores(klass.course / "gradebook.db", "ann")
    assert sum(s or 0 for s in scores.values()) == 25
    assert read_scores(klass.course / "missing.db", "ann") == dict.fromkeys(scores)
