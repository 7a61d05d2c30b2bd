"""Hear a solo: render a Piece or a MIDI file to a WAV file, offline.

Two engines:

``"fluidsynth"``
    The ``fluidsynth`` program with a General MIDI soundfont: realistic
    instruments. Used when both are on the machine (Debian/Ubuntu:
    ``apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm``).
    The soundfont is the file named by the environment variable
    ``JAZZ_UTILS_SOUNDFONT``, else the first of :data:`SOUNDFONT_PATHS` that
    exists, else one a Python package ships (:data:`PACKAGED_SOUNDFONTS`).
``"builtin"``
    A small numpy synthesizer that needs nothing else: a reed-like lead
    (odd-heavy harmonics, gentle vibrato), a decaying piano (slightly
    inharmonic partials, upper ones dying first), a plucked-ish bass and
    guitar, and noise-based drums (ride, hi-hat, snare, kick, crash), each
    shaped by an ADSR envelope (:mod:`jazz_utils.synth`). Tuning is equal
    temperament with A4 = 440 Hz.
``"auto"`` (the default) picks FluidSynth when it can, the built-in synth otherwise.

Either way the result is mono, 16-bit PCM at 22 050 Hz by default, normalised
so that its loudest sample is at -1 dBFS (never clipped), and lasts exactly as
long as the music plus :data:`RELEASE_TAIL` seconds for the last notes to ring.

A :class:`~jazz_utils.piece.Piece` is played by a band (:mod:`jazz_utils.band`)
at its own tempo unless told otherwise, swung by ``swing`` (0.5 is straight);
these choices (tempo, instrument, swing, band, seed, voicing) make one
:class:`~jazz_utils.performance.RenderOptions`, given as ``options=`` or field by
field (``play(solo, instrument="trumpet")``). A MIDI file is played as written: its
own instruments, tempo and timing (a file from
:func:`jazz_utils.band.write_band_midi` is already swung), optionally at another
``tempo``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jazz_utils.band import performance_parts
from jazz_utils.errors import JazzUtilsError, RenderError
from jazz_utils.midi_io import TEMPO_RANGE, MidiPart, write_parts
from jazz_utils.performance import RenderOptions, render_options
from jazz_utils.piece import Piece
from jazz_utils.synth import PEAK_LEVEL, SynthNote, mix, voice_for

if TYPE_CHECKING:
    from IPython.display import Audio

#: Default sample rate of rendered audio, in Hz.
SAMPLE_RATE = 22050
#: Sample rates accepted, in Hz.
SAMPLE_RATE_RANGE = (8000, 96000)
#: Seconds of audio kept after the last beat, for the last notes to ring out.
RELEASE_TAIL = 1.0
#: Engines :func:`render` knows.
ENGINES = ("auto", "builtin", "fluidsynth")
#: Environment variable naming a soundfont for FluidSynth.
SOUNDFONT_ENV = "JAZZ_UTILS_SOUNDFONT"
#: Where General MIDI soundfonts are installed by package managers, in search order.
SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # Debian/Ubuntu fluid-soundfont-gm
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",  # Fedora, Arch
    "/usr/share/soundfonts/default.sf2",
    "/usr/local/share/soundfonts/default.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
    "/usr/local/share/fluidsynth/generaluser.v.1.471.sf2",
)
#: Soundfonts that Python packages ship: (package, file inside the package).
PACKAGED_SOUNDFONTS = (("pretty_midi", "TimGM6mb.sf2"),)
#: Gain passed to FluidSynth (low enough that a full band never clips its 16-bit output).
FLUIDSYNTH_GAIN = 0.4
#: Seconds FluidSynth may take before rendering is abandoned.
FLUIDSYNTH_TIMEOUT = 600


# ---------------------------------------------------------------- WAV files


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono samples in [-1, 1] as a 16-bit PCM WAV file.

    Args:
        path: the ``.wav`` file (parent folders are created).
        samples: shape ``(n,)``, float; values beyond [-1, 1] are clipped.
        sample_rate: samples per second.

    Returns:
        The path written.
    """
    data = np.asarray(samples, dtype=np.float64).reshape(-1)
    pcm = np.round(np.clip(data, -1.0, 1.0) * 32767.0).astype("<i2")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(int(sample_rate))
        handle.writeframes(pcm.tobytes())
    return path


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an integer PCM WAV file (8, 16, 24 or 32 bit) as mono float32.

    Returns:
        ``(samples, sample_rate)``: samples of shape ``(n,)`` in [-1, 1], channels averaged.

    Raises:
        RenderError: the file is missing or not integer PCM WAV.
    """
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width = handle.getnchannels(), handle.getsampwidth()
            rate, raw = handle.getframerate(), handle.readframes(handle.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise RenderError(f"{path} is not a readable PCM WAV file ({exc}).") from None
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 3:
        bytes_ = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = bytes_[:, 0] | (bytes_[:, 1] << 8) | (bytes_[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints / float(1 << 23)
    elif width in (2, 4):
        dtype = "<i2" if width == 2 else "<i4"
        data = np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(1 << (8 * width - 1))
    else:
        raise RenderError(f"{path} uses {8 * width}-bit samples; only 8/16/24/32-bit PCM is read.")
    data = data.reshape(-1, channels).mean(axis=1)
    return data.astype(np.float32), rate


# ---------------------------------------------------------------- what to play


def _notes_from_parts(parts: Sequence[MidiPart], tempo: float) -> list[SynthNote]:
    seconds = 60.0 / tempo
    notes = []
    for part in parts:
        voice = voice_for(part.channel, part.program)
        for start, duration, pitch, velocity in part.notes:
            notes.append(SynthNote(start * seconds, duration * seconds, pitch, velocity, voice))
    return notes


def _midi_notes(path: Path, tempo: float | None) -> tuple[list[SynthNote], float]:
    """Notes of a MIDI file in seconds, and the file's length in seconds."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
        messages = list(midi)  # merged tracks, ``time`` in seconds (tempo map applied)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise RenderError(f"{path} is not a readable MIDI file ({problem}).") from None
    scale = 1.0
    if tempo is not None:
        first = next((m.tempo for t in midi.tracks for m in t if m.type == "set_tempo"), 500000)
        scale = mido.tempo2bpm(first) / _check_tempo(tempo)
    programs: dict[int, int] = {}
    sounding: dict[tuple[int, int], list[tuple[float, int]]] = {}
    notes = []
    now = 0.0
    for message in messages:
        now += message.time
        if message.type == "program_change":
            programs[message.channel] = message.program
        elif message.type == "note_on" and message.velocity > 0:
            sounding.setdefault((message.channel, message.note), []).append((now, message.velocity))
        elif message.type in ("note_on", "note_off"):
            starts = sounding.get((message.channel, message.note))
            if starts:
                start, velocity = starts.pop(0)
                voice = voice_for(message.channel, programs.get(message.channel, 0))
                duration = max(now - start, 0.01)
                notes.append(
                    SynthNote(start * scale, duration * scale, message.note, velocity, voice)
                )
    return notes, now * scale


