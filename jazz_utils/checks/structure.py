"""Structure: is it a keras Model, with the right inputs and the very layers it was given?

These checks read the model a learner's function returns before running it: its type,
its three inputs and their shapes, and its layers (one LSTM and one Dense, the objects
passed in, no Lambda layer and no other weights). Each failure names the mistake.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jazz_utils.checks.cases import CheckSizes
from jazz_utils.checks.messages import SIZE_FIX, size_hints
from jazz_utils.errors import CheckFailure
from jazz_utils.lstm_harness import load_keras
from jazz_utils.lstm_reference import Sizes


def check_is_model(check: str, model: Any, fn_name: str) -> None:
    keras = load_keras()
    if model is None:
        raise CheckFailure(f"{check}: {fn_name} returned None: did you forget `return model`?")
    if not isinstance(model, keras.Model):
        raise CheckFailure(
            f"{check}: {fn_name} must return a keras Model, got {type(model).__name__}. "
            "Build it with Model(inputs=[...], outputs=outputs)."
        )


def check_inputs(
    check: str, model: Any, sizes: CheckSizes, first: str, first_shape: tuple, fn: Any
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
        f"{expected}. {detail} {SIZE_FIX}{size_hints(fn)}"
    )


def check_layers(check: str, model: Any, lstm: Any, dense: Any, fn_name: str) -> None:
    """One LSTM and one Dense, the very objects given, and no other weights."""
    keras = load_keras()
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


def model_layers(check: str, model: Any) -> tuple[Any, Any, Sizes]:
    """The one LSTM and one Dense layer of a model the learner built, and their sizes."""
    lstm, dense = find_layer(check, model, "LSTM"), find_layer(check, model, "Dense")
    return lstm, dense, Sizes(n_values=dense.units, n_a=lstm.units)


def find_layer(check: str, model: Any, kind: str) -> Any:
    """The one layer of class ``kind`` (``"LSTM"``, ``"Dense"``) in ``model``."""
    keras = load_keras()
    found = [la for la in model.layers if isinstance(la, getattr(keras.layers, kind))]
    if len(found) != 1:
        raise CheckFailure(
            f"{check}: the model has {len(found)} {kind} layers; it must use exactly one, the "
            "same object at every step (layers created inside the loop?)."
        )
    return found[0]


def check_wrong_axis(check: str, model: Any, sizes: CheckSizes) -> None:
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
