"""The shared NumPy LSTM reference and Keras harness (jazz_utils.lstm_reference, lstm_harness).

The public checks and the grader judge learners' models against these; here they are
checked against Keras itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from jazz_utils import lstm_harness, lstm_reference
from jazz_utils.lstm_reference import MISTAKES, RIGHT, Sizes, Weights

SIZES = Sizes(n_values=6, n_a=4)


def _weights(seed: int = 3) -> Weights:
    rng = np.random.default_rng(seed)

    def f32(shape: tuple[int, ...], scale: float) -> np.ndarray:
        return rng.normal(0.0, scale, shape).astype(np.float32)

    return Weights.of(
        [f32((6, 16), 1.0), f32((4, 16), 1.0), f32((16,), 0.5)],
        [f32((4, 6), 3.0), f32((6,), 0.5)],
    )


def _inputs(m: int = 3, steps: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = np.eye(6, dtype=np.float32)[rng.integers(0, 6, (m, steps))]
    a0, c0 = (rng.normal(0.0, 0.8, (m, 4)).astype(np.float32) for _ in range(2))
    return X, a0, c0


def test_parameter_count_is_one_lstm_and_one_dense() -> None:
    assert SIZES.parameter_count == 4 * 4 * (6 + 4 + 1) + 6 * (4 + 1)


def test_teacher_forcing_equals_keras_lstm_with_the_same_weights() -> None:
    keras = lstm_harness.load_keras()
    weights = _weights()
    X, a0, c0 = _inputs()
    lstm = keras.layers.LSTM(SIZES.n_a, return_sequences=True)
    lstm.build(X.shape)
    lstm.set_weights(weights.lstm_list())
    _, dense, _ = lstm_harness.fresh_layers(SIZES, weights)
    fused = lstm_harness.as_arrays(dense(lstm(X, initial_state=[a0, c0])))[0]
    expected = lstm_reference.teacher_forced(weights, X, a0, c0)
    np.testing.assert_allclose(np.swapaxes(fused, 0, 1), expected, atol=1e-5)


def test_fresh_layers_carry_the_weights_and_names_given() -> None:
    weights = _weights()
    names = {"lstm": "my_lstm", "dense": "my_dense", "reshaper": "my_reshaper"}
    lstm, dense, reshaper = lstm_harness.fresh_layers(SIZES, weights, names=names)
    assert (lstm.name, dense.name, reshaper.name) == ("my_lstm", "my_dense", "my_reshaper")
    again = lstm_harness.weights_of(lstm, dense)
    for field in ("kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias"):
        np.testing.assert_array_equal(getattr(again, field), getattr(weights, field))
    unbuilt, _, _ = lstm_harness.fresh_layers(SIZES)
    assert not unbuilt.built


def test_greedy_decoding_feeds_back_the_one_hot_argmax() -> None:
    weights = _weights()
    X, a0, c0 = _inputs(steps=1)
    outputs = lstm_reference.greedy_decode(weights, X, a0, c0, 4)
    assert outputs.shape == (4, 3, 6)
    a, c = lstm_reference.lstm_step(weights, X[:, 0].astype(np.float64), a0, c0)
    np.testing.assert_allclose(outputs[0], lstm_reference.dense_softmax(weights, a))
    a, c = lstm_reference.lstm_step(weights, np.eye(6)[outputs[0].argmax(-1)], a, c)
    np.testing.assert_allclose(outputs[1], lstm_reference.dense_softmax(weights, a))
    assert lstm_reference.smallest_margin(outputs) > 0.0


def test_every_mistake_changes_the_outputs_and_unknown_ways_are_refused() -> None:
    weights = _weights()
    X, a0, c0 = _inputs()
    right = lstm_reference.teacher_forced(weights, X, a0, c0, way=RIGHT)
    greedy = lstm_reference.greedy_decode(weights, X[:, :1], a0, c0, 5)
    for way in MISTAKES:
        wrong = lstm_reference.teacher_forced(weights, X, a0, c0, way=way)
        wrong_greedy = lstm_reference.greedy_decode(weights, X[:, :1], a0, c0, 5, way=way)
        changed = not np.allclose(wrong, right) or not np.allclose(wrong_greedy, greedy)
        assert changed, way
    with pytest.raises(ValueError, match="unknown way"):
        lstm_reference.unroll(weights, X[:, 0], a0, c0, 2, way="backwards")
