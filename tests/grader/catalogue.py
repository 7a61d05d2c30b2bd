"""The mutant catalogue, and how a submission is built from the source notebook.

A *mutant* is the source notebook with one classic mistake put into the learner's code
(string edits on solution cells, each of which must match exactly once), turned into a
learner's submission: the release notebook with the mutated solution cells typed in.
Its score under the real pipeline is kept in ``tests/grader/golden/mutant_scores.json``.

The cheats (cheats.py) and the red-team items (redteam/) are built on these submissions;
catalogue_batch.py grades them all in one batch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode

ROOT = Path(__file__).resolve().parents[2]
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
                    '    model = Model(inputs=[X, a0, c0], outputs=outputs, name="djmodel")\n',
                    '    model = Model(inputs=[X, a0, c0], outputs=out, name="djmodel")\n',
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


def source_notebook() -> NotebookNode:
    """The source notebook (solutions/), freshly read."""
    return nbformat.read(SOURCE, as_version=4)


def nbgrader_meta(cell: NotebookNode) -> dict[str, Any]:
    """A cell's nbgrader metadata (empty for a learner's own cell)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def _grade_id(cell: NotebookNode) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


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
