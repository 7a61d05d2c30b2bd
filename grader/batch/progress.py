"""What a batch run tells the instructor: a progress bar, a line per student, a summary."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from grader.batch.outcome import (
    GRADED,
    STATUSES,
)


@dataclass
class BatchReport:
    """What a batch run did.

    Attributes:
        rows: every student's row of ``report.json`` (this run's and earlier ones').
        executed: students graded by this run.
        reused: students skipped because an earlier run graded them, unchanged.
        seconds: wall time of the run.
        path: the report file.
    """

    rows: dict[str, dict[str, Any]]
    executed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    seconds: float = 0.0
    path: Path | None = None

    def counts(self) -> dict[str, int]:
        """Students per status, in the order of ``STATUSES``."""
        found = Counter(row["status"] for row in self.rows.values())
        return {status: found[status] for status in STATUSES if found[status]}


def _clock(seconds: float) -> str:
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """A text progress bar with an estimate of the time left, and one line per student.

    On a terminal the bar stays on the last line of stderr; otherwise each student's
    line carries the bar. The estimate counts only submissions that ran on a worker
    (a malformed one takes no time).
    """

    def __init__(self, total: int, out: TextIO | None = None, width: int = 24) -> None:
        self.total = total
        self.done = 0
        self.timed = 0
        self.untimed = 0
        self.width = width
        self.out = out or sys.stdout
        self.started = time.perf_counter()
        self.live = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()

    def bar(self) -> str:
        """``[#####.....]  5/10  elapsed 1m02s  ETA 1m02s``."""
        filled = int(self.width * self.done / self.total) if self.total else self.width
        elapsed = time.perf_counter() - self.started
        left = self.total - self.done
        if left == 0:
            eta = "0m00s"
        elif self.timed:
            eta = _clock(elapsed / self.timed * left)
        else:
            eta = "?"
        digits = len(str(self.total))
        return (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done:>{digits}}/{self.total}"
            f"  elapsed {_clock(elapsed)}  ETA {eta}"
        )

    def step(self, line: str, timed: bool = True) -> None:
        """One more student finished (``timed``: on a worker): print its line and the bar."""
        self.done += 1
        if timed:
            self.timed += 1
        else:
            self.untimed += 1
        if self.live:
            sys.stderr.write("\r\033[K")
            print(line, file=self.out, flush=True)
            sys.stderr.write(self.bar())
            sys.stderr.flush()
        else:
            print(f"{self.bar()}  {line}", file=self.out, flush=True)

    def close(self) -> None:
        """End the live bar's line."""
        if self.live:
            sys.stderr.write("\n")
            sys.stderr.flush()


def summary_table(report: BatchReport, limit: int = 40) -> str:
    """The end-of-run summary: students per status, then a row per student.

    With more than ``limit`` students only those not plainly graded are listed.
    """
    lines = ["", "status         students"]
    lines += [f"{status:<14} {count:>8}" for status, count in report.counts().items()]
    rows = sorted(report.rows.items())
    if len(rows) > limit:
        rows = [(s, r) for s, r in rows if r["status"] != GRADED]
    if rows:
        width = max(7, *(len(s) for s, _ in rows))
        lines += ["", f"{'student':<{width}}  {'status':<12}  {'score':>11}  reason"]
        for student, row in rows:
            score = f"{row['score']:g} / {row['max_score']:g}"
            reason = (row.get("reason") or "")[:90]
            lines.append(f"{student:<{width}}  {row['status']:<12}  {score:>11}  {reason}")
    lines.append("")
    lines.append(
        f"{len(report.executed)} graded now, {len(report.reused)} unchanged since an earlier "
        f"run (not run again), in {_clock(report.seconds)}"
    )
    return "\n".join(lines)
