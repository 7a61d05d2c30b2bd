"""The chord-relative values grammar: notes to values and back."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jazz_utils.chords import parse_chord, parse_progression
from jazz_utils.errors import GrammarError
from jazz_utils.grammar import (
    PLAYABLE_RANGE,
    START_SPREAD,
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
from jazz_utils.register import CORPUS_REGISTER, Register, register_for, register_of
from jazz_utils.rhythm import off_grid_beats

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


# Random melodies: notes start on the beat grid (straight sixteenths or triplet eighths
# within each beat, as in the corpus), pitches anywhere playable.
durations = st.sampled_from([3, 4, 6, 8, 12, 18, 24])  # 16th, triplet 8th, 8th, ..., half
after_a_sixteenth = st.sampled_from([3, 6, 12, 18, 24])  # stays on the sixteenth grid
after_a_triplet = st.sampled_from([4, 8, 12, 24])  # completes the triplet
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
            position = tick % TICKS_PER_QUARTER
            step = (
                durations
                if position == 0
                else after_a_triplet
                if position % 4 == 0
                else after_a_sixteenth
            )
            length = min(draw(step), 48 - tick)
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


def test_off_grid_values_are_played_on_the_beat_grid_with_their_types() -> None:
    # a triplet eighth then straight eighths: the network's clock leaves the grid
    values = ["C,0.333", "S,0.500,<m2,M2>", "C,0.500,<m2,M2>", "A,0.333,<M-2,m-2>"] * 12
    piece = values_to_piece(values, BLUES[:4], seed=3)
    assert off_grid_beats(piece)[0] == 0
    played = [Value.parse(v) for v in piece_to_values(piece) if not v.startswith("R")]
    chosen = [Value.parse(v) for v in values if not v.startswith("R")]
    assert [v.type for v in played] == [v.type for v in chosen[: len(played)]]
    assert min(n.duration for m in piece.measures for n in m.notes) >= 0.25


def test_nothing_shorter_than_a_sixteenth_is_left_at_a_bar_line() -> None:
    # each bar's last value crosses the bar line by a little
    values = ["C,1.000", "C,1.333,<m2,M2>", "C,1.000,<M-2,m-2>", "S,0.833,<m2,M2>"] * 8
    piece = values_to_piece(values, BLUES[:6], seed=0)
    notes = [n for m in piece.measures for n in m.notes]
    assert notes and min(to_ticks(n.duration) for n in notes) >= TICKS_PER_QUARTER // 4
    assert off_grid_beats(piece)[0] == 0


def test_a_value_crossing_the_bar_line_ends_on_it_and_the_next_chord_tone_starts_the_bar() -> None:
    realiser = Realiser(parse_progression("| C7 | F7 |"), seed=0)
    realiser.add("C,3.000", upcoming="C,1.000,<m2,M2>")
    realiser.add("C,2.000,<m2,M2>", upcoming="C,1.000,<m2,M2>")  # 1 beat over the bar line
    assert realiser.measure_index == 1 and realiser.tick == 0
    # a scale tone next keeps the network's clock instead: silence, then the note
    realiser = Realiser(parse_progression("| C7 | F7 |"), seed=0)
    realiser.add("C,3.000", upcoming="C,1.000,<m2,M2>")
    realiser.add("C,2.000,<m2,M2>", upcoming="S,1.000,<m2,M2>")
    assert realiser.measure_index == 1 and realiser.tick == TICKS_PER_QUARTER


def test_the_line_stays_in_its_register_and_turns_back_at_the_edges() -> None:
    values = ["C,0.500"] + ["C,0.500,<m3,M3>"] * 120  # always up a third
    piece = values_to_piece(values, BLUES, seed=2, register=(55, 65, 76))
    pitches = [n.pitch for m in piece.measures for n in m.notes]
    assert all(55 <= p <= 76 for p in pitches)
    assert max(pitches) >= 72 and min(pitches) <= 60, "it moves through the register"
    low = values_to_piece(values, BLUES, seed=2, register=(48, 52, 60))
    assert all(48 <= n.pitch <= 60 for m in low.measures for n in m.notes)


def test_the_first_note_starts_near_the_registers_centre() -> None:
    for seed in range(10):
        piece = values_to_piece(["C,1.000"] * 4, BLUES[:1], seed=seed, register=(50, 60, 70))
        assert abs(piece.measures[0].notes[0].pitch - 60) <= START_SPREAD


def test_chord_tones_on_a_chord_change_take_its_3rd_or_7th_when_the_leap_allows() -> None:
    progression = parse_progression("| Dm7 G7 | Cmaj7 | Dm7 G7 | Cmaj7 | Dm7 G7 | Cmaj7 |")
    brackets = ["<m2,M2>", "<M-2,m-2>", "<m3,M3>", "<M-3,m-3>", "<P4,P5>", "<P-5,P-4>"]
    offered = taken = 0
    for seed in range(16):
        rng = np.random.default_rng(seed)
        values = ["C,1.000"] + [f"C,1.000,{brackets[i]}" for i in rng.integers(6, size=24)]
        piece = values_to_piece(values, progression, seed=seed)
        notes = [(m.chord_at(n.offset), n) for m in piece.measures for n in m.notes]
        for k in range(1, len(notes)):
            chord, note = notes[k]
            if to_ticks(note.offset) not in (0, 24):  # chords change on beats 1 and 3
                continue
            low, high = Value.parse(values[k]).bracket  # type: ignore[misc]
            guide = {chord.third, chord.seventh}
            previous = notes[k - 1][1].pitch
            reachable = [previous + leap for leap in range(low, high + 1)]
            low_r, _, high_r = CORPUS_REGISTER
            if any(p % 12 in guide and low_r <= p <= high_r for p in reachable):
                offered += 1
                taken += note.pitch % 12 in guide
    assert offered > 40 and taken == offered


def test_approach_tones_resolve_by_step_into_the_next_chord_tone() -> None:
    phrase = ["A,0.500,<m3,M3>", "C,0.500,<m2,M2>", "A,0.500,<M-3,m-3>", "C,0.500,<M-2,m-2>"]
    for seed in range(5):
        piece = values_to_piece(["C,1.000", *phrase * 16], BLUES[:8], seed=seed)
        notes = [(m.chord_at(n.offset), n) for m in piece.measures for n in m.notes]
        resolved = [
            note_type(b.pitch, chord_b) == "C" and 1 <= abs(b.pitch - a.pitch) <= 2
            for (chord_a, a), (chord_b, b) in itertools.pairwise(notes)
            if note_type(a.pitch, chord_a) == "A"
        ]
        assert resolved and all(resolved)


def test_bundled_corpus_register() -> None:
    from jazz_utils.data import load_pieces

    assert register_of(load_pieces()) == CORPUS_REGISTER
    assert str(CORPUS_REGISTER) == "F3-G5 around F4"


def test_register_fitted_to_the_instrument() -> None:
    assert register_for("tenor sax") == Register(53, 65, 76)  # no G5 on a tenor
    assert register_for("Alto Sax") == Register(53, 65, 79)
    assert register_for("kazoo", (50, 60, 70)) == Register(50, 60, 70)
    assert register_for("tenor sax", (80, 85, 90)) == Register(44, 60, 76)


@pytest.mark.parametrize("bad", [(60, 50, 70), (1, 2), "low", (0, 60, 200)])
def test_bad_registers(bad: object) -> None:
    with pytest.raises(GrammarError, match="register"):
        values_to_piece(["C,1.000"], BLUES[:1], register=bad)  # type: ignore[arg-type]
    with pytest.raises(GrammarError, match="no notes"):
        register_of([values_to_piece(["R,4.000"], BLUES[:1])])


def test_a_rest_may_move_the_phrase_after_it_by_an_eighth_onto_the_beat() -> None:
    phrase = ["S,0.500,<m2,M2>", "C,0.500,<m2,M2>", "S,0.500,<m2,M2>", "C,0.500,<m2,M2>"]

    def onsets(values: list[str], rephase: bool) -> list[int]:
        realiser = Realiser(parse_progression("| C7 | C7 |"), rephase_rests=rephase)
        for k, value in enumerate(values):
            realiser.add(value, upcoming=values[k + 1 :])
        return [to_ticks(n.offset) for n in realiser.piece().measures[0].notes]

    # the rest loses an eighth, so that a chord tone, not a scale tone, falls on beat 3
    assert onsets(["C,1.000", "R,1.000", *phrase], rephase=True) == [0, 18, 24, 30, 36]
    assert onsets(["C,1.000", "R,1.000", *phrase], rephase=False) == [0, 24, 30, 36, 42]
    assert onsets(["C,1.000", "R,1.000", *phrase[1:]], rephase=True) == [0, 24, 30, 36]
