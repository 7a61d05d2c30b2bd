"""Rendering audio: tests that listen to the built-in synthesizer and to FluidSynth."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest

from jazz_utils import audio
from jazz_utils.audio import (
    RELEASE_TAIL,
    SAMPLE_RATE,
    play,
    read_wav,
    render,
    synthesize,
    write_wav,
)
from jazz_utils.band import write_band_midi
from jazz_utils.chords import parse_progression
from jazz_utils.errors import RenderError
from jazz_utils.grammar import values_to_piece
from jazz_utils.midi_io import MidiPart
from jazz_utils.performance import RenderOptions
from jazz_utils.piece import Measure, Note, Piece
from jazz_utils.synth import A4_HZ, PEAK_LEVEL, adsr

PROGRESSION = parse_progression("| Dm7 G7 | Cmaj7 | Em7 A7 | Dm7 G7 |" * 2)
VALUES = ["C,0.500", "S,0.500,<m2,M2>", "C,0.500,<m2,M2>", "A,0.500,<M-2,m-2>",
          "C,1.000,<m2,M2>", "R,0.500", "C,0.500,<m3,M3>", "S,0.333,<M-2,m-2>",
          "C,0.333,<M-2,m-2>", "S,0.333,<M-2,m-2>", "C,1.000,<P4,P5>"] * 6  # fmt: skip


def fluidsynth_ready() -> tuple[bool, str]:
    """Whether FluidSynth can run here, and why not."""
    if audio.fluidsynth_binary() is None:
        return False, "the fluidsynth program is not installed (apt-get install fluidsynth)"
    if audio.soundfont_path() is None:
        return False, "no General MIDI soundfont found (apt-get install fluid-soundfont-gm)"
    return True, ""


def needs_fluidsynth() -> None:
    """Skip (visibly) where FluidSynth cannot run; fail instead where CI promises it."""
    ready, reason = fluidsynth_ready()
    if not ready and os.environ.get("JAZZ_UTILS_REQUIRE_FLUIDSYNTH"):
        pytest.fail(f"JAZZ_UTILS_REQUIRE_FLUIDSYNTH is set, but {reason}")
    if not ready:
        pytest.skip(f"FluidSynth test skipped: {reason}")


@pytest.fixture(scope="module")
def solo() -> Piece:
    return values_to_piece(VALUES, PROGRESSION, seed=3, tempo=140)


def a4(instrument: str = "tenor sax", seconds: float = 2.0) -> Piece:
    """One A4 (MIDI 69) held for ``seconds`` at 120 bpm, over C7."""
    chords = parse_progression("| C7 |")[0].chords
    note = Note(0.0, seconds * 2.0, 69)
    return Piece((Measure(4.0, chords, (note,)),), tempo=120.0, name=f"A4 {instrument}")


def spectral_peak(samples: np.ndarray, sample_rate: int) -> float:
    """Frequency (Hz) of the largest magnitude in the Hann-windowed spectrum."""
    x = np.asarray(samples, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1.0 / sample_rate)[np.argmax(spectrum)])


def music_seconds(piece: Piece, tempo: float | None = None) -> float:
    beats = sum(m.length for m in piece.measures)
    return beats * 60.0 / (tempo or piece.tempo)


def assert_sounds_right(samples: np.ndarray, seconds: float, sample_rate: int) -> None:
    """Not silent, not clipped, and as long as the music plus the release tail."""
    assert samples.ndim == 1
    assert abs(len(samples) - (seconds + RELEASE_TAIL) * sample_rate) <= 1
    music = samples[: int(seconds * sample_rate)]
    assert np.sqrt(np.mean(music.astype(np.float64) ** 2)) > 0.02  # not silent
    # Sound all through the music, not only at its start: every second has energy.
    for start in range(0, int(seconds) - 1):
        chunk = samples[start * sample_rate : (start + 1) * sample_rate]
        assert np.max(np.abs(chunk)) > 0.01, f"silence at {start} s"
    assert np.max(np.abs(samples)) <= PEAK_LEVEL + 1e-6 < 1.0  # no clipping
    assert np.mean(np.abs(samples) > 0.999) == 0.0


# ---------------------------------------------------------------- the built-in synthesizer


@pytest.mark.parametrize("instrument", ["tenor sax", "trumpet", "guitar", "piano"])
def test_builtin_a4_peaks_at_440_hz(instrument: str) -> None:
    samples = synthesize(a4(instrument), band=False, instrument=instrument)
    assert abs(spectral_peak(samples, SAMPLE_RATE) - A4_HZ) <= 0.01 * A4_HZ


def test_builtin_bass_a2_peaks_at_110_hz() -> None:
    bass = [MidiPart("Bass", 2, 32, [(0.0, 4.0, 45, 100)])]
    samples = synthesize(bass, tempo=120, sample_rate=16000)
    assert abs(spectral_peak(samples, 16000) - 110.0) <= 1.1


def test_builtin_solo_with_band_is_audible_unclipped_and_the_right_length(solo: Piece) -> None:
    samples = synthesize(solo)
    assert samples.dtype == np.float32
    assert_sounds_right(samples, music_seconds(solo), SAMPLE_RATE)


def test_render_writes_mono_16_bit_wav_at_22050_hz(solo: Piece, tmp_path: Path) -> None:
    path = render(solo, tmp_path / "out" / "solo.wav", engine="builtin", tempo=180)
    with wave.open(str(path), "rb") as handle:
        assert (handle.getnchannels(), handle.getsampwidth()) == (1, 2)
        assert handle.getframerate() == SAMPLE_RATE == 22050
    samples, rate = read_wav(path)
    assert_sounds_right(samples, music_seconds(solo, 180), rate)


def test_builtin_is_deterministic_and_the_band_is_heard(solo: Piece) -> None:
    with_band = synthesize(solo, seed=1)
    assert np.array_equal(with_band, synthesize(solo, seed=1))
    alone = synthesize(solo, band=False)
    assert alone.shape == with_band.shape and not np.allclose(alone, with_band)


def test_swing_changes_the_performance_not_its_length(solo: Piece) -> None:
    straight, swung = synthesize(solo, swing=0.5), synthesize(solo, swing=0.66)
    assert straight.shape == swung.shape and not np.allclose(straight, swung)


def test_render_plays_a_midi_file_at_its_own_or_another_tempo(solo: Piece, tmp_path: Path) -> None:
    midi = write_band_midi(solo, tmp_path / "band.mid")
    samples = synthesize(midi)
    assert abs(len(samples) / SAMPLE_RATE - (music_seconds(solo) + RELEASE_TAIL)) < 0.05
    faster = synthesize(str(midi), tempo=280)
    assert abs(len(faster) / SAMPLE_RATE - (music_seconds(solo, 280) + RELEASE_TAIL)) < 0.05
    assert_sounds_right(faster, music_seconds(solo, 280), SAMPLE_RATE)


def test_a_solo_without_notes_renders_silence() -> None:
    empty = values_to_piece(["R,4.000"], parse_progression("| C7 |"), tempo=120)
    samples = synthesize(empty, band=False)
    assert len(samples) == round((2.0 + RELEASE_TAIL) * SAMPLE_RATE)
    assert not np.any(samples)


def test_adsr_rises_sustains_and_releases_to_zero() -> None:
    env = adsr(1000, 1000, attack=0.1, decay=0.1, sustain=0.5, release=0.2)
    assert len(env) == 1200
    assert env[0] == 0.0 and env[100] == pytest.approx(1.0)
    assert env[500] == pytest.approx(0.5) and env[-1] == pytest.approx(0.0, abs=0.01)
    assert np.all(np.diff(env[1000:]) <= 1e-12)


def test_wav_round_trip(tmp_path: Path) -> None:
    tone = 0.5 * np.sin(np.linspace(0, 200 * np.pi, 8000))
    path = write_wav(tmp_path / "tone.wav", tone, 8000)
    back, rate = read_wav(path)
    assert rate == 8000 and np.max(np.abs(back - tone)) < 1e-4


# ---------------------------------------------------------------- choosing an engine, errors


def test_options_object_and_keywords_render_alike(solo: Piece) -> None:
    quiet = RenderOptions(band=False, instrument="trumpet", seed=1)
    assert np.array_equal(synthesize(solo, options=quiet),
                          synthesize(solo, band=False, instrument="trumpet", seed=1))  # fmt: skip
    with pytest.raises(RenderError, match="swing"):
        synthesize(solo, options=quiet, swing=0.95)


def test_unknown_engine_and_bad_options_are_refused(solo: Piece, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="engine"):
        render(solo, tmp_path / "x.wav", engine="timidity")
    with pytest.raises(RenderError, match="sample_rate"):
        synthesize(solo, sample_rate=100)
    with pytest.raises(RenderError, match="tempo"):
        synthesize(solo, tempo=0)
    with pytest.raises(RenderError, match="swing"):
        synthesize(solo, swing=0.95)
    with pytest.raises(RenderError, match="does not exist"):
        synthesize(tmp_path / "missing.mid")
    with pytest.raises(RenderError, match="Cannot render"):
        synthesize(42)  # type: ignore[arg-type]


def test_fluidsynth_asked_for_but_missing_is_a_clear_error(
    solo: Piece, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audio, "fluidsynth_binary", lambda: None)
    with pytest.raises(RenderError, match="fluidsynth program"):
        render(solo, tmp_path / "x.wav", engine="fluidsynth")
    assert audio.resolve_engine("auto") == "builtin"
    assert render(a4(), tmp_path / "auto.wav", band=False).is_file()


def test_missing_soundfont_is_a_clear_error(
    solo: Piece, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audio, "fluidsynth_binary", lambda: "/usr/bin/fluidsynth")
    monkeypatch.setenv(audio.SOUNDFONT_ENV, str(tmp_path / "nothing.sf2"))
    assert audio.soundfont_path() is None
    with pytest.raises(RenderError, match="soundfont"):
        render(solo, tmp_path / "x.wav", engine="fluidsynth")
    assert audio.available_engines() == ["builtin"]


def test_play_returns_a_notebook_audio_player(tmp_path: Path) -> None:
    from IPython.display import Audio

    player = play(a4(), engine="builtin", band=False, sample_rate=8000)
    assert isinstance(player, Audio)
    assert player.data[:4] == b"RIFF" and b"WAVE" in player.data[:16]
    assert "<audio" in player._repr_html_()


# ---------------------------------------------------------------- FluidSynth


def test_fluidsynth_a4_peaks_at_440_hz(tmp_path: Path) -> None:
    needs_fluidsynth()
    # A piano's strongest partial is its fundamental (a sax's is often the 2nd or 3rd).
    path = render(a4("piano"), tmp_path / "a4.wav", engine="fluidsynth", band=False,
                  instrument="piano")  # fmt: skip
    samples, rate = read_wav(path)
    assert rate == SAMPLE_RATE
    assert abs(spectral_peak(samples, rate) - A4_HZ) <= 0.01 * A4_HZ


def test_fluidsynth_solo_with_band_is_audible_unclipped_and_the_right_length(
    solo: Piece, tmp_path: Path
) -> None:
    needs_fluidsynth()
    path = render(solo, tmp_path / "solo.wav", engine="fluidsynth")
    with wave.open(str(path), "rb") as handle:
        assert (handle.getnchannels(), handle.getsampwidth()) == (1, 2)
    samples, rate = read_wav(path)
    assert_sounds_right(samples, music_seconds(solo), rate)
    assert audio.resolve_engine("auto") == "fluidsynth"


def test_fluidsynth_plays_a_midi_file(solo: Piece, tmp_path: Path) -> None:
    needs_fluidsynth()
    midi = write_band_midi(solo, tmp_path / "band.mid")
    samples, rate = read_wav(render(midi, tmp_path / "band.wav", engine="fluidsynth", tempo=200))
    assert_sounds_right(samples, music_seconds(solo, 200), rate)
