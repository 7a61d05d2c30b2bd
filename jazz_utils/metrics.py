"""Musical measurements of a solo: how it sits on its chords, how it moves.

Every note is given a *role* over the chord sounding at its onset, using the
same classification as the values grammar (:func:`jazz_utils.grammar.note_type`):
chord tone, scale tone, approach tone or outside tone.

A *strong beat* is the first beat of a bar and, in bars with an even number
of beats, the beat halfway through (beats 1 and 3 in 4/4).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from jazz_utils.chords import Chord
from jazz_utils.grammar import note_type
from jazz_utils.piece import Measure, Note, Piece, to_ticks

#: Role names for the grammar's type letters.
ROLE_NAMES = {"C": "chord", "S": "scale", "A": "approach", "X": "outside"}


@dataclass(frozen=True)
class NoteRole:
    """One note of a solo with its context.

    Attributes:
        note: the note, offset from the start of its measure.
        measure: index of its measure.
        chord: the chord sounding at its onset.
        role: ``"C"``, ``"S"``, ``"A"`` or ``"X"``.
        strong: True when the note starts on a strong beat.
    """

    note: Note
    measure: int
    chord: Chord
    role: str
    strong: bool


def is_strong_beat(offset: float, measure: Measure, time_signature: tuple[int, int]) -> bool:
    """True when ``offset`` (quarter notes into the bar) is a strong beat."""
    beats, unit = time_signature
    beat = to_ticks(4 / unit)
    tick = to_ticks(offset)
    if tick == 0:
        return True
    bar = to_ticks(measure.length)
    return beats % 2 == 0 and beats >= 4 and tick == bar // 2 and tick % beat == 0


def note_roles(piece: Piece) -> list[NoteRole]:
    """The role of every note of a piece, in order."""
    roles = []
    for index, measure in enumerate(piece.measures):
        for note in measure.notes:
            chord = measure.chord_at(note.offset)
            roles.append(
                NoteRole(
                    note=note,
                    measure=index,
                    chord=chord,
                    role=note_type(note.pitch, chord),
                    strong=is_strong_beat(note.offset, measure, piece.time_signature),
                )
            )
    return roles


def role_shares(piece: Piece, by: str = "count", strong_only: bool = False) -> dict[str, float]:
    """Share of notes in each role.

    Args:
        piece: the solo.
        by: ``"count"`` (each note counts once) or ``"duration"`` (weighted by length).
        strong_only: only notes starting on strong beats.

    Returns:
        ``{"chord": .., "scale": .., "approach": .., "outside": ..}`` summing to 1
        (all zeros when there are no notes).
    """
    if by not in ("count", "duration"):
        raise ValueError(f"by must be 'count' or 'duration', not {by!r}")
    totals: Counter[str] = Counter()
    for item in note_roles(piece):
        if strong_only and not item.strong:
            continue
        totals[item.role] += item.note.duration if by == "duration" else 1.0
    whole = sum(totals.values())
    return {name: (totals[key] / whole if whole else 0.0) for key, name in ROLE_NAMES.items()}


def chord_tone_share(piece: Piece, by: str = "count", strong_only: bool = False) -> float:
    """Share of notes that are chord tones of the chord under them (0..1)."""
    return role_shares(piece, by=by, strong_only=strong_only)["chord"]


def rest_share(piece: Piece) -> float:
    """Share of the piece's time in which the melody is silent (0..1)."""
    total = piece.total_length
    sounding = sum(n.duration for m in piece.measures for n in m.notes)
    return 1.0 - sounding / total if total else 0.0


def melodic_intervals(piece: Piece) -> list[int]:
    """Semitones from each note to the next, across rests and bar lines."""
    pitches = [n.pitch for n in piece.notes_absolute()]
    return [b - a for a, b in zip(pitches, pitches[1:], strict=False)]


def interval_histogram(piece: Piece) -> dict[str, float]:
    """Share of melodic moves that are repeats (0), steps (1-2), skips (3-4) and leaps (5+)."""
    intervals = [abs(i) for i in melodic_intervals(piece)]
    bins = {"repeat": 0, "step": 0, "skip": 0, "leap": 0}
    for size in intervals:
        key = "repeat" if size == 0 else "step" if size <= 2 else "skip" if size <= 4 else "leap"
        bins[key] += 1
    total = len(intervals)
    return {k: (v / total if total else 0.0) for k, v in bins.items()}


def pitch_range(piece: Piece) -> tuple[int, int] | None:
    """Lowest and highest MIDI pitch of the melody (None without notes)."""
    pitches = [n.pitch for m in piece.measures for n in m.notes]
    return (min(pitches), max(pitches)) if pitches else None
