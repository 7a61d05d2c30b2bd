"""The NumPy reference of the notebook's models: an LSTM and a softmax Dense, unrolled.

The public checks (``jazz_utils.checks``) and the grader's hidden tests judge a learner's
model by what it computes: they give its layers known weights, run it, and compare every
output with what this module computes from the same weights, in float64.

Keras 3's LSTM, with the gates' kernel columns in the order ``[i, f, c, o]``::

    z = x @ kernel + a @ recurrent_kernel + bias
    c_t = sigmoid(z_f) * c + sigmoid(z_i) * tanh(z_c)
    a_t = sigmoid(z_o) * tanh(c_t)

and the densor, ``softmax(a_t @ dense_kernel + dense_bias)``.

- ``teacher_forced`` is the reference of ``djmodel``: step t reads ``X[:, t, :]``;
- ``greedy_decode`` is the reference of ``music_inference_model``: each step's input is
  the one-hot argmax of the previous step's output.

Both can also unroll the loop with one classic mistake (``MISTAKES``: the first input fed
at every step, the state not passed on, ``a`` and ``c`` swapped, ...), so that a check
can recognise a wrong model by its outputs. NumPy only: nothing here imports Keras.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RIGHT = "right"
"""The way of unrolling the loop that the exercises ask for."""

MISTAKES: tuple[str, ...] = (
    "x0_every_step",
    "feed_probabilities",
    "state_reset",
    "state_zeros",
    "swap_returned",
    "swap_passed",
    "dense_on_c",
)
"""Classic mistakes ``unroll`` can make on purpose:

