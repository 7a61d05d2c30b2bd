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
  :mod:`jazz_utils.accompaniment`, which never names a held bass note on its own.
  Nothing is guessed: with no chord symbols and no accompaniment named, reading
  fails and lists the tracks.

Tracks are chosen by name or by their number in the file's track list, counted
from 0 (:meth:`~jazz_utils.score.ScoreData.track_list` prints it, and every
message about a track quotes it, beside each track's MIDI track number and
channel).

Beats before the first chord symbol take that first chord (a pickup leads
into it); a "no chord" (N.C.) mark keeps the previous chord.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

from jazz_utils.accompaniment import (
    CHORD_RESOLUTIONS,
    MIN_CHORD_TONES,
    chords_from_accompaniment,
)
from jazz_utils.chords import Chord
from jazz_utils.errors import AccompanimentIgnoredWarning, CorpusError
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

# MIDI reading lives in jazz_utils.midi_io, MusicXML reading in jazz_utils.musicxml,
# the structure both readers fill in jazz_utils.score and chord naming from notes in
# jazz_utils.accompaniment; their names stay importable from here, where they always were.
__all__ = [
    "CHORD_RESOLUTIONS",
    "DRUM_CHANNEL",
    "GM_FAMILIES",
    "GM_PROGRAMS",
    "MELODY_TRACK_NAMES",
    "MIDI_SUFFIXES",
    "MIN_CHORD_TONES",
    "MUSICXML_SUFFIXES",
    "SYMBOLS",
    "ScoreData",
    "Track",
    "check_source_path",
    "chord_from_music21",
    "music21_work_path",
    "program_name",
    "read_midi",
    "read_musicxml",
    "read_piece",
    "read_score",
    "top_line",
    "warn_accompaniment_ignored",
]

#: ``piece.metadata["chords_from"]`` of a piece whose chords are the file's chord symbols.
SYMBOLS = "chord symbols in the file"
#: Track names taken as the melody when a file has several tracks and none is named.
MELODY_TRACK_NAMES = re.compile(r"\b(melody|solo|lead)\b", re.IGNORECASE)


def read_score(path: str | Path) -> ScoreData:
    """Read a MIDI or MusicXML file, or a music21 corpus work named ``"music21:<name>"``.

    Raises:
        CorpusError: missing, empty, unsupported or unreadable file, or a path that is
            not text or a :class:`~pathlib.Path`.
    """
    check_source_path(path, "source")
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


def check_source_path(path: object, name: str) -> None:
    """Raise a CorpusError unless ``path`` is text or a path object.

    Args:
        path: what was given as a file.
        name: the argument's name, for the message (``"source"``, ``"file"``).
    """
    if isinstance(path, bytes | bytearray):
        raise CorpusError(
            f"{name} is bytes ({bytes(path)[:40]!r}); give the path as text, e.g. "
            f"{name}='my_band.mid', or as a pathlib.Path."
        )
    if not isinstance(path, str | os.PathLike):
        raise CorpusError(
            f"{name} must be a file path as text (e.g. {name}='my_band.mid') or a "
            f"pathlib.Path, not {type(path).__name__} {path!r}."
        )


def _resolve_track(data: ScoreData, selector: int | str, role: str) -> Track:
    if isinstance(selector, bool) or not isinstance(selector, int | str):
        raise CorpusError(
            f"{role} must be a track number (counted from 0 in the list below) or a name, "
            f"not {selector!r}. {data.track_list()}"
        )
    if isinstance(selector, int):
        if 0 <= selector < len(data.tracks):
            return data.tracks[selector]
        raise CorpusError(
            f"{role}={selector}: {data.path.name} has no track {selector}; it lists "
            f"{len(data.tracks)} tracks, numbered 0 to {len(data.tracks) - 1} "
            f"(list positions, not the MIDI file's own track numbers). {data.track_list()}"
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
        f"{role} {selector!r} {problem} of {data.path.name}; give a number from the list "
        f"below or a name that only one track has. {data.track_list()}"
    )


