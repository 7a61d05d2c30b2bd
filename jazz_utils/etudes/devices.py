"""The devices of a bebop line: guide tones, arpeggios, motifs, endings, connecting tones.

Each device is a method of :class:`Devices`, called by the phrase writer of
:mod:`jazz_utils.etudes.soloist` (whose docstring states the rules);
:func:`degree_intervals` and :func:`bebop_scale` are the chord knowledge they share.
"""

from __future__ import annotations

from collections.abc import Sequence

from jazz_utils.chords import Chord
from jazz_utils.etudes.line import PITCH_RANGE, TARGET_RANGE, Line, Player, Slot

# Chord degrees in pitch order within an octave: 1 9 3 11 5 13 7.
# Even positions are the chord tones (1 3 5 7), odd positions the tensions.
_LADDER = (1, 9, 3, 11, 5, 13, 7)
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


class Devices(Player):
    """The devices of a line, on top of :class:`~jazz_utils.etudes.line.Player`'s helpers."""

    def guide_tones(self, beat: int, line: Line) -> int:
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
        anchor = Slot(beat, 0, 0, pitch, "anchor")
        line.slots.append(anchor)
        line.current = pitch
        if self.chance(0.4):
            anchor.duration = 12
        else:
            self.rhythm(beat, line, anchor)
        return beat + 1

    def arpeggio(self, beat: int, line: Line) -> int:
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
            anchor = Slot(beat, 0, 0, pitch, "anchor")
            line.slots.append(anchor)
            line.current = pitch
            self.rhythm(beat, line, anchor)
            return beat + 1
        pitches = options[0]
        for i, pitch in enumerate(pitches):
            line.slots.append(Slot(beat + i // 2, 6 * (i % 2), 6, pitch, "arpeggio"))
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

    def motif(self, beat: int, line: Line) -> int:
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
            line.slots.append(Slot(beat + tick // 12, tick % 12, duration, pitch, "motif"))
        self.reserved[answer_beat] = [
            Slot(answer_beat + tick // 12, tick % 12, duration, pitch, "motif")
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
    def ending(self, beat: int, kind: int, line: Line) -> None:
        """The phrase's last note: a chord tone (third or root preferred), held."""
        chord = self.beats[beat].chord
        if beat in self.forced:
            pitch = self.forced.pop(beat)
        else:
            tones = self.chord_tones(chord)
            third = [p for p in tones if p % 12 in (chord.third, chord.root)]
            pitch = self.nearest(third or tones, line.current + line.direction)
        if kind == 3:  # a beat note, then the final off-beat eighth a chord tone lower
            line.slots.append(Slot(beat, 0, 6, pitch, "anchor"))
            below = [p for p in self.chord_tones(chord, PITCH_RANGE[0]) if p < pitch]
            final = below[-1] if below else pitch
            line.slots.append(Slot(beat, 6, 6, final, "end"))
            line.current = final
            return
        duration = {0: 12, 1: 18, 2: 24, 4: 36}[kind]
        line.slots.append(Slot(beat, 0, duration, pitch, "end"))
        line.current = pitch

    def fill(self, slots: list[Slot]) -> None:
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
