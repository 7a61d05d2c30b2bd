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
c.Autograde.sanitize_preprocessors = [
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
