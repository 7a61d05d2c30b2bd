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
weights. When the outputs differ, it compares them with the outputs of classic
mistakes (``X[:, 0]`` fed at every step, the state not passed on, ``a`` and
``c`` swapped, ...) and names the one it recognises.

A check prints one line to stdout when everything is right and raises
:class:`CheckFailure` (an ``AssertionError``) otherwise. A ``NotImplementedError``
raised by an unimplemented stub goes through unchanged.

LSTM reference (Keras 3, the gates' kernel columns in the order ``[i, f, c, o]``)::

    z = x @ kernel + a @ recurrent_kernel + bias
    c_t = sigmoid(z_f) * c + sigmoid(z_i) * tanh(z_c)
    a_t = sigmoid(z_o) * tanh(c_t)

Nothing heavy is imported until a check runs: Keras is imported inside the
functions.
"""

from __future__ import annotations

import contextlib
import dis
import functools
import logging
import re
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from jazz_utils.errors import JazzUtilsError

__all__ = [
    "CheckFailure",
    "djmodel_test",
    "music_inference_model_test",
    "predict_and_sample_test",
]

#: Absolute and relative tolerance when comparing with the NumPy reference.
ATOL = 1e-5
RTOL = 1e-4
#: Smallest gap between the two largest probabilities of a greedy step that the
#: checks accept in their own random weights (so float32 round-off cannot flip
#: an argmax).
_MIN_MARGIN = 1e-3
#: Seeds tried, in order, when looking for random weights that tell every
#: mistake apart from the right answer.
_SEEDS = range(64)


class CheckFailure(JazzUtilsError, AssertionError):  # noqa: N818 - the name learners see
    """A learner's function does not do what the exercise asks; the message says why."""


@dataclass(frozen=True)
class _Sizes:
    """One set of sizes a check builds the learner's model with.

    ``steps`` is ``Tx`` for djmodel and ``Ty`` for the inference model. The sizes
    are small, different from each other and from the notebook's (so that a
    hard-coded 30, 64, 78 or 90 cannot fit).
    """

    m: int
    steps: int
    n_values: int
    n_a: int

    def describe(self, steps_name: str) -> str:
        return (
            f"{steps_name}={self.steps}, n_values={self.n_values} (densor.units), "
            f"n_a={self.n_a} (LSTM_cell.units), m={self.m} examples"
        )


_TRAIN_SIZES = (_Sizes(m=3, steps=4, n_values=7, n_a=5), _Sizes(m=2, steps=3, n_values=11, n_a=6))
_INFERENCE_SIZES = (
    _Sizes(m=3, steps=4, n_values=7, n_a=5),
    _Sizes(m=2, steps=1, n_values=11, n_a=6),
)
_SAMPLE_SIZES = _Sizes(m=1, steps=5, n_values=7, n_a=5)

# --------------------------------------------------------------------------------------
# NumPy reference
# --------------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class _Weights:
    """The weights of one LSTM(n_a) and one Dense(n_values, softmax), as float64.

    kernel (n_values, 4 n_a), recurrent (n_a, 4 n_a), bias (4 n_a,),
    dense_kernel (n_a, n_values), dense_bias (n_values,).
    """

    kernel: np.ndarray
    recurrent: np.ndarray
    bias: np.ndarray
    dense_kernel: np.ndarray
    dense_bias: np.ndarray

    @classmethod
    def of(cls, lstm: Any, dense: Any) -> _Weights:
        kernel, recurrent, bias = (np.asarray(w, dtype=np.float64) for w in lstm.get_weights())
        dense_kernel, dense_bias = (np.asarray(w, dtype=np.float64) for w in dense.get_weights())
        return cls(kernel, recurrent, bias, dense_kernel, dense_bias)

    def step(self, x: np.ndarray, a: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One LSTM step: x (m, n_values), a and c (m, n_a) -> new (a, c)."""
        z = x @ self.kernel + a @ self.recurrent + self.bias
        z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
        c_new = _sigmoid(z_f) * c + _sigmoid(z_i) * np.tanh(z_c)
        a_new = _sigmoid(z_o) * np.tanh(c_new)
        return a_new, c_new

    def dense(self, a: np.ndarray) -> np.ndarray:
        """densor: a (m, n_a) -> probabilities (m, n_values)."""
        return _softmax(a @ self.dense_kernel + self.dense_bias)


#: Ways of unrolling the LSTM, the right one first, then classic mistakes. Each
#: mistake's message says what is wrong and how to fix it.
_RIGHT = "right"
_TRAIN_MISTAKES = {
    "x0_every_step": (
        "X[:, 0] is fed at every step: the first time step over and over. "
        "Select the t-th step inside the loop: x = X[:, t, :]."
    ),
    "state_reset": (
        "the state is not passed on: every step starts again from a0, c0 (a, c reset to a0, c0 "
        "each step). Pass the previous step's state: _, a, c = LSTM_cell(x, initial_state=[a, c])."
    ),
    "state_zeros": (
        "the state is not passed on: every step starts from zeros (LSTM_cell called without "
        "initial_state). Pass the previous step's state: "
        "_, a, c = LSTM_cell(x, initial_state=[a, c])."
    ),
    "swap_returned": (
        "a and c are swapped: LSTM_cell returns (output, a, c) in this order, so write "
        "_, a, c = LSTM_cell(x, initial_state=[a, c])."
    ),
    "swap_passed": (
        "a and c are swapped in initial_state: the hidden state comes first, initial_state=[a, c]."
    ),
    "dense_on_c": (
        "densor is applied to the cell state c: apply it to the hidden state a, out = densor(a)."
    ),
}
_INFERENCE_MISTAKES = {
    "x0_every_step": (
        "x0 is fed at every step instead of the previous prediction. After each step set x to "
        "the one-hot of the prediction's argmax, reshaped to (m, 1, n_values), and feed that "
        "x to the next step."
    ),
    "feed_probabilities": (
        "the prediction's probabilities are fed back instead of its one-hot: take "
        "ops.argmax(out, axis=-1), then ops.one_hot(..., n_values), then reshape to "
        "(m, 1, n_values)."
    ),
    **{k: v for k, v in _TRAIN_MISTAKES.items() if k != "x0_every_step"},
}


def _unroll(
    weights: _Weights,
    x_first: np.ndarray,
    a0: np.ndarray,
    c0: np.ndarray,
    steps: int,
    *,
    teacher: np.ndarray | None,
    way: str = _RIGHT,
) -> np.ndarray:
    """Outputs of one unrolled LSTM + densor, the right way or with one mistake.

    Args:
        weights: the LSTM's and densor's weights.
        x_first: (m, n_values), the first step's input.
        a0, c0: (m, n_a), the initial state.
        steps: Tx or Ty.
        teacher: (m, Tx, n_values) for teacher forcing (djmodel), or None for greedy
            decoding (the inference model feeds back the one-hot of its argmax).
        way: ``"right"`` or a key of ``_TRAIN_MISTAKES`` / ``_INFERENCE_MISTAKES``.

    Returns:
        (steps, m, n_values) probabilities.
    """
    n_values = weights.dense_bias.shape[0]
    a, c, x = a0, c0, x_first
    outputs = []
    for t in range(steps):
        if teacher is not None:
            x = teacher[:, 0 if way == "x0_every_step" else t]
        elif way == "x0_every_step":
            x = x_first
        a_in, c_in = (a, c)
        if way == "state_reset":
            a_in, c_in = a0, c0
        elif way == "state_zeros":
            a_in, c_in = np.zeros_like(a0), np.zeros_like(c0)
        elif way == "swap_passed":
            a_in, c_in = c_in, a_in
        a_new, c_new = weights.step(x, a_in, c_in)
        a, c = (c_new, a_new) if way == "swap_returned" else (a_new, c_new)
        out = weights.dense(c if way == "dense_on_c" else a)
        outputs.append(out)
        if teacher is None and way != "x0_every_step":
            x = out if way == "feed_probabilities" else np.eye(n_values)[out.argmax(axis=-1)]
    return np.stack(outputs)


def _margin(probabilities: np.ndarray) -> float:
    """The smallest gap between the two largest values along the last axis."""
    top2 = np.sort(probabilities, axis=-1)[..., -2:]
    return float((top2[..., 1] - top2[..., 0]).min())


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _keras() -> types.ModuleType:
    import keras

    return keras


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
    if _keras().backend.backend() == "tensorflow":
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


def _fresh_layers(sizes: _Sizes) -> tuple[Any, Any, Any]:
    """A new LSTM_cell, densor and reshaper of the given sizes, as the notebook makes them."""
    keras = _keras()
    lstm = keras.layers.LSTM(sizes.n_a, return_state=True)
    dense = keras.layers.Dense(sizes.n_values, activation="softmax")
    reshaper = keras.layers.Reshape((1, sizes.n_values))
    return lstm, dense, reshaper


def _set_random_weights(rng: np.random.Generator, *layers: Any) -> None:
    for layer in layers:
        layer.set_weights(
            [rng.normal(0.0, 1.0, np.shape(w)).astype("float32") for w in layer.get_weights()]
        )


def _clean(text: str, limit: int = 400) -> str:
    """An exception's text on one line, without terminal colours, at most `limit` characters."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Notebook globals whose use inside an exercise ties it to the notebook's sizes.
_SIZE_GLOBALS = ("n_values", "n_a", "Tx", "Ty", "reshaper")


def _code_objects(fn: Any) -> Iterator[types.CodeType]:
    """The code of `fn` and of every function, lambda or comprehension inside it."""
    code = getattr(fn, "__code__", None)
    stack = [code] if isinstance(code, types.CodeType) else []
    while stack:
        code = stack.pop()
        yield code
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))


