"""A rule-based bebop soloist: the études of the bundled corpus, played by rules.

The training corpus of this course is not copied from anybody's records. It is
written by this module, which plays études over chord progressions the way a
jazz teacher tells a student to practise. Reading it is a short lesson in
bebop line-writing; every rule below is a few lines of code.

Time
    A line is built on the *beats* of the progression. Each beat of a phrase
    holds one rhythmic cell: two eighth notes (most of the time), an
    eighth-note triplet, or a quarter note; motifs add quarter-note triplets.
    Only these few lengths are used, so that the values grammar keeps a
    vocabulary small enough for a 64-unit LSTM. Eighths are written
    *straight* (0.5 quarter notes each); swing is a way of playing them and
    is added only when the solo is rendered as audio.

Phrases and breaths
    The solo is a chain of phrases of one to four bars. Each phrase ends on a
    chord tone (the third or the root when it can) held for one to three
    beats, or on a short "doo-dat" eighth off the beat; then the player
    breathes: one to four beats of rest. A phrase may start with a pickup, an
    eighth note that leans into its first beat.

Chord tones on the beat
    The note on every strong beat (beats 1 and 3) is a tone of the chord
    sounding there, and so, almost always, is the note on beats 2 and 4. These
    beat notes are the *targets* of the line; they move to the neighbouring
    chord tone up or down, so the line walks through the chord.

Connecting the targets (the off-beats)
    Between two targets an off-beat eighth is a passing tone of the chord's
    scale; a whole step between targets is filled chromatically, which is
    exactly the extra tone of the *bebop scales* (the major seventh of a
    dominant or minor-seventh chord, the sharp fifth of a major one), so that
    a run keeps its chord tones on the beat. Sometimes the off-beat is a
    *chromatic approach tone* a half step from the next target instead.

Devices (each a small, named function below)
    * Enclosure: on a weak beat, the scale tone above the next target and the
      chromatic tone below it (or the other way round), then the target.
    * Arpeggios: 1-3-5-7 or 3-5-7-9 of the chord in eighths over two beats,
      usually rising, after which the line turns down. They start a step or
      a skip from the line, never by a leap.
    * Guide tones: where the chord changes, the seventh of the old chord moves
      by a step to the third of the new one (or its third to the new seventh).
    * Motifs: a two-beat idea on a strong beat, written as chord degrees
      (1 9 3 11 5 13 7, chord tones on the beats), answered on the next chord
      (two beats later in a ii-V bar) or else at the next bar: the same
      rhythm and degrees over the new chord, so it is repeated when the chord
      stays and sequenced when it moves. The line between motif and answer
      heads for the answer.

Range
    Targets stay between G3 and F5 and turn round near the edges, so that every
    note lies between E3 and A5 (:data:`PITCH_RANGE`).

Randomness
    Every choice draws from one ``numpy.random.Generator`` made from the seed
    you pass, through :meth:`numpy.random.Generator.random` only (the stream
    numpy keeps stable), so the same seed always writes the same notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from jazz_utils.chords import Chord, as_progression
from jazz_utils.errors import GenerationError
from jazz_utils.metrics import is_strong_beat
from jazz_utils.piece import Measure, Note, Piece, Progression, from_ticks, to_ticks

#: Lowest and highest MIDI pitch an étude may use (E3 .. A5).
PITCH_RANGE = (52, 81)
#: Range of the beat notes (targets); passing tones may go two semitones beyond.
TARGET_RANGE = (55, 77)
#: Where the first phrase starts (around F4).
START_PITCH = 65


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

# Chord degrees in pitch order within an octave: 1 9 3 11 5 13 7.
# Even positions are the chord tones (1 3 5 7), odd positions the tensions.
_LADDER = (1, 9, 3, 11, 5, 13, 7)
# Beats taken by each kind of phrase ending (see SoloStyle.endings).
_ENDING_BEATS = (1, 2, 2, 1, 3)
# Rhythms of a two-beat motif: (tick, duration) pairs, 12 ticks per beat.
_MOTIF_RHYTHMS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 6), (6, 6), (12, 6), (18, 6)),
    ((6, 6), (12, 6), (18, 6)),
    ((0, 4), (4, 4), (8, 4), (12, 12)),
    ((0, 6), (6, 6), (12, 12)),
    ((0, 12), (12, 6), (18, 6)),
    ((0, 8), (8, 8), (16, 8)),  # quarter-note triplets
)


def degree_intervals(chord: Chord) -> dict[int, int]:
    """Semitones above the root of each chord degree (1 3 5 7 and tensions 9 11 13).

    The chord tones come from the chord itself (a seventh chord's seventh, a
    sixth chord's sixth); the tensions from its scale (a flat nine where the
    chord has one, a sharp eleven over a Lydian chord).

    Example:
        ``degree_intervals(parse_chord("G7"))`` is
        ``{1: 0, 3: 4, 5: 7, 7: 10, 9: 2, 11: 5, 13: 9}``.
    """
    tones = set(chord.intervals)
    scale = set(chord.scale) | tones
    third = (chord.third - chord.root) % 12 if chord.third is not None else 4
    fifth = next((i for i in (7, 6, 8) if i in tones), 7)
    seventh = (chord.seventh - chord.root) % 12 if chord.seventh is not None else 10
    degrees = {1: 0, 3: third, 5: fifth, 7: seventh}
    used = set(degrees.values())
    for degree, options in ((9, (2, 1, 3)), (11, (5, 6)), (13, (9, 8, 10))):
        free = [i for i in options if i in scale and i not in used]
        degrees[degree] = free[0] if free else options[0]
        used.add(degrees[degree])
    return degrees


def bebop_scale(chord: Chord) -> tuple[int, ...]:
    """The chord's bebop scale: its scale plus the chromatic passing tone.

    The added tone (the major seventh over a dominant or minor-seventh chord,
    the sharp fifth over a major one) makes a run down the scale from the root
    land on chord tones on every beat.

    Returns:
        Pitch classes, sorted.
    """
    root = chord.root
    extra = {"maj": 8, "dom": 11, "min": 11, "sus": 11}.get(chord.quality)
    pcs = set(chord.scale_pitch_classes)
    if extra is not None:
        pcs.add((root + extra) % 12)
    return tuple(sorted(pcs))


@dataclass(frozen=True)
class _Beat:
    """One beat of the timeline: where it is and what sounds under it."""

    measure: int
    tick: int  # offset in its measure, in grid ticks
    length: int  # ticks
    chord: Chord
    strong: bool
    change: bool  # a new chord starts on this beat


@dataclass
class _Slot:
    """A note of the line, placed on a beat: pitch None is filled in later."""

    beat: int
    tick: int  # ticks after the beat's start
    duration: int  # ticks
    pitch: int | None
    style: str = "pass"


@dataclass
class _Line:
    """The soloist's state while a phrase is written."""

    slots: list[_Slot] = field(default_factory=list)
    current: int = START_PITCH
    direction: int = 1
    stopped: int | None = None  # beat where the last phrase stopped


