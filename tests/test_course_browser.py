"""A whole course on the real hub, in a real browser: release, work, submit, grade, feedback.

``hub.run`` starts JupyterHub with configurable-http-proxy on 127.0.0.1 (free ports),
with Unix accounts made for this test (an instructor and two learners, random names and
passwords; PAM checks the passwords, as for real use), nbgrader's exchange and the
course in a state folder of its own, and cgroups of its own. Debian's headless Chromium
(Playwright) logs in as each user:

- the instructor sees formgrader; the course is released to the exchange;
- each learner logs in, fetches the assignment in the Assignment List, opens the
  notebook from there, runs it up to the first exercise, sees its check fail, pastes a
  correct ``djmodel``, sees the check pass, Validates (the whole notebook runs) and
  Submits; the second learner submits after the due date, which the instructor set
  between the two submissions;
- a learner can open neither the other's server nor, as their Unix user, the other's
  home, the instructor's course or the exchange's inbound folder;
- the instructor collects; our batch grader grades the collected submissions (as root,
  in its sandboxes); feedback is released; each learner fetches it in the Assignment
  List, opens it, and sees their score and the rubric's parts.

To keep the browser's part short, the two exercises the learner does not type are
written into the fetched notebook (from ``solutions/``) before the browser opens it.
Learners' servers get no ``NBGRADER_EXECUTION``: Validate sets it, and the notebook then
trains 5 epochs. At the end, also on failure, the hub, the proxy, every server and kernel
are stopped, nothing of the test's users is left running, and the accounts, their homes
and the state folder are removed.

Needs root, ``make hub-env`` (the hub's environment and configurable-http-proxy) and
``make browser-deps``. Screenshots go to ``test-artefacts/browser/course-*``, with the
hub's log.

Why it is one long module: one course is walked through in order (release, two learners,
grading, feedback) on one hub; split, each part would start a hub of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import browser_helpers as bh
import pytest
from nbgrader.api import Gradebook
from test_browser import (
    ARTEFACTS,
    CHECK_PASSED,
    NOTEBOOK,
    PAGE_TIMEOUT_MS,
    RUN_TIMEOUT_MS,
    VALIDATE_BUTTON,
    Cells,
    Steps,
    cell,
    errors_in,
    expect_visible,
    output_text,
    paste_into_cell,
    run_from_menu,
    select_cell,
    solution_source,
    wait_executed,
    wait_for_notebook,
)

from grader.rubric import ASSIGNMENT_ID
from hub import accounts, limits
from hub import run as hub_run
from hub.course import COURSE_ID, as_user, chown_tree

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
#: Validate runs the whole notebook (5 epochs, generation, metrics) on one core.
VALIDATE_TIMEOUT_MS = 420_000
#: A server's first start (JupyterLab, nbgrader's extensions) on a loaded machine.
SPAWN_TIMEOUT_MS = 120_000
#: The exercises written into the fetched notebook before the browser opens it.
PREFILLED = ("music_inference_model", "predict_and_sample")
#: The exercise the learner fixes in the browser.
TYPED = "djmodel"

#: The one request beyond loopback the test lets through, from the feedback page only:
#: nbgrader's feedback template loads MathJax from this CDN, and the course's
#: configuration (grader/nbgrader_config.py) sets no local ``HTMLExporter.mathjax_url``.
#: A known issue (offline, the page shows without typeset formulas): remove this
#: exception once the feedback no longer asks the internet for anything.
FEEDBACK_MATHJAX = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/"


# ---------------------------------------------------------------- the hub


@dataclass
class CourseHub:
    """The running hub and what the test made for it."""

    options: hub_run.HubOptions
    passwords: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def instructor(self) -> str:
        """The instructor's user name."""
        return self.options.instructor

    @property
    def learners(self) -> list[str]:
        """The learners' user names (their student ids too)."""
        return list(self.options.learners)

    @property
    def course(self) -> Path:
        """The course folder (in the instructor's home)."""
        return self.options.course_root()

    def url(self, path: str) -> str:
        """A URL on the hub."""
        return self.options.url + path.lstrip("/")


def _require_everything(options: hub_run.HubOptions) -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("it must run as root (Unix accounts, cgroups, servers as users)")
    if not (options.venv / "bin" / "jupyterhub").exists():
        problems.append(f"no jupyterhub in {options.venv}: run `make hub-env`")
    if not hub_run.PROXY.exists():
        problems.append(f"{hub_run.PROXY} is missing: run `make hub-env`")
    browser = bh.missing_browser_dependencies()
    if browser:
        problems.append(browser)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


