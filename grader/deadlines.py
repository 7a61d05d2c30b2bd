"""Due dates and late penalties: when the assignment is due, and what lateness costs.

The due date lives where nbgrader keeps it, in the course's gradebook
(``Assignment.duedate``, shown and editable in formgrader, used by ``nbgrader collect
--before-duedate``). ``python -m grader release --due WHEN`` sets it, ``python -m grader
due WHEN`` changes it later. It is read when results are written and again at every
export, never from the student-free copy ``.grader/assignment.db`` that grading runs
start from (that copy is made at release and would freeze it).

The penalty follows nbgrader's late-submission plugins: the course's configuration names
the plugin (``c.AssignLatePenalties.plugin_class``), its ``late_submission_penalty(student,
score, seconds_late)`` gives points, clipped to ``[0, score]`` as nbgrader's
``AssignLatePenalties`` does, and the result is nbgrader's own
``SubmittedNotebook.late_submission_penalty``, so ``nbgrader export`` and formgrader
show it. :class:`LatePenalty` adds a per-hour rule to nbgrader's ``none`` and ``zero``.
:func:`apply_late_penalty` is run by the client for each result it writes and for every
submission before an export, so a changed due date, extension or manual grade reaches
every row without regrading.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import BasePlugin, LateSubmissionPlugin
from traitlets import Enum, Float

from grader import rubric
from grader.course import CONFIG_TEMPLATE
from grader.errors import CourseError

_ISO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)


class DeadlineError(CourseError):
    """A due date cannot be read, or the course has no assignment to set it on."""


def parse_due(text: str) -> datetime:
    """The moment ``text`` names, as nbgrader stores it: naive, in UTC.

    Accepts ISO times with a zone: an offset (``2026-12-07 18:00+01:00``), ``Z``
    (``2026-12-07T17:00:00Z``) or a zone name after a space (``2026-12-07 17:00 UTC``,
    ``2026-12-07 09:00 America/Los_Angeles``). A zone name must be one the system's time
    zone database knows: an unknown one is refused, never read as UTC.

    Raises:
        DeadlineError: the text is not a date and time, or names no known time zone.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    cleaned = " ".join(text.split())
    head, _, zone = cleaned.rpartition(" ")
    tz = None
    if head and re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*", zone):
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DeadlineError(f"{text!r}: unknown time zone {zone!r}") from None
        cleaned = head
    try:
        if not _ISO.fullmatch(cleaned):  # fromisoformat takes any character between date and time
            raise ValueError(cleaned)
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise DeadlineError(f"{text!r} is not a date and time (say 2026-12-07 17:00 UTC)") from None
    if tz is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    if moment.tzinfo is None or (tz is not None and moment.tzinfo is not tz):
        raise DeadlineError(
            f"{text!r} names no time zone, or two: say 2026-12-07 17:00 UTC, or +01:00, "
            "or Europe/Paris"
        )
    return moment.astimezone(UTC).replace(tzinfo=None)


