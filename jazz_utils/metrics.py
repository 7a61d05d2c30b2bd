"""Musical measurements of a solo: how it sits on its chords, how it moves.

Every note is given a *role* over the chord sounding at its onset, using the
same classification as the values grammar (:func:`jazz_utils.grammar.note_type`):
chord tone, scale tone, approach tone or outside tone.

Where notes fall in the bar (strong beats, the beat grid) is measured in
:mod:`jazz_utils.rhythm`.

:func:`solo_metrics` gathers everything into one :class:`SoloMetrics`: how the
solo sits on its chords, how it moves, how its pitch and rhythm vocabulary
compares with a corpus, and how much of it is copied from that corpus.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise

from jazz_utils.chords import Chord, pitch_name
from jazz_utils.copying import NOVELTY_N, CorpusIndex
from jazz_utils.grammar import Value, note_type, piece_to_values
from jazz_utils.piece import Note, Piece, to_ticks
from jazz_utils.rhythm import is_strong_beat, off_grid_beats

#: Role names for the grammar's type letters.
ROLE_NAMES = {"C": "chord", "S": "scale", "A": "approach", "X": "outside"}


@dataclass(frozen=True)
class NoteRole:
    """One note of a solo with its context.

    Attributes:
        note: the note, offset from the start of its measure.
        measure: index of its measure.
        chord: the chord sounding at its onset.
        role: ``"C"``, ``"S"``, ``"A"`` or ``"X"``.
        strong: True when the note starts on a strong beat.
    """

    note: Note
    measure: int
    chord: Chord
    role: str
    strong: bool


def note_roles(piece: Piece) -> list[NoteRole]:
    """The role of every note of a piece, in order."""
    roles = []
    for index, measure in enumerate(piece.measures):
        for note in measure.notes:
            chord = measure.chord_at(note.offset)
            roles.append(
                NoteRole(
                    note=note,
                    measure=index,
                    chord=chord,
                    role=note_type(note.pitch, chord),
                    strong=is_strong_beat(note.offset, measure, piece.time_signature),
                )
            )
    return roles


def role_shares(piece: Piece, by: str = "count", strong_only: bool = False) -> dict[str, float]:
    """Share of notes in each role.

    Args:
        piece: the solo.
        by: ``"count"`` (each note counts once) or ``"duration"`` (weighted by length).
        strong_only: only notes starting on strong beats.

    Returns:
        ``{"chord": .., "scale": .., "approach": .., "outside": ..}`` summing to 1
        (all zeros when there are no notes).
    """
    if by not in ("count", "duration"):
        raise ValueError(f"by must be 'count' or 'duration', not {by!r}")
    totals: Counter[str] = Counter()
    for item in note_roles(piece):
        if strong_only and not item.strong:
            continue
        totals[item.role] += item.note.duration if by == "duration" else 1.0
    whole = sum(totals.values())
    return {name: (totals[key] / whole if whole else 0.0) for key, name in ROLE_NAMES.items()}


def chord_tone_share(piece: Piece, by: str = "count", strong_only: bool = False) -> float:
    """Share of notes that are chord tones of the chord under them (0..1)."""
    return role_shares(piece, by=by, strong_only=strong_only)["chord"]


def rest_share(piece: Piece) -> float:
    """Share of the piece's time in which the melody is silent (0..1)."""
    total = piece.total_length
    sounding = sum(n.duration for m in piece.measures for n in m.notes)
    return 1.0 - sounding / total if total else 0.0


def melodic_intervals(piece: Piece) -> list[int]:
    """Semitones from each note to the next, across rests and bar lines."""
    pitches = [n.pitch for n in piece.notes_absolute()]
    return [b - a for a, b in pairwise(pitches)]


def interval_histogram(piece: Piece) -> dict[str, float]:
    """Share of melodic moves that are repeats (0), steps (1-2), skips (3-4) and leaps (5+)."""
    intervals = [abs(i) for i in melodic_intervals(piece)]
    bins = {"repeat": 0, "step": 0, "skip": 0, "leap": 0}
    for size in intervals:
        key = "repeat" if size == 0 else "step" if size <= 2 else "skip" if size <= 4 else "leap"
        bins[key] += 1
    total = len(intervals)
    return {k: (v / total if total else 0.0) for k, v in bins.items()}


def pitch_range(piece: Piece) -> tuple[int, int] | None:
    """Lowest and highest MIDI pitch of the melody (None without notes)."""
    pitches = [n.pitch for m in piece.measures for n in m.notes]
    return (min(pitches), max(pitches)) if pitches else None


# ---------------------------------------------------------------- a solo against a corpus

