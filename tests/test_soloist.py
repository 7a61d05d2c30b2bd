"""The rule-based bebop soloist: deterministic, well-formed, and playing by its rules."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jazz_utils import metrics
from jazz_utils.chords import parse_chord, parse_progression
from jazz_utils.errors import ChordError, GenerationError
from jazz_utils.etudes import (
    FORMS,
    PITCH_RANGE,
    PROGRESSIONS,
    bebop_scale,
    degree_intervals,
    play_etude,
    play_form,
)
from jazz_utils.grammar import note_type, piece_to_values
from jazz_utils.piece import Piece, to_ticks

#: Note lengths the soloist writes, in grid ticks: eighth-note triplet, eighth, quarter-note
#: triplet, quarter, dotted quarter, half, dotted half.
DURATIONS = {4, 6, 8, 12, 18, 24, 36}
BLUES = "| F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7 |"


@pytest.fixture(scope="module")
def etudes() -> dict[str, Piece]:
    """One étude over every bundled form (seeds as in the corpus)."""
    return {name: play_form(name, seed=i) for i, name in enumerate(FORMS)}


def notes_of(piece: Piece) -> list[tuple[int, float, float, int]]:
    return [
        (i, n.offset, n.duration, n.pitch) for i, m in enumerate(piece.measures) for n in m.notes
    ]


def assert_well_formed(piece: Piece) -> None:
    """Monophonic, on the grid, inside the bars, in range, only the soloist's durations."""
    for number, measure in enumerate(piece.measures, start=1):
        cursor = 0
        for note in measure.notes:
            start, end = to_ticks(note.offset), to_ticks(note.end)
            assert abs(note.offset * 12 - start) < 1e-9, f"bar {number}: {note} off the grid"
            assert start >= cursor, f"bar {number}: {note} overlaps the note before"
            assert end <= to_ticks(measure.length), f"bar {number}: {note} crosses the bar line"
            assert end - start in DURATIONS, f"bar {number}: {note} has an unusual length"
            assert PITCH_RANGE[0] <= note.pitch <= PITCH_RANGE[1], (
                f"bar {number}: {note} out of range"
            )
            cursor = end
    values = piece_to_values(piece)  # the grammar fills every bar exactly
    total = sum(round(float(v.split(",")[1]) * 12) for v in values)
    assert total == to_ticks(piece.total_length)


def test_same_seed_same_notes_other_seed_other_notes() -> None:
    first = play_etude(BLUES, seed=7)
    assert first == play_etude(BLUES, seed=7)
    assert notes_of(first) != notes_of(play_etude(BLUES, seed=8))


def test_no_global_random_state_is_used_or_changed() -> None:
    np_before, py_before = np.random.get_state(), random.getstate()
    a = play_etude(BLUES, seed=3)
    np_after, py_after = np.random.get_state(), random.getstate()
    assert py_after == py_before
    assert np.array_equal(np_after[1], np_before[1]) and np_after[2] == np_before[2]
    try:
        np.random.seed(1)
        random.seed(1)
        assert play_etude(BLUES, seed=3) == a
    finally:
        np.random.set_state(np_before)
        random.setstate(py_before)


def test_at_least_ten_forms_that_parse() -> None:
    assert len(FORMS) >= 10
    assert {name: form.text for name, form in FORMS.items()} == PROGRESSIONS
    for name, form in FORMS.items():
        progression = parse_progression(form.text)
        assert len(progression) >= 8, name
        assert 60 <= form.tempo <= 240 and form.choruses >= 1 and form.key, name


def test_etude_covers_its_progression(etudes: dict[str, Piece]) -> None:
    for name, piece in etudes.items():
        form = FORMS[name]
        one = parse_progression(form.text)
        assert len(piece) == len(one) * form.choruses
        assert piece.progression[: len(one)] == one
        assert piece.tempo == form.tempo and piece.name == name


def test_etudes_are_well_formed(etudes: dict[str, Piece]) -> None:
    for piece in etudes.values():
        assert_well_formed(piece)


@settings(max_examples=25, deadline=None)
@given(
    symbols=st.lists(
        st.lists(
            st.sampled_from(
                [
                    "C7",
                    "Fmaj7",
                    "Dm7",
                    "G7b9",
                    "Bm7b5",
                    "Ebm6",
                    "A7alt",
                    "F#m7",
                    "Edim7",
                    "Bb",
                    "Ab7sus4",
                    "Cm(maj7)",
                    "E7#9",
                    "Db6",
                ]
            ),
            min_size=1,
            max_size=2,
        ),
        min_size=1,
        max_size=10,
    ),
    beats=st.sampled_from([2, 3, 4]),
    seed=st.integers(0, 2**31),
)
def test_any_progression_gives_a_well_formed_solo(
    symbols: list[list[str]], beats: int, seed: int
) -> None:
    text = "| " + " | ".join(" ".join(bar) for bar in symbols) + " |"
    piece = play_etude(parse_progression(text, (beats, 4)), seed=seed)
    assert len(piece) == len(symbols)
    assert_well_formed(piece)


def test_chord_tones_on_strong_beats(etudes: dict[str, Piece]) -> None:
    for name, piece in etudes.items():
        assert metrics.chord_tone_share(piece, strong_only=True) >= 0.9, name


def test_lines_move_mostly_by_step(etudes: dict[str, Piece]) -> None:
    for name, piece in etudes.items():
        histogram = metrics.interval_histogram(piece)
        assert histogram["step"] >= 0.5, name
        assert histogram["leap"] <= 0.15, name


