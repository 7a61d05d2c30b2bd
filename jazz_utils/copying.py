"""How much of a solo is copied from a corpus, counted in values.

A solo is compared with the corpus value by value (the values grammar of
:mod:`jazz_utils.grammar`): the longest run of its values found, consecutively, in one
corpus piece, and which of its :data:`NOVELTY_N`-grams of values the corpus holds.
:func:`jazz_utils.metrics.solo_metrics` reports both.
"""

from __future__ import annotations

from collections.abc import Sequence

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
        low, high = 0, len(values)  # a run of `low` values is copied; `high + 1` is not
        while low < high:
            middle = (low + high + 1) // 2
            if any(self.copied(values, middle)):
                low = middle
            else:
                high = middle - 1
        return low
