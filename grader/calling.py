"""Calling learner code: quietly, its errors described, its sampling outputs as data.

Shared by the notebook's hidden tests (``grader.probes``, in the learner's kernel under
plain ``nbgrader autograde``) and the clean room's maker (``grader.cleanroom.maker``, in
a sandbox). Like the maker, it imports only the standard library, NumPy and Keras, and
holds no reference, expected output or test case: the sandboxes' copy of the code holds
it (``grader.sandbox.software``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

MESSAGE_LIMIT = 300
"""Longest error message kept from learner code, in characters."""


def describe_error(error: BaseException) -> str:
    """A one-line, length-limited description of an exception raised by learner code."""
    try:
        text = " ".join(str(error).split())
    except Exception:  # an exception whose message cannot be read
        text = ""
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence everything printed while learner code and Keras run.

    Python-level stdout/stderr go to buffers, file descriptors 1 and 2 to the null
    device (TensorFlow's C++ logging writes there), warnings and logging are off.
    A grade cell therefore never writes to stderr, whatever the learner's code prints.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved_fds: list[tuple[int, int]] = []
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                saved_fds.append((fd, os.dup(fd)))
                os.dup2(devnull, fd)
        previous_disable = logging.root.manager.disable
        logging.disable(logging.CRITICAL)
        try:
            with (
                warnings.catch_warnings(),
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                warnings.simplefilter("ignore")
                yield
        finally:
            logging.disable(previous_disable)
    finally:
        for fd, saved in saved_fds:
            with contextlib.suppress(OSError):
                os.dup2(saved, fd)
                os.close(saved)
        os.close(devnull)


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """Call learner code; return (result, None) or (None, description of what it raised)."""
    try:
        return function(*args, **kwargs), None
    except (Exception, SystemExit) as error:  # learner code may raise anything
        return None, describe_error(error)


def arrays(values: list[Any]) -> list[np.ndarray]:
    """JSON lists as float32 arrays (weights and initializers as a job gives them)."""
    return [np.asarray(v, dtype=np.float32) for v in values]


def sampling_model(spec: dict[str, Any]) -> Any:
    """The sampling test model of ``grader.reference.SamplingCase`` as a keras.Model.

    Inputs x0 (m, 1, n_values), a0 and c0 (m, n_a); ``spec["heads"]`` holds each step's
    Dense weights [kernel (n_values + 2 n_a, n_values), bias (n_values,)].
    """
    import keras

    n_values, n_a = int(spec["n_values"]), int(spec["n_a"])
    x0 = keras.Input(shape=(1, n_values))
    a0 = keras.Input(shape=(n_a,))
    c0 = keras.Input(shape=(n_a,))
    features = keras.layers.Concatenate()([keras.layers.Reshape((n_values,))(x0), a0, c0])
    outputs = []
    for weights in spec["heads"]:
        head = keras.layers.Dense(n_values, activation="softmax")
        outputs.append(head(features))
        head.set_weights(arrays(weights))
    return keras.Model(inputs=[x0, a0, c0], outputs=outputs)


def sample_evidence(result: Any) -> dict[str, Any]:
    """What ``predict_and_sample`` returned, as JSON data (or the error in it)."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return {"error": f"expected (results, indices), got {type(result).__name__}"}
    try:
        results = np.asarray(result[0], dtype=np.float64)
        indices = np.asarray(result[1])
        integral = bool(np.issubdtype(indices.dtype, np.integer)) or bool(
            np.issubdtype(indices.dtype, np.floating) and np.all(np.mod(indices, 1) == 0)
        )
        if results.size > 100_000 or indices.size > 100_000:
            return {"error": "the results are far larger than the model's outputs"}
        return {
            "results": results.tolist(),
            "results_shape": list(results.shape),
            "indices": indices.astype(np.float64).tolist(),
            "indices_shape": list(indices.shape),
            "indices_integral": integral,
        }
    except Exception as error:
        return {"error": describe_error(error)}
