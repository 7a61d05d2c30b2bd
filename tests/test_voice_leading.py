"""How a line moves through its chords: guide tones, resolutions, register, blips."""

from __future__ import annotations

import pytest

from jazz_utils.chords import parse_progression
from jazz_utils.histograms import DURATION_BINS, duration_histogram
from jazz_utils.metrics import solo_metrics
from jazz_utils.piece import Measure, Note, Piece
from jazz_utils.rhythm import blips
from jazz_utils.voice_leading import (
    approach_resolutions,
    chord_changes,
    guide_tone_landings,
    share,
    share_inside,
    training_range,
)


def piece(chart: str, *bars: list[tuple[float, float, int]]) -> Piece:
    """A piece over ``chart`` with the given (offset, duration, pitch) notes per bar."""
    progression = parse_progression(chart)
    measures = tuple(
        Measure(m.length, m.chords, tuple(Note(o, d, p) for o, d, p in notes))
        for m, notes in zip(progression, bars, strict=True)
    )
    return Piece(measures)


# ---------------------------------------------------------------- guide tones


def test_chord_changes_skip_the_first_chord_and_chords_written_again() -> None:
    changes = chord_changes(piece("| F7 | F7 | Bb7 Bdim7 | Bdim7 |", [], [], [], []))
    assert [(begin, end, chord.symbol) for begin, end, chord in changes] == [
        (96, 120, "Bb7"),  # 12 ticks a quarter: bar 3 starts at tick 96
        (120, 192, "Bdim7"),  # written again in bar 4: one change, to the end
    ]


def test_guide_tones_on_changes_count_the_first_note_after_each_change() -> None:
    line = piece(
        "| C7 | F7 | Bb7 | Dm7 G7 | Cmaj7 | A7 |",
        [(0, 4, 60)],  # the first chord is no change
        [(0, 1, 69), (1, 1, 60)],  # F7: lands on A, its 3rd
        [(0, 1, 65), (1, 1, 68)],  # Bb7: lands on F, its 5th (Ab, the 7th, comes later)
        [(0, 1, 65), (1, 2, 62), (3, 1, 71)],  # Dm7: F (3rd); D held over the change to
        # G7 was chosen for Dm7: the landing note on G7 is B (3rd), at beat 4
        [(0, 1, 71)],  # Cmaj7: B, its 7th
        [],  # A7: nothing starts, not counted
    )
    assert guide_tone_landings(line) == (4, 5)
    assert solo_metrics(line).guide_tone_share_on_changes == pytest.approx(0.8)


def test_guide_tones_of_sixth_and_sus_chords() -> None:
    line = piece("| C7 | C6 | F7sus4 |", [(0, 1, 60)], [(0, 1, 69)], [(0, 1, 70)])
    assert guide_tone_landings(line) == (2, 2)  # the 6th of C6, the 4th of F7sus4
    no_changes = piece("| C7 | C7 |", [(0, 1, 64)], [(0, 1, 64)])
    assert guide_tone_landings(no_changes) == (0, 0)
    assert solo_metrics(no_changes).guide_tone_share_on_changes is None


# ---------------------------------------------------------------- approach tones


def test_approach_tones_resolve_by_step_into_a_chord_tone_of_the_next_chord() -> None:
    # Over C7 (C E G Bb, Mixolydian), Db Eb F# Ab B are approach tones.
    line = piece(
        "| C7 | C7 | C7 |",
        [(0, 0.5, 61), (0.5, 0.5, 60), (1, 0.5, 63), (1.5, 0.5, 64),  # Db-C, Eb-E: resolved
         (2, 0.5, 68), (2.5, 0.5, 69)],  # Ab-A: A is a scale tone, not resolved
        [(0, 0.5, 66), (1, 0.5, 67),  # F#, a rest, G: left hanging
         (2, 0.5, 71), (2.5, 0.5, 67)],  # B-G: a leap, not a step
        [(3.5, 0.5, 61)],  # Db, the last note: no next note, not counted
    )  # fmt: skip
    assert approach_resolutions(line) == (2, 5)
    assert solo_metrics(line).approach_resolution_share == pytest.approx(0.4)


def test_an_approach_tone_resolves_across_the_bar_line_into_the_new_chord() -> None:
    line = piece("| C7 | F7 |", [(3.5, 0.5, 66)], [(0, 1, 65)])  # F# over C7, then F (root)
    assert approach_resolutions(line) == (1, 1)
    assert solo_metrics(piece("| C7 |", [(0, 4, 60)])).approach_resolution_share is None


# ---------------------------------------------------------------- register and blips


def test_register_against_the_training_range() -> None:
    corpus = [piece("| C7 |", [(0, 1, 55), (1, 1, 60)]), piece("| F7 |", [(0, 1, 77)])]
    assert training_range(corpus) == (55, 77)
    assert training_range([piece("| C7 |", [])]) is None
    solo = piece("| C7 | C7 |", [(0, 1, 54), (1, 1, 55), (2, 1, 77)], [(0, 1, 78)])
    assert share_inside(solo, (55, 77)) == 0.5  # both ends inside
    metrics = solo_metrics(solo, corpus)
    assert metrics.training_range == (55, 77)
    assert metrics.inside_training_range_share == 0.5
    assert metrics.to_dict()["training_range"] == [55, 77]
    assert "G3-F5" in str(metrics)  # the range is named
    assert solo_metrics(solo).inside_training_range_share is None  # no corpus
    assert share((0, 0)) is None


def test_blips_are_notes_shorter_than_a_sixteenth() -> None:
    line = piece(
        "| C7 |",
        [(0, 0.25, 60), (0.25, 1 / 6, 62), (0.5, 1 / 12, 64), (1, 1 / 3, 65), (4 / 3, 1 / 6, 67)],
    )
    assert blips(line) == 3  # 1/6, 1/12 and 1/6 of a beat; a sixteenth is not one
    assert solo_metrics(line).blips == 3
    assert "blips" in str(solo_metrics(line))
    durations = duration_histogram([1 / 6, 0.25])  # the histogram names them too
    assert durations[:2] == (0.5, 0.5) and DURATION_BINS[0][0] == "under 1/16"
