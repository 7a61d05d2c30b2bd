"""What a check says when the learner's code raises: the likely cause first, then the error.

Keras's errors name tensors and shapes, not the exercise; ``explain_error`` turns them into
the learner's words (a NumPy function on a symbolic tensor, the ``sequences`` keyword of
Keras 3, a hard-coded size, the argmax on the wrong axis) and ``size_hints`` points at
what in the learner's code may hard-code a size: large literals, the notebook's globals.
"""

from __future__ import annotations

import dis
import re
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from jazz_utils.checks.cases import CheckSizes
from jazz_utils.errors import CheckFailure


def clean(text: str, limit: int = 400) -> str:
    """An exception's text on one line, without terminal colours, at most `limit` characters."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


SIZE_GLOBALS = ("n_values", "n_a", "Tx", "Ty", "reshaper")
"""Notebook globals whose use inside an exercise ties it to the notebook's sizes."""


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


def size_hints(fn: Any) -> str:
    """What in the learner's code may hard-code a size: big literals, the notebook's globals."""
    codes = list(_code_objects(fn))
    numbers = sorted({n for code in codes for n in _int_constants(code.co_consts) if abs(n) >= 10})
    global_names = sorted(
        {
            str(instruction.argval)
            for code in codes
            for instruction in dis.get_instructions(code)
            if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")
            and instruction.argval in SIZE_GLOBALS
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


SIZE_FIX = (
    "Read the sizes from the layers you are given: n_values = densor.units, "
    "n_a = LSTM_cell.units, and use Tx/Ty from the arguments."
)
"""How to fix a hard-coded size, in every message about one."""


def explain_error(
    check: str, what: str, exc: BaseException, fn: Any, role: str, sizes: CheckSizes
) -> str:
    """A CheckFailure message for an exception raised while building or calling a model.

    ``role`` is ``"djmodel"``, ``"inference"`` or ``"sample"`` (predict_and_sample).
    The message gives the likely cause first, then the original error.
    """
    text = clean(str(exc))
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
        causes.append("a hard-coded vocabulary size (such as 78 or 90) or n_a (64)? " + SIZE_FIX)
        if role == "inference":
            causes.append(
                "argmax must be taken over the last axis, ops.argmax(out, axis=-1), and "
                "one_hot's depth is n_values."
            )
    return (
        f"{check}: {what} failed on a shape {where}. Likely: {' Or: '.join(causes)}"
        f"{size_hints(fn)} {original}"
    )


def call_learner(
    check: str, fn: Callable[..., Any], args: tuple, role: str, sizes: CheckSizes
) -> Any:
    """Call the learner's function; NotImplementedError goes through, others are explained."""
    name = getattr(fn, "__name__", "your function")
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:
        message = explain_error(check, f"calling {name}", exc, fn, role, sizes)
        raise CheckFailure(message) from exc


def run_model(
    check: str, model: Any, inputs: list[np.ndarray], fn: Any, role: str, sizes: CheckSizes
) -> Any:
    """Call the model on ``inputs``: its outputs, or an explained CheckFailure.

    A model built with a dict of outputs returns a dict; its values count, in order.
    """
    shapes = ", ".join(str(x.shape) for x in inputs)
    try:
        outputs = model(inputs)
    except Exception as exc:
        what = f"calling the model on inputs of shapes {shapes}"
        raise CheckFailure(explain_error(check, what, exc, fn, role, sizes)) from exc
    return list(outputs.values()) if isinstance(outputs, dict) else outputs
