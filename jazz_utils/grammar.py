"""The chord-relative melody grammar: notes to "values" and values back to notes.

A *value* is one melody event written relative to the chord sounding under it::

    TYPE,DURATION[,<LOW,HIGH>]        e.g.  "C,0.500,<M-2,m-2>"

TYPE
    ``C`` chord tone, ``S`` tone of the chord's scale (not a chord tone),
    ``A`` approach tone (a semitone from a chord tone, outside the scale),
    ``X`` any other pitch, ``R`` rest.
DURATION
    length in quarter notes with three decimals (``0.333`` is a triplet eighth).
<LOW,HIGH>
    bounds of the leap from the previous note, as interval names
    (``m2`` a minor second up, ``M-2`` a major second down). Leaps are
    bucketed -- unison, steps (1-2 semitones), thirds (3-4), fourths to fifths
    (5-7), sixths to octaves (8-12), beyond (13-24) -- so that the vocabulary
    stays small enough to learn. The first note of a piece and rests have no
    bracket.

Because values name a note's *role* over its chord, not its pitch, a sequence
learned over one progression can be played over any other: :class:`Realiser`
picks, for each value, a pitch of the right type inside the right bracket over
the chord sounding there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from jazz_utils.chords import Chord
from jazz_utils.errors import GrammarError
from jazz_utils.piece import (
    TICKS_PER_QUARTER,
    Measure,
    Note,
    Piece,
    Progression,
    from_ticks,
    to_ticks,
)

#: What each value type means.
NOTE_TYPES = {
    "C": "chord tone",
    "S": "scale tone",
    "A": "approach tone",
    "X": "outside tone",
    "R": "rest",
}
#: Lowest and highest MIDI pitch a realised solo may use (C3 .. C6).
PLAYABLE_RANGE = (48, 84)
#: The types tried, in order, when a chord has no pitch of the requested type.
_FALLBACK_TYPES = {"C": ("C",), "S": ("S", "C"), "A": ("A", "C"), "X": ("X", "A", "C")}
#: Where a solo starts when there is no previous note (around G4).
START_RANGE = (60, 74)
#: Leap sizes in semitones, as (smallest, largest) per bucket; unison is its own bucket.
LEAP_BUCKETS = ((0, 0), (1, 2), (3, 4), (5, 7), (8, 12), (13, 24))

_INTERVAL_NAMES = (
    "P1", "m2", "M2", "m3", "M3", "P4", "A4", "P5", "m6", "M6", "m7", "M7", "P8",
    "m9", "M9", "m10", "M10", "P11", "A11", "P12", "m13", "M13", "m14", "M14", "P15",
)  # fmt: skip
_INTERVAL_SEMITONES = {name: i for i, name in enumerate(_INTERVAL_NAMES)}
_VALUE = re.compile(r"^([CSAXR]),(\d+(?:\.\d+)?)(?:,<([PmMA]-?\d+),([PmMA]-?\d+)>)?$")
_INTERVAL = re.compile(r"^([PmMA])(-?)(\d+)$")


def interval_name(semitones: int) -> str:
    """Name a directed interval: 2 -> ``"M2"``, -5 -> ``"P-4"``, 0 -> ``"P1"``."""
    size = abs(int(semitones))
    if size >= len(_INTERVAL_NAMES):
        raise GrammarError(f"An interval of {semitones} semitones is beyond two octaves.")
    name = _INTERVAL_NAMES[size]
    return name if semitones >= 0 else f"{name[0]}-{name[1:]}"


def interval_semitones(name: str) -> int:
    """Inverse of :func:`interval_name`: ``"M-2"`` -> -2."""
    match = _INTERVAL.match(name)
    if not match or f"{match[1]}{match[3]}" not in _INTERVAL_SEMITONES:
        raise GrammarError(f"{name!r} is not an interval name like 'm2', 'P5' or 'M-2'.")
    size = _INTERVAL_SEMITONES[f"{match[1]}{match[3]}"]
    return -size if match[2] else size


def leap_bracket(semitones: int) -> tuple[int, int]:
    """The (low, high) semitone bounds of the bucket holding a leap."""
    size = min(abs(int(semitones)), LEAP_BUCKETS[-1][1])
    for low, high in LEAP_BUCKETS:
        if low <= size <= high:
            return (low, high) if semitones >= 0 else (-high, -low)
    raise AssertionError("unreachable: buckets cover 0..24")


def note_type(pitch: int, chord: Chord) -> str:
    """Classify a pitch over a chord: ``"C"``, ``"S"``, ``"A"`` or ``"X"``."""
    pc = int(pitch) % 12
    if pc in chord.pitch_classes:
        return "C"
    if pc in chord.scale_pitch_classes:
        return "S"
    if (pc + 1) % 12 in chord.pitch_classes or (pc - 1) % 12 in chord.pitch_classes:
        return "A"
    return "X"


@dataclass(frozen=True)
class Value:
    """One parsed value.

    Attributes:
        type: one of ``C S A X R``.
        ticks: duration in grid ticks (``TICKS_PER_QUARTER`` per quarter note), >= 1.
        bracket: (low, high) semitones of the leap from the previous note, or None.
    """

    type: str
    ticks: int
    bracket: tuple[int, int] | None = None

    @property
    def duration(self) -> float:
        """Duration in quarter notes."""
        return from_ticks(self.ticks)

    def __str__(self) -> str:
        text = f"{self.type},{self.duration:.3f}"
        if self.bracket is not None:
            low, high = self.bracket
            text += f",<{interval_name(low)},{interval_name(high)}>"
        return text

    @classmethod
    def parse(cls, text: str) -> Value:
        """Read a value string such as ``"C,0.500,<m2,M2>"``.

        Raises:
            GrammarError: the text is not a value; the message shows the form.
        """
        match = _VALUE.match(str(text).strip())
        if not match:
            raise GrammarError(
                f"{text!r} is not a value: expected TYPE,DURATION[,<LOW,HIGH>] such as "
                "'C,0.500' or 'S,0.250,<m2,M2>' (TYPE one of C S A X R)."
            )
        kind, duration = match[1], float(match[2])
        ticks = round(duration * TICKS_PER_QUARTER)
        if ticks < 1 or abs(duration * TICKS_PER_QUARTER - ticks) > 0.05:
            raise GrammarError(
                f"{text!r}: duration {duration} is not a positive multiple of "
                f"1/{TICKS_PER_QUARTER} quarter note."
            )
        bracket = None
        if match[3] is not None:
            low, high = interval_semitones(match[3]), interval_semitones(match[4])
            if low > high:
                raise GrammarError(f"{text!r}: the interval bracket must be <LOW,HIGH>.")
            bracket = (low, high)
        if kind == "R" and bracket is not None:
            raise GrammarError(f"{text!r}: a rest has no interval bracket.")
        return cls(kind, ticks, bracket)


def measure_to_values(measure: Measure, previous_pitch: int | None) -> tuple[list[str], int | None]:
    """Values of one measure's melody, rests included, filling the bar exactly.

    Args:
        measure: notes sorted and not overlapping, inside ``[0, measure.length)``.
        previous_pitch: the last pitch before this measure (for the first leap), or None.

    Returns:
        ``(values, last_pitch)``: the measure's values in order, their durations
        summing to ``measure.length``, and the last pitch played (for the next measure).
    """
    values: list[str] = []
    cursor = 0
    bar_end = to_ticks(measure.length)
    for note in measure.notes:
        start, end = to_ticks(note.offset), min(to_ticks(note.end), bar_end)
        if start < cursor or end <= start:
            raise GrammarError(
                f"Overlapping or empty note {note} in a measure: melodies must be monophonic."
            )
        if start > cursor:
            values.append(str(Value("R", start - cursor)))
        chord = measure.chord_at(note.offset)
        bracket = None if previous_pitch is None else leap_bracket(note.pitch - previous_pitch)
        values.append(str(Value(note_type(note.pitch, chord), end - start, bracket)))
        previous_pitch = note.pitch
        cursor = end
    if cursor < bar_end:
        values.append(str(Value("R", bar_end - cursor)))
    return values, previous_pitch


def piece_to_values(piece: Piece) -> list[str]:
    """Every value of a piece's melody, measure after measure.

    Returns:
        A list of value strings whose durations add up to ``piece.total_length``.
    """
    values: list[str] = []
    previous: int | None = None
    for measure in piece.measures:
        measure_values, previous = measure_to_values(measure, previous)
        values.extend(measure_values)
    return values


class Realiser:
    """Turns values into notes over a progression, one value at a time.

    Each value is placed where the previous one ended; a value that would cross
    the bar line is shortened to end on it, and the next value starts the next
    bar. ``done`` turns true when every measure is filled.

    Args:
        progression: the chords to play over.
        seed: seeds the choice among equally valid pitches (same seed, same notes).
        previous_pitch: the pitch played just before the first value, if any.
        pitch_range: lowest and highest MIDI pitch allowed.
    """

    def __init__(
        self,
        progression: Progression,
        seed: int | None = 0,
        previous_pitch: int | None = None,
        pitch_range: tuple[int, int] = PLAYABLE_RANGE,
    ):
        if len(progression) == 0:
            raise GrammarError("Cannot realise values over an empty progression.")
        self.progression = progression
        self.rng = np.random.default_rng(seed)
        self.previous_pitch = previous_pitch
        self.pitch_range = pitch_range
        self.measure_index = 0
        self.tick = 0
        self._notes: list[list[Note]] = [[] for _ in progression]
        self.values_used: list[str] = []

    @property
    def done(self) -> bool:
        """True once the last measure is filled."""
        return self.measure_index >= len(self.progression)

    @property
    def ticks_left_in_measure(self) -> int:
        """Grid ticks from the current position to the next bar line."""
        if self.done:
            return 0
        return to_ticks(self.progression[self.measure_index].length) - self.tick

    def add(self, value: str | Value) -> Note | None:
        """Place one value at the current position.

        ``values_used`` records each value as played: shortened at the bar line, with
        the type and leap of the pitch chosen (an ``X`` the chord cannot give is
        played as the nearest kind of tone, see ``_FALLBACK_TYPES``; a bracket no
        pitch fits becomes the leap taken), so it always equals ``piece_to_values``
        of the notes placed.

        Returns:
            The note played (None for a rest).

        Raises:
            GrammarError: the value is malformed, or every measure is already full.
        """
        parsed = value if isinstance(value, Value) else Value.parse(value)
        if self.done:
            raise GrammarError("Every measure is already filled; no room for another value.")
        measure = self.progression[self.measure_index]
        ticks = min(parsed.ticks, self.ticks_left_in_measure)
        note = None
        played = Value("R", ticks)
        if parsed.type != "R":
            offset = from_ticks(self.tick)
            chord = measure.chord_at(offset)
            pitch = self._choose_pitch(parsed, chord)
            note = Note(offset=offset, duration=from_ticks(ticks), pitch=pitch)
            self._notes[self.measure_index].append(note)
            previous, self.previous_pitch = self.previous_pitch, pitch
            bracket = None if previous is None else leap_bracket(pitch - previous)
            played = Value(note_type(pitch, chord), ticks, bracket)
        self.values_used.append(str(played))
        self.tick += ticks
        if self.tick >= to_ticks(measure.length):
            self.measure_index += 1
            self.tick = 0
        return note

    def _choose_pitch(self, value: Value, chord: Chord) -> int:
        low, high = self.pitch_range
        typed: list[int] = []
        # A type the chord cannot give (no "X" over a seventh chord, whose every other
        # pitch is a semitone from a chord tone; no "S" over C7alt) falls back to the
        # nearest kind of tone; ``add`` records the type actually played.
        for kind in _FALLBACK_TYPES[value.type]:
            typed = [p for p in range(low, high + 1) if note_type(p, chord) == kind]
            if typed:
                break
        if self.previous_pitch is None:
            near = [p for p in typed if START_RANGE[0] <= p <= START_RANGE[1]]
            return int(near[self.rng.integers(len(near))]) if near else typed[len(typed) // 2]
        previous = self.previous_pitch
        bracket = value.bracket if value.bracket is not None else (-4, 4)
        inside = [p for p in typed if bracket[0] <= p - previous <= bracket[1]]
        if inside:
            return int(inside[self.rng.integers(len(inside))])
        # No pitch of this type inside the bracket: the nearest one moving the same way.
        if bracket[0] > 0:
            typed = [p for p in typed if p > previous] or typed
        elif bracket[1] < 0:
            typed = [p for p in typed if p < previous] or typed
        target = previous + (bracket[0] + bracket[1]) / 2
        return int(min(typed, key=lambda p: (abs(p - target), p)))

    def piece(self, tempo: float = 120.0, name: str = "", source: str = "") -> Piece:
        """The notes placed so far as a :class:`Piece` over the whole progression."""
        measures = tuple(
            Measure(length=m.length, chords=m.chords, notes=tuple(notes))
            for m, notes in zip(self.progression, self._notes, strict=True)
        )
        return Piece(
            measures=measures,
            time_signature=self.progression.time_signature,
            tempo=tempo,
            name=name,
            source=source,
        )


def values_to_piece(
    values: Iterable[str | Value],
    progression: Progression,
    seed: int | None = 0,
    tempo: float = 120.0,
) -> Piece:
    """Realise values over a progression until either runs out.

    Args:
        values: value strings (or :class:`Value` objects).
        progression: the chords; measures left over stay silent.
        seed: seeds the pitch choices.

    Returns:
        A monophonic :class:`Piece`: no note crosses a bar line, none has zero
        length, chord-tone values sound chord tones of the chord under them.
    """
    realiser = Realiser(progression, seed=seed)
    for value in values:
        if realiser.done:
            break
        realiser.add(value)
    return realiser.piece(tempo=tempo)


def value_types(values: Sequence[str]) -> list[str]:
    """The TYPE letter of each value string."""
    return [Value.parse(v).type for v in values]
