"""The hidden tests' cases: sizes, weights and inputs of each check (NumPy only).

The hidden tests never compare layer names: they give the learner's function fresh,
tiny layers carrying known weights, run the model it returns on known inputs, and
compare the outputs with what the NumPy reference (``jazz_utils.lstm_reference``)
computes from the same weights: ``teacher_forced`` for ``djmodel``, ``greedy_decode``
for ``music_inference_model``, and for ``predict_and_sample`` the grader's own test
model (``sampling_outputs`` here).

The cases at the bottom (``FIXED``: sizes other than the notebook's, fixed seeds) are
the notebook's own hidden tests under plain nbgrader. The batch grader draws other
cases for every batch (``draw_cases``) from a seed no sandbox sees, so that no
submission can know the inputs its models are judged on. Nothing here imports
TensorFlow: the judge that compares evidence with references runs in the grading
process itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.errors import GradingError
from jazz_utils.lstm_reference import (
    Sizes,
    Weights,
    greedy_decode,
    smallest_margin,
    softmax,
    teacher_forced,
)


def _f32(array: np.ndarray) -> np.ndarray:
    """Round to float32 (what Keras computes with) and hold as float64."""
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def random_weights(sizes: Sizes, seed: int) -> Weights:
    """Weights drawn from ``seed``; the Dense kernel is large so that argmax choices are clear."""
    rng = np.random.default_rng(seed)
    n_values, n_a = sizes.n_values, sizes.n_a
    return Weights(
        kernel=_f32(rng.normal(0.0, 1.0, (n_values, 4 * n_a))),
        recurrent_kernel=_f32(rng.normal(0.0, 1.0, (n_a, 4 * n_a))),
        bias=_f32(rng.normal(0.0, 0.5, (4 * n_a,))),
        dense_kernel=_f32(rng.normal(0.0, 3.0, (n_a, n_values))),
        dense_bias=_f32(rng.normal(0.0, 0.5, (n_values,))),
    )


def _one_hot(rng: np.random.Generator, shape: tuple[int, ...], n_values: int) -> np.ndarray:
    return np.eye(n_values, dtype=np.float32)[rng.integers(0, n_values, shape)]


def _state(rng: np.random.Generator, m: int, n_a: int) -> np.ndarray:
    return rng.normal(0.0, 0.8, (m, n_a)).astype(np.float32)


@dataclass(frozen=True)
class TrainingCase:
    """A ``djmodel`` case: sizes, Tx, batch size m and the seed of weights and inputs."""

    Tx: int
    sizes: Sizes
    m: int
    seed: int

    def weights(self) -> Weights:
        """The weights the given layers carry."""
        return random_weights(self.sizes, self.seed)

    def inputs(self, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X (m, Tx, n_values), a0 and c0 (m, n_a), float32.

        ``kind`` is ``"random"`` (a different value at each step) or ``"constant"``
        (each sequence repeats one value, so reading the wrong step does not matter
        but carrying the state does). a0 and c0 are non-zero and differ.
        """
        rng = np.random.default_rng(self.seed + 1000)
        n_values = self.sizes.n_values
        if kind == "random":
            X = _one_hot(rng, (self.m, self.Tx), n_values)
        elif kind == "constant":
            X = np.repeat(_one_hot(rng, (self.m, 1), n_values), self.Tx, axis=1)
        else:
            raise ValueError(f"unknown input kind {kind!r}")
        return X, _state(rng, self.m, self.sizes.n_a), _state(rng, self.m, self.sizes.n_a)

    def reference(self, kind: str) -> np.ndarray:
        """The reference outputs (Tx, m, n_values) for ``inputs(kind)``."""
        return teacher_forced(self.weights(), *self.inputs(kind))


