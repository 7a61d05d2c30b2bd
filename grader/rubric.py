"""What is graded: the assignment's names, its grade cells and the cells grading runs.

The points live in the source notebook's nbgrader metadata; this table repeats them
so that the grader can check the notebook against it (``tests/grader/test_scores.py``) and
report scores per graded function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COURSE_ID = "jazz-solo-lstm"
"""nbgrader's course id."""

ASSIGNMENT_ID = "jazz_solo"
"""nbgrader's assignment id: the folder name under ``course/source``."""

STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
"""A learner id the grader accepts (it becomes a folder name and a gradebook key).

Match it with ``fullmatch``: ``match`` with ``$`` would accept a trailing newline.
"""

NOTEBOOK_NAME = "Improvise_a_Jazz_Solo_with_an_LSTM"
"""The assignment's one notebook, without ``.ipynb``."""

GRADED_FUNCTIONS: tuple[str, ...] = ("djmodel", "music_inference_model", "predict_and_sample")
"""The learner's functions that hidden tests grade, in notebook order."""


@dataclass(frozen=True)
class GradeCell:
    """One grade cell of the source notebook.

    Attributes:
        grade_id: the cell's nbgrader ``grade_id``.
        function: the graded function it tests (one of ``GRADED_FUNCTIONS``).
        points: its nbgrader points.
        title: a few words saying what it checks.
    """

    grade_id: str
    function: str
    points: float
    title: str


GRADE_CELLS: tuple[GradeCell, ...] = (
    GradeCell("test_djmodel_shapes", "djmodel", 2, "model type, inputs and outputs"),
    GradeCell("test_djmodel_sharing", "djmodel", 3, "the given layers are shared"),
    GradeCell("test_djmodel_equivalence", "djmodel", 5, "equal to a fused reference LSTM"),
    GradeCell("test_inference_shapes", "music_inference_model", 2, "inputs and outputs, any Ty"),
    GradeCell(
        "test_inference_sharing", "music_inference_model", 3, "the trained layers are shared"
    ),
    GradeCell("test_inference_greedy", "music_inference_model", 5, "equal to a greedy reference"),
    GradeCell("test_sample_shapes", "predict_and_sample", 2, "shapes, one-hot, argmax"),
    GradeCell("test_sample_initializers", "predict_and_sample", 3, "the given initializers used"),
)

GRADE_CELLS_BY_ID: dict[str, GradeCell] = {cell.grade_id: cell for cell in GRADE_CELLS}

TOTAL_POINTS: float = float(sum(cell.points for cell in GRADE_CELLS))

LOCKED_CELLS_RUN_WHEN_GRADING: tuple[str, ...] = (
    "imports",
    "data_load",
    "layers",
    "build_inference",
)
"""Locked (instructor) code cells that grading executes; every other locked code cell is skipped.

Grade cells, solution cells and cells the learner added always run. The hidden tests
build their own tiny layers, so grading needs only the imports, the data (for the
globals the learner's code may read), the layers and the initializers; training,
audio, plots and generation are left out, which keeps grading fast.
"""


def cells_of(function: str) -> tuple[GradeCell, ...]:
    """The grade cells that test ``function``, in notebook order."""
    return tuple(cell for cell in GRADE_CELLS if cell.function == function)


def points_of(function: str) -> float:
    """The points ``function`` is worth."""
    return float(sum(cell.points for cell in cells_of(function)))
