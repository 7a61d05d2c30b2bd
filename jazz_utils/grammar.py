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

Why it is one long module: the realiser is the grammar read backwards. It is the
one place that must keep ``piece_to_values(values_to_piece(v))`` equal to ``v`` in
type and duration, and the learner's ``values_to_piece`` lives here; its timing and
its register live in :mod:`jazz_utils.timing` and :mod:`jazz_utils.register`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

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
from jazz_utils.register import CORPUS_REGISTER, Register, as_register
from jazz_utils.timing import Timeline

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
#: How far from the register's centre a solo's first note may be, in semitones.
START_SPREAD = 5
#: How many upcoming values the realiser looks at when it chooses a pitch.
LOOKAHEAD = 4
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

    Timing (see :mod:`jazz_utils.timing`): each value starts where the durations of the
    values before it add up to, moved to the nearest onset the beat grid allows. A note
    that crosses the bar line ends on it; the next bar starts on its downbeat when a
    chord tone or a rest follows, else the rest of the note's length is silence. With
    ``rephase_rests`` a rest may last an eighth or a quarter more or less when that puts
    the next values' chord tones on strong beats (a network's sense of the beat drifts;
    types are never changed); without it every value keeps its length up to the bar line.
    ``done`` turns true when the next value would start after the last bar.

    Pitch: a pitch of the value's type over the chord at its onset, inside the value's
    leap bracket, chosen in this order of preference:

    1. inside the register (``register``), else the same leap turned round inside it,
       else the pitches of that type inside it nearest the leap (outside the register,
       within ``pitch_range``, the hard limit, only when it holds no pitch of the type),
       of which the one nearest the leap that best meets 2-4 is played;
    2. on a chord change, a chord-tone value takes the new chord's 3rd or 7th;
    3. an approach tone followed by a chord tone a step away is placed so that the step
       lands on a chord tone (it resolves);
    4. a pitch from which the next values (when known, up to :data:`LOOKAHEAD`) fit
       their own type and bracket in the register, and land a 3rd or 7th on the next
       chord change;
    5. among what is left, at random, pitches nearer the register's centre more often.

    Args:
        progression: the chords to play over.
        seed: seeds the choice among equally valid pitches (same seed, same notes).
        previous_pitch: the pitch played just before the first value, if any.
        pitch_range: lowest and highest MIDI pitch allowed (the hard limit).
        register: ``(low, centre, high)`` the line keeps to, e.g. from
            :func:`jazz_utils.register.register_of`; the bundled corpus's by default.
        rephase_rests: let rests move the phrase after them by up to a beat onto the beat
            (``generate_music`` does; a sequence read from a piece needs no such help).
    """

    def __init__(
        self,
        progression: Progression,
        seed: int | None = 0,
        previous_pitch: int | None = None,
        pitch_range: tuple[int, int] = PLAYABLE_RANGE,
        register: Register | tuple[int, int, int] = CORPUS_REGISTER,
        rephase_rests: bool = False,
    ):
        if len(progression) == 0:
            raise GrammarError("Cannot realise values over an empty progression.")
        self.progression = progression
        self.rng = np.random.default_rng(seed)
        self.previous_pitch = previous_pitch
        self.pitch_range = pitch_range
        self.rephase_rests = rephase_rests
        low, centre, high = as_register(register)
        low, high = max(low, pitch_range[0]), min(high, pitch_range[1])
        self.register = Register(low, min(max(centre, low), high), max(low, high))
        beat = to_ticks(4 / progression.time_signature[1])
        self._timeline = Timeline([to_ticks(m.length) for m in progression], beat)
        starts = self._timeline.bar_starts
        self._spans = [
            (starts[i] + to_ticks(s.offset), s.chord)
            for i, m in enumerate(progression)
            for s in m.chords
        ]
        self._clock = 0
        self._last_span: int | None = None
        #: Notes placed, as (onset, pitch) in absolute ticks; each ends where the next
        #: event starts or at its bar line, whichever comes first.
        self._placed: list[tuple[int, int]] = []
        self._ends: list[int] = []

    @property
    def _next_onset(self) -> int:
        """Where the next value starts if it is a note (absolute ticks)."""
        return self._timeline.snap(self._clock)

    @property
    def done(self) -> bool:
        """True once the next value would start after the last bar."""
        return self._next_onset >= self._timeline.total

    @property
    def measure_index(self) -> int:
        """Index of the measure where the next value starts."""
        if self.done:
            return len(self.progression)
        return self._timeline.bar_of(self._next_onset)

    @property
    def tick(self) -> int:
        """Grid ticks from the bar line of :attr:`measure_index` to the next value's start."""
        if self.done:
            return 0
        return self._next_onset - self._timeline.bar_starts[self.measure_index]

    @property
    def ticks_left_in_measure(self) -> int:
        """Grid ticks from the next value's start to the next bar line."""
        if self.done:
            return 0
        return self._timeline.bar_end(self._next_onset) - self._next_onset

    @property
    def values_used(self) -> list[str]:
        """The values as played, up to where the next value starts.

        Shortened at bar lines and moved onto the beat grid, with the type and leap of
        each pitch chosen (an ``X`` the chord cannot give is played as the nearest kind
        of tone, see ``_FALLBACK_TYPES``; a bracket no pitch fits becomes the leap taken):
        ``piece_to_values`` of the notes placed, cut where the next value starts.
        """
        measures = list(self.piece().measures[: self.measure_index])
        if not self.done and self.tick:
            current = self.piece().measures[self.measure_index]
            measures.append(replace(current, length=from_ticks(self.tick)))
        return piece_to_values(Piece(tuple(measures))) if measures else []

    def _changes_chord(self, span: int) -> bool:
        """True when chord span ``span`` brings a new chord (the first one does)."""
        return span == 0 or self._spans[span - 1][1].symbol != self._spans[span][1].symbol

    def _span_at(self, tick: int) -> int:
        return bisect.bisect_right([start for start, _ in self._spans], tick) - 1

    def add(
        self,
        value: str | Value,
        upcoming: str | Value | Sequence[str | Value] | None = None,
    ) -> Note | None:
        """Place one value where the network's clock puts it.

        Args:
            value: the value to play.
            upcoming: the value (or the next few values, in order) that will follow,
                when known: the pitch is then chosen so that they fit (an approach tone
                resolves into the chord tone after it; a chord tone on the next chord
                change can be its 3rd or 7th). Up to :data:`LOOKAHEAD` are used.

        Returns:
            The note played (None for a rest).

        Raises:
            GrammarError: a value is malformed, or every measure is already full.
        """
        parsed = value if isinstance(value, Value) else Value.parse(value)
        if upcoming is None:
            upcoming = []
        elif isinstance(upcoming, str | Value):
            upcoming = [upcoming]
        future = [u if isinstance(u, Value) else Value.parse(u) for u in upcoming[:LOOKAHEAD]]
        following = future[0] if future else None
        if self.done:
            raise GrammarError("Every measure is already filled; no room for another value.")
        onset = self._next_onset
        if parsed.type == "R" and (not self._placed or self._clock > self._placed[-1][0]):
            onset = self._clock  # a rest keeps the clock: only note onsets need the grid
        if self._placed and len(self._ends) < len(self._placed):
            self._ends.append(min(onset, self._timeline.bar_end(self._placed[-1][0])))
        self._timeline.place(onset, parsed.type != "R")
        self._clock += parsed.ticks
        self._clock = self._after(onset, self._clock, following)
        if parsed.type == "R":
            if self.rephase_rests:
                self._clock += self._rephase(parsed, future)
            return None
        bar = self._timeline.bar_of(onset)
        bar_start = self._timeline.bar_starts[bar]
        end = min(self._next_onset, self._timeline.bar_starts[bar + 1])
        span = self._span_at(onset)
        chord = self._spans[span][1]
        on_change = span != self._last_span and self._changes_chord(span)
        pitch = self._choose_pitch(parsed, chord, on_change, self._plan(span, future))
        note = Note(
            offset=from_ticks(onset - bar_start), duration=from_ticks(end - onset), pitch=pitch
        )
        self._placed.append((onset, pitch))
        self.previous_pitch = pitch
        self._last_span = span
        return note

    def _after(self, onset: int, clock: int, following: Value | None) -> int:
        """The clock after a value that started at ``onset`` and ends at ``clock``."""
        if clock > self._timeline.bar_end(onset) and (following is None or following.type in "CR"):
            # A value that crosses the bar line is where the network ends its bar: the
            # next bar starts on its downbeat, unless what comes next is no chord tone
            # (then it keeps the network's clock, after a silence, off the downbeat).
            return self._timeline.bar_end(onset)
        return clock

    def _strong(self, tick: int) -> bool:
        """True when ``tick`` (absolute) is a strong beat (see :mod:`jazz_utils.rhythm`)."""
        bar = self._timeline.bar_of(tick)
        position = tick - self._timeline.bar_starts[bar]
        length = self._timeline.bar_starts[bar + 1] - self._timeline.bar_starts[bar]
        beats = length // self._timeline.beat
        return position == 0 or (beats % 2 == 0 and beats >= 4 and position == length // 2)

    def _rephase(self, rest: Value, future: list[Value]) -> int:
        """Ticks to lengthen (or shorten) a rest by so the phrase after it sits on the beat.

        A rest is where a player re-enters: it may last an eighth or a quarter more or
        less (never less than an eighth) when that puts more of the upcoming chord-tone
        values, and fewer of the others, on strong beats. Ties keep the smaller change.
        A quarter is offered too because the network's beat can drift by a whole beat.
        """
        best, shift_best = None, 0
        eighth = self._timeline.beat // 2
        for shift in (0, -eighth, eighth, -2 * eighth, 2 * eighth):
            if rest.ticks + shift < eighth:
                continue
            clock, score = self._clock + shift, 0
            for k, upcoming in enumerate(future):
                onset = self._timeline.snap(clock) if upcoming.type != "R" else clock
                if onset >= self._timeline.total:
                    break
                if upcoming.type != "R" and self._strong(onset):
                    score += 1 if upcoming.type == "C" else -1
                following = future[k + 1] if k + 1 < len(future) else None
                clock = self._after(onset, clock + upcoming.ticks, following)
            if best is None or score > best:
                best, shift_best = score, shift
        return shift_best

    def _plan(self, span: int, future: list[Value]) -> list[tuple[Value, Chord, bool]]:
        """The notes the upcoming values will be: (value, chord under it, on a chord change)."""
        plan = []
        clock, last_span = self._clock, span
        for k, upcoming in enumerate(future):
            onset = self._timeline.snap(clock) if upcoming.type != "R" else clock
            if onset >= self._timeline.total:
                break
            following = future[k + 1] if k + 1 < len(future) else None
            clock = self._after(onset, clock + upcoming.ticks, following)
            if upcoming.type == "R":
                continue
            at = self._span_at(onset)
            change = at != last_span and self._changes_chord(at)
            plan.append((upcoming, self._spans[at][1], change))
            last_span = at
        return plan

    def _plan_score(self, pitch: int, plan: list[tuple[Value, Chord, bool]]) -> float:
        """How well the planned notes can follow ``pitch``: one point for each that fits
        its leap inside the register, one more for a 3rd or 7th on a chord change, the
        nearer the more (a tenth off per value ahead)."""
        if not plan:
            return 0.0
        value, chord, change = plan[0]
        bracket = value.bracket if value.bracket is not None else (-4, 4)
        low, high = self.register.low, self.register.high
        guide = _guide_tones(chord) if change and value.type == "C" else set()
        best = None
        for leap in range(bracket[0], bracket[1] + 1):
            target = pitch + leap
            if low <= target <= high and note_type(target, chord) == value.type:
                reward = 1.0 + (target % 12 in guide)
                score = reward + 0.9 * self._plan_score(target, plan[1:])
                best = score if best is None else max(best, score)
        if best is None:  # it will not fit: it goes to the nearest pitch of its type
            typed = [p for p in range(low, high + 1) if note_type(p, chord) == value.type]
            if not typed:
                return 0.0
            return 0.9 * self._plan_score(_nearest(typed, pitch, bracket), plan[1:])
        return best

    def _choose_pitch(
        self,
        value: Value,
        chord: Chord,
        on_change: bool,
        plan: list[tuple[Value, Chord, bool]],
    ) -> int:
        low, high = self.pitch_range
        typed: list[int] = []
        # A type the chord cannot give (no "X" over a seventh chord, whose every other
        # pitch is a semitone from a chord tone; no "S" over C7alt) falls back to the
        # nearest kind of tone; ``values_used`` shows the type actually played.
        for kind in _FALLBACK_TYPES[value.type]:
            typed = [p for p in range(low, high + 1) if note_type(p, chord) == kind]
            if typed:
                break
        register = self.register
        inside = [p for p in typed if register.low <= p <= register.high]
        previous = self.previous_pitch
        missed: float | None = None  # where the leap aimed, when no pitch of the type fits it
        if previous is None:
            pool = [p for p in inside if abs(p - register.centre) <= START_SPREAD] or inside
            pool = pool or typed
        else:
            bracket = value.bracket if value.bracket is not None else (-4, 4)
            turned = (-bracket[1], -bracket[0])
            pool = [p for p in inside if bracket[0] <= p - previous <= bracket[1]] or [
                p for p in inside if turned[0] <= p - previous <= turned[1]
            ]
            if not pool:
                # No pitch of this type at that leap, either way, inside the register:
                # the nearest ones that are (or, outside it, the nearest at all).
                pool = _nearest_ones(inside or typed, previous, bracket)
                missed = previous + (bracket[0] + bracket[1]) / 2
        if on_change and value.type == "C":
            pool = [p for p in pool if p % 12 in _guide_tones(chord)] or pool
        if plan:
            following, next_chord, _ = plan[0]
            if value.type == "A" and following.type == "C" and following.bracket is not None:
                step = (max(following.bracket[0], -2), min(following.bracket[1], 2))
                resolves = _fits(Value("C", following.ticks, step), next_chord, register)
                pool = [p for p in pool if resolves(p)] or pool
            scores = [self._plan_score(p, plan) for p in pool]
            pool = [p for p, score in zip(pool, scores, strict=True) if score == max(scores)]
        if missed is not None:
            return int(min(pool, key=lambda p: (abs(p - missed), p)))
        spread = max(3.0, (register.high - register.low) / 4)
        weights = np.exp(-0.5 * ((np.array(pool) - register.centre) / spread) ** 2)
        return int(pool[self.rng.choice(len(pool), p=weights / weights.sum())])

    def piece(self, tempo: float = 120.0, name: str = "", source: str = "") -> Piece:
        """The notes placed so far as a :class:`Piece` over the whole progression."""
        notes: list[list[Note]] = [[] for _ in self.progression]
        ends = self._ends[:]
        if len(ends) < len(self._placed):
            ends.append(min(self._next_onset, self._timeline.bar_end(self._placed[-1][0])))
        for (onset, pitch), end in zip(self._placed, ends, strict=True):
            bar = self._timeline.bar_of(onset)
            offset = onset - self._timeline.bar_starts[bar]
            notes[bar].append(Note(from_ticks(offset), from_ticks(end - onset), pitch))
        measures = tuple(
            Measure(length=m.length, chords=m.chords, notes=tuple(bar_notes))
            for m, bar_notes in zip(self.progression, notes, strict=True)
        )
        return Piece(
            measures=measures,
            time_signature=self.progression.time_signature,
            tempo=tempo,
            name=name,
            source=source,
        )


def _nearest_ones(typed: list[int], previous: int, bracket: tuple[int, int]) -> list[int]:
    """No pitch of the type inside the bracket: those nearest it, moving the same way.

    Pitches within two semitones of the nearest distance to the bracket all qualify.
    """
    if bracket[0] > 0:
        typed = [p for p in typed if p > previous] or typed
    elif bracket[1] < 0:
        typed = [p for p in typed if p < previous] or typed

    def distance(p: int) -> int:
        leap = p - previous
        return max(bracket[0] - leap, leap - bracket[1], 0)

    closest = min(distance(p) for p in typed)
    return [p for p in typed if distance(p) <= closest + 2]


def _nearest(typed: list[int], previous: int, bracket: tuple[int, int]) -> int:
    """The nearest pitch to the middle of the bracket among :func:`_nearest_ones`."""
    target = previous + (bracket[0] + bracket[1]) / 2
    ones = _nearest_ones(typed, previous, bracket)
    return int(min(ones, key=lambda p: (abs(p - target), p)))


def _guide_tones(chord: Chord) -> set[int]:
    """Pitch classes of a chord's 3rd and 7th (those it has)."""
    return {pc for pc in (chord.third, chord.seventh) if pc is not None}


def _fits(value: Value, chord: Chord, register: Register) -> Callable[[int], bool]:
    """A test of pitches: can ``value`` follow this pitch, in its bracket, in the register?"""
    bracket = value.bracket if value.bracket is not None else (-4, 4)
    targets = {
        p for p in range(register.low, register.high + 1) if note_type(p, chord) == value.type
    }

    def test(pitch: int) -> bool:
        return any(pitch + leap in targets for leap in range(bracket[0], bracket[1] + 1))

    return test


def values_to_piece(
    values: Iterable[str | Value],
    progression: Progression,
    seed: int | None = 0,
    tempo: float = 120.0,
    register: Register | tuple[int, int, int] = CORPUS_REGISTER,
) -> Piece:
    """Realise values over a progression until either runs out.

    Args:
        values: value strings (or :class:`Value` objects).
        progression: the chords; measures left over stay silent.
        seed: seeds the pitch choices.
        tempo: quarter notes per minute of the piece.
        register: ``(low, centre, high)`` the line keeps to (see :class:`Realiser`).

    Returns:
        A monophonic :class:`Piece`: no note crosses a bar line, none has zero
        length, chord-tone values sound chord tones of the chord under them.
    """
    realiser = Realiser(progression, seed=seed, register=register)
    pending = list(values)
    for k, value in enumerate(pending):
        if realiser.done:
            break
        realiser.add(value, upcoming=pending[k + 1 : k + 1 + LOOKAHEAD])
    return realiser.piece(tempo=tempo)


def value_types(values: Sequence[str]) -> list[str]:
    """The TYPE letter of each value string."""
    return [Value.parse(v).type for v in values]