#: Names of pitch classes relative to the chord root (0 = root, 4 = major third).
RELATIVE_PITCH_NAMES = ("1", "b2", "2", "b3", "3", "4", "#4", "5", "b6", "6", "b7", "7")
#: Duration classes of notes: (label, longest duration in grid ticks, 12 per quarter).
DURATION_BINS = (
    ("1/16", 3), ("1/8 triplet", 4), ("1/8", 6), ("dotted 1/8", 9),
    ("1/4", 12), ("dotted 1/4", 18), ("1/2", 24), ("longer", math.inf),
)  # fmt: skip
#: Smoothing added to every bin before a KL divergence (so empty bins stay finite).
KL_EPSILON = 1e-3
#: Same-pitch notes in a row that count as a repeated-note run.
REPEATED_RUN_MIN = 3


def relative_pitch_histogram(pieces: Iterable[Piece]) -> tuple[float, ...]:
    """Share of notes at each pitch class above the root of the chord under them.

    Returns:
        12 shares summing to 1 (all zeros without notes); index 0 is the root,
        4 the major third, 10 the minor seventh (see :data:`RELATIVE_PITCH_NAMES`).
    """
    counts = [0] * 12
    for piece in pieces:
        for item in note_roles(piece):
            counts[(item.note.pitch - item.chord.root) % 12] += 1
    return _normalised(counts)


def _duration_bin(ticks: int) -> int:
    return next(i for i, (_, longest) in enumerate(DURATION_BINS) if ticks <= longest)


def duration_histogram(durations: Iterable[float]) -> tuple[float, ...]:
    """Share of note durations (quarter notes) in each of :data:`DURATION_BINS`."""
    counts = [0] * len(DURATION_BINS)
    for duration in durations:
        counts[_duration_bin(to_ticks(duration))] += 1
    return _normalised(counts)


def _normalised(counts: Sequence[float]) -> tuple[float, ...]:
    total = float(sum(counts))
    return tuple(c / total if total else 0.0 for c in counts)


def histogram_overlap(p: Sequence[float], q: Sequence[float]) -> float:
    """Overlap of two normalised histograms: the sum of bin-wise minima.

    1 means identical, 0 means no bin in common.
    """
    return float(sum(min(a, b) for a, b in zip(p, q, strict=True)))


def kl_divergence(p: Sequence[float], q: Sequence[float], epsilon: float = KL_EPSILON) -> float:
    """Kullback-Leibler divergence D(p || q) in nats between two histograms.

    ``epsilon`` is added to every bin of both histograms, which are then
    renormalised, so that a bin empty in ``q`` gives a large but finite value.
    0 means identical; larger means ``p`` is less like ``q``.
    """
    p_s = [a + epsilon for a in p]
    q_s = [b + epsilon for b in q]
    p_total, q_total = sum(p_s), sum(q_s)
    pairs = zip(p_s, q_s, strict=True)
    return float(sum((a / p_total) * math.log((a / p_total) / (b / q_total)) for a, b in pairs))


def repeated_note_runs(piece: Piece) -> list[int]:
    """Lengths of the runs of consecutive notes on one pitch (runs of one included), in order."""
    runs: list[int] = []
    previous = None
    for note in piece.notes_absolute():
        if note.pitch == previous:
            runs[-1] += 1
        else:
            runs.append(1)
        previous = note.pitch
    return runs


