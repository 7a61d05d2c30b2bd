"""The chord-relative values grammar: notes to values and back."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jazz_utils.chords import parse_chord, parse_progression
from jazz_utils.errors import GrammarError
from jazz_utils.grammar import (
    PLAYABLE_RANGE,
    Realiser,
    Value,
    interval_name,
    interval_semitones,
    leap_bracket,
    note_type,
    piece_to_values,
    values_to_piece,
)
from jazz_utils.piece import TICKS_PER_QUARTER, ChordSpan, Measure, Note, Piece, to_ticks

C7 = parse_chord("C7")
BLUES = parse_progression(
    "| F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7 |"
)


def test_note_types_over_a_dominant_chord() -> None:
    assert [note_type(p, C7) for p in (60, 64, 67, 70)] == ["C"] * 4
    assert [note_type(p, C7) for p in (62, 65, 69)] == ["S"] * 3
    assert note_type(63, C7) == "A"  # D# a semitone below E, outside C mixolydian
    assert note_type(71, C7) == "A"  # B natural, a semitone from C and Bb
    assert note_type(66, parse_chord("C6")) == "A"
    assert note_type(61, parse_chord("Cmaj7")) == "A"


def test_interval_names_round_trip() -> None:
    for semitones in range(-24, 25):
        assert interval_semitones(interval_name(semitones)) == semitones
    assert interval_name(-5) == "P-4"
    assert interval_name(2) == "M2"


def test_leap_brackets_bucket_by_size_and_direction() -> None:
    assert leap_bracket(0) == (0, 0)
    assert leap_bracket(1) == leap_bracket(2) == (1, 2)
    assert leap_bracket(-2) == (-2, -1)
    assert leap_bracket(7) == (5, 7)
    assert leap_bracket(-30) == (-24, -13)


def test_value_strings_parse_and_print() -> None:
    value = Value.parse("C,0.500,<M-2,m-2>")
    assert (value.type, value.ticks, value.bracket) == ("C", TICKS_PER_QUARTER // 2, (-2, -1))
    assert str(value) == "C,0.500,<M-2,m-2>"
    assert str(Value.parse("S,0.333")) == "S,0.333"
    assert Value.parse("R,1.500").duration == 1.5


@pytest.mark.parametrize(
    "text", ["Q,0.5", "C,0.000", "C", "C,0.1", "R,0.5,<m2,M2>", "C,0.5,<M2,m2>", "C,0.5,<x2,M2>"]
)
def test_malformed_values_raise_grammar_error(text: str) -> None:
    with pytest.raises(GrammarError):
        Value.parse(text)


def test_values_of_a_measure_fill_it_with_rests() -> None:
    measure = Measure(
        length=4.0,
        chords=(ChordSpan(0.0, 4.0, C7),),
        notes=(Note(0.5, 0.5, 64), Note(1.0, 1.0, 62), Note(3.0, 0.5, 61)),
    )
    values = piece_to_values(Piece((measure,)))
    assert values == [
        "R,0.500",
        "C,0.500",
        "S,1.000,<M-2,m-2>",
        "R,1.000",
        "A,0.500,<M-2,m-2>",
        "R,0.500",
    ]


def test_realiser_never_crosses_a_bar_line_and_lands_chord_tones() -> None:
    values = ["C,1.500", "C,1.500,<m2,M2>", "C,3.000,<M-2,m-2>"] * 8
    piece = values_to_piece(values, BLUES[:4], seed=0)
    for measure in piece.measures:
        assert measure.notes, "every measure gets notes"
        for note in measure.notes:
            assert note.duration > 0
            assert to_ticks(note.end) <= to_ticks(measure.length)
            assert note.pitch % 12 in measure.chord_at(note.offset).pitch_classes
            assert PLAYABLE_RANGE[0] <= note.pitch <= PLAYABLE_RANGE[1]


def test_realiser_is_deterministic_for_a_seed() -> None:
    values = ["C,0.500", "S,0.500,<m2,M2>", "A,0.500,<m2,M2>", "C,0.500,<m2,M2>"] * 20
    first = values_to_piece(values, BLUES, seed=7)
    assert values_to_piece(values, BLUES, seed=7) == first
    assert values_to_piece(values, BLUES, seed=8) != first


def test_realiser_reports_done_and_refuses_more() -> None:
    realiser = Realiser(BLUES[:1])
    realiser.add("C,2.000")
    assert not realiser.done and realiser.ticks_left_in_measure == 2 * TICKS_PER_QUARTER
    realiser.add("C,4.000")  # shortened to the bar line
    assert realiser.done
    assert realiser.values_used[-1].startswith("C,2.000")
    with pytest.raises(GrammarError):
        realiser.add("C,1.000")


def test_leaps_follow_their_bracket_when_a_pitch_fits() -> None:
    values = ["C,1.000"] + ["C,1.000,<P4,P5>", "C,1.000,<P-5,P-4>"] * 10
    piece = values_to_piece(values, parse_progression("| C6 | C6 | C6 | C6 | C6 |"), seed=1)
    pitches = [n.pitch for n in piece.notes_absolute()]
    steps = [b - a for a, b in itertools.pairwise(pitches)]
    assert all(5 <= abs(s) <= 7 for s in steps)
    assert all((s > 0) == (i % 2 == 0) for i, s in enumerate(steps))


# Random melodies: onsets and durations on the grid, pitches anywhere playable.
durations = st.sampled_from([3, 4, 6, 8, 12, 18, 24])  # 16th, triplet 8th, 8th, ..., half
chord_symbols = st.sampled_from(
    ["C7", "Fmaj7", "Bbm7", "F#m7b5", "Ebdim7", "G7alt", "Ab6", "Dsus4"]
)


@st.composite
def melodies(draw: st.DrawFn) -> Piece:
    measures = []
    for _ in range(draw(st.integers(1, 4))):
        symbols = draw(st.lists(chord_symbols, min_size=1, max_size=2))
        share = 48 // len(symbols)
        chords = tuple(
            ChordSpan(i * share / TICKS_PER_QUARTER, share / TICKS_PER_QUARTER, parse_chord(s))
            for i, s in enumerate(symbols)
        )
        notes, tick = [], 0
        while tick < 48:
            length = min(draw(durations), 48 - tick)
            if draw(st.booleans()) or tick == 0:
                pitch = draw(st.integers(PLAYABLE_RANGE[0], PLAYABLE_RANGE[1]))
                notes.append(Note(tick / TICKS_PER_QUARTER, length / TICKS_PER_QUARTER, pitch))
            tick += length
        measures.append(Measure(4.0, chords, tuple(notes)))
    return Piece(tuple(measures))


@settings(max_examples=60, deadline=None)
@given(melody=melodies(), seed=st.integers(0, 2**16))
def test_parse_realise_parse_keeps_every_type_and_duration(melody: Piece, seed: int) -> None:
    values = piece_to_values(melody)
    realised = values_to_piece(values, melody.progression, seed=seed)
    again = piece_to_values(realised)
    parsed_first = [Value.parse(v) for v in values]
    parsed_again = [Value.parse(v) for v in again]
    assert [(v.type, v.ticks) for v in parsed_again] == [(v.type, v.ticks) for v in parsed_first]


def test_an_outside_value_the_chord_cannot_give_is_recorded_as_played() -> None:
    realiser = Realiser(parse_progression("| Bb7 |"), seed=1)
    for value in ["C,0.500", "S,0.500,<M2,M2>", "X,0.500,<M-2,m-2>"]:
        realiser.add(value)
    played = realiser.piece()
    assert realiser.values_used == piece_to_values(played)[: len(realiser.values_used)]
    assert Value.parse(realiser.values_used[-1]).type == "A"  # Bb7 has no outside tones
