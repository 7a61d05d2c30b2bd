"""When each realised value starts: the network's clock, kept on the beat grid.

A sequence of values carries its own clock: value ``k`` starts where the durations
of the values before it add up to. The realiser keeps to that clock, so a value that
crosses a bar line is cut there and the rest of its length is silence (the next value
starts where the network counted it, not early), which keeps the network's sense of
the beat lined up with the bar.

Each onset is then put on the *beat grid* (see :mod:`jazz_utils.rhythm`): within one
beat the notes start either on straight sixteenths or on triplet eighths. A triplet
eighth followed by a straight eighth would start the next note a sixth of a beat
off; :class:`Timeline` moves it to the nearest onset the beat allows (completing the
triplet, or back on the beat), preferring the beat itself, then the eighth, on a tie.
Because every onset is on that grid, no note is shorter than a sixteenth, at a bar
line or anywhere else. Only values shorter than the grid itself (a sixteenth-note
triplet) may start off it, at their own time, so the line never drifts from the clock.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from jazz_utils.rhythm import BEAT_GRIDS


class Timeline:
    """Admissible onsets of a monophonic line over bars of given lengths.

    Args:
        bar_ticks: length of each bar in grid ticks.
        beat: length of one beat in grid ticks (12 in 4/4, 6 in 6/8).
    """

    def __init__(self, bar_ticks: Sequence[int], beat: int):
        self.beat = int(beat)
        self.bar_starts = [0]
        for length in bar_ticks:
            self.bar_starts.append(self.bar_starts[-1] + int(length))
        self.total = self.bar_starts[-1]
        #: Positions inside a beat allowed by each grid (sixteenths, triplet eighths).
        self._grids = [
            frozenset(t for t in range(self.beat) if (t * grid) % self.beat == 0)
            for grid in BEAT_GRIDS
        ]
        self._note_onsets: list[int] = []
        self._last_onset: int | None = None

    def bar_of(self, tick: int) -> int:
        """Index of the bar holding ``tick`` (the last bar for ticks past the end)."""
        return min(bisect.bisect_right(self.bar_starts, tick) - 1, len(self.bar_starts) - 2)

    def bar_end(self, tick: int) -> int:
        """The bar line after ``tick``."""
        return self.bar_starts[self.bar_of(tick) + 1]

    def _allowed(self, beat_index: int) -> frozenset[int]:
        """Positions (ticks into the beat) where a note may start in that beat."""
        start = beat_index * self.beat
        used = {t - start for t in self._note_onsets[-self.beat :] if start < t < start + self.beat}
        fitting = [grid for grid in self._grids if used <= grid]
        return frozenset().union(*fitting) if fitting else frozenset({0})

    def snap(self, ideal: int) -> int:
        """The onset for a value the network's clock starts at ``ideal``.

        The admissible onset nearest ``ideal`` and later than the last onset placed;
        on a tie the beat, then the eighth, then the earlier. A value shorter than the
        grid starts at ``ideal`` itself when no admissible onset lies within a sixteenth.
        """
        after = -1 if self._last_onset is None else self._last_onset
        first = min(ideal, after + 1) // self.beat - 1
        last = max(ideal, after + 1) // self.beat + 2
        best: tuple[tuple[int, int, int], int] | None = None
        eighth = self.beat // 2
        for beat_index in range(max(first, 0), last + 1):
            for position in self._allowed(beat_index):
                tick = beat_index * self.beat + position
                if tick <= after:
                    continue
                rank = 0 if position == 0 else 1 if position == eighth else 2
                key = (abs(tick - ideal), rank, tick)
                if best is None or key < best[0]:
                    best = (key, tick)
        assert best is not None, "a later beat always has position 0"
        tick = best[1]
        if abs(tick - ideal) > self.beat // 4 and ideal > after:
            return ideal
        return tick

    def place(self, onset: int, sounding: bool) -> None:
        """Record an event starting at ``onset`` (a note when ``sounding``, else a rest)."""
        self._last_onset = onset
        if sounding:
            self._note_onsets.append(onset)
