"""Musical metrics of a solo, alone and against a corpus."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from jazz_utils.chords import parse_progression
from jazz_utils.corpus import read_piece
from jazz_utils.grammar import piece_to_values, values_to_piece
from jazz_utils.metrics import (
    DURATION_BINS,
    NOVELTY_N,
    SoloMetrics,
    chord_tone_share,
    duration_histogram,
    histogram_overlap,
    kl_divergence,
    relative_pitch_histogram,
    repeated_note_runs,
    role_shares,
    solo_metrics,
)
from jazz_utils.piece import Measure, Note, Piece
from jazz_utils.rhythm import off_grid_beats

DATA = Path(__file__).resolve().parent.parent / "jazz_utils" / "data"
PROGRESSION = parse_progression(
    "| Dm7 G7 | Cmaj7 | Cm7 F7 | Bbmaj7 | Em7b5 A7 | Dm7 | Gm7 C7 | Fmaj7 |" * 4
)
#: An étude that sits on its chords: chord tones on the beats, scale tones and
#: approaches between them, rests to breathe.
ETUDE_VALUES = [
    "C,0.500", "S,0.500,<m2,M2>", "C,0.500,<m2,M2>", "C,0.500,<m3,M3>",
    "C,0.500,<M-3,m-3>", "A,0.500,<M-2,m-2>", "C,1.000,<m2,M2>",
    "C,0.500,<m3,M3>", "C,0.500,<m3,M3>", "S,0.500,<M-2,m-2>", "C,0.500,<M-2,m-2>",
    "C,1.500,<P-5,P-4>", "R,0.500",
]  # fmt: skip


def etude() -> Piece:
    return values_to_piece(ETUDE_VALUES * 20, PROGRESSION, seed=2, tempo=160)


def random_pitch_solo(seed: int = 0) -> Piece:
    """Eighth notes of uniformly random pitch (C3..C6) over the progression."""
    rng = np.random.default_rng(seed)
    measures = []
    for measure in PROGRESSION:
        notes = tuple(
            Note(i * 0.5, 0.5, int(rng.integers(48, 85))) for i in range(int(measure.length * 2))
        )
        measures.append(Measure(measure.length, measure.chords, notes))
    return Piece(tuple(measures), tempo=160, name="random")


def bundled_corpus() -> list[Piece]:
    return [read_piece(path) for path in sorted(DATA.glob("*.mid"))]


# ---------------------------------------------------------------- chord tones


def test_random_pitches_score_near_chance_and_far_below_an_etude() -> None:
    random_metrics = solo_metrics(random_pitch_solo())
    etude_metrics = solo_metrics(etude())
    chance = random_metrics.chord_tone_chance
    assert 0.25 < chance < 0.4  # mostly four-note chords: 4/12
    assert abs(random_metrics.chord_tone_share - chance) < 0.08
    assert etude_metrics.chord_tone_share > 0.7
    assert etude_metrics.chord_tone_share > random_metrics.chord_tone_share + 0.35
    assert etude_metrics.chord_tone_share_strong > 0.9
    assert random_metrics.approach_share > 2 * etude_metrics.approach_share


def test_a_bundled_etude_scores_far_above_random_pitches() -> None:
    corpus = bundled_corpus()
    if not corpus:
        pytest.skip("the bundled corpus (jazz_utils/data/*.mid) is not there yet")
    random_share = solo_metrics(random_pitch_solo(1)).chord_tone_share
    for piece in corpus:
        assert solo_metrics(piece).chord_tone_share > random_share + 0.2, piece.name


def test_shares_by_count_duration_and_strong_beat() -> None:
    chords = parse_progression("| C7 |")[0].chords
    notes = (Note(0.0, 3.0, 64), Note(3.0, 0.5, 62), Note(3.5, 0.5, 61))  # E (C), D (S), Db (A)
    piece = Piece((Measure(4.0, chords, notes),))
    metrics = solo_metrics(piece)
    assert metrics.chord_tone_share == pytest.approx(1 / 3)
    assert metrics.chord_tone_share_duration == pytest.approx(3 / 4)
    assert metrics.chord_tone_share_strong == 1.0
    assert (metrics.scale_share, metrics.approach_share) == (pytest.approx(1 / 3),) * 2
    assert metrics.chord_tone_share == chord_tone_share(piece)
    assert sum(role_shares(piece).values()) == pytest.approx(1.0)


# ---------------------------------------------------------------- shape of the line


def test_repeated_runs_leaps_and_range() -> None:
    chords = parse_progression("| C7 |")[0].chords
    pitches = [60, 60, 60, 60, 76, 62, 62, 48]  # a run of 4; leaps of 16, 14 and 14 semitones
    notes = tuple(Note(i * 0.5, 0.5, p) for i, p in enumerate(pitches))
    piece = Piece((Measure(4.0, chords, notes),))
    assert repeated_note_runs(piece) == [4, 1, 2, 1]
    metrics = solo_metrics(piece)
    assert metrics.longest_repeated_run == 4 and metrics.repeated_note_runs == 1
    assert metrics.leaps_over_octave == 3
    assert metrics.pitch_range == (48, 76) and metrics.range_semitones == 28
    assert metrics.rest_share == 0.0


def test_histograms() -> None:
    chords = parse_progression("| D7 |")[0].chords
    notes = (Note(0.0, 1.0, 62), Note(1.0, 0.5, 66), Note(1.5, 0.5, 69), Note(2.0, 2.0, 72))
    piece = Piece((Measure(4.0, chords, notes),))
    pcs = relative_pitch_histogram([piece])
    assert pcs[0] == pcs[4] == pcs[7] == pcs[10] == 0.25  # root, 3rd, 5th, 7th of D7
    durations = duration_histogram(n.duration for n in notes)
    labels = [label for label, _ in DURATION_BINS]
    assert durations[labels.index("1/8")] == 0.5
    assert durations[labels.index("1/4")] == durations[labels.index("1/2")] == 0.25


def test_overlap_and_kl_divergence() -> None:
    p = [0.5, 0.5, 0.0]
    q = [0.0, 0.5, 0.5]
    assert histogram_overlap(p, p) == 1.0 and kl_divergence(p, p) == pytest.approx(0.0)
    assert histogram_overlap(p, q) == 0.5
    assert histogram_overlap([1.0, 0.0], [0.0, 1.0]) == 0.0
    far = kl_divergence([1.0, 0.0], [0.0, 1.0])
    assert math.isfinite(far) and far > 5.0  # large, but finite thanks to the smoothing
    assert kl_divergence(p, q) > 0.0


# ---------------------------------------------------------------- against a corpus


def corpus_pieces() -> list[Piece]:
    """Three études over different progressions and seeds (and the bundled ones, if any)."""
    other = parse_progression("| F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 |")
    made = [
        values_to_piece(ETUDE_VALUES * 20, PROGRESSION, seed=5, tempo=160),
        values_to_piece(ETUDE_VALUES[::-1] * 12, other, seed=6, tempo=160),
        etude(),
    ]
    return made + bundled_corpus()


def test_a_solo_copied_from_the_corpus_has_novelty_zero() -> None:
    corpus = corpus_pieces()
    for copy in (corpus[0], Piece(corpus[0].measures[3:11], tempo=120)):  # whole, excerpt
        metrics = solo_metrics(copy, corpus)
        values = piece_to_values(copy)
        assert metrics.novelty == 0.0 and metrics.copied_ngram_share == 1.0
        assert metrics.longest_copied_run == len(values)
        assert metrics.pitch_class_overlap is not None and metrics.pitch_class_overlap > 0.5


def test_a_new_solo_is_novel_and_values_alone_suffice() -> None:
    corpus = corpus_pieces()
    fresh = random_pitch_solo(3)
    metrics = solo_metrics(fresh, corpus)
    assert metrics.novelty is not None and metrics.novelty > 0.9
    assert metrics.longest_copied_run is not None and metrics.longest_copied_run < NOVELTY_N
    values_only = solo_metrics(fresh, corpus_values=[piece_to_values(p) for p in corpus])
    assert values_only.novelty == metrics.novelty
    assert values_only.duration_overlap == pytest.approx(metrics.duration_overlap)
    assert values_only.pitch_class_overlap is None  # values hold no pitches


def test_without_a_corpus_comparisons_are_none() -> None:
    metrics = solo_metrics(etude())
    assert metrics.novelty is None and metrics.pitch_class_kl is None
    assert metrics.corpus_duration_histogram is None


def test_a_solo_without_notes() -> None:
    rests = values_to_piece(["R,4.000"] * 2, parse_progression("| C7 | F7 |"))
    metrics = solo_metrics(rests, [etude()])
    assert metrics.n_notes == 0 and metrics.chord_tone_share == 0.0
    assert metrics.pitch_range is None and metrics.rest_share == 1.0
    assert metrics.pitch_class_overlap is None and metrics.novelty is None


def test_report_formats() -> None:
    metrics = solo_metrics(etude(), corpus_pieces()[:2])
    assert isinstance(metrics, SoloMetrics)
    data = metrics.to_dict()
    json.dumps(data)  # plain types only
    assert data["chord_tone_share"] == metrics.chord_tone_share
    assert set(data["pitch_class_histogram"]) >= {"1", "3", "5", "b7"}
    assert list(data["duration_histogram"]) == [label for label, _ in DURATION_BINS]
    html = metrics._repr_html_()
    assert html.startswith("<table") and "chord tones" in html and "novelty" in html
    text = str(metrics)
    assert text.startswith("Solo metrics") and "novelty" in text and "%" in text


def _rhythm_piece(onsets_and_lengths: list[tuple[float, float]]) -> Piece:
    """One bar of Cmaj7 with notes at the given (offset, duration), all on C5."""
    measure = PROGRESSION[1]
    notes = tuple(Note(offset, length, 72) for offset, length in onsets_and_lengths)
    return Piece((Measure(measure.length, measure.chords, notes),), name="rhythm")


@pytest.mark.parametrize(
    ("notes", "expected"),
    [
        ([(i * 0.5, 0.5) for i in range(8)], (0, 4)),  # straight eighths
        ([(i / 3, 1 / 3) for i in range(12)], (0, 4)),  # triplet eighths
        ([(0, 0.25), (0.25, 0.25), (0.5, 0.5), (2, 1)], (0, 2)),  # sixteenths, a rest
        # a triplet that goes on in straight eighths: 0, 1/3, 5/6, 4/3, 11/6 ...
        ([(0, 1 / 3), (1 / 3, 0.5), (5 / 6, 0.5), (4 / 3, 0.5), (11 / 6, 0.5)], (2, 2)),
        ([(0, 1 / 3), (1 / 3, 1 / 6), (0.5, 0.5), (1, 1)], (1, 2)),  # triplet and eighth mixed
        ([], (0, 0)),
    ],
)
def test_off_grid_beats_counts_beats_that_leave_straight_and_triplet_subdivisions(
    notes: list[tuple[float, float]], expected: tuple[int, int]
) -> None:
    assert off_grid_beats(_rhythm_piece(notes)) == expected


def test_off_grid_share_and_distinct_values_in_the_metrics() -> None:
    drifting = _rhythm_piece([(0, 1 / 3), (1 / 3, 0.5), (5 / 6, 0.5), (4 / 3, 0.5), (11 / 6, 2)])
    assert solo_metrics(drifting).off_grid_beat_share == 1.0
    assert solo_metrics(etude()).off_grid_beat_share == 0.0
    assert solo_metrics(_rhythm_piece([])).off_grid_beat_share == 0.0

    solo = etude()
    assert solo_metrics(solo).distinct_values == len(set(piece_to_values(solo)))
    # A generated solo counts the values the network chose, not the ones read back.
    solo.metadata["values"] = ["C,0.500", "C,0.500", "R,0.500"]
    assert solo_metrics(solo).distinct_values == 2
    rows = str(solo_metrics(solo))
    assert "beats off the rhythmic grid" in rows and "distinct values" in rows
