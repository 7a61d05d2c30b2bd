"""A rule-based bebop soloist: the études of the bundled corpus, played by rules.

The training corpus of this course is not copied from anybody's records. It is
written by this module, which plays études over chord progressions the way a
jazz teacher tells a student to practise. Reading it is a short lesson in
bebop line-writing; every rule below is a few lines of code: the phrases here,
the devices in :mod:`jazz_utils.etudes.devices`, the beat notes and rhythm
cells in :mod:`jazz_utils.etudes.line`.

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

Devices (each a small, named method of :mod:`jazz_utils.etudes.devices`)
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
    note lies between E3 and A5 (:data:`~jazz_utils.etudes.line.PITCH_RANGE`).

Randomness
    Every choice draws from one ``numpy.random.Generator`` made from the seed
    you pass, through :meth:`numpy.random.Generator.random` only (the stream
    numpy keeps stable), so the same seed always writes the same notes.
"""

from __future__ import annotations

from jazz_utils.chords import as_progression
from jazz_utils.errors import GenerationError
from jazz_utils.etudes.devices import Devices
from jazz_utils.etudes.forms import DEFAULT_STYLE, FORMS, SoloStyle
from jazz_utils.etudes.line import TARGET_RANGE, Line, Slot
from jazz_utils.piece import Measure, Note, Piece, Progression, from_ticks

# Beats taken by each kind of phrase ending (see SoloStyle.endings).
_ENDING_BEATS = (1, 2, 2, 1, 3)


class _Soloist(Devices):
    """Writes one étude: see the module docstring for the rules."""

    def play(self) -> list[tuple[int, int, int, int]]:
        """Notes as ``(measure, tick, duration_ticks, pitch)``."""
        n = len(self.beats)
        line = Line()
        slots: list[Slot] = []
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

    def phrase(self, start: int, stop: int, line: Line) -> list[Slot]:
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
            line.slots.append(Slot(start - 1, 6, 6, None, "pickup"))
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

    def beat_cell(self, beat: int, body_end: int, line: Line) -> int:
        """Write the beat's cell (or a device spanning more beats); return the next beat."""
        info = self.beats[beat]
        left = body_end - beat
        if beat in self.reserved:
            line.slots.extend(self.reserved.pop(beat))
            line.current = next(s.pitch for s in reversed(line.slots) if s.pitch is not None)
            return beat + 2
        if beat in self.forced:
            anchor = Slot(beat, 0, 0, self.forced.pop(beat), "anchor")
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
            line.slots.append(Slot(beat, 0, 6, None, "enclose"))
            line.slots.append(Slot(beat, 6, 6, None, "enclose"))
            return beat + 1
        if (
            beat + 1 < len(self.beats)
            and self.beats[beat + 1].change
            and beat + 1 not in self.reserved
            and self.chance(self.style.guide_tone)
        ):
            return self.guide_tones(beat, line)
        pitch = self.next_target(line, info.chord, goal)
        anchor = Slot(beat, 0, 0, pitch, "anchor")
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
        overlapping, between E3 and A5 (:data:`~jazz_utils.etudes.line.PITCH_RANGE`); eighth notes
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
        source=f"jazz_utils.etudes.play_etude(seed={int(seed)})",
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