def test_rhythm_mostly_eighths_with_quarters_triplets_and_rests(
    etudes: dict[str, Piece],
) -> None:
    lengths = [to_ticks(n.duration) for p in etudes.values() for m in p.measures for n in m.notes]
    share = {d: lengths.count(d) / len(lengths) for d in DURATIONS}
    assert share[6] >= 0.5  # eighths (written straight)
    assert share[12] >= 0.05 and share[4] >= 0.05  # quarters, triplets
    rests = [metrics.rest_share(p) for p in etudes.values()]
    assert all(0.05 <= r <= 0.4 for r in rests)


def test_phrases_end_on_chord_tones_and_breathe(etudes: dict[str, Piece]) -> None:
    for name, piece in etudes.items():
        notes = piece.notes_absolute()
        starts = [n.offset for n in notes]
        ends, phrase_start = 0, notes[0].offset
        for i, note in enumerate(notes):
            gap = (starts[i + 1] if i + 1 < len(notes) else piece.total_length) - note.end
            if gap >= 1.0:  # a breath of a beat or more: the phrase ended here
                measure = int(note.offset // 4)
                chord = piece.measures[measure].chord_at(note.offset - 4 * measure)
                assert note_type(note.pitch, chord) == "C", f"{name}: phrase ends off the chord"
                assert note.end - phrase_start <= 4 * 4 + 1, f"{name}: a phrase over 4 bars"
                ends += 1
                if i + 1 < len(notes):
                    phrase_start = starts[i + 1]
        assert ends >= len(piece) // 5, name


def test_chromatic_approach_tones_are_used(etudes: dict[str, Piece]) -> None:
    shares = [metrics.role_shares(p)["approach"] for p in etudes.values()]
    assert 0.05 <= sum(shares) / len(shares) <= 0.3


def test_guide_tones_move_by_step_across_chord_changes(etudes: dict[str, Piece]) -> None:
    """Where the chord changes from one beat to the next, the beat notes often go 7th->3rd."""
    changes = guided = 0
    for piece in etudes.values():
        beat_notes = {}
        for index, measure in enumerate(piece.measures):
            for n in measure.notes:
                tick = to_ticks(4 * index + n.offset)
                if tick % 12 == 0:
                    beat_notes[tick] = (n.pitch, measure.chord_at(n.offset))
        for tick, (pitch, chord) in beat_notes.items():
            before = beat_notes.get(tick - 12)
            if before is None or before[1] == chord:
                continue
            changes += 1
            old_pitch, old_chord = before
            if (
                old_pitch % 12 in (old_chord.seventh, old_chord.third)
                and pitch % 12 in (chord.third, chord.seventh)
                and 1 <= abs(pitch - old_pitch) <= 2
            ):
                guided += 1
    assert changes > 50 and guided / changes >= 0.3


def test_arpeggios_appear(etudes: dict[str, Piece]) -> None:
    """Four eighth-note chord tones in a row, moving one way, over one chord."""
    found = 0
    for piece in etudes.values():
        for measure in piece.measures:
            notes = measure.notes
            for i in range(len(notes) - 3):
                run = notes[i : i + 4]
                steps = [b.pitch - a.pitch for a, b in itertools.pairwise(run)]
                if (
                    all(n.duration == 0.5 for n in run)
                    and all(note_type(n.pitch, measure.chord_at(n.offset)) == "C" for n in run[:3])
                    and (all(2 < s < 6 for s in steps) or all(-6 < s < -2 for s in steps))
                ):
                    found += 1
    assert found >= 5


def test_motifs_are_repeated_or_sequenced(etudes: dict[str, Piece]) -> None:
    """The first two beats of a bar come back in the next bar: same rhythm, same contour."""
    answered = 0
    for piece in etudes.values():
        for this, following in itertools.pairwise(piece.measures):
            head = [n for n in this.notes if n.offset < 2]
            answer = [n for n in following.notes if n.offset < 2]
            if len(head) >= 3 and [(n.offset, n.duration) for n in head] == [
                (n.offset, n.duration) for n in answer
            ]:
                contour = [b.pitch - a.pitch for a, b in itertools.pairwise(head)]
                echo = [b.pitch - a.pitch for a, b in itertools.pairwise(answer)]
                if all(
                    (x > 0) == (y > 0) and abs(x - y) <= 2
                    for x, y in zip(contour, echo, strict=True)
                ):
                    answered += 1
    assert answered >= 5


def test_degrees_and_bebop_scales() -> None:
    g7 = parse_chord("G7")
    assert degree_intervals(g7) == {1: 0, 3: 4, 5: 7, 7: 10, 9: 2, 11: 5, 13: 9}
    assert degree_intervals(parse_chord("G7b9"))[9] == 1
    assert degree_intervals(parse_chord("Dm7b5"))[5] == 6
    assert 6 in bebop_scale(g7)  # F#: the passing major seventh of G7
    assert 8 in bebop_scale(parse_chord("Cmaj7"))  # G#: the sharp fifth of C major
    assert set(parse_chord("Dm7").scale_pitch_classes) < set(bebop_scale(parse_chord("Dm7")))


def test_bad_input_gets_the_librarys_errors() -> None:
    with pytest.raises(ChordError):
        play_etude("| H7 |")
    with pytest.raises(GenerationError, match="6/8"):
        play_etude(parse_progression("| C7 | F7 |", (6, 8)))
    with pytest.raises(KeyError, match="blues_f"):
        play_form("no_such_form", seed=0)


def test_module_documents_its_rules() -> None:
    import jazz_utils.etudes.soloist as soloist

    doc = soloist.__doc__ or ""
    for rule in (
        "Chord tones on the beat",
        "Enclosure",
        "bebop scales",
        "Arpeggios",
        "Guide tones",
        "Motifs",
        "Phrases and breaths",
        "same seed",
    ):
        assert rule in doc, rule
