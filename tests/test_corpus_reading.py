"""Reading MIDI and MusicXML into melody and chords, and bad input."""

from __future__ import annotations

from pathlib import Path

import fixture_files as ff
import pytest

from jazz_utils.chords import parse_progression
from jazz_utils.corpus import read_piece, read_score, top_line
from jazz_utils.errors import ChordError, CorpusError, JazzUtilsError
from jazz_utils.grammar import piece_to_values, values_to_piece
from jazz_utils.midi_io import MidiPart, write_midi, write_parts

BAND = ff.FIXTURES / "band_blues.mid"
WALTZ = ff.FIXTURES / "waltz_pickup.musicxml"


def test_fixtures_are_current(tmp_path: Path) -> None:
    for built in ff.build_all(tmp_path):
        committed = ff.FIXTURES / built.name
        assert committed.read_bytes() == built.read_bytes(), (
            f"{committed} differs from what tests/fixture_files.py builds; "
            "run `python tests/fixture_files.py`"
        )


def test_band_file_solo_window_loads_into_the_values_played() -> None:
    piece = read_piece(BAND, melody="Tenor Sax", accompaniment=["Piano"], window=ff.SOLO_WINDOW)
    solo = ff.band_solo()
    assert len(piece.measures) == ff.SOLO_BARS[1] - ff.SOLO_BARS[0] + 1
    assert [[(s.offset, s.chord.pitch_classes) for s in m.chords] for m in piece.measures] == [
        [(s.offset, s.chord.pitch_classes) for s in m.chords] for m in solo.measures
    ]
    assert [s.chord.root for m in piece.measures for s in m.chords] == [
        s.chord.root for m in solo.measures for s in m.chords
    ]
    assert piece_to_values(piece) == piece_to_values(solo)
    assert piece.tempo == 160


def test_band_tracks_are_listed_with_drums_marked() -> None:
    data = read_score(BAND)
    assert len(data.tracks) == 25
    drums = [t for t in data.tracks if t.is_drum]
    assert [t.name for t in drums] == ["Drums"]
    assert data.tracks[0].instrument == "Tenor Sax"


def test_melody_by_index_equals_melody_by_name() -> None:
    by_name = read_piece(BAND, melody="tenor", accompaniment="Piano", window=ff.SOLO_WINDOW)
    by_index = read_piece(BAND, melody=0, accompaniment=[1], window=ff.SOLO_WINDOW)
    assert by_name == by_index


def test_half_bar_chord_resolution_reads_two_chord_bars() -> None:
    piece = read_piece(BAND, melody=0, accompaniment=[1], window=(0, 48), chord_resolution="half")
    assert [s.chord.symbol for s in piece.measures[3].chords] == ["Cm7", "F7"]


def test_musicxml_waltz_with_pickup_keeps_barlines_and_flat_roots() -> None:
    piece = read_piece(WALTZ)
    assert piece.time_signature == (3, 4)
    assert [m.length for m in piece.measures] == [3.0] * 5
    pickup, first = piece.measures[0], piece.measures[1]
    assert [(n.offset, n.pitch) for n in pickup.notes] == [(2.0, 65)]
    assert [(n.offset, n.duration, n.pitch) for n in first.notes] == [
        (0.0, 1.0, 62), (1.0, 1.0, 65), (2.0, 1.0, 68),
    ]  # fmt: skip
    symbols = [m.chords[0].chord.symbol for m in piece.measures[1:]]
    assert symbols == [c[3] for c in ff.WALTZ_CHORDS]
    assert piece.measures[1].chords[0].chord.root == 10  # B-flat, not B
    assert piece.measures[0].chords[0].chord.symbol == "Bb7"  # the pickup leads into bar 1


def test_midi_in_three_four_time(tmp_path: Path) -> None:
    progression = parse_progression("| Bb7 | Ebmaj7 | Cm7 | F7 |", time_signature=(3, 4))
    solo = values_to_piece(
        ["C,1.000", "S,0.500,<m2,M2>", "C,0.500,<m2,M2>", "R,1.000"] * 8, progression
    )
    path = write_midi(solo, tmp_path / "waltz.mid")
    piece = read_piece(path)
    assert piece.time_signature == (3, 4)
    assert [m.length for m in piece.measures] == [3.0] * 4
    assert piece.measures == solo.measures


def test_polyphonic_melody_is_reduced_to_its_top_line_and_reported(tmp_path: Path) -> None:
    melody = MidiPart(
        "Melody", 0, 0, [(0, 1, 60, 90), (0, 1, 64, 90), (0, 1, 67, 90), (1, 3, 65, 90)]
    )
    chords = MidiPart("Chords", 1, 0, texts=[(0.0, "F7")])
    piece = read_piece(write_parts([melody, chords], tmp_path / "poly.mid"))
    assert [(n.offset, n.pitch) for n in piece.measures[0].notes] == [(0.0, 67), (1.0, 65)]
    assert piece.dropped_notes == 2