def _int_constants(values: Any) -> Iterator[int]:
    """Integer literals, also inside folded constant tuples such as (1, 90)."""
    for value in values:
        if isinstance(value, tuple | frozenset):
            yield from _int_constants(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            yield value


def _size_hints(fn: Any) -> str:
    """What in the learner's code may hard-code a size: big literals, the notebook's globals."""
    codes = list(_code_objects(fn))
    numbers = sorted({n for code in codes for n in _int_constants(code.co_consts) if abs(n) >= 10})
    global_names = sorted(
        {
            str(instruction.argval)
            for code in codes
            for instruction in dis.get_instructions(code)
            if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")
            and instruction.argval in _SIZE_GLOBALS
        }
    )
    hints = []
    if numbers:
        hints.append(f"your function contains the number(s) {', '.join(map(str, numbers))}")
    if global_names:
        hints.append(
            f"it reads the notebook's global variable(s) {', '.join(global_names)}, made for the "
            "notebook's sizes"
        )
    return f" (Note: {'; '.join(hints)}.)" if hints else ""


_SIZE_FIX = (
    "Read the sizes from the layers you are given: n_values = densor.units, "
    "n_a = LSTM_cell.units, and use Tx/Ty from the arguments."
)


def _explain_error(
    check: str, what: str, exc: BaseException, fn: Any, role: str, sizes: _Sizes
) -> str:
    """A CheckFailure message for an exception raised while building or calling a model.

    ``role`` is ``"djmodel"``, ``"inference"`` or ``"sample"`` (predict_and_sample).
    The message gives the likely cause first, then the original error.
    """
    text = _clean(str(exc))
    original = f"[{type(exc).__name__}: {text}]"
    ops_fix = (
        "Use keras.ops instead (ops.argmax, ops.one_hot, ops.expand_dims) or a layer "
        "(RepeatVector(1), Reshape)."
    )
    if "KerasTensor is symbolic" in text:
        return (
            f"{check}: {what} failed: a NumPy function (np.*), int() or float() was applied to "
            "a symbolic Keras tensor, which holds no numbers while the model is being built. "
            f"{ops_fix} {original}"
        )
    if "KerasTensor cannot be used as input" in text:
        return (
            f"{check}: {what} failed: a TensorFlow function (tf.*) was applied to a symbolic "
            "Keras tensor; Keras 3 forbids tf.* on the tensors of a model being built. "
            f"{ops_fix} {original}"
        )
    if isinstance(exc, TypeError) and "sequences" in text:
        return (
            f"{check}: {what} failed: in Keras 3 the first argument of an LSTM layer is named "
            "`sequences`, not `inputs`. Pass the input by position: "
            f"_, a, c = LSTM_cell(x, initial_state=[a, c]). {original}"
        )
    steps = "Tx" if role == "djmodel" else "Ty"
    where = f"(built with {sizes.describe(steps)})"
    if role == "sample":
        return (
            f"{check}: {what} failed {where.replace('built', 'on an inference model')}. "
            "inference_model.predict([x_initializer, a_initializer, c_initializer]) returns a "
            "list of Ty arrays, each (1, n_values); np.array(pred) is (Ty, 1, n_values). "
            f"{original}"
        )
    if not re.search(r"shape|ndim|dimension|size|rank|incompatible|index", text, re.IGNORECASE):
        return f"{check}: {what} failed {where}. {original}"
    causes = []
    if "out-of-bounds" in text or "out of bounds" in text or "out of range" in text:
        causes.append(
            f"a step index beyond the {steps} steps of the input: loop over range({steps}) "
            f"(hard-coded number of steps?)."
        )
    if "expected ndim=2, found ndim=1" in text and role == "inference":
        causes.append(
            "the next input lost its batch axis: argmax without axis=-1 gives one index for the "
            "whole batch; take ops.argmax(out, axis=-1)."
        )
    if "expected ndim=3, found ndim=2" in text:
        causes.append(
            "LSTM_cell needs an input of shape (m, 1, n_values): reshape each step's input "
            + (
                "(RepeatVector(1) or ops.expand_dims(x, 1))."
                if role == "inference"
                else "with reshaper."
            )
        )
    if not causes:  # nothing more specific: the usual suspects
        causes.append("a hard-coded vocabulary size (such as 78 or 90) or n_a (64)? " + _SIZE_FIX)
        if role == "inference":
            causes.append(
                "argmax must be taken over the last axis, ops.argmax(out, axis=-1), and "
                "one_hot's depth is n_values."
            )
    return (
        f"{check}: {what} failed on a shape {where}. Likely: {' Or: '.join(causes)}"
        f"{_size_hints(fn)} {original}"
    )


def _call_learner(check: str, fn: Callable[..., Any], args: tuple, role: str, sizes: _Sizes) -> Any:
    """Call the learner's function; NotImplementedError goes through, others are explained."""
    name = getattr(fn, "__name__", "your function")
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:
        message = _explain_error(check, f"calling {name}", exc, fn, role, sizes)
        raise CheckFailure(message) from exc


def _as_list(outputs: Any) -> list[np.ndarray]:
    """A model's outputs as a list of NumPy arrays (Keras 3 returns one tensor for one output)."""
    ops = _keras().ops
    if isinstance(outputs, list | tuple):
        return [np.asarray(ops.convert_to_numpy(o)) for o in outputs]
    if isinstance(outputs, dict):
        return [np.asarray(ops.convert_to_numpy(o)) for o in outputs.values()]
    return [np.asarray(ops.convert_to_numpy(outputs))]


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, atol=ATOL, rtol=RTOL))


