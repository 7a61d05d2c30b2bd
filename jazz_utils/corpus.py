"""Read MIDI and MusicXML files into a :class:`~jazz_utils.piece.Piece`.

A piece is a monophonic melody and the chord sounding at every beat, measure
by measure. Reading happens in two steps:

1. The file becomes a :class:`~jazz_utils.score.ScoreData`: a list of
   :class:`~jazz_utils.score.Track` objects (every note, on a grid of
   ``TICKS_PER_QUARTER`` per quarter note), its bar lines and any chord symbols
   written in it. MIDI is read by :func:`jazz_utils.midi_io.read_midi` (mido,
   tick by tick); MusicXML (and the lead sheets music21 ships) by
   :func:`jazz_utils.musicxml.read_musicxml`, with music21.
2. :func:`read_piece` chooses the melody track, takes the chords from the
   file's chord symbols or, failing that, names them from the accompaniment
   tracks you point at, and cuts everything into measures.

Where chords come from:

* MusicXML chord symbols (``<harmony>``), e.g. lead sheets.
* MIDI text or marker events on a track whose name contains "chord"
  (this is how :mod:`jazz_utils.midi_io` writes them).
* Otherwise the notes of the accompaniment tracks you name, grouped per beat,
  half bar or bar (``chord_resolution``) and named by
  :func:`jazz_utils.chords.name_chord`. Nothing is guessed: with no chord
  symbols and no accompaniment named, reading fails and lists the tracks.

Beats before the first chord symbol take that first chord (a pickup leads
into it); a "no chord" (N.C.) mark keeps the previous chord.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from jazz_utils.chords import Chord, name_chord
from jazz_utils.errors import CorpusError
from jazz_utils.midi_io import (
    DRUM_CHANNEL,
    GM_FAMILIES,
    GM_PROGRAMS,
    MIDI_SUFFIXES,
    program_name,
    read_midi,
)
from jazz_utils.musicxml import (
    MUSICXML_SUFFIXES,
    chord_from_music21,
    music21_work_path,
    read_musicxml,
)
from jazz_utils.piece import TICKS_PER_QUARTER, ChordSpan, Measure, Note, Piece, from_ticks
from jazz_utils.score import ScoreData, Track

# MIDI reading lives in jazz_utils.midi_io, MusicXML reading in jazz_utils.musicxml and
# the structure both readers fill in jazz_utils.score; their names stay importable from
# here, where they always were.
__all__ = [
    "CHORD_RESOLUTIONS",
    "DRUM_CHANNEL",
    "GM_FAMILIES",
    "GM_PROGRAMS",
    "MELODY_TRACK_NAMES",
    "MIDI_SUFFIXES",
    "MUSICXML_SUFFIXES",
    "ScoreData",
    "Track",
    "chord_from_music21",
    "music21_work_path",
    "program_name",
    "read_midi",
    "read_musicxml",
    "read_piece",
    "read_score",
    "top_line",
]

#: Track names taken as the melody when a file has several tracks and none is named.
MELODY_TRACK_NAMES = re.compile(r"\b(melody|solo|lead)\b", re.IGNORECASE)
#: How accompaniment notes are grouped before naming a chord.
CHORD_RESOLUTIONS = ("beat", "half", "bar")


def read_score(path: str | Path) -> ScoreData:
    """Read a MIDI or MusicXML file, or a music21 corpus work named ``"music21:<name>"``.

    Raises:
        CorpusError: missing, empty, unsupported or unreadable file.
    """
    text = str(path)
    if text.startswith("music21:"):
        return read_musicxml(music21_work_path(text[len("music21:") :]))
    path = Path(path).expanduser()
    if not path.exists():
        raise CorpusError(
            f"{path} does not exist. Check the path (it is relative to {Path.cwd()})."
        )
    if path.is_dir():
        raise CorpusError(
            f"{path} is a folder; read_score takes one file (load_music_utils takes folders)."
        )
    suffix = path.suffix.lower()
    if suffix not in MIDI_SUFFIXES + MUSICXML_SUFFIXES:
        raise CorpusError(
            f"{path} has the suffix {suffix!r}; give a MIDI file ({', '.join(MIDI_SUFFIXES)}) "
            f"or MusicXML ({', '.join(MUSICXML_SUFFIXES)})."
        )
    if path.stat().st_size == 0:
        raise CorpusError(f"{path} is empty (0 bytes).")
    return read_midi(path) if suffix in MIDI_SUFFIXES else read_musicxml(path)


def _resolve_track(data: ScoreData, selector: int | str, role: str) -> Track:
    listing = "\n  ".join(t.describe() for t in data.tracks)
    if isinstance(selector, bool) or not isinstance(selector, int | str):
        raise CorpusError(f"{role} must be a track index or name, not {selector!r}.")
    if isinstance(selector, int):
        if 0 <= selector < len(data.tracks):
            return data.tracks[selector]
        raise CorpusError(
            f"{data.path.name} has no track {selector} ({role}). Its tracks:\n  {listing}"
        )
    wanted = selector.strip().lower()
    exact = [t for t in data.tracks if wanted in (t.name.lower(), t.instrument.lower())]
    matches = exact or [
        t for t in data.tracks if wanted in t.name.lower() or wanted in t.instrument.lower()
    ]
    if len(matches) == 1:
        return matches[0]
    problem = "matches several tracks" if matches else "matches no track"
    raise CorpusError(
        f"{role} {selector!r} {problem} of {data.path.name}; use a track index. "
        f"Its tracks:\n  {listing}"
    )


def _choose_melody(data: ScoreData, melody: int | str | None) -> Track:
    if melody is not None:
        return _resolve_track(data, melody, "melody")
    pitched = [t for t in data.tracks if not t.is_drum]
    if len(pitched) == 1:
        return pitched[0]
    named = [t for t in pitched if MELODY_TRACK_NAMES.search(t.name)]
    if len(named) == 1:
        return named[0]
    listing = "\n  ".join(t.describe() for t in data.tracks)
    raise CorpusError(
        f"{data.path.name} has {len(pitched)} pitched tracks; say which one is the melody, "
        f"e.g. melody=1 or melody='Tenor Sax'. Its tracks:\n  {listing}"
    )


def top_line(notes: Sequence[tuple[int, int, int]]) -> tuple[list[tuple[int, int, int]], int]:
    """Reduce notes to a monophonic line.

    Of notes starting together the highest is kept; a note is cut short where
    the next one starts.

    Returns:
        ``(line, dropped)``: the line's ``(start, end, pitch)`` and how many notes were left out.
    """
    by_start: dict[int, tuple[int, int, int]] = {}
    for start, end, pitch in notes:
        if start not in by_start or pitch > by_start[start][2]:
            by_start[start] = (start, end, pitch)
    line = [by_start[s] for s in sorted(by_start)]
    result = []
    for i, (start, end, pitch) in enumerate(line):
        if i + 1 < len(line):
            end = min(end, line[i + 1][0])
        result.append((start, end, pitch))
    return result, len(notes) - len(result)


def _chords_from_marks(data: ScoreData) -> list[tuple[int, Chord]]:
    """Chord changes ``(tick, chord)``: N.C. keeps the previous chord."""
    changes: list[tuple[int, Chord]] = []
    for tick, chord in data.chord_marks:
        if chord is not None and (not changes or changes[-1][1] != chord):
            changes.append((tick, chord))
    return changes


def _chords_from_accompaniment(
    data: ScoreData, tracks: list[Track], start: int, end: int, resolution: str
) -> list[tuple[int, Chord]]:
    """Name the chord of each beat, half bar or bar from the accompaniment's notes."""
    beats, unit = data.time_signature
    beat = 4 * TICKS_PER_QUARTER // unit
    bar = beats * beat
    step = {"beat": beat, "half": max(beat, bar // 2), "bar": bar}[resolution]
    notes = sorted(n for t in tracks for n in t.notes)
    changes: list[tuple[int, Chord]] = []
    for bar_index, bar_start in enumerate(data.bar_starts[:-1]):
        bar_end = data.bar_starts[bar_index + 1]
        if bar_end <= start or bar_start >= end:
            continue
        for seg in range(bar_start, bar_end, step):
            seg_end = min(seg + step, bar_end)
            sounding = [(s, e, p) for s, e, p in notes if s < seg_end and e > seg]
            if not sounding:
                continue
            bass = min(sounding, key=lambda n: n[2])[2] % 12
            chord = name_chord({p % 12 for _, _, p in sounding}, bass=bass)
            if not changes or changes[-1][1] != chord:
                changes.append((seg, chord))
    return changes


def _measures(
    data: ScoreData,
    line: list[tuple[int, int, int]],
    changes: list[tuple[int, Chord]],
    start: int,
    end: int,
) -> list[Measure]:
    """Cut the melody line and the chord changes into the bars overlapping [start, end)."""
    measures = []
    for i, bar_start in enumerate(data.bar_starts[:-1]):
        bar_end = data.bar_starts[i + 1]
        if bar_end <= start or bar_start >= end:
            continue
        notes = []
        for s, e, p in line:
            s2, e2 = max(s, bar_start, start), min(e, bar_end, end)
            if start <= s < end and e2 > s2:  # notes begun before the window are left out
                notes.append(Note(from_ticks(s2 - bar_start), from_ticks(e2 - s2), p))
        bounds = sorted({bar_start} | {t for t, _ in changes if bar_start < t < bar_end})
        spans: list[ChordSpan] = []
        for j, t in enumerate(bounds):
            t_end = bounds[j + 1] if j + 1 < len(bounds) else bar_end
            chord = _chord_at(changes, t)
            if spans and spans[-1].chord == chord:
                last = spans.pop()
                spans.append(
                    ChordSpan(last.offset, from_ticks(t_end - bar_start) - last.offset, chord)
                )
            else:
                spans.append(ChordSpan(from_ticks(t - bar_start), from_ticks(t_end - t), chord))
        measures.append(
            Measure(length=from_ticks(bar_end - bar_start), chords=tuple(spans), notes=tuple(notes))
        )
    return measures


def _chord_at(changes: list[tuple[int, Chord]], tick: int) -> Chord:
    current = changes[0][1]
    for t, chord in changes:
        if t <= tick:
            current = chord
        else:
            break
    return current


def read_piece(
    source: str | Path | ScoreData,
    melody: int | str | None = None,
    accompaniment: Sequence[int | str] | int | str | None = None,
    window: tuple[float, float] | None = None,
    chord_resolution: str = "beat",
) -> Piece:
    """Read a file into a monophonic melody over its chords, measure by measure.

    Args:
        source: a MIDI or MusicXML path, ``"music21:<corpus work>"``, or data from
            :func:`read_score`.
        melody: the melody track, by index or by (part of) its track or instrument
            name; may be omitted when the file has one pitched track, or one named
            melody/solo/lead.
        accompaniment: tracks whose notes give the chords when the file has no chord
            symbols (ignored when it has them).
        window: ``(start, end)`` in quarter notes from the start of the file; the bars
            overlapping it are read and notes starting outside it are left out. Bars
            119-137 of a 4/4 file are ``window=(472, 548)``.
        chord_resolution: ``"beat"``, ``"half"`` or ``"bar"``: how finely accompaniment
            notes are named as chords.

    Returns:
        A :class:`Piece`; ``piece.dropped_notes`` counts notes left out to make the
        melody monophonic (and grace notes too short for the grid).

    Raises:
        CorpusError: unreadable file, no notes, unknown track, no chord information,
            a window outside the piece.
        ChordError: an unknown chord symbol in the file.
    """
    data = source if isinstance(source, ScoreData) else read_score(source)
    if chord_resolution not in CHORD_RESOLUTIONS:
        raise CorpusError(
            f"chord_resolution must be one of {CHORD_RESOLUTIONS}, not {chord_resolution!r}."
        )
    melody_track = _choose_melody(data, melody)
    if melody_track.is_drum:
        raise CorpusError(
            f"Track {melody_track.describe()} is a drum track; choose a pitched melody."
        )
    piece_start, piece_end = data.bar_starts[0], data.end_tick
    if window is None:
        start, end = piece_start, piece_end
    else:
        try:
            w_start, w_end = (float(w) for w in window)
        except (TypeError, ValueError):
            raise CorpusError(
                f"window must be (start, end) in quarter notes, not {window!r}."
            ) from None
        start, end = round(w_start * TICKS_PER_QUARTER), round(w_end * TICKS_PER_QUARTER)
        if not (piece_start <= start < end) or start >= piece_end:
            raise CorpusError(
                f"window {window!r} lies outside {data.path.name}, which spans quarter notes "
                f"{from_ticks(piece_start):g} to {from_ticks(piece_end):g}; give (start, end) "
                "with start < end inside that range."
            )
        end = min(end, piece_end)
    line, dropped = top_line(melody_track.notes)
    if not any(start <= s < end for s, _, _ in line):
        raise CorpusError(
            f"The melody track {melody_track.describe()} of {data.path.name} has no notes "
            f"between quarter notes {from_ticks(start):g} and {from_ticks(end):g}."
        )

    changes = _chords_from_marks(data)
    if not changes:
        if accompaniment is None:
            listing = "\n  ".join(t.describe() for t in data.tracks)
            raise CorpusError(
                f"{data.path.name} has no chord symbols; name the tracks that play the chords, "
                f"e.g. accompaniment=['Piano'] or accompaniment=[2]. Its tracks:\n  {listing}"
            )
        selectors = [accompaniment] if isinstance(accompaniment, int | str) else list(accompaniment)
        tracks = [_resolve_track(data, s, "accompaniment") for s in selectors]
        if melody_track in tracks:
            raise CorpusError(
                f"Track {melody_track.describe()} cannot be melody and accompaniment."
            )
        changes = _chords_from_accompaniment(
            data, [t for t in tracks if not t.is_drum], start, end, chord_resolution
        )
        if not changes:
            raise CorpusError(
                f"The accompaniment tracks {selectors!r} of {data.path.name} play no pitched "
                "notes in the chosen window, so no chords can be named."
            )
    measures = _measures(data, line, changes, start, end)
    return Piece(
        measures=tuple(measures),
        time_signature=data.time_signature,
        tempo=data.tempo,
        name=data.path.stem,
        source=str(data.path),
        dropped_notes=dropped + data.dropped_notes,
        metadata={"melody_track": melody_track.describe()},
    )
