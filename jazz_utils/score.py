"""What a music file holds before a melody and its chords are chosen.

Both readers fill the same structure: :func:`jazz_utils.midi_io.read_midi`
(standard MIDI, with mido) and :func:`jazz_utils.musicxml.read_musicxml`
(MusicXML, with music21). :func:`jazz_utils.corpus.read_piece` then picks the
melody track and the chords from it and cuts everything into measures.

Times are grid ticks (``TICKS_PER_QUARTER`` per quarter note, see
:mod:`jazz_utils.piece`) from the start of the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jazz_utils.chords import Chord
from jazz_utils.piece import TICKS_PER_QUARTER


@dataclass
class Track:
    """Every note of one MIDI track/channel or one MusicXML part.

    Attributes:
        index: position in the file's track list, counted from 0 (what ``melody=2``
            refers to). It is not the MIDI file's own track number: see ``origin``.
        name: the track or part name ("" if none).
        instrument: a readable instrument name.
        is_drum: True for MIDI channel 10 and unpitched percussion parts.
        notes: ``(start_tick, end_tick, pitch)`` on the grid, from the file's start.
            Drum hits shorter than a grid tick last one tick.
        origin: where the track is in the file, e.g. ``"MIDI track 3, channel 10"``
            (MIDI track numbers count from 0, the conductor track included, as
            mido does; channels count from 1, as General MIDI does).
        short_notes: ``(start_tick, pitch)`` of pitched notes too short for the grid
            (grace notes), left out of ``notes``.
    """

    index: int
    name: str
    instrument: str
    is_drum: bool
    notes: list[tuple[int, int, int]] = field(default_factory=list)
    origin: str = ""
    short_notes: list[tuple[int, int]] = field(default_factory=list)

    def describe(self) -> str:
        """One line for messages: list index, name, where it is in the file, instrument, notes.

        Example: ``"3: 'Drums' (MIDI track 4, channel 10; Drums, 560 notes)"``.
        """
        drum = ", drums" if self.is_drum and "drum" not in self.instrument.lower() else ""
        name = self.name or "(unnamed)"
        where = f"{self.origin}; " if self.origin else ""
        short = f", {len(self.short_notes)} too short for the grid" if self.short_notes else ""
        return (
            f"{self.index}: {name!r} ({where}{self.instrument}{drum}, "
            f"{len(self.notes)} notes{short})"
        )


@dataclass
class ScoreData:
    """What a file holds before a melody and chords are chosen.

    Attributes:
        path: the file read.
        tracks: every track with notes (drums included, and pitched tracks whose
            notes are all too short for the grid).
        bar_starts: grid tick of every bar line, then the end of the last bar;
            the first may be negative when a pickup bar is padded to full length.
        time_signature: (beats, beat unit) of the first bar.
        tempo: quarter notes per minute (first tempo mark, else 120).
        chord_marks: ``(tick, chord or None)``; None is a "no chord" mark.
        dropped_notes: pitched notes too short for the grid (grace notes), in all
            tracks; each track's own are in ``Track.short_notes``.
    """

    path: Path
    tracks: list[Track]
    bar_starts: list[int]
    time_signature: tuple[int, int]
    tempo: float
    chord_marks: list[tuple[int, Chord | None]]
    dropped_notes: int = 0

    @property
    def end_tick(self) -> int:
        """Grid tick where the last bar ends."""
        return self.bar_starts[-1]

    def track_list(self) -> str:
        """The tracks for a message: a heading that says how they are numbered, one per line."""
        lines = "\n  ".join(t.describe() for t in self.tracks)
        return (
            f"Tracks of {self.path.name}, numbered from 0 in this list (melody= and "
            "accompaniment= take these numbers or a name; in parentheses, where each is "
            "in the file: MIDI track numbers count from 0 with the conductor track, "
            f"channels from 1):\n  {lines}"
        )

    def bar_number(self, tick: int) -> int:
        """1-based bar number holding a tick (for messages)."""
        number = 1
        for i, start in enumerate(self.bar_starts[:-1]):
            if start <= tick:
                number = i + 1
        return number


def bar_lines(changes: list[tuple[int, int, int]], end_tick: int) -> list[int]:
    """Bar lines from time-signature changes ``(tick, beats, unit)`` up to ``end_tick``."""
    changes = sorted(changes) or [(0, 4, 4)]
    if changes[0][0] > 0:
        changes.insert(0, (0, 4, 4))
    starts: list[int] = []
    tick = 0
    for i, (change_tick, beats, unit) in enumerate(changes):
        tick = max(tick, change_tick)
        bar = max(1, beats * 4 * TICKS_PER_QUARTER // unit)
        stop = changes[i + 1][0] if i + 1 < len(changes) else max(end_tick, tick + 1)
        while tick < stop:
            starts.append(tick)
            tick += bar
    starts.append(tick)
    return starts
