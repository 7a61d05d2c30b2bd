"""The soloist's working material: ranges, the beats of a progression, the line being written.

:class:`Player` holds the state of one étude (its random generator, the beats,
pitches forced or reserved ahead) and the helpers every rule uses: random
choices, the timeline, chord tones, the next beat note and a beat's rhythm
cell. :class:`~jazz_utils.etudes.devices.Devices` adds the devices on top of it,
and :mod:`jazz_utils.etudes.soloist` the phrases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from jazz_utils.chords import Chord
from jazz_utils.etudes.forms import SoloStyle
from jazz_utils.piece import Progression, from_ticks, to_ticks
from jazz_utils.rhythm import is_strong_beat

#: Lowest and highest MIDI pitch an étude may use (E3 .. A5).
PITCH_RANGE = (52, 81)
#: Range of the beat notes (targets); passing tones may go two semitones beyond.
TARGET_RANGE = (55, 77)
#: Where the first phrase starts (around F4).
START_PITCH = 65


@dataclass(frozen=True)
class Beat:
    """One beat of the timeline: where it is and what sounds under it."""

    measure: int
    tick: int  # offset in its measure, in grid ticks
    length: int  # ticks
    chord: Chord
    strong: bool
    change: bool  # a new chord starts on this beat


@dataclass
class Slot:
    """A note of the line, placed on a beat: pitch None is filled in later."""

    beat: int
    tick: int  # ticks after the beat's start
    duration: int  # ticks
    pitch: int | None
    style: str = "pass"


@dataclass
class Line:
    """The soloist's state while a phrase is written."""

    slots: list[Slot] = field(default_factory=list)
    current: int = START_PITCH
    direction: int = 1
    stopped: int | None = None  # beat where the last phrase stopped


class Player:
    """One étude's state and the helpers every rule uses.

    The rules themselves are stated in :mod:`jazz_utils.etudes.soloist`.
    """

    def __init__(self, progression: Progression, seed: int, style: SoloStyle):
        self.progression = progression
        self.style = style
        self.rng = np.random.default_rng(seed)
        self.beats = self._timeline(progression)
        self.forced: dict[int, int] = {}  # beat -> pitch its target must take
        self.reserved: dict[int, list[Slot]] = {}  # beat -> motif answer placed there

    # ---- randomness (only Generator.random, whose stream numpy keeps stable) ----
    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, weights: Sequence[float]) -> int:
        """Index drawn with probability proportional to ``weights``."""
        total = float(sum(weights))
        u = self.rng.random() * total
        acc = 0.0
        for index, weight in enumerate(weights):
            acc += weight
            if u < acc:
                return index
        return len(weights) - 1

    def choice(self, options: Sequence[int]) -> int:
        return options[self.pick([1.0] * len(options))]

    # ---- the timeline ----
    @staticmethod
    def _timeline(progression: Progression) -> list[Beat]:
        beats: list[Beat] = []
        beat_ticks = to_ticks(4 / progression.time_signature[1])
        previous: Chord | None = None
        for index, measure in enumerate(progression):
            for tick in range(0, to_ticks(measure.length), beat_ticks):
                chord = measure.chord_at(from_ticks(tick))
                strong = is_strong_beat(from_ticks(tick), measure, progression.time_signature)
                beats.append(Beat(index, tick, beat_ticks, chord, strong, chord != previous))
                previous = chord
        return beats

    def same_measure(self, a: int, b: int) -> bool:
        return b < len(self.beats) and self.beats[a].measure == self.beats[b].measure

    def bar_start(self, measure: int) -> int:
        """Index of the first beat of a measure (``len(beats)`` past the end)."""
        for index, beat in enumerate(self.beats):
            if beat.measure >= measure:
                return index
        return len(self.beats)

    # ---- pitch helpers ----
    @staticmethod
    def chord_tones(
        chord: Chord, low: int = TARGET_RANGE[0], high: int = TARGET_RANGE[1]
    ) -> list[int]:
        """Pitches of the chord's tones from ``low`` to ``high``, rising."""
        return [p for p in range(low, high + 1) if p % 12 in chord.pitch_classes]

    def nearest(self, pitches: Sequence[int], target: float) -> int:
        return min(pitches, key=lambda p: (abs(p - target), p))

    def next_target(self, line: Line, chord: Chord, goal: int | None = None) -> int:
        """The next beat note: a chord tone next to ``line.current`` (chord tones on the beat).

        The line keeps its direction, turns now and then, turns back near the
        edges of :data:`TARGET_RANGE`, and heads for ``goal`` when one is given.
        """
        low, high = TARGET_RANGE
        if goal is not None and abs(goal - line.current) > 2:
            line.direction = 1 if goal > line.current else -1
        elif line.current >= high - 3:
            line.direction = -1
        elif line.current <= low + 3:
            line.direction = 1
        elif self.chance(self.style.turn):
            line.direction = -line.direction
        tones = self.chord_tones(chord)
        steps = self.pick(self.style.target_steps)
        if steps == 0:
            return self.nearest(tones, line.current)
        ahead = [p for p in tones if (p - line.current) * line.direction > 0]
        ahead.sort(key=lambda p: abs(p - line.current))
        if not ahead:
            line.direction = -line.direction
            return self.nearest(tones, line.current - 2 * line.direction)
        return ahead[min(steps, len(ahead)) - 1]

    def rhythm(self, beat: int, line: Line, anchor: Slot) -> None:
        """Give a beat note its cell: eighths, a triplet or a quarter note."""
        cell = self.pick(self.style.cells)
        if cell == 0:
            anchor.duration = 6
            style = "approach" if self.chance(self.style.approach) else "pass"
            line.slots.append(Slot(beat, 6, 6, None, style))
        elif cell == 1:
            anchor.duration = 4
            style = "enclose" if self.chance(0.5) else "pass"
            line.slots.append(Slot(beat, 4, 4, None, style))
            line.slots.append(Slot(beat, 8, 4, None, style))
        else:
            anchor.duration = 12