def _processes_of(uids: set[int]) -> dict[int, str]:
    """Every living process whose real or effective uid is in ``uids``: pid -> command."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            status = (entry / "status").read_text()
            uid_fields = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M)
            pid = int(entry.name)
            ids = {int(uid_fields[1]), int(uid_fields[2])} if uid_fields else set()
            if ids & uids and bh.is_running(pid):
                found[pid] = (entry / "cmdline").read_text().replace("\0", " ")
    return found


def _port_answers(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def course_hub() -> Iterator[CourseHub]:
    """The hub, running; at the end everything it started is gone, and what it made too.

    Raises:
        AssertionError: at teardown, naming what outlived the hub.
    """
    tag = secrets.token_hex(3)
    options = hub_run.HubOptions(
        state=Path(f"/srv/jazz-hub-test-{tag}"),
        port=bh.free_port(),
        hub_port=bh.free_port(),
        proxy_api_port=bh.free_port(),
        instructor=f"jh{tag}-teacher",
        learners=[f"jh{tag}-ann", f"jh{tag}-ben"],
        cgroup_folder=f"jazz-hub-test-{tag}",
        venv=Path(os.environ.get("JAZZ_HUB_VENV", str(hub_run.DEFAULT_VENV))),
        cpus=1.0,
    )
    _require_everything(options)
    hub = CourseHub(options, {})
    uids: set[int] = set()
    try:
        made = hub_run.prepare(options)
        hub.passwords = {account.name: account.password for account in made}
        uids = {pwd.getpwnam(account.name).pw_uid for account in made}
        hub.process = hub_run.start(options)
        yield hub
    finally:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(options.log, ARTEFACTS / "course-jupyterhub.log")
        left = hub_run.stop(options)
        if hub.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                hub.process.wait(timeout=10)
        problems = []
        if left:
            problems.append(f"processes left in the hub's groups: {sorted(left)}")
        if hub.process is not None and hub.process.poll() is None:
            problems.append(f"the hub (pid {hub.process.pid}) is still running")
        stray = _processes_of(uids)
        if stray:
            problems.append(f"processes of the test's users: {stray}")
            for pid in stray:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
        for port in (options.port, options.hub_port, options.proxy_api_port):
            if _port_answers(port):
                problems.append(f"something still listens on 127.0.0.1:{port}")
        cgroups = [
            f"/sys/fs/cgroup/{name}/{options.cgroup_folder}"
            for name in ("memory", "cpu", "pids")
            if Path(f"/sys/fs/cgroup/{name}/{options.cgroup_folder}").exists()
        ]
        if cgroups:
            problems.append(f"cgroups left: {cgroups}")
        hub_run.stop(options, remove_accounts=True, remove_state=True)
        for name in [options.instructor, *options.learners]:
            if accounts.is_ours(name):
                problems.append(f"the account {name} was not removed")
        assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, started by Playwright."""
    with bh.running_chromium() as chromium:
        yield chromium


# ---------------------------------------------------------------- the instructor's commands


def _instructor_env(hub: CourseHub) -> dict[str, str]:
    return {"JUPYTER_CONFIG_PATH": str(hub.options.jupyter_config / "instructor")}


def _check(done: subprocess.CompletedProcess[str], what: str) -> str:
    assert done.returncode == 0, (
        f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout + done.stderr


def as_instructor(hub: CourseHub, *args: str) -> str:
    """``python ARGS`` as the instructor, in the course folder, from the hub's environment
    with this checkout's ``grader`` importable (the distribution does not ship it)."""
    done = as_user(
        hub.instructor,
        [str(hub.options.python), *args],
        cwd=hub.course,
        bin_dir=hub.options.python.parent,
        env={**_instructor_env(hub), "PYTHONPATH": str(ROOT)},
    )
    return _check(done, " ".join(args))


def as_grader(hub: CourseHub, *args: str) -> str:
    """``python -m grader ARGS`` as root (its sandboxes need root), from this checkout;
    the course is handed back to the instructor afterwards."""
    done = subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **_instructor_env(hub)},
        text=True,
        capture_output=True,
        check=False,
    )
    entry = pwd.getpwnam(hub.instructor)
    chown_tree(hub.course, entry.pw_uid, entry.pw_gid)
    for shared in ("outbound", "feedback"):  # what root wrote there; never learners' inbound
        if (hub.options.exchange / COURSE_ID / shared).is_dir():
            chown_tree(hub.options.exchange / COURSE_ID / shared, entry.pw_uid, entry.pw_gid)
    return _check(done, "python -m grader " + " ".join(args))


