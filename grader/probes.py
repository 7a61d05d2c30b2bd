"""Probes: call a learner's function on the hidden tests' cases and record what it did.

A probe gives the learner's function fresh, tiny layers carrying the known weights of a
case from ``grader.reference``, calls it, runs the model it returns eagerly on the
case's inputs (both with ``jazz_utils.lstm_harness``, as the public checks do), and
records the *evidence*: plain JSON data (shapes, booleans, output arrays as lists,
error messages). It never decides a score; ``grader.judges`` does, from the evidence
alone. The split lets the clean-room regrade run probes in a separate process, next to
the learner's code, while the judging stays in the grading process, out of the
learner's reach.

Probes import Keras; nothing here runs at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grader import calling, reference
from grader.errors import GradingError
from jazz_utils.lstm_harness import as_arrays, fresh_layers, load_keras, shape_of

Evidence = dict[str, Any]
"""JSON data: what a probe saw (see the module docstring)."""

describe_error = calling.describe_error
quiet = calling.quiet
_run = calling.call


def _model_facts(model: Any) -> Evidence:
    """Whether ``model`` is a keras.Model, and the shapes of its inputs and outputs."""
    keras = load_keras()
    facts: Evidence = {"is_model": isinstance(model, keras.Model)}
    if not facts["is_model"]:
        facts["type"] = type(model).__name__
        return facts
    try:
        facts["inputs"] = [shape_of(t) for t in model.inputs]
        facts["outputs"] = [shape_of(t) for t in model.outputs]
    except Exception as error:  # a broken model
        facts["facts_error"] = describe_error(error)
    return facts


def _call_model(model: Any, inputs: tuple[np.ndarray, ...]) -> Evidence:
    """Run ``model`` eagerly on ``inputs``: {"outputs": [...]} or {"error": ...}."""
    outputs, error = _run(model, list(inputs), training=False)
    if error is not None:
        return {"error": error}
    try:
        arrays = as_arrays(outputs)
    except Exception as conversion_error:
        return {"error": describe_error(conversion_error)}
    return {"outputs": [a.tolist() for a in arrays], "shapes": [list(a.shape) for a in arrays]}


def _uses_weights(model: Any, layer: Any) -> bool:
    """Whether every weight of ``layer`` is one of ``model``'s weights (the same object)."""
    model_weights = {id(w) for w in model.weights}
    return bool(layer.weights) and all(id(w) in model_weights for w in layer.weights)


def _sharing_facts(model: Any, lstm: Any, dense: Any) -> Evidence:
    facts = _model_facts(model)
    if not facts["is_model"]:
        return facts
    try:
        facts["lstm_used"] = _uses_weights(model, lstm)
        facts["dense_used"] = _uses_weights(model, dense)
        facts["count_params"] = int(model.count_params())
    except Exception as error:
        facts["facts_error"] = describe_error(error)
    return facts


# --- djmodel -------------------------------------------------------------------------


def _djmodel_build(djmodel: Callable[..., Any], case: reference.TrainingCase) -> tuple[Any, ...]:
    lstm, dense, reshaper = fresh_layers(case.sizes, case.weights())
    model, error = _run(djmodel, case.Tx, lstm, dense, reshaper)
    return model, error, lstm, dense, reshaper


def probe_djmodel_shapes(djmodel: Callable[..., Any]) -> Evidence:
    """Model type, input and output shapes, and the shapes of a real call."""
    case = reference.DJ_SHAPES
    model, error, *_ = _djmodel_build(djmodel, case)
    if error is not None:
        return {"error": error}
    evidence = _model_facts(model)
    if evidence["is_model"]:
        evidence["call"] = _call_model(model, case.inputs("random"))
    return evidence


def probe_djmodel_sharing(djmodel: Callable[..., Any]) -> Evidence:
    """Whether the given layer objects are the model's layers, and its parameter count."""
    model, error, lstm, dense, _ = _djmodel_build(djmodel, reference.DJ_SHARING)
    if error is not None:
        return {"error": error}
    return _sharing_facts(model, lstm, dense)


def probe_djmodel_equivalence(djmodel: Callable[..., Any]) -> Evidence:
    """Outputs on random and on constant sequences, for each equivalence case."""
    cases = []
    for case in reference.DJ_EQUIVALENCE:
        model, error, *_ = _djmodel_build(djmodel, case)
        if error is not None:
            cases.append({"error": error})
            continue
        cases.append(
            {kind: _call_model(model, case.inputs(kind)) for kind in ("random", "constant")}
        )
    return {"cases": cases}


