"""Musical measurements of a solo: how it sits on its chords, how it moves.

Every note is given a *role* over the chord sounding at its onset, using the
same classification as the values grammar (:func:`jazz_utils.grammar.note_type`):
chord tone, scale tone, approach tone or outside tone.

Where notes fall in the bar (strong beats, the beat grid, blips) is measured in
:mod:`jazz_utils.rhythm`; how the line moves through its chords (guide tones,
resolutions, register) in :mod:`jazz_utils.voice_leading`; what is copied from the
corpus or from the solo itself in :mod:`jazz_utils.copying`.

:func:`solo_metrics` gathers everything into one :class:`SoloMetrics`: how the
solo sits on its chords, how it moves, how its pitch and rhythm vocabulary
compares with a corpus, and how much of it is copied from that corpus, both in
the values the network chose and in the notes as played.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise

from jazz_utils.chords import Chord, pitch_name
from jazz_utils.copying import NOVELTY_N, CorpusIndex, bar_repeats, longest_two_bar_loop
from jazz_utils.grammar import Value, note_type, piece_to_values
from jazz_utils.histograms import (
    DURATION_BINS,
    RELATIVE_PITCH_NAMES,
    duration_histogram,
    histogram_overlap,
    kl_divergence,
    relative_pitch_histogram,
)
from jazz_utils.piece import Note, Piece, to_ticks
from jazz_utils.rhythm import blips, is_strong_beat, off_grid_beats
from jazz_utils.voice_leading import (
    approach_resolutions,
    guide_tone_landings,
    share_inside,
    training_range,
)
from jazz_utils.voice_leading import share as share_of

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


# ---------------------------------------------------------------- the shape of the line

#: Same-pitch notes in a row that count as a repeated-note run.
REPEATED_RUN_MIN = 3


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
        guide_tone_share_on_changes: share of the chord changes on which the first
            note played lands on the new chord's 3rd or 7th
            (:func:`~jazz_utils.voice_leading.guide_tone_landings`); None when no
            note starts after a change.
        approach_resolution_share: share of the approach tones that step (1-2
            semitones) straight into a chord tone
            (:func:`~jazz_utils.voice_leading.approach_resolutions`); None without
            approach tones followed by a note.
        blips: notes shorter than a sixteenth (:func:`~jazz_utils.rhythm.blips`).
        off_grid_beat_share: share of the beats in which notes start that leave the
            rhythmic grid (:func:`off_grid_beats`); 0 without notes.
        distinct_values: how many different values the solo uses: the values the
            network chose (``solo.metadata["values"]``) for a generated solo, the
            values read from its notes otherwise.
        bar_repeats: the most times one bar (rhythm and pitches) comes back after
            it was first played (:func:`~jazz_utils.copying.bar_repeats`; 0: none).
        longest_two_bar_loop: bars of the longest stretch of chosen values that
            loops over at most two bars (:func:`~jazz_utils.copying.longest_two_bar_loop`;
            0: no loop).
        training_range: (lowest, highest) pitch of the corpus pieces.
        inside_training_range_share: share of the solo's notes inside it.
        longest_copied_run: most consecutive *chosen* values of the solo (the values
            the network chose, ``solo.metadata["values"]``; for a piece that was not
            generated, its values) found consecutively in one corpus piece.
        longest_copied_bars: how long that run lasts in the solo, in bars.
        copied_ngram_share: share of the chosen values' :data:`NOVELTY_N`-grams found
            in the corpus (None when the solo has fewer values).
        novelty: ``1 - copied_ngram_share``: 1 is all new, 0 entirely copied.
        played_longest_copied_run, played_longest_copied_bars,
        played_copied_ngram_share, played_novelty: the same four on the values of the
            notes as played (:func:`~jazz_utils.grammar.piece_to_values` of the solo),
            which differ from the chosen ones where a value was cut at a bar line or
            its pitch re-chosen, so a replayed corpus can look new there.
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
    guide_tone_share_on_changes: float | None = None
    approach_resolution_share: float | None = None
    blips: int = 0
    bar_repeats: int = 0
    longest_two_bar_loop: float = 0.0
    corpus_pitch_class_histogram: tuple[float, ...] | None = None
    corpus_duration_histogram: tuple[float, ...] | None = None
    pitch_class_overlap: float | None = None
    pitch_class_kl: float | None = None
    duration_overlap: float | None = None
    duration_kl: float | None = None
    training_range: tuple[int, int] | None = None
    inside_training_range_share: float | None = None
    longest_copied_run: int | None = None
    longest_copied_bars: float | None = None
    copied_ngram_share: float | None = None
    novelty: float | None = None
    played_longest_copied_run: int | None = None
    played_longest_copied_bars: float | None = None
    played_copied_ngram_share: float | None = None
    played_novelty: float | None = None

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
        for name in ("pitch_range", "training_range"):
            if data[name] is not None:
                data[name] = list(data[name])
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

        def low_high(pitches: tuple[int, int] | None) -> str:
            return "-" if pitches is None else f"{pitch_name(pitches[0])}-{pitch_name(pitches[1])}"

        def copied_run(values: int | None, bars: float | None) -> str:
            if values is None:
                return "-"
            return f"{values} value{'s' if values != 1 else ''}, {bars:.1f} bars"

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
            ("guide tones (3rd, 7th) on chord changes", share(self.guide_tone_share_on_changes)),
            ("approach tones resolved by step", share(self.approach_resolution_share)),
            ("pitch range", f"{low_high(self.pitch_range)} ({self.range_semitones} semitones)"),
            ("leaps over an octave", str(self.leaps_over_octave)),
            ("blips (notes shorter than 1/16)", str(self.blips)),
            ("beats off the rhythmic grid", share(self.off_grid_beat_share)),
            ("distinct values", str(self.distinct_values)),
            (f"repeated-note runs ({REPEATED_RUN_MIN}+)",
             f"{self.repeated_note_runs} (longest {self.longest_repeated_run})"),
            ("most repeats of one bar", str(self.bar_repeats)),
            ("longest two-bar loop", f"{self.longest_two_bar_loop:.1f} bars"),
            ("pitches over the chord root", top(self.pitch_class_histogram, RELATIVE_PITCH_NAMES)),
            ("durations", top(self.duration_histogram, durations)),
        ]  # fmt: skip
        if self.corpus_duration_histogram is not None or self.novelty is not None:
            rows += [
                ("notes inside the corpus's range",
                 f"{share(self.inside_training_range_share)} "
                 f"({low_high(self.training_range)})"),
                ("pitch classes vs corpus: overlap / KL",
                 f"{number(self.pitch_class_overlap)} / {number(self.pitch_class_kl)}"),
                ("durations vs corpus: overlap / KL",
                 f"{number(self.duration_overlap)} / {number(self.duration_kl)}"),
                ("values chosen: novelty (1 = all new)", number(self.novelty)),
                (f"values chosen: {NOVELTY_N}-grams copied", share(self.copied_ngram_share)),
                ("values chosen: longest copied run",
                 copied_run(self.longest_copied_run, self.longest_copied_bars)),
                ("notes played: novelty", number(self.played_novelty)),
                ("notes played: longest copied run",
                 copied_run(self.played_longest_copied_run, self.played_longest_copied_bars)),
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


def _chosen_ticks(solo: Piece, chosen: Sequence[str]) -> list[int]:
    """How long each chosen value lasted in the solo, in grid ticks: as played (a value
    cut at the bar line lasts to the bar line) when ``solo.metadata["played"]`` holds
    one played value per chosen one, as chosen otherwise."""
    played = solo.metadata.get("played")
    if isinstance(played, list | tuple) and len(played) == len(chosen):
        return [Value.parse(v).ticks for v in played]
    return [Value.parse(v).ticks for v in chosen]


def _copying(
    index: CorpusIndex, values: Sequence[str], ticks: Sequence[int], bar_ticks: float, prefix: str
) -> dict[str, object]:
    """Novelty, copied n-gram share and the longest copied run (in values and bars)."""
    start, length = index.longest_copied_span(values)
    found: dict[str, object] = {
        f"{prefix}longest_copied_run": length,
        f"{prefix}longest_copied_bars": sum(ticks[start : start + length]) / bar_ticks,
    }
    if len(values) >= NOVELTY_N:
        copied = index.copied(values, NOVELTY_N)
        found[f"{prefix}copied_ngram_share"] = sum(copied) / len(copied)
        found[f"{prefix}novelty"] = 1.0 - sum(copied) / len(copied)
    return found


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
        :data:`~jazz_utils.histograms.KL_EPSILON` to every bin; novelty is 1 minus
        the share of the solo's :data:`NOVELTY_N`-grams of values that occur in the
        corpus, so a solo copied from the corpus scores 0: ``novelty`` on the values
        the network chose (``solo.metadata["values"]`` of a generated solo),
        ``played_novelty`` on the values of the notes played; the two are equal for
        a solo that was not generated.
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
    chosen = _chosen_values(solo)
    chosen_ticks = _chosen_ticks(solo, chosen)
    bar_ticks = to_ticks(solo.total_length) / len(solo.measures) if solo.measures else 1.0
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
        if pieces:
            corpus["training_range"] = training_range(pieces)
            if notes and corpus["training_range"] is not None:
                corpus["inside_training_range_share"] = share_inside(
                    solo,
                    corpus["training_range"],  # type: ignore[arg-type]
                )
        index = CorpusIndex(sequences)
        corpus.update(_copying(index, chosen, chosen_ticks, bar_ticks, ""))
        played = piece_to_values(solo)
        played_ticks = [Value.parse(v).ticks for v in played]
        corpus.update(_copying(index, played, played_ticks, bar_ticks, "played_"))
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
        distinct_values=len(set(chosen)),
        guide_tone_share_on_changes=share_of(guide_tone_landings(solo)),
        approach_resolution_share=share_of(approach_resolutions(solo)),
        blips=blips(solo),
        bar_repeats=bar_repeats(solo),
        longest_two_bar_loop=longest_two_bar_loop(chosen, chosen_ticks, bar_ticks),
        **corpus,  # type: ignore[arg-type]
    )
