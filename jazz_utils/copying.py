"""How much of a solo is copied: from its corpus, or from itself.

From the corpus, value by value (the values grammar of :mod:`jazz_utils.grammar`):
the longest run of its values found, consecutively, in one corpus piece
(:meth:`CorpusIndex.longest_copied_span`), and which of its :data:`NOVELTY_N`-grams of
values the corpus holds (:meth:`CorpusIndex.copied`).
:func:`jazz_utils.metrics.solo_metrics` reports both, on the values the network chose
and on the notes as played.

From itself: the most times one bar comes back (:func:`bar_repeats`) and the longest
stretch that loops over at most two bars (:func:`longest_two_bar_loop`).

Before any of that, :func:`warn_if_small_corpus` says when a corpus is too small for the
network to learn anything but the corpus itself.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from itertools import accumulate

from jazz_utils.errors import SmallCorpusWarning
from jazz_utils.piece import Piece, to_ticks

#: Length of the value n-grams that count as copied from the corpus.
NOVELTY_N = 8


class CorpusIndex:
    """The corpus's value n-grams, for finding runs of a solo copied from it.

    A value without a leap bracket (the first note of a piece) cannot say how it
    was approached, so it matches any corpus value of the same type and duration.
    """

    def __init__(self, sequences: Sequence[Sequence[str]]):
        self._ids: dict[str, int] = {}
        self.full = [[self._id(v) for v in seq] for seq in sequences]
        self.base = [[self._id(self._base(v)) for v in seq] for seq in sequences]
        self._sets: dict[tuple[int, tuple[int, ...]], set[tuple[int, ...]]] = {}

    def _id(self, text: str) -> int:
        return self._ids.setdefault(text, len(self._ids))

    @staticmethod
    def _base(value: str) -> str:
        return ",".join(str(value).split(",")[:2])

    def _grams(self, n: int, masked: tuple[int, ...]) -> set[tuple[int, ...]]:
        key = (n, masked)
        if key not in self._sets:
            grams = set()
            for full, base in zip(self.full, self.base, strict=True):
                for i in range(len(full) - n + 1):
                    gram = list(full[i : i + n])
                    for j in masked:
                        gram[j] = base[i + j]
                    grams.add(tuple(gram))
            self._sets[key] = grams
        return self._sets[key]

    def copied(self, values: Sequence[str], n: int) -> list[bool]:
        """For each n-gram of ``values`` (by start), whether the corpus holds it."""
        # A pitched value without a bracket matches on type and duration alone.
        wildcard = ["<" not in v and not v.startswith("R") for v in values]
        full = [self._ids.get(v, -1) for v in values]
        base = [self._ids.get(self._base(v), -1) for v in values]
        result = []
        for i in range(len(values) - n + 1):
            masked = tuple(j for j in range(n) if wildcard[i + j])
            gram = tuple(base[i + j] if j in masked else full[i + j] for j in range(n))
            result.append(-1 not in gram and gram in self._grams(n, masked))
        return result

    def longest_copied_run(self, values: Sequence[str]) -> int:
        """Length of the longest run of consecutive values also consecutive in the corpus."""
        return self.longest_copied_span(values)[1]

    def longest_copied_span(self, values: Sequence[str]) -> tuple[int, int]:
        """Where the longest copied run of ``values`` starts, and its length.

        Returns:
            ``(start, length)``: ``values[start:start + length]`` is found consecutively
            in one corpus piece, and no longer run is (the first such run; ``(0, 0)``
            when not even one value is).
        """
        low, high = 0, len(values)  # a run of `low` values is copied; `high + 1` is not
        start = 0
        while low < high:
            middle = (low + high + 1) // 2
            copied = self.copied(values, middle)
            if any(copied):
                low, start = middle, copied.index(True)
            else:
                high = middle - 1
        return (start, low) if low else (0, 0)


# ---------------------------------------------------------------- a solo copying itself


def _bar_keys(piece: Piece) -> list[tuple[tuple[int, int, int], ...] | None]:
    """Each bar's notes as (onset tick, length in ticks, pitch); None for an empty bar."""
    return [
        tuple((to_ticks(n.offset), to_ticks(n.duration), n.pitch) for n in m.notes) or None
        for m in piece.measures
    ]


def bar_repeats(piece: Piece) -> int:
    """The most times one bar comes back after it was first played.

    Two bars are the same when their notes start at the same places in the bar, last
    as long and have the same pitches (the chords under them may differ). Empty bars
    are not counted.

    Returns:
        0 when no bar is played twice, 2 when one bar is played three times, and so on.
    """
    counts = Counter(key for key in _bar_keys(piece) if key is not None)
    return max(counts.values(), default=1) - 1


#: The longest cycle a loop repeats, in bars.
LOOP_CYCLE_BARS = 2
#: The shortest stretch that counts as a loop, in bars (a trill of a beat or a scale
#: run repeats a short cycle too: a figure, not a loop).
LOOP_MIN_BARS = 2


