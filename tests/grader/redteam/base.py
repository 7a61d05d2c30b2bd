"""The red-team catalogue's building blocks: items, the batch's context, and how attack code
is put into a submission (in the kernel, and in the clean room's programs)."""

from __future__ import annotations

import ast
import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from catalogue import (
    NOTEBOOK,
    CatalogueError,
    _grade_id,
    _insert_after,
    strip_markers,
)
from nbformat.notebooknode import NotebookNode

REDTEAM_GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "redteam_scores.json"
"""Expected total and status of every item (rewritten with ``--update-golden``)."""

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
