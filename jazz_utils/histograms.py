"""Pitch-class and duration histograms of melodies, and how to compare two of them.

A solo and a corpus in different keys compare through *relative* pitch classes (the
pitch class above the root of the chord under each note); their rhythms through the
classes of note durations in :data:`DURATION_BINS`. Two histograms compare by their
overlap (:func:`histogram_overlap`) and by a smoothed Kullback-Leibler divergence
(:func:`kl_divergence`). :func:`jazz_utils.metrics.solo_metrics` reports both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from jazz_utils.piece import Piece, to_ticks

#: Names of pitch classes relative to the chord root (0 = root, 4 = major third).
RELATIVE_PITCH_NAMES = ("1", "b2", "2", "b3", "3", "4", "#4", "5", "b6", "6", "b7", "7")
#: Duration classes of notes: (label, longest duration in grid ticks, 12 per quarter).
DURATION_BINS = (
    ("under 1/16", 2), ("1/16", 3), ("1/8 triplet", 4), ("1/8", 6), ("dotted 1/8", 9),
    ("1/4", 12), ("dotted 1/4", 18), ("1/2", 24), ("longer", math.inf),
)  # fmt: skip
#: Smoothing added to every bin before a KL divergence (so empty bins stay finite).
KL_EPSILON = 1e-3


def relative_pitch_histogram(pieces: Iterable[Piece]) -> tuple[float, ...]:
    """Share of notes at each pitch class above the root of the chord under them.

    Returns:
        12 shares summing to 1 (all zeros without notes); index 0 is the root,
        4 the major third, 10 the minor seventh (see :data:`RELATIVE_PITCH_NAMES`).
    """
    counts = [0] * 12
    for piece in pieces:
        for measure in piece.measures:
            for note in measure.notes:
                counts[(note.pitch - measure.chord_at(note.offset).root) % 12] += 1
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
