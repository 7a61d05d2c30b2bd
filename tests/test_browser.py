"""The learner's path in a real browser: JupyterLab, the notebook, nbgrader's buttons.

JupyterLab runs from this environment on 127.0.0.1 (random port and token, private
Jupyter folders, nbgrader's server extensions on) over a temporary copy of
``notebooks/`` and ``solutions/``, with ``NBGRADER_EXECUTION=1`` so that training
takes 5 epochs. Debian's headless Chromium (``make browser-deps``) is driven by
Playwright, which never downloads a browser of its own. Every step leaves a
screenshot in ``test-artefacts/browser/``; a failure adds a screenshot and the
page's HTML there, and the server's log is copied there too.

Why it is one long module: the steps walk one learner's path in order through one
server and one page (open, run, validate, submit), and share their helpers; split, each
part would start a JupyterLab of its own.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import browser_helpers as bh
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Request

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "Improvise_a_Jazz_Solo_with_an_LSTM.ipynb"
ARTEFACTS = ROOT / "test-artefacts" / "browser"
#: The folders copied into the scratch course, by their name there.
FOLDERS = {"notebooks": ROOT / "notebooks", "solutions": ROOT / "solutions"}

#: Seconds to wait for JupyterLab's page, a kernel's first cells, and training + generation.
PAGE_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 120_000
GENERATION_TIMEOUT_MS = 240_000

#: What a public check prints when the learner's function is right (jazz_utils.checks).
CHECK_PASSED = re.compile(r"\w+_test: all checks passed")

# Selectors. JupyterLab 4 keeps every cell in the DOM (windowing mode
# "contentVisibility") and numbers them with data-windowed-list-index.
NOTEBOOK_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
VALIDATE_BUTTON = ".jp-NotebookPanel-toolbar jp-button.validate-button"  # nbgrader 0.9
EXECUTION_INDICATOR = ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator"
RUN_MENU_ITEM = '.lm-Menu-item[data-command="{command}"]'
OUTPUT = ".jp-OutputArea-output"
ERROR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
#: Tells an exception's output from other stderr text (warnings): both render alike.
TRACEBACK = r"Traceback \(most recent call last\)|^\w*(Error|Exception)\b"


# ---------------------------------------------------------------- the notebook on disk


@dataclass(frozen=True)
class Cells:
    """Where things are in a notebook, read from its JSON (cell indices from 0)."""

    sources: list[str]
    kinds: list[str]
    grade_ids: list[str]

    @classmethod
    def read(cls, path: Path) -> Cells:
        """Read a notebook's cells."""
        cells = json.loads(path.read_text())["cells"]
        return cls(
            sources=["".join(c["source"]) for c in cells],
            kinds=[c["cell_type"] for c in cells],
            grade_ids=[_grade_id(c) for c in cells],
        )

    def exercise_titles(self) -> list[str]:
        """The text of every ``### Exercise N - name`` heading."""
        return [
            match.group(1).strip()
            for source, kind in zip(self.sources, self.kinds, strict=True)
            if kind == "markdown"
            for match in re.finditer(r"^#+\s*(Exercise \d+\s*-\s*\S+)", source, re.M)
        ]

    def index_of(self, grade_id: str) -> int:
        """The cell with this nbgrader ``grade_id``."""
        try:
            return self.grade_ids.index(grade_id)
        except ValueError:
            raise AssertionError(f"no cell with grade_id {grade_id!r}") from None

    def first_code_after(self, index: int, text: str) -> int:
        """The first code cell after ``index`` whose source contains ``text``."""
        for i in range(index + 1, len(self.sources)):
            if self.kinds[i] == "code" and text in self.sources[i]:
                return i
        raise AssertionError(f"no code cell after cell {index} contains {text!r}")

    def section_of(self, text: str) -> tuple[int, int]:
        """The ``## `` section holding the first code cell that contains ``text``.

        Returns:
            (index of its heading cell, index of the next section's heading cell).
        """
        code = self.first_code_after(-1, text)
        headings = [
            i
            for i, (source, kind) in enumerate(zip(self.sources, self.kinds, strict=True))
            if kind == "markdown" and re.search(r"^## ", source, re.M)
        ]
        start = max(i for i in headings if i < code)
        end = min((i for i in headings if i > code), default=len(self.sources))
        return start, end


def _grade_id(cell: dict[str, Any]) -> str:
    return str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", ""))


def solution_source(cells: Cells, grade_id: str) -> str:
    """The source notebook's solution cell, without nbgrader's solution markers."""
    source = cells.sources[cells.index_of(grade_id)]
    kept = [line for line in source.splitlines() if "### BEGIN SOLUTION" not in line]
    kept = [line for line in kept if "### END SOLUTION" not in line]
    return "\n".join(kept).rstrip() + "\n"


