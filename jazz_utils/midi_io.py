"""Standard MIDI files, with mido: write solos over their chords, read any file back.

Writing. The file layout is what :func:`read_midi` (and so
:func:`jazz_utils.corpus.read_piece`) reads back without options:

* a conductor track with the tempo and time signature;
* a track named "Melody" holding the solo on channel 1;
* a track named "Chords" holding each chord symbol as a MIDI text event at the
  chord's start and, unless ``comping=False``, the chord as a sustained block
  voicing on channel 2;
* any further parts (for example a backing band) passed as :class:`MidiPart`.

Everything is written at ``PPQ`` ticks per quarter note, a multiple of the grid
of :mod:`jazz_utils.piece`, so written times are exact.

Reading. :func:`read_midi` turns any type-0 or type-1 file into a
:class:`~jazz_utils.score.ScoreData`: one track per (track, channel) with notes,
bar lines from the time signatures, the first tempo, and the chord symbols of
text or marker events on a track whose name contains "chord".
:func:`jazz_utils.corpus.read_piece` makes a melody over chords of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jazz_utils.chords import Chord, parse_chord
from jazz_utils.errors import ChordError, CorpusError, MidiWriteError
from jazz_utils.piece import TICKS_PER_QUARTER, Piece, Progression
from jazz_utils.score import ScoreData, Track, bar_lines

#: MIDI ticks per quarter note in written files.
PPQ = 480
#: General MIDI programs of the solo instruments a learner can pick.
SOLO_INSTRUMENTS = {
    "tenor sax": 66,
    "alto sax": 65,
    "trumpet": 56,
    "guitar": 26,
    "piano": 0,
    "vibraphone": 11,
}
#: Slowest and fastest tempo written or played, in quarter notes per minute.
TEMPO_RANGE = (10, 400)
#: Lowest pitch of a block-chord voicing in the "Chords" track (E3).
VOICING_FLOOR = 52
#: Quarter notes from the start past which a MIDI event marks a damaged file
#: (about 14 hours at 120 quarter notes per minute).
MAX_QUARTERS = 100_000
#: File suffixes read as MIDI.
MIDI_SUFFIXES = (".mid", ".midi")
#: MIDI channel (counted from 0) that General MIDI reserves for drums.
DRUM_CHANNEL = 9
#: General MIDI instrument families, eight programs each.
GM_FAMILIES = (
    "Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings", "Ensemble",
    "Brass", "Reed", "Pipe", "Synth Lead", "Synth Pad", "Synth Effects", "Ethnic",
    "Percussive", "Sound Effects",
)  # fmt: skip
#: Names of the General MIDI programs this project uses (the others are named by family).
GM_PROGRAMS = {
    0: "Acoustic Grand Piano", 4: "Electric Piano", 24: "Nylon Guitar", 26: "Jazz Guitar",
    32: "Acoustic Bass", 33: "Electric Bass", 56: "Trumpet", 57: "Trombone", 64: "Soprano Sax",
    65: "Alto Sax", 66: "Tenor Sax", 67: "Baritone Sax", 73: "Flute", 11: "Vibraphone",
}  # fmt: skip


@dataclass
class MidiPart:
    """One track of a MIDI file.

    Attributes:
        name: the track name.
        channel: MIDI channel 0..15 (9 is drums).
        program: General MIDI program 0..127.
        notes: ``(start, duration, pitch, velocity)``, times in quarter notes from
            the start of the piece.
        texts: ``(time, text)`` text events (e.g. chord symbols).
    """

    name: str
    channel: int
    program: int
    notes: list[tuple[float, float, int, int]] = field(default_factory=list)
    texts: list[tuple[float, str]] = field(default_factory=list)


def solo_part(piece: Piece, instrument: str = "tenor sax") -> MidiPart:
    """The melody of a piece as the "Melody" part."""
    key = instrument.strip().lower()
    if key not in SOLO_INSTRUMENTS:
        raise MidiWriteError(
            f"Unknown solo instrument {instrument!r}; choose one of {', '.join(SOLO_INSTRUMENTS)}."
        )
    notes = [(n.offset, n.duration, n.pitch, n.velocity) for n in piece.notes_absolute()]
    return MidiPart("Melody", 0, SOLO_INSTRUMENTS[key], notes)


def block_voicing(pitch_classes: Sequence[int], floor: int = VOICING_FLOOR) -> list[int]:
    """Stack pitch classes upwards from ``floor``, each once, in the given order."""
    pitches: list[int] = []
    for pc in pitch_classes:
        pitch = floor + (pc - floor) % 12
        while pitches and pitch <= pitches[-1]:
            pitch += 12
        pitches.append(pitch)
    return pitches


def chords_part(progression: Progression, comping: bool = True) -> MidiPart:
    """The chord symbols as text events, and block chords when ``comping``."""
    part = MidiPart("Chords", 1, 0)
    start = 0.0
    for measure in progression:
        for span in measure.chords:
            time = start + span.offset
            part.texts.append((time, span.chord.symbol))
            if comping:
                order = sorted(span.chord.intervals, key=lambda i: (i not in (0, 3, 4, 10, 11), i))
                pcs = [(span.chord.root + i) % 12 for i in order]
                for pitch in block_voicing(pcs):
                    part.notes.append((time, span.duration, pitch, 56))
        start += measure.length
    return part


def write_parts(
    parts: Sequence[MidiPart],
    path: str | Path,
    tempo: float = 120.0,
    time_signature: tuple[int, int] = (4, 4),
) -> Path:
    """Write parts as a type-1 MIDI file.

    Args:
        parts: the tracks, written in order after the conductor track.
        path: where to write; parent folders are created.
        tempo: quarter notes per minute.
        time_signature: (beats, unit).

    Returns:
        The path written.

    Raises:
        MidiWriteError: bad tempo, channel, program, pitch, velocity or duration.
    """
    import mido

    low, high = TEMPO_RANGE
    if not low <= tempo <= high:
        raise MidiWriteError(f"tempo must be {low}..{high} quarter notes per minute, not {tempo}.")
    midi = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name="Conductor", time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    conductor.append(
        mido.MetaMessage(
            "time_signature", numerator=time_signature[0], denominator=time_signature[1], time=0
        )
    )
    midi.tracks.append(conductor)
    for part in parts:
        midi.tracks.append(_track(part))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.save(str(path))
    return path


def _track(part: MidiPart) -> object:
    import mido

    if not 0 <= part.channel <= 15 or not 0 <= part.program <= 127:
        raise MidiWriteError(f"Part {part.name!r}: channel 0..15 and program 0..127 are required.")
    events: list[tuple[int, int, object]] = []  # (tick, order, message); offs sort before ons
    for time, text in part.texts:
        events.append((round(time * PPQ), 0, mido.MetaMessage("text", text=text)))
    for start, duration, pitch, velocity in part.notes:
        if duration <= 0 or not 0 <= pitch <= 127 or not 1 <= velocity <= 127:
            raise MidiWriteError(
                f"Part {part.name!r}: note {(start, duration, pitch, velocity)} needs "
                "duration > 0, "
                "pitch 0..127 and velocity 1..127."
            )
        on, off = round(start * PPQ), round((start + duration) * PPQ)
        events.append(
            (on, 2, mido.Message("note_on", channel=part.channel, note=pitch, velocity=velocity))
        )
        events.append(
            (off, 1, mido.Message("note_off", channel=part.channel, note=pitch, velocity=0))
        )
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=part.name, time=0))
    if part.channel != 9:
        track.append(
            mido.Message("program_change", channel=part.channel, program=part.program, time=0)
        )
    now = 0
    for tick, _order, message in events:
        track.append(message.copy(time=tick - now))  # type: ignore[attr-defined]
        now = tick
    return track


def write_midi(
    piece: Piece,
    path: str | Path,
    tempo: float | None = None,
    instrument: str = "tenor sax",
    comping: bool = True,
    extra_parts: Sequence[MidiPart] = (),
) -> Path:
    """Write a solo over its chords as a MIDI file.

    Args:
        piece: the solo (its measures' chords become the "Chords" track).
        path: the ``.mid`` file to write.
        tempo: quarter notes per minute; the piece's own tempo by default.
        instrument: solo instrument, one of :data:`SOLO_INSTRUMENTS`.
        comping: also sound the chords as block voicings.
        extra_parts: further tracks, e.g. a backing band.

    Returns:
        The path written. ``read_piece(path)`` gives back the same notes and chords.
    """
    parts = [solo_part(piece, instrument), chords_part(piece.progression, comping), *extra_parts]
    return write_parts(parts, path, piece.tempo if tempo is None else tempo, piece.time_signature)


# ---------------------------------------------------------------- reading


def program_name(program: int) -> str:
    """A readable General MIDI instrument name for a program number 0..127."""
    return GM_PROGRAMS.get(program, f"{GM_FAMILIES[program // 8]} (program {program})")


def _parse_chord_mark(text: str, path: Path, bar: int) -> Chord | None:
    if text.strip().upper() in ("N.C.", "NC", "N.C"):
        return None
    try:
        return parse_chord(text)
    except ChordError as exc:
        raise ChordError(f"{path.name}, bar {bar}: {exc}") from None


def read_midi(path: Path) -> ScoreData:
    """Read a standard MIDI file (type 0 or 1) into tracks, bar lines and chord marks.

    Each (track, channel) pair with notes becomes one :class:`Track`, so a
    type-0 file with a whole band on one track is split by channel. Every such
    pair is listed, drums included: drum hits shorter than the grid last one grid
    tick; pitched notes that short (grace notes) are kept aside in
    ``Track.short_notes``. Each track's ``origin`` gives its MIDI track number
    (from 0, the conductor track included) and channel (from 1).

    Raises:
        CorpusError: the file is not a readable MIDI file, is damaged (an event
            further than :data:`MAX_QUARTERS` from the start) or holds no notes.
        ChordError: a chord track holds text that is no chord symbol.
    """
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise CorpusError(
            f"{path} is not a readable MIDI file ({type(exc).__name__}: {exc}). "
            "Check that it is a complete standard MIDI file (.mid), not renamed text or audio."
        ) from None
    if midi.type == 2:
        raise CorpusError(f"{path} is a type-2 (multi-song) MIDI file; save it as type 0 or 1.")
    per_quarter = midi.ticks_per_beat if midi.ticks_per_beat > 0 else 480
    last_tick = MAX_QUARTERS * per_quarter

    def grid(tick: int) -> int:
        return round(tick * TICKS_PER_QUARTER / per_quarter)

    signatures: list[tuple[int, int, int]] = []
    tempo = 0.0
    marks: list[tuple[int, str]] = []
    tracks: list[Track] = []
    for number, track in enumerate(midi.tracks):
        name = ""
        programs: dict[int, int] = {}
        notes: dict[int, list[tuple[int, int, int]]] = {}
        sounding: dict[tuple[int, int], list[int]] = {}
        tick = 0
        texts: list[tuple[int, str]] = []
        for message in track:
            tick += message.time
            if tick > last_tick:
                raise CorpusError(
                    f"{path} is damaged: MIDI track {number} has an event "
                    f"{tick // per_quarter} quarter notes from the start, past the "
                    f"{MAX_QUARTERS} (about 14 hours at 120 per minute) any piece could "
                    "last. Export the file again from the program that made it."
                )
            kind = message.type
            if kind == "track_name" and not name:
                name = message.name.strip()
            elif kind == "time_signature":
                signatures.append((grid(tick), message.numerator, message.denominator))
            elif kind == "set_tempo" and not tempo:
                tempo = round(mido.tempo2bpm(message.tempo), 2)
            elif kind in ("text", "marker", "lyrics", "cue_marker"):
                texts.append((grid(tick), message.text))
            elif kind == "program_change":
                programs.setdefault(message.channel, message.program)
            elif kind == "note_on" and message.velocity > 0:
                sounding.setdefault((message.channel, message.note), []).append(tick)
            elif kind in ("note_off", "note_on"):
                starts = sounding.get((message.channel, message.note))
                if starts:
                    start = starts.pop(0)
                    notes.setdefault(message.channel, []).append(
                        (grid(start), grid(tick), message.note)
                    )
        for (channel, pitch), starts in sounding.items():  # notes never released
            for start in starts:
                notes.setdefault(channel, []).append((grid(start), grid(tick), pitch))
        if "chord" in name.lower():
            marks.extend(texts)
        for channel in sorted(notes):
            is_drum = channel == DRUM_CHANNEL
            kept, short = _on_the_grid(notes[channel], is_drum)
            instrument = "Drums" if is_drum else program_name(programs.get(channel, 0))
            label = name if len(notes) == 1 or not name else f"{name} (channel {channel + 1})"
            origin = f"MIDI track {number}, channel {channel + 1}"
            tracks.append(
                Track(len(tracks), label, instrument, is_drum, kept, origin, short_notes=short)
            )
    if not any(t.notes for t in tracks):
        raise CorpusError(f"{path} holds no notes: there is no melody to learn from.")
    end_tick = max([e for t in tracks for _, e, _ in t.notes] + [t for t, _ in marks])
    bar_starts = bar_lines(signatures, end_tick)
    data = ScoreData(
        path=path,
        tracks=tracks,
        bar_starts=bar_starts,
        time_signature=(sorted(signatures)[0][1:] if signatures else (4, 4)),  # type: ignore[arg-type]
        tempo=tempo or 120.0,
        chord_marks=[],
        dropped_notes=sum(len(t.short_notes) for t in tracks),
    )
    data.chord_marks = [
        (t, _parse_chord_mark(x, path, data.bar_number(t))) for t, x in sorted(marks)
    ]
    return data


def _on_the_grid(
    notes: list[tuple[int, int, int]], is_drum: bool
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """Split grid notes into those kept and pitched ones too short for the grid.

    A drum hit shorter than one grid tick lasts one tick (hits are often a few MIDI
    ticks long); a pitched note that short is a grace note, returned as ``(start, pitch)``.
    """
    kept: list[tuple[int, int, int]] = []
    short: list[tuple[int, int]] = []
    for start, end, pitch in sorted(notes):
        if end > start:
            kept.append((start, end, pitch))
        elif is_drum:
            kept.append((start, start + 1, pitch))
        else:
            short.append((start, pitch))
    return kept, short