@dataclass(frozen=True)
class InferenceCase:
    """A ``music_inference_model`` case: sizes, Ty, batch size m and the seed."""

    Ty: int
    sizes: Sizes
    m: int
    seed: int

    def weights(self) -> Weights:
        """The weights of the trained layers."""
        return random_weights(self.sizes, self.seed)

    def inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x0 (m, 1, n_values) one-hot, a0 and c0 (m, n_a) non-zero, float32."""
        rng = np.random.default_rng(self.seed + 1000)
        x0 = _one_hot(rng, (self.m, 1), self.sizes.n_values)
        return x0, _state(rng, self.m, self.sizes.n_a), _state(rng, self.m, self.sizes.n_a)

    def reference(self) -> np.ndarray:
        """The reference outputs (Ty, m, n_values) of greedy decoding from ``inputs()``."""
        return greedy_decode(self.weights(), *self.inputs(), self.Ty)


@dataclass(frozen=True)
class SamplingWeights:
    """The weights of the sampling test model: one Dense softmax head per step.

    Shapes: ``kernels`` (Ty, n_values + 2 n_a, n_values), ``biases`` (Ty, n_values),
    float32 values held as float64.
    """

    kernels: np.ndarray
    biases: np.ndarray

    def head_lists(self) -> list[list[np.ndarray]]:
        """Each head's weights as float32 arrays, for ``Dense.set_weights``."""
        return [
            [k.astype(np.float32), b.astype(np.float32)]
            for k, b in zip(self.kernels, self.biases, strict=True)
        ]


