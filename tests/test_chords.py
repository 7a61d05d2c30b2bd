"""Chord symbols as jazz musicians write them, and progressions from text."""

from __future__ import annotations

import pytest

from jazz_utils.chords import name_chord, parse_chord, parse_progression
from jazz_utils.errors import ChordError

C, Db, D, Eb, E, F, Gb, G, Ab, A, Bb, B = range(12)

TONES = {
    "Bb7": (Bb, {Bb, D, F, Ab}),
    "Ebmaj7": (Eb, {Eb, G, Bb, D}),
    "F#m7b5": (Gb, {Gb, A, C, E}),
    "Cm7": (C, {C, Eb, G, Bb}),
    "C-7": (C, {C, Eb, G, Bb}),
    "C^7": (C, {C, E, G, B}),
    "Cø7": (C, {C, Eb, Gb, Bb}),
    "Ch7": (C, {C, Eb, Gb, Bb}),
    "Co7": (C, {C, Eb, Gb, A}),
    "Cdim7": (C, {C, Eb, Gb, A}),
    "C7alt": (C, {C, E, Bb, Db, Eb, Gb, Ab}),
    "C7#9": (C, {C, E, G, Bb, Eb}),
    "C13": (C, {C, E, G, Bb, D, A}),
    "C6/9": (C, {C, E, G, A, D}),
    "Csus4": (C, {C, F, G}),
    "C/E": (C, {C, E, G}),
    "Ab": (Ab, {Ab, C, Eb}),
    "Dbmaj7": (Db, {Db, F, Ab, C}),
    "Gbm": (Gb, {Gb, A, Db}),
    "E7b9": (E, {E, Ab, B, D, F}),
    "Am(maj7)": (A, {A, C, E, Ab}),
}


@pytest.mark.parametrize("symbol", sorted(TONES))
def test_symbols_give_root_and_chord_tones(symbol: str) -> None:
    root, tones = TONES[symbol]
    chord = parse_chord(symbol)
    assert chord.root == root
    assert chord.pitch_classes == frozenset(tones)
    assert chord.pitch_classes <= chord.scale_pitch_classes


@pytest.mark.parametrize("symbol", ["Bb7", "Bbmaj7", "Bbm7", "Eb", "Ebm7b5", "Ab7", "Db7"])
def test_a_flat_is_never_read_as_a_natural(symbol: str) -> None:
    chord = parse_chord(symbol)
    natural = {"B": B, "E": E, "A": A, "D": D}[symbol[0]]
    assert chord.root == natural - 1


def test_slash_chord_keeps_root_and_sets_bass() -> None:
    chord = parse_chord("Bb7/Ab")
    assert (chord.root, chord.bass) == (Bb, Ab)
    assert parse_chord("C6/9").bass == C  # 6/9 is no slash chord


def test_music21_reads_our_normalised_spelling_with_the_right_root() -> None:
    from music21 import harmony

    for symbol in ("Bb7", "Ebmaj7", "Abm7", "Db7"):
        chord = parse_chord(symbol)
        m21 = harmony.ChordSymbol(chord.music21_figure())
        assert m21.root().pitchClass == chord.root, symbol


@pytest.mark.parametrize("symbol", ["H7", "Cx7", "", "C7q", "Cmaj7 extra", "7"])
def test_unknown_symbols_raise_chord_error_naming_them(symbol: str) -> None:
    with pytest.raises(ChordError) as error:
        parse_chord(symbol)
    if symbol:
        assert repr(symbol) in str(error.value)


def test_progression_bars_share_time_evenly() -> None:
    progression = parse_progression("| Dm7 G7 | Cmaj7 |")
    assert len(progression) == 2
    first, second = progression
    assert [(s.offset, s.duration, s.chord.symbol) for s in first.chords] == [
        (0.0, 2.0, "Dm7"),
        (2.0, 2.0, "G7"),
    ]
    assert [(s.offset, s.duration) for s in second.chords] == [(0.0, 4.0)]
    assert progression.total_length == 8.0


def test_progression_repeat_sign_waltz_time_and_round_trip_text() -> None:
    progression = parse_progression("| Bb7 | % | Ebmaj7 Eb6 Edim7 |", time_signature=(3, 4))
    assert [m.length for m in progression] == [3.0, 3.0, 3.0]
    assert progression[1].chords == progression[0].chords
    assert [s.duration for s in progression[2].chords] == [1.0, 1.0, 1.0]
    assert parse_progression(progression.to_text(), (3, 4)) == progression


def test_progression_slices_are_progressions() -> None:
    progression = parse_progression("| F7 | Bb7 | F7 | C7 |")
    assert progression[1:3].to_text() == "| Bb7 | F7 |"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("| Dm7 G7 | Cxx |", "Bar 2"),
        ("| Dm7 | | G7 |", "Bar 2"),
        ("", "no bars"),
        ("| % | C |", "no bar to repeat"),
    ],
)
def test_bad_progressions_name_the_bar(text: str, needle: str) -> None:
    with pytest.raises(ChordError, match=needle):
        parse_progression(text)


def test_progression_error_names_the_symbol() -> None:
    with pytest.raises(ChordError, match="'Cxx'"):
        parse_progression("| Dm7 G7 | Cxx |")


@pytest.mark.parametrize(
    ("pitch_classes", "bass", "symbol"),
    [
        ({D, F, A, C}, D, "Dm7"),
        ({G, B, D, F}, G, "G7"),
        ({C, E, G, B}, C, "Cmaj7"),
        ({Bb, D, F}, Bb, "Bb"),
        ({F, A, Eb}, F, "F7"),  # a shell voicing without its fifth
        ({C, Eb, Gb, Bb}, C, "Cm7b5"),
    ],
)
def test_name_chord_recognises_voicings(pitch_classes: set[int], bass: int, symbol: str) -> None:
    named = name_chord(pitch_classes, bass=bass)
    expected = parse_chord(symbol)
    assert (named.root, named.pitch_classes) == (expected.root, expected.pitch_classes)
