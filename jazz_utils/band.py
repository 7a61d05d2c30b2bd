"""A rhythm section behind a solo: walking bass, piano comping, drums -- and swing.

:func:`backing_parts` turns a chord progression into three
:class:`~jazz_utils.midi_io.MidiPart` tracks, the same every time for the same
``seed``:

* **Bass** (channel 3, GM program 32, acoustic bass): a walking line in quarter
  notes. Every chord change (and every bar line) lands on the chord's root (its
  bass note for a slash chord); the beat before a change approaches the next
  root chromatically (a semitone above or below) or from its fifth; the beats in
  between walk through the chord's fifth, third and other chord and scale tones.
* **Piano** (channel 4, GM program 0): rootless voicings (3-5-7-9 or 7-9-3-5,
  13 for 5 on dominants, whichever moves least from the previous voicing) or
  root-3-7 shells, struck in syncopated comping rhythms (Charleston, "and of 2
  and 4", anticipations of the next chord on the "and" before it). Every chord
  change is struck at least once.
* **Drums** (channel 10, i.e. ``channel=9`` counted from 0): the swing ride
  pattern (ride cymbal, GM 51, on every beat plus the "and" of 2 and 4), the
  hi-hat pedal (GM 44) on 2 and 4, and occasional snare (38) and kick (36)
  comping on off-beats.

Channels are counted from 0 in :class:`~jazz_utils.midi_io.MidiPart`, as in
mido: the solo is on 0, the "Chords" track on 1, bass 2, piano 3, drums 9.

Where swing lives
-----------------
Pieces, values and corpus files are *straight*: every time lies on the grid of
:mod:`jazz_utils.piece`, and :func:`jazz_utils.midi_io.write_midi` writes them
as they are. Swing is a way of *playing* them, applied only when a solo is
turned into sound: :func:`swing` moves the off-beat eighth of each beat from
halfway (0.5) to ``ratio`` of the beat (0.62 by default; 0.5 is straight, 2/3
is triplet swing). :func:`write_band_midi` writes a file for listening, with
every part swung; :func:`jazz_utils.audio.render` swings a :class:`Piece` the
same way before synthesizing it, and plays a MIDI file as it is written. Both
take their tempo, instrument, swing and band as one
:class:`~jazz_utils.performance.RenderOptions` (or those fields by name).

A swung file read back with :func:`jazz_utils.corpus.read_piece` keeps its
pitches and chords, but its off-beat eighths land on the nearest grid tick
(7/12 of a beat at 0.62) and would enter the values as new durations: write
files meant for training with ``swing=0.5`` or with ``write_midi``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from jazz_utils.chords import Chord, as_progression
from jazz_utils.errors import MidiWriteError
from jazz_utils.midi_io import DRUM_CHANNEL, MidiPart, chords_part, solo_part, write_parts
from jazz_utils.performance import DEFAULT_SWING, RenderOptions, check_swing, render_options
from jazz_utils.piece import TICKS_PER_QUARTER, Piece, Progression, from_ticks, to_ticks

#: MIDI channels (counted from 0) and General MIDI programs of the band (drums:
#: :data:`jazz_utils.midi_io.DRUM_CHANNEL`).
BASS_CHANNEL, BASS_PROGRAM = 2, 32
PIANO_CHANNEL, PIANO_PROGRAM = 3, 0
#: General MIDI percussion keys used by the drummer.
KICK, SNARE, HIHAT_PEDAL, RIDE, CRASH = 36, 38, 44, 51, 49

#: Lowest and highest pitch of the walking bass (E1 .. D3, as written for a double bass).
BASS_RANGE = (28, 50)
#: Where the walking line likes to sit (around D2).
BASS_CENTRE = 38
#: Lowest and highest allowed bottom note of a piano voicing (C3 .. C4).
VOICING_BOTTOM = (48, 60)
#: Piano voicing the first chord is led from (a rootless Dm9 around middle C).
_START_VOICING = (53, 57, 60, 64)
#: Voicing styles :func:`backing_parts` knows.
VOICINGS = ("rootless", "shell")

#: Comping rhythms for a 4/4 bar: (onset, length) in quarter notes.
COMPING_PATTERNS: tuple[tuple[tuple[float, float], ...], ...] = (
    ((0.0, 1.0), (1.5, 0.5)),  # Charleston
    ((1.5, 0.5), (3.5, 0.5)),  # the "and" of 2 and 4
    ((0.0, 0.5), (2.5, 1.0)),
    ((1.0, 0.5), (2.5, 0.5), (3.5, 0.5)),
    ((0.5, 1.0), (2.0, 0.5), (3.5, 0.5)),
    ((1.5, 1.5),),
    ((0.0, 1.5), (2.5, 0.5)),
    ((0.0, 0.5), (1.5, 0.5), (3.0, 0.5)),
)

_BEAT = TICKS_PER_QUARTER
_HALF = TICKS_PER_QUARTER // 2


def swing(
    notes: Sequence[tuple[float, float, int, int]], ratio: float = DEFAULT_SWING
) -> list[tuple[float, float, int, int]]:
    """Swing off-beat eighths: move each beat's midpoint to ``ratio`` of the beat.

    A beat (quarter note) is swung when every onset inside it falls on the beat
    or on its off-beat eighth; beats holding sixteenths or triplets stay
    straight. Time inside a swung beat is stretched piecewise-linearly
    (0 -> 0, 0.5 -> ``ratio``, 1 -> 1), so two straight eighths become a long
    and a short one, onsets on the beat never move, and no note changes order
    or loses its length entirely.

    Args:
        notes: ``(start, duration, pitch, velocity)``, times in quarter notes from
            the start of the piece, on the grid of :mod:`jazz_utils.piece`.
        ratio: where the off-beat eighth falls, 0.5 (straight) .. 0.8.

    Returns:
        The notes in the same order with swung start times and durations.

    Raises:
        MidiWriteError: ``ratio`` is out of range.
    """
    ratio = check_swing(ratio)
    if ratio == 0.5 or not notes:
        return list(notes)
    straight_beats: set[int] = set()
    for start, *_ in notes:
        tick = to_ticks(start)
        if tick % _HALF:
            straight_beats.add(tick // _BEAT)

    def warp(time: float) -> float:
        tick = to_ticks(time)
        beat, position = divmod(tick, _BEAT)
        if beat in straight_beats or abs(from_ticks(tick) - time) > 1e-6:
            return time
        fraction = position / _BEAT
        if fraction <= 0.5:
            swung = fraction * ratio / 0.5
        else:
            swung = ratio + (fraction - 0.5) * (1.0 - ratio) / 0.5
        return beat + swung

    result = []
    for start, duration, pitch, velocity in notes:
        new_start, new_end = warp(start), warp(start + duration)
        if new_start == start and new_end == start + duration:  # untouched: keep it exact
            result.append((start, duration, pitch, velocity))
        else:
            result.append((new_start, new_end - new_start, pitch, velocity))
    return result


def swing_part(part: MidiPart, ratio: float = DEFAULT_SWING) -> MidiPart:
    """A copy of ``part`` with its notes swung (its text events stay where they are)."""
    return replace(part, notes=swing(part.notes, ratio), texts=list(part.texts))


@dataclass(frozen=True)
class _Beat:
    """One quarter-note beat of a progression (times in quarter notes)."""

    time: float
    duration: float
    chord: Chord
    change: bool  # a bar line or a new chord starts here
    index: int  # beat number within its bar, from 0


def _beats(progression: Progression) -> list[_Beat]:
    beats = []
    bar_start = 0
    for measure in progression:
        length = to_ticks(measure.length)
        previous: Chord | None = None
        for index, tick in enumerate(range(0, length, _BEAT)):
            chord = measure.chord_at(from_ticks(tick))
            beats.append(
                _Beat(
                    time=from_ticks(bar_start + tick),
                    duration=from_ticks(min(_BEAT, length - tick)),
                    chord=chord,
                    change=tick == 0 or chord != previous,
                    index=index,
                )
            )
            previous = chord
        bar_start += length
    return beats


def _nearest(pc: int, reference: float, low: int, high: int) -> int:
    """The pitch of pitch class ``pc`` in ``[low, high]`` nearest to ``reference``."""
    candidates = [p for p in range(low, high + 1) if p % 12 == pc % 12]
    return min(candidates, key=lambda p: (abs(p - reference), p))


def walking_bass(progression: Progression, rng: np.random.Generator) -> MidiPart:
    """A walking bass line in quarter notes (see the module docstring for the rules)."""
    part = MidiPart("Bass", BASS_CHANNEL, BASS_PROGRAM)
    beats = _beats(progression)
    low, high = BASS_RANGE
    previous = float(BASS_CENTRE)
    direction = 1
    for i, beat in enumerate(beats):
        following = beats[i + 1] if i + 1 < len(beats) else beats[0]  # the form repeats
        chord = beat.chord
        if beat.change:
            # Pull towards the centre so that the line does not drift to an edge.
            pitch = _nearest(chord.bass, 0.7 * previous + 0.3 * BASS_CENTRE, low, high)
        elif following.change:
            target = _nearest(following.chord.bass, previous, low + 1, high - 1)
            choice = rng.choice(3, p=[0.4, 0.35, 0.25])
            options = (target - 1, target + 1, target - 5 if target - 5 >= low else target + 7)
            pitch = options[choice] if low <= options[choice] <= high else target - 1
        else:
            root = chord.root
            weights = []
            candidates = []
            for p in range(int(previous) - 7, int(previous) + 8):
                if not low <= p <= high or p == previous:
                    continue
                interval = (p - root) % 12
                if interval == 7 or (interval == 6 and 7 not in chord.intervals):
                    weight = 3.0  # the fifth
                elif chord.third is not None and p % 12 == chord.third:
                    weight = 2.0
                elif p % 12 in chord.pitch_classes:
                    weight = 1.5
                elif p % 12 in chord.scale_pitch_classes:
                    weight = 1.0
                else:
                    continue
                weight *= math.exp(-abs(p - previous) / 2.5)  # walk, mostly by step
                if (p - previous) * direction > 0:
                    weight *= 2.0
                candidates.append(p)
                weights.append(weight)
            if not candidates:  # cannot happen for real chords; keep the line going anyway
                pitch = _nearest(root, previous, low, high)
            else:
                probabilities = np.asarray(weights) / np.sum(weights)
                pitch = int(candidates[rng.choice(len(candidates), p=probabilities)])
        if pitch >= high - 3:
            direction = -1
        elif pitch <= low + 3:
            direction = 1
        velocity = int(84 + (6 if beat.index % 2 else 0) + rng.integers(-5, 6))
        part.notes.append((beat.time, beat.duration, int(pitch), velocity))
        previous = float(pitch)
    return part


def _voicing_intervals(chord: Chord, style: str) -> list[tuple[int, ...]]:
    """Candidate voicings of a chord as semitones above its root, bottom to top."""
    intervals = chord.intervals
    third = next((i for i in (4, 3, 5, 2) if i in intervals), 4)
    seventh = next((i for i in (10, 11, 9) if i in intervals), 9)
    if style == "shell":
        return [(0, third, seventh), (0, seventh, third + 12)]
    ninth = next((i for i in (2, 1, 3) if i in chord.scale and i != third), 2)
    if chord.quality == "dom" and 9 in chord.scale and seventh != 9:
        fifth = 9  # the thirteenth
    else:
        fifth = next((i for i in (7, 6, 8) if i in intervals), 7)
    return [(third, fifth, seventh, ninth), (seventh, ninth, third, fifth)]


def _stack(root: int, intervals: Sequence[int], bottom: int) -> tuple[int, ...]:
    """Stack intervals above ``root`` upwards, the first one at pitch ``bottom``."""
    pitches = [bottom]
    for interval in intervals[1:]:
        pitch = bottom + (root + interval - bottom) % 12
        while pitch <= pitches[-1]:
            pitch += 12
        pitches.append(pitch)
    return tuple(pitches)


def voice_chord(chord: Chord, previous: Sequence[int], style: str = "rootless") -> tuple[int, ...]:
    """The voicing of ``chord`` that moves least from ``previous`` (MIDI pitches, low to high)."""
    best: tuple[float, tuple[int, ...]] | None = None
    low, high = VOICING_BOTTOM
    if style == "shell":
        low, high = 43, 55
    for intervals in _voicing_intervals(chord, style):
        for bottom in range(low, high + 1):
            if bottom % 12 != (chord.root + intervals[0]) % 12:
                continue
            pitches = _stack(chord.root, intervals, bottom)
            cost = sum(abs(a - b) for a, b in zip(sorted(pitches), sorted(previous), strict=False))
            cost += abs(len(pitches) - len(previous)) * 6 + max(0, pitches[-1] - 74) * 3
            if best is None or cost < best[0]:
                best = (cost, pitches)
    assert best is not None
    return best[1]


def piano_comping(
    progression: Progression, rng: np.random.Generator, style: str = "rootless"
) -> MidiPart:
    """Syncopated comping in rootless or shell voicings (see the module docstring)."""
    part = MidiPart("Piano", PIANO_CHANNEL, PIANO_PROGRAM)
    total = to_ticks(progression.total_length)
    changes: list[tuple[int, Chord]] = []  # (tick, chord) wherever the harmony moves
    onsets: dict[int, int] = {}  # tick -> pattern length in ticks
    bar_start = 0
    for measure in progression:
        for span in measure.chords:
            tick = bar_start + to_ticks(span.offset)
            if not changes or changes[-1][1] != span.chord:
                changes.append((tick, span.chord))
        length = to_ticks(measure.length)
        pattern = COMPING_PATTERNS[int(rng.integers(len(COMPING_PATTERNS)))]
        hits = [(to_ticks(t), to_ticks(d)) for t, d in pattern if to_ticks(t) < length]
        for tick, ticks in hits or [(0, min(_BEAT, length))]:
            onsets[bar_start + tick] = ticks
        bar_start += length
    change_ticks = [t for t, _ in changes]
    for tick in change_ticks:  # strike every change at least once
        if not any(tick - _HALF <= t <= tick + _BEAT for t in onsets):
            onsets[tick] = _BEAT

    def chord_at(tick: int) -> tuple[int, Chord]:
        index = max(i for i, t in enumerate(change_ticks) if t <= tick)
        return index, changes[index][1]

    previous: Sequence[int] = _START_VOICING
    ordered = sorted(onsets)
    for n, tick in enumerate(ordered):
        anticipates = tick % _BEAT == _HALF and (tick + _HALF) in change_ticks
        index, chord = chord_at(tick + _HALF if anticipates else tick)
        chord_end = change_ticks[index + 1] if index + 1 < len(change_ticks) else total
        end = min(tick + onsets[tick], chord_end, total)
        if n + 1 < len(ordered):
            end = min(end, ordered[n + 1])
        if end <= tick:
            continue
        voicing = voice_chord(chord, previous, style)
        velocity = int(62 + rng.integers(-8, 9))
        for pitch in voicing:
            part.notes.append((from_ticks(tick), from_ticks(end - tick), pitch, velocity))
        previous = voicing
    return part


def drums(progression: Progression, rng: np.random.Generator) -> MidiPart:
    """Swing time on the ride, hi-hat on 2 and 4, sparse snare and kick comping."""
    part = MidiPart("Drums", DRUM_CHANNEL, 0)
    hit = 0.25  # note length of a drum hit; GM drum sounds ring regardless
    for beat in _beats(progression):
        t, length = beat.time, min(hit, beat.duration)
        backbeat = beat.index % 2 == 1
        part.notes.append((t, length, RIDE, int(70 + 10 * backbeat + rng.integers(-4, 5))))
        if backbeat:
            part.notes.append((t, length, HIHAT_PEDAL, int(72 + rng.integers(-4, 5))))
        if beat.duration > 0.5:
            off = t + 0.5
            if backbeat:
                part.notes.append((off, hit, RIDE, int(58 + rng.integers(-4, 5))))
            roll = rng.random()
            if roll < 0.10:
                part.notes.append((off, hit, SNARE, int(48 + rng.integers(0, 20))))
            elif roll < 0.14:
                part.notes.append((off, hit, KICK, int(62 + rng.integers(0, 12))))
    part.notes.sort()
    return part


def backing_parts(
    progression: Progression | str,
    seed: int | None = 0,
    voicing: str = "rootless",
    bass: bool = True,
    piano: bool = True,
    drum_kit: bool = True,
) -> list[MidiPart]:
    """The rhythm section for a progression, straight (unswung), as MIDI parts.

    Args:
        progression: the chords (a :class:`Progression` or text like ``"| Dm7 G7 | Cmaj7 |"``).
        seed: seeds every choice (same seed, same band; None for a fresh one).
        voicing: ``"rootless"`` (3-5-7-9 / 7-9-3-5) or ``"shell"`` (root-3-7) piano voicings.
        bass, piano, drum_kit: which players to include.

    Returns:
        ``[bass, piano, drums]`` (those asked for), times in quarter notes from
        the start; bass on channel 2, piano on 3, drums on 9 (counted from 0).

    Raises:
        MidiWriteError: unknown voicing style.
        ChordError: an empty or unreadable progression.
    """
    progression = as_progression(progression)
    if voicing not in VOICINGS:
        raise MidiWriteError(f"voicing must be one of {VOICINGS}, not {voicing!r}.")
    rng = np.random.default_rng(seed)
    # One generator per player, so that dropping a player leaves the others unchanged.
    bass_rng, piano_rng, drum_rng = (np.random.default_rng(s) for s in rng.integers(2**32, size=3))
    parts = []
    if bass:
        parts.append(walking_bass(progression, bass_rng))
    if piano:
        parts.append(piano_comping(progression, piano_rng, voicing))
    if drum_kit:
        parts.append(drums(progression, drum_rng))
    return parts


def performance_parts(piece: Piece, options: RenderOptions | None = None) -> list[MidiPart]:
    """Everything a listener hears: solo, chord symbols and band, all swung.

    Args:
        piece: the solo and its chords.
        options: instrument, swing, band, seed and voicing (the defaults when None;
            the tempo is applied by whoever writes or plays the parts).

    Returns:
        ``[Melody, Chords (symbols only), Bass, Piano, Drums]`` (without the last
        three when ``options.band`` is False), the layout :func:`jazz_utils.midi_io.write_midi`
        uses, so :func:`jazz_utils.corpus.read_piece` reads the file back.

    Raises:
        MidiWriteError: unknown instrument or voicing, swing out of range.
    """
    options = render_options(options)
    ratio = check_swing(options.swing)
    parts = [solo_part(piece, options.instrument), chords_part(piece.progression, comping=False)]
    if options.band:
        parts.extend(backing_parts(piece.progression, seed=options.seed, voicing=options.voicing))
    return [swing_part(p, ratio) for p in parts]


def write_band_midi(
    piece: Piece, path: str | Path, options: RenderOptions | None = None, **overrides: Any
) -> Path:
    """Write a solo with a rhythm section as a MIDI file for listening.

    The file has the layout of :func:`jazz_utils.midi_io.write_midi` (a "Melody"
    track, chord symbols on a "Chords" track, here without block chords) plus
    "Bass", "Piano" and "Drums" tracks, every part swung by ``swing``.

    Args:
        piece: the solo and its chords.
        path: the ``.mid`` file to write (parent folders are created).
        options: how to perform it (:class:`~jazz_utils.performance.RenderOptions`):
            ``tempo`` (the piece's own by default), ``instrument`` ("tenor sax",
            "trumpet", "guitar", "piano", ...), ``swing`` (0.5 straight .. 0.8; see
            :func:`swing`), ``band``, ``seed`` (the band's choices), ``voicing``
            (``"rootless"`` or ``"shell"``).
        **overrides: any of those fields by name, e.g. ``instrument="trumpet", swing=0.5``.

    Returns:
        The path written.

    Raises:
        MidiWriteError: unknown instrument or voicing, bad tempo or swing.
        TypeError: an override that is no rendering option.
    """
    options = render_options(options, **overrides)
    tempo = piece.tempo if options.tempo is None else options.tempo
    return write_parts(performance_parts(piece, options), path, tempo, piece.time_signature)
