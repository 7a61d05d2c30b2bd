"""What a solo copies: from the corpus (chosen values, notes played), from itself, and
when a corpus is too small not to be copied."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from jazz_utils.chords import parse_progression
from jazz_utils.copying import (
    MIN_VALUES_PER_ENTRY,
    CorpusIndex,
    bar_repeats,
    longest_two_bar_loop,
    small_corpus_reasons,
)
from jazz_utils.data import load_music_utils
from jazz_utils.errors import SmallCorpusWarning
from jazz_utils.grammar import Realiser, Value, piece_to_values, values_to_piece
from jazz_utils.metrics import solo_metrics
from jazz_utils.piece import Measure, Note, Piece

DATA = Path(__file__).resolve().parent.parent / "jazz_utils" / "data"
BAR = 48  # ticks in a 4/4 bar


def bars_of(*bars: tuple[tuple[float, float, int], ...], chart: str | None = None) -> Piece:
    """A piece with the given (offset, duration, pitch) notes per bar."""
    progression = parse_progression(chart or "| C7 |" * len(bars))
    measures = tuple(
        Measure(m.length, m.chords, tuple(Note(*n) for n in notes))
        for m, notes in zip(progression, bars, strict=True)
    )
    return Piece(measures)


# ---------------------------------------------------------------- a solo copying itself

A = ((0, 1, 60), (1, 1, 64))
B = ((0, 2, 67),)


def test_bar_repeats_count_returns_of_one_bar_rhythm_and_pitches() -> None:
    assert bar_repeats(bars_of(A, B, A, (), (), A)) == 2  # A three times; empty bars don't count
    assert bar_repeats(bars_of(A, B, ((0, 1, 60), (1, 1, 65)))) == 0  # one pitch differs
    assert bar_repeats(bars_of(A, ((0, 1, 60), (1.5, 1, 64)))) == 0  # one onset differs
    assert bar_repeats(bars_of(A, A, chart="| C7 | F7 |")) == 1  # over other chords too
    assert bar_repeats(bars_of((), ())) == 0
    assert solo_metrics(bars_of(A, B, A, A)).bar_repeats == 2


def realise(chosen: list[str], chart: str, seed: int = 0) -> Piece:
    """A solo as generate_music makes it: chosen values placed until the bars are full."""
    realiser = Realiser(parse_progression(chart), seed=seed)
    used = []
    for value in chosen:
        if realiser.done:
            break
        realiser.add(value)
        used.append(value)
    solo = realiser.piece()
    solo.metadata.update(values=used, played=list(realiser.values_used))
    return solo


def ticks(values: list[str]) -> list[int]:
    return [Value.parse(v).ticks for v in values]


TWO_BARS = ["C,1.000,<m2,M2>", "S,1.000,<m2,M2>", "C,2.000,<M-3,m-3>", "A,4.000,<m2,M2>"]


def test_a_two_bar_cycle_played_twice_is_a_four_bar_loop() -> None:
    intro = ["C,4.000", "S,2.000,<m2,M2>", "R,2.000"]
    values = intro + TWO_BARS * 2 + ["R,4.000"]
    assert longest_two_bar_loop(values, ticks(values), BAR) == 4.0
    three_times = intro + TWO_BARS * 3
    assert longest_two_bar_loop(three_times, ticks(three_times), BAR) == 6.0


def test_a_trill_is_a_loop_once_it_lasts_two_bars() -> None:
    trill = ["C,0.500,<m2,M2>", "A,0.500,<M-2,m-2>"]
    two_bars = trill * 8
    assert longest_two_bar_loop(two_bars, ticks(two_bars), BAR) == 2.0
    one_bar = trill * 4 + ["R,4.000"]  # a figure, not a loop
    assert longest_two_bar_loop(one_bar, ticks(one_bar), BAR) == 0.0


def test_not_loops_long_cycles_rests_and_a_single_cycle() -> None:
    three_bars = ["C,4.000,<m2,M2>", "S,4.000,<m2,M2>", "C,4.000,<M-3,m-3>"] * 2
    assert longest_two_bar_loop(three_bars, ticks(three_bars), BAR) == 0.0  # a 3-bar cycle
    rests = ["R,4.000"] * 6
    assert longest_two_bar_loop(rests, ticks(rests), BAR) == 0.0
    once = [*TWO_BARS, "C,1.000,<m2,M2>"]
    assert longest_two_bar_loop(once, ticks(once), BAR) == 0.0


def test_the_loop_is_measured_on_the_values_chosen_in_any_key() -> None:
    """The same cycle over other chords: other pitches, one loop."""
    solo = realise(TWO_BARS * 3, "| C7 | F7 | Bb7 | Eb7 | Ab7 | Db7 |")
    pitches = [[n.pitch for n in m.notes] for m in solo.measures]
    assert pitches[0:2] != pitches[2:4]  # the notes played differ...
    assert solo_metrics(solo).longest_two_bar_loop == 6.0  # ...but the line loops


# ---------------------------------------------------------------- chosen values, notes played


def corpus_values() -> list[list[str]]:
    chart = parse_progression("| Dm7 G7 | Cmaj7 | Cm7 F7 | Bbmaj7 |" * 4)
    cycle = ["C,0.500", "S,0.500,<m2,M2>", "C,0.500,<m2,M2>", "A,0.500,<M-2,m-2>"]
    steps = ["C,0.750,<m3,M3>", "S,0.250,<M-2,m-2>", "C,1.500,<P-5,P-4>", "R,0.500"]
    piece = values_to_piece((cycle + steps) * 12, chart, seed=1)
    return [piece_to_values(piece)]


def test_novelty_of_the_values_chosen_catches_a_copy_the_notes_played_hide() -> None:
    corpus = corpus_values()
    chosen = corpus[0][5:]
    # Bar lines that cut the corpus's long values and chords that change what its
    # leaps land on: the notes played read as other values.
    solo = realise(chosen, "| F7 | Bb7 | F7 | F7 | Bb7 | Bdim7 | F7 | D7 |", seed=4)
    used, played = solo.metadata["values"], solo.metadata["played"]
    assert played != used
    metrics = solo_metrics(solo, corpus_values=corpus)
    assert metrics.novelty == 0.0 and metrics.copied_ngram_share == 1.0
    assert metrics.longest_copied_run == len(used)
    assert metrics.longest_copied_bars == pytest.approx(8.0)  # the whole solo
    assert metrics.played_novelty is not None and metrics.played_novelty > 0.3
    assert metrics.played_longest_copied_run < len(used)
    assert metrics.played_longest_copied_bars < 8.0
    text = str(metrics)
    assert "values chosen: novelty" in text and "notes played: novelty" in text
    assert "8.0 bars" in text
    assert metrics.to_dict()["played_novelty"] == metrics.played_novelty


def test_a_piece_that_was_not_generated_scores_the_same_both_ways() -> None:
    corpus = corpus_values()
    piece = values_to_piece(corpus[0][:40], parse_progression("| C7 | F7 | C7 | C7 |"))
    metrics = solo_metrics(piece, corpus_values=corpus)
    assert metrics.novelty == metrics.played_novelty
    assert metrics.longest_copied_run == metrics.played_longest_copied_run
    assert metrics.longest_copied_bars == metrics.played_longest_copied_bars


def test_the_longest_copied_span_says_where_it_starts() -> None:
    index = CorpusIndex([["C,1.000", "S,1.000,<m2,M2>", "C,1.000,<m2,M2>", "R,1.000"]])
    new = "X,1.000,<P1,P1>"
    assert index.longest_copied_span([new, "S,1.000,<m2,M2>", "C,1.000,<m2,M2>", new]) == (1, 2)
    assert index.longest_copied_span([new, new]) == (0, 0)
    assert index.longest_copied_run([new, "R,1.000"]) == 1


# ---------------------------------------------------------------- too little data


def test_small_corpus_reasons_give_the_numbers() -> None:
    entries = [f"v{i}" for i in range(10)]
    rich = [entries * MIN_VALUES_PER_ENTRY]  # exactly 10 values per entry, 70 windows
    assert small_corpus_reasons(rich, Tx=30, m=60) == []
    poor = [entries * (MIN_VALUES_PER_ENTRY - 1)]
    (reason,) = small_corpus_reasons(poor, Tx=30, m=60)
    assert "90 values for 10 vocabulary entries is 9.0 per entry" in reason
    (reason,) = small_corpus_reasons(rich, Tx=30, m=71)
    assert "70 distinct windows of Tx + 1 = 31 values for m = 71" in reason


def test_the_bundled_corpus_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallCorpusWarning)
        load_music_utils()


def test_an_18_bar_solo_warns_with_its_numbers() -> None:
    with pytest.warns(SmallCorpusWarning) as caught:
        load_music_utils(DATA / "blues_f.mid", window=(0, 72))
    (warning,) = caught
    message = str(warning.message)
    assert "1 piece, 18 bars" in message and "per entry" in message
    assert warning.filename == __file__  # it points at the caller's line
