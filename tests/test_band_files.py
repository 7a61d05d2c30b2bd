"""Real band files read right (issue 14): chords named from comping that holds its bass
note, every track listed with the file's own numbers, honest dropped-note counts, a
cache that keeps every description, and the library's own error for every bad input.

The band file is tests/fixtures/band_held_bass.mid, built by tests/fixture_files.py.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import fixture_files as ff
import numpy as np
import pytest

from jazz_utils import data
from jazz_utils.accompaniment import MIN_CHORD_TONES, chords_from_accompaniment
from jazz_utils.chords import parse_progression
from jazz_utils.corpus import read_piece, read_score
from jazz_utils.errors import AccompanimentIgnoredWarning, CorpusError, JazzUtilsError
from jazz_utils.grammar import values_to_piece
from jazz_utils.midi_io import write_midi
from jazz_utils.piece import Measure
from jazz_utils.score import ScoreData, Track, bar_lines

HELD = ff.FIXTURES / "band_held_bass.mid"
OPTIONS = {"melody": "Alto Sax", "accompaniment": ["Piano"]}


def _beat_chords(measures: Sequence[Measure]) -> list[str]:
    """The chord symbol of every beat of some 4/4 measures, in order."""
    return [m.chord_at(b).symbol for m in measures for b in range(4)]


# ---------------------------------------------------------------- chords from comping


@pytest.mark.parametrize("accompaniment", [["Piano"], ["Piano", "Bass"]])
def test_held_bass_note_keeps_its_chord_at_the_default_resolution(
    accompaniment: list[str],
) -> None:
    piece = read_piece(HELD, melody="Alto Sax", accompaniment=accompaniment)
    truth = ff.held_bass_progression()
    assert piece.progression.to_text() == truth.to_text()
    assert _beat_chords(piece.measures) == _beat_chords(truth)
    assert [s.chord.symbol for s in piece.measures[0].chords] == ["Fm7", "Ebmaj7"]  # not F, Eb
    assert [s.chord.symbol for s in piece.measures[2].chords] == ["Gm7"]  # not a G triad


def test_half_bar_naming_reads_the_held_bass_bars_and_merges_the_one_beat_chords() -> None:
    half = read_piece(HELD, chord_resolution="half", **OPTIONS)
    truth = ff.held_bass_progression()
    assert half.progression[:7] == truth[:7]
    # why "beat" stays the default: one-beat chords need it (bar 8: Cm7 F7 Bb7 Ebmaj7)
    assert len(half.measures[7].chords) == 2


def test_no_beat_of_the_band_files_is_named_from_one_or_two_pitch_classes() -> None:
    for path, options in ((HELD, OPTIONS), (ff.FIXTURES / "band_blues.mid", {})):
        options = options or {"melody": 0, "accompaniment": [1], "window": ff.SOLO_WINDOW}
        piece = read_piece(path, **options)
        assert all(len(s.chord.pitch_classes) >= 4 for m in piece.measures for s in m.chords)


def _score(notes: list[tuple[int, int, int]], bars: int = 2) -> ScoreData:
    """A 4/4 score with one accompaniment track of ``(start, end, pitch)`` grid notes."""
    track = Track(0, "Keys", "Piano", False, notes)
    return ScoreData(Path("keys.mid"), [track], bar_lines([], bars * 48), (4, 4), 120.0, [])


def test_a_bass_note_before_the_chord_takes_the_chord_of_its_half_bar() -> None:
    # beat 1: the bass C alone; beat 2: C E G Bb
    notes = [(0, 24, 36), (12, 24, 52), (12, 24, 55), (12, 24, 58)]
    changes = chords_from_accompaniment(
        _score(notes, 1), [_score(notes, 1).tracks[0]], 0, 48, "beat"
    )
    assert [(t, c.symbol) for t, c in changes] == [(0, "C7")]


def test_a_pushed_chord_belongs_to_the_bar_it_leads_into() -> None:
    # C7 from beat 1 to the "and" of beat 4; F7 struck there and held through bar 2
    c7 = [(0, 42, 36), (0, 12, 52), (0, 12, 55), (0, 12, 58)]
    f7 = [(42, 96, 41), (42, 60, 57), (42, 60, 60), (42, 60, 63)]
    score = _score(c7 + f7, 2)
    changes = chords_from_accompaniment(score, score.tracks, 0, 96, "beat")
    assert [(t, c.symbol) for t, c in changes] == [(0, "C7"), (48, "F7")]
    piece = read_piece(HELD, **OPTIONS)  # bar 7's Ab7 is pushed into bar 6
    assert [s.chord.symbol for s in piece.measures[5].chords] == ["Bbmaj7"]


def test_a_lone_bass_line_is_still_named_when_nothing_else_sounds() -> None:
    notes = [(0, 12, 36), (12, 24, 40), (24, 36, 43), (36, 48, 46)]  # C E G Bb, one a beat
    score = _score(notes, 1)
    changes = chords_from_accompaniment(score, score.tracks, 0, 48, "beat")
    assert [c.symbol for _, c in changes] == ["C7"]
    assert MIN_CHORD_TONES == 3


def test_the_bundled_corpus_has_chord_symbols_so_its_data_never_depends_on_naming() -> None:
    for file in data.corpus_files():
        assert read_score(file).chord_marks, f"{file} has no chord symbols"


# ---------------------------------------------------------------- tracks and numbers


def test_every_track_is_listed_drums_included_with_the_files_own_numbers() -> None:
    score = read_score(HELD)
    names = [t.name for t in score.tracks]
    assert names == ["Alto Sax", "Piano", "Bass"] + [d[0] for d in ff.HELD_BASS_DRUMS]
    drums = [t for t in score.tracks if t.is_drum]
    assert [t.name for t in drums] == ["Kick", "Snare", "Ride", "Hi-Hat", "Crash"]
    assert all(len(t.notes) == 32 for t in drums), "hits shorter than the grid are kept"
    shaker = score.tracks[-1]
    assert not shaker.is_drum and not shaker.notes and len(shaker.short_notes) == 32
    assert score.tracks[3].describe() == "3: 'Kick' (MIDI track 4, channel 10; Drums, 32 notes)"
    assert "MIDI track 9, channel 11" in shaker.describe()
    assert "32 too short for the grid" in shaker.describe()


def test_a_drum_track_by_name_is_found_and_refused_as_melody() -> None:
    with pytest.raises(CorpusError, match="'Hi-Hat'.*is a drum track"):
        read_piece(HELD, melody="Hi-Hat", accompaniment=["Piano"])
    with_drums = read_piece(HELD, melody="Alto Sax", accompaniment=["Piano", "Kick", "Ride"])
    assert with_drums == read_piece(HELD, **OPTIONS)


def test_a_track_number_past_the_list_says_how_tracks_are_numbered() -> None:
    with pytest.raises(CorpusError) as error:
        read_piece(HELD, melody="Alto Sax", accompaniment=[9])
    message = str(error.value)
    assert "accompaniment=9" in message and "lists 9 tracks, numbered 0 to 8" in message
    assert "not the MIDI file's own track numbers" in message
    assert "8: 'Shaker' (MIDI track 9, channel 11;" in message


def test_a_name_that_matches_no_track_lists_every_track_and_the_numbering() -> None:
    with pytest.raises(CorpusError, match="'Bongos' matches no track") as error:
        read_piece(HELD, melody="Alto Sax", accompaniment=["Bongos"])
    message = str(error.value)
    assert "numbered from 0 in this list" in message
    assert "4: 'Snare' (MIDI track 5, channel 10; Drums, 32 notes)" in message


# ---------------------------------------------------------------- counts and the cache


@pytest.mark.parametrize(
    ("window", "dropped"), [((0, 16), 2), ((24, 32), 3), ((8, 24), 0), (None, 5)]
)
def test_dropped_notes_counts_the_melody_window_only(
    window: tuple[float, float] | None, dropped: int
) -> None:
    assert sum(ff.HELD_BASS_DROPPED.values()) == 5
    assert read_piece(HELD, window=window, **OPTIONS).dropped_notes == dropped


def test_the_cache_keeps_every_description(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAZZ_UTILS_CACHE", str(tmp_path))
    options = {**OPTIONS, "window": (4, 28)}
    read = data.load_piece(HELD, **options)
    assert len(list(tmp_path.glob("*.json"))) == 1

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was read again")

    monkeypatch.setattr(data, "read_piece", refuse)
    cached = data.load_piece(HELD, **options)
    assert cached == read and cached.metadata == read.metadata
    assert read.metadata["melody_track"] == read_score(HELD).tracks[0].describe()
    assert read.metadata["window"] == [4.0, 28.0]
    assert "1: 'Piano'" in str(read.metadata["chords_from"])
    assert cached.dropped_notes == read.dropped_notes == 5


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("window", "says"),
    [
        ((10, 10), "is empty"),
        ((10, 10.01), "is empty"),
        ((20, 10), r"ends before it starts.*window=\(10, 20\)"),
        ((0, math.nan), "holds nan"),
        ((math.nan, 8), "holds nan"),
        ((0, math.inf), r"is infinite.*window=\(0, 32\)"),
        ((-math.inf, 8), "is infinite"),
        ((0, 10**400), "is infinite"),
        ((0, "x"), "must be"),
        ((0, 4, 8), "must be"),
    ],
)
def test_bad_windows(window: tuple[float, float], says: str) -> None:
    with pytest.raises(CorpusError, match=says) as error:
        read_piece(HELD, window=window, **OPTIONS)
    assert "lie outside" not in str(error.value) and "lies outside" not in str(error.value)
    assert type(error.value) is CorpusError


def _overwritten(tmp_path: Path, offset: int, fill: bytes) -> Path:
    data_ = bytearray(HELD.read_bytes())
    data_[offset : offset + 200] = fill
    path = tmp_path / "overwritten.mid"
    path.write_bytes(bytes(data_))
    return path


def test_a_midi_file_with_200_bytes_overwritten_raises_our_error(tmp_path: Path) -> None:
    path = _overwritten(tmp_path, 100, b"\xff" * 200)  # was OverflowError from corpus.py
    with pytest.raises(CorpusError, match="overwritten.mid is damaged") as error:
        read_piece(path, **OPTIONS)
    assert error.value.__cause__ is None


def test_damage_anywhere_gives_our_error_or_a_piece(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    size = len(HELD.read_bytes())
    for offset in range(14, size - 200, 97):
        for fill in (b"\xff" * 200, bytes(200), rng.integers(0, 256, 200, np.uint8).tobytes()):
            path = _overwritten(tmp_path, offset, fill)
            try:
                read_piece(path, melody=0, accompaniment=[1])
            except JazzUtilsError as error:
                assert "overwritten.mid" in str(error)


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"seed": "x"}, "seed must be a whole number >= 0"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
        ({"seed": 1.5}, "seed must be a whole number >= 0"),
        ({"source": 123}, r"source is int .*source='my_band.mid'"),
        ({"source": b"my_band.mid"}, r"source is bytes .*as text"),
        ({"source": [HELD, 7]}, "source is int"),
    ],
)
def test_bad_load_music_utils_arguments(arguments: dict[str, object], says: str) -> None:
    arguments = {"source": HELD, **arguments}
    with pytest.raises(CorpusError, match=says):
        data.load_music_utils(**arguments, **OPTIONS)  # type: ignore[arg-type]


def test_an_m_too_large_for_memory_says_how_much_and_what_to_use() -> None:
    with pytest.raises(CorpusError) as error:
        data.load_music_utils(HELD, Tx=8, m=10**12, **OPTIONS)  # type: ignore[arg-type]
    message = str(error.value)
    assert "GiB for X and Y" in message and "drawn again" in message
    distinct = int(message.rsplit("use m <= ", 1)[1].rstrip(".").replace(",", ""))
    assert 0 < distinct < 100  # an 8-bar melody of eighths holds a few dozen windows
    X = data.load_music_utils(HELD, Tx=8, m=distinct, **OPTIONS)[0]  # type: ignore[arg-type]
    assert X.shape[0] == distinct


def test_read_piece_refuses_a_source_that_is_no_path() -> None:
    for source in (123, b"band.mid", None):
        with pytest.raises(CorpusError, match="source"):
            read_piece(source)  # type: ignore[arg-type]


def _file_with_chord_symbols(tmp_path: Path) -> Path:
    chords = parse_progression("| Dm7 G7 | Cmaj7 |")
    solo = values_to_piece(["C,1.000", "S,0.500,<m2,M2>", "C,0.500,<m2,M2>"] * 4, chords)
    return write_midi(solo, tmp_path / "with_symbols.mid")


def test_accompaniment_on_a_file_with_chord_symbols_warns_and_the_symbols_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _file_with_chord_symbols(tmp_path)
    plain = read_piece(path)
    with pytest.warns(
        AccompanimentIgnoredWarning, match=r"with_symbols.mid has chord symbols.*\[99\]"
    ):
        piece = read_piece(path, accompaniment=[99])
    assert piece == plain and piece.metadata["chords_from"] == "chord symbols in the file"
    monkeypatch.setenv("JAZZ_UTILS_CACHE", str(tmp_path / "cache"))
    for _ in range(2):  # filled from the file, then from the cache: it warns both times
        with pytest.warns(AccompanimentIgnoredWarning):
            data.load_piece(path, accompaniment=["Piano"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.load_piece(path)  # no accompaniment, no warning
    assert json.loads(next((tmp_path / "cache").glob("*.json")).read_text())["metadata"]


@pytest.mark.parametrize("accompaniment", [1.5, [], "", [True]])
def test_bad_accompaniment_selectors(accompaniment: object) -> None:
    with pytest.raises(CorpusError, match="accompaniment") as error:
        read_piece(HELD, melody="Alto Sax", accompaniment=accompaniment)  # type: ignore[arg-type]
    assert "Tracks of band_held_bass.mid" in str(error.value)


def test_a_tx_longer_than_every_piece_is_told_so_not_told_about_memory() -> None:
    with pytest.raises(CorpusError, match="No piece has 1000000000001 values"):
        data.load_music_utils(HELD, Tx=10**12, m=60, **OPTIONS)  # type: ignore[arg-type]
