"""The nbgrader course folder, and running nbgrader on it.

Layout (created by ``python -m grader release``; ``course/`` by default)::

    course/
      nbgrader_config.py          copied from grader/nbgrader_config.py
      source/jazz_solo/<nb>.ipynb the source notebook, copied from solutions/
      release/jazz_solo/<nb>.ipynb the student version (nbgrader generate_assignment)
      gradebook.db                nbgrader's gradebook
      submitted/<student>/jazz_solo/<nb>.ipynb
      autograded/<student>/jazz_solo/<nb>.ipynb
      feedback/<student>/jazz_solo/<nb>.html
      grades.csv                  one row per student (python -m grader export)
      reviews/<student>.json      notebook and clean-room scores per grade cell, review reasons
      logs/<student>.log          nbgrader's and the clean room's output
      .grader/assignment.db       the gradebook with the assignment and no student
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from grader.errors import CourseError, ReleaseError
from grader.rubric import ASSIGNMENT_ID, NOTEBOOK_NAME

CONFIG_TEMPLATE = Path(__file__).with_name("nbgrader_config.py")
"""The course's nbgrader configuration, copied into every course folder the grader uses."""

NBGRADER_TIMEOUT = 1800
"""Seconds one nbgrader command may run in all (cells have their own limit in the config)."""


@dataclass(frozen=True)
class Course:
    """Paths of a course folder (see the module docstring)."""

    root: Path

    @property
    def config_file(self) -> Path:
        """The course's nbgrader_config.py."""
        return self.root / "nbgrader_config.py"

    @property
    def source_notebook(self) -> Path:
        """The source notebook, with solutions and hidden tests."""
        return self.root / "source" / ASSIGNMENT_ID / f"{NOTEBOOK_NAME}.ipynb"

    @property
    def release_notebook(self) -> Path:
        """The student version nbgrader generated."""
        return self.root / "release" / ASSIGNMENT_ID / f"{NOTEBOOK_NAME}.ipynb"

    @property
    def gradebook(self) -> Path:
        """nbgrader's gradebook database."""
        return self.root / "gradebook.db"

    @property
    def db_url(self) -> str:
        """The gradebook's SQLAlchemy URL."""
        return f"sqlite:///{self.gradebook.resolve()}"

    @property
    def template_gradebook(self) -> Path:
        """A gradebook holding the assignment and no student (copied for each grading run)."""
        return self.root / ".grader" / "assignment.db"

    @property
    def grades_csv(self) -> Path:
        """The exported grades."""
        return self.root / "grades.csv"

    @property
    def reviews_dir(self) -> Path:
        """Per-student JSON files: notebook and clean-room scores, review reasons."""
        return self.root / "reviews"

    @property
    def logs_dir(self) -> Path:
        """Per-student logs of the grading runs."""
        return self.root / "logs"

    def submitted_dir(self, student: str) -> Path:
        """Where nbgrader reads ``student``'s submission."""
        return self.root / "submitted" / student / ASSIGNMENT_ID

    def autograded_dir(self, student: str) -> Path:
        """Where nbgrader writes ``student``'s executed, graded notebook."""
        return self.root / "autograded" / student / ASSIGNMENT_ID

    def feedback_file(self, student: str) -> Path:
        """``student``'s HTML feedback."""
        return self.root / "feedback" / student / ASSIGNMENT_ID / f"{NOTEBOOK_NAME}.html"

    def protected_paths(self) -> list[Path]:
        """Files no submission may change: configuration, source, release, gradebooks."""
        paths = [self.config_file, self.gradebook]
        for folder in (self.root / "source", self.root / "release", self.root / ".grader"):
            if folder.exists():
                paths.extend(p for p in folder.rglob("*") if p.is_file())
        return paths

    def require_released(self) -> None:
        """Raise CourseError unless ``release`` has prepared this course.

        Raises:
            CourseError: the gradebook or the source notebook is missing.
        """
        missing = [
            p
            for p in (self.gradebook, self.source_notebook, self.template_gradebook)
            if not p.exists()
        ]
        if missing:
            raise CourseError(
                f"the course at {self.root} is not released ({missing[0]} is missing): "
                "run `python -m grader release` first"
            )


def _path_with_interpreter(path: str) -> str:
    """``path`` with this interpreter's folder first (nbgrader runs ``alembic`` from PATH)."""
    folder = str(Path(sys.executable).parent)
    parts = path.split(os.pathsep) if path else []
    return os.pathsep.join([folder, *(p for p in parts if p != folder)])


def open_gradebook(url: str) -> Gradebook:
    """nbgrader's Gradebook at ``url``; this interpreter's folder is put on PATH first.

    nbgrader checks the database schema by running the ``alembic`` command, which lives
    next to the interpreter in a virtual environment that is not activated.
    """
    os.environ["PATH"] = _path_with_interpreter(os.environ.get("PATH", ""))
    return Gradebook(url)


