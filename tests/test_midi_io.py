"""Writing and reading MIDI: round trips through our reader, music21 and mido."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import mido
import pytest

from jazz_utils.chords import parse_progression
from jazz_utils.corpus import read_piece
from jazz_utils.errors import MidiWriteError
from jazz_utils.grammar import values_to_piece
from jazz_utils.midi_io import (
    PPQ,
    SOLO_INSTRUMENTS,
    MidiPart,
    read_midi,
    write_midi,
    write_parts,
)
from jazz_utils.piece import to_ticks

PROGRESSION = parse_progression("| Dm7 G7 | Cmaj7 | Cm7 F7 | Bbmaj7 |")
VALUES = ["C,0.500", "S,0.333,<m2,M2>", "C,0.333,<m2,M2>", "A,0.333,<M-2,m-2>", "C,1.500,<m3,M3>",
          "R,0.500", "C,0.250,<M-2,m-2>", "S,0.250,<M-2,m-2>", "C,0.500,<m3,M3>"] * 6  # fmt: skip


@pytest.fixture
def solo():
    return values_to_piece(VALUES, PROGRESSION, seed=2, tempo=132)


def test_round_trip_through_our_reader(solo, tmp_path: Path) -> None:
    back = read_piece(write_midi(solo, tmp_path / "solo.mid"))
    assert back.measures == solo.measures
    assert back.tempo == 132
    assert back.progression.to_text() == PROGRESSION.to_text()


def test_read_midi_gives_back_the_tracks_and_chord_symbols_written(solo, tmp_path: Path) -> None:
    data = read_midi(write_midi(solo, tmp_path / "solo.mid", instrument="trumpet"))
    assert [(t.name, t.instrument, t.is_drum) for t in data.tracks] == [
        ("Melody", "Trumpet", False),
        ("Chords", "Acoustic Grand Piano", False),
    ]
    written = [(to_ticks(n.offset), to_ticks(n.end), n.pitch) for n in solo.notes_absolute()]
    assert data.tracks[0].notes == written
    symbols = [span.chord.symbol for m in PROGRESSION for span in m.chords]
    assert [chord.symbol for _, chord in data.chord_marks] == symbols
    assert (data.tempo, data.time_signature, data.end_tick) == (132, (4, 4), to_ticks(16))


def test_music21_reads_the_same_pitches_onsets_and_durations(solo, tmp_path: Path) -> None:
    from music21 import converter

    score = converter.parse(str(write_midi(solo, tmp_path / "solo.mid")), quantizePost=False)
    melody = next(p for p in score.parts if p.partName == "Melody")

    def exact(quarters: float) -> Fraction:
        return Fraction(quarters).limit_denominator(12)

    got = [(exact(n.offset), exact(n.quarterLength), n.pitch.midi) for n in melody.flatten().notes]
    want = [(exact(n.offset), exact(n.duration), n.pitch) for n in solo.notes_absolute()]
    assert got == want


def test_mido_sees_tracks_tempo_program_and_chord_text(solo, tmp_path: Path) -> None:
    midi = mido.MidiFile(str(write_midi(solo, tmp_path / "solo.mid", instrument="trumpet")))
    assert midi.ticks_per_beat == PPQ
    names = [t.name for t in midi.tracks]
    assert names == ["Conductor", "Melody", "Chords"]
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    assert tempos and round(mido.tempo2bpm(tempos[0])) == 132
    programs = [m.program for m in midi.tracks[1] if m.type == "program_change"]
    assert programs == [SOLO_INSTRUMENTS["trumpet"]]
    texts = [m.text for m in midi.tracks[2] if m.type == "text"]
    assert texts == ["Dm7", "G7", "Cmaj7", "Cm7", "F7", "Bbmaj7"]
    ons = sum(1 for m in midi.tracks[1] if m.type == "note_on")
    assert ons == len(solo.notes_absolute())


def test_comping_can_be_left_out(solo, tmp_path: Path) -> None:
    midi = mido.MidiFile(str(write_midi(solo, tmp_path / "solo.mid", comping=False)))
    assert not [m for m in midi.tracks[2] if m.type == "note_on"]
    assert read_piece(tmp_path / "solo.mid").measures == solo.measures


def test_drums_get_no_program_change(tmp_path: Path) -> None:
    path = write_parts([MidiPart("Drums", 9, 0, [(0.0, 0.5, 51, 80)])], tmp_path / "d.mid")
    track = mido.MidiFile(str(path)).tracks[1]
    assert not [m for m in track if m.type == "program_change"]
    assert [m.channel for m in track if m.type == "note_on"] == [9]


@pytest.mark.parametrize(
    "part",
    [
        MidiPart("x", 16, 0),
        MidiPart("x", 0, 128),
        MidiPart("x", 0, 0, [(0.0, 0.0, 60, 90)]),
        MidiPart("x", 0, 0, [(0.0, 1.0, 128, 90)]),
    ],
)
def test_bad_parts_raise(part: MidiPart, tmp_path: Path) -> None:
    with pytest.raises(MidiWriteError):
        write_parts([part], tmp_path / "bad.mid")


def test_unknown_instrument_and_bad_tempo(solo, tmp_path: Path) -> None:
    with pytest.raises(MidiWriteError, match="kazoo"):
        write_midi(solo, tmp_path / "x.mid", instrument="kazoo")
    with pytest.raises(MidiWriteError, match="tempo"):
        write_midi(solo, tmp_path / "x.mid", tempo=0)