# --------------------------------------------------------------------------------------
# Structure: a Model, its inputs, its layers
# --------------------------------------------------------------------------------------


def _check_is_model(check: str, model: Any, fn_name: str) -> None:
    keras = _keras()
    if model is None:
        raise CheckFailure(f"{check}: {fn_name} returned None: did you forget `return model`?")
    if not isinstance(model, keras.Model):
        raise CheckFailure(
            f"{check}: {fn_name} must return a keras Model, got {type(model).__name__}. "
            "Build it with Model(inputs=[...], outputs=outputs)."
        )


def _check_inputs(
    check: str, model: Any, sizes: _Sizes, first: str, first_shape: tuple, fn: Any
) -> None:
    """Three inputs: [first (None, *first_shape), a0 (None, n_a), c0 (None, n_a)]."""
    inputs = list(model.inputs)
    names = f"[{first}, a0, c0]"
    if len(inputs) != 3:
        raise CheckFailure(
            f"{check}: the model has {len(inputs)} input(s); it needs three, {names}: "
            f"Model(inputs={names}, outputs=outputs)."
        )
    expected = [(None, *first_shape), (None, sizes.n_a), (None, sizes.n_a)]
    got = [tuple(x.shape) for x in inputs]
    if got == expected:
        return
    where = sizes.describe("Tx" if first == "X" else "Ty")
    if sorted(map(str, got)) == sorted(map(str, expected)):
        raise CheckFailure(
            f"{check}: the inputs are in the wrong order, shapes {got}; the order is {names} "
            f"with shapes {expected}."
        )
    problems = []
    if len(got[0]) == len(expected[0]) and got[0][-1] != sizes.n_values:
        problems.append(
            f"{first} has {got[0][-1]} values per step but densor has {sizes.n_values} units: "
            "hard-coded vocabulary size (n_values)?"
        )
    elif first == "X" and len(got[0]) == 3 and got[0][1] != sizes.steps:
        problems.append(
            f"X has {got[0][1]} time steps instead of Tx={sizes.steps}: hard-coded Tx? "
            "Use Input(shape=(Tx, n_values))."
        )
    wrong_states = [
        (name, shape[1])
        for name, shape in (("a0", got[1]), ("c0", got[2]))
        if len(shape) == 2 and shape[1] != sizes.n_a
    ]
    if wrong_states:
        which = " and ".join(name for name, _ in wrong_states)
        units = sorted({str(n) for _, n in wrong_states})
        problems.append(
            f"{which} {'have' if len(wrong_states) > 1 else 'has'} {'/'.join(units)} units but "
            f"LSTM_cell has {sizes.n_a}: hard-coded n_a?"
        )
    detail = " ".join(problems) or f"expected {expected}."
    raise CheckFailure(
        f"{check}: with {where} the model's inputs {names} have shapes {got}; expected "
        f"{expected}. {detail} {_SIZE_FIX}{_size_hints(fn)}"
    )