@dataclass(frozen=True)
class SoloMetrics:
    """Musical measurements of one solo, optionally against a corpus.

    Shares are 0..1. Corpus comparisons are None when no corpus was given
    (pitch classes also need corpus *pieces*, not only values).

    Attributes:
        n_notes: notes in the solo.
        chord_tone_share: share of notes that are chord tones (by count).
        chord_tone_share_duration: the same, weighted by note length.
        chord_tone_share_strong: the same, among notes starting on strong beats.
        chord_tone_chance: the chord-tone share a solo of random pitches would
            expect: the mean, over the solo's notes, of (chord tones / 12).
        scale_share, approach_share, outside_share: shares of the other roles (by count).
        rest_share: share of the solo's time with no note sounding.
        pitch_class_histogram: 12 shares, pitch classes above the chord root
            (:data:`RELATIVE_PITCH_NAMES`), so solos in different keys compare.
        duration_histogram: shares of note durations in :data:`DURATION_BINS`.
        corpus_pitch_class_histogram, corpus_duration_histogram: the corpus's.
        pitch_class_overlap, duration_overlap: :func:`histogram_overlap` with the corpus.
        pitch_class_kl, duration_kl: :func:`kl_divergence` D(solo || corpus), nats.
        longest_repeated_run: most notes in a row on one pitch.
        repeated_note_runs: runs of at least :data:`REPEATED_RUN_MIN` notes on one pitch.
        leaps_over_octave: melodic moves larger than 12 semitones.
        pitch_range: (lowest, highest) MIDI pitch, or None without notes.
        range_semitones: highest minus lowest pitch (0 without notes).
        off_grid_beat_share: share of the beats in which notes start that leave the
            rhythmic grid (:func:`off_grid_beats`); 0 without notes.
        distinct_values: how many different values the solo uses: the values the
            network chose (``solo.metadata["values"]``) for a generated solo, the
            values read from its notes otherwise.
        longest_copied_run: most consecutive values of the solo found consecutively
            in the corpus.
        copied_ngram_share: share of the solo's value :data:`NOVELTY_N`-grams found in
            the corpus (None when the solo has fewer values).
        novelty: ``1 - copied_ngram_share``: 1 is all new, 0 entirely copied.
    """

    n_notes: int
    chord_tone_share: float
    chord_tone_share_duration: float
    chord_tone_share_strong: float
    chord_tone_chance: float
    scale_share: float
    approach_share: float
    outside_share: float
    rest_share: float
    pitch_class_histogram: tuple[float, ...]
    duration_histogram: tuple[float, ...]
    longest_repeated_run: int
    repeated_note_runs: int
    leaps_over_octave: int
    pitch_range: tuple[int, int] | None
    range_semitones: int
    off_grid_beat_share: float
    distinct_values: int
    corpus_pitch_class_histogram: tuple[float, ...] | None = None
    corpus_duration_histogram: tuple[float, ...] | None = None
    pitch_class_overlap: float | None = None
    pitch_class_kl: float | None = None
    duration_overlap: float | None = None
    duration_kl: float | None = None
    longest_copied_run: int | None = None
    copied_ngram_share: float | None = None
    novelty: float | None = None

    def to_dict(self) -> dict[str, object]:
        """The metrics as plain JSON-ready types; histograms as {bin label: share}."""
        data = asdict(self)
        for name, labels in (
            ("pitch_class_histogram", RELATIVE_PITCH_NAMES),
            ("corpus_pitch_class_histogram", RELATIVE_PITCH_NAMES),
            ("duration_histogram", [label for label, _ in DURATION_BINS]),
            ("corpus_duration_histogram", [label for label, _ in DURATION_BINS]),
        ):
            if data[name] is not None:
                data[name] = dict(zip(labels, data[name], strict=True))
        if data["pitch_range"] is not None:
            data["pitch_range"] = list(data["pitch_range"])
        return data

    def _rows(self) -> list[tuple[str, str]]:
        def share(x: float | None) -> str:
            return "-" if x is None else f"{100 * x:.0f}%"

        def number(x: float | None, digits: int = 2) -> str:
            return "-" if x is None else f"{x:.{digits}f}"

        def top(histogram: Sequence[float] | None, labels: Sequence[str]) -> str:
            if histogram is None or not any(histogram):
                return "-"
            ranked = sorted(zip(histogram, labels, strict=True), reverse=True)[:4]
            return ", ".join(f"{label} {100 * x:.0f}%" for x, label in ranked if x > 0)

        durations = [label for label, _ in DURATION_BINS]
        low_high = "-"
        if self.pitch_range is not None:
            low_high = f"{pitch_name(self.pitch_range[0])}-{pitch_name(self.pitch_range[1])}"
        rows = [
            ("notes", str(self.n_notes)),
            ("chord tones (by count)",
             f"{share(self.chord_tone_share)} (chance {share(self.chord_tone_chance)})"),
            ("chord tones (by duration)", share(self.chord_tone_share_duration)),
            ("chord tones (strong beats)", share(self.chord_tone_share_strong)),
            ("scale / approach / outside tones",
             " / ".join(share(x) for x in (self.scale_share, self.approach_share,
                                            self.outside_share))),
            ("rests (time)", share(self.rest_share)),
            ("pitch range", f"{low_high} ({self.range_semitones} semitones)"),
            ("leaps over an octave", str(self.leaps_over_octave)),
            ("beats off the rhythmic grid", share(self.off_grid_beat_share)),
            ("distinct values", str(self.distinct_values)),
            (f"repeated-note runs ({REPEATED_RUN_MIN}+)",
             f"{self.repeated_note_runs} (longest {self.longest_repeated_run})"),
            ("pitches over the chord root", top(self.pitch_class_histogram, RELATIVE_PITCH_NAMES)),
            ("durations", top(self.duration_histogram, durations)),
        ]  # fmt: skip
        if self.corpus_duration_histogram is not None or self.novelty is not None:
            rows += [
                ("pitch classes vs corpus: overlap / KL",
                 f"{number(self.pitch_class_overlap)} / {number(self.pitch_class_kl)}"),
                ("durations vs corpus: overlap / KL",
                 f"{number(self.duration_overlap)} / {number(self.duration_kl)}"),
                ("longest run copied from the corpus",
                 "-" if self.longest_copied_run is None else f"{self.longest_copied_run} values"),
                (f"{NOVELTY_N}-grams copied from the corpus", share(self.copied_ngram_share)),
                ("novelty (1 = all new)", number(self.novelty)),
            ]  # fmt: skip
        return rows

    def __str__(self) -> str:
        rows = self._rows()
        width = max(len(name) for name, _ in rows)
        return "Solo metrics\n" + "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
            for name, value in self._rows()
        )
        return f"<table><caption>Solo metrics</caption>{cells}</table>"