class _Soloist:
    """Writes one étude: see the module docstring for the rules."""

    def __init__(self, progression: Progression, seed: int, style: SoloStyle):
        self.progression = progression
        self.style = style
        self.rng = np.random.default_rng(seed)
        self.beats = self._timeline(progression)
        self.forced: dict[int, int] = {}  # beat -> pitch its target must take
        self.reserved: dict[int, list[_Slot]] = {}  # beat -> motif answer placed there

    # ---- randomness (only Generator.random, whose stream numpy keeps stable) ----
    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, weights: Sequence[float]) -> int:
        """Index drawn with probability proportional to ``weights``."""
        total = float(sum(weights))
        u = self.rng.random() * total
        acc = 0.0
        for index, weight in enumerate(weights):
            acc += weight
            if u < acc:
                return index
        return len(weights) - 1

    def choice(self, options: Sequence[int]) -> int:
        return options[self.pick([1.0] * len(options))]

    # ---- the timeline ----
    @staticmethod
    def _timeline(progression: Progression) -> list[_Beat]:
        beats: list[_Beat] = []
        beat_ticks = to_ticks(4 / progression.time_signature[1])
        previous: Chord | None = None
        for index, measure in enumerate(progression):
            for tick in range(0, to_ticks(measure.length), beat_ticks):
                chord = measure.chord_at(from_ticks(tick))
                strong = is_strong_beat(from_ticks(tick), measure, progression.time_signature)
                beats.append(_Beat(index, tick, beat_ticks, chord, strong, chord != previous))
                previous = chord
        return beats

    def same_measure(self, a: int, b: int) -> bool:
        return b < len(self.beats) and self.beats[a].measure == self.beats[b].measure

    def bar_start(self, measure: int) -> int:
        """Index of the first beat of a measure (``len(beats)`` past the end)."""
        for index, beat in enumerate(self.beats):
            if beat.measure >= measure:
                return index
        return len(self.beats)

    # ---- pitch helpers ----
    @staticmethod
    def chord_tones(
        chord: Chord, low: int = TARGET_RANGE[0], high: int = TARGET_RANGE[1]
    ) -> list[int]:
        """Pitches of the chord's tones from ``low`` to ``high``, rising."""
        return [p for p in range(low, high + 1) if p % 12 in chord.pitch_classes]

    def nearest(self, pitches: Sequence[int], target: float) -> int:
        return min(pitches, key=lambda p: (abs(p - target), p))

    def next_target(self, line: _Line, chord: Chord, goal: int | None = None) -> int:
        """The next beat note: a chord tone next to ``line.current`` (chord tones on the beat).

        The line keeps its direction, turns now and then, turns back near the
        edges of :data:`TARGET_RANGE`, and heads for ``goal`` when one is given.
        """
        low, high = TARGET_RANGE
        if goal is not None and abs(goal - line.current) > 2:
            line.direction = 1 if goal > line.current else -1
        elif line.current >= high - 3:
            line.direction = -1
        elif line.current <= low + 3:
            line.direction = 1
        elif self.chance(self.style.turn):
            line.direction = -line.direction
        tones = self.chord_tones(chord)
        steps = self.pick(self.style.target_steps)
        if steps == 0:
            return self.nearest(tones, line.current)
        ahead = [p for p in tones if (p - line.current) * line.direction > 0]
        ahead.sort(key=lambda p: abs(p - line.current))
        if not ahead:
            line.direction = -line.direction
            return self.nearest(tones, line.current - 2 * line.direction)
        return ahead[min(steps, len(ahead)) - 1]

    # ---- the solo ----
    def play(self) -> list[tuple[int, int, int, int]]:
        """Notes as ``(measure, tick, duration_ticks, pitch)``."""
        n = len(self.beats)
        line = _Line()
        slots: list[_Slot] = []
        position = 0
        while position < n:
            bars = 1 + self.pick(self.style.phrase_bars)
            breath = 1 + self.pick(self.style.breath_beats)
            stop = self.phrase_stop(position, bars, breath)
            if stop - position < 3:
                break  # the last bar has no room for another phrase
            slots.extend(self.phrase(position, stop, line))
            position = self.phrase_start(stop)
        notes = []
        for slot in slots:
            beat = self.beats[slot.beat]
            assert slot.pitch is not None
            notes.append((beat.measure, beat.tick + slot.tick, slot.duration, slot.pitch))
        return notes

    def phrase_stop(self, start: int, bars: int, breath: int) -> int:
        """Where a phrase of about ``bars`` bars from ``start`` stops, ``breath`` beats
        before a bar line (a short phrase is stretched, a long breath shortened, so
        that the phrase has at least three beats; the last phrase stops a beat
        before the end)."""
        last = len(self.progression)
        end_bar = min(self.beats[start].measure + bars, last)
        while end_bar < last and self.bar_start(end_bar) - start < 4:
            end_bar += 1
        end = self.bar_start(end_bar)
        if end_bar == last:
            return end - 1
        return end - max(1, min(breath, end - start - 3))

    def phrase_start(self, stop: int) -> int:
        """The beat where the next phrase starts: after a breath of at least a beat,
        on beat 1 (or sometimes beat 2) of a bar."""
        position = stop + 1
        while position < len(self.beats) and self.beats[position].tick != 0:
            position += 1
        if position < len(self.beats) and self.chance(0.25):
            position += 1
        return position

    def phrase(self, start: int, stop: int, line: _Line) -> list[_Slot]:
        """One phrase over beats ``[start, stop)``, ending on a held chord tone."""
        self.forced.clear()
        self.reserved.clear()
        line.slots = []
        # The ending: a quarter, dotted quarter, half note, off-beat eighth or
        # dotted half note, held inside its bar.
        kind = self.pick(self.style.endings)
        length = _ENDING_BEATS[kind]
        if length > 1 and (
            stop - length <= start or not self.same_measure(stop - length, stop - 1)
        ):
            kind, length = 0, 1
        body_end = stop - length
        # First target: near where the last phrase ended.
        chord = self.beats[start].chord
        jump = self.choice([-5, -3, -2, 2, 3, 5])
        centre = min(max(line.current + jump, TARGET_RANGE[0] + 2), TARGET_RANGE[1] - 2)
        first = self.nearest(self.chord_tones(chord), centre)
        line.direction = 1 if first < 66 else -1
        # A pickup eighth, when the breath before it still lasts a beat or more.
        if (
            line.stopped is not None
            and start - line.stopped >= 2
            and self.chance(self.style.pickup)
        ):
            line.slots.append(_Slot(start - 1, 6, 6, None, "pickup"))
        line.current = first
        beat = start
        if self.can_motif(start, body_end) and self.chance(self.style.motif):
            beat = self.motif(start, line)
        else:
            self.forced[start] = first
        while beat < body_end:
            beat = self.beat_cell(beat, body_end, line)
        self.ending(body_end, kind, line)
        self.fill(line.slots)
        line.stopped = stop
        return line.slots

    def beat_cell(self, beat: int, body_end: int, line: _Line) -> int:
        """Write the beat's cell (or a device spanning more beats); return the next beat."""
        info = self.beats[beat]
        left = body_end - beat
        if beat in self.reserved:
            line.slots.extend(self.reserved.pop(beat))
            line.current = next(s.pitch for s in reversed(line.slots) if s.pitch is not None)
            return beat + 2
        if beat in self.forced:
            anchor = _Slot(beat, 0, 0, self.forced.pop(beat), "anchor")
            line.slots.append(anchor)
            line.current = anchor.pitch  # type: ignore[assignment]
            self.rhythm(beat, line, anchor)
            return beat + 1
        goal = self.answer_ahead(beat)
        holds = (
            left >= 2
            and goal is None
            and not self.beats[beat + 1].change
            and self.same_measure(beat, beat + 1)
        )
        if self.can_motif(beat, body_end) and self.chance(self.style.motif):
            return self.motif(beat, line)
        if holds and self.chance(self.style.arpeggio):
            return self.arpeggio(beat, line)
        if not info.strong and left >= 2 and self.chance(self.style.enclosure):
            line.slots.append(_Slot(beat, 0, 6, None, "enclose"))
            line.slots.append(_Slot(beat, 6, 6, None, "enclose"))
            return beat + 1
        if (
            beat + 1 < len(self.beats)
            and self.beats[beat + 1].change
            and beat + 1 not in self.reserved
            and self.chance(self.style.guide_tone)
        ):
            return self.guide_tones(beat, line)
        pitch = self.next_target(line, info.chord, goal)
        anchor = _Slot(beat, 0, 0, pitch, "anchor")
        line.slots.append(anchor)
        line.current = pitch
        self.rhythm(beat, line, anchor)
        return beat + 1

    def answer_ahead(self, beat: int) -> int | None:
        """First pitch of a motif's answer due within the next two beats, if any."""
        for ahead in (beat + 1, beat + 2):
            if ahead in self.reserved:
                return next(s.pitch for s in self.reserved[ahead] if s.pitch is not None)
        return None

    def rhythm(self, beat: int, line: _Line, anchor: _Slot) -> None:
        """Give a beat note its cell: eighths, a triplet or a quarter note."""
        cell = self.pick(self.style.cells)
        if cell == 0:
            anchor.duration = 6
            style = "approach" if self.chance(self.style.approach) else "pass"
            line.slots.append(_Slot(beat, 6, 6, None, style))
        elif cell == 1:
            anchor.duration = 4
            style = "enclose" if self.chance(0.5) else "pass"
            line.slots.append(_Slot(beat, 4, 4, None, style))
            line.slots.append(_Slot(beat, 8, 4, None, style))
        else:
            anchor.duration = 12

    def guide_tones(self, beat: int, line: _Line) -> int:
        """Seventh of this chord to the third of the next (or third to seventh).

        The beat note before the change is a guide tone of the old chord; the
        note on the change is forced to the guide tone of the new chord that
        lies nearest (a step away, falling if there is a choice). A common tone
        (the third of F7 is the seventh of Bbmaj7) is skipped for the other pair.
        """
        here, there = self.beats[beat].chord, self.beats[beat + 1].chord
        pairs = [(here.seventh, there.third), (here.third, there.seventh)]
        if not self.chance(0.7):
            pairs.reverse()
        span = range(TARGET_RANGE[0], TARGET_RANGE[1] + 1)
        pitch = None
        for source_pc, target_pc in pairs:
            if source_pc is None or target_pc is None:
                continue
            source = self.nearest([p for p in span if p % 12 == source_pc], line.current)
            targets = [p for p in span if p % 12 == target_pc]
            target = min(targets, key=lambda p: (abs(p - source), p > source))
            if target != source:
                pitch = source
                self.forced[beat + 1] = target
                break
        if pitch is None:  # no guide tones to move between: an ordinary beat note
            pitch = self.next_target(line, here)
        anchor = _Slot(beat, 0, 0, pitch, "anchor")
        line.slots.append(anchor)
        line.current = pitch
        if self.chance(0.4):
            anchor.duration = 12
        else:
            self.rhythm(beat, line, anchor)
        return beat + 1

    def arpeggio(self, beat: int, line: _Line) -> int:
        """1-3-5-7 or 3-5-7-9 in eighths over two beats, then turn.

        1-3-5-7 may also fall (7-5-3-1); 3-5-7-9 always rises, so that both
        beat notes are chord tones (3 and 7) and the ninth is an off-beat.
        """
        chord = self.beats[beat].chord
        degrees = (1, 3, 5, 7) if self.chance(0.5) else (3, 5, 7, 9)
        rising = self.chance(0.75) or degrees[0] == 3
        if not rising:
            degrees = degrees[::-1]
        intervals = degree_intervals(chord)
        shape = [intervals[d] for d in degrees]
        for i in range(1, 4):  # each degree above (below) the previous one
            while (shape[i] - shape[i - 1]) * (1 if rising else -1) <= 0:
                shape[i] += 12 if rising else -12
        low, high = TARGET_RANGE
        options = []
        for octave in range(2, 8):
            base = 12 * octave + chord.root
            pitches = [base + s for s in shape]
            # Inside the range, starting a step or a skip from the line (not on its
            # last note, not by a leap).
            inside = min(pitches) >= low and max(pitches) <= high + 2
            if inside and 0 < abs(pitches[0] - line.current) <= 4:
                options.append(pitches)
        if not options:  # no arpeggio fits here: an ordinary beat instead
            pitch = self.next_target(line, chord)
            anchor = _Slot(beat, 0, 0, pitch, "anchor")
            line.slots.append(anchor)
            line.current = pitch
            self.rhythm(beat, line, anchor)
            return beat + 1
        pitches = options[0]
        for i, pitch in enumerate(pitches):
            line.slots.append(_Slot(beat + i // 2, 6 * (i % 2), 6, pitch, "arpeggio"))
        line.current = pitches[-1]
        line.direction = -1 if rising else 1
        return beat + 2

    # ---- motifs ----
    def answer_beat(self, beat: int) -> int:
        """Where a motif played from ``beat`` is answered: on the next chord if it
        comes two beats later in the bar (the V of a ii-V), else at the next bar."""
        if self.same_measure(beat, beat + 2) and self.beats[beat + 2].change:
            return beat + 2
        return self.bar_start(self.beats[beat].measure + 1)

    def can_motif(self, beat: int, body_end: int) -> bool:
        """True on a strong beat whose two beats, and the two of its answer, hold one chord each."""
        if not self.beats[beat].strong:
            return False
        answer = self.answer_beat(beat)
        if answer + 2 > body_end or beat + 2 > answer:
            return False
        return all(
            not self.beats[b + 1].change
            and self.same_measure(b, b + 1)
            and not {b, b + 1} & (self.forced.keys() | self.reserved.keys())
            for b in (beat, answer)
        )

    def motif(self, beat: int, line: _Line) -> int:
        """A two-beat motif now, repeated or sequenced where :meth:`answer_beat` says."""
        rhythm = _MOTIF_RHYTHMS[self.pick([1.0] * len(_MOTIF_RHYTHMS))]
        # Walk the degree ladder (1 9 3 11 5 13 7, then up an octave): beat notes
        # on the chord tones 1 3 5 7, off-beat notes a step or a third away.
        chord = self.beats[beat].chord
        degrees = degree_intervals(chord)
        core = {degrees[d] for d in (1, 3, 5, 7)}
        starts = [p for p in self.chord_tones(chord) if (p - chord.root) % 12 in core]
        start_pitch = self.nearest(starts or self.chord_tones(chord), line.current)
        root = self._root_below(start_pitch, chord)
        low, high = TARGET_RANGE[0] - 2, TARGET_RANGE[1] + 2

        def pitch_of(rung: int) -> int:
            return self._realise([rung], chord, root)[0]

        def move(rung: int, direction: int, on_beat: bool, size: int) -> int:
            if on_beat:  # on the beat: the next chord tone that way
                rung += direction
                while (rung % len(_LADDER)) % 2:
                    rung += direction
                return rung
            return rung + direction * size

        rung = self._rung_of(start_pitch, chord)
        rungs: list[int] = []
        direction = line.direction
        for tick, _duration in rhythm:
            if rungs:
                if self.chance(0.3):
                    direction = -direction
                size = 1 if tick % 12 == 0 else self.choice([1, 1, 2])
                candidate = move(rung, direction, tick % 12 == 0, size)
                if not low <= pitch_of(candidate) <= high:  # turn back at the range's edge
                    direction = -direction
                    candidate = move(rung, direction, tick % 12 == 0, size)
                rung = candidate
            elif tick % 12 != 0:  # a motif after an eighth rest starts off the beat
                rung += self.choice([-1, 1])
            rungs.append(rung)
        first = self._realise(rungs, chord, root)
        # The answer: the same degrees over the next chord, in the octave that
        # lies inside the range and starts nearest to where the motif ended.
        answer_beat = self.answer_beat(beat)
        other = self.beats[answer_beat].chord
        base = self._root_below(first[0], chord) + (other.root - chord.root) % 12
        options = [self._realise(rungs, other, base + 12 * k) for k in (-2, -1, 0, 1)]
        inside = [ps for ps in options if low <= min(ps) and max(ps) <= high]
        second = min(inside or options, key=lambda ps: (abs(ps[0] - first[-1]), ps[0]))
        for (tick, duration), pitch in zip(rhythm, first, strict=True):
            line.slots.append(_Slot(beat + tick // 12, tick % 12, duration, pitch, "motif"))
        self.reserved[answer_beat] = [
            _Slot(answer_beat + tick // 12, tick % 12, duration, pitch, "motif")
            for (tick, duration), pitch in zip(rhythm, second, strict=True)
        ]
        line.current = first[-1]
        line.direction = direction
        return beat + 2

    @staticmethod
    def _root_below(pitch: int, chord: Chord) -> int:
        return pitch - (pitch - chord.root) % 12

    def _rung_of(self, pitch: int, chord: Chord) -> int:
        """Ladder rung (7 per octave above the root below ``pitch``) of a chord tone."""
        intervals = degree_intervals(chord)
        offset = (pitch - chord.root) % 12
        for index, degree in enumerate(_LADDER):
            if intervals[degree] == offset:
                return index
        return 0

    @staticmethod
    def _realise(rungs: Sequence[int], chord: Chord, base: int) -> list[int]:
        """Pitches of ladder rungs over a chord whose root (below the motif) is ``base``."""
        intervals = degree_intervals(chord)
        return [
            base + 12 * (rung // len(_LADDER)) + intervals[_LADDER[rung % len(_LADDER)]]
            for rung in rungs
        ]

    # ---- endings and connecting tones ----
    def ending(self, beat: int, kind: int, line: _Line) -> None:
        """The phrase's last note: a chord tone (third or root preferred), held."""
        chord = self.beats[beat].chord
        if beat in self.forced:
            pitch = self.forced.pop(beat)
        else:
            tones = self.chord_tones(chord)
            third = [p for p in tones if p % 12 in (chord.third, chord.root)]
            pitch = self.nearest(third or tones, line.current + line.direction)
        if kind == 3:  # a beat note, then the final off-beat eighth a chord tone lower
            line.slots.append(_Slot(beat, 0, 6, pitch, "anchor"))
            below = [p for p in self.chord_tones(chord, PITCH_RANGE[0]) if p < pitch]
            final = below[-1] if below else pitch
            line.slots.append(_Slot(beat, 6, 6, final, "end"))
            line.current = final
            return
        duration = {0: 12, 1: 18, 2: 24, 4: 36}[kind]
        line.slots.append(_Slot(beat, 0, duration, pitch, "end"))
        line.current = pitch

    def fill(self, slots: list[_Slot]) -> None:
        """Choose the connecting tones (pitch None) between their neighbours.

        The open slots of one beat form a group that leads to the next known
        note; groups are filled from the end of the phrase backwards, so a
        group followed by another (say a triplet before an enclosure) leads
        into that group's first note.
        """
        index = len(slots) - 1
        while index >= 0:
            slot = slots[index]
            if slot.pitch is not None:
                index -= 1
                continue
            first = index
            while first > 0 and slots[first - 1].pitch is None:
                if slots[first - 1].beat != slot.beat:
                    break
                first -= 1
            group = slots[first : index + 1]
            after_slot = slots[index + 1]
            after = after_slot.pitch
            assert after is not None
            before = next((s.pitch for s in reversed(slots[:first]) if s.pitch is not None), None)
            here = self.beats[slot.beat].chord
            there = self.beats[after_slot.beat].chord
            pitches = self.connect(before, after, len(group), slot.style, here, there)
            for s, p in zip(group, pitches, strict=True):
                s.pitch = self.clamp(p)
            index = first - 1

    def clamp(self, pitch: int) -> int:
        low, high = PITCH_RANGE
        while pitch < low:
            pitch += 12
        while pitch > high:
            pitch -= 12
        return pitch

    def connect(
        self, a: int | None, b: int, k: int, style: str, here: Chord, there: Chord
    ) -> list[int]:
        """``k`` notes leading from pitch ``a`` to the beat note ``b``.

        Rules: a whole step is filled chromatically (the bebop passing tone); a
        third by a scale tone of the chord sounding; ``approach`` is the
        chromatic neighbour of ``b``; ``enclose`` surrounds ``b`` from above
        (scale) and below (chromatic); a pickup leans into ``b`` from a step away.
        """
        upper = self.scale_step(b, there, 1)
        if a is None:  # pickup into the phrase
            options = [b - 1, self.scale_step(b, there, -1), upper]
            picked = options[self.pick([0.4, 0.4, 0.2])]
            return [picked] if k == 1 else [upper, b - 1][:k]
        gap = b - a
        side = 1 if gap > 0 else -1 if gap < 0 else (1 if self.chance(0.5) else -1)
        if k >= 2:
            if style == "enclose" or abs(gap) <= 2 or abs(gap) > 7:
                pair = [upper, b - 1] if side < 0 or self.chance(0.5) else [b - 1, upper]
                if pair[0] == a:  # never repeat the note we come from
                    pair.reverse()
                return (pair * k)[:k]
            between = [p for p in range(min(a, b) + 1, max(a, b)) if p % 12 in bebop_scale(here)]
            between.sort(key=lambda p: abs(p - a))
            if len(between) >= 2:
                return between[:2] + [b - side] * (k - 2)
            return [a + side, b - side][:k] + [b - side] * max(0, k - 2)
        if style == "enclose":
            return [upper if upper != a else b - 1]
        if abs(gap) == 0:
            return [self.scale_step(a, here, side)]
        if abs(gap) == 1:
            return [self.scale_step(b, there, side)]  # overshoot, fall back onto b
        if abs(gap) == 2:
            return [a + side]  # the chromatic passing tone
        if style == "approach":
            return [b - side]
        between = [p for p in range(min(a, b) + 1, max(a, b)) if p % 12 in bebop_scale(here)]
        if not between:
            return [b - side]
        return [min(between, key=lambda p: (abs(p - (a + b) / 2), p))]

    @staticmethod
    def scale_step(pitch: int, chord: Chord, direction: int) -> int:
        """The next tone of ``chord``'s scale above (direction 1) or below (-1) ``pitch``."""
        scale = chord.scale_pitch_classes
        candidate = pitch + direction
        while candidate % 12 not in scale:
            candidate += direction
        return candidate


def play_etude(
    progression: Progression | str,
    seed: int = 0,
    tempo: float = 160.0,
    name: str = "",
    style: SoloStyle = DEFAULT_STYLE,
) -> Piece:
    """Play a bebop étude over a chord progression.

    Args:
        progression: the chords (a :class:`~jazz_utils.piece.Progression` or text
            like ``"| Dm7 G7 | Cmaj7 |"``).
        seed: seeds every choice; the same seed always gives the same notes.
        tempo: quarter notes per minute (stored in the piece).
        name: the piece's name.
        style: how often each rule is used (see :class:`SoloStyle`).

    Returns:
        A monophonic :class:`~jazz_utils.piece.Piece` with one measure per bar
        of ``progression``: notes on the grid, inside their bars, not
        overlapping, between E3 and A5 (:data:`PITCH_RANGE`); eighth notes
        written straight (0.5 quarter notes).

    Raises:
        ChordError: ``progression`` is empty or cannot be read.
        GenerationError: a metre whose beat is not a quarter note (e.g. 6/8).
    """
    chords = as_progression(progression)
    if chords.time_signature[1] != 4:
        beats, unit = chords.time_signature
        raise GenerationError(
            f"The soloist plays in metres counted in quarter notes (2/4, 3/4, 4/4), "
            f"not {beats}/{unit}."
        )
    soloist = _Soloist(chords, int(seed), style)
    per_measure: list[list[Note]] = [[] for _ in chords]
    for measure, tick, duration, pitch in soloist.play():
        per_measure[measure].append(Note(from_ticks(tick), from_ticks(duration), pitch))
    measures = tuple(
        Measure(m.length, m.chords, tuple(sorted(notes, key=lambda n: n.offset)))
        for m, notes in zip(chords, per_measure, strict=True)
    )
    return Piece(
        measures=measures,
        time_signature=chords.time_signature,
        tempo=float(tempo),
        name=name,
        source=f"jazz_utils.soloist.play_etude(seed={int(seed)})",
    )


def play_form(name: str, seed: int, style: SoloStyle = DEFAULT_STYLE) -> Piece:
    """An étude over one of the bundled :data:`FORMS`, all its choruses, at its tempo.

    Raises:
        KeyError: ``name`` is not in :data:`FORMS` (the message lists them).
    """
    if name not in FORMS:
        raise KeyError(f"No form named {name!r}; choose one of {', '.join(FORMS)}.")
    form = FORMS[name]
    one = as_progression(form.text)
    chorus = one
    for _ in range(form.choruses - 1):
        chorus = chorus + one
    return play_etude(chorus, seed=seed, tempo=form.tempo, name=name, style=style)