@dataclass(frozen=True)
class SamplingCase:
    """A ``predict_and_sample`` case: the test model's sizes, Ty and the seed.

    ``predict_and_sample`` only runs a model and reads its outputs, so the model it is
    given is the grader's own *test model* (``sampling_outputs``), not an inference
    model: step t's output is ``softmax([x0, a0, c0] @ K_t + b_t)``, which depends on
    every initializer and gives no answer to another exercise. Batches have one
    example, as in the notebook.
    """

    Ty: int
    sizes: Sizes
    seed: int

    def weights(self) -> SamplingWeights:
        """The weights of the test model's heads."""
        rng = np.random.default_rng(self.seed)
        width = self.sizes.n_values + 2 * self.sizes.n_a
        return SamplingWeights(
            kernels=_f32(rng.normal(0.0, 3.0, (self.Ty, width, self.sizes.n_values))),
            biases=_f32(rng.normal(0.0, 0.5, (self.Ty, self.sizes.n_values))),
        )

    def initializers(self, variant: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, a, c) initializers, float32, shapes (1, 1, n_values), (1, n_a), (1, n_a).

        ``variant``: ``"zeros"`` (the notebook's), ``"base"`` (random), or ``"x"``,
        ``"a"``, ``"c"``: the base with only that initializer drawn anew.
        """
        n_values, n_a = self.sizes.n_values, self.sizes.n_a
        if variant == "zeros":
            return (
                np.zeros((1, 1, n_values), np.float32),
                np.zeros((1, n_a), np.float32),
                np.zeros((1, n_a), np.float32),
            )
        rng = np.random.default_rng(self.seed + 1000)
        x, a, c = _one_hot(rng, (1, 1), n_values), _state(rng, 1, n_a), _state(rng, 1, n_a)
        if variant == "base":
            return x, a, c
        other = np.random.default_rng(self.seed + 2000)
        if variant == "x":
            return _one_hot(other, (1, 1), n_values), a, c
        if variant == "a":
            return x, _state(other, 1, n_a), c
        if variant == "c":
            return x, a, _state(other, 1, n_a)
        raise ValueError(f"unknown initializer variant {variant!r}")

    def reference(self, variant: str) -> np.ndarray:
        """The test model's outputs (Ty, 1, n_values) from the initializers of ``variant``."""
        return sampling_outputs(self.weights(), *self.initializers(variant))

    def reference_indices(self, variant: str) -> np.ndarray:
        """The argmax index of each step, (Ty,), of the test model from ``variant``."""
        return self.reference(variant)[:, 0, :].argmax(axis=-1)


def sampling_outputs(
    weights: SamplingWeights, x0: np.ndarray, a0: np.ndarray, c0: np.ndarray
) -> np.ndarray:
    """The sampling test model: (Ty, m, n_values) softmax outputs of its heads.

    x0 is (m, 1, n_values), a0 and c0 are (m, n_a); every head reads [x0, a0, c0].
    """
    features = np.concatenate(
        [
            np.asarray(x0, np.float64)[:, 0, :],
            np.asarray(a0, np.float64),
            np.asarray(c0, np.float64),
        ],
        axis=-1,
    )
    outputs = [
        softmax(features @ kernel + bias)
        for kernel, bias in zip(weights.kernels, weights.biases, strict=True)
    ]
    return np.stack(outputs, axis=0)


@dataclass(frozen=True)
class Cases:
    """Every case of the hidden tests, by the grade cells that use them.

    ``FIXED`` holds the cases of a notebook graded by plain nbgrader (deterministic);
    the batch grader draws its own per batch (``draw_cases``) from a seed no sandbox
    sees, so no submission can know the inputs its models are judged on.
    """

    dj_shapes: TrainingCase
    dj_sharing: TrainingCase
    dj_equivalence: tuple[TrainingCase, ...]
    inf_shapes: tuple[InferenceCase, ...]
    inf_sharing: InferenceCase
    inf_greedy: tuple[InferenceCase, ...]
    sampling: SamplingCase

    def separates_mistakes(self) -> bool:
        """Whether no mistake that mixes up two axes can pass, or fail, by luck.

        In every case steps, n_values, n_a and m all differ (Ty = 1 excepted: it tests
        one step on purpose), so an argmax over time or a state of the wrong width never
        has the right shape by chance; the sampling case has fewer steps than values, and
        an argmax over time changes with every initializer, as the right one does. Drawn
        cases always do; the fixed ones of plain nbgrader predate this rule and are kept
        as they are.
        """
        for case in (*self.dj_equivalence, *self.inf_shapes, *self.inf_greedy, self.sampling):
            sizes = [size for size in _sizes_of(case) if size != 1]
            if len(set(sizes)) != len(sizes):
                return False
        # As in the notebook (Ty = 50, n_values = 77), there are fewer steps than values,
        # and an argmax over the wrong (time) axis still uses every initializer: its
        # result must change with each, so that the mistake costs only what it breaks.
        if self.sampling.Ty >= self.sampling.sizes.n_values:
            return False
        over_time = {
            v: tuple(self.sampling.reference(v)[:, 0, :].argmax(axis=0))
            for v in ("base", *INITIALIZER_VARIANTS)
        }
        return all(over_time[v] != over_time["base"] for v in INITIALIZER_VARIANTS)

    def usable(self) -> bool:
        """Whether every case tells the classic mistakes apart.

        Argmax choices must be clear (a float32 model and a float64 reference pick the
        same value), the greedy sequence must move (feeding x0 at every step differs),
        and each initializer must change the sampled sequence.
        """
        for case in (*self.dj_equivalence, self.dj_shapes, self.dj_sharing):
            for kind in ("random", "constant"):
                if smallest_margin(case.reference(kind)) <= 1e-3:
                    return False
        for case in (*self.inf_greedy, *self.inf_shapes, self.inf_sharing):
            if smallest_margin(case.reference()) <= 1e-3:
                return False
        for case in self.inf_greedy:
            if len(set(case.reference().argmax(axis=-1)[:, 0])) < 2:
                return False
        variants = ("zeros", "base", *INITIALIZER_VARIANTS)
        if smallest_margin(np.stack([self.sampling.reference(v) for v in variants])) <= 1e-3:
            return False
        sequences = {tuple(self.sampling.reference_indices(v)) for v in variants}
        return len(sequences) == len(variants)


class _Draw:
    """Random case parameters from one generator (see ``draw_cases``)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high)."""
        return int(self.rng.integers(low, high))

    def sizes(self) -> Sizes:
        """Small sizes, never the notebook's n_a = 64."""
        return Sizes(n_values=self.integer(5, 12), n_a=self.integer(3, 7))

    def training(self, Tx: int) -> TrainingCase:
        """A ``djmodel`` case of length ``Tx``."""
        return TrainingCase(Tx, self.sizes(), self.integer(2, 5), self.integer(1, 2**62))

    def inference(self, Ty: int) -> InferenceCase:
        """A ``music_inference_model`` case of length ``Ty``."""
        return InferenceCase(Ty, self.sizes(), self.integer(2, 5), self.integer(1, 2**62))

    def cases(self) -> Cases:
        """One set of cases (not yet checked for ``usable``).

        Each function is called on two or three cases in all: the shapes and sharing
        checks read the model of the first equivalence (or greedy) case, so that the
        clean room builds and judges five models, not nine.
        """
        training = (self.training(self.integer(4, 7)), self.training(self.integer(3, 5)))
        greedy = (self.inference(self.integer(5, 8)), self.inference(self.integer(4, 6)))
        return Cases(
            dj_shapes=training[0],
            dj_sharing=training[0],
            dj_equivalence=training,
            inf_shapes=(greedy[0], self.inference(1)),
            inf_sharing=greedy[0],
            inf_greedy=greedy,
            sampling=SamplingCase(self.integer(5, 8), self.sizes(), self.integer(1, 2**62)),
        )


def _sizes_of(case: TrainingCase | InferenceCase | SamplingCase) -> list[int]:
    steps = case.Tx if isinstance(case, TrainingCase) else case.Ty
    batch = [case.m] if not isinstance(case, SamplingCase) else []
    return [steps, case.sizes.n_values, case.sizes.n_a, *batch]


def draw_cases(seed: int) -> Cases:
    """Cases with random sizes, lengths and weights drawn from ``seed`` that are ``usable``.

    Sizes stay small (n_values 5..11, n_a 3..6) so that judging is quick; lengths cover
    Ty = 1 and Tx > 1. The same seed always gives the same cases.

    Raises:
        GradingError: no usable cases in 1,000 draws (never seen; a bug if it happens).
    """
    draw = _Draw(np.random.default_rng(seed))
    for _ in range(1000):
        cases = draw.cases()
        if cases.separates_mistakes() and cases.usable():
            return cases
    raise GradingError(f"no usable hidden-test cases were drawn from seed {seed}")


# The fixed cases of the hidden tests: sizes and lengths other than the notebook's.
DJ_SHAPES = TrainingCase(Tx=4, sizes=Sizes(n_values=7, n_a=5), m=3, seed=101)
DJ_SHARING = TrainingCase(Tx=3, sizes=Sizes(n_values=6, n_a=4), m=2, seed=102)
DJ_EQUIVALENCE = (
    TrainingCase(Tx=5, sizes=Sizes(n_values=6, n_a=3), m=4, seed=103),
    TrainingCase(Tx=3, sizes=Sizes(n_values=9, n_a=5), m=3, seed=104),
)
INF_SHAPES = (
    InferenceCase(Ty=4, sizes=Sizes(n_values=6, n_a=4), m=3, seed=201),
    InferenceCase(Ty=1, sizes=Sizes(n_values=6, n_a=4), m=3, seed=202),
)
INF_SHARING = InferenceCase(Ty=3, sizes=Sizes(n_values=5, n_a=3), m=2, seed=203)
INF_GREEDY = (
    InferenceCase(Ty=6, sizes=Sizes(n_values=6, n_a=4), m=3, seed=240),
    InferenceCase(Ty=4, sizes=Sizes(n_values=9, n_a=3), m=2, seed=278),
)
SAMPLING = SamplingCase(Ty=6, sizes=Sizes(n_values=8, n_a=5), seed=410)
INITIALIZER_VARIANTS: tuple[str, ...] = ("x", "a", "c")

FIXED = Cases(DJ_SHAPES, DJ_SHARING, DJ_EQUIVALENCE, INF_SHAPES, INF_SHARING, INF_GREEDY, SAMPLING)
"""The cases of plain nbgrader's grading (the notebook's own hidden tests)."""
