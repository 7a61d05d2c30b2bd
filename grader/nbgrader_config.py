"""nbgrader configuration of the course.

``python -m grader`` copies this file into the course folder (``course/``) before every
nbgrader command, so edit it here. It is a traitlets config file: nbgrader runs it
with ``get_config`` defined.
"""

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from grader.autograde_guard import SandboxedGradingOnly
from grader.deadlines import LatePenalty
from grader.preprocessors import GradingExecute, RestoreGradeCells
from grader.rubric import COURSE_ID, LOCKED_CELLS_RUN_WHEN_GRADING

c = get_config()  # noqa: F821 - defined by traitlets when it loads a config file

c.CourseDirectory.course_id = COURSE_ID

# The student's stub: the hints are the comments above it in each exercise.
c.ClearSolutions.code_stub = {
    "python": (
        "# YOUR CODE HERE\n"
        'raise NotImplementedError("Exercise not done yet: write your code here, '
        'following the steps above.")'
    )
}

# Grading: one kernel per submission, with a generous per-cell limit.
c.Execute.kernel_name = "python3"
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
# Output still arriving after a cell has finished: wait long enough for a loaded machine.
c.Execute.iopub_timeout = 60
c.GradingExecute.run_locked_cells = list(LOCKED_CELLS_RUN_WHEN_GRADING)
# Output limits, held while the notebook runs (grader/preprocessors.py): a cell that prints
# 150 MB leaves a small notebook with "[output truncated by the grader: N more bytes]" notes
# and is still graded and given feedback. Errors and results (what grade cells are scored
# from) are never dropped, only shortened. -1 switches a limit off.
# Stream output (stdout and stderr together) one cell keeps, in UTF-8 bytes.
c.GradingExecute.max_cell_stream_bytes = 100_000
# Characters one line keeps (stream output, an error's value, a traceback entry).
c.GradingExecute.max_line_chars = 10_000
# One display or result (image, HTML...) larger than this becomes a one-line note.
c.GradingExecute.max_rich_output_bytes = 500_000
# All the notebook's outputs; past it, outputs are left out with one note per cell and stream.
c.GradingExecute.max_notebook_output_bytes = 5_000_000
# nbgrader's LimitOutput, after the run, still caps traceback entries.
c.LimitOutput.max_lines = -1  # the byte limits of GradingExecute bound the output
c.LimitOutput.max_traceback = 100
# nbgrader's own list, with GradingExecute in place of Execute.
c.Autograde.autograde_preprocessors = [
    GradingExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Grade cells deleted from a submission are put back (and run) rather than scored as missing.
# First, formgrader's Autograde button is refused (grader/autograde_guard.py says why).
c.Autograde.sanitize_preprocessors = [
    SandboxedGradingOnly,
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    RestoreGradeCells,
    CheckCellMetadata,
]

# TensorFlow's start-up log lines (absl) go to stderr; a grade cell's stderr would zero it.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(?m)(WARNING: All log messages before absl::InitializeLog"
    r"|^[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]"
    r"|oneDNN custom operations are on"
    r"|Could not find cuda drivers"
    r"|To enable the following instructions:)"
)

# Late work (grader/deadlines.py): the due date is the gradebook's (`python -m grader release
# --due WHEN`, `python -m grader due WHEN`, or formgrader); the penalty is written for every
# result and refreshed at every export. penalty_method: "none", "zero" (the whole score) or
# "per_hour" (points_per_hour per started hour past the due date and grace_minutes).
c.AssignLatePenalties.plugin_class = LatePenalty
c.LatePenalty.penalty_method = "per_hour"
c.LatePenalty.points_per_hour = 1.0
c.LatePenalty.grace_minutes = 0.0