def _check_layers(check: str, model: Any, lstm: Any, dense: Any, fn_name: str) -> None:
    """One LSTM and one Dense, the very objects given, and no other weights."""
    keras = _keras()
    layers = list(model.layers)
    lstms = [la for la in layers if isinstance(la, keras.layers.LSTM)]
    denses = [la for la in layers if isinstance(la, keras.layers.Dense)]
    inference = fn_name == "music_inference_model"
    for found, given, kind, arg in (
        (lstms, lstm, "LSTM", "LSTM_cell"),
        (denses, dense, "Dense", "densor"),
    ):
        use = f"use the trained {arg}" if inference else f"call the {arg} you were given"
        if len(found) > 1:
            raise CheckFailure(
                f"{check}: the model has {len(found)} {kind} layers instead of one: layers "
                f"created inside the loop (a new {kind} layer was created inside {fn_name}). "
                f"Create no {kind} layer; {use} at every step, so that all the steps share its "
                "weights."
            )
        if not found:
            raise CheckFailure(f"{check}: the model has no {kind} layer: {use} at every step.")
        if found[0] is not given:
            raise CheckFailure(
                f"{check}: the model's {kind} layer is not the {arg} passed to {fn_name}: a new "
                f"{kind} layer was created inside {fn_name} (or a global variable is used): "
                f"{use}, the argument {arg}."
            )
    lambdas = [la.name for la in layers if isinstance(la, keras.layers.Lambda)]
    if lambdas:
        raise CheckFailure(
            f"{check}: the model holds a Lambda layer ({lambdas[0]}). The autograder rebuilds "
            "your model from its saved form and never runs Python code stored in a model, so "
            "a Lambda layer scores nothing there: use keras.ops (ops.argmax, ops.one_hot, "
            "ops.expand_dims) or layers (RepeatVector, Reshape) instead."
        )
    others = [la.name for la in layers if la.weights and la is not lstm and la is not dense]
    if others:
        raise CheckFailure(
            f"{check}: the model has layers with weights besides LSTM_cell and densor: "
            f"{', '.join(others)}. Only the two layers you were given should carry weights."
        )
    expected = lstm.count_params() + dense.count_params()
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    if trainable != expected:
        raise CheckFailure(
            f"{check}: the model has {trainable} trainable parameters; LSTM_cell and densor "
            f"have {expected} together, and the model should have exactly those."
        )


