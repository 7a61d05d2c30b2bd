"""The mutant and cheat catalogues: submissions the grader must tell from a right answer.

A *mutant* is the source notebook with one classic mistake put into the learner's code
(string edits on solution cells, each of which must match exactly once), turned into a
learner's submission: the release notebook with the mutated solution cells typed in.
Its score under the real pipeline is kept in ``tests/golden/mutant_scores.json``.

A *cheat* is a submission that tries to score without solving: it is built on the
untouched release (or on a mutant) and must score exactly what its base scores.

``run_catalogue`` grades them all with ``python -m grader`` (release, then autograde),
exactly as an instructor would, and returns every submission's review file.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "Improvise_a_Jazz_Solo_with_an_LSTM.ipynb"
SOURCE = ROOT / "solutions" / NOTEBOOK
GOLDEN = Path(__file__).resolve().parent / "golden" / "mutant_scores.json"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


class CatalogueError(Exception):
    """A mutant's edit no longer matches the source notebook, or a catalogue run failed."""


Edit = tuple[str, str, str]
"""(grade_id of a solution cell, text to replace (exactly one occurrence), replacement)."""


@dataclass(frozen=True)
class Mutant:
    """A classic mistake: edits on the source notebook's solution cells."""

    name: str
    description: str
    edits: tuple[Edit, ...] = ()


@dataclass(frozen=True)
class Cheat:
    """An attempt to score without solving, built on ``base`` (a mutant name, or the release).

    Attributes:
        name: the submission's student id.
        description: what it tries.
        transform: turns the base submission into the cheat.
        base: ``"untouched"`` or a mutant's name.
        flagged: whether the grader must mark it "needs review" (its clean room ended
            oddly, or its notebook cannot be run). Cheats that only act on the notebook's
            kernel are not flagged: the kernel's grade cells decide no score.
        separate_run: graded alone, after the main batch (it writes to course files).
    """

    name: str
    description: str
    transform: Callable[[NotebookNode], NotebookNode]
    base: str = "untouched"
    flagged: bool = False
    separate_run: bool = False


N_VALUES = "{N_VALUES}"
"""Stands in an edit for the corpus's n_values, filled in when a mutant is built."""


def _vocabulary_size() -> int:
    """The bundled corpus's n_values: what a learner who hard-codes sizes would type."""
    from jazz_utils.data import load_music_utils

    return int(load_music_utils()[2])


