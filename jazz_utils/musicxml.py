"""Read MusicXML (lead sheets, music21's works) into a :class:`~jazz_utils.score.ScoreData`.

music21 parses the file; its notes go on the grid of ``TICKS_PER_QUARTER`` ticks per
quarter note, its measures give the bar lines, and its chord symbols (``<harmony>``)
become :class:`~jazz_utils.chords.Chord` marks, named as a lead sheet writes them.
MIDI is read by :mod:`jazz_utils.midi_io`; :func:`jazz_utils.corpus.read_score` chooses.
"""

from __future__ import annotations

from pathlib import Path

from jazz_utils.chords import Chord, name_chord, parse_chord
from jazz_utils.errors import ChordError, CorpusError
from jazz_utils.piece import TICKS_PER_QUARTER
from jazz_utils.score import ScoreData, Track, bar_lines

#: File suffixes read as MusicXML (MIDI: :data:`jazz_utils.midi_io.MIDI_SUFFIXES`).
MUSICXML_SUFFIXES = (".xml", ".mxl", ".musicxml")


#: music21 chord kinds and how a lead sheet writes them.
_MUSIC21_KINDS = {
    "major": "", "minor": "m", "augmented": "+", "diminished": "o", "dominant-seventh": "7",
    "major-seventh": "maj7", "minor-major-seventh": "m(maj7)", "minor-seventh": "m7",
    "augmented-seventh": "+7", "half-diminished-seventh": "m7b5", "diminished-seventh": "o7",
    "seventh-flat-five": "7b5", "major-sixth": "6", "minor-sixth": "m6", "major-ninth": "maj9",
    "dominant-ninth": "9", "minor-ninth": "m9", "dominant-11th": "11", "minor-11th": "m11",
    "major-13th": "maj13", "dominant-13th": "13", "minor-13th": "m13", "suspended-second": "sus2",
    "suspended-fourth": "sus4", "suspended-fourth-seventh": "7sus4", "power": "5",
}  # fmt: skip


def chord_from_music21(symbol: object) -> Chord | None:
    """Our :class:`Chord` for a ``music21.harmony.ChordSymbol`` (None for N.C.)."""
    from music21 import harmony

    if isinstance(symbol, harmony.NoChord) or symbol.root() is None:  # type: ignore[attr-defined]
        return None
    root = symbol.root().name.replace("-", "b")  # type: ignore[attr-defined]
    suffix = _MUSIC21_KINDS.get(symbol.chordKind)  # type: ignore[attr-defined]
    if suffix is None:
        pcs = {p.pitchClass for p in symbol.pitches}  # type: ignore[attr-defined]
        named = name_chord(pcs, bass=symbol.root().pitchClass)  # type: ignore[attr-defined]
        return named
    for modification in getattr(symbol, "chordStepModifications", []):
        degree = modification.degree
        shift = int(modification.interval.semitones) if modification.interval else 0
        accidental = {-1: "b", 1: "#"}.get(shift, "")
        if modification.modType == "add":
            suffix += f"add{degree}" if not accidental else f"{accidental}{degree}"
        elif modification.modType == "alter" and accidental:
            suffix += f"{accidental}{degree}"
    bass = symbol.bass()  # type: ignore[attr-defined]
    slash = ""
    if bass is not None and bass.pitchClass != symbol.root().pitchClass:  # type: ignore[attr-defined]
        slash = "/" + bass.name.replace("-", "b")
    try:
        return parse_chord(root + suffix + slash)
    except ChordError:
        return parse_chord(root + _MUSIC21_KINDS.get(symbol.chordKind, "") + slash)  # type: ignore[attr-defined]


