"""The model judge's hands: rebuild the models a learner's code made and run them.

    python -m grader.cleanroom.modelrun JOB OUT

The maker (``grader.cleanroom.maker``) wrote each model a learner's function returned as an
artefact (Keras config and weights). This process, in a sandbox of its own under a user
of its own, runs no learner code: it rebuilds each model with Keras's safe mode (a
``Lambda`` layer's Python code is refused, never run), gives it its weights, and runs it
on the inputs of the job: inputs drawn per batch by the grader and never shown to the
maker. It writes what the models computed (shapes, outputs, which of the given layers
they hold) as the *evidence* the grader's judges score (``grader.judges``).

OUT is signed: an HMAC-SHA256 of its text with the job's key, which no sandbox that ran
learner code ever holds; the grader ignores evidence without a valid signature.
Imports: the standard library, NumPy, Keras and ``jazz_utils``' harness only.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from grader.calling import describe_error, quiet
from grader.cleanroom.maker import plain_evidence
from jazz_utils.lstm_harness import as_arrays, shape_of

MAX_LAYERS = 2_000
"""Most layers a rebuilt model may have (the answers have a few dozen)."""

MAX_PARAMETERS = 5_000_000
"""Most weights a rebuilt model may carry (the answers have a few hundred)."""


LAMBDA = (
    "the model holds a Lambda layer: the grader never runs Python code stored in a model "
    "(use keras.ops or layers for the one-hot step)"
)
"""The judge's word for a model with a ``Lambda`` layer (the grader asks for a review)."""


class ArtefactError(Exception):
    """An artefact that cannot be rebuilt into a model that can be run."""


def rebuild(artefact: dict[str, Any]) -> Any:
    """The keras.Model of an artefact, with its weights, rebuilt in safe mode.

    Raises:
        ArtefactError: the artefact is no model, is too large, or Keras refuses it.
    """
    import keras

    if not isinstance(artefact, dict) or not isinstance(artefact.get("config"), str):
        raise ArtefactError("no model configuration")
    if len(artefact["config"]) > 5_000_000:
        raise ArtefactError("the model's configuration is far too large")
    try:
        config = json.loads(artefact["config"])
        layers = config.get("config", {}).get("layers", [])
        if len(layers) > MAX_LAYERS:
            raise ArtefactError(f"the model has {len(layers)} layers")
        if "Lambda" in {layer.get("class_name") for layer in layers if isinstance(layer, dict)}:
            raise ArtefactError(LAMBDA)
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except ArtefactError:
        raise
    except Exception as error:
        raise ArtefactError(f"the model cannot be rebuilt: {describe_error(error)}") from None
    if not isinstance(model, keras.Model):
        raise ArtefactError(f"the artefact is a {type(model).__name__}, not a keras.Model")
    if model.count_params() > MAX_PARAMETERS:
        raise ArtefactError(f"the model has {model.count_params()} parameters")
    weights = artefact.get("weights")
    if not isinstance(weights, list):
        raise ArtefactError("no weights")
    try:
        model.set_weights([np.asarray(w, dtype=np.float32) for w in weights])
    except Exception as error:
        raise ArtefactError(f"the weights do not fit the model: {describe_error(error)}") from None
    return model


def _holds(model: Any, given: dict[str, Any], kind: str) -> bool:
    """Whether ``model`` has the given layer: its name, its class and its weights."""
    import keras

    expected = [np.asarray(w, dtype=np.float32) for w in given["weights"]]
    wanted = keras.layers.LSTM if kind == "lstm" else keras.layers.Dense
    for layer in model.layers:
        if layer.name != given["name"] or not isinstance(layer, wanted):
            continue
        found = layer.get_weights()
        if len(found) == len(expected) and all(
            a.shape == b.shape and np.array_equal(a, b)
            for a, b in zip(found, expected, strict=True)
        ):
            return True
    return False


def _run(model: Any, inputs: list[Any]) -> dict[str, Any]:
    """Run ``model`` eagerly: {"outputs", "shapes"} or {"error"}."""
    try:
        arrays = [np.asarray(x, dtype=np.float32) for x in inputs]
        found = as_arrays(model(arrays, training=False))
    except Exception as error:
        return {"error": describe_error(error)}
    return {"outputs": [a.tolist() for a in found], "shapes": [list(a.shape) for a in found]}


def judge_artefact(run: dict[str, Any]) -> dict[str, Any]:
    """The evidence of one artefact: model facts, given layers held, outputs per input kind."""
    artefact = run.get("artefact")
    plain = plain_evidence(artefact)
    if plain is not None:
        return plain
    try:
        model = rebuild(artefact["model"])
    except ArtefactError as error:
        return {"error": str(error)}
    facts: dict[str, Any] = {"is_model": True}
    try:
        facts["inputs"] = [shape_of(t) for t in model.inputs]
        facts["outputs"] = [shape_of(t) for t in model.outputs]
        facts["count_params"] = int(model.count_params())
        facts["lstm_used"] = _holds(model, run["given"]["lstm"], "lstm")
        facts["dense_used"] = _holds(model, run["given"]["dense"], "dense")
    except Exception as error:
        facts["facts_error"] = describe_error(error)
        return facts
    facts["runs"] = {kind: _run(model, inputs) for kind, inputs in run["inputs"].items()}
    return facts


def sign(key: bytes, text: bytes) -> str:
    """The HMAC-SHA256 of ``text`` under ``key``, hex."""
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def run(job_path: Path, out_path: Path) -> int:
    """Judge every artefact of the job; write the signed evidence to ``out_path``."""
    job = json.loads(job_path.read_text(encoding="utf-8"))
    key = bytes.fromhex(job["key"])
    with quiet():
        import keras  # noqa: F401 - silenced: TensorFlow's start-up messages

        evidence = {name: judge_artefact(item) for name, item in job["runs"].items()}
    text = json.dumps(evidence).encode()
    signed = json.dumps({"evidence": text.decode(), "signature": sign(key, text)})
    descriptor = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(signed)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.cleanroom.modelrun JOB OUT``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m grader.cleanroom.modelrun JOB OUT", file=sys.stderr)
        return 2
    code = run(Path(args[0]), Path(args[1]))
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
