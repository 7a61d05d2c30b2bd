"""What the études are played over, and how often the soloist uses each rule.

:data:`FORMS` are the chord progressions of the bundled corpus, written for this
project; :class:`SoloStyle` holds the chances and weights of the rules that
:mod:`jazz_utils.etudes.soloist` plays by.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Form:
    """A progression to play études over.

    Attributes:
        text: the chords, one chorus, as read by :func:`jazz_utils.chords.parse_progression`.
        key: the key (or keys) the chords belong to, in words.
        tempo: quarter notes per minute of the étude.
        choruses: how many times the étude plays the form.
        about: what the form is, in one sentence.
    """

    text: str
    key: str
    tempo: float
    choruses: int
    about: str


#: The progressions of the bundled études, written for this project (no song's
#: changes): name -> :class:`Form`. ``PROGRESSIONS`` has their chord text alone.
FORMS: dict[str, Form] = {
    "blues_f": Form(
        text="| F7 | Bb7 | F7 | F7 | Bb7 | Bb7 | F7 | D7 | Gm7 | C7 | F7 | C7 |",
        key="F",
        tempo=160.0,
        choruses=2,
        about="A 12-bar blues in F with a quick turn to the ii chord in bar 9.",
    ),
    "blues_bb": Form(
        text="| Bb7 | Eb7 | Bb7 | Bb7 | Eb7 | Eb7 | Bb7 | Bb7 | F7 | Eb7 | Bb7 | F7 |",
        key="Bb",
        tempo=150.0,
        choruses=2,
        about="A plain 12-bar blues in B-flat: three chords, I, IV and V.",
    ),
    "jazz_blues_eb": Form(
        text="| Eb7 | Ab7 | Eb7 | Bbm7 Eb7 | Ab7 | Adim7 | Eb7 | Gm7 C7 | Fm7 | Bb7 | Eb7 C7 "
        "| Fm7 Bb7 |",
        key="Eb",
        tempo=160.0,
        choruses=2,
        about="A jazz blues in E-flat: ii-V turnarounds and a passing diminished chord.",
    ),
    "minor_blues_c": Form(
        text="| Cm7 | Fm7 | Cm7 | Cm7 | Fm7 | Fm7 | Cm7 | Cm7 | Ab7 | G7b9 | Cm7 | Dm7b5 G7b9 |",
        key="C minor",
        tempo=150.0,
        choruses=2,
        about="A minor blues in C, with the flat-six dominant before the V.",
    ),
    "turnarounds_c": Form(
        text="| Cmaj7 Am7 | Dm7 G7 | Em7 A7 | Dm7 G7 | Cmaj7 C7 | Fmaj7 Fm7 | Em7 A7 | Dm7 G7 |",
        key="C",
        tempo=160.0,
        choruses=3,
        about="I-vi-ii-V turnarounds in C and their iii-VI-ii-V and IV-iv variants.",
    ),
    "rhythm_a_bb": Form(
        text="| Bbmaj7 G7 | Cm7 F7 | Dm7 G7 | Cm7 F7 | Fm7 Bb7 | Ebmaj7 Ab7 | Dm7 G7 | Cm7 F7 |",
        key="Bb",
        tempo=200.0,
        choruses=3,
        about="An A section in the style of rhythm changes, in B-flat.",
    ),
    "major_ii_v_i": Form(
        text="| Dm7 | G7 | Cmaj7 | % | Cm7 | F7 | Bbmaj7 | % | Bbm7 | Eb7 | Abmaj7 | % | Abm7 "
        "| Db7 | Gbmaj7 | Em7 A7 |",
        key="C, Bb, Ab, Gb",
        tempo=150.0,
        choruses=2,
        about="Major ii-V-I cadences moving down in whole steps.",
    ),
    "minor_ii_v_i": Form(
        text="| Dm7b5 | G7b9 | Cm6 | % | Gm7b5 | C7b9 | Fm6 | % | Em7b5 | A7b9 | Dm6 | % | Am7b5 "
        "| D7b9 | Gm6 | Dm7b5 G7b9 |",
        key="C, F, D, G minor",
        tempo=150.0,
        choruses=2,
        about="Minor ii-V-i cadences in four minor keys.",
    ),
    "fifths_cycle": Form(
        text="| Am7 | Dm7 | G7 | Cmaj7 | Fmaj7 | Bm7b5 | E7 | Am7 |",
        key="A minor",
        tempo=140.0,
        choruses=3,
        about="The diatonic cycle of descending fifths in A minor.",
    ),
    "dorian_vamp": Form(
        text="| Dm7 | % | % | % | Em7 | % | Dm7 | % |",
        key="D Dorian",
        tempo=120.0,
        choruses=3,
        about="A modal vamp in D Dorian, with a move to the ii chord.",
    ),
    "dominant_cycle": Form(
        text="| E7 | % | A7 | % | D7 | % | G7 | % |",
        key="C (secondary dominants)",
        tempo=180.0,
        choruses=3,
        about="A bridge-like cycle of dominants, two bars each.",
    ),
}

#: Chord text of each bundled progression (one chorus): name -> text.
PROGRESSIONS: dict[str, str] = {name: form.text for name, form in FORMS.items()}


@dataclass(frozen=True)
class SoloStyle:
    """How often the soloist uses each rule (probabilities 0..1 and weights).

    Attributes:
        phrase_bars: relative weights of phrases of 1, 2, 3 and 4 bars.
        breath_beats: weights of a breath (rest after a phrase) of 1, 2, 3 and 4 beats.
        pickup: chance that a phrase starts with a pickup eighth.
        cells: weights of the rhythm of an ordinary beat: eighths, triplet, quarter.
        arpeggio: chance, per beat, of a two-beat arpeggio (when the chord holds).
        enclosure: chance, per weak beat, of an enclosure of the next target.
        guide_tone: chance of guide-tone motion where the chord changes.
        motif: chance, per bar, of a motif answered in the next bar.
        approach: chance that an off-beat is a chromatic approach tone.
        target_steps: weights of moving 0, 1 or 2 chord tones from one beat note to the next.
        turn: chance that the line changes direction at a beat.
        endings: weights of a phrase ending of a quarter, a dotted quarter, a half
            note, an off-beat eighth and a dotted half note.
    """

    phrase_bars: tuple[float, ...] = (0.15, 0.45, 0.25, 0.15)
    breath_beats: tuple[float, ...] = (0.3, 0.35, 0.2, 0.15)
    pickup: float = 0.3
    cells: tuple[float, float, float] = (0.75, 0.1, 0.15)
    arpeggio: float = 0.12
    enclosure: float = 0.15
    guide_tone: float = 0.7
    motif: float = 0.3
    approach: float = 0.3
    target_steps: tuple[float, float, float] = (0.05, 0.8, 0.15)
    turn: float = 0.2
    endings: tuple[float, ...] = (0.3, 0.2, 0.2, 0.15, 0.15)


#: The style of the bundled études.
DEFAULT_STYLE = SoloStyle()