def _choose_melody(data: ScoreData, melody: int | str | None) -> Track:
    if melody is not None:
        return _resolve_track(data, melody, "melody")
    pitched = [t for t in data.tracks if not t.is_drum and t.notes]
    if len(pitched) == 1:
        return pitched[0]
    named = [t for t in pitched if MELODY_TRACK_NAMES.search(t.name)]
    if len(named) == 1:
        return named[0]
    raise CorpusError(
        f"{data.path.name} has {len(pitched)} pitched tracks; say which one is the melody, "
        f"e.g. melody=1 or melody='Tenor Sax'. {data.track_list()}"
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
        melody: the melody track, by its number in the file's track list (counted
            from 0, as every message lists them; not the MIDI file's own track
            number) or by (part of) its track or instrument name; may be omitted when
            the file has one pitched track, or one named melody/solo/lead.
        accompaniment: tracks whose notes give the chords when the file has no chord
            symbols. A file's own chord symbols always give its chords: accompaniment
            named for such a file is not used (not even checked) and an
            :class:`~jazz_utils.errors.AccompanimentIgnoredWarning` says so.
        window: ``(start, end)`` in quarter notes from the start of the file; the bars
            overlapping it are read and notes starting outside it are left out. Bars
            119-137 of a 4/4 file are ``window=(472, 548)``.
        chord_resolution: ``"beat"``, ``"half"`` or ``"bar"``: how finely accompaniment
            notes are named as chords. A beat (half bar, bar) with fewer than
            :data:`MIN_CHORD_TONES` pitch classes, such as the piano's bass note held
            after the chord, is not named on its own: it keeps the chord sounding
            before it, or takes the chord of the rest of its half bar.

    Returns:
        A :class:`Piece`. ``piece.dropped_notes`` counts the melody notes starting in
        the window that were left out: to make the melody monophonic, and grace notes
        too short for the grid. ``piece.metadata`` says where the piece came from:
        ``"melody_track"`` (the track's description), ``"chords_from"`` and, with a
        window, ``"window"`` (quarter notes).

    Raises:
        CorpusError: unreadable file, no notes, unknown track, no chord information,
            a window that is not two finite numbers, is empty or reversed, or lies
            outside the piece.
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
    start, end = _window_ticks(data, window)
    line, _ = top_line(melody_track.notes)
    if not any(start <= s < end for s, _, _ in line):
        short = f" ({len(melody_track.short_notes)} notes too short for the grid left out)"
        raise CorpusError(
            f"The melody track {melody_track.describe()} of {data.path.name} has no notes "
            f"between quarter notes {from_ticks(start):g} and {from_ticks(end):g}"
            f"{short if melody_track.short_notes else ''}."
        )
    metadata: dict[str, object] = {"melody_track": melody_track.describe()}
    if window is not None:
        metadata["window"] = [from_ticks(start), from_ticks(end)]
    changes = _chords_from_marks(data)
    if changes:
        metadata["chords_from"] = SYMBOLS
        if accompaniment is not None:
            warn_accompaniment_ignored(data.path.name, accompaniment)
    else:
        tracks = _accompaniment_tracks(data, accompaniment, melody_track)
        changes = chords_from_accompaniment(
            data, [t for t in tracks if not t.is_drum], start, end, chord_resolution
        )
        if not changes:
            raise CorpusError(
                f"The accompaniment tracks {accompaniment!r} of {data.path.name} play no "
                "pitched notes in the chosen window, so no chords can be named."
            )
        named = "; ".join(t.describe() for t in tracks)
        metadata["chords_from"] = f"named per {chord_resolution} from {named}"
    measures = _measures(data, line, changes, start, end)
    return Piece(
        measures=tuple(measures),
        time_signature=data.time_signature,
        tempo=data.tempo,
        name=data.path.stem,
        source=str(data.path),
        dropped_notes=_dropped_in_window(melody_track, line, start, end),
        metadata=metadata,
    )


def warn_accompaniment_ignored(file: str, accompaniment: object) -> None:
    """Warn that a file's chord symbols were used and ``accompaniment`` was not."""
    warnings.warn(
        f"{file} has chord symbols, so they give its chords; accompaniment="
        f"{accompaniment!r} was not used. Leave accompaniment out (None) for files with "
        "chord symbols.",
        AccompanimentIgnoredWarning,
        stacklevel=3,
    )


def _accompaniment_tracks(
    data: ScoreData, accompaniment: Sequence[int | str] | int | str | None, melody: Track
) -> list[Track]:
    """The tracks named to give the chords of a file without chord symbols."""
    if accompaniment is None:
        raise CorpusError(
            f"{data.path.name} has no chord symbols; name the tracks that play the chords, "
            f"e.g. accompaniment=['Piano'] or accompaniment=[2]. {data.track_list()}"
        )
    if isinstance(accompaniment, int | str):
        selectors: list[int | str] = [accompaniment]
    elif isinstance(accompaniment, list | tuple) and accompaniment:
        selectors = list(accompaniment)
    else:
        raise CorpusError(
            "accompaniment must be a track number or name, or a list of them, e.g. "
            f"accompaniment=['Piano'], not {accompaniment!r}. {data.track_list()}"
        )
    tracks = [_resolve_track(data, s, "accompaniment") for s in selectors]
    if melody in tracks:
        raise CorpusError(f"Track {melody.describe()} cannot be melody and accompaniment.")
    return tracks


def _window_ticks(data: ScoreData, window: tuple[float, float] | None) -> tuple[int, int]:
    """A window in quarter notes as grid ticks ``(start, end)``, end clipped to the file.

    Raises:
        CorpusError: not two numbers, not finite, empty, reversed or outside the file.
    """
    piece_start, piece_end = data.bar_starts[0], data.end_tick
    if window is None:
        return piece_start, piece_end
    span = (
        f"{data.path.name} spans quarter notes {from_ticks(piece_start):g} to "
        f"{from_ticks(piece_end):g}"
    )
    try:
        w_start, w_end = (_quarters(w) for w in window)
    except (TypeError, ValueError):
        raise CorpusError(
            f"window must be (start, end) in quarter notes, e.g. window=(0, 48) for the first "
            f"12 bars of 4/4, not {window!r}."
        ) from None
    if math.isnan(w_start) or math.isnan(w_end):
        raise CorpusError(
            f"window {window!r} holds nan (not a number); give two numbers of quarter "
            f"notes, e.g. window=(0, 48). {span}."
        )
    if math.isinf(w_start) or math.isinf(w_end):
        raise CorpusError(
            f"window {window!r} is infinite; give finite quarter notes. {span}: to read to "
            f"its end give window=({w_start if math.isfinite(w_start) else 0:g}, "
            f"{from_ticks(piece_end):g}), or no window to read all of it."
        )
    start, end = round(w_start * TICKS_PER_QUARTER), round(w_end * TICKS_PER_QUARTER)
    if end < start:
        raise CorpusError(
            f"window {window!r} ends before it starts; give (start, end) with start < end, "
            f"e.g. window=({w_end:g}, {w_start:g})."
        )
    if end == start:
        raise CorpusError(
            f"window {window!r} is empty (its end is its start, to the nearest 1/"
            f"{TICKS_PER_QUARTER} quarter note); give an end after the start, e.g. "
            f"window=({w_start:g}, {w_start + 16:g}) for four bars of 4/4."
        )
    if start < piece_start or start >= piece_end:
        raise CorpusError(
            f"window {window!r} lies outside {data.path.name}, which spans quarter notes "
            f"{from_ticks(piece_start):g} to {from_ticks(piece_end):g}; give (start, end) "
            "with start < end inside that range."
        )
    return start, min(end, piece_end)


def _quarters(number: object) -> float:
    """A window bound as a float; a whole number too large for one is infinite."""
    try:
        return float(number)  # type: ignore[arg-type]
    except OverflowError:
        return math.inf if number > 0 else -math.inf  # type: ignore[operator]


def _dropped_in_window(
    melody: Track, line: list[tuple[int, int, int]], start: int, end: int
) -> int:
    """Melody notes starting in ``[start, end)`` that are not in its line: chord tones
    under the top note and grace notes too short for the grid."""
    played = sum(1 for s, _, _ in melody.notes if start <= s < end)
    kept = sum(1 for s, _, _ in line if start <= s < end)
    short = sum(1 for s, _ in melody.short_notes if start <= s < end)
    return played - kept + short
