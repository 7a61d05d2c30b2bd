"""The backing band: walking bass, piano comping, drums, swing, and the MIDI it writes."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jazz_utils.band import (
    BASS_CHANNEL,
    BASS_PROGRAM,
    BASS_RANGE,
    DRUM_CHANNEL,
    HIHAT_PEDAL,
    PIANO_CHANNEL,
    RIDE,
    backing_parts,
    swing,
    swing_part,
    write_band_midi,
)
from jazz_utils.chords import parse_progression
from jazz_utils.corpus import read_piece
from jazz_utils.errors import ChordError, MidiWriteError
from jazz_utils.grammar import values_to_piece
from jazz_utils.midi_io import PPQ, SOLO_INSTRUMENTS, MidiPart
from jazz_utils.performance import RenderOptions
from jazz_utils.piece import to_ticks

BLUES = parse_progression(
    "| F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | Am7b5 D7 | Gm7 | C7 | F7 D7 | Gm7 C7 |"
)
VALUES = ["C,0.500", "S,0.500,<m2,M2>", "C,0.500,<m2,M2>", "A,0.500,<M-2,m-2>",
          "C,1.000,<m2,M2>", "R,0.500", "C,0.500,<m3,M3>", "S,0.333,<M-2,m-2>",
          "C,0.333,<M-2,m-2>", "S,0.333,<M-2,m-2>", "C,1.000,<P4,P5>", "R,1.000"] * 8  # fmt: skip


@pytest.fixture(scope="module")
def solo():
    return values_to_piece(VALUES, BLUES, seed=4, tempo=150)


def _part(parts: list[MidiPart], name: str) -> MidiPart:
    return next(p for p in parts if p.name == name)


def _changes(progression) -> list[tuple[float, object]]:
    """(time, chord) at every bar line and chord change."""
    result, start = [], 0.0
    for measure in progression:
        for span in measure.chords:
            result.append((start + span.offset, span.chord))
        start += measure.length
    return result


# ---------------------------------------------------------------- walking bass


def test_walking_bass_is_quarter_notes_on_every_beat() -> None:
    bass = _part(backing_parts(BLUES, seed=1), "Bass")
    assert (bass.channel, bass.program) == (BASS_CHANNEL, BASS_PROGRAM)
    assert [n[0] for n in bass.notes] == [float(b) for b in range(int(BLUES.total_length))]
    assert all(duration == 1.0 for _, duration, _, _ in bass.notes)
    assert all(BASS_RANGE[0] <= pitch <= BASS_RANGE[1] for _, _, pitch, _ in bass.notes)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_walking_bass_lands_on_the_root_of_every_chord_change(seed: int) -> None:
    bass = _part(backing_parts(BLUES, seed=seed), "Bass")
    pitch_at = {start: pitch for start, _, pitch, _ in bass.notes}
    for time, chord in _changes(BLUES):
        assert pitch_at[time] % 12 == chord.root, (time, chord.symbol)


def test_walking_bass_approaches_the_next_root_by_semitone_or_fifth() -> None:
    bass = _part(backing_parts(BLUES, seed=3), "Bass")
    pitch_at = {start: pitch for start, _, pitch, _ in bass.notes}
    for time, chord in _changes(BLUES)[1:]:
        before = pitch_at[time - 1.0]
        assert (before - chord.root) % 12 in (1, 11, 7), (time, chord.symbol, before)


def test_walking_bass_plays_the_bass_note_of_a_slash_chord_and_walks_in_three() -> None:
    waltz = parse_progression("| C/E | F | G7/B | C |", time_signature=(3, 4))
    bass = _part(backing_parts(waltz, seed=0), "Bass")
    assert len(bass.notes) == 12 and all(n[1] == 1.0 for n in bass.notes)
    assert [bass.notes[i][2] % 12 for i in (0, 3, 6, 9)] == [4, 5, 11, 0]


def test_walking_bass_uses_fifths_and_chord_tones_between_changes() -> None:
    long_chords = parse_progression("| C7 | C7 | F7 | F7 |" * 4)
    bass = _part(backing_parts(long_chords, seed=5), "Bass")
    middles = [n for n in bass.notes if n[0] % 4 in (1.0, 2.0)]
    chord_at = {0: 0, 1: 0, 2: 5, 3: 5}
    in_chord = 0
    for start, _, pitch, _ in middles:
        root = chord_at[int(start // 4) % 4]
        in_chord += (pitch - root) % 12 in (0, 4, 7, 10)
    assert in_chord / len(middles) > 0.6


# ---------------------------------------------------------------- piano comping


def test_piano_strikes_every_chord_change_with_a_rootless_voicing() -> None:
    piano = _part(backing_parts(BLUES, seed=2), "Piano")
    assert piano.channel == PIANO_CHANNEL
    for time, chord in _changes(BLUES):
        struck = {p for s, _, p, _ in piano.notes if time - 0.5 <= s <= time + 1.0}
        assert struck, (time, chord.symbol)
    by_onset: dict[float, list[int]] = {}
    for start, _, pitch, _ in piano.notes:
        by_onset.setdefault(start, []).append(pitch)
    for chord_time, chord in _changes(BLUES):
        voicing = by_onset.get(chord_time) or by_onset.get(chord_time - 0.5)
        if voicing is None:
            continue
        pcs = {p % 12 for p in voicing}
        assert len(voicing) == 4
        assert chord.third in pcs and chord.seventh in pcs, chord.symbol
        assert pcs <= chord.scale_pitch_classes, chord.symbol


def test_piano_comping_is_syncopated_and_never_overlaps_itself() -> None:
    piano = _part(backing_parts(BLUES, seed=0), "Piano")
    onsets = sorted({to_ticks(s) for s, _, _, _ in piano.notes})
    offbeats = [t for t in onsets if t % 12 == 6]
    assert len(offbeats) >= len(onsets) // 4
    ends = {to_ticks(s): to_ticks(s + d) for s, d, _, _ in piano.notes}
    for a, b in itertools.pairwise(onsets):
        assert ends[a] <= b


def test_shell_voicings_hold_root_third_and_seventh() -> None:
    piano = _part(backing_parts("| Dm7 G7 | Cmaj7 |", seed=0, voicing="shell"), "Piano")
    by_onset: dict[float, list[int]] = {}
    for start, _, pitch, _ in piano.notes:
        by_onset.setdefault(start, []).append(pitch)
    progression = parse_progression("| Dm7 G7 | Cmaj7 |")
    for start, voicing in by_onset.items():
        sounding = min(start + (0.5 if start % 1 else 0.0), 7.0)  # off-beats anticipate
        chord = progression[int(sounding // 4)].chord_at(sounding % 4)
        assert len(voicing) == 3
        assert {p % 12 for p in voicing} == {chord.root, chord.third, chord.seventh}, chord.symbol
        assert min(voicing) % 12 == chord.root


def test_unknown_voicing_and_empty_progression_are_refused() -> None:
    with pytest.raises(MidiWriteError, match="voicing"):
        backing_parts(BLUES, voicing="quartal")
    with pytest.raises(ChordError):
        backing_parts("")


# ---------------------------------------------------------------- drums


def test_drums_ride_every_beat_with_the_hi_hat_on_two_and_four() -> None:
    drums = _part(backing_parts(BLUES, seed=0), "Drums")
    assert drums.channel == DRUM_CHANNEL == 9  # "channel 10" counted from 1
    beats = int(BLUES.total_length)
    ride = {s for s, _, p, _ in drums.notes if p == RIDE}
    assert {float(b) for b in range(beats)} <= ride
    assert {b + 0.5 for b in range(1, beats, 2)} <= ride  # the skip note: "ding, ding-a"
    hats = sorted(s for s, _, p, _ in drums.notes if p == HIHAT_PEDAL)
    assert hats == [float(b) for b in range(1, beats, 2)]


def test_band_is_deterministic_by_seed() -> None:
    assert backing_parts(BLUES, seed=7) == backing_parts(BLUES, seed=7)
    assert backing_parts(BLUES, seed=7) != backing_parts(BLUES, seed=8)
    only_bass = backing_parts(BLUES, seed=7, piano=False, drum_kit=False)
    assert only_bass == backing_parts(BLUES, seed=7)[:1]


# ---------------------------------------------------------------- swing


def test_swing_moves_off_beat_eighths_to_the_ratio() -> None:
    eighths = [(0.0, 0.5, 60, 90), (0.5, 0.5, 62, 90), (1.0, 0.5, 64, 90), (1.5, 0.5, 65, 90)]
    swung = swing(eighths, 0.62)
    assert [round(s, 9) for s, _, _, _ in swung] == [0.0, 0.62, 1.0, 1.62]
    assert [round(d, 9) for _, d, _, _ in swung] == [0.62, 0.38, 0.62, 0.38]
    assert swing(eighths, 0.5) == eighths


def test_swing_leaves_beats_with_sixteenths_or_triplets_straight() -> None:
    notes = [(0.0, 0.25, 60, 90), (0.25, 0.25, 62, 90), (0.5, 0.5, 64, 90),
             (1.0, 1 / 3, 65, 90), (4 / 3, 1 / 3, 67, 90), (5 / 3, 1 / 3, 69, 90),
             (2.0, 1.0, 70, 90), (3.0, 0.5, 72, 90), (3.5, 0.5, 74, 90)]  # fmt: skip
    swung = swing(notes, 2 / 3)
    assert swung[:6] == notes[:6]
    assert swung[6] == notes[6]
    assert swung[8][0] == pytest.approx(3 + 2 / 3)


@pytest.mark.parametrize("ratio", [0.3, 0.9, "lots"])
def test_swing_ratio_out_of_range_is_refused(ratio: object) -> None:
    with pytest.raises(MidiWriteError, match="swing"):
        swing([(0.0, 0.5, 60, 90)], ratio)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 95), st.integers(1, 24)), min_size=1, max_size=30),
    st.floats(0.5, 0.8),
)
def test_swing_keeps_order_positive_lengths_and_downbeats(
    spans: list[tuple[int, int]], ratio: float
) -> None:
    notes = [(s / 12, d / 12, 60, 90) for s, d in sorted(spans)]
    swung = swing(notes, ratio)
    assert len(swung) == len(notes)
    for (s0, _, _, _), (s1, d1, _, _) in zip(notes, swung, strict=True):
        assert d1 > 0
        assert abs(s1 - s0) <= 0.3 + 1e-9
        if (s0 * 12) % 12 == 0:
            assert s1 == s0
    starts = [s for s, _, _, _ in swung]
    assert starts == sorted(starts)


def test_swing_part_keeps_text_events() -> None:
    part = MidiPart("Chords", 1, 0, [(0.5, 0.5, 60, 80)], [(0.0, "C7")])
    swung = swing_part(part, 0.6)
    assert swung.texts == part.texts and swung.notes[0][0] == pytest.approx(0.6)
    assert part.notes == [(0.5, 0.5, 60, 80)]  # the original is untouched


# ---------------------------------------------------------------- the MIDI file


def _tracks(path: Path) -> dict[str, mido.MidiTrack]:
    return {
        next(m.name for m in t if m.type == "track_name"): t
        for t in mido.MidiFile(str(path)).tracks
    }


def test_band_midi_has_solo_bass_piano_and_drums_on_channel_10(solo, tmp_path: Path) -> None:
    path = write_band_midi(solo, tmp_path / "band.mid", instrument="trumpet")
    tracks = _tracks(path)
    assert set(tracks) == {"Conductor", "Melody", "Chords", "Bass", "Piano", "Drums"}

    def channels(name: str) -> set[int]:
        return {m.channel for m in tracks[name] if m.type == "note_on"}

    assert channels("Melody") == {0} and channels("Bass") == {2} and channels("Piano") == {3}
    assert channels("Drums") == {9}
    programs = {
        m.channel: m.program for t in tracks.values() for m in t if m.type == "program_change"
    }
    assert programs[0] == SOLO_INSTRUMENTS["trumpet"] and programs[2] == 32
    assert not channels("Chords")  # chord symbols only: the piano comps


def test_straight_band_midi_reads_back_as_the_same_solo_and_chords(solo, tmp_path: Path) -> None:
    back = read_piece(write_band_midi(solo, tmp_path / "straight.mid", swing=0.5))
    assert back.progression == solo.progression
    assert back.measures == solo.measures
    assert back.tempo == 150


def test_swung_band_midi_keeps_pitches_and_chords(solo, tmp_path: Path) -> None:
    path = write_band_midi(solo, tmp_path / "swung.mid", tempo=200)
    back = read_piece(path)
    assert back.progression == solo.progression and back.tempo == 200
    original, swung = solo.notes_absolute(), back.notes_absolute()
    assert [n.pitch for n in swung] == [n.pitch for n in original]
    assert all(abs(a.offset - b.offset) <= 1 / 6 for a, b in zip(original, swung, strict=True))
    melody = _tracks(path)["Melody"]
    ticks, now = [], 0
    for message in melody:
        now += message.time
        if message.type == "note_on":
            ticks.append(now % PPQ)
    assert round(0.62 * PPQ) in ticks  # off-beat eighths sit at 62% of the beat


def test_unknown_solo_instrument_is_refused(solo, tmp_path: Path) -> None:
    with pytest.raises(MidiWriteError, match="instrument"):
        write_band_midi(solo, tmp_path / "x.mid", instrument="kazoo")


def test_render_options_and_keywords_say_the_same(solo, tmp_path: Path) -> None:
    trumpet = RenderOptions(instrument="trumpet", swing=0.5, tempo=200, seed=3)
    by_options = write_band_midi(solo, tmp_path / "a.mid", options=trumpet)
    by_name = write_band_midi(solo, tmp_path / "b.mid", instrument="trumpet", swing=0.5,
                              tempo=200, seed=3)  # fmt: skip
    assert by_options.read_bytes() == by_name.read_bytes()
    slower = write_band_midi(solo, tmp_path / "c.mid", options=trumpet, tempo=120)
    assert slower.read_bytes() != by_options.read_bytes()  # a keyword replaces that field
    with pytest.raises(TypeError, match="instrumnet"):
        write_band_midi(solo, tmp_path / "x.mid", instrumnet="trumpet")
    with pytest.raises(dataclasses.FrozenInstanceError):
        trumpet.tempo = 90  # type: ignore[misc]
