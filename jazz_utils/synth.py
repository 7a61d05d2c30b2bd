"""The built-in synthesizer: notes in seconds to mono samples, with numpy alone.

What :func:`jazz_utils.audio.synthesize` (the ``"builtin"`` engine) plays with:
a reed-like lead (odd-heavy harmonics, gentle vibrato), a decaying piano
(slightly inharmonic partials, upper ones dying first), a plucked-ish bass and
guitar, and noise-based drums (ride, hi-hat, snare, kick, crash), each shaped
by an ADSR envelope. Tuning is equal temperament with A4 = 440 Hz. Which voice
plays a note comes from its MIDI channel and General MIDI program
(:func:`voice_for`); :func:`mix` sums the voices and normalises to -1 dBFS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Concert pitch: frequency of A4 (MIDI note 69), in Hz.
A4_HZ = 440.0
#: Peak level of rendered audio: -1 dBFS as a linear amplitude.
PEAK_LEVEL = 10 ** (-1 / 20)


def midi_to_hz(pitch: float) -> float:
    """Frequency in Hz of a MIDI pitch in equal temperament (69 -> 440 Hz)."""
    return A4_HZ * 2.0 ** ((float(pitch) - 69.0) / 12.0)


@dataclass(frozen=True)
class SynthNote:
    """One note to synthesize.

    Attributes:
        start: onset in seconds from the start.
        duration: seconds until the key is released (> 0).
        pitch: MIDI note number (a GM percussion key for drums).
        velocity: 1..127.
        voice: ``"lead"``, ``"piano"``, ``"bass"``, ``"guitar"`` or ``"drums"``.
    """

    start: float
    duration: float
    pitch: int
    velocity: int
    voice: str


def voice_for(channel: int, program: int) -> str:
    """The built-in timbre for a MIDI channel (counted from 0) and GM program."""
    if channel == 9:
        return "drums"
    if 32 <= program <= 39:
        return "bass"
    if 24 <= program <= 31:
        return "guitar"
    if program <= 15 or 88 <= program <= 103:  # pianos, mallets, pads
        return "piano"
    return "lead"  # organs, strings, brass, reeds, pipes, synth leads


def adsr(
    held: int, sample_rate: int, attack: float, decay: float, sustain: float, release: float
) -> np.ndarray:
    """An attack-decay-sustain-release envelope.

    Args:
        held: samples from key down to key up.
        sample_rate: samples per second.
        attack, decay, release: seconds; sustain: level 0..1 held after the decay.

    Returns:
        Shape ``(held + release samples,)``, float64, rising from 0 to 1, settling
        at ``sustain`` and falling linearly to 0 after key up (from wherever it was).
    """
    n_release = max(1, int(release * sample_rate))
    t = np.arange(held + n_release) / sample_rate
    a, d = max(attack, 1e-4), max(decay, 1e-4)
    level = np.where(t < a, t / a, np.maximum(sustain, 1.0 - (1.0 - sustain) * (t - a) / d))
    off = held / sample_rate
    at_off = off / a if off < a else max(sustain, 1.0 - (1.0 - sustain) * (off - a) / d)
    tail = at_off * np.clip(1.0 - (t[held:] - off) / release, 0.0, 1.0)
    level[held:] = tail
    return level


def _partials(
    t: np.ndarray,
    frequencies: np.ndarray,
    amplitudes: np.ndarray,
    decays: np.ndarray | None,
    sample_rate: int,
    phase: np.ndarray | None = None,
) -> np.ndarray:
    """Sum of sine partials (those below 0.45 x sample rate), each optionally decaying.

    Args:
        t: times in seconds, shape ``(n,)``.
        frequencies, amplitudes, decays: shape ``(k,)``; decays in 1/s.
        phase: optional phase of the fundamental in radians, shape ``(n,)`` (vibrato);
            partial ``i`` then follows ``phase * frequencies[i] / frequencies[0]``.
    """
    keep = frequencies < 0.45 * sample_rate
    frequencies, amplitudes = frequencies[keep], amplitudes[keep]
    if not len(frequencies):
        return np.zeros_like(t)
    if phase is None:
        angles = 2.0 * np.pi * np.outer(frequencies, t)
    else:
        angles = np.outer(frequencies / frequencies[0], phase)
    waves = np.sin(angles)
    if decays is not None:
        waves *= np.exp(-np.outer(decays[keep], t))
    return amplitudes @ waves


def _lead(pitch: int, held: int, sample_rate: int) -> np.ndarray:
    """Reed-like: odd harmonics strong, a breathy attack, vibrato that grows in."""
    f = midi_to_hz(pitch)
    env = adsr(held, sample_rate, 0.025, 0.1, 0.8, 0.07)
    t = np.arange(len(env)) / sample_rate
    depth = 0.004 * np.clip((t - 0.2) / 0.3, 0.0, 1.0)  # about 7 cents, after 0.2 s
    phase = 2.0 * np.pi * np.cumsum(f * (1.0 + depth * np.sin(2.0 * np.pi * 5.5 * t))) / sample_rate
    k = np.arange(1, 13)
    amplitudes = np.where(k % 2 == 1, 1.0 / k, 0.45 / k) * np.exp(-k / 14.0)
    return env * _partials(t, f * k, amplitudes, None, sample_rate, phase)


def _piano(pitch: int, held: int, sample_rate: int) -> np.ndarray:
    """Struck string: slightly stretched partials, the upper ones dying first."""
    f = midi_to_hz(pitch)
    env = adsr(held, sample_rate, 0.003, 0.05, 1.0, 0.12)
    t = np.arange(len(env)) / sample_rate
    k = np.arange(1, 9)
    frequencies = f * k * np.sqrt(1.0 + 0.0004 * k**2)
    decays = (0.9 + 0.7 * k) * (f / 262.0) ** 0.3
    return env * _partials(t, frequencies, 1.0 / k**1.3, decays, sample_rate)


def _pluck(pitch: int, held: int, sample_rate: int, brightness: float) -> np.ndarray:
    """Plucked string (bass, guitar): bright attack that mellows as partials decay."""
    f = midi_to_hz(pitch)
    env = adsr(held, sample_rate, 0.004, 0.05, 1.0, 0.06)
    t = np.arange(len(env)) / sample_rate
    k = np.arange(1, 11)
    decays = 1.2 + (1.5 / brightness) * k
    return env * _partials(t, f * k, 1.0 / k ** (1.4 / brightness), decays, sample_rate)


#: Lengths (s) and shapes of the drum sounds, by GM percussion key.
_KICKS, _SNARES, _CLOSED_HATS = (35, 36), (37, 38, 39, 40), (42, 44)
_RIDES, _CRASHES, _OPEN_HATS = (51, 53, 59), (49, 52, 55, 57), (46,)


def _drum(key: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A noise-based drum hit for a GM percussion key (its own length, whatever the note's)."""

    def noise(seconds: float, highpass: int) -> np.ndarray:
        white = rng.standard_normal(int(seconds * sample_rate) + highpass)
        for _ in range(highpass):  # each difference tilts the spectrum up 6 dB/octave
            white = np.diff(white)
        return white / (np.max(np.abs(white)) + 1e-12)

    def decay(n: int, seconds: float) -> np.ndarray:
        return np.exp(-np.arange(n) / (seconds * sample_rate))

    if key in _KICKS:
        n = int(0.35 * sample_rate)
        t = np.arange(n) / sample_rate
        sweep = 45.0 + 75.0 * np.exp(-t / 0.03)  # pitch falls from 120 Hz to 45 Hz
        body = np.sin(2.0 * np.pi * np.cumsum(sweep) / sample_rate) * decay(n, 0.12)
        return 1.2 * body + 0.15 * noise(0.35, 1) * decay(n, 0.004)
    if key in _SNARES:
        n = int(0.25 * sample_rate)
        t = np.arange(n) / sample_rate
        tone = np.sin(2 * np.pi * 185 * t) * decay(n, 0.04)
        return 0.7 * noise(0.25, 1) * decay(n, 0.06) + 0.4 * tone
    if key in _CLOSED_HATS:
        n = int(0.08 * sample_rate)
        return 0.5 * noise(0.08, 2) * decay(n, 0.018)
    if key in _OPEN_HATS:
        n = int(0.4 * sample_rate)
        return 0.5 * noise(0.4, 2) * decay(n, 0.12)
    if key in _RIDES or key in _CRASHES:
        seconds, tail = (0.7, 0.3) if key in _RIDES else (1.4, 0.6)
        n = int(seconds * sample_rate)
        t = np.arange(n) / sample_rate
        bell = np.array([2960.0, 4380.0, 5270.0, 6810.0])
        bell = bell[bell < 0.45 * sample_rate]
        ring = np.sin(2.0 * np.pi * np.outer(bell, t)).sum(axis=0) / max(len(bell), 1)
        return (0.35 * noise(seconds, 2) + 0.12 * ring) * decay(n, tail) * (1 - np.exp(-t / 0.001))
    n = int(0.2 * sample_rate)  # toms, percussion: a pitched thud
    t = np.arange(n) / sample_rate
    return 0.8 * np.sin(2 * np.pi * midi_to_hz(key - 24) * t) * decay(n, 0.08)