def _chosen_values(solo: Piece) -> list[str]:
    chosen = solo.metadata.get("values")
    if isinstance(chosen, list | tuple) and all(isinstance(v, str) for v in chosen):
        return list(chosen)
    return piece_to_values(solo)


def solo_metrics(
    solo: Piece,
    corpus_pieces: Sequence[Piece] | None = None,
    corpus_values: Sequence[Sequence[str]] | None = None,
) -> SoloMetrics:
    """Measure a solo, and compare it with a corpus when one is given.

    Args:
        solo: the solo (a generated piece, or any piece).
        corpus_pieces: the pieces it learned from (gives pitch-class and duration
            histograms, and values for novelty).
        corpus_values: the corpus as value sequences, one per piece (e.g. what the
            data loader read); used for novelty (instead of the pieces' values)
            and for durations when no pieces are given.

    Returns:
        A :class:`SoloMetrics`. Histogram overlap is the sum of bin-wise minima;
        KL divergence is D(solo || corpus) in nats after adding
        :data:`KL_EPSILON` to every bin; novelty is 1 minus the share of the
        solo's :data:`NOVELTY_N`-grams of values that occur in the corpus, so a
        solo copied from the corpus scores 0.
    """
    roles = note_roles(solo)
    shares = role_shares(solo)
    notes = [item.note for item in roles]
    runs = repeated_note_runs(solo)
    chance = sum(len(r.chord.pitch_classes) for r in roles) / (12 * len(roles)) if roles else 0.0
    lowest_highest = pitch_range(solo)
    pc_hist = relative_pitch_histogram([solo])
    dur_hist = duration_histogram(n.duration for n in notes)
    off_grid, with_onsets = off_grid_beats(solo)
    corpus: dict[str, object] = {}
    if corpus_pieces is not None or corpus_values is not None:
        pieces = list(corpus_pieces or [])
        sequences = (
            [list(v) for v in corpus_values]
            if corpus_values is not None
            else [piece_to_values(p) for p in pieces]
        )
        if pieces:
            corpus_pc = relative_pitch_histogram(pieces)
            corpus_dur = duration_histogram(
                n.duration for p in pieces for m in p.measures for n in m.notes
            )
            corpus["corpus_pitch_class_histogram"] = corpus_pc
        else:
            parsed = (Value.parse(v) for seq in sequences for v in seq)
            corpus_dur = duration_histogram(v.duration for v in parsed if v.type != "R")
        corpus["corpus_duration_histogram"] = corpus_dur
        if notes and pieces:
            corpus["pitch_class_overlap"] = histogram_overlap(pc_hist, corpus_pc)
            corpus["pitch_class_kl"] = kl_divergence(pc_hist, corpus_pc)
        if notes and any(corpus_dur):
            corpus["duration_overlap"] = histogram_overlap(dur_hist, corpus_dur)
            corpus["duration_kl"] = kl_divergence(dur_hist, corpus_dur)
        values = piece_to_values(solo)
        index = CorpusIndex(sequences)
        corpus["longest_copied_run"] = index.longest_copied_run(values)
        if len(values) >= NOVELTY_N:
            copied = index.copied(values, NOVELTY_N)
            corpus["copied_ngram_share"] = sum(copied) / len(copied)
            corpus["novelty"] = 1.0 - corpus["copied_ngram_share"]  # type: ignore[operator]
    return SoloMetrics(
        n_notes=len(notes),
        chord_tone_share=shares["chord"],
        chord_tone_share_duration=chord_tone_share(solo, by="duration"),
        chord_tone_share_strong=chord_tone_share(solo, strong_only=True),
        chord_tone_chance=chance,
        scale_share=shares["scale"],
        approach_share=shares["approach"],
        outside_share=shares["outside"],
        rest_share=rest_share(solo),
        pitch_class_histogram=pc_hist,
        duration_histogram=dur_hist,
        longest_repeated_run=max(runs, default=0),
        repeated_note_runs=sum(1 for r in runs if r >= REPEATED_RUN_MIN),
        leaps_over_octave=sum(1 for i in melodic_intervals(solo) if abs(i) > 12),
        pitch_range=lowest_highest,
        range_semitones=lowest_highest[1] - lowest_highest[0] if lowest_highest else 0,
        off_grid_beat_share=off_grid / with_onsets if with_onsets else 0.0,
        distinct_values=len(set(_chosen_values(solo))),
        **corpus,  # type: ignore[arg-type]
    )