def mutants() -> list[Mutant]:
    """The mutant catalogue (the first two rows are the right answer and the stubs)."""
    loop_step = "        _, a, c = LSTM_cell(x, initial_state=[a, c])\n        out = densor(a)\n"
    feedback = "        x = ops.argmax(out, axis=-1)\n        x = ops.one_hot(x, n_values)\n"
    sizes = "    n_values = densor.units\n    n_a = LSTM_cell.units\n"
    hard = f"    n_values = {N_VALUES}\n    n_a = 64\n"
    predict = (
        "pred = inference_model.predict([x_initializer, a_initializer, c_initializer], verbose=0)"
    )
    return [
        Mutant("solution", "the source notebook's solution"),
        Mutant("untouched", "the release as handed out: every stub untouched"),
        Mutant(
            "layers_in_loop",
            "djmodel creates a new LSTM and Dense at every step instead of sharing the given ones",
            (
                (
                    "djmodel",
                    "        x = reshaper(x)\n",
                    "        x = reshaper(x)\n"
                    "        LSTM_cell = LSTM(n_a, return_state=True)\n"
                    '        densor = Dense(n_values, activation="softmax")\n',
                ),
            ),
        ),
        Mutant(
            "first_step_every_time",
            "djmodel feeds X[:, 0, :] at every step",
            (("djmodel", "x = X[:, t, :]", "x = X[:, 0, :]"),),
        ),
        Mutant(
            "state_reset",
            "djmodel restarts every step from (a0, c0)",
            (("djmodel", "initial_state=[a, c]", "initial_state=[a0, c0]"),),
        ),
        Mutant(
            "a_c_swapped",
            "djmodel swaps the hidden and cell states returned by the LSTM",
            (("djmodel", "_, a, c = LSTM_cell(", "_, c, a = LSTM_cell("),),
        ),
        Mutant(
            "last_output_only",
            "djmodel returns only the last step's output",
            (
                (
                    "djmodel",
                    "    model = Model(inputs=[X, a0, c0], outputs=outputs)\n",
                    "    model = Model(inputs=[X, a0, c0], outputs=out)\n",
                ),
            ),
        ),
        Mutant(
            "hard_coded_sizes",
            "djmodel and music_inference_model hard-code the notebook's n_values and n_a = 64",
            (("djmodel", sizes, hard), ("music_inference_model", sizes, hard)),
        ),
        Mutant(
            "tf_ops_on_keras_tensors",
            "music_inference_model uses tf.math.argmax and tf.one_hot, which fail on Keras 3",
            (
                (
                    "music_inference_model",
                    feedback,
                    "        import tensorflow as tf\n"
                    "        x = tf.math.argmax(out, axis=-1)\n"
                    "        x = tf.one_hot(x, n_values)\n",
                ),
            ),
        ),
        Mutant(
            "feeds_x0",
            "music_inference_model feeds x0 at every step instead of the prediction",
            (("music_inference_model", "        x = RepeatVector(1)(x)\n", "        x = x0\n"),),
        ),
        Mutant(
            "new_dense_in_inference",
            "music_inference_model applies a new Dense layer instead of the trained densor",
            (
                (
                    "music_inference_model",
                    loop_step,
                    "        _, a, c = LSTM_cell(x, initial_state=[a, c])\n"
                    '        out = Dense(n_values, activation="softmax")(a)\n',
                ),
            ),
        ),
        Mutant(
            "argmax_axis_sample",
            "predict_and_sample takes the argmax over the time axis",
            (
                (
                    "predict_and_sample",
                    "np.argmax(np.array(pred), axis=-1)",
                    "np.argmax(np.array(pred), axis=0)",
                ),
            ),
        ),
        Mutant(
            "probabilities_not_one_hot",
            "predict_and_sample returns the probabilities instead of one-hot results",
            (
                (
                    "predict_and_sample",
                    "results = keras.utils.to_categorical(indices[:, 0], num_classes=n_values)",
                    "results = np.array(pred)[:, 0, :]",
                ),
            ),
        ),
        Mutant(
            "initializers_ignored",
            "predict_and_sample predicts from zeros instead of the given initializers",
            (
                (
                    "predict_and_sample",
                    predict,
                    "pred = inference_model.predict([np.zeros_like(x_initializer), "
                    "np.zeros_like(a_initializer), np.zeros_like(c_initializer)], verbose=0)",
                ),
            ),
        ),
    ]


# --- building submissions ------------------------------------------------------------


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def strip_markers(source: str) -> str:
    """A solution cell as a learner would leave it: the solution markers removed."""
    return "\n".join(line for line in source.split("\n") if line.strip() not in MARKERS)


def mutate(source: NotebookNode, edits: tuple[Edit, ...]) -> NotebookNode:
    """A copy of the source notebook with ``edits`` applied.

    Raises:
        CatalogueError: an edit's text does not occur exactly once in its cell.
    """
    mutated = copy.deepcopy(source)
    cells = {_grade_id(cell): cell for cell in mutated.cells}
    for grade_id, old, new in edits:
        if N_VALUES in new:
            new = new.replace(N_VALUES, str(_vocabulary_size()))
        cell = cells.get(grade_id)
        if cell is None or cell.source.count(old) != 1:
            raise CatalogueError(f"edit of {grade_id!r} does not match once: {old!r}")
        cell.source = cell.source.replace(old, new)
    return mutated


