"""Reference computations and the fixed test cases of the hidden tests (NumPy only).

The hidden tests never compare layer names: they give the learner's function fresh,
tiny layers carrying known weights, run the model it returns on known inputs, and
compare the outputs with what these references compute from the same weights:

- ``lstm_sequence`` runs an LSTM over a whole sequence at once (the computation of
  ``keras.layers.LSTM(return_sequences=True)``, Keras's gate order i, f, c, o) and
  ``dense_softmax`` applies the Dense layer: together, the fused reference of
  ``djmodel``;
- ``greedy_decode`` feeds the one-hot argmax of each step back as the next input,
  the reference of ``music_inference_model``.

Every case below is fixed (sizes other than the notebook's, seeds), so the grade of a
submission is deterministic, and nothing here imports TensorFlow: the judge that
compares evidence with references runs in the grading process itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sizes:
    """Layer sizes of one test case: ``n_values`` (vocabulary) and ``n_a`` (LSTM units)."""

    n_values: int
    n_a: int

    @property
    def parameter_count(self) -> int:
        """Parameters of one LSTM(n_a) on n_values inputs plus one Dense(n_values)."""
        lstm = 4 * self.n_a * (self.n_values + self.n_a + 1)
        dense = self.n_values * (self.n_a + 1)
        return lstm + dense


@dataclass(frozen=True)
class Weights:
    """The weights of one LSTM and one Dense layer, in Keras's ``get_weights()`` layout.

    Shapes: ``kernel`` (n_values, 4 n_a), ``recurrent_kernel`` (n_a, 4 n_a),
    ``bias`` (4 n_a,), ``dense_kernel`` (n_a, n_values), ``dense_bias`` (n_values,).
    All are float32 values (what Keras stores), held as float64 for the references.
    """

    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray
    dense_kernel: np.ndarray
    dense_bias: np.ndarray

    def lstm_list(self) -> list[np.ndarray]:
        """The LSTM's weights as float32 arrays, for ``LSTM.set_weights``."""
        return [w.astype(np.float32) for w in (self.kernel, self.recurrent_kernel, self.bias)]

    def dense_list(self) -> list[np.ndarray]:
        """The Dense layer's weights as float32 arrays, for ``Dense.set_weights``."""
        return [w.astype(np.float32) for w in (self.dense_kernel, self.dense_bias)]


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


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step(
    weights: Weights, x: np.ndarray, a: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step: x (m, n_values), a and c (m, n_a) -> the new (a, c)."""
    z = x @ weights.kernel + a @ weights.recurrent_kernel + weights.bias
    i, f, g, o = np.split(z, 4, axis=-1)
    c_new = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    a_new = _sigmoid(o) * np.tanh(c_new)
    return a_new, c_new


def dense_softmax(weights: Weights, a: np.ndarray) -> np.ndarray:
    """The Dense softmax layer: a (m, n_a) -> probabilities (m, n_values)."""
    z = a @ weights.dense_kernel + weights.dense_bias
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def lstm_sequence(weights: Weights, X: np.ndarray, a0: np.ndarray, c0: np.ndarray) -> np.ndarray:
    """The hidden states of an LSTM run over the whole sequence X (m, Tx, n_values).

    Returns:
        (m, Tx, n_a): what ``LSTM(n_a, return_sequences=True)`` returns from (a0, c0).
    """
    a, c = np.asarray(a0, np.float64), np.asarray(c0, np.float64)
    states = []
    for t in range(X.shape[1]):
        a, c = lstm_step(weights, np.asarray(X[:, t, :], np.float64), a, c)
        states.append(a)
    return np.stack(states, axis=1)


def unrolled_outputs(weights: Weights, X: np.ndarray, a0: np.ndarray, c0: np.ndarray) -> np.ndarray:
    """The fused reference of ``djmodel``: (Tx, m, n_values) softmax outputs, time-major."""
    probabilities = dense_softmax(weights, lstm_sequence(weights, X, a0, c0))
    return np.swapaxes(probabilities, 0, 1)


def greedy_decode(
    weights: Weights, x0: np.ndarray, a0: np.ndarray, c0: np.ndarray, Ty: int
) -> np.ndarray:
    """The reference of ``music_inference_model``: (Ty, m, n_values) softmax outputs.

    x0 is (m, 1, n_values); each step's one-hot argmax is the next step's input.
    """
    n_values = weights.dense_bias.shape[0]
    x = np.asarray(x0, np.float64)[:, 0, :]
    a, c = np.asarray(a0, np.float64), np.asarray(c0, np.float64)
    outputs = []
    for _ in range(Ty):
        a, c = lstm_step(weights, x, a, c)
        out = dense_softmax(weights, a)
        outputs.append(out)
        x = np.eye(n_values)[out.argmax(axis=-1)]
    return np.stack(outputs, axis=0)


def smallest_margin(probabilities: np.ndarray) -> float:
    """The smallest gap between the two largest probabilities over all steps and rows."""
    ordered = np.sort(np.asarray(probabilities), axis=-1)
    return float((ordered[..., -1] - ordered[..., -2]).min())


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
        return unrolled_outputs(self.weights(), *self.inputs(kind))


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
class SamplingCase:
    """A ``predict_and_sample`` case: the inference model's sizes, Ty and the seed.

    The inference model is the grader's own (correct) one, carrying ``weights()``;
    batches have one example, as in the notebook.
    """

    Ty: int
    sizes: Sizes
    seed: int

    def weights(self) -> Weights:
        """The weights of the grader's inference model."""
        return random_weights(self.sizes, self.seed)

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

    def reference_indices(self, variant: str) -> np.ndarray:
        """The argmax index of each step, (Ty,), of the greedy outputs from ``variant``."""
        outputs = greedy_decode(self.weights(), *self.initializers(variant), self.Ty)
        return outputs[:, 0, :].argmax(axis=-1)


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
