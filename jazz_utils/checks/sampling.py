"""predict_and_sample: the model it is given, and what its results and indices must be.

The check hands the learner's function a *sampling test model* of its own
(``sampling_model``): inputs ``[x0, a0, c0]`` like the inference model's and Ty softmax
outputs, each from a Dense head of its own that reads all three inputs. It is not an
inference model (no LSTM, nothing fed back), so this installed module holds no answer to
``music_inference_model``; ``predict_and_sample`` only predicts and takes argmaxes, which
it does the same way on any model of that shape. ``sample_case`` draws heads and
initializers whose choices change when any initializer is replaced by zeros, so that
ignoring one shows; ``check_indices`` and ``check_results`` then name what is wrong with
what the function returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from jazz_utils.checks.cases import ATOL, MIN_MARGIN, CheckSizes
from jazz_utils.errors import CheckFailure
from jazz_utils.lstm_harness import load_keras
from jazz_utils.lstm_reference import smallest_margin, softmax


@dataclass(frozen=True)
class Heads:
    """The sampling test model's weights: one softmax Dense head per step.

    ``kernels``: (Ty, n_values + 2 n_a, n_values); ``biases``: (Ty, n_values); float32.
    Head t reads the features ``[x0[:, 0, :], a0, c0]``, (m, n_values + 2 n_a).
    """

    kernels: np.ndarray
    biases: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, sizes: CheckSizes) -> Heads:
        """Heads with weights drawn from N(0, 1), as float32."""
        features = sizes.n_values + 2 * sizes.n_a
        shape = (sizes.steps, features, sizes.n_values)
        kernels = rng.normal(0.0, 1.0, shape).astype("float32")
        biases = rng.normal(0.0, 1.0, (sizes.steps, sizes.n_values)).astype("float32")
        return cls(kernels, biases)

    def outputs(self, x: np.ndarray, a: np.ndarray, c: np.ndarray) -> np.ndarray:
        """What the model computes, in float64: (Ty, m, n_values) probabilities.

        x: (m, 1, n_values); a and c: (m, n_a).
        """
        features = np.concatenate(
            [np.asarray(v, np.float64) for v in (x[:, 0, :], a, c)], axis=-1
        )  # (m, n_values + 2 n_a)
        return np.stack(
            [
                softmax(features @ kernel.astype(np.float64) + bias.astype(np.float64))
                for kernel, bias in zip(self.kernels, self.biases, strict=True)
            ]
        )


def sampling_model(heads: Heads, sizes: CheckSizes) -> Any:
    """The check's test model: inputs [x0, a0, c0], Ty outputs (m, n_values), ``heads``."""
    keras = load_keras()
    x0 = keras.Input(shape=(1, sizes.n_values))
    a0 = keras.Input(shape=(sizes.n_a,))
    c0 = keras.Input(shape=(sizes.n_a,))
    features = keras.layers.Concatenate()([keras.layers.Reshape((sizes.n_values,))(x0), a0, c0])
    outputs = []
    for kernel, bias in zip(heads.kernels, heads.biases, strict=True):
        head = keras.layers.Dense(sizes.n_values, activation="softmax")
        outputs.append(head(features))
        head.set_weights([kernel, bias])
    return keras.Model(inputs=[x0, a0, c0], outputs=outputs)


@dataclass(frozen=True)
class SampleCase:
    """Initializers and the sampling test model's probabilities for them.

    ``probabilities``: (Ty, 1, n_values) for the given initializers; ``ignored``:
    the probabilities when some initializers are replaced by zeros, by description.
    """

    x: np.ndarray
    a: np.ndarray
    c: np.ndarray
    probabilities: np.ndarray
    ignored: dict[str, np.ndarray]


def sample_case(heads: Heads, sizes: CheckSizes, rng: np.random.Generator) -> SampleCase | None:
    """Non-zero initializers whose choices tell every mix-up apart; None if there are none."""
    n_values = sizes.n_values
    x = np.eye(n_values, dtype="float32")[[int(rng.integers(0, n_values))]][:, None, :]
    a = rng.normal(0.0, 1.0, (1, sizes.n_a)).astype("float32")
    c = rng.normal(0.0, 1.0, (1, sizes.n_a)).astype("float32")

    zx, za, zc = np.zeros_like(x), np.zeros_like(a), np.zeros_like(c)
    probabilities = heads.outputs(x, a, c)
    ignored = {
        "x_initializer, a_initializer and c_initializer are": heads.outputs(zx, za, zc),
        "a_initializer and c_initializer are": heads.outputs(x, za, zc),
        "x_initializer is": heads.outputs(zx, a, c),
    }
    indices = probabilities.argmax(-1)
    everything = [probabilities, *ignored.values()]
    if min(smallest_margin(p) for p in everything) < MIN_MARGIN:
        return None
    if len(set(indices[:, 0])) < 3:  # a varied sequence, so that mix-ups show
        return None
    if any(np.array_equal(p.argmax(-1), indices) for p in ignored.values()):
        return None
    return SampleCase(x, a, c, probabilities, ignored)