def course_step(hub: CourseHub, step: str) -> str:
    """One of the instructor's exchange steps through our CLI, as the instructor (nbgrader's
    exchange wants its owner; only grading needs root): ``release`` (``python -m grader
    release --exchange``), ``collect`` or ``feedback`` (``feedback --release``)."""
    exchange = str(hub.options.exchange)
    course = str(hub.course)
    ours = {
        "release": [
            "release",
            "--course",
            course,
            "--solutions",
            str(ROOT / "solutions"),
            "--notebooks",
            f"{course}/.student-copy",
            "--exchange",
            exchange,
        ],
        "collect": ["collect", "--course", course, "--exchange", exchange],
        "feedback": ["feedback", "--course", course, "--release", "--exchange", exchange],
    }
    return as_instructor(hub, "-m", "grader", *ours[step])


def set_due_date(hub: CourseHub, when: datetime) -> None:
    """Set the assignment's due date (``python -m grader due``)."""
    when_text = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    as_instructor(hub, "-m", "grader", "due", when_text, "--course", str(hub.course))


# ---------------------------------------------------------------- pages


def log_in(browser: Browser, hub: CourseHub, user: str) -> Page:
    """A tab of a new browser context, logged in as ``user`` on the hub's login page,
    once the user's JupyterLab is there."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    page.goto(hub.url("hub/login"))
    page.fill("input#username_input", user)
    page.fill("input#password_input", hub.passwords[user])
    page.click("#login_submit")
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=SPAWN_TIMEOUT_MS)
    assert page.url.startswith(hub.url(f"user/{user}/lab")), page.url
    return page


def nbgrader_menu(page: Page) -> list[str]:
    """The items of JupyterLab's Nbgrader menu (the menu is closed again)."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Nbgrader$")).click()
    items = page.locator(".lm-Menu-content .lm-Menu-itemLabel")
    items.first.wait_for(state="visible")
    labels = [text.strip() for text in items.all_inner_texts() if text.strip()]
    page.keyboard.press("Escape")
    return labels


def open_assignment_list(page: Page) -> None:
    """Nbgrader > Assignment List (or its tab, when open), showing fresh lists."""
    tab = page.locator(".lm-TabBar-tab", has_text=re.compile(r"^Assignments$"))
    if tab.count():
        tab.first.click()
        page.locator("#refresh_assignments_list").click()
    else:
        page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Nbgrader$")).click()
        page.locator(".lm-Menu-item", has_text="Assignment List").click()
    page.locator("#released_assignments_list_loading").wait_for(state="hidden")


def fetched_notebook(hub: CourseHub, learner: str) -> Path:
    """Where ``nbgrader fetch_assignment`` puts the notebook in a learner's home."""
    return Path(pwd.getpwnam(learner).pw_dir) / ASSIGNMENT_ID / NOTEBOOK


def prefill(hub: CourseHub, learner: str) -> None:
    """Write the correct :data:`PREFILLED` exercises into the learner's fetched notebook
    (the file keeps its owner and mode: it is written in place)."""
    solutions = Cells.read(ROOT / "solutions" / NOTEBOOK)
    path = fetched_notebook(hub, learner)
    notebook = json.loads(path.read_text())
    for grade_id in PREFILLED:
        for entry in notebook["cells"]:
            if entry.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
                entry["source"] = solution_source(solutions, grade_id)
    with path.open("r+") as file:
        file.truncate(0)
        file.write(json.dumps(notebook, indent=1))


def learner_works(page: Page, hub: CourseHub, learner: str, steps: Steps) -> None:
    """Fetch, open, run up to exercise 1, see its check fail, fix it, save and Validate."""
    open_assignment_list(page)
    fetch = page.locator("#released_assignments_list button", has_text="Fetch")
    expect_visible(fetch)
    steps.shot("released")
    fetch.click()
    fetched = page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT_ID)
    expect_visible(fetched)
    prefill(hub, learner)
    steps.shot("fetched")

    page.locator("#fetched_assignments_list .assignment-notebooks-link").first.click()
    link = page.locator("#fetched_assignments_list a", has_text=Path(NOTEBOOK).stem)
    expect_visible(link)
    link.click()
    panel = wait_for_notebook(page)
    cells = Cells.read(fetched_notebook(hub, learner))
    stub = cells.index_of(TYPED)
    check = cells.first_code_after(stub, f"checks.{TYPED}_test({TYPED})")
    above = [i for i in range(stub) if cells.kinds[i] == "code"]
    steps.shot("notebook-open")

    select_cell(panel, stub)
    run_from_menu(page, "notebook:run-all-above")
    wait_executed(page, above, RUN_TIMEOUT_MS)
    assert not errors_in(panel, above), errors_in(panel, above)

    select_cell(panel, stub)
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    wait_executed(page, [stub, check], RUN_TIMEOUT_MS)
    assert errors_in(panel, [check]), output_text(panel, check)
    steps.shot("check-fails")

    solution = solution_source(Cells.read(ROOT / "solutions" / NOTEBOOK), TYPED)
    paste_into_cell(page, panel, stub, solution)
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    expect_visible(cell(panel, check).locator(".jp-OutputArea-output", has_text=CHECK_PASSED))
    wait_executed(page, [stub, check], RUN_TIMEOUT_MS)
    assert not errors_in(panel, [stub, check]), errors_in(panel, [stub, check])
    steps.shot("check-passes")

    page.keyboard.press("Control+s")
    page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").wait_for(state="detached")
    page.locator(VALIDATE_BUTTON).click()
    dialog = page.locator(".jp-Dialog")
    expect_visible(
        dialog.locator(".validation-success, .validation-failed, .validation-error"),
        VALIDATE_TIMEOUT_MS,
    )
    steps.shot("validated")
    assert dialog.locator(".validation-success").count(), dialog.inner_text()[-3000:]
    dialog.locator(".jp-Dialog-button").last.click()
    dialog.wait_for(state="detached")