# --- music_inference_model -----------------------------------------------------------


def _inference_build(
    music_inference_model: Callable[..., Any], case: reference.InferenceCase
) -> tuple[Any, ...]:
    lstm, dense, _ = fresh_layers(case.sizes, case.weights())
    model, error = _run(music_inference_model, lstm, dense, Ty=case.Ty)
    return model, error, lstm, dense


def probe_inference_shapes(music_inference_model: Callable[..., Any]) -> Evidence:
    """Model facts and call shapes for Ty > 1 and Ty = 1."""
    cases = []
    for case in reference.INF_SHAPES:
        model, error, *_ = _inference_build(music_inference_model, case)
        if error is not None:
            cases.append({"error": error})
            continue
        facts = _model_facts(model)
        if facts["is_model"]:
            facts["call"] = _call_model(model, case.inputs())
        cases.append(facts)
    return {"cases": cases}


def probe_inference_sharing(music_inference_model: Callable[..., Any]) -> Evidence:
    """Whether the trained layers are the model's layers, and its parameter count."""
    model, error, lstm, dense = _inference_build(music_inference_model, reference.INF_SHARING)
    if error is not None:
        return {"error": error}
    return _sharing_facts(model, lstm, dense)


def probe_inference_greedy(music_inference_model: Callable[..., Any]) -> Evidence:
    """Outputs from (x0, a0, c0) for each greedy case."""
    cases = []
    for case in reference.INF_GREEDY:
        model, error, *_ = _inference_build(music_inference_model, case)
        cases.append({"error": error} if error is not None else _call_model(model, case.inputs()))
    return {"cases": cases}


# --- predict_and_sample --------------------------------------------------------------


def _sampling_model() -> Any:
    """The grader's sampling test model (``grader.reference.SamplingCase``)."""
    case = reference.SAMPLING
    heads = [[w.tolist() for w in head] for head in case.weights().head_lists()]
    return calling.sampling_model(
        {"n_values": case.sizes.n_values, "n_a": case.sizes.n_a, "heads": heads}
    )


def _sample(predict_and_sample: Callable[..., Any], model: Any, variant: str) -> Evidence:
    x, a, c = reference.SAMPLING.initializers(variant)
    result, error = _run(predict_and_sample, model, x, a, c)
    return calling.sample_evidence(result) if error is None else {"error": error}


def probe_sample_shapes(predict_and_sample: Callable[..., Any]) -> Evidence:
    """results and indices from the notebook's (zero) initializers."""
    return _sample(predict_and_sample, _sampling_model(), "zeros")


def probe_sample_initializers(predict_and_sample: Callable[..., Any]) -> Evidence:
    """What the function returns from random initializers (twice) and with each one changed."""
    model = _sampling_model()
    found = {
        variant: _sample(predict_and_sample, model, variant)
        for variant in ("base", *reference.INITIALIZER_VARIANTS)
    }
    found["base_again"] = _sample(predict_and_sample, model, "base")
    return found


PROBES: dict[str, Callable[[Callable[..., Any]], Evidence]] = {
    "test_djmodel_shapes": probe_djmodel_shapes,
    "test_djmodel_sharing": probe_djmodel_sharing,
    "test_djmodel_equivalence": probe_djmodel_equivalence,
    "test_inference_shapes": probe_inference_shapes,
    "test_inference_sharing": probe_inference_sharing,
    "test_inference_greedy": probe_inference_greedy,
    "test_sample_shapes": probe_sample_shapes,
    "test_sample_initializers": probe_sample_initializers,
}


def collect(grade_id: str, function: Any, name: str = "the function") -> Evidence:
    """Run the probe of grade cell ``grade_id`` on ``function``, silently.

    Args:
        grade_id: a grade cell id of ``grader.rubric.GRADE_CELLS``.
        function: the learner's function (or None when the notebook does not define it).
        name: the function's name, for messages.

    Returns:
        The evidence; ``{"error": ...}`` when the function is missing or the probe failed.

    Raises:
        GradingError: ``grade_id`` is not a grade cell of this assignment.
    """
    probe = PROBES.get(grade_id)
    if probe is None:
        raise GradingError(f"no hidden test is called {grade_id!r}")
    if not callable(function):
        return {"error": f"{name} is not defined as a function"}
    with quiet():
        try:
            return probe(function)
        except (Exception, SystemExit) as error:
            return {"error": describe_error(error)}
