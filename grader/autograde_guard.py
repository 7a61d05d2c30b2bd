"""formgrader's Autograde button, refused: grades come from ``python -m grader autograde``.

formgrader (nbgrader's instructor page in JupyterLab) grades a submission through
nbgrader's API (``NbGraderAPI.autograde``): the hidden tests would run in the learner's
own kernel, unsandboxed, where learner code can change their result, and the clean-room
regrade would never run. ``SandboxedGradingOnly`` is the first of the course's sanitize
preprocessors (``grader/nbgrader_config.py``): when nbgrader was started by its API it
stops before any cell runs, with a message that names the command to use; from the
command line (``nbgrader autograde``) and in the batch grader's own runs it does nothing.
"""

from __future__ import annotations

from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool

from grader.errors import GradingError

REFUSAL = (
    "formgrader's Autograde button is switched off for this course: it would run the "
    "hidden tests in the learner's own kernel, without the grader's sandboxes and clean-room "
    "regrade. Grade with `python -m grader autograde --submissions course/submitted` "
    "(sandboxed), then reload formgrader to see the scores."
)
"""What the instructor reads in formgrader's log when the button is pressed."""


class UnsandboxedGradingError(GradingError):
    """nbgrader was asked to autograde through its API (formgrader's button)."""


def started_by_api(configurable: Any) -> bool:
    """Whether ``configurable`` descends from an ``NbGraderAPI`` (its ``parent`` chain)."""
    node = configurable
    while node is not None:
        if any(cls.__name__ == "NbGraderAPI" for cls in type(node).__mro__):
            return True
        node = getattr(node, "parent", None)
    return False


class SandboxedGradingOnly(Preprocessor):
    """Refuse to autograde when nbgrader's API (formgrader) started the run."""

    enabled = Bool(True, help="nbconvert's preprocessors are off unless enabled").tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        """Pass ``nb`` on unchanged, or raise UnsandboxedGradingError under formgrader."""
        if started_by_api(self):
            raise UnsandboxedGradingError(REFUSAL)
        return nb, resources