def _check_tempo(tempo: float) -> float:
    low, high = TEMPO_RANGE
    if not isinstance(tempo, int | float) or not low <= tempo <= high:
        raise RenderError(f"tempo must be {low}..{high} quarter notes per minute, not {tempo!r}.")
    return float(tempo)


def _check_rate(sample_rate: int) -> int:
    low, high = SAMPLE_RATE_RANGE
    if not isinstance(sample_rate, int | np.integer) or not low <= sample_rate <= high:
        raise RenderError(
            f"sample_rate must be a whole number of Hz in {low}..{high}, not {sample_rate!r}."
        )
    return int(sample_rate)


def _piece_parts(piece: Piece, options: RenderOptions) -> list[MidiPart]:
    """:func:`jazz_utils.band.performance_parts`, its errors as :class:`RenderError`."""
    try:
        return performance_parts(piece, options)
    except JazzUtilsError as exc:
        raise RenderError(str(exc)) from None


def _performance(
    source: Piece | str | Path | Sequence[MidiPart], options: RenderOptions
) -> tuple[list[SynthNote], float]:
    """What to play, in seconds: ``(notes, length of the music in seconds)``."""
    tempo = options.tempo
    if isinstance(source, Piece):
        qpm = _check_tempo(tempo if tempo is not None else source.tempo)
        parts = _piece_parts(source, options)
        return _notes_from_parts(parts, qpm), source.total_length * 60.0 / qpm
    if isinstance(source, str | Path):
        path = Path(source).expanduser()
        if not path.is_file():
            raise RenderError(f"{path} does not exist; give a Piece or a .mid file to render.")
        return _midi_notes(path, tempo)
    if isinstance(source, Sequence) and all(isinstance(p, MidiPart) for p in source):
        qpm = _check_tempo(tempo if tempo is not None else 120.0)
        ends = [s + d for p in source for s, d, _, _ in p.notes]
        return _notes_from_parts(source, qpm), max(ends, default=0.0) * 60.0 / qpm
    raise RenderError(
        f"Cannot render a {type(source).__name__}: give a Piece (e.g. a generated solo), "
        "the path of a .mid file, or a list of MidiPart."
    )


