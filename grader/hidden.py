"""The helper that hidden tests call: probe, judge, report, and return the cell's points.

A grade cell's hidden test is two lines, and its last expression is its score, which
nbgrader reads as partial credit::

    from grader import hidden
    hidden.grade("test_djmodel_shapes", globals().get("djmodel"))

The learner's feedback shows the rubric lines printed on stdout; nothing is written to
stderr, whatever the learner's code prints, so a passing test is never zeroed by noise.

This is how plain ``nbgrader autograde`` grades the notebook. The batch grader decides
scores outside the notebook instead (``grader.cleanroom``): its kernels hold only the
sandboxes' copy of the grader (``grader.sandbox.software``), without the judges, the probes and
the references, and there ``grade`` only says so; the learner's feedback then shows the
clean room's checks in this cell.
"""

from __future__ import annotations

import json
from typing import Any

ELSEWHERE = (
    "This test is graded outside your notebook, from the models your functions make; "
    "your feedback lists its checks."
)
"""What a grade cell prints where the judges are not installed (the batch grader's kernels)."""


def roundtrip(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence through JSON, as the batch grader judges it, so both paths score alike."""
    return json.loads(json.dumps(evidence))


def grade(grade_id: str, function: Any) -> float:
    """Grade ``function`` with the hidden test ``grade_id``; print the rubric; return the points.

    Args:
        grade_id: the grade cell's id.
        function: the learner's function, or None when the notebook does not define it.

    Returns:
        The points earned, a float between 0 and the cell's points.
    """
    try:
        from grader import judges, probes
        from grader.rubric import GRADE_CELLS_BY_ID
    except ImportError:  # a sandbox of the batch grader: scored by the clean room
        print(ELSEWHERE)
        return 0.0
    name = GRADE_CELLS_BY_ID[grade_id].function if grade_id in GRADE_CELLS_BY_ID else "?"
    evidence = roundtrip(probes.collect(grade_id, function, name))
    verdict = judges.judge(grade_id, evidence)
    print(verdict.report())
    return float(verdict.points)