CHECKOUT = Path(__file__).resolve().parent.parent
"""The folder holding this grader package: the course's nbgrader configuration imports
``grader`` from it (the distribution learners install ships ``jazz_utils`` only)."""


def grading_environment() -> dict[str, str]:
    """The environment of nbgrader and of the kernels it starts: TensorFlow quiet, no display.

    ``PYTHONPATH`` starts with the checkout, so that nbgrader, run in the course folder,
    imports this grader whatever the install.
    """
    env = dict(os.environ)
    env["PATH"] = _path_with_interpreter(env.get("PATH", ""))
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(CHECKOUT)]
    env["PYTHONPATH"] = os.pathsep.join([str(CHECKOUT), *paths])
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["MPLBACKEND"] = "Agg"
    env.setdefault("PYTHONHASHSEED", "0")
    env.pop("NBGRADER_EXECUTION", None)
    return env


def write_config(root: Path) -> None:
    """Copy the course's nbgrader configuration into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CONFIG_TEMPLATE, root / "nbgrader_config.py")


def run_nbgrader(
    root: Path,
    args: list[str],
    log: Path | None = None,
    timeout: float = NBGRADER_TIMEOUT,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` on the course folder ``root`` (which is also the working directory).

    Args:
        root: the course folder.
        args: nbgrader's subcommand and arguments.
        log: a file that receives nbgrader's output (appended), if given.
        timeout: seconds the command may run.
        env: the environment (default: ``grading_environment()``).

    Returns:
        The finished process (its output is in ``stdout``, stderr merged).

    Raises:
        CourseError: nbgrader ran past ``timeout``.
    """
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root.resolve()}"]
    try:
        done = subprocess.run(
            command,
            cwd=root,
            env=env or grading_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise CourseError(f"nbgrader {args[0]} ran past {timeout:.0f} s in {root}") from error
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"$ nbgrader {' '.join(args)}\n{done.stdout}\n")
    return done


def _make_template_gradebook(course: Course) -> None:
    """Copy the gradebook into ``.grader/assignment.db`` and remove every student from it."""
    course.template_gradebook.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(course.gradebook, course.template_gradebook)
    url = f"sqlite:///{course.template_gradebook.resolve()}"
    with open_gradebook(url) as gradebook:
        for student in list(gradebook.students):
            gradebook.remove_student(student.id)


def prepare(root: Path, solutions: Path) -> Course:
    """Create or refresh the course at ``root`` from the source notebook in ``solutions``.

    Copies the configuration and the source notebook, runs ``nbgrader generate_assignment``
    (which records the assignment in the gradebook and writes ``release/``), and keeps a
    student-free copy of the gradebook for grading runs.

    Raises:
        ReleaseError: the source notebook is missing or nbgrader failed.
    """
    source = solutions / f"{NOTEBOOK_NAME}.ipynb"
    if not source.is_file():
        raise ReleaseError(f"no source notebook at {source}")
    course = Course(root)
    write_config(root)
    course.source_notebook.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, course.source_notebook)
    done = run_nbgrader(root, ["generate_assignment", ASSIGNMENT_ID, "--force"])
    if done.returncode != 0 or not course.release_notebook.is_file():
        raise ReleaseError(f"nbgrader generate_assignment failed:\n{done.stdout[-3000:]}")
    _make_template_gradebook(course)
    return course


STUB_LINE = "# YOUR CODE HERE"
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION")


def check_release(notebook: Path) -> None:
    """Check that a student notebook holds stubs and neither solutions nor hidden tests.

    Raises:
        ReleaseError: naming the first cell that breaks the rule.
    """
    nb = nbformat.read(notebook, as_version=4)
    stubs = 0
    for index, cell in enumerate(nb.cells):
        text = cell.source
        for marker in HIDDEN_MARKERS + SOLUTION_MARKERS + ("from grader", "import grader"):
            if marker in text:
                raise ReleaseError(f"{notebook}: cell {index} contains {marker!r}")
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            if STUB_LINE not in text or "raise NotImplementedError(" not in text:
                raise ReleaseError(f"{notebook}: solution cell {index} has no stub")
            stubs += 1
    if stubs == 0:
        raise ReleaseError(f"{notebook}: no exercise stub")


def release(root: Path, solutions: Path, notebooks: Path) -> Path:
    """Regenerate the student release: prepare the course, check it, copy it to ``notebooks``.

    Returns:
        The released notebook in ``notebooks``.

    Raises:
        ReleaseError: generation failed or the release holds solutions or hidden tests.
    """
    course = prepare(root, solutions)
    check_release(course.release_notebook)
    notebooks.mkdir(parents=True, exist_ok=True)
    target = notebooks / course.release_notebook.name
    shutil.copyfile(course.release_notebook, target)
    return target