- ``x0_every_step``: the first input at every step (``X[:, 0]``, or ``x0`` never replaced);
- ``feed_probabilities``: greedy decoding feeds back the probabilities, not their one-hot;
- ``state_reset``: every step starts again from ``(a0, c0)``;
- ``state_zeros``: every step starts from zeros (no ``initial_state``);
- ``swap_returned``: the new state is read back as ``(c, a)``;
- ``swap_passed``: the state is passed on as ``initial_state=[c, a]``;
- ``dense_on_c``: the densor reads the cell state ``c`` instead of ``a``.
"""


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, elementwise."""
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (shifted by the maximum, so it never overflows)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Sizes:
    """Layer sizes: ``n_values`` (vocabulary, densor units) and ``n_a`` (LSTM units)."""

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
    Keras stores float32 values; they are held here as float64 for the references.
    """

    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray
    dense_kernel: np.ndarray
    dense_bias: np.ndarray

    @classmethod
    def of(cls, lstm: Sequence[Any], dense: Sequence[Any]) -> Weights:
        """Weights from the layers' lists of weights, held as float64.

        Args:
            lstm: the LSTM's [kernel, recurrent kernel, bias]: arrays, nested lists or
                what ``layer.get_weights()`` returns.
            dense: the Dense layer's [kernel, bias], likewise.
        """
        kernel, recurrent_kernel, bias = (np.asarray(w, dtype=np.float64) for w in lstm)
        dense_kernel, dense_bias = (np.asarray(w, dtype=np.float64) for w in dense)
        return cls(kernel, recurrent_kernel, bias, dense_kernel, dense_bias)

    @property
    def n_values(self) -> int:
        """The vocabulary size (the densor's units)."""
        return int(self.dense_bias.shape[0])

    def lstm_list(self) -> list[np.ndarray]:
        """The LSTM's weights as float32 arrays, for ``LSTM.set_weights``."""
        return [w.astype(np.float32) for w in (self.kernel, self.recurrent_kernel, self.bias)]

    def dense_list(self) -> list[np.ndarray]:
        """The Dense layer's weights as float32 arrays, for ``Dense.set_weights``."""
        return [w.astype(np.float32) for w in (self.dense_kernel, self.dense_bias)]


def lstm_step(
    weights: Weights, x: np.ndarray, a: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step: x (m, n_values), a and c (m, n_a) -> the new (a, c), each (m, n_a)."""
    z = x @ weights.kernel + a @ weights.recurrent_kernel + weights.bias
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    c_new = sigmoid(z_f) * c + sigmoid(z_i) * np.tanh(z_c)
    a_new = sigmoid(z_o) * np.tanh(c_new)
    return a_new, c_new


def dense_softmax(weights: Weights, a: np.ndarray) -> np.ndarray:
    """The densor: a (m, n_a) -> probabilities (m, n_values)."""
    return softmax(a @ weights.dense_kernel + weights.dense_bias)


def unroll(
    weights: Weights,
    x_first: np.ndarray,
    a0: np.ndarray,
    c0: np.ndarray,
    steps: int,
    *,
    teacher: np.ndarray | None = None,
    way: str = RIGHT,
) -> np.ndarray:
    """Outputs of one unrolled LSTM + densor, the right way or with one mistake.

    Args:
        weights: the LSTM's and densor's weights.
        x_first: (m, n_values), the first step's input.
        a0: (m, n_a), the initial hidden state.
        c0: (m, n_a), the initial cell state.
        steps: Tx or Ty.
        teacher: (m, Tx, n_values) for teacher forcing (djmodel), or None for greedy
            decoding (the inference model feeds back the one-hot of its argmax).
        way: ``RIGHT`` or one of ``MISTAKES``.

    Returns:
        (steps, m, n_values) probabilities.

    Raises:
        ValueError: ``way`` is neither ``RIGHT`` nor one of ``MISTAKES``.
    """
    if way != RIGHT and way not in MISTAKES:
        raise ValueError(f"unknown way of unrolling {way!r}")
    a0, c0 = np.asarray(a0, np.float64), np.asarray(c0, np.float64)
    x_first = np.asarray(x_first, np.float64)
    a, c, x = a0, c0, x_first
    outputs = []
    for t in range(steps):
        if teacher is not None:
            x = np.asarray(teacher[:, 0 if way == "x0_every_step" else t], np.float64)
        elif way == "x0_every_step":
            x = x_first
        a_in, c_in = a, c
        if way == "state_reset":
            a_in, c_in = a0, c0
        elif way == "state_zeros":
            a_in, c_in = np.zeros_like(a0), np.zeros_like(c0)
        elif way == "swap_passed":
            a_in, c_in = c_in, a_in
        a_new, c_new = lstm_step(weights, x, a_in, c_in)
        a, c = (c_new, a_new) if way == "swap_returned" else (a_new, c_new)
        out = dense_softmax(weights, c if way == "dense_on_c" else a)
        outputs.append(out)
        if teacher is None and way != "x0_every_step":
            x = out if way == "feed_probabilities" else np.eye(weights.n_values)[out.argmax(-1)]
    return np.stack(outputs)


def teacher_forced(
    weights: Weights, X: np.ndarray, a0: np.ndarray, c0: np.ndarray, *, way: str = RIGHT
) -> np.ndarray:
    """The reference of ``djmodel``: (Tx, m, n_values) outputs for X (m, Tx, n_values).

    a0 and c0 are (m, n_a); step t reads ``X[:, t, :]``.
    """
    return unroll(weights, X[:, 0], a0, c0, X.shape[1], teacher=X, way=way)


def greedy_decode(
    weights: Weights,
    x0: np.ndarray,
    a0: np.ndarray,
    c0: np.ndarray,
    Ty: int,
    *,
    way: str = RIGHT,
) -> np.ndarray:
    """The reference of ``music_inference_model``: (Ty, m, n_values) outputs.

    x0 is (m, 1, n_values), a0 and c0 are (m, n_a); each step's one-hot argmax is the
    next step's input.
    """
    return unroll(weights, np.asarray(x0)[:, 0, :], a0, c0, Ty, way=way)


def smallest_margin(probabilities: np.ndarray) -> float:
    """The smallest gap between the two largest values along the last axis, over all rows.

    A margin far above float32 round-off means a float32 model and the float64 reference
    pick the same argmax.
    """
    ordered = np.sort(np.asarray(probabilities), axis=-1)
    return float((ordered[..., -1] - ordered[..., -2]).min())