def test_top_line_cuts_a_note_where_the_next_begins() -> None:
    line, dropped = top_line([(0, 24, 60), (12, 24, 62), (12, 18, 55)])
    assert line == [(0, 12, 60), (12, 24, 62)] and dropped == 1


def test_music21_lead_sheet_loads_by_name() -> None:
    piece = read_piece("music21:leadSheet/fosterBrownHair")
    assert len(piece.measures) > 10
    assert all(m.chords for m in piece.measures)
    assert any(m.notes for m in piece.measures)


# ---------------------------------------------------------------- bad input


def _no_traceback_from_music21(error: BaseException) -> None:
    assert isinstance(error, JazzUtilsError)
    assert error.__cause__ is None and error.__suppress_context__


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="nope.mid does not exist"):
        read_piece(tmp_path / "nope.mid")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mid").write_bytes(b"")
    with pytest.raises(CorpusError, match="empty.mid is empty"):
        read_piece(tmp_path / "empty.mid")


def test_text_file_named_mid(tmp_path: Path) -> None:
    (tmp_path / "notes.mid").write_text("this is not music\n" * 10)
    with pytest.raises(CorpusError, match="notes.mid is not a readable MIDI file") as error:
        read_piece(tmp_path / "notes.mid")
    _no_traceback_from_music21(error.value)


def test_truncated_midi(tmp_path: Path) -> None:
    data = BAND.read_bytes()
    (tmp_path / "cut.mid").write_bytes(data[: len(data) // 3])
    with pytest.raises(CorpusError, match="cut.mid is not a readable MIDI file") as error:
        read_piece(tmp_path / "cut.mid")
    _no_traceback_from_music21(error.value)


def test_broken_musicxml(tmp_path: Path) -> None:
    (tmp_path / "broken.musicxml").write_text("<score-partwise><part id='P1'><measure")
    with pytest.raises(CorpusError, match="broken.musicxml is not a readable MusicXML") as error:
        read_piece(tmp_path / "broken.musicxml")
    _no_traceback_from_music21(error.value)


def test_unsupported_suffix(tmp_path: Path) -> None:
    (tmp_path / "song.mp3").write_bytes(b"ID3")
    with pytest.raises(CorpusError, match="'.mp3'"):
        read_piece(tmp_path / "song.mp3")


def test_midi_without_notes(tmp_path: Path) -> None:
    path = write_parts([MidiPart("Melody", 0, 0)], tmp_path / "silent.mid")
    with pytest.raises(CorpusError, match="silent.mid holds no notes"):
        read_piece(path)


def test_melody_without_chords_or_accompaniment_lists_the_tracks(tmp_path: Path) -> None:
    path = write_parts(
        [MidiPart("Sax", 0, 66, [(0, 1, 60, 90)]), MidiPart("Keys", 1, 0, [(0, 4, 48, 60)])],
        tmp_path / "bare.mid",
    )
    with pytest.raises(CorpusError, match="no chord symbols") as error:
        read_piece(path, melody="Sax")
    assert "'Keys'" in str(error.value) and "accompaniment=" in str(error.value)


def test_several_tracks_and_no_melody_named(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="say which one is the melody"):
        read_piece(BAND, accompaniment=["Piano"])


def test_unknown_track_name() -> None:
    with pytest.raises(CorpusError, match="'Bassoon' matches no track"):
        read_piece(BAND, melody="Bassoon", accompaniment=["Piano"])


def test_unknown_chord_symbol_in_a_midi_chord_track(tmp_path: Path) -> None:
    melody = MidiPart("Melody", 0, 0, [(0, 1, 60, 90), (4, 1, 62, 90)])
    chords = MidiPart("Chords", 1, 0, texts=[(0.0, "F7"), (4.0, "Fx9")])
    with pytest.raises(ChordError, match=r"bad_chord.mid, bar 2: .*'Fx9'"):
        read_piece(write_parts([melody, chords], tmp_path / "bad_chord.mid"))


# A reversed window, (20.0, 10.0), was told it "lies outside" the file; issue 14 asks for
# a message that says what is wrong, in test_band_files.py::test_bad_windows.
@pytest.mark.parametrize("window", [(1000.0, 1100.0), (-50.0, -10.0)])
def test_window_outside_the_piece(window: tuple[float, float]) -> None:
    with pytest.raises(CorpusError, match="lies outside band_blues.mid"):
        read_piece(BAND, melody=0, accompaniment=[1], window=window)


def test_window_with_no_melody_notes() -> None:
    with pytest.raises(CorpusError, match="has no notes between"):
        read_piece(BAND, melody=0, accompaniment=[1], window=(100.0, 140.0))
