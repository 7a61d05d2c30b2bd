"""Plain data types shared by the whole library: notes, chord spans, measures.

Time is measured in quarter notes ("quarter lengths", as music21 calls them).
Every offset and duration lies on a grid of ``1 / TICKS_PER_QUARTER`` quarter
notes, which holds sixteenth notes and eighth- and sixteenth-note triplets
exactly; ``to_ticks`` converts to integers so that sums never drift.

A ``Piece`` is a list of ``Measure`` objects. Each measure knows its length,
the chords that sound in it (``ChordSpan``) and the pitched notes of its melody
(``Note``), with offsets measured from the measure's own bar line. Silence is
simply the absence of notes. A ``Progression`` is the same thing without a
melody: what a soloist plays over.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from jazz_utils.chords import Chord

#: Grid resolution: 12 ticks per quarter note holds 1/16 notes (3 ticks),
#: eighth-note triplets (4 ticks) and sixteenth-note triplets (2 ticks).
TICKS_PER_QUARTER = 12


def to_ticks(quarter_length: float) -> int:
    """Round a duration or offset in quarter notes to whole grid ticks."""
    return round(float(quarter_length) * TICKS_PER_QUARTER)


def from_ticks(ticks: int) -> float:
    """Quarter notes for a whole number of grid ticks."""
    return ticks / TICKS_PER_QUARTER


@dataclass(frozen=True)
class Note:
    """One melody note.

    Attributes:
        offset: start, in quarter notes from the bar line of its measure.
        duration: length in quarter notes (> 0).
        pitch: MIDI note number (60 is middle C).
        velocity: MIDI velocity 1..127.
    """

    offset: float
    duration: float
    pitch: int
    velocity: int = 90

    @property
    def end(self) -> float:
        """Offset at which the note stops sounding."""
        return self.offset + self.duration


@dataclass(frozen=True)
class ChordSpan:
    """A chord sounding from ``offset`` for ``duration`` quarter notes within a measure."""

    offset: float
    duration: float
    chord: Chord

    @property
    def end(self) -> float:
        """Offset at which the chord stops sounding."""
        return self.offset + self.duration


@dataclass(frozen=True)
class Measure:
    """One bar: its length, the chords over it and the melody notes in it.

    Attributes:
        length: bar length in quarter notes (4.0 in 4/4, 3.0 in 3/4).
        chords: chord spans covering ``[0, length)`` without gaps, in order.
        notes: pitched melody notes, in order, not overlapping, inside the bar.
    """

    length: float
    chords: tuple[ChordSpan, ...]
    notes: tuple[Note, ...] = ()

    def chord_at(self, offset: float) -> Chord:
        """The chord sounding at ``offset`` (quarter notes from the bar line)."""
        tick = to_ticks(offset)
        for span in self.chords:
            if to_ticks(span.offset) <= tick < to_ticks(span.end):
                return span.chord
        return self.chords[-1].chord if tick >= 0 else self.chords[0].chord

    def without_notes(self) -> Measure:
        """This measure's chords alone."""
        return replace(self, notes=())


class Progression(Sequence[Measure]):
    """A chord progression: a sequence of measures (their notes are ignored).

    Indexing with a slice gives a shorter ``Progression``, so
    ``chords[:12]`` is the first twelve bars of a corpus.
    """

    def __init__(self, measures: Sequence[Measure], time_signature: tuple[int, int] = (4, 4)):
        self._measures = tuple(m.without_notes() for m in measures)
        self.time_signature = time_signature

    @overload
    def __getitem__(self, index: int) -> Measure: ...
    @overload
    def __getitem__(self, index: slice) -> Progression: ...
    def __getitem__(self, index: int | slice) -> Measure | Progression:
        if isinstance(index, slice):
            return Progression(self._measures[index], self.time_signature)
        return self._measures[index]

    def __len__(self) -> int:
        return len(self._measures)

    def __iter__(self) -> Iterator[Measure]:
        return iter(self._measures)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Progression):
            return NotImplemented
        return self._measures == other._measures and self.time_signature == other.time_signature

    def __hash__(self) -> int:
        return hash((self._measures, self.time_signature))

    def __add__(self, other: Progression) -> Progression:
        return Progression(self._measures + tuple(other), self.time_signature)

    def __repr__(self) -> str:
        return f"Progression({self.to_text()!r})"

    @property
    def total_length(self) -> float:
        """Length of the whole progression in quarter notes."""
        return sum(m.length for m in self._measures)

    def to_text(self) -> str:
        """The progression as lead-sheet text, e.g. ``"| Dm7 G7 | Cmaj7 |"``.

        Chords that do not share their bar evenly are written once per beat,
        so ``parse_progression(p.to_text())`` gives back the same chords.
        """
        bars = []
        for measure in self._measures:
            spans = measure.chords
            even = len({to_ticks(s.duration) for s in spans}) == 1
            if even:
                bars.append(" ".join(s.chord.symbol for s in spans))
            else:
                beats = [measure.chord_at(b).symbol for b in range(int(measure.length))]
                bars.append(" ".join(beats))
        return "| " + " | ".join(bars) + " |" if bars else "||"


@dataclass(frozen=True)
class Piece:
    """A melody over a chord progression, measure by measure.

    Attributes:
        measures: the bars, each with its chords and melody notes.
        time_signature: (beats per bar, beat unit), e.g. (4, 4).
        tempo: quarter notes per minute.
        name: a human-readable name (file stem, étude title).
        source: where the piece came from (a path or a description).
        dropped_notes: notes of a polyphonic or too-short input left out of
            the monophonic melody (reported, never silent).
    """

    measures: tuple[Measure, ...]
    time_signature: tuple[int, int] = (4, 4)
    tempo: float = 120.0
    name: str = ""
    source: str = ""
    dropped_notes: int = 0
    metadata: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def progression(self) -> Progression:
        """The chords of the piece without its melody."""
        return Progression(self.measures, self.time_signature)

    @property
    def total_length(self) -> float:
        """Length of the piece in quarter notes."""
        return sum(m.length for m in self.measures)

    def notes_absolute(self) -> list[Note]:
        """All melody notes with offsets measured from the start of the piece."""
        result = []
        start = 0.0
        for measure in self.measures:
            for note in measure.notes:
                result.append(replace(note, offset=start + note.offset))
            start += measure.length
        return result

    def __len__(self) -> int:
        return len(self.measures)