def as_submission(source: NotebookNode, release: NotebookNode) -> NotebookNode:
    """The release notebook with the (mutated) source's solution cells typed in."""
    answers = {
        _grade_id(c): c.source
        for c in source.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    submission = copy.deepcopy(release)
    for cell in submission.cells:
        grade_id = _grade_id(cell)
        if grade_id in answers:
            cell.source = strip_markers(answers[grade_id])
    return submission


def build_mutant(mutant: Mutant, source: NotebookNode, release: NotebookNode) -> NotebookNode:
    """The submission of ``mutant`` (the release itself for ``untouched``)."""
    if mutant.name == "untouched":
        return copy.deepcopy(release)
    return as_submission(mutate(source, mutant.edits), release)


def _learner_cell(source: str) -> NotebookNode:
    return nbformat.v4.new_code_cell(source)


def _insert_after(notebook: NotebookNode, grade_id: str, source: str) -> NotebookNode:
    """Insert a learner's code cell right after the cell ``grade_id``."""
    changed = copy.deepcopy(notebook)
    for index, cell in enumerate(changed.cells):
        if _grade_id(cell) == grade_id:
            changed.cells.insert(index + 1, _learner_cell(source))
            return changed
    raise CatalogueError(f"no cell {grade_id!r}")


def _grade_cells(notebook: NotebookNode) -> list[NotebookNode]:
    return [c for c in notebook.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


# --- the cheats ----------------------------------------------------------------------


def _edit_test_cells(notebook: NotebookNode) -> NotebookNode:
    changed = copy.deepcopy(notebook)
    for cell in _grade_cells(changed):
        cell.source = "pass"
        cell.metadata["nbgrader"]["locked"] = False
        cell.metadata["editable"] = True
    return changed


def _delete_test_cells(notebook: NotebookNode) -> NotebookNode:
    changed = copy.deepcopy(notebook)
    changed.cells = [
        c for c in changed.cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade")
    ]
    return changed


PATCH_CHECKS = """\
import jazz_utils.checks as checks

for _name in dir(checks):
    if _name.endswith("_test"):
        setattr(checks, _name, lambda *args, **kwargs: None)
"""

REPLACE_HIDDEN_MODULE = """\
import sys
import types

import grader

_full = {
    "test_djmodel_shapes": 2.0, "test_djmodel_sharing": 3.0, "test_djmodel_equivalence": 5.0,
    "test_inference_shapes": 2.0, "test_inference_sharing": 3.0, "test_inference_greedy": 5.0,
    "test_sample_shapes": 2.0, "test_sample_initializers": 3.0,
}
_fake = types.ModuleType("grader.hidden")
_fake.grade = lambda grade_id, function: _full[grade_id]
sys.modules["grader.hidden"] = _fake
grader.hidden = _fake
"""

PATCH_NUMPY_AND_BUILTINS = """\
import builtins
import sys

import numpy
import numpy.testing

numpy.allclose = lambda *args, **kwargs: True
numpy.array_equal = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.testing.assert_array_equal = lambda *args, **kwargs: None

_real_all, _real_any = builtins.all, builtins.any


def _from_grader():
    return sys._getframe(2).f_globals.get("__name__", "").startswith("grader")


builtins.all = lambda iterable: True if _from_grader() else _real_all(iterable)
builtins.any = lambda iterable: True if _from_grader() else _real_any(iterable)
"""

OS_EXIT = """\
import os

os._exit(0)
"""

SYSTEM_EXIT = """\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    raise SystemExit(0)


def music_inference_model(LSTM_cell, densor, Ty=100):
    raise SystemExit(0)


def predict_and_sample(inference_model, x_initializer=None, a_initializer=None, c_initializer=None):
    raise SystemExit(0)


raise SystemExit(0)
"""

READ_HIDDEN_TESTS = """\
import time
from pathlib import Path

_found = []
_deadline = time.monotonic() + 20  # a bounded search, so that it never hits the cell timeout
for _folder in [Path.cwd(), *list(Path.cwd().parents)[:4]]:
    for _path in _folder.rglob("*.ipynb"):
        if time.monotonic() > _deadline:
            break
        try:
            small = _path.is_file() and _path.stat().st_size < 5_000_000
            if small and b"BEGIN HIDDEN TESTS" in _path.read_bytes():
                _found.append(_path)
        except OSError:
            pass
print("hidden tests found in:", [str(p) for p in _found])
for _path in _found:
    if _path.suffix == ".ipynb":
        import nbformat

        for _cell in nbformat.read(_path, as_version=4).cells:
            if "BEGIN HIDDEN TESTS" in _cell.source:
                try:
                    exec(_cell.source, globals())
                except Exception as _error:
                    print("hidden test raised", type(_error).__name__)
"""

WRITE_COURSE_FILES = """\
import os
import sqlite3
from pathlib import Path


def _ancestors():
    # the kernel's parent (nbgrader) and grandparent (python -m grader), no further
    pid = os.getpid()
    for _ in range(2):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        if pid <= 1:
            return
        yield pid


_places = {Path.cwd(), *Path.cwd().parents}
for _pid in _ancestors():
    try:
        _places.add(Path(os.readlink(f"/proc/{_pid}/cwd")))
        for _arg in Path(f"/proc/{_pid}/cmdline").read_bytes().split(b"\\0"):
            if _arg.startswith(b"/") or _arg.startswith(b"--course"):
                _places.add(Path(_arg.decode().split("=", 1)[-1]))
    except OSError:
        pass
_gradebooks = set()
for _place in _places:
    for _candidate in (_place / "gradebook.db", *_place.glob("*/gradebook.db")):
        if _candidate.is_file():
            _gradebooks.add(_candidate.resolve())
for _db in sorted(_gradebooks):
    try:
        with sqlite3.connect(_db) as _con:
            _con.execute("UPDATE grade SET manual_score = 1000, auto_score = 1000")
            _con.execute("CREATE TABLE IF NOT EXISTS planted (note TEXT)")
            _con.execute("INSERT INTO planted VALUES ('full marks please')")
        _course = _db.parent
        with open(_course / "nbgrader_config.py", "a") as _config:
            _config.write("\\nc.Execute.timeout = 1\\n")
        if (_course / "source").is_dir():
            (_course / "source" / "planted.py").write_text("print('planted')\\n")
    except Exception as _error:
        print("could not write", _db, type(_error).__name__)
print("wrote to", [str(p) for p in sorted(_gradebooks)])
"""

INPUT_TRANSFORMER = """\
def _skip_hidden_tests(lines):
    if any("hidden.grade" in line for line in lines):
        return ["pass\\n"]
    return lines


get_ipython().input_transformers_cleanup.append(_skip_hidden_tests)
"""

NAN_FORMATTER = """\
get_ipython().display_formatter.formatters["text/plain"].for_type(
    float, lambda value, printer, cycle: printer.text("nan")
)
"""


FORGE_EVIDENCE = """\
import grader.probes
import numpy as np
from grader import reference


def _model(inputs, n_values, steps, m):
    return {
        "is_model": True,
        "inputs": inputs,
        "outputs": [[None, n_values]] * steps,
        "call": {"shapes": [[m, n_values]] * steps},
    }


def _sample(variant):
    case = reference.SAMPLING
    indices = case.reference_indices(variant)
    return {
        "results": np.eye(case.sizes.n_values)[indices].tolist(),
        "results_shape": [case.Ty, case.sizes.n_values],
        "indices": indices.reshape(-1, 1).astype(float).tolist(),
        "indices_shape": [case.Ty, 1],
        "indices_integral": True,
    }


def _forged(grade_id, function=None, name=None):
    if grade_id == "test_djmodel_shapes":
        c = reference.DJ_SHAPES
        nv, na = c.sizes.n_values, c.sizes.n_a
        return _model([[None, c.Tx, nv], [None, na], [None, na]], nv, c.Tx, c.m)
    if grade_id in ("test_djmodel_sharing", "test_inference_sharing"):
        c = reference.DJ_SHARING if "djmodel" in grade_id else reference.INF_SHARING
        return {"is_model": True, "lstm_used": True, "dense_used": True,
                "reshaper_used": True, "count_params": c.sizes.parameter_count}
    if grade_id == "test_djmodel_equivalence":
        return {"cases": [{k: {"outputs": c.reference(k).tolist()} for k in ("random", "constant")}
                          for c in reference.DJ_EQUIVALENCE]}
    if grade_id == "test_inference_shapes":
        cases = []
        for c in reference.INF_SHAPES:
            nv, na = c.sizes.n_values, c.sizes.n_a
            cases.append(_model([[None, 1, nv], [None, na], [None, na]], nv, c.Ty, c.m))
        return {"cases": cases}
    if grade_id == "test_inference_greedy":
        return {"cases": [{"outputs": c.reference().tolist()} for c in reference.INF_GREEDY]}
    if grade_id == "test_sample_shapes":
        return _sample("zeros")
    return {v: _sample(v) for v in ("base", "x", "a", "c")}


def _install():
    grader.probes.collect = _forged
    for grade_id in list(grader.probes.PROBES):
        grader.probes.PROBES[grade_id] = lambda function, grade_id=grade_id: _forged(grade_id)


_install()


def djmodel(Tx, LSTM_cell, densor, reshaper):
    _install()
    raise NotImplementedError


def music_inference_model(LSTM_cell, densor, Ty=100):
    _install()
    raise NotImplementedError
"""


def _forge(notebook: NotebookNode) -> NotebookNode:
    """The forger in a cell after the imports, and in the graded functions' bodies."""
    changed = _insert_after(notebook, "imports", FORGE_EVIDENCE)
    for cell in changed.cells:
        if _grade_id(cell) in ("djmodel", "music_inference_model"):
            cell.source = "# (defined above)"
    return changed


def _after_imports(code: str) -> Callable[[NotebookNode], NotebookNode]:
    return lambda notebook: _insert_after(notebook, "imports", code)


def _in_answer(grade_id: str, code: str) -> Callable[[NotebookNode], NotebookNode]:
    """Put ``code`` at the top of the answer cell ``grade_id`` (as top-level code)."""

    def transform(notebook: NotebookNode) -> NotebookNode:
        changed = copy.deepcopy(notebook)
        for cell in changed.cells:
            if _grade_id(cell) == grade_id:
                cell.source = code + "\n\n" + cell.source
                return changed
        raise CatalogueError(f"no cell {grade_id!r}")

    return transform


def _replace_answer(grade_id: str, code: str) -> Callable[[NotebookNode], NotebookNode]:
    def transform(notebook: NotebookNode) -> NotebookNode:
        changed = copy.deepcopy(notebook)
        for cell in changed.cells:
            if _grade_id(cell) == grade_id:
                cell.source = code
                return changed
        raise CatalogueError(f"no cell {grade_id!r}")

    return transform


def cheats() -> list[Cheat]:
    """The cheat catalogue."""
    return [
        Cheat(
            "cheat_edit_test_cells", "grade cells unlocked and edited to `pass`", _edit_test_cells
        ),
        Cheat("cheat_delete_test_cells", "every grade cell deleted", _delete_test_cells),
        Cheat(
            "cheat_patch_checks",
            "jazz_utils.checks' tests replaced by no-ops",
            _after_imports(PATCH_CHECKS),
        ),
        Cheat(
            "cheat_replace_hidden_module",
            "grader.hidden replaced through sys.modules by a module that returns full points",
            _after_imports(REPLACE_HIDDEN_MODULE),
        ),
        Cheat(
            "cheat_patch_numpy_builtins",
            "numpy.allclose/array_equal and numpy.testing patched to pass, builtins.all/any "
            "patched to say yes to the grader (on layers_in_loop)",
            _after_imports(PATCH_NUMPY_AND_BUILTINS),
            base="layers_in_loop",
        ),
        Cheat(
            "cheat_os_exit",
            "os._exit(0) in an answer cell (the kernel dies)",
            _in_answer("djmodel", OS_EXIT),
            flagged=True,
        ),
        Cheat(
            "cheat_system_exit",
            "SystemExit raised by an answer cell and by every graded function",
            _replace_answer("djmodel", SYSTEM_EXIT),
        ),
        Cheat(
            "cheat_read_hidden_tests",
            "searches the disk around the notebook for hidden tests and runs them",
            _after_imports(READ_HIDDEN_TESTS),
        ),
        Cheat(
            "cheat_input_transformer",
            "an IPython input transformer turns every hidden test into `pass` (no output is "
            "full credit in nbgrader)",
            _after_imports(INPUT_TRANSFORMER),
        ),
        Cheat(
            "cheat_nan_formatter",
            "floats displayed as 'nan', which nbgrader reads as full credit",
            _after_imports(NAN_FORMATTER),
        ),
        Cheat(
            "cheat_forge_evidence",
            "patches grader.probes (collect and its table of probes), at top level and inside "
            "the graded functions, to return evidence computed from grader.reference",
            _forge,
        ),
        Cheat(
            "cheat_write_course_files",
            "finds gradebook.db through the process tree, sets every score to 1000, and writes "
            "to nbgrader_config.py and source/ (in the batch grader's sandbox it finds none)",
            _after_imports(WRITE_COURSE_FILES),
            separate_run=True,
        ),
    ]


# --- running the catalogue -----------------------------------------------------------


@dataclass
class CatalogueRun:
    """Everything a catalogue run produced.

    Attributes:
        reviews: each submission's ``reviews/<student>.json``.
        course_files_intact: whether the course's protected files were unchanged by the
            cheat that writes to them.
        seconds: wall time of each step.
        release_notebook: the release the submissions were built from.
        course: the course folder the catalogue was graded into.
    """

    reviews: dict[str, dict[str, Any]]
    course_files_intact: bool
    seconds: dict[str, float] = field(default_factory=dict)
    release_notebook: Path | None = None
    course: Path | None = None


def _grader_process(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """Start ``python -m grader ARGS`` in ``cwd``."""
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "grader", *args],
        cwd=cwd,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen[str], what: str) -> None:
    """Wait for a ``python -m grader`` process; raise CatalogueError if it failed."""
    output, _ = process.communicate()
    if process.returncode != 0:
        raise CatalogueError(f"python -m grader {what} failed:\n{output[-4000:]}")


def _grader(args: list[str], cwd: Path) -> None:
    _finish(_grader_process(args, cwd), args[0])


def _protected_digest(course: Path) -> dict[str, bytes]:
    """The course files no grading run may change (the gradebook is checked by ``_inflated``)."""
    files = [course / "nbgrader_config.py"]
    for folder in ("source", "release", ".grader"):
        files.extend(p for p in (course / folder).rglob("*") if p.is_file())
    return {str(p.relative_to(course)): p.read_bytes() for p in files}


def _inflated(course: Path) -> int:
    """Grades in the course's gradebook that nobody but a cheat would write."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(course / "gradebook.db")) as db:
        query = "SELECT COUNT(*) FROM grade WHERE manual_score IS NOT NULL OR auto_score > 5"
        return int(db.execute(query).fetchone()[0])


def _write(folder: Path, name: str, notebook: NotebookNode) -> None:
    (folder / name).mkdir(parents=True)
    nbformat.write(notebook, folder / name / NOTEBOOK)


def run_catalogue(workdir: Path, jobs: int | None = None) -> CatalogueRun:
    """Release a course in ``workdir`` and grade every mutant and cheat through the CLI.

    ``jobs`` (default: ``$CATALOGUE_JOBS``, else 3) submissions are graded at once. The
    cheat that writes to course files is graded at the same time into a copy of the
    course, by a ``python -m grader`` of its own started elsewhere, so that what it
    changes is attributed to it alone.
    """
    jobs = jobs or int(os.environ.get("CATALOGUE_JOBS", "3"))
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    course, late_course = workdir / "main" / "course", workdir / "late" / "course"
    release_args = [
        "--solutions",
        str(ROOT / "solutions"),
        "--notebooks",
        str(workdir / "notebooks"),
    ]
    _grader(["release", "--course", str(course), *release_args], workdir)
    shutil.copytree(course, late_course)
    seconds["release"] = time.perf_counter() - start
    source = nbformat.read(SOURCE, as_version=4)
    release = nbformat.read(workdir / "notebooks" / NOTEBOOK, as_version=4)
    built = {m.name: build_mutant(m, source, release) for m in mutants()}
    main_batch, late_batch = workdir / "submissions", workdir / "submissions-late"
    for name, notebook in built.items():
        _write(main_batch, name, notebook)
    for cheat in cheats():
        folder = late_batch if cheat.separate_run else main_batch
        _write(folder, cheat.name, cheat.transform(built[cheat.base]))

    before = _protected_digest(late_course)
    start = time.perf_counter()
    common = ["--no-feedback"]
    late = _grader_process(
        [
            "autograde",
            "--course",
            str(late_course),
            "--submissions",
            str(late_batch),
            "--jobs",
            "1",
            *common,
        ],
        workdir / "late",
    )
    main = _grader_process(
        [
            "autograde",
            "--course",
            str(course),
            "--submissions",
            str(main_batch),
            "--jobs",
            str(jobs),
            *common,
        ],
        workdir / "main",
    )
    _finish(main, "autograde")
    _finish(late, "autograde (late)")
    seconds["autograde"] = time.perf_counter() - start
    intact = _protected_digest(late_course) == before and _inflated(late_course) == 0
    start = time.perf_counter()
    _grader(["export", "--course", str(course)], workdir)
    _grader(["feedback", "--course", str(course), "--student", "solution"], workdir)
    seconds["export_feedback"] = time.perf_counter() - start
    reviews = {
        path.stem: json.loads(path.read_text())
        for folder in (course, late_course)
        for path in sorted((folder / "reviews").glob("*.json"))
    }
    return CatalogueRun(reviews, intact, seconds, workdir / "notebooks" / NOTEBOOK, course)


def golden_rows(run: CatalogueRun) -> dict[str, Any]:
    """The golden table's content from a run: final points per grade cell, totals, flags."""
    descriptions = {m.name: m.description for m in mutants()}
    descriptions.update({c.name: c.description for c in cheats()})

    def row(name: str) -> dict[str, Any]:
        review = run.reviews[name]
        return {
            "description": descriptions[name],
            "total": review["score"],
            "cells": {g: cell["final"] for g, cell in review["cells"].items()},
        }

    return {
        "max_score": next(iter(run.reviews.values()))["max_score"],
        "mutants": {m.name: row(m.name) for m in mutants()},
        "cheats": {
            c.name: {
                **row(c.name),
                "base": c.base,
                "needs_review": run.reviews[c.name]["needs_review"],
            }
            for c in cheats()
        },
    }