# ---------------------------------------------------------------- fixtures


def _require_browser_dependencies() -> None:
    problem = bh.missing_browser_dependencies()
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch copy of notebooks/ and solutions/: the browser never writes into the repo."""
    for name, folder in FOLDERS.items():
        if not (folder / NOTEBOOK).exists():
            pytest.fail(f"{name}/{NOTEBOOK} is missing (run `make release`)", pytrace=False)
    root = tmp_path_factory.mktemp("course")
    for name, folder in FOLDERS.items():
        shutil.copytree(folder, root / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@pytest.fixture(scope="module")
def lab(course: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[bh.LabServer]:
    """JupyterLab serving the scratch course; stopped, kernels and all, at the end."""
    _require_browser_dependencies()
    home = tmp_path_factory.mktemp("jupyter")
    env = {
        "NBGRADER_EXECUTION": "1",  # the notebook trains 5 epochs, as when it is graded
        "JAZZ_OUTPUT_DIR": str(home / "output"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    try:
        with bh.running_lab(course, home, env) as server:
            yield server
    finally:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(home / "jupyter-lab.log", ARTEFACTS / "jupyter-lab.log")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, started by Playwright."""
    _require_browser_dependencies()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = bh.launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser: Browser, lab: bh.LabServer) -> Iterator[Page]:
    """A browser tab (1600 x 1000) in a new context; the test's kernels are shut down after."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
        with contextlib.suppress(OSError):  # the server's own teardown stops what is left
            lab.shutdown_kernels()


# ---------------------------------------------------------------- page helpers


class Steps:
    """Numbered screenshots of one test, and the page saved when a step fails."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        self.count = 0
        self.outside: list[str] = []
        page.on("request", self._note_request)
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTEFACTS.glob(f"{name}-*"):
            old.unlink()

    def _note_request(self, request: Request) -> None:
        if not re.match(r"(https?|wss?)://127\.0\.0\.1[:/]|data:|blob:|about:", request.url):
            self.outside.append(request.url)

    def assert_loopback_only(self) -> None:
        """The page asked nothing of any host but 127.0.0.1."""
        assert not self.outside, f"requests beyond loopback: {self.outside[:10]}"

    def shot(self, label: str) -> None:
        """Save a screenshot of the page as it is now."""
        self.count += 1
        self.page.screenshot(path=str(ARTEFACTS / f"{self.name}-{self.count:02d}-{label}.png"))

    @contextlib.contextmanager
    def failures_saved(self) -> Iterator[None]:
        """On any exception, save ``NAME-FAILED.png`` and ``.html``, then re-raise."""
        try:
            yield
        except BaseException:
            bh.save_page(self.page, ARTEFACTS, f"{self.name}-FAILED")
            raise


def open_lab(page: Page, lab: bh.LabServer, workspace: str, path: str) -> None:
    """Open ``path`` in JupyterLab, in a fresh workspace of its own."""
    page.goto(f"{lab.url}lab/workspaces/{workspace}/tree/{path}?reset&token={lab.token}")
    page.locator("#jp-main-dock-panel").wait_for(state="visible")


def open_notebook_from_file_browser(page: Page, name: str) -> Locator:
    """Double-click ``name`` in the file browser; the notebook panel once it has cells."""
    item = page.locator(".jp-DirListing-item", has_text=name)
    item.wait_for(state="visible")
    item.dblclick()
    return wait_for_notebook(page)


def wait_for_notebook(page: Page) -> Locator:
    """The notebook panel in front, once its cells are there and its kernel is idle."""
    panel = page.locator(NOTEBOOK_PANEL)
    panel.locator(".jp-Notebook-cell").first.wait_for(state="visible")
    wait_idle(page, PAGE_TIMEOUT_MS)
    return panel


def wait_idle(page: Page, timeout_ms: float) -> None:
    """Wait until the notebook's execution indicator says idle (nothing runs or waits)."""
    page.locator(f'{NOTEBOOK_PANEL} {EXECUTION_INDICATOR}[data-status="idle"]').wait_for(
        state="attached", timeout=timeout_ms
    )


def cell(panel: Locator, index: int) -> Locator:
    """Cell ``index`` (from 0) of the notebook."""
    return panel.locator(f'.jp-Notebook-cell[data-windowed-list-index="{index}"]')


def select_cell(panel: Locator, index: int) -> Locator:
    """Make cell ``index`` the active cell (command mode), as a click on its prompt does."""
    target = cell(panel, index)
    target.scroll_into_view_if_needed()
    prompt = target.locator(".jp-InputPrompt, .jp-InputArea-prompt").first
    prompt.click()
    target.page.wait_for_function(
        "el => el.classList.contains('jp-mod-active')", arg=target.element_handle()
    )
    return target


