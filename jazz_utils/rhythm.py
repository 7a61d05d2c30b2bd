"""Where a solo's notes fall in the bar: strong beats, the beat grid, blips.

A *strong beat* is the first beat of a bar and, in bars with an even number of beats,
the beat halfway through (beats 1 and 3 in 4/4). A beat keeps to the *grid* when the
notes starting inside it start on straight sixteenths or on triplet eighths of it. A
*blip* is a note shorter than a sixteenth.
"""

from __future__ import annotations

from jazz_utils.piece import Measure, Piece, to_ticks


def is_strong_beat(offset: float, measure: Measure, time_signature: tuple[int, int]) -> bool:
    """True when ``offset`` (quarter notes into the bar) is a strong beat."""
    beats, unit = time_signature
    beat = to_ticks(4 / unit)
    tick = to_ticks(offset)
    if tick == 0:
        return True
    bar = to_ticks(measure.length)
    return beats % 2 == 0 and beats >= 4 and tick == bar // 2 and tick % beat == 0


#: Subdivisions of a beat a note may start on: straight sixteenths or triplet eighths.
BEAT_GRIDS = (4, 3)


def off_grid_beats(piece: Piece) -> tuple[int, int]:
    """Count the beats whose notes leave the rhythmic grid.

    A beat (a quarter note in 4/4, an eighth in 6/8) is *on the grid* when the notes
    starting inside it all start on one of its :data:`BEAT_GRIDS` subdivisions:
    straight sixteenths, or triplet eighths. A triplet that continues in straight
    eighths (onsets 0, 1/3, 5/6 of a beat) leaves it, and so does every beat after
    it until a note lands on a beat again.

    Args:
        piece: any piece.

    Returns:
        ``(off_grid, beats_with_onsets)``: beats that leave the grid, and beats in
        which at least one note starts.
    """
    off_grid = with_onsets = 0
    beat = to_ticks(4 / piece.time_signature[1])
    for measure in piece.measures:
        by_beat: dict[int, list[int]] = {}
        for note in measure.notes:
            tick = to_ticks(note.offset)
            by_beat.setdefault(tick // beat, []).append(tick % beat)
        for inside in by_beat.values():
            with_onsets += 1
            if not any(all((t * grid) % beat == 0 for t in inside) for grid in BEAT_GRIDS):
                off_grid += 1
    return off_grid, with_onsets


#: Notes shorter than this many grid ticks (a sixteenth note) are *blips*.
BLIP_TICKS = 3


def blips(piece: Piece) -> int:
    """Count the notes shorter than a sixteenth (:data:`BLIP_TICKS`).

    Such notes come from a value cut at a bar line or from a rhythm that left the
    grid; played, they sound like a slip of the finger, not a note.
    """
    return sum(to_ticks(n.duration) < BLIP_TICKS for m in piece.measures for n in m.notes)