def format_utc(moment: datetime | None) -> str:
    """``moment`` (naive UTC) as ``2026-12-07 17:00:00 UTC``; "" for None."""
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def describe_lateness(seconds: float) -> str:
    """``seconds`` late in words a grade sheet can hold: ``2 d 3 h 5 min``; "" when on time."""
    if seconds <= 0:
        return ""
    minutes = math.ceil(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min"]
    return " ".join(p for p in parts if p and not (p == "0 min" and (days or hours)))


class LatePenalty(LateSubmissionPlugin):
    """nbgrader's late-submission plugin with a per-hour rule.

    ``penalty_method``: ``none`` (no penalty), ``zero`` (the whole score, as nbgrader's),
    or ``per_hour``: ``points_per_hour`` for every started hour past the due date and
    ``grace_minutes``. nbgrader clips the penalty to the score, so a score never goes
    below 0.
    """

    penalty_method = Enum(
        ("none", "zero", "per_hour"),
        default_value="none",
        help="none, zero (the whole score) or per_hour (points_per_hour per started hour)",
    ).tag(config=True)
    points_per_hour = Float(1.0, help="points taken per started hour late (per_hour)").tag(
        config=True
    )
    grace_minutes = Float(0.0, help="minutes past the due date that cost nothing").tag(config=True)

    def late_submission_penalty(
        self, student_id: str, score: float, total_seconds_late: float
    ) -> float | None:
        """Points taken from ``score`` for ``total_seconds_late`` (None: no penalty)."""
        seconds = total_seconds_late - 60 * self.grace_minutes
        if seconds <= 0 or self.penalty_method == "none":
            return None
        if self.penalty_method == "zero":
            return score
        return math.ceil(seconds / 3600) * self.points_per_hour


def penalty_plugin(config_file: Path) -> BasePlugin:
    """The late-submission plugin ``config_file`` (an ``nbgrader_config.py``) configures.

    A course without its own copy yet is read with the grader's (``CONFIG_TEMPLATE``).
    """
    from nbgrader.preprocessors import AssignLatePenalties
    from traitlets.config.loader import PyFileConfigLoader

    if not config_file.is_file():
        config_file = CONFIG_TEMPLATE
    config = PyFileConfigLoader(config_file.name, str(config_file.parent)).load_config()
    assigner = AssignLatePenalties(config=config)
    assigner.init_plugin()
    return assigner.plugin_inst


@dataclass(frozen=True)
class Lateness:
    """One submission against the due date.

    Attributes:
        raw: the points before any penalty (what the grade cells add up to).
        penalty: the points taken for lateness (0: none).
        seconds_late: how late it came (0: on time, or no due date); None when the
            assignment has a due date and the submission no time.
    """

    raw: float
    penalty: float
    seconds_late: float | None

    @property
    def final(self) -> float:
        """The score after the penalty, never below 0 (as ``nbgrader export``'s)."""
        return max(0.0, self.raw - self.penalty)

    @property
    def late_by(self) -> str:
        """For a grade sheet: how late, "" when on time, ``unknown`` without a time."""
        if self.seconds_late is None:
            return "unknown (no submission time)"
        return describe_lateness(self.seconds_late)


def _points(notebook: Any) -> float:
    """The notebook's points from its grades' fields (its ``score`` may be stale in a session)."""
    total = 0.0
    for grade in notebook.grades:
        points = grade.manual_score if grade.manual_score is not None else grade.auto_score
        total += float(points or 0.0)
    return total


def apply_late_penalty(gradebook: Gradebook, student: str, plugin: BasePlugin) -> Lateness:
    """Compute ``student``'s penalty against the gradebook's due date and write it there.

    The due date is the assignment's plus the submission's extension, if any (nbgrader's
    ``SubmittedAssignment.duedate``); the penalty is written to the notebook's
    ``late_submission_penalty`` (None when there is none). The caller commits.

    Raises:
        MissingEntry: ``student`` has no submission of the assignment.
    """
    submission = gradebook.find_submission(rubric.ASSIGNMENT_ID, student)
    notebook = gradebook.find_submission_notebook(
        rubric.NOTEBOOK_NAME, rubric.ASSIGNMENT_ID, student
    )
    raw = _points(notebook)
    due = submission.duedate
    if due is None:
        seconds: float | None = 0.0
    elif submission.timestamp is None:
        seconds = None
    else:
        seconds = max(0.0, (submission.timestamp - due).total_seconds())
    penalty = None
    if seconds:
        penalty = plugin.late_submission_penalty(student, raw, seconds)
    if penalty is not None:
        penalty = min(max(0.0, float(penalty)), raw)
    notebook.late_submission_penalty = penalty
    return Lateness(raw, penalty or 0.0, seconds)


def set_due_date(gradebook: Gradebook, due: datetime | None) -> None:
    """Set (None: clear) the assignment's due date in ``gradebook``, committed.

    Raises:
        DeadlineError: the gradebook holds no assignment (the course is not released).
    """
    try:
        assignment = gradebook.find_assignment(rubric.ASSIGNMENT_ID)
    except MissingEntry:
        raise DeadlineError(
            f"the gradebook has no assignment {rubric.ASSIGNMENT_ID}: release it first"
        ) from None
    assignment.duedate = due
    gradebook.db.commit()


def due_date(gradebook: Gradebook) -> datetime | None:
    """The assignment's due date (naive UTC), None when it has none or is missing."""
    try:
        return gradebook.find_assignment(rubric.ASSIGNMENT_ID).duedate
    except MissingEntry:
        return None


def describe(lateness: Lateness, due: datetime | None) -> dict[str, Any]:
    """What a review file says of the lateness: due date, how late, the penalty."""
    return {
        "due": format_utc(due),
        "late_by": lateness.late_by,
        "raw_score": lateness.raw,
        "late_penalty": lateness.penalty,
        "final_score": lateness.final,
    }
