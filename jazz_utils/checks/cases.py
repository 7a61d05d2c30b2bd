"""The checks' own test cases: sizes, random weights, inputs and the outputs to expect.

Each check builds the learner's model with small, unusual sizes (``CheckSizes``), gives
its layers random weights and computes, with the NumPy reference of
``jazz_utils.lstm_reference``, the outputs of the right model and of each classic mistake
on random inputs. Weights whose argmax choices are too close to call (float32 round-off
could flip them) are drawn again from the next of ``SEEDS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from jazz_utils.checks.mistakes import INFERENCE_MISTAKES, TRAIN_MISTAKES
from jazz_utils.lstm_reference import (
    RIGHT,
    Sizes,
    Weights,
    greedy_decode,
    smallest_margin,
    teacher_forced,
)

ATOL = 1e-5
"""Absolute tolerance when comparing with the NumPy reference."""
RTOL = 1e-4
"""Relative tolerance when comparing with the NumPy reference."""
MIN_MARGIN = 1e-3
"""Smallest gap between the two largest probabilities of a greedy step that the checks
accept in their own random weights (so float32 round-off cannot flip an argmax)."""
SEEDS = range(64)
"""Seeds tried, in order, when looking for random weights that tell every mistake apart
from the right answer."""


@dataclass(frozen=True)
class CheckSizes:
    """One set of sizes a check builds the learner's model with.

    ``steps`` is ``Tx`` for djmodel and ``Ty`` for the inference model; ``layers`` are
    the LSTM_cell's and densor's sizes. The sizes are small, different from each other
    and from the notebook's (so that a hard-coded 30, 64, 78 or 90 cannot fit).
    """

    m: int
    steps: int
    layers: Sizes

    @property
    def n_values(self) -> int:
        """The vocabulary size (densor.units)."""
        return self.layers.n_values

    @property
    def n_a(self) -> int:
        """The LSTM's units (LSTM_cell.units)."""
        return self.layers.n_a

    def describe(self, steps_name: str) -> str:
        """The sizes in words, for messages: ``steps_name`` is ``"Tx"`` or ``"Ty"``."""
        return (
            f"{steps_name}={self.steps}, n_values={self.n_values} (densor.units), "
            f"n_a={self.n_a} (LSTM_cell.units), m={self.m} examples"
        )


TRAIN_SIZES = (
    CheckSizes(m=3, steps=4, layers=Sizes(n_values=7, n_a=5)),
    CheckSizes(m=2, steps=3, layers=Sizes(n_values=11, n_a=6)),
)
"""djmodel is built twice, with Tx = 4 and Tx = 3."""
INFERENCE_SIZES = (
    CheckSizes(m=3, steps=4, layers=Sizes(n_values=7, n_a=5)),
    CheckSizes(m=2, steps=1, layers=Sizes(n_values=11, n_a=6)),
)
"""music_inference_model is built twice, with Ty = 4 and Ty = 1."""
SAMPLE_SIZES = CheckSizes(m=1, steps=5, layers=Sizes(n_values=7, n_a=5))
"""The checks' own inference model that predict_and_sample is given."""


def set_random_weights(rng: np.random.Generator, *layers: Any) -> None:
    """Give every weight of ``layers`` values drawn from N(0, 1), as float32."""
    for layer in layers:
        layer.set_weights(
            [rng.normal(0.0, 1.0, np.shape(w)).astype("float32") for w in layer.get_weights()]
        )


def distinct_mistakes(
    reference: np.ndarray, mistakes: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The mistakes whose outputs differ from the reference (the others cannot be told apart)."""
    return {
        way: out
        for way, out in mistakes.items()
        if out.shape != reference.shape or not np.allclose(out, reference, atol=100 * ATOL)
    }


def training_case(
    weights: Weights, sizes: CheckSizes, rng: np.random.Generator
) -> tuple[list[np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Inputs, reference and mistakes for teacher forcing (djmodel).

    Returns:
        [X (m, Tx, n_values), a0, c0 (m, n_a)] as float32; the reference outputs
        (Tx, m, n_values); the outputs of each mistake of ``TRAIN_MISTAKES`` that differ
        from the reference, by name.
    """
    X = rng.uniform(0.0, 1.0, (sizes.m, sizes.steps, weights.n_values))
    a0 = rng.normal(0.0, 0.5, (sizes.m, sizes.n_a))
    c0 = rng.normal(0.0, 0.5, (sizes.m, sizes.n_a))
    inputs = [X.astype("float32"), a0.astype("float32"), c0.astype("float32")]
    X, a0, c0 = (x.astype(np.float64) for x in inputs)
    reference = teacher_forced(weights, X, a0, c0)
    mistakes = {way: teacher_forced(weights, X, a0, c0, way=way) for way in TRAIN_MISTAKES}
    return inputs, reference, distinct_mistakes(reference, mistakes)


def inference_case(
    weights: Weights, sizes: CheckSizes, rng: np.random.Generator, need_margin: bool
) -> tuple[list[np.ndarray], np.ndarray, dict[str, np.ndarray]] | None:
    """Inputs, reference and mistakes for greedy decoding; None if argmax is too close to call."""
    n_values = weights.n_values
    x0 = np.eye(n_values)[rng.integers(0, n_values, sizes.m)][:, None, :]
    a0 = rng.normal(0.0, 0.5, (sizes.m, sizes.n_a))
    c0 = rng.normal(0.0, 0.5, (sizes.m, sizes.n_a))
    inputs = [x0.astype("float32"), a0.astype("float32"), c0.astype("float32")]
    x0, a0, c0 = (x.astype(np.float64) for x in inputs)
    ways = [RIGHT, *INFERENCE_MISTAKES]
    outs = {way: greedy_decode(weights, x0, a0, c0, sizes.steps, way=way) for way in ways}
    if need_margin and min(smallest_margin(o) for o in outs.values()) < MIN_MARGIN:
        return None
    reference = outs.pop(RIGHT)
    return inputs, reference, distinct_mistakes(reference, outs)