def run_from_menu(page: Page, command: str) -> None:
    """Choose an item of the Run menu by its command id (e.g. ``notebook:run-all-above``)."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    item = page.locator(RUN_MENU_ITEM.format(command=command))
    item.wait_for(state="visible")
    item.click()


def wait_executed(page: Page, indices: list[int], timeout_ms: float) -> None:
    """Wait until every code cell in ``indices`` shows an execution count, then until idle.

    Stops waiting early when one of them shows a traceback (the cells after it never run).

    Raises:
        AssertionError: in time, naming the cells that have not run, with their prompts.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        _wait_cells(page, indices, timeout_ms)
    except PlaywrightTimeout:
        prompts = {
            i: "".join(
                cell(page.locator(NOTEBOOK_PANEL), i).locator(".jp-InputPrompt").all_text_contents()
            )
            for i in indices
        }
        waiting = {i: p for i, p in prompts.items() if not re.fullmatch(r"\[\d+\]:", p.strip())}
        raise AssertionError(
            f"cells not run after {timeout_ms / 1000:.0f} s (index: prompt): {waiting}"
        ) from None
    wait_idle(page, timeout_ms)


def _wait_cells(page: Page, indices: list[int], timeout_ms: float) -> None:
    page.wait_for_function(
        """([panelSelector, indices, errorSelector, traceback]) => {
            const panel = document.querySelector(panelSelector);
            if (!panel) return false;
            const cells = indices.map(i =>
                panel.querySelector(`.jp-Notebook-cell[data-windowed-list-index="${i}"]`));
            const failed = cells.some(c => c && Array.from(c.querySelectorAll(errorSelector))
                .some(o => new RegExp(traceback, 'm').test(o.textContent)));
            return failed || cells.every(c => {
                const prompt = c && c.querySelector('.jp-InputPrompt');
                return prompt && /^\\[\\d+\\]:$/.test(prompt.textContent.trim());
            });
        }""",
        arg=[NOTEBOOK_PANEL, indices, ERROR_OUTPUT, TRACEBACK],
        timeout=timeout_ms,
        polling=250,
    )


def errors_in(panel: Locator, indices: list[int]) -> dict[int, str]:
    """The error outputs (tracebacks) of the given cells, by cell index."""
    found = {}
    for i in indices:
        texts = cell(panel, i).locator(ERROR_OUTPUT).all_text_contents()
        tracebacks = [t for t in texts if re.search(TRACEBACK, t, re.M)]
        if tracebacks:
            found[i] = "\n".join(tracebacks)[-2000:]
    return found


def paste_into_cell(page: Page, panel: Locator, index: int, text: str) -> None:
    """Replace the text of cell ``index`` by ``text``, as select-all and paste do.

    The paste goes through CodeMirror 6's own paste handler (a ``paste`` event with
    the text on its clipboard data), so nothing is auto-indented or auto-closed.
    """
    target = cell(panel, index)
    target.scroll_into_view_if_needed()
    editor = target.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    editor.evaluate(
        """(el, text) => {
            const data = new DataTransfer();
            data.setData('text/plain', text);
            el.dispatchEvent(new ClipboardEvent('paste', {
                clipboardData: data, bubbles: true, cancelable: true,
            }));
        }""",
        text,
    )
    shown = editor_text(panel, index)
    assert _normalise(shown) == _normalise(text), f"the editor holds:\n{shown}"


def editor_text(panel: Locator, index: int) -> str:
    """The code in cell ``index``'s editor (textContent: offscreen cells have no innerText)."""
    return str(
        cell(panel, index)
        .locator(".cm-content")
        .evaluate(
            "el => Array.from(el.querySelectorAll('.cm-line'), l => l.textContent).join('\\n')"
        )
    )