# ---------------------------------------------------------------- the built-in synthesizer
def synthesize(
    solo_or_midi: Piece | str | Path | Sequence[MidiPart],
    sample_rate: int = SAMPLE_RATE,
    options: RenderOptions | None = None,
    **overrides: Any,
) -> np.ndarray:
    """Synthesize with the built-in numpy synthesizer.

    Args:
        solo_or_midi: a :class:`Piece`, the path of a MIDI file, or a list of
            :class:`~jazz_utils.midi_io.MidiPart` (times in quarter notes).
        sample_rate: samples per second.
        options: how to perform it (:class:`~jazz_utils.performance.RenderOptions`;
            the defaults when None). ``tempo``: quarter notes per minute, a Piece's
            own (MidiParts: 120) by default; for a MIDI file, plays the file at this
            tempo instead of its own. ``swing`` (0.5 straight .. 0.8), ``band``,
            ``instrument`` and ``voicing`` shape a Piece's performance; ``seed``
            seeds the band and the drums' noise.
        **overrides: any of those fields by name, e.g. ``tempo=180, band=False``.

    Returns:
        float32 mono samples, shape ``(ceil((music seconds + RELEASE_TAIL) * sample_rate),)``,
        peak at -1 dBFS (all zeros when nothing sounds).

    Raises:
        RenderError: unreadable input or bad options.
        TypeError: an override that is no rendering option.
    """
    rate = _check_rate(sample_rate)
    options = render_options(options, **overrides)
    notes, seconds = _performance(solo_or_midi, options)
    return mix(notes, seconds + RELEASE_TAIL, rate, options.seed)


# ---------------------------------------------------------------- FluidSynth


def soundfont_path() -> Path | None:
    """The General MIDI soundfont FluidSynth would use, or None if there is none.

    Looks at ``$JAZZ_UTILS_SOUNDFONT``, then :data:`SOUNDFONT_PATHS`, then the
    soundfonts Python packages ship (:data:`PACKAGED_SOUNDFONTS`, found without
    importing the package).
    """
    named = os.environ.get(SOUNDFONT_ENV)
    if named:
        path = Path(named).expanduser()
        return path if path.is_file() else None
    for candidate in SOUNDFONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    for package, filename in PACKAGED_SOUNDFONTS:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        for folder in (spec.submodule_search_locations or []) if spec else []:
            path = Path(folder) / filename
            if path.is_file():
                return path
    return None


def fluidsynth_binary() -> str | None:
    """Path of the ``fluidsynth`` program, or None when it is not installed."""
    return shutil.which("fluidsynth")


def available_engines() -> list[str]:
    """The engines that can run here: always ``"builtin"``, ``"fluidsynth"`` when possible."""
    engines = ["builtin"]
    if fluidsynth_binary() and soundfont_path():
        engines.insert(0, "fluidsynth")
    return engines


def _fluidsynth_setup() -> tuple[str, Path]:
    binary = fluidsynth_binary()
    if binary is None:
        raise RenderError(
            "engine='fluidsynth' needs the fluidsynth program, which is not installed. Install "
            "it (Debian/Ubuntu: apt-get install --no-install-recommends fluidsynth "
            "fluid-soundfont-gm; macOS: brew install fluid-synth) or use engine='builtin'."
        )
    font = soundfont_path()
    if font is None:
        named = os.environ.get(SOUNDFONT_ENV)
        where = (
            f"${SOUNDFONT_ENV}={named!r} is not a file"
            if named
            else (f"none of {', '.join(SOUNDFONT_PATHS)} exists and ${SOUNDFONT_ENV} is not set")
        )
        raise RenderError(
            f"engine='fluidsynth' needs a General MIDI soundfont (.sf2), but {where}. Install "
            "fluid-soundfont-gm, set JAZZ_UTILS_SOUNDFONT to an .sf2 file, or use engine='builtin'."
        )
    return binary, font