def read_musicxml(path: Path | str, parsed: object | None = None) -> ScoreData:
    """Read MusicXML (or an already parsed music21 score) into tracks and chord marks.

    Raises:
        CorpusError: the file cannot be parsed or holds no notes.
    """
    from music21 import converter, harmony, meter, percussion, stream, tempo
    from music21 import note as m21note

    path = Path(path)
    score = parsed
    if score is None:
        try:
            score = converter.parse(str(path), format="musicxml")
        except Exception as exc:  # music21 raises many types for bad XML; none may escape
            raise CorpusError(
                f"{path} is not a readable MusicXML file ({type(exc).__name__}: {exc})."
            ) from None
    if isinstance(score, stream.Opus):
        score = score.scores[0]
    parts = list(score.parts) if isinstance(score, stream.Score) else [score]  # type: ignore[attr-defined]
    if not parts:
        raise CorpusError(f"{path} holds no parts.")

    def grid(offset: float) -> int:
        return round(float(offset) * TICKS_PER_QUARTER)

    tracks: list[Track] = []
    for number, part in enumerate(parts, start=1):
        flat = part.flatten().stripTies()
        notes: list[tuple[int, int, int]] = []
        short: list[tuple[int, int]] = []
        drum = False
        for element in flat.notes:
            if isinstance(element, harmony.ChordSymbol):
                continue
            start = grid(element.offset)
            end = grid(element.offset + element.quarterLength)
            if isinstance(element, m21note.Unpitched | percussion.PercussionChord):
                drum = True  # a hit lasts at least one tick; its displayed pitch names it
                chord = isinstance(element, percussion.PercussionChord)
                hits = element.notes if chord else [element]
                notes.extend((start, max(end, start + 1), _display_pitch(h)) for h in hits)
                continue
            pitches = element.pitches
            if end <= start:
                short.extend((start, p.midi) for p in pitches)
                continue
            notes.extend((start, end, p.midi) for p in pitches)
        if not notes and not short:
            continue
        instrument = part.getInstrument(returnDefault=True)
        tracks.append(
            Track(
                index=len(tracks),
                name=(part.partName or instrument.instrumentName or "").strip(),
                instrument=instrument.instrumentName or "Instrument",
                is_drum=drum,
                notes=sorted(notes),
                origin=f"part {number}",
                short_notes=short,
            )
        )
    if not any(t.notes for t in tracks):
        raise CorpusError(f"{path} holds no notes: there is no melody to learn from.")

    measures = list(parts[0].getElementsByClass(stream.Measure))
    signature = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    beats, unit = (signature.numerator, signature.denominator) if signature else (4, 4)
    end = max(e for t in tracks for _, e, _ in t.notes)
    if measures:
        starts = [grid(m.offset) for m in measures]
        first = measures[0]
        if first.duration.quarterLength < first.barDuration.quarterLength:  # a pickup bar
            starts[0] = (
                starts[0]
                + grid(first.duration.quarterLength)
                - grid(first.barDuration.quarterLength)
            )
        bar_starts = [*starts, max(end, starts[-1] + grid(measures[-1].duration.quarterLength))]
    else:
        bar_starts = bar_lines([(0, beats, unit)], end)
    mark = next(iter(score.recurse().getElementsByClass(tempo.MetronomeMark)), None)
    qpm = float(mark.getQuarterBPM()) if mark is not None and mark.number else 120.0
    chord_marks = [
        (grid(cs.getOffsetInHierarchy(score)), chord_from_music21(cs))
        for cs in score.recurse().getElementsByClass(harmony.ChordSymbol)
    ]
    return ScoreData(
        path=path,
        tracks=tracks,
        bar_starts=bar_starts,
        time_signature=(beats, unit),
        tempo=qpm,
        chord_marks=sorted(chord_marks, key=lambda m: m[0]),
        dropped_notes=sum(len(t.short_notes) for t in tracks),
    )


def _display_pitch(hit: object) -> int:
    """The MIDI number of the staff position an unpitched (drum) note is written at."""
    pitch = getattr(hit, "pitch", None)  # a pitched note inside a percussion chord
    if pitch is None:
        pitch = hit.displayPitch()  # type: ignore[attr-defined]
    return int(pitch.midi)


def music21_work_path(name: str) -> Path:
    """The file of a work in music21's own corpus, e.g. ``"leadSheet/fosterBrownHair"``.

    Raises:
        CorpusError: music21 ships no such work.
    """
    from music21 import corpus

    try:
        found = corpus.getWork(name)
    except Exception:  # music21 raises CorpusException and others for unknown names
        found = None
    if not found:
        raise CorpusError(
            f"music21 ships no work named {name!r}; try 'music21:leadSheet/fosterBrownHair'."
        )
    return Path(found[0] if isinstance(found, list) else found)
