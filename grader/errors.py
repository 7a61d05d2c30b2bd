"""The grader's own exception types: every failure the course commands report is one of these."""

from __future__ import annotations


class GradingError(Exception):
    """Base class of every error raised by the grader."""


class CourseError(GradingError):
    """The course folder is missing, incomplete or inconsistent (e.g. not released yet)."""


class ReleaseError(GradingError):
    """Generating the student release failed, or the release holds what it must not."""


class SubmissionError(GradingError):
    """A submission folder or notebook cannot be read or is laid out wrongly."""


class IntegrityError(GradingError):
    """Files the grader relies on were modified while submissions were being graded."""


class SandboxError(GradingError):
    """A sandbox for running learner code could not be set up as asked."""


class BatchError(GradingError):
    """A batch could not be run: the Dask engine is unreachable, a worker runs other code."""


class ExchangeError(GradingError):
    """nbgrader's exchange (release to learners, collect, feedback) could not be used."""