#: Relative loudness of each built-in voice (before velocity and normalisation).
VOICE_GAINS = {"lead": 0.9, "piano": 0.3, "bass": 0.8, "guitar": 0.5, "drums": 1.4}


def _pitched(voice: str) -> Callable[[int, int, int], np.ndarray]:
    if voice == "lead":
        return _lead
    if voice == "piano":
        return _piano
    if voice == "bass":
        return lambda p, held, sr: _pluck(p, held, sr, brightness=0.8)
    return lambda p, held, sr: _pluck(p, held, sr, brightness=1.3)


def mix(
    notes: Sequence[SynthNote], length: float, sample_rate: int, seed: int | None
) -> np.ndarray:
    """Synthesize notes into a buffer of ``length`` seconds, normalised to -1 dBFS."""
    total = math.ceil(length * sample_rate)
    buffer = np.zeros(total, dtype=np.float64)
    rng = np.random.default_rng(seed)
    cache: dict[tuple[str, int, int], np.ndarray] = {}
    for note in notes:
        start = round(note.start * sample_rate)
        if start >= total or note.duration <= 0:
            continue
        held = max(1, round(note.duration * sample_rate))
        key = (note.voice, note.pitch, 0 if note.voice == "drums" else held)
        sound = cache.get(key)
        if sound is None:
            if note.voice == "drums":
                sound = _drum(note.pitch, sample_rate, rng)
            else:
                sound = _pitched(note.voice)(note.pitch, held, sample_rate)
            cache[key] = sound
        gain = VOICE_GAINS.get(note.voice, 0.5) * (note.velocity / 127.0) ** 1.5
        end = min(total, start + len(sound))
        buffer[start:end] += gain * sound[: end - start]
    peak = float(np.max(np.abs(buffer))) if total else 0.0
    if peak > 0:
        buffer *= PEAK_LEVEL / peak
    return buffer.astype(np.float32)