def learner_submits(page: Page, steps: Steps) -> None:
    """Submit in the Assignment List; wait until the submission is listed."""
    open_assignment_list(page)
    page.locator("#fetched_assignments_list button", has_text="Submit").first.click()
    submitted = page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT_ID)
    expect_visible(submitted)
    steps.shot("submitted")


def learner_reads_feedback(page: Page, steps: Steps) -> str:
    """Fetch Feedback in the Assignment List, open it; the feedback page's text."""
    open_assignment_list(page)
    page.locator("#submitted_assignments_list button", has_text="Fetch Feedback").first.click()
    view = page.locator("#submitted_assignments_list a", has_text="view feedback")
    expect_visible(view)
    steps.shot("feedback-fetched")
    steps.assert_loopback_only()  # everything up to the feedback page itself
    view.first.click()
    item = page.locator(".jp-DirListing-item", has_text=f"{Path(NOTEBOOK).stem}.html")
    expect_visible(item)
    item.dblclick()
    frame = page.frame_locator(".jp-HTMLViewer:not(.lm-mod-hidden) iframe")
    body = frame.locator("body")
    body.wait_for(state="visible")
    expect_visible(frame.locator("text=Score"))
    steps.shot("feedback-open")
    return str(body.inner_text())


# ---------------------------------------------------------------- checks as a learner


def learner_cannot_reach(hub: CourseHub, learner: str, other: str) -> dict[str, str]:
    """What ``learner``'s own Unix user (the user their server and kernels run as) gets
    when it reads ``other``'s home, the course folder and the exchange's inbound folder:
    path -> the error, for every path it could NOT read (all of them, when all is well)."""
    inbound = hub.options.exchange / COURSE_ID / "inbound"
    targets = [Path(pwd.getpwnam(other).pw_dir), hub.course, inbound]
    probe = (
        "import json, os, sys\n"
        "out = {}\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        os.listdir(path)\n"
        "    except OSError as error:\n"
        "        out[path] = type(error).__name__\n"
        "print(json.dumps(out))\n"
    )
    done = as_user(
        learner,
        [str(hub.options.python), "-c", probe, *map(str, targets)],
        cwd=Path("/"),
        bin_dir=hub.options.python.parent,
    )
    assert done.returncode == 0, done.stderr
    return {path: reason for path, reason in json.loads(done.stdout).items()}


# ---------------------------------------------------------------- the test


