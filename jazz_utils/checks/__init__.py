"""Public checks that learners run right after each exercise of the notebook.

::

    from jazz_utils import checks
    checks.djmodel_test(djmodel)
    checks.music_inference_model_test(music_inference_model)
    checks.predict_and_sample_test(predict_and_sample)

Each check tests what the learner's function *computes*, never how its layers
are named. It builds the learner's model from its own small, fresh layers with
unusual sizes (so that a hard-coded ``n_values = 90`` or ``n_a = 64`` shows),
gives those layers random weights, calls the model eagerly on small random
inputs and compares every output with a NumPy reference computed from the same
weights (``jazz_utils.lstm_reference``). When the outputs differ, it compares them
with the outputs of classic mistakes (``X[:, 0]`` fed at every step, the state not
passed on, ``a`` and ``c`` swapped, ...) and names the one it recognises.

A check prints one line to stdout when everything is right and raises
:class:`CheckFailure` (an ``AssertionError``) otherwise. A ``NotImplementedError``
raised by an unimplemented stub goes through unchanged.

The three checks are here; beside them:

- ``cases``: the checks' sizes, random weights, inputs and expected outputs;
- ``mistakes``: the classic mistakes and the message that names each;
- ``messages``: what a check says when the learner's code raises;
- ``structure``: the model's type, inputs and layers;
- ``outputs``: the outputs against the reference and the mistakes;
- ``sampling``: predict_and_sample's model, results and indices.

Nothing heavy is imported until a check runs: Keras is imported inside the
functions.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from jazz_utils.checks.cases import (
    INFERENCE_SIZES,
    SAMPLE_SIZES,
    SEEDS,
    TRAIN_SIZES,
    CheckSizes,
    inference_case,
    set_random_weights,
    training_case,
)
from jazz_utils.checks.messages import call_learner, run_model
from jazz_utils.checks.mistakes import INFERENCE_MISTAKES, TRAIN_MISTAKES
from jazz_utils.checks.outputs import compare_outputs
from jazz_utils.checks.sampling import (
    Heads,
    check_indices,
    check_results,
    sample_case,
    sampling_model,
    to_numpy,
)
from jazz_utils.checks.structure import (
    check_inputs,
    check_is_model,
    check_layers,
    check_wrong_axis,
    model_layers,
)
from jazz_utils.errors import CheckFailure
from jazz_utils.lstm_harness import as_arrays, fresh_layers, load_keras, weights_of

__all__ = [
    "CheckFailure",
    "djmodel_test",
    "music_inference_model_test",
    "predict_and_sample_test",
]


@contextlib.contextmanager
def _quiet_and_exact() -> Iterator[None]:
    """While a check runs: no Python warnings, no TensorFlow log lines, no TF32 matmuls.

    Warnings and TensorFlow's Python logger (its retracing notices) would go to
    stderr. TensorFloat-32, on by default on recent NVIDIA GPUs, rounds matmul
    inputs to 10 bits of mantissa, far coarser than the checks' tolerance; it is
    switched off for the check and restored afterwards.
    """
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf32 = None
    if load_keras().backend.backend() == "tensorflow":
        import tensorflow as tf

        tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tf_logger.setLevel(logging.ERROR)
            yield
    finally:
        tf_logger.setLevel(level)
        if tf32 is not None:
            import tensorflow as tf

            tf.config.experimental.enable_tensor_float_32_execution(tf32)


def _check(fn: Callable[..., None]) -> Callable[..., None]:
    """Run a public check inside :func:`_quiet_and_exact`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        with _quiet_and_exact():
            return fn(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------------------
# djmodel
# --------------------------------------------------------------------------------------


def _check_training_model(
    check: str, model: Any, lstm: Any, dense: Any, sizes: CheckSizes, fn: Any, randomize: bool
) -> None:
    """Check a djmodel model: inputs, layers, then outputs against the reference."""
    check_inputs(check, model, sizes, "X", (sizes.steps, sizes.n_values), fn)
    check_layers(check, model, lstm, dense, "djmodel")
    rng = np.random.default_rng(sizes.steps * 1000 + sizes.n_values)
    if randomize:
        set_random_weights(rng, lstm, dense)
    inputs, reference, mistakes = training_case(weights_of(lstm, dense), sizes, rng)
    outputs = as_arrays(run_model(check, model, inputs, fn, "djmodel", sizes))
    compare_outputs(check, outputs, reference, mistakes, TRAIN_MISTAKES, sizes, "Tx")


@_check
def djmodel_test(djmodel: Callable[..., Any] | Any) -> None:
    """Check the learner's ``djmodel(Tx, LSTM_cell, densor, reshaper)``.

    Builds the model twice with fresh layers of small, unusual sizes and checks:
    a keras Model with inputs X (None, Tx, n_values), a0 (None, n_a), c0 (None, n_a);
    one LSTM and one Dense layer, the very objects passed in; no other weights;
    Tx outputs, each (m, n_values), equal to a NumPy teacher-forced reference
    LSTM with the same (random) weights.

    Args:
        djmodel: the learner's function, or a model it built (then its own layers
            and weights are used and left unchanged).

    Raises:
        CheckFailure: with a message that names the mistake and the fix.
        NotImplementedError: unchanged, from an unimplemented stub.
    """
    check = "djmodel_test"
    keras = load_keras()
    if isinstance(djmodel, keras.Model):
        model = djmodel
        lstm, dense, layers = model_layers(check, model)
        steps = model.inputs[0].shape[1] if model.inputs and len(model.inputs[0].shape) == 3 else 0
        sizes = CheckSizes(m=3, steps=steps or 1, layers=layers)
        _check_training_model(check, model, lstm, dense, sizes, None, randomize=False)
    else:
        for sizes in TRAIN_SIZES:
            lstm, dense, reshaper = fresh_layers(sizes.layers)
            model = call_learner(
                check, djmodel, (sizes.steps, lstm, dense, reshaper), "djmodel", sizes
            )
            check_is_model(check, model, "djmodel")
            _check_training_model(check, model, lstm, dense, sizes, djmodel, randomize=True)
    print(f"{check}: all checks passed")


# --------------------------------------------------------------------------------------
# music_inference_model
# --------------------------------------------------------------------------------------


def _check_inference_model(
    check: str, model: Any, lstm: Any, dense: Any, sizes: CheckSizes, fn: Any, randomize: bool
) -> None:
    """Check an inference model: inputs, layers, argmax axis, then greedy outputs."""
    check_inputs(check, model, sizes, "x0", (1, sizes.n_values), fn)
    check_layers(check, model, lstm, dense, "music_inference_model")
    check_wrong_axis(check, model, sizes)
    weights = weights_of(lstm, dense)
    case = None
    for seed in SEEDS if randomize else (0,):
        rng = np.random.default_rng(seed)
        if randomize:
            set_random_weights(rng, lstm, dense)
            weights = weights_of(lstm, dense)
        case = inference_case(weights, sizes, rng, need_margin=randomize)
        if case is not None:
            break
    if case is None:  # pragma: no cover - the seeds above always hold a usable one
        raise RuntimeError("no random weights with clear argmax margins were found")
    inputs, reference, mistakes = case
    outputs = as_arrays(run_model(check, model, inputs, fn, "inference", sizes))
    compare_outputs(check, outputs, reference, mistakes, INFERENCE_MISTAKES, sizes, "Ty")


@_check
def music_inference_model_test(music_inference_model: Callable[..., Any] | Any) -> None:
    """Check the learner's ``music_inference_model(LSTM_cell, densor, Ty)``.

    Builds the model with fresh layers of small, unusual sizes, for Ty = 4 and
    Ty = 1, and checks: a keras Model with inputs x0 (None, 1, n_values),
    a0 (None, n_a), c0 (None, n_a); one LSTM and one Dense layer, the very
    objects passed in; Ty outputs, each (m, n_values), equal to a NumPy greedy
    decoder with the same (random) weights, which feeds the one-hot of each
    step's argmax back as the next input.

    Args:
        music_inference_model: the learner's function, or a model it built (then
            its own layers and weights are used and left unchanged).

    Raises:
        CheckFailure: with a message that names the mistake and the fix.
        NotImplementedError: unchanged, from an unimplemented stub.
    """
    check = "music_inference_model_test"
    keras = load_keras()
    if isinstance(music_inference_model, keras.Model):
        model = music_inference_model
        lstm, dense, layers = model_layers(check, model)
        sizes = CheckSizes(m=3, steps=len(model.outputs), layers=layers)
        _check_inference_model(check, model, lstm, dense, sizes, None, randomize=False)
    else:
        for sizes in INFERENCE_SIZES:
            lstm, dense, _ = fresh_layers(sizes.layers)
            model = call_learner(
                check, music_inference_model, (lstm, dense, sizes.steps), "inference", sizes
            )
            check_is_model(check, model, "music_inference_model")
            _check_inference_model(
                check, model, lstm, dense, sizes, music_inference_model, randomize=True
            )
    print(f"{check}: all checks passed")


# --------------------------------------------------------------------------------------
# predict_and_sample
# --------------------------------------------------------------------------------------


@_check
def predict_and_sample_test(predict_and_sample: Callable[..., Any]) -> None:
    """Check the learner's ``predict_and_sample(inference_model, x_init, a_init, c_init)``.

    Builds its own small sampling test model (inputs [x0, a0, c0], Ty=5 softmax heads,
    n_values=7, n_a=5, random weights; not an inference model), calls the learner's
    function once with non-zero initializers and checks: ``results`` float one-hot
    (Ty, n_values); ``indices`` integers (Ty, 1); ``indices[:, 0] == argmax(results, -1)``;
    the indices are the argmax over the last axis of the model's predictions for *the
    initializers given*.

    Raises:
        CheckFailure: with a message that names the mistake and the fix.
        NotImplementedError: unchanged, from an unimplemented stub.
    """
    check = "predict_and_sample_test"
    sizes = SAMPLE_SIZES
    case = None
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        heads = Heads.draw(rng, sizes)
        case = sample_case(heads, sizes, rng)
        if case is not None:
            break
    if case is None:  # pragma: no cover - the seeds above always hold a usable one
        raise RuntimeError("no random weights with clear argmax margins were found")
    model = sampling_model(heads, sizes)
    model.jit_compile = False  # predict without XLA: compiling would take longer than running

    returned = call_learner(
        check, predict_and_sample, (model, case.x, case.a, case.c), "sample", sizes
    )
    if not isinstance(returned, tuple | list) or len(returned) != 2:
        raise CheckFailure(
            f"{check}: predict_and_sample must return two things, `return results, indices`; "
            f"it returned {type(returned).__name__}."
        )
    results, indices = (to_numpy(v) for v in returned)
    check_indices(check, indices, case, sizes)
    check_results(check, results, indices, case, sizes)
    print(f"{check}: all checks passed")
