"""The instructor's path through nbgrader's exchange, with learners on the same machine.

No hub: a temporary exchange folder (mode 0777, as a hub makes it), a course folder, and
two learners, each a home folder of their own running nbgrader's own learner commands
(``fetch_assignment``, ``submit``, ``fetch_feedback``: what the Assignment List runs) with
an explicit ``--student`` (nbgrader otherwise takes the login name). The instructor runs
``python -m grader release --exchange``, ``collect`` and ``feedback --release``.
Then formgrader's Autograde button: refused, with the command that grades in sandboxes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from batch_class import run_grader

from grader import cli, exchange
from grader.autograde_guard import SandboxedGradingOnly, UnsandboxedGradingError
from grader.batch.intake import discover
from grader.batch.state import copy_submission
from grader.course import Course
from grader.rubric import ASSIGNMENT_ID, COURSE_ID, NOTEBOOK_NAME

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = f"{NOTEBOOK_NAME}.ipynb"
Exchanged = tuple[Path, Path, Path]
"""The course folder, the exchange's root and the work folder holding learners' homes."""


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``command``; its exit status and output (stderr merged)."""
    done = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"} if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode, done.stdout


def _grader(*args: str) -> str:
    return run_grader(*args).stdout


def _learner(home: Path, student: str, *args: str) -> str:
    """Run ``nbgrader ARGS`` as a learner would: in their home, with their own Jupyter dirs."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHONPATH"))}
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
        JUPYTER_CONFIG_PATH=str(home / "no-config"),
    )
    command = [sys.executable, "-m", "nbgrader", *args, f"--course={COURSE_ID}"]
    status, out = _run([*command, f"--student={student}"], home, env)
    assert status == 0, out[-3000:]
    return out


def _sign(notebook: Path, words: str) -> None:
    """The learner's work: a cell of their own with ``words``."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(words))
    nbformat.write(nb, notebook)


@pytest.fixture(scope="module")
def course_and_exchange(tmp_path_factory: pytest.TempPathFactory) -> Exchanged:
    """A course released into an exchange; (course, exchange, work folder)."""
    work = tmp_path_factory.mktemp("exchange")
    root = work / "exchange"
    root.mkdir()
    root.chmod(0o777)
    course = work / "course"
    out = _grader(
        "release",
        "--course",
        str(course),
        "--notebooks",
        str(work / "notebooks"),
        "--exchange",
        str(root),
    )
    assert "released to the exchange" in out and str(root) in out
    return course, root, work


@pytest.mark.slow
def test_release_fetch_submit_collect_feedback(course_and_exchange: Exchanged) -> None:
    course, root, work = course_and_exchange
    outbound = root / COURSE_ID / "outbound" / ASSIGNMENT_ID / NOTEBOOK
    assert outbound.read_bytes() == (course / "release" / ASSIGNMENT_ID / NOTEBOOK).read_bytes()
    where = f"--Exchange.root={root}"

    homes = {student: work / "home" / student for student in ("ann", "bob")}
    for student, home in homes.items():
        _learner(home, student, "fetch_assignment", ASSIGNMENT_ID, where)
        fetched = home / ASSIGNMENT_ID / NOTEBOOK
        assert fetched.read_bytes() == outbound.read_bytes()
        _sign(fetched, f"{student}'s first try")
        _learner(home, student, "submit", ASSIGNMENT_ID, where)
    time.sleep(1.1)  # nbgrader's timestamps: a later submission must be later
    _sign(homes["bob"] / ASSIGNMENT_ID / NOTEBOOK, "bob's second try")
    _learner(homes["bob"], "bob", "submit", ASSIGNMENT_ID, where)

    out = _grader("collect", "--course", str(course), "--exchange", str(root))
    assert "collected: 2" in out, out
    for student in homes:
        folder = course / "submitted" / student / ASSIGNMENT_ID
        assert (folder / "timestamp.txt").is_file()
        sent = (homes[student] / ASSIGNMENT_ID / NOTEBOOK).read_bytes()
        assert (folder / NOTEBOOK).read_bytes() == sent, f"{student}: the latest submission"
    assert "second try" in (course / "submitted" / "bob" / ASSIGNMENT_ID / NOTEBOOK).read_text()

    # The batch grader reads this folder as it is: one gradable entry per learner, which
    # it keeps there again (fresh private files), as `autograde --submissions` does.
    entries = {e.student: e for e in discover(course / "submitted")}
    assert set(entries) == set(homes)
    assert not any(e.malformed for e in entries.values()), entries
    for entry in entries.values():
        assert not copy_submission(Course(course), entry).malformed

    # Feedback as the batch grader leaves it (the HTML alone), released to learners; one
    # learner graded from an LMS download has no exchange submission to match.
    for student in [*homes, "carl"]:
        html = course / "feedback" / student / ASSIGNMENT_ID / f"{NOTEBOOK_NAME}.html"
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(f"<html><body>feedback for {student}</body></html>")
    said, left_out = exchange.release_feedback(Course(course), root)
    assert left_out == ["carl"] and "'ann'" in said and "'bob'" in said
    assert not (course / exchange.STAGING).exists()
    for student, home in homes.items():
        _learner(home, student, "fetch_feedback", ASSIGNMENT_ID, where)
        (fetched,) = (home / ASSIGNMENT_ID / "feedback").glob(f"*/{NOTEBOOK_NAME}.html")
        assert f"feedback for {student}" in fetched.read_text()