@pytest.mark.timeout(1800)
def test_a_course_from_release_to_feedback(course_hub: CourseHub, browser: Browser) -> None:
    hub = course_hub
    ann, ben = hub.learners

    # The instructor: formgrader in the menu and at its address, the course listed.
    teacher = log_in(browser, hub, hub.instructor)
    steps = Steps(teacher, "course-instructor")
    with steps.failures_saved():
        assert "Formgrader" in nbgrader_menu(teacher)
        teacher.goto(hub.url(f"user/{hub.instructor}/formgrader"))
        expect_visible(teacher.locator("text=" + ASSIGNMENT_ID))
        steps.shot("formgrader")
        course_step(hub, "release")
        teacher.close()

    # Two learners: no formgrader; fetch, fix, validate, submit (ben after the due date).
    pages: dict[str, tuple[Page, Steps]] = {}
    due = None
    for learner in (ann, ben):
        page = log_in(browser, hub, learner)
        steps = Steps(page, f"course-{'late' if learner == ben else 'ontime'}")
        pages[learner] = (page, steps)
        with steps.failures_saved():
            assert nbgrader_menu(page) == ["Assignment List"], nbgrader_menu(page)
            answer = page.request.get(hub.url(f"user/{learner}/formgrader"))
            assert answer.status == 404, answer.status
            learner_works(page, hub, learner, steps)
            if learner == ben:
                due = datetime.now(UTC).replace(microsecond=0)
                set_due_date(hub, due)
                time.sleep(1.5)
            learner_submits(page, steps)

    # A learner reaches neither the other's server nor, as a Unix user, their files.
    page, steps = pages[ann]
    probe = page.context.new_page()  # another tab of ann's: her Assignment List stays open
    try:
        answer = probe.goto(hub.url(f"user/{ben}/lab"))
        assert answer is not None
        assert answer.status == 403, (answer.status, probe.url)
        assert "You do not have permission" in probe.content()
        probe.screenshot(path=str(ARTEFACTS / "course-ontime-08-other-server-refused.png"))
    finally:
        probe.close()
    refused = learner_cannot_reach(hub, ann, ben)
    assert len(refused) == 3 and set(refused.values()) == {"PermissionError"}, refused
    # The limits hold for the learner's server and kernels together.
    groups = limits.UserGroups(hub.options.cgroup_folder)
    members = groups.members(ann)
    assert members, "ann's server is in no cgroup"
    assert (groups.group("memory", ann) / "memory.limit_in_bytes").read_text().strip() == str(
        hub.options.memory_bytes
    )
    assert (groups.group("pids", ann) / "pids.max").read_text().strip() == str(
        hub.options.processes
    )

    # The instructor collects, grades with our batch grader, releases feedback.
    course_step(hub, "collect")
    stamps = {}
    for learner in (ann, ben):
        stamp = hub.course / "submitted" / learner / ASSIGNMENT_ID / "timestamp.txt"
        # nbgrader writes "2026-11-30 23:04:33.881784 UTC".
        text = stamp.read_text().strip().removesuffix(" UTC")
        stamps[learner] = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    assert due is not None
    assert stamps[ann] < due < stamps[ben], (stamps, due)
    as_grader(
        hub,
        "autograde",
        "--course",
        str(hub.course),
        "--submissions",
        str(hub.course / "submitted"),
        "--workers",
        "2",
    )
    grades = {row["student_id"]: row for row in _read_csv(hub.course / "grades.csv")}
    assert set(grades) == {ann, ben}, grades
    for learner in (ann, ben):
        row = grades[learner]
        assert row["status"] == "graded", row
        assert float(row["raw_score"]) == float(row["max_score"]) > 0, row
    # Late by the time the exchange saw ben's work arrive: the course's 1 point per started hour.
    assert float(grades[ann]["late_penalty"]) == 0, grades[ann]
    assert float(grades[ann]["score"]) == float(grades[ann]["raw_score"]), grades[ann]
    assert float(grades[ben]["late_penalty"]) == 1, grades[ben]
    assert float(grades[ben]["score"]) == float(grades[ben]["raw_score"]) - 1, grades[ben]
    with Gradebook(f"sqlite:///{hub.course / 'gradebook.db'}") as gradebook:
        late = {
            learner: gradebook.find_submission(ASSIGNMENT_ID, learner).total_seconds_late
            for learner in (ann, ben)
        }
    assert late[ann] == 0 and late[ben] > 0, late
    course_step(hub, "feedback")

    # Each learner fetches the feedback and sees the score and the rubric's parts.
    solutions = Cells.read(ROOT / "solutions" / NOTEBOOK)
    rubric = [g for g in solutions.grade_ids if g.startswith("test_")]
    for learner in (ann, ben):
        page, steps = pages[learner]
        with steps.failures_saved():
            text = learner_reads_feedback(page, steps)
        score, top = float(grades[learner]["score"]), float(grades[learner]["max_score"])
        assert re.search(rf"Score:\s*{score:g}(\.0+)?\s*/\s*{top:g}", text), text[:2000]
        said_late = re.search(r"Late submission penalty \(Score:\s*-1(\.0+)?\)", text)
        assert bool(said_late) == (learner == ben), text[:2000]
        missing = [g for g in rubric if not re.search(rf"Grade cell:\s*{g}\b", text)]
        assert not missing, f"rubric parts not in {learner}'s feedback: {missing}"
        outside = [url for url in steps.outside if not url.startswith(FEEDBACK_MATHJAX)]
        assert not outside, f"requests beyond loopback: {outside[:10]}"
        page.context.close()


def _read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="") as file:
        return list(csv.DictReader(file))
