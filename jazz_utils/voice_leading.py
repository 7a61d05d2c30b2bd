"""How a line moves through its chords: guide tones, resolutions, register.

Three measurements a jazz teacher makes by ear:

- *guide tones on chord changes*: when the chord changes, does the line land on the
  new chord's 3rd or 7th, the notes that say which chord it is
  (:func:`guide_tone_landings`);
- *approach-tone resolution*: does a note a semitone from a chord tone (the grammar's
  approach tone, ``A``) step on into a chord tone (:func:`approach_resolutions`);
- *register*: the lowest and highest pitch, and how many notes stay inside a range
  such as the training corpus's (:func:`training_range`, :func:`share_inside`).

Each counting function returns ``(hits, cases)`` so that shares over several solos
can be pooled; :func:`share` turns a pair into a share.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from jazz_utils.chords import Chord
from jazz_utils.grammar import note_type
from jazz_utils.piece import Note, Piece, to_ticks

#: Largest step, in semitones, by which an approach tone resolves into a chord tone.
RESOLUTION_STEP = 2


def share(counts: tuple[int, int]) -> float | None:
    """``hits / cases`` of a ``(hits, cases)`` pair, None when there are no cases."""
    hits, cases = counts
    return hits / cases if cases else None


def chord_changes(piece: Piece) -> list[tuple[int, int, Chord]]:
    """Where the harmony changes: ``(start tick, end tick, new chord)`` per change.

    Ticks count from the start of the piece (:data:`~jazz_utils.piece.TICKS_PER_QUARTER`
    per quarter note). A change is a chord span whose symbol differs from the chord
    sounding just before it, across bar lines too; the first chord of the piece is not
    a change, nor is a chord written again (``| F7 | F7 |``). The end is where the
    new chord stops sounding (the next change, or the end of the piece).
    """
    spans: list[tuple[int, int, Chord]] = []
    start = 0
    for measure in piece.measures:
        for span in measure.chords:
            begin, end = start + to_ticks(span.offset), start + to_ticks(span.end)
            if spans and spans[-1][2].symbol == span.chord.symbol:
                spans[-1] = (spans[-1][0], end, span.chord)
            else:
                spans.append((begin, end, span.chord))
        start += to_ticks(measure.length)
    return spans[1:]


def guide_tone_landings(piece: Piece) -> tuple[int, int]:
    """Count the chord changes on which the line lands on a guide tone.

    For each change (:func:`chord_changes`) the *landing note* is the first note that
    starts at or after the change while the new chord still sounds. A note held over
    the change from before is not the landing note: it was chosen for the old chord.
    A change during which no note starts (a rest, or one note held through the whole
    chord) is not counted. The line lands on a *guide tone* when the landing note's
    pitch class is the new chord's 3rd or 7th (:attr:`Chord.third`, which for a sus
    chord is its suspended tone, and :attr:`Chord.seventh`, which for a 6 or dim7
    chord is its sixth).

    Returns:
        ``(guide_tone_landings, counted_changes)``.
    """
    onsets = [(to_ticks(note.offset), note) for note in piece.notes_absolute()]
    hits = cases = 0
    position = 0
    for begin, end, chord in chord_changes(piece):
        while position < len(onsets) and onsets[position][0] < begin:
            position += 1
        if position == len(onsets) or onsets[position][0] >= end:
            continue
        cases += 1
        pitch_class = onsets[position][1].pitch % 12
        hits += pitch_class in {chord.third, chord.seventh} - {None}
    return hits, cases


def approach_resolutions(piece: Piece) -> tuple[int, int]:
    """Count the approach tones that resolve by step into a chord tone.

    An *approach tone* is a note whose role over the chord at its onset is ``A``
    (:func:`jazz_utils.grammar.note_type`: a semitone from a chord tone, outside the
    chord's scale). It *resolves* when the very next note (across a bar line, but not
    across a rest: a rest leaves it hanging) is a chord tone of the chord under that
    next note, 1 to :data:`RESOLUTION_STEP` semitones away. The solo's last note, when
    an approach tone, has no next note and is not counted.

    Returns:
        ``(resolved, approach_tones_followed_by_a_note)``.
    """
    hits = cases = 0
    played = _notes_with_chords(piece)
    for (note, chord), (after, after_chord) in pairwise(played):
        if note_type(note.pitch, chord) != "A":
            continue
        cases += 1
        touching = to_ticks(note.end) == to_ticks(after.offset)
        step = abs(after.pitch - note.pitch)
        chord_tone = after.pitch % 12 in after_chord.pitch_classes
        hits += touching and 1 <= step <= RESOLUTION_STEP and chord_tone
    return hits, cases


def _notes_with_chords(piece: Piece) -> list[tuple[Note, Chord]]:
    """Every note, offset from the start of the piece, with the chord at its onset."""
    chords = [m.chord_at(note.offset) for m in piece.measures for note in m.notes]
    return list(zip(piece.notes_absolute(), chords, strict=True))


def training_range(pieces: Iterable[Piece]) -> tuple[int, int] | None:
    """Lowest and highest MIDI pitch over some pieces (None without notes)."""
    pitches = [n.pitch for piece in pieces for m in piece.measures for n in m.notes]
    return (min(pitches), max(pitches)) if pitches else None


def share_inside(piece: Piece, pitch_range: tuple[int, int]) -> float | None:
    """Share of a piece's notes whose pitch lies in ``pitch_range`` (both ends included).

    None when the piece has no notes.
    """
    low, high = pitch_range
    pitches = [n.pitch for m in piece.measures for n in m.notes]
    return share((sum(low <= p <= high for p in pitches), len(pitches)))