@pytest.mark.slow
def test_feedback_release_runs_through_the_cli(
    course_and_exchange: Exchanged, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """``feedback --release``: the feedback (nbgrader's, tested elsewhere), then the exchange."""
    course, root, _ = course_and_exchange
    generated = []
    monkeypatch.setattr(cli, "_feedback", lambda c, student=None: generated.append(c.root))
    argv = ["feedback", "--course", str(course), "--release", "--exchange", str(root)]
    assert cli.run(argv) == 0
    out = capsys.readouterr().out
    assert generated == [course]
    assert "feedback released to the exchange" in out and "Releasing feedback" in out
    assert "not submitted through the exchange, not released: carl" in out


def test_collect_without_a_released_course_says_so(tmp_path: Path) -> None:
    status, out = _run([sys.executable, "-m", "grader", "collect", "--course", str(tmp_path)], ROOT)
    assert status == 1
    assert "run `python -m grader release` first" in out


@pytest.mark.slow
def test_formgrader_autograde_is_refused_and_says_why(course_and_exchange: Exchanged) -> None:
    """formgrader's button calls NbGraderAPI.autograde: refused before any cell runs."""
    course, _, _ = course_and_exchange
    submitted = course / "submitted" / "zed" / ASSIGNMENT_ID
    submitted.mkdir(parents=True)
    (submitted / NOTEBOOK).write_bytes((course / "release" / ASSIGNMENT_ID / NOTEBOOK).read_bytes())
    probe = f"""
import json
from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader
config = PyFileConfigLoader("nbgrader_config.py", {str(course)!r}).load_config()
config.CourseDirectory.root = {str(course)!r}
api = NbGraderAPI(CourseDirectory(config=config), config=config)
print(json.dumps(api.autograde("{ASSIGNMENT_ID}", "zed")))
"""
    status, out = _run([sys.executable, "-c", probe], course)
    assert status == 0, out[-3000:]
    result = json.loads(out.splitlines()[-1])
    assert result["success"] is False
    assert "python -m grader autograde" in result["log"] + result.get("error", "")
    assert not list((course / "autograded").glob("zed/*/*.ipynb")), "nothing was graded"


def test_the_guard_lets_the_command_line_and_the_batch_grade() -> None:
    """Only a run nbgrader's API started is refused: `nbgrader autograde`, the batch's own
    Autograde (no parent) and anything else pass the notebook on unchanged."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.apps.autogradeapp import AutogradeApp
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory

    notebook = nbformat.v4.new_notebook()
    for parent in (None, AutogradeApp()):
        converter = Autograde(coursedir=CourseDirectory(), parent=parent)
        guard = SandboxedGradingOnly(parent=converter)
        assert guard(notebook, {}) == (notebook, {})
    api = NbGraderAPI(CourseDirectory())
    converter = Autograde(coursedir=api.coursedir, parent=api)
    guard = SandboxedGradingOnly(parent=converter)
    with pytest.raises(UnsandboxedGradingError, match="python -m grader autograde"):
        guard(notebook, {})


def test_collect_believes_owners_and_arrival_not_names(
    course_and_exchange: Exchanged, tmp_path: Path
) -> None:
    """An inbound entry counts for the learner it names only if that learner (or root) made
    it; its time is when it arrived, not the time its name or timestamp.txt claims; links
    are never followed. Own exchange, so the other tests' submissions stay as they are."""
    course, _, _ = course_and_exchange
    root = tmp_path / "exchange"
    inbound = root / COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    claimed = "2000-01-01 00:00:00.000000 UTC"
    notebook = (course / "release" / ASSIGNMENT_ID / NOTEBOOK).read_bytes()

    def entry(student: str, owner: int = 0, linked_notebook: bool = False) -> Path:
        folder = inbound / f"{student}+{ASSIGNMENT_ID}+{claimed}+r4nd"
        folder.mkdir()
        (folder / "timestamp.txt").write_text(claimed)
        (folder / "submission_secret.txt").write_text(f"secret of {student}")
        if linked_notebook:
            (folder / NOTEBOOK).symlink_to(course / "release" / ASSIGNMENT_ID / NOTEBOOK)
        else:
            (folder / NOTEBOOK).write_bytes(notebook)
        for path in (folder, *folder.iterdir()):
            os.lchown(path, owner, owner)
        return folder

    entry("dan")  # made by root: the admin's own hand, trusted
    entry("eve", owner=54321)  # made by a user who is not eve (there is no eve)
    entry("fay", linked_notebook=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / NOTEBOOK).write_bytes(notebook)
    (inbound / f"gus+{ASSIGNMENT_ID}+{claimed}+r4nd").symlink_to(elsewhere)
    (inbound / "notes.txt").write_text("not a submission")

    done = exchange.collect(Course(course), root)
    assert done.students == ["dan"]
    refused = "\n".join(done.refused)
    assert "eve: an entry made by another user was left alone" in refused
    assert "fay: no readable" in refused
    assert "gus: an entry that is not a folder" in refused
    assert "not named <id>+jazz_solo+<time>" in refused
    for student in ("eve", "fay", "gus"):
        assert not (course / "submitted" / student).exists()
    dan = course / "submitted" / "dan" / ASSIGNMENT_ID
    assert (dan / NOTEBOOK).read_bytes() == notebook
    assert (dan / "submission_secret.txt").read_text() == "secret of dan"
    arrived = (dan / "timestamp.txt").read_text()
    assert not arrived.startswith("2000"), arrived
    assert arrived.startswith(str(time.gmtime().tm_year)), arrived
