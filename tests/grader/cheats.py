"""The cheat catalogue: submissions that try to score without solving."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from catalogue import CatalogueError, _grade_cells, _grade_id, _insert_after
from nbformat.notebooknode import NotebookNode


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