def _find_layer(check: str, model: Any, kind: str) -> Any:
    keras = _keras()
    found = [la for la in model.layers if isinstance(la, getattr(keras.layers, kind))]
    if len(found) != 1:
        raise CheckFailure(
            f"{check}: the model has {len(found)} {kind} layers; it must use exactly one, the "
            "same object at every step (layers created inside the loop?)."
        )
    return found[0]


# --------------------------------------------------------------------------------------
# Outputs against the reference
# --------------------------------------------------------------------------------------


def _run_model(
    check: str, model: Any, inputs: list[np.ndarray], fn: Any, role: str, sizes: _Sizes
) -> Any:
    shapes = ", ".join(str(x.shape) for x in inputs)
    try:
        return model(inputs)
    except Exception as exc:
        what = f"calling the model on inputs of shapes {shapes}"
        raise CheckFailure(_explain_error(check, what, exc, fn, role, sizes)) from exc


def _compare_outputs(
    check: str,
    outputs: list[np.ndarray],
    reference: np.ndarray,
    mistakes: dict[str, np.ndarray],
    messages: dict[str, str],
    sizes: _Sizes,
    steps_name: str,
) -> None:
    """Compare the model's outputs with the reference (steps, m, n_values), naming mistakes."""
    steps = reference.shape[0]
    where = sizes.describe(steps_name)
    expected_shape = reference.shape[1:]
    if len(outputs) != steps:
        if len(outputs) == 1 and steps > 1:
            if _close(outputs[0], reference[-1]):
                raise CheckFailure(
                    f"{check}: only the last output returned: the model has one output, it "
                    f"needs {steps_name}={steps}. Append every step's densor output to "
                    "`outputs` inside the loop and pass the whole list: "
                    "Model(inputs=[...], outputs=outputs)."
                )
            if _close(outputs[0], reference[0]):
                raise CheckFailure(
                    f"{check}: the model stops after the first step (one output instead of "
                    f"{steps_name}={steps}): is Model(...) or `return` inside the loop?"
                )
            raise CheckFailure(
                f"{check}: only one output returned, the model needs {steps_name}={steps} "
                "outputs, one per step: Model(inputs=[...], outputs=outputs)."
            )
        raise CheckFailure(
            f"{check}: with {where} the model has {len(outputs)} outputs; it needs "
            f"{steps_name}={steps}, one per step: loop over range({steps_name}) "
            f"(hard-coded number of steps?)."
        )
    for t, out in enumerate(outputs):
        if out.shape != expected_shape:
            raise CheckFailure(
                f"{check}: with {where} output {t} has shape {out.shape}; every output must be "
                f"(m, n_values) = {expected_shape}: the densor output of one step."
            )
    stacked = np.stack(outputs)
    if _close(stacked, reference):
        return
    for way, mistaken in mistakes.items():
        if _close(stacked, mistaken):
            raise CheckFailure(f"{check}: {messages[way]}")
    if _close(stacked, reference[::-1]):
        raise CheckFailure(
            f"{check}: the outputs are in reverse order: append each step's output at the end."
        )
    wrong = [t for t in range(steps) if not _close(stacked[t], reference[t])]
    biggest = float(np.abs(stacked - reference).max())
    raise CheckFailure(
        f"{check}: with {where} the outputs differ from a reference LSTM with the same weights "
        f"from step {wrong[0]} on (largest difference {biggest:.3g}). Check that each step "
        f"{'reads X[:, t, :]' if steps_name == 'Tx' else 'reads the previous prediction'}, "
        "runs LSTM_cell from the previous (a, c) and applies densor to a."
    )


