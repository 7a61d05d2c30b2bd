"""The answers the public checks are tried on (``tests/test_checks.py``).

The three right answers are the notebook's solutions (solutions/, the code between BEGIN
and END SOLUTION, with the template lines around it). Each mutant is one classic mistake;
its check must fail with a message that names it.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from keras.layers import LSTM, Dense, Input, RepeatVector
from keras.models import Model

# --------------------------------------------------------------------------------------
# The right answers (the notebook's solutions)
# --------------------------------------------------------------------------------------


def djmodel(Tx, LSTM_cell, densor, reshaper):
    n_values = densor.units
    n_a = LSTM_cell.units
    X = Input(shape=(Tx, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a = a0
    c = c0
    outputs = []
    for t in range(Tx):
        x = X[:, t, :]
        x = reshaper(x)
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        out = densor(a)
        outputs.append(out)
    return Model(inputs=[X, a0, c0], outputs=outputs)


def music_inference_model(LSTM_cell, densor, Ty=100):
    n_values = densor.units
    n_a = LSTM_cell.units
    x0 = Input(shape=(1, n_values))
    a0 = Input(shape=(n_a,), name="a0")
    c0 = Input(shape=(n_a,), name="c0")
    a = a0
    c = c0
    x = x0
    outputs = []
    for _ in range(Ty):
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        out = densor(a)
        outputs.append(out)
        x = ops.argmax(out, axis=-1)
        x = ops.one_hot(x, n_values)
        x = RepeatVector(1)(x)
    return Model(inputs=[x0, a0, c0], outputs=outputs)


def predict_and_sample(inference_model, x_initializer, a_initializer, c_initializer):
    n_values = x_initializer.shape[2]
    pred = inference_model.predict([x_initializer, a_initializer, c_initializer], verbose=0)
    indices = np.argmax(np.array(pred), axis=-1)
    results = keras.utils.to_categorical(indices[:, 0], num_classes=n_values)
    return results, indices


# --------------------------------------------------------------------------------------
# djmodel mutants
# --------------------------------------------------------------------------------------


def _dj_inputs(Tx, n_values, n_a):
    return Input(shape=(Tx, n_values)), Input(shape=(n_a,)), Input(shape=(n_a,))


def dj_stub(Tx, LSTM_cell, densor, reshaper):
    # YOUR CODE HERE
    raise NotImplementedError()


def dj_returns_nothing(Tx, LSTM_cell, densor, reshaper):
    djmodel(Tx, LSTM_cell, densor, reshaper)


def dj_inputs_keyword(Tx, LSTM_cell, densor, reshaper):
    """The Keras 2 idiom LSTM_cell(inputs=x, ...): a TypeError in Keras 3 (`sequences`)."""
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for t in range(Tx):
        _, a, c = LSTM_cell(inputs=reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_lstm_in_loop(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for t in range(Tx):
        cell = LSTM(LSTM_cell.units, return_state=True)
        _, a, c = cell(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_dense_in_loop(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for t in range(Tx):
        _, a, c = LSTM_cell(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(Dense(densor.units, activation="softmax")(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_new_lstm_once(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    cell = LSTM(LSTM_cell.units, return_state=True)
    a, c, outputs = a0, c0, []
    for t in range(Tx):
        _, a, c = cell(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_x0_every_step(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for _ in range(Tx):
        _, a, c = LSTM_cell(reshaper(X[:, 0, :]), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_state_reset(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    outputs = []
    for t in range(Tx):
        _, a, _c = LSTM_cell(reshaper(X[:, t, :]), initial_state=[a0, c0])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_no_initial_state(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    outputs = []
    for t in range(Tx):
        _, a, _c = LSTM_cell(reshaper(X[:, t, :]))
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_a_c_swapped(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for t in range(Tx):
        _, c, a = LSTM_cell(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_a_c_swapped_in_state(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for t in range(Tx):
        _, a, c = LSTM_cell(reshaper(X[:, t, :]), initial_state=[c, a])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_last_output_only(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c = a0, c0
    for t in range(Tx):
        _, a, c = LSTM_cell(reshaper(X[:, t, :]), initial_state=[a, c])
        out = densor(a)
    return Model(inputs=[X, a0, c0], outputs=out)


def dj_one_step_too_few(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for t in range(Tx - 1):
        _, a, c = LSTM_cell(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_hard_coded_n_values(Tx, LSTM_cell, densor, reshaper):
    n_values = 90
    X, a0, c0 = _dj_inputs(Tx, n_values, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for t in range(Tx):
        _, a, c = LSTM_cell(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_hard_coded_n_a(Tx, LSTM_cell, densor, reshaper):
    n_a = 64
    X, a0, c0 = _dj_inputs(Tx, densor.units, n_a)
    a, c, outputs = a0, c0, []
    for t in range(Tx):
        _, a, c = LSTM_cell(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_densor_on_c(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for t in range(Tx):
        _, a, c = LSTM_cell(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(densor(c))
    return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_model_inside_loop(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for t in range(Tx):
        _, a, c = LSTM_cell(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(densor(a))
        return Model(inputs=[X, a0, c0], outputs=outputs)


def dj_inputs_out_of_order(Tx, LSTM_cell, densor, reshaper):
    model = djmodel(Tx, LSTM_cell, densor, reshaper)
    X, a0, c0 = model.inputs
    return Model(inputs=[a0, c0, X], outputs=model.outputs)


def dj_hard_coded_tx(Tx, LSTM_cell, densor, reshaper):
    X, a0, c0 = _dj_inputs(Tx, densor.units, LSTM_cell.units)
    a, c, outputs = a0, c0, []
    for t in range(30):
        _, a, c = LSTM_cell(reshaper(X[:, t, :]), initial_state=[a, c])
        outputs.append(densor(a))
    return Model(inputs=[X, a0, c0], outputs=outputs)


# --------------------------------------------------------------------------------------
# music_inference_model mutants
# --------------------------------------------------------------------------------------


def _inference_inputs(n_values, n_a):
    return Input(shape=(1, n_values)), Input(shape=(n_a,)), Input(shape=(n_a,))


def _greedy(LSTM_cell, densor, Ty, *, feed=None, argmax=None, dense_for=None, n_values=None):
    """A greedy inference model with one part replaced (each mutant below replaces one)."""
    n_values = n_values or densor.units
    x0, a0, c0 = _inference_inputs(densor.units, LSTM_cell.units)
    a, c, x, outputs = a0, c0, x0, []
    for _ in range(Ty):
        _, a, c = LSTM_cell(x, initial_state=[a, c])
        out = (dense_for() if dense_for else densor)(a)
        outputs.append(out)
        if feed is not None:
            x = feed(x0, out)
            continue
        x = argmax(out) if argmax else ops.argmax(out, axis=-1)
        x = RepeatVector(1)(ops.one_hot(x, n_values))
    return Model(inputs=[x0, a0, c0], outputs=outputs)


def inf_stub(LSTM_cell, densor, Ty=100):
    # YOUR CODE HERE
    raise NotImplementedError()


def inf_tf_argmax(LSTM_cell, densor, Ty=100):
    return _greedy(LSTM_cell, densor, Ty, argmax=lambda out: tf.math.argmax(out, axis=-1))


def inf_argmax_axis_0(LSTM_cell, densor, Ty=100):
    return _greedy(LSTM_cell, densor, Ty, argmax=lambda out: ops.argmax(out, axis=0))


def inf_x0_every_step(LSTM_cell, densor, Ty=100):
    return _greedy(LSTM_cell, densor, Ty, feed=lambda x0, out: x0)


def inf_feeds_probabilities(LSTM_cell, densor, Ty=100):
    return _greedy(LSTM_cell, densor, Ty, feed=lambda x0, out: RepeatVector(1)(out))


def inf_new_dense(LSTM_cell, densor, Ty=100):
    def new_dense():
        return Dense(densor.units, activation="softmax")

    return _greedy(LSTM_cell, densor, Ty, dense_for=new_dense)


def inf_hard_coded_n_values(LSTM_cell, densor, Ty=100):
    return _greedy(LSTM_cell, densor, Ty, n_values=90)


def inf_state_reset(LSTM_cell, densor, Ty=100):
    n_values = densor.units
    x0, a0, c0 = _inference_inputs(n_values, LSTM_cell.units)
    x, outputs = x0, []
    for _ in range(Ty):
        _, a, _c = LSTM_cell(x, initial_state=[a0, c0])
        out = densor(a)
        outputs.append(out)
        x = RepeatVector(1)(ops.one_hot(ops.argmax(out, axis=-1), n_values))
    return Model(inputs=[x0, a0, c0], outputs=outputs)


def inf_last_output_only(LSTM_cell, densor, Ty=100):
    model = music_inference_model(LSTM_cell, densor, Ty)
    return Model(inputs=model.inputs, outputs=model.outputs[-1])


def inf_np_argmax(LSTM_cell, densor, Ty=100):
    return _greedy(LSTM_cell, densor, Ty, argmax=lambda out: np.argmax(out, axis=-1))


def inf_argmax_without_axis(LSTM_cell, densor, Ty=100):
    return _greedy(LSTM_cell, densor, Ty, argmax=lambda out: ops.argmax(out))


def inf_not_reshaped(LSTM_cell, densor, Ty=100):
    def one_hot_only(x0, out):
        return ops.one_hot(ops.argmax(out, axis=-1), densor.units)

    return _greedy(LSTM_cell, densor, Ty, feed=one_hot_only)


# --------------------------------------------------------------------------------------
# predict_and_sample mutants
# --------------------------------------------------------------------------------------


def pas_stub(inference_model, x_initializer, a_initializer, c_initializer):
    # YOUR CODE HERE
    raise NotImplementedError()


def pas_argmax_axis_0(inference_model, x_initializer, a_initializer, c_initializer):
    n_values = x_initializer.shape[2]
    pred = inference_model.predict([x_initializer, a_initializer, c_initializer], verbose=0)
    indices = np.argmax(np.array(pred), axis=0)
    results = keras.utils.to_categorical(indices[:, 0], num_classes=n_values)
    return results, indices


def pas_probabilities(inference_model, x_initializer, a_initializer, c_initializer):
    pred = inference_model.predict([x_initializer, a_initializer, c_initializer], verbose=0)
    indices = np.argmax(np.array(pred), axis=-1)
    return np.array(pred)[:, 0, :], indices


def pas_initializers_ignored(inference_model, x_initializer, a_initializer, c_initializer):
    zeros = [
        np.zeros_like(x_initializer),
        np.zeros_like(a_initializer),
        np.zeros_like(c_initializer),
    ]
    return predict_and_sample(inference_model, *zeros)


def pas_flat_indices(inference_model, x_initializer, a_initializer, c_initializer):
    results, indices = predict_and_sample(
        inference_model, x_initializer, a_initializer, c_initializer
    )
    return results, indices[:, 0]


def pas_x_initializer_ignored(inference_model, x_initializer, a_initializer, c_initializer):
    return predict_and_sample(
        inference_model, np.zeros_like(x_initializer), a_initializer, c_initializer
    )


def pas_integer_results(inference_model, x_initializer, a_initializer, c_initializer):
    results, indices = predict_and_sample(
        inference_model, x_initializer, a_initializer, c_initializer
    )
    return results.astype(int), indices