def _normalise(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def output_text(panel: Locator, index: int) -> str:
    """All the text shown in cell ``index``'s outputs."""
    return "\n".join(cell(panel, index).locator(OUTPUT).all_text_contents())


def expect_visible(locator: Locator, timeout_ms: float = PAGE_TIMEOUT_MS) -> None:
    """Scroll to an element and wait until it shows."""
    locator.first.wait_for(state="attached", timeout=timeout_ms)
    locator.first.scroll_into_view_if_needed()
    locator.first.wait_for(state="visible", timeout=timeout_ms)


# ---------------------------------------------------------------- the tests


def test_browser_dependencies_are_installed() -> None:
    """Chromium and Playwright are there: the browser tests fail, never skip, without them."""
    _require_browser_dependencies()


@pytest.mark.timeout(300)
def test_learner_solves_the_first_exercise(page: Page, lab: bh.LabServer, course: Path) -> None:
    """notebooks/: the notebook renders with its exercises and Validate; exercise 1 passes."""
    cells = Cells.read(course / "notebooks" / NOTEBOOK)
    stub = cells.index_of("djmodel")
    check = cells.first_code_after(stub, "checks.djmodel_test(djmodel)")
    above = [i for i in range(stub) if cells.kinds[i] == "code"]
    solution = solution_source(Cells.read(course / "solutions" / NOTEBOOK), "djmodel")
    titles = cells.exercise_titles()
    assert titles and titles[0].startswith("Exercise 1"), titles

    steps = Steps(page, "student")
    with steps.failures_saved():
        open_lab(page, lab, "student", "notebooks")
        expect_visible(page.locator(".jp-DirListing-item", has_text=NOTEBOOK))
        steps.shot("notebooks-folder")

        panel = open_notebook_from_file_browser(page, NOTEBOOK)
        expect_visible(panel.locator(".jp-MarkdownOutput h1").first)
        for title in titles:
            heading = panel.locator(".jp-MarkdownOutput :is(h2, h3, h4)", has_text=title)
            expect_visible(heading)
        validate = page.locator(VALIDATE_BUTTON)
        expect_visible(validate)
        assert validate.inner_text().strip() == "Validate"
        assert "YOUR CODE HERE" in editor_text(panel, stub)
        panel.locator(".jp-MarkdownOutput h1").first.scroll_into_view_if_needed()
        steps.shot("notebook-open")

        select_cell(panel, stub)
        run_from_menu(page, "notebook:run-all-above")
        wait_executed(page, above, RUN_TIMEOUT_MS)
        assert not errors_in(panel, above), errors_in(panel, above)
        cell(panel, stub).scroll_into_view_if_needed()
        steps.shot("ran-up-to-exercise-1")

        # The stub as released: its check fails.
        select_cell(panel, stub)
        page.keyboard.press("Shift+Enter")
        page.keyboard.press("Shift+Enter")
        wait_executed(page, [stub, check], RUN_TIMEOUT_MS)
        assert errors_in(panel, [check]), output_text(panel, check)
        assert not CHECK_PASSED.search(output_text(panel, check))
        steps.shot("stub-check-fails")

        # The learner pastes a correct djmodel and runs it and its check.
        paste_into_cell(page, panel, stub, solution)
        steps.shot("solution-pasted")
        page.keyboard.press("Shift+Enter")
        page.keyboard.press("Shift+Enter")
        passed = cell(panel, check).locator(OUTPUT, has_text=CHECK_PASSED)
        expect_visible(passed, RUN_TIMEOUT_MS)
        wait_executed(page, [stub, check], RUN_TIMEOUT_MS)
        assert not errors_in(panel, [stub, check]), errors_in(panel, [stub, check])
        steps.shot("check-passes")
        steps.assert_loopback_only()


@pytest.mark.timeout(420)
def test_solution_notebook_generates_a_solo(page: Page, lab: bh.LabServer, course: Path) -> None:
    """solutions/: the generation section shows an audio player and the piano roll."""
    cells = Cells.read(course / "solutions" / NOTEBOOK)
    start, end = cells.section_of("generate_music(")
    code = [i for i in range(end) if cells.kinds[i] == "code"]
    roll = cells.first_code_after(start, "piano_roll(")
    player = cells.first_code_after(start, "play(")
    assert roll < end and player < end, (start, end, roll, player)

    steps = Steps(page, "solution")
    with steps.failures_saved():
        open_lab(page, lab, "solution", f"solutions/{NOTEBOOK}")
        panel = wait_for_notebook(page)
        steps.shot("notebook-open")

        if end < len(cells.sources):  # run everything above the next section
            select_cell(panel, end)
            run_from_menu(page, "notebook:run-all-above")
        else:
            run_from_menu(page, "notebook:run-all-cells")
        wait_executed(page, code, GENERATION_TIMEOUT_MS)
        assert not errors_in(panel, code), errors_in(panel, code)

        image = cell(panel, roll).locator(f"{OUTPUT} img")
        expect_visible(image)
        size: Any = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert size[0] > 200 and size[1] > 100, size
        steps.shot("piano-roll")

        audio = cell(panel, player).locator(f"{OUTPUT} audio")
        expect_visible(audio)
        assert audio.evaluate("a => a.controls"), "the audio player has no controls"
        source = audio.evaluate("a => a.currentSrc || a.querySelector('source')?.src || ''")
        assert source.startswith("data:audio/wav;base64,"), source[:80]
        # Chromium decoded the WAV's header: the player knows how long the solo lasts.
        audio.evaluate("a => a.load()")
        page.wait_for_function(
            "a => a.readyState >= 1 && a.duration > 1", arg=audio.element_handle()
        )
        steps.assert_loopback_only()
        steps.shot("audio-player")