def to_numpy(value: Any) -> np.ndarray:
    """What predict_and_sample returned as a NumPy array (NaN for None)."""
    if isinstance(value, np.ndarray):
        return value
    if value is None:
        return np.asarray(np.nan)
    try:
        return np.asarray(load_keras().ops.convert_to_numpy(value))
    except Exception:
        return np.asarray(value)


def check_indices(check: str, indices: np.ndarray, case: SampleCase, sizes: CheckSizes) -> None:
    """indices: int (Ty, 1), the argmax over n_values of the predictions for the initializers."""
    Ty, n_values = sizes.steps, sizes.n_values
    P = case.probabilities  # (Ty, 1, n_values)
    expected = P.argmax(axis=-1)  # (Ty, 1)
    context = f"(with Ty={Ty}, n_values={n_values})"
    for axis in range(P.ndim - 1):
        wrong = P.argmax(axis=axis)
        if indices.shape == wrong.shape and np.array_equal(indices, wrong):
            raise CheckFailure(
                f"{check}: argmax on the wrong axis (axis={axis}): indices has shape "
                f"{indices.shape} {context}. Take it over the last axis (n_values): "
                "np.argmax(np.array(pred), axis=-1), shape (Ty, 1)."
            )
    if indices.shape != (Ty, 1):
        if indices.shape == (Ty,) and np.array_equal(indices, expected[:, 0]):
            raise CheckFailure(
                f"{check}: indices has shape {indices.shape}; it must be (Ty, 1) {context}: "
                "np.argmax(np.array(pred), axis=-1) keeps the batch axis."
            )
        raise CheckFailure(
            f"{check}: indices has shape {indices.shape}; it must be (Ty, 1) = ({Ty}, 1) "
            f"{context}: the argmax over the last axis of np.array(pred), which is "
            "(Ty, 1, n_values)."
        )
    if not np.issubdtype(indices.dtype, np.integer):
        raise CheckFailure(
            f"{check}: indices has dtype {indices.dtype}; it must hold integers "
            "(np.argmax returns them)."
        )
    if np.array_equal(indices, expected):
        return
    for which, probabilities in case.ignored.items():
        if np.array_equal(indices, probabilities.argmax(axis=-1)):
            raise CheckFailure(
                f"{check}: the initializers you were given are ignored: the indices are the "
                f"model's choices when {which} zero. Pass x_initializer, "
                "a_initializer and c_initializer themselves to inference_model.predict."
            )
    raise CheckFailure(
        f"{check}: indices {indices[:, 0].tolist()} are not the argmax of the model's "
        f"predictions {expected[:, 0].tolist()} for the initializers given: run "
        "inference_model.predict([x_initializer, a_initializer, c_initializer]) and take "
        "np.argmax over the last axis."
    )


def check_results(
    check: str, results: np.ndarray, indices: np.ndarray, case: SampleCase, sizes: CheckSizes
) -> None:
    """results: float one-hot (Ty, n_values) of indices[:, 0]."""
    Ty, n_values = sizes.steps, sizes.n_values
    P = case.probabilities[:, 0, :]  # (Ty, n_values)
    if results.size == P.size and np.allclose(results.reshape(P.shape), P, atol=ATOL):
        raise CheckFailure(
            f"{check}: results holds the predicted probabilities, not one-hot: return "
            "keras.utils.to_categorical(indices[:, 0], num_classes=n_values), a 1 at the "
            "chosen value of each step and 0 elsewhere, shape (Ty, n_values)."
        )
    if results.shape != (Ty, n_values):
        squeezable = results.size == Ty * n_values
        raise CheckFailure(
            f"{check}: results has shape {results.shape}; it must be (Ty, n_values) = "
            f"({Ty}, {n_values})"
            + (": drop the batch axis of size 1." if squeezable else ".")
            + " keras.utils.to_categorical(indices[:, 0], num_classes=n_values) gives it."
        )
    if not np.issubdtype(results.dtype, np.floating):
        raise CheckFailure(
            f"{check}: results has dtype {results.dtype}; it must be a float one-hot "
            "(keras.utils.to_categorical returns float32)."
        )
    if not np.isin(results, (0.0, 1.0)).all() or not np.all(results.sum(axis=-1) == 1):
        raise CheckFailure(
            f"{check}: results is not one-hot: every row must hold a single 1 and zeros "
            "elsewhere (keras.utils.to_categorical(indices[:, 0], num_classes=n_values))."
        )
    if not np.array_equal(results.argmax(axis=-1), indices[:, 0]):
        raise CheckFailure(
            f"{check}: results and indices disagree: the 1 of results[t] must be at "
            "indices[t, 0], results = keras.utils.to_categorical(indices[:, 0], n_values)."
        )
