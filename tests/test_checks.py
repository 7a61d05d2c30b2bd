"""The public checks (jazz_utils.checks): right answers pass, classic mistakes are named.

The three right answers and the mutants, each one classic mistake, are in
``tests/check_answers.py``: a right answer passes its check, a mutant's check fails with
a message that names its mistake.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from check_answers import (
    dj_a_c_swapped,
    dj_a_c_swapped_in_state,
    dj_dense_in_loop,
    dj_densor_on_c,
    dj_hard_coded_n_a,
    dj_hard_coded_n_values,
    dj_hard_coded_tx,
    dj_inputs_keyword,
    dj_inputs_out_of_order,
    dj_last_output_only,
    dj_lstm_in_loop,
    dj_model_inside_loop,
    dj_new_lstm_once,
    dj_no_initial_state,
    dj_one_step_too_few,
    dj_returns_nothing,
    dj_state_reset,
    dj_stub,
    dj_x0_every_step,
    djmodel,
    inf_argmax_axis_0,
    inf_argmax_without_axis,
    inf_feeds_probabilities,
    inf_hard_coded_n_values,
    inf_last_output_only,
    inf_new_dense,
    inf_not_reshaped,
    inf_np_argmax,
    inf_state_reset,
    inf_stub,
    inf_tf_argmax,
    inf_x0_every_step,
    music_inference_model,
    pas_argmax_axis_0,
    pas_flat_indices,
    pas_initializers_ignored,
    pas_integer_results,
    pas_probabilities,
    pas_stub,
    pas_x_initializer_ignored,
    predict_and_sample,
)
from keras.layers import LSTM, Dense, Reshape

from jazz_utils import checks
from jazz_utils.errors import JazzUtilsError

# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------


def test_importing_checks_loads_no_tensorflow() -> None:
    code = (
        "import sys, jazz_utils.checks\n"
        "print([m for m in ('tensorflow', 'keras') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_check_failure_is_an_assertion_and_a_library_error() -> None:
    assert issubclass(checks.CheckFailure, AssertionError)
    assert issubclass(checks.CheckFailure, JazzUtilsError)


@pytest.mark.parametrize(
    ("check", "solution", "name"),
    [
        (checks.djmodel_test, djmodel, "djmodel_test"),
        (checks.music_inference_model_test, music_inference_model, "music_inference_model_test"),
        (checks.predict_and_sample_test, predict_and_sample, "predict_and_sample_test"),
    ],
)
def test_the_solutions_pass(check, solution, name, capsys: pytest.CaptureFixture[str]) -> None:
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    assert check(solution) is None
    captured = capsys.readouterr()
    assert captured.out == f"{name}: all checks passed\n"
    assert captured.err == ""
    # the check switches TensorFloat-32 off while it runs, and back as it was
    assert tf.config.experimental.tensor_float_32_execution_enabled() == tf32


def test_built_models_are_accepted_and_left_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    lstm, dense = LSTM(8, return_state=True), Dense(12, activation="softmax")
    training = djmodel(5, lstm, dense, Reshape((1, 12)))
    inference = music_inference_model(lstm, dense, Ty=6)
    before = [w.copy() for w in lstm.get_weights() + dense.get_weights()]
    checks.djmodel_test(training)
    checks.music_inference_model_test(inference)
    after = lstm.get_weights() + dense.get_weights()
    assert all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))
    assert capsys.readouterr().out.count("all checks passed") == 2


@pytest.mark.parametrize(
    ("check", "stub"),
    [
        (checks.djmodel_test, dj_stub),
        (checks.music_inference_model_test, inf_stub),
        (checks.predict_and_sample_test, pas_stub),
    ],
)
def test_an_unimplemented_stub_raises_its_own_error(check, stub) -> None:
    with pytest.raises(NotImplementedError) as info:
        check(stub)
    assert not isinstance(info.value, checks.CheckFailure)


DJMODEL_MISTAKES = [
    (dj_lstm_in_loop, "layers created inside the loop"),
    (dj_dense_in_loop, "layers created inside the loop"),
    (dj_new_lstm_once, "a new LSTM layer was created inside djmodel"),
    (dj_x0_every_step, "X[:, 0] is fed at every step"),
    (dj_state_reset, "a, c reset to a0, c0 each step"),
    (dj_no_initial_state, "without initial_state"),
    (dj_a_c_swapped, "a and c are swapped"),
    (dj_a_c_swapped_in_state, "a and c are swapped in initial_state"),
    (dj_last_output_only, "only the last output returned"),
    (dj_one_step_too_few, "the model has 3 outputs; it needs Tx=4"),
    (dj_hard_coded_n_values, "hard-coded vocabulary size"),
    (dj_hard_coded_n_a, "hard-coded n_a"),
    (dj_inputs_keyword, "`sequences`, not `inputs`"),
    (dj_returns_nothing, "returned None"),
    (dj_densor_on_c, "densor is applied to the cell state c"),
    (dj_model_inside_loop, "stops after the first step"),
    (dj_inputs_out_of_order, "inputs are in the wrong order"),
    (dj_hard_coded_tx, "loop over range(Tx)"),
]
INFERENCE_MISTAKES = [
    (inf_tf_argmax, "Keras 3 forbids tf.*"),
    (inf_x0_every_step, "x0 is fed at every step instead of the previous prediction"),
    (inf_argmax_axis_0, "argmax on the wrong axis"),
    (inf_new_dense, "a new Dense layer was created inside music_inference_model"),
    (inf_state_reset, "the state is not passed on"),
    (inf_feeds_probabilities, "probabilities are fed back instead of its one-hot"),
    (inf_hard_coded_n_values, "hard-coded vocabulary size"),
    (inf_last_output_only, "only the last output returned"),
    (inf_np_argmax, "a NumPy function (np.*)"),
    (inf_argmax_without_axis, "take ops.argmax(out, axis=-1)"),
    (inf_not_reshaped, "LSTM_cell needs an input of shape (m, 1, n_values)"),
]
SAMPLE_MISTAKES = [
    (pas_argmax_axis_0, "argmax on the wrong axis"),
    (pas_probabilities, "results holds the predicted probabilities, not one-hot"),
    (pas_initializers_ignored, "the initializers you were given are ignored"),
    (pas_flat_indices, "it must be (Ty, 1)"),
    (pas_x_initializer_ignored, "ignored: the indices are the model's choices when x_initializer"),
    (pas_integer_results, "float one-hot"),
]


def _by_name(mistakes):
    return [pytest.param(fn, phrase, id=fn.__name__) for fn, phrase in mistakes]


def _fails_with(check, mutant, phrase: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(checks.CheckFailure) as info:
        check(mutant)
    message = str(info.value)
    assert phrase in message, message
    captured = capsys.readouterr()
    assert "all checks passed" not in captured.out
    assert captured.err == ""
    return message


@pytest.mark.parametrize(("mutant", "phrase"), _by_name(DJMODEL_MISTAKES))
def test_djmodel_mistakes_are_named(mutant, phrase, capsys) -> None:
    message = _fails_with(checks.djmodel_test, mutant, phrase, capsys)
    assert message.startswith("djmodel_test: ")


@pytest.mark.parametrize(("mutant", "phrase"), _by_name(INFERENCE_MISTAKES))
def test_inference_mistakes_are_named(mutant, phrase, capsys) -> None:
    message = _fails_with(checks.music_inference_model_test, mutant, phrase, capsys)
    assert message.startswith("music_inference_model_test: ")


@pytest.mark.parametrize(("mutant", "phrase"), _by_name(SAMPLE_MISTAKES))
def test_predict_and_sample_mistakes_are_named(mutant, phrase, capsys) -> None:
    message = _fails_with(checks.predict_and_sample_test, mutant, phrase, capsys)
    assert message.startswith("predict_and_sample_test: ")


def test_a_hard_coded_size_is_pointed_at_in_the_source() -> None:
    with pytest.raises(checks.CheckFailure, match="contains the number"):
        checks.djmodel_test(dj_hard_coded_n_values)