def longest_two_bar_loop(values: Sequence[str], ticks: Sequence[int], bar_ticks: float) -> float:
    """The longest stretch of a solo that loops over at most two bars, in bars.

    A stretch *loops* when its values repeat one cycle of ``p`` values, at least twice
    in a row: each value after the first cycle equals the value ``p`` before it. Values
    hold a note's role, duration and leap, so a loop is found in any key and over any
    chords (the pitches played may differ while the rhythm and the contour repeat). The
    cycle lasts at most :data:`LOOP_CYCLE_BARS` bars and holds at least one note (bars
    of rest are not a loop); stretches shorter than :data:`LOOP_MIN_BARS` bars are 0.

    Args:
        values: the solo's values, in order (e.g. the values the network chose).
        ticks: how long each value lasted in the solo, in grid ticks.
        bar_ticks: ticks in a bar.

    Returns:
        The stretch's length in bars, or 0.0 when nothing loops that long.
    """
    n = len(values)
    ends = [0, *accumulate(ticks)]  # ends[i]: ticks before value i
    pitched = [not v.startswith("R") for v in values]
    longest = 0
    for period in range(1, n // 2 + 1):
        run = 0  # values so far equal to the one `period` before
        for i in range(period, n):
            run = run + 1 if values[i] == values[i - period] else 0
            first = i - run - period + 1  # where the stretch (first cycle included) starts
            if (
                run >= period
                and ends[first + period] - ends[first] <= LOOP_CYCLE_BARS * bar_ticks
                and any(pitched[first : first + period])
            ):
                longest = max(longest, ends[i + 1] - ends[first])
    return longest / bar_ticks if longest >= LOOP_MIN_BARS * bar_ticks else 0.0


# ---------------------------------------------------------------- too little data

#: Fewer values per vocabulary entry than this, and a corpus is learnt by heart.
MIN_VALUES_PER_ENTRY = 10


def small_corpus_reasons(sequences: Sequence[Sequence[object]], Tx: int, m: int) -> list[str]:
    """Why a corpus is too small to train ``m`` windows of ``Tx`` values without
    memorising it (an empty list when it is not).

    Two rules, each with the numbers behind it:

    - fewer than :data:`MIN_VALUES_PER_ENTRY` values per vocabulary entry: most
      values then occur in only a few contexts, so a short context fixes the next value
      (in one 24-bar bundled étude, 3.6 values per entry, the two previous values fix
      the next one at 52-62 % of positions; in the whole bundled corpus, 21.6 per entry,
      at 21 %), and a network trained for 100 epochs replays the corpus instead of
      learning its style;
    - fewer distinct windows of ``Tx + 1`` values than ``m``: the windows are drawn with
      replacement, so the same examples are trained on several times per epoch.

    Args:
        sequences: the corpus's values, one sequence per piece (strings or indices).
        Tx: time steps per window.
        m: windows drawn.
    """
    values = sum(len(seq) for seq in sequences)
    entries = len({v for seq in sequences for v in seq})
    windows = sum(max(0, len(seq) - Tx) for seq in sequences)
    reasons = []
    if entries and values < MIN_VALUES_PER_ENTRY * entries:
        reasons.append(
            f"{values} values for {entries} vocabulary entries is {values / entries:.1f} "
            f"per entry (fewer than {MIN_VALUES_PER_ENTRY}: a short context fixes the "
            "next value, so the network can learn the corpus by heart)"
        )
    if windows < m:
        reasons.append(
            f"{windows} distinct windows of Tx + 1 = {Tx + 1} values for m = {m} "
            "examples (the same windows are drawn again and again)"
        )
    return reasons


def warn_if_small_corpus(
    sequences: Sequence[Sequence[object]], Tx: int, m: int, bars: int | None = None
) -> None:
    """Warn (:class:`~jazz_utils.errors.SmallCorpusWarning`) when
    :func:`small_corpus_reasons` finds the corpus too small; the message gives the numbers.

    The warning points at the caller of the function that calls this one
    (``load_music_utils``'s caller).
    """
    reasons = small_corpus_reasons(sequences, Tx, m)
    if not reasons:
        return
    size = f"{len(sequences)} piece{'s' if len(sequences) != 1 else ''}"
    size += f", {bars} bars" if bars is not None else ""
    warnings.warn(
        f"This corpus ({size}) is too small to learn from without memorising it: "
        + "; ".join(reasons)
        + ". Expect solos that replay it (solo_metrics reports the novelty and the "
        "longest copied run of the values the network chose). Add pieces"
        + (
            ", or choose a smaller Tx or m."
            if len(reasons) == 1 and "windows" in reasons[0]
            else "."
        ),
        SmallCorpusWarning,
        stacklevel=3,
    )