def _retimed_midi(path: Path, tempo: float, folder: Path) -> Path:
    """A copy of a MIDI file whose tempo map is scaled so that it starts at ``tempo``."""
    import mido

    midi = mido.MidiFile(str(path))
    first = next((m.tempo for t in midi.tracks for m in t if m.type == "set_tempo"), 500000)
    factor = mido.bpm2tempo(_check_tempo(tempo)) / first
    for track in midi.tracks:
        for i, message in enumerate(track):
            if message.type == "set_tempo":
                track[i] = message.copy(tempo=max(1, round(message.tempo * factor)))
    if not any(m.type == "set_tempo" for t in midi.tracks for m in t):
        midi.tracks[0].insert(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    out = folder / "retimed.mid"
    midi.save(str(out))
    return out


def _fluidsynth(
    source: Piece | str | Path | Sequence[MidiPart], sample_rate: int, options: RenderOptions
) -> np.ndarray:
    """Render with FluidSynth; same length and level conventions as :func:`synthesize`."""
    binary, font = _fluidsynth_setup()
    _notes, seconds = _performance(source, options)
    tempo = options.tempo
    with tempfile.TemporaryDirectory(prefix="jazz_utils_") as scratch:
        folder = Path(scratch)
        if isinstance(source, Piece):
            qpm = tempo if tempo is not None else source.tempo
            parts = _piece_parts(source, options)
            midi = write_parts(parts, folder / "solo.mid", qpm, source.time_signature)
        elif isinstance(source, str | Path):
            midi = Path(source).expanduser()
            if tempo is not None:
                midi = _retimed_midi(midi, tempo, folder)
        else:
            midi = write_parts(list(source), folder / "parts.mid", tempo or 120.0)
        wav = folder / "out.wav"
        command = [
            binary, "-ni", "-q", "-g", str(FLUIDSYNTH_GAIN), "-r", str(sample_rate),
            "-F", str(wav), "-T", "wav", "-O", "s16", str(font), str(midi),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=FLUIDSYNTH_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RenderError(f"fluidsynth could not render {midi.name}: {exc}") from None
        if done.returncode != 0 or not wav.is_file():
            detail = (done.stderr or done.stdout or "").strip()[-600:] or "no output"
            code = done.returncode
            raise RenderError(f"fluidsynth failed on {midi.name} (exit {code}): {detail}")
        samples, rate = read_wav(wav)
    if rate != sample_rate:
        raise RenderError(f"fluidsynth wrote {rate} Hz instead of the {sample_rate} Hz asked for.")
    total = math.ceil((seconds + RELEASE_TAIL) * sample_rate)
    audio = np.zeros(total, dtype=np.float64)
    audio[: min(total, len(samples))] = samples[:total]
    fade = min(total, int(0.05 * sample_rate))
    if fade:
        audio[total - fade :] *= np.linspace(1.0, 0.0, fade)
    peak = float(np.max(np.abs(audio))) if total else 0.0
    if peak > 0:
        audio *= PEAK_LEVEL / peak
    return audio.astype(np.float32)


# ---------------------------------------------------------------- public entry points


def resolve_engine(engine: str) -> str:
    """``"builtin"`` or ``"fluidsynth"`` for an engine name (``"auto"`` picks).

    Raises:
        RenderError: an unknown engine name.
    """
    name = str(engine).strip().lower()
    if name not in ENGINES:
        raise RenderError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}.")
    if name == "auto":
        return available_engines()[0]
    return name


def render(
    solo_or_midi: Piece | str | Path | Sequence[MidiPart],
    path: str | Path,
    engine: str = "auto",
    sample_rate: int = SAMPLE_RATE,
    options: RenderOptions | None = None,
    **overrides: Any,
) -> Path:
    """Render a solo (with its band) or a MIDI file to a WAV file.

    Args:
        solo_or_midi: a :class:`Piece`, the path of a ``.mid`` file, or a list of
            :class:`~jazz_utils.midi_io.MidiPart`.
        path: the ``.wav`` file to write (parent folders are created).
        engine: ``"auto"``, ``"fluidsynth"`` or ``"builtin"`` (see the module docstring).
        sample_rate: samples per second (22 050 by default).
        options: how to perform it, as for :func:`synthesize`.
        **overrides: fields of ``options`` by name, e.g. ``instrument="trumpet"``.

    Returns:
        The path written: mono 16-bit PCM lasting the music plus ``RELEASE_TAIL`` seconds.

    Raises:
        RenderError: unknown engine, FluidSynth asked for but missing (or without a
            soundfont), unreadable input, bad options.
        TypeError: an override that is no rendering option.
    """
    rate = _check_rate(sample_rate)
    options = render_options(options, **overrides)
    chosen = resolve_engine(engine)
    if chosen == "fluidsynth":
        audio = _fluidsynth(solo_or_midi, rate, options)
    else:
        audio = synthesize(solo_or_midi, rate, options)
    return write_wav(path, audio, rate)


def play(
    solo_or_midi: Piece | str | Path | Sequence[MidiPart],
    engine: str = "auto",
    autoplay: bool = False,
    sample_rate: int = SAMPLE_RATE,
    options: RenderOptions | None = None,
    **overrides: Any,
) -> Audio:
    """Render and return an audio player for a notebook cell.

    Args:
        solo_or_midi: what :func:`render` accepts.
        engine: ``"auto"``, ``"fluidsynth"`` or ``"builtin"``.
        autoplay: start playing as soon as the cell shows.
        sample_rate: samples per second.
        options: how to perform it, as for :func:`synthesize`.
        **overrides: fields of ``options`` by name: ``tempo``, ``instrument``,
            ``swing``, ``band``, ``seed``, ``voicing``.

    Returns:
        An ``IPython.display.Audio`` holding the WAV data (no file is left behind).
    """
    from IPython.display import Audio

    with tempfile.TemporaryDirectory(prefix="jazz_utils_") as scratch:
        wav = render(
            solo_or_midi, Path(scratch) / "solo.wav", engine, sample_rate, options, **overrides
        )
        data = wav.read_bytes()
    return Audio(data=data, autoplay=autoplay)