def _distinct_mistakes(
    reference: np.ndarray, mistakes: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The mistakes whose outputs differ from the reference (the others cannot be told apart)."""
    return {
        way: out
        for way, out in mistakes.items()
        if out.shape != reference.shape or not np.allclose(out, reference, atol=100 * ATOL)
    }


# --------------------------------------------------------------------------------------
# djmodel
# --------------------------------------------------------------------------------------


def _training_case(
    weights: _Weights, sizes: _Sizes, rng: np.random.Generator
) -> tuple[list[np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    X = rng.uniform(0.0, 1.0, (sizes.m, sizes.steps, weights.dense_bias.shape[0]))
    a0 = rng.normal(0.0, 0.5, (sizes.m, sizes.n_a))
    c0 = rng.normal(0.0, 0.5, (sizes.m, sizes.n_a))
    inputs = [X.astype("float32"), a0.astype("float32"), c0.astype("float32")]
    X, a0, c0 = (x.astype(np.float64) for x in inputs)

    def unroll(way: str) -> np.ndarray:
        return _unroll(weights, X[:, 0], a0, c0, sizes.steps, teacher=X, way=way)

    reference = unroll(_RIGHT)
    mistakes = _distinct_mistakes(reference, {way: unroll(way) for way in _TRAIN_MISTAKES})
    return inputs, reference, mistakes


def _check_training_model(
    check: str, model: Any, lstm: Any, dense: Any, sizes: _Sizes, fn: Any, randomize: bool
) -> None:
    _check_inputs(check, model, sizes, "X", (sizes.steps, sizes.n_values), fn)
    _check_layers(check, model, lstm, dense, "djmodel")
    rng = np.random.default_rng(sizes.steps * 1000 + sizes.n_values)
    if randomize:
        _set_random_weights(rng, lstm, dense)
    inputs, reference, mistakes = _training_case(_Weights.of(lstm, dense), sizes, rng)
    outputs = _as_list(_run_model(check, model, inputs, fn, "djmodel", sizes))
    _compare_outputs(check, outputs, reference, mistakes, _TRAIN_MISTAKES, sizes, "Tx")


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
    keras = _keras()
    if isinstance(djmodel, keras.Model):
        model = djmodel
        lstm, dense = _find_layer(check, model, "LSTM"), _find_layer(check, model, "Dense")
        steps = model.inputs[0].shape[1] if model.inputs and len(model.inputs[0].shape) == 3 else 0
        sizes = _Sizes(m=3, steps=steps or 1, n_values=dense.units, n_a=lstm.units)
        _check_training_model(check, model, lstm, dense, sizes, None, randomize=False)
    else:
        for sizes in _TRAIN_SIZES:
            lstm, dense, reshaper = _fresh_layers(sizes)
            model = _call_learner(
                check, djmodel, (sizes.steps, lstm, dense, reshaper), "djmodel", sizes
            )
            _check_is_model(check, model, "djmodel")
            _check_training_model(check, model, lstm, dense, sizes, djmodel, randomize=True)
    print(f"{check}: all checks passed")


# --------------------------------------------------------------------------------------
# music_inference_model
# --------------------------------------------------------------------------------------


def _inference_case(
    weights: _Weights, sizes: _Sizes, rng: np.random.Generator, need_margin: bool
) -> tuple[list[np.ndarray], np.ndarray, dict[str, np.ndarray]] | None:
    """Inputs, reference and mistakes for greedy decoding; None if argmax is too close to call."""
    n_values = weights.dense_bias.shape[0]
    x0 = np.eye(n_values)[rng.integers(0, n_values, sizes.m)][:, None, :]
    a0 = rng.normal(0.0, 0.5, (sizes.m, sizes.n_a))
    c0 = rng.normal(0.0, 0.5, (sizes.m, sizes.n_a))
    inputs = [x0.astype("float32"), a0.astype("float32"), c0.astype("float32")]
    x0, a0, c0 = (x.astype(np.float64) for x in inputs)
    ways = [_RIGHT, *_INFERENCE_MISTAKES]
    outs = {w: _unroll(weights, x0[:, 0], a0, c0, sizes.steps, teacher=None, way=w) for w in ways}
    if need_margin and min(_margin(o) for o in outs.values()) < _MIN_MARGIN:
        return None
    reference = outs.pop(_RIGHT)
    return inputs, reference, _distinct_mistakes(reference, outs)


def _check_wrong_axis(check: str, model: Any, sizes: _Sizes) -> None:
    """Outputs after the first step with a fixed first dimension: argmax over the batch axis."""
    for t, out in enumerate(model.outputs):
        shape = tuple(out.shape)
        if t > 0 and len(shape) == 2 and shape[0] is not None:
            raise CheckFailure(
                f"{check}: output {t} has the fixed shape {shape} instead of (None, "
                f"{sizes.n_values}): argmax on the wrong axis. Take it over the last axis "
                "(n_values), ops.argmax(out, axis=-1), so that each example gets its own "
                "prediction."
            )


def _check_inference_model(
    check: str, model: Any, lstm: Any, dense: Any, sizes: _Sizes, fn: Any, randomize: bool
) -> None:
    _check_inputs(check, model, sizes, "x0", (1, sizes.n_values), fn)
    _check_layers(check, model, lstm, dense, "music_inference_model")
    _check_wrong_axis(check, model, sizes)
    weights = _Weights.of(lstm, dense)
    case = None
    for seed in _SEEDS if randomize else (0,):
        rng = np.random.default_rng(seed)
        if randomize:
            _set_random_weights(rng, lstm, dense)
            weights = _Weights.of(lstm, dense)
        case = _inference_case(weights, sizes, rng, need_margin=randomize)
        if case is not None:
            break
    if case is None:  # pragma: no cover - the seeds above always hold a usable one
        raise RuntimeError("no random weights with clear argmax margins were found")
    inputs, reference, mistakes = case
    outputs = _as_list(_run_model(check, model, inputs, fn, "inference", sizes))
    _compare_outputs(check, outputs, reference, mistakes, _INFERENCE_MISTAKES, sizes, "Ty")


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
    keras = _keras()
    if isinstance(music_inference_model, keras.Model):
        model = music_inference_model
        lstm, dense = _find_layer(check, model, "LSTM"), _find_layer(check, model, "Dense")
        sizes = _Sizes(m=3, steps=len(model.outputs), n_values=dense.units, n_a=lstm.units)
        _check_inference_model(check, model, lstm, dense, sizes, None, randomize=False)
    else:
        for sizes in _INFERENCE_SIZES:
            lstm, dense, _ = _fresh_layers(sizes)
            model = _call_learner(
                check, music_inference_model, (lstm, dense, sizes.steps), "inference", sizes
            )
            _check_is_model(check, model, "music_inference_model")
            _check_inference_model(
                check, model, lstm, dense, sizes, music_inference_model, randomize=True
            )
    print(f"{check}: all checks passed")


# --------------------------------------------------------------------------------------
# predict_and_sample
# --------------------------------------------------------------------------------------


def _reference_inference_model(lstm: Any, dense: Any, sizes: _Sizes) -> Any:
    """The checks' own greedy inference model: inputs [x0, a0, c0], Ty outputs (m, n_values)."""
    keras = _keras()
    ops = keras.ops
    x0 = keras.Input(shape=(1, sizes.n_values))
    a0 = keras.Input(shape=(sizes.n_a,))
    c0 = keras.Input(shape=(sizes.n_a,))
    x, a, c = x0, a0, c0
    outputs = []
    for _ in range(sizes.steps):
        _, a, c = lstm(x, initial_state=[a, c])
        out = dense(a)
        outputs.append(out)
        x = ops.expand_dims(ops.one_hot(ops.argmax(out, axis=-1), sizes.n_values), 1)
    return keras.Model(inputs=[x0, a0, c0], outputs=outputs)


@dataclass(frozen=True)
class _SampleCase:
    """Initializers and the greedy decoder's probabilities for them.

    ``probabilities``: (Ty, 1, n_values) for the given initializers; ``ignored``:
    the probabilities when some initializers are replaced by zeros, by description.
    """

    x: np.ndarray
    a: np.ndarray
    c: np.ndarray
    probabilities: np.ndarray
    ignored: dict[str, np.ndarray]


def _sample_case(weights: _Weights, sizes: _Sizes, rng: np.random.Generator) -> _SampleCase | None:
    n_values = sizes.n_values
    x = np.eye(n_values, dtype="float32")[[int(rng.integers(0, n_values))]][:, None, :]
    a = rng.normal(0.0, 1.0, (1, sizes.n_a)).astype("float32")
    c = rng.normal(0.0, 1.0, (1, sizes.n_a)).astype("float32")

    def decode(x_: np.ndarray, a_: np.ndarray, c_: np.ndarray) -> np.ndarray:
        x_, a_, c_ = (np.asarray(v, dtype=np.float64) for v in (x_, a_, c_))
        return _unroll(weights, x_[:, 0], a_, c_, sizes.steps, teacher=None)

    zx, za, zc = np.zeros_like(x), np.zeros_like(a), np.zeros_like(c)
    probabilities = decode(x, a, c)
    ignored = {
        "x_initializer, a_initializer and c_initializer are": decode(zx, za, zc),
        "a_initializer and c_initializer are": decode(x, za, zc),
        "x_initializer is": decode(zx, a, c),
    }
    indices = probabilities.argmax(-1)
    everything = [probabilities, *ignored.values()]
    if min(_margin(p) for p in everything) < _MIN_MARGIN:
        return None
    if len(set(indices[:, 0])) < 3:  # a varied sequence, so that mix-ups show
        return None
    if any(np.array_equal(p.argmax(-1), indices) for p in ignored.values()):
        return None
    return _SampleCase(x, a, c, probabilities, ignored)


@_check
def predict_and_sample_test(predict_and_sample: Callable[..., Any]) -> None:
    """Check the learner's ``predict_and_sample(inference_model, x_init, a_init, c_init)``.

    Builds its own small greedy inference model (Ty=5, n_values=7, n_a=5, random
    weights), calls the learner's function once with non-zero initializers and
    checks: ``results`` float one-hot (Ty, n_values); ``indices`` integers
    (Ty, 1); ``indices[:, 0] == argmax(results, -1)``; the indices are the argmax
    over the last axis of the model's predictions for *the initializers given*.

    Raises:
        CheckFailure: with a message that names the mistake and the fix.
        NotImplementedError: unchanged, from an unimplemented stub.
    """
    check = "predict_and_sample_test"
    sizes = _SAMPLE_SIZES
    lstm, dense, _ = _fresh_layers(sizes)
    model = _reference_inference_model(lstm, dense, sizes)
    model.jit_compile = False  # predict without XLA: compiling would take longer than running
    case = None
    for seed in _SEEDS:
        rng = np.random.default_rng(seed)
        _set_random_weights(rng, lstm, dense)
        case = _sample_case(_Weights.of(lstm, dense), sizes, rng)
        if case is not None:
            break
    if case is None:  # pragma: no cover - the seeds above always hold a usable one
        raise RuntimeError("no random weights with clear argmax margins were found")

    returned = _call_learner(
        check, predict_and_sample, (model, case.x, case.a, case.c), "sample", sizes
    )
    if not isinstance(returned, tuple | list) or len(returned) != 2:
        raise CheckFailure(
            f"{check}: predict_and_sample must return two things, `return results, indices`; "
            f"it returned {type(returned).__name__}."
        )
    results, indices = (_to_numpy(v) for v in returned)
    _check_indices(check, indices, case, sizes)
    _check_results(check, results, indices, case, sizes)
    print(f"{check}: all checks passed")


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if value is None:
        return np.asarray(np.nan)
    try:
        return np.asarray(_keras().ops.convert_to_numpy(value))
    except Exception:
        return np.asarray(value)


def _check_indices(check: str, indices: np.ndarray, case: _SampleCase, sizes: _Sizes) -> None:
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


def _check_results(
    check: str, results: np.ndarray, indices: np.ndarray, case: _SampleCase, sizes: _Sizes
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
