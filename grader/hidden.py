"""The helper that hidden tests call: probe, judge, report, and return the cell's points.

A grade cell's hidden test is two lines, and its last expression is its score, which
nbgrader reads as partial credit::

    from grader import hidden
    hidden.grade("test_djmodel_shapes", globals().get("djmodel"))

The learner's feedback shows the rubric lines printed on stdout; nothing is written to
stderr, whatever the learner's code prints, so a passing test is never zeroed by noise.
"""

from __future__ import annotations

import json
from typing import Any

from grader import judges, probes
from grader.rubric import GRADE_CELLS_BY_ID


def roundtrip(evidence: probes.Evidence) -> probes.Evidence:
    """The evidence as the clean-room regrade sees it (through JSON), so both agree."""
    return json.loads(json.dumps(evidence))


def grade(grade_id: str, function: Any) -> float:
    """Grade ``function`` with the hidden test ``grade_id``; print the rubric; return the points.

    Args:
        grade_id: the grade cell's id.
        function: the learner's function, or None when the notebook does not define it.

    Returns:
        The points earned, a float between 0 and the cell's points.
    """
    name = GRADE_CELLS_BY_ID[grade_id].function if grade_id in GRADE_CELLS_BY_ID else "?"
    evidence = roundtrip(probes.collect(grade_id, function, name))
    verdict = judges.judge(grade_id, evidence)
    print(verdict.report())
    return float(verdict.points)
