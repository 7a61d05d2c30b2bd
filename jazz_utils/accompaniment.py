"""Chords named from the notes of accompaniment tracks (piano, guitar, bass).

A file without chord symbols gets its chords from the tracks
:func:`jazz_utils.corpus.read_piece` is told play them: their notes are grouped per
beat, half bar or bar (``chord_resolution``) and each group's pitch classes are
named by :func:`jazz_utils.chords.name_chord`.

Comping leaves gaps that naming must not fill with chords nobody played: a pianist
strikes Fm7 on beat 1 and holds only the bass F through beat 2. Named beat by beat,
beat 2 would be an F major triad ("Fm7 F Ebmaj7 Eb" for a bar of Fm7 and Ebmaj7).
So a group with fewer than :data:`MIN_CHORD_TONES` pitch classes is never named on
its own: it keeps the chord sounding before it when its notes belong to that chord,
and otherwise takes the chord of the rest of its half bar. And a chord pushed (struck
on the "and" of beat 4, held over the bar line) belongs to the bar it leads into.
"""

from __future__ import annotations

from dataclasses import dataclass

from jazz_utils.chords import Chord, name_chord
from jazz_utils.piece import TICKS_PER_QUARTER
from jazz_utils.score import ScoreData, Track

#: How accompaniment notes are grouped before naming a chord.
CHORD_RESOLUTIONS = ("beat", "half", "bar")
#: Fewest pitch classes a beat (half bar, bar) of accompaniment needs to be named as a
#: chord; one with fewer (a held bass note, a bare fifth) joins the chord around it.
MIN_CHORD_TONES = 3


@dataclass(frozen=True)
class _Segment:
    """The accompaniment sounding in one beat, half bar or bar being named."""

    tick: int
    pcs: frozenset[int]
    bass: int
    bar: int
    half: int


def chords_from_accompaniment(
    data: ScoreData, tracks: list[Track], start: int, end: int, resolution: str
) -> list[tuple[int, Chord]]:
    """Name the chord of each beat, half bar or bar from the accompaniment's notes.

    A note struck in the last half beat of a segment and held over its end is a
    push (the next chord played early) and counts in the next segment only.
    A segment whose sounding notes hold fewer than :data:`MIN_CHORD_TONES` pitch
    classes (a held bass note, a bare fifth) is not named on its own: when its notes
    belong to the chord sounding before, that chord goes on; otherwise it takes the
    chord of the rest of its half bar (see :func:`_fill_thin`).
    """
    beats, unit = data.time_signature
    beat = 4 * TICKS_PER_QUARTER // unit
    bar = beats * beat
    half = max(beat, bar // 2)
    step = {"beat": beat, "half": half, "bar": bar}[resolution]
    notes = sorted(n for t in tracks for n in t.notes)
    segments: list[_Segment] = []
    for bar_index, bar_start in enumerate(data.bar_starts[:-1]):
        bar_end = data.bar_starts[bar_index + 1]
        if bar_end <= start or bar_start >= end:
            continue
        for seg in range(bar_start, bar_end, step):
            seg_end = min(seg + step, bar_end)
            push = seg_end - beat // 2  # a note struck from here on and held over is pushed
            sounding = [
                (s, e, p)
                for s, e, p in notes
                if s < seg_end and e > seg and not (s >= push > seg and e > seg_end)
            ]
            if sounding:
                bass = min(sounding, key=lambda n: n[2])[2] % 12
                pcs = frozenset(p % 12 for _, _, p in sounding)
                segments.append(_Segment(seg, pcs, bass, bar_index, (seg - bar_start) // half))
    changes: list[tuple[int, Chord]] = []
    before: frozenset[int] = frozenset()  # pitch classes of the chord sounding before
    for i, segment in enumerate(segments):
        if len(segment.pcs) >= MIN_CHORD_TONES:
            chord = name_chord(segment.pcs, bass=segment.bass)
            before = segment.pcs | chord.pitch_classes
        elif changes and segment.pcs <= before:
            chord = changes[-1][1]  # the last chord's bass (or part of it) held on
        else:
            chord = _fill_thin(segments, i, changes[-1][1] if changes else None)
            before = segment.pcs | chord.pitch_classes
        if not changes or changes[-1][1] != chord:
            changes.append((segment.tick, chord))
    return changes


def _name_together(group: list[_Segment]) -> Chord | None:
    """The chord of several segments' notes together, if they hold enough pitch classes."""
    pcs = frozenset().union(*(s.pcs for s in group))
    if len(pcs) < MIN_CHORD_TONES:
        return None
    return name_chord(pcs, bass=min(group, key=lambda s: s.tick).bass)


def _fill_thin(segments: list[_Segment], i: int, previous: Chord | None) -> Chord:
    """The chord of a segment with too few pitch classes to be named on its own.

    In order: the chord of the next full segment in the same half bar; the chord
    named from every note of the half bar; the previous chord; the chord named from
    every note of the bar (at the start of a window); and, with nothing else to go
    on, the segment's own few notes.
    """
    thin = segments[i]
    same_half = [s for s in segments if (s.bar, s.half) == (thin.bar, thin.half)]
    for later in same_half:
        if later.tick > thin.tick and len(later.pcs) >= MIN_CHORD_TONES:
            return name_chord(later.pcs, bass=later.bass)
    named = _name_together(same_half)
    if named is not None:
        return named
    if previous is not None:
        return previous
    named = _name_together([s for s in segments if s.bar == thin.bar])
    if named is not None:
        return named
    return name_chord(thin.pcs, bass=thin.bass)
