"""Builds the test fixtures in tests/fixtures/ (run ``python tests/fixture_files.py``).

Every fixture is made here, by our own code, so the repository ships no music
from elsewhere; ``test_fixtures_are_current`` rebuilds them in a temporary
folder and fails if the committed files differ. See tests/fixtures/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jazz_utils.chords import parse_progression
from jazz_utils.grammar import values_to_piece
from jazz_utils.midi_io import MidiPart, block_voicing, solo_part, write_parts
from jazz_utils.piece import Piece, Progression

FIXTURES = Path(__file__).parent / "fixtures"

#: The band fixture's chorus: 12 bars, repeated through its 140 bars.
BAND_CHORUS = "| F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bb7 | F7 | Am7 D7 | Gm7 | C7 | F7 D7 | Gm7 C7 |"
BAND_BARS = 140
#: The solo sits in bars 119-137 (1-based), i.e. quarter notes 472 to 548.
SOLO_BARS = (119, 137)
SOLO_WINDOW = ((SOLO_BARS[0] - 1) * 4.0, SOLO_BARS[1] * 4.0)
#: The values the tenor sax plays in the solo window (cycled until the window is full).
SOLO_VALUES = (
    "C,0.500", "S,0.500,<m2,M2>", "C,0.500,<m2,M2>", "A,0.500,<M-2,m-2>",
    "C,1.000,<m2,M2>", "R,0.500", "C,0.500,<m3,M3>", "S,0.333,<M-2,m-2>",
    "C,0.333,<M-2,m-2>", "S,0.333,<M-2,m-2>", "C,1.000,<P4,P5>", "R,1.000",
    "C,0.500,<m3,M3>", "S,0.500,<m2,M2>", "C,1.500,<M-2,m-2>", "X,0.500,<M-3,m-3>",
    "C,0.500,<m2,M2>",
)  # fmt: skip


def band_progression() -> Progression:
    """The band fixture's 140 bars of chords."""
    return parse_progression("".join([BAND_CHORUS] * (BAND_BARS // 12 + 1)))[:BAND_BARS]


def band_solo() -> Piece:
    """The tenor solo of the band fixture, over its bars 119-137 alone."""
    first, last = SOLO_BARS
    return values_to_piece(SOLO_VALUES * 40, band_progression()[first - 1 : last], seed=3)


def build_band(path: Path) -> Path:
    """A 25-track band arrangement of 140 bars of blues.

    Tracks: tenor sax (a head in bars 1-12, the solo in bars 119-137, nothing
    else), piano (a block chord on every chord change), bass (roots in quarter
    notes), drums on channel 10, and 21 section tracks holding long notes.
    """
    bars = band_progression()
    head = values_to_piece(SOLO_VALUES[::-1] * 10, bars[:12], seed=5)
    sax = solo_part(head)
    sax.name = "Tenor Sax"
    solo_start = SOLO_WINDOW[0]
    sax.notes += [(solo_start + o, d, p, v) for o, d, p, v in solo_part(band_solo()).notes]

    piano = MidiPart("Piano", 1, 0)
    bass = MidiPart("Bass", 2, 32)
    drums = MidiPart("Drums", 9, 0)
    for index, measure in enumerate(bars):
        bar_start = index * 4.0
        for span in measure.chords:
            pcs = [(span.chord.root + i) % 12 for i in span.chord.intervals]
            for pitch in block_voicing(pcs, floor=48):
                piano.notes.append((bar_start + span.offset, span.duration, pitch, 60))
            for beat in range(int(span.duration)):
                bass.notes.append((bar_start + span.offset + beat, 1.0, 36 + span.chord.root, 80))
        for beat in range(4):
            drums.notes.append((bar_start + beat, 0.5, 51, 70))
            if beat % 2:
                drums.notes.append((bar_start + beat, 0.5, 44, 60))
    sections = []
    for k in range(21):
        part = MidiPart(f"Section {k + 1}", 3 + k % 6, 48 + k % 8)
        for index in range(0, BAND_BARS, 2):
            part.notes.append((index * 4.0, 8.0, 55 + (k * 5) % 17, 50))
        sections.append(part)
    return write_parts([sax, piano, bass, drums, *sections], path, tempo=160)


#: The waltz fixture: (chord root step, alter, MusicXML kind, our symbol) per bar after the pickup.
WALTZ_CHORDS = (
    ("B", -1, "dominant", "Bb7"),
    ("E", -1, "major-seventh", "Ebmaj7"),
    ("C", 0, "minor-seventh", "Cm7"),
    ("F", 0, "dominant", "F7"),
)
#: Its melody: (MIDI pitch or None for a rest, quarter notes) per bar; bar 0 is the pickup.
WALTZ_MELODY = (
    ((65, 1.0),),
    ((62, 1.0), (65, 1.0), (68, 1.0)),
    ((67, 2.0), (None, 1.0)),
    ((63, 1.0), (67, 1.0), (70, 1.0)),
    ((69, 3.0),),
)
_STEPS = {
    0: ("C", 0), 1: ("C", 1), 2: ("D", 0), 3: ("E", -1), 4: ("E", 0), 5: ("F", 0),
    6: ("F", 1), 7: ("G", 0), 8: ("A", -1), 9: ("A", 0), 10: ("B", -1), 11: ("B", 0),
}  # fmt: skip


def _xml_note(pitch: int | None, quarters: float) -> str:
    duration = round(quarters * 4)
    kind = {4: "quarter", 8: "half", 12: "half"}[duration]
    dot = "<dot/>" if duration == 12 else ""
    if pitch is None:
        return f"<note><rest/><duration>{duration}</duration><type>{kind}</type>{dot}</note>"
    step, alter = _STEPS[pitch % 12]
    alter_xml = f"<alter>{alter}</alter>" if alter else ""
    return (
        f"<note><pitch><step>{step}</step>{alter_xml}<octave>{pitch // 12 - 1}</octave></pitch>"
        f"<duration>{duration}</duration><type>{kind}</type>{dot}</note>"
    )


def build_waltz(path: Path) -> Path:
    """A 3/4 lead sheet in MusicXML with a one-beat pickup and flat-rooted chord symbols."""
    measures = []
    for number, notes in enumerate(WALTZ_MELODY):
        attributes = ""
        if number == 0:
            attributes = (
                "<attributes><divisions>4</divisions><time><beats>3</beats>"
                "<beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef>"
                "</attributes>"
            )
        harmony = ""
        if number > 0:
            step, alter, kind, _symbol = WALTZ_CHORDS[number - 1]
            alter_xml = f"<root-alter>{alter}</root-alter>" if alter else ""
            harmony = (
                f"<harmony><root><root-step>{step}</root-step>{alter_xml}</root>"
                f"<kind>{kind}</kind></harmony>"
            )
        implicit = ' implicit="yes"' if number == 0 else ""
        body = "".join(_xml_note(p, q) for p, q in notes)
        measures.append(
            f'<measure number="{number}"{implicit}>{attributes}{harmony}{body}</measure>'
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<score-partwise version="3.1"><part-list><score-part id="P1"><part-name>Flute</part-name>'
        '</score-part></part-list><part id="P1">' + "".join(measures) + "</part></score-partwise>\n"
    )
    path.write_text(xml)
    return path


#: The held-bass fixture's chart, one bar per ``|``: the chords a reader must name.
HELD_BASS_CHART = (
    "| Fm7 Ebmaj7 | Gm7 | Gm7 | Cm7 F7 | Bbmaj7 | Bbmaj7 | Ab7 Db7 | Cm7 F7 Bb7 Ebmaj7 |"
)
#: Bars (1-based) where the piano plays nothing new: the bass note of the bar before
#: is held on (the "G triad between two Gm7 bars").
HELD_BASS_TIED_BARS = (3,)
#: Bars whose first chord the piano pushes: struck an eighth early, on the "and" of
#: beat 4 of the bar before, and held over the bar line.
HELD_BASS_PUSHED_BARS = (7,)
#: The drum tracks: (name, channel counted from 0, GM drum note, hit length in quarter
#: notes). 1/48 of a quarter note is shorter than the grid (1/12); the shaker sits on
#: channel 11, as some files put percussion, so it reads as a pitched track.
HELD_BASS_DRUMS = (
    ("Kick", 9, 36, 1 / 48), ("Snare", 9, 38, 1 / 48), ("Ride", 9, 51, 1 / 48),
    ("Hi-Hat", 9, 42, 1 / 48), ("Crash", 9, 49, 0.5), ("Shaker", 10, 70, 1 / 48),
)  # fmt: skip
#: Melody notes left out on reading, by bar (1-based): chord tones under the top note
#: and grace notes shorter than the grid.
HELD_BASS_DROPPED = {2: 2, 7: 3}


def held_bass_progression() -> Progression:
    """The held-bass fixture's 8 bars of chords."""
    return parse_progression(HELD_BASS_CHART)


def _held_bass_piano(bars: Progression) -> MidiPart:
    """Comping that strikes each chord and then holds only its bass note.

    A chord's root sounds in octave 2 for the whole chord (through the next bar when
    that bar is tied); the other chord tones sound above E3 for one beat, half a beat
    on the "and" of beat 1 in bar 5, half a beat in bar 7. Chords of
    :data:`HELD_BASS_PUSHED_BARS` start an eighth early, the chord before ending there.
    """
    piano = MidiPart("Piano", 1, 0)
    for index, measure in enumerate(bars):
        number, bar_start = index + 1, index * 4.0
        if number in HELD_BASS_TIED_BARS:
            continue
        for span in measure.chords:
            start = bar_start + span.offset
            held = span.duration + (4.0 if number + 1 in HELD_BASS_TIED_BARS else 0.0)
            if number + 1 in HELD_BASS_PUSHED_BARS and span is measure.chords[-1]:
                held -= 0.5
            early = 0.5 if number in HELD_BASS_PUSHED_BARS and span.offset == 0 else 0.0
            piano.notes.append((start - early, held + early, 36 + span.chord.root, 64))
            stab_at, stab = {5: (0.5, 0.5), 7: (0.0, 0.5)}.get(number, (0.0, 1.0))
            upper = [(span.chord.root + i) % 12 for i in span.chord.intervals if i]
            for pitch in block_voicing(upper, floor=52):
                piano.notes.append((start + stab_at - early, stab + early, pitch, 60))
    return piano


def _held_bass_melody(bars: Progression) -> MidiPart:
    """Eighth notes up the chord tones, with the dropped notes of HELD_BASS_DROPPED."""
    sax = MidiPart("Alto Sax", 0, 65)
    for index, measure in enumerate(bars):
        bar_start = index * 4.0
        for span in measure.chords:
            tones = [60 + (span.chord.root + i) % 12 for i in span.chord.intervals]
            for k in range(round(span.duration * 2)):
                sax.notes.append((bar_start + span.offset + k / 2, 0.5, sorted(tones)[k % 4], 90))
    sax.notes += [
        (4.0, 0.5, 57, 80),  # bar 2: a third under the first note
        (4.9, 0.02, 62, 70),  # bar 2: a grace note, shorter than the grid
        (24.0, 0.5, 53, 80),  # bar 7: two notes under the first
        (24.0, 0.5, 49, 80),
        (25.9, 0.02, 62, 70),  # bar 7: a grace note
    ]
    return sax


def build_held_bass(path: Path) -> Path:
    """An 8-bar band file whose piano holds the bass note after striking each chord.

    Tracks (MIDI track 0 is the conductor): alto sax melody, piano comping (see
    :func:`_held_bass_piano`), a bass in half notes (root, fifth), and the drum
    tracks of :data:`HELD_BASS_DRUMS`, hits on every beat.
    """
    bars = held_bass_progression()
    bass = MidiPart("Bass", 2, 32)
    for index, measure in enumerate(bars):
        for span in measure.chords:
            for k in range(max(1, round(span.duration / 2))):
                pitch = 28 + (span.chord.root - 4) % 12 + (7 if k % 2 else 0)
                bass.notes.append(
                    (index * 4.0 + span.offset + 2 * k, min(2.0, span.duration), pitch, 80)
                )
    drums = []
    for name, channel, note, length in HELD_BASS_DRUMS:
        part = MidiPart(name, channel, 0)
        part.notes = [(beat * 1.0, length, note, 90) for beat in range(len(bars) * 4)]
        drums.append(part)
    parts = [_held_bass_melody(bars), _held_bass_piano(bars), bass, *drums]
    return write_parts(parts, path, tempo=132)


def build_all(folder: Path = FIXTURES) -> list[Path]:
    """Write every fixture into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        build_band(folder / "band_blues.mid"),
        build_waltz(folder / "waltz_pickup.musicxml"),
        build_held_bass(folder / "band_held_bass.mid"),
    ]


if __name__ == "__main__":
    for written in build_all(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES):
        print("wrote", written)
