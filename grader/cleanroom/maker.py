"""The maker: call a learner's graded functions and record what they *made*.

    python -m grader.cleanroom.maker JOB

This is the one place where the batch grader runs extracted learner code for a score
(``grader.cleanroom`` builds the job and reads the result; ``grader.batch.task`` runs this
module in a sandbox of its own). Everything here runs next to learner code, so nothing
it writes is believed: it records *artefacts*, which the grader checks on its own.

- ``djmodel`` and ``music_inference_model`` are called with fresh layers of the job's
  sizes, names and weights; the models they return are serialised (Keras config and
  weights). A separate judge (``grader.cleanroom.modelrun``) rebuilds each model in safe mode and
  runs it on inputs the maker never saw, so a forged artefact only scores if it is a
  model that behaves like the right answer.
- ``predict_and_sample`` is called with the grader's sampling *test model* (not an
  inference model: it answers no exercise) and the job's initializers; its outputs are
  compared with a NumPy reference in the grader.

Each function runs in a child process of its own (forked: a function cannot touch
another's artefacts, and a crash loses only its own), which writes
``artefacts-<index>.json`` in the working folder. The job holds no reference, no
expected output and no judging code; this module imports only the standard library,
NumPy, Keras, ``jazz_utils`` (the layers are made as the public checks make them) and
``grader.calling`` (which imports no more), so that the sandbox can hold it without
holding any answer.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grader.calling import arrays, call, describe_error, quiet, sample_evidence, sampling_model
from jazz_utils.lstm_harness import fresh_layers
from jazz_utils.lstm_reference import Sizes, Weights

ARTEFACT_LIMIT = 20_000_000
"""Largest artefact file the grader reads back, in bytes."""


def given_layers(spec: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The LSTM_cell, densor and reshaper a call hands the learner's function.

    ``spec`` (JSON data): ``n_values``, ``n_a``, ``names`` (``lstm``, ``dense``,
    ``reshaper``) and the weights ``lstm`` [kernel (n_values, 4 n_a), recurrent kernel
    (n_a, 4 n_a), bias (4 n_a,)] and ``dense`` [kernel (n_a, n_values), bias (n_values,)].
    """
    sizes = Sizes(n_values=int(spec["n_values"]), n_a=int(spec["n_a"]))
    return fresh_layers(sizes, Weights.of(spec["lstm"], spec["dense"]), names=spec["names"])


def serialise(model: Any) -> dict[str, Any]:
    """A returned value as an artefact: a model's config and weights, or what it is instead."""
    import keras

    if not isinstance(model, keras.Model):
        return {"not_model": type(model).__name__[:100]}
    try:
        config = model.to_json()
        weights = [np.asarray(w).tolist() for w in model.get_weights()]
    except Exception as error:
        return {"error": f"the model cannot be saved ({describe_error(error)})"}
    if not isinstance(config, str):
        return {"error": "the model's configuration is not text"}
    return {"model": {"config": config, "weights": weights}}


def plain_evidence(artefact: Any) -> dict[str, Any] | None:
    """The evidence of an artefact that holds no model (an error, another type); None for a model.

    Shared by the grader, which needs no judge for these, and the model judge.
    """
    if not isinstance(artefact, dict):
        return {"error": "no result"}
    if "error" in artefact:
        return {"error": str(artefact["error"])[:400]}
    if "not_model" in artefact:
        return {"is_model": False, "type": str(artefact["not_model"])[:100]}
    if not isinstance(artefact.get("model"), dict):
        return {"error": "no result"}
    return None


def _make(function: Callable[..., Any], item: dict[str, Any]) -> dict[str, Any]:
    """One call of the job: its artefact."""
    kind = item["kind"]
    if kind == "sample":
        model = sampling_model(item)
        samples = {}
        for variant, initializers in item["initializers"].items():
            result, error = call(function, model, *arrays(initializers))
            samples[variant] = sample_evidence(result) if error is None else {"error": error}
        return samples
    lstm, dense, reshaper = given_layers(item)
    if kind == "train":
        made, error = call(function, int(item["steps"]), lstm, dense, reshaper)
    else:
        made, error = call(function, lstm, dense, Ty=int(item["steps"]))
    if error is not None:
        return {"error": error}
    return serialise(made)


def diagnose(name: str, function: Callable[..., Any]) -> str | None:
    """What the notebook's public check (``jazz_utils.checks``) says of ``function``.

    The check names a classic mistake in words ("densor is applied to the cell state c");
    its message only ever reaches the learner's own feedback, never a score.
    """
    from jazz_utils import checks

    test = getattr(checks, f"{name}_test", None)
    if test is None:
        return None
    with quiet():
        try:
            test(function)
        except checks.CheckFailure as failure:
            return str(failure)[:1500]
        except (Exception, SystemExit) as error:
            return describe_error(error)
    return None


def make_function(item: dict[str, Any], out: Path) -> None:
    """Define one learner function from its blocks, call it as the job says, write ``out``.

    ``item``: ``function`` (its name), ``blocks`` (the extracted code, in order) and
    ``calls`` (case name -> call spec), or ``diagnose`` (run the public check instead).
    The file is written once, at the end.
    """
    name = item["function"]
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    first_error: str | None = None
    for number, block in enumerate(item["blocks"]):
        with quiet():
            try:
                exec(compile(block, f"<submission: {name}, block {number}>", "exec"), namespace)
            except (Exception, SystemExit) as error:  # a cell that raises, as in the notebook
                first_error = first_error or describe_error(error)
    candidate = namespace.get(name)
    artefacts: dict[str, Any] = {}
    if item.get("diagnose") and callable(candidate):
        artefacts["diagnosis"] = diagnose(name, candidate)
    for case, spec in item.get("calls", {}).items():
        if not callable(candidate):
            why = f"{name} is not defined as a function"
            artefacts[case] = {"error": why + (f" ({first_error})" if first_error else "")}
            continue
        with quiet():
            try:
                artefacts[case] = _make(candidate, spec)
            except (Exception, SystemExit) as error:
                artefacts[case] = {"error": describe_error(error)}
    data = json.dumps({"function": name, "artefacts": artefacts})
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(data)


def _child(item: dict[str, Any], out: Path) -> None:
    """The forked child of one function: its own session, its artefacts, then ``_exit``."""
    code = 1
    try:
        os.setsid()
        make_function(item, out)
        code = 0
    except BaseException as error:  # reported in the sandbox's log; the grader sees no file
        with contextlib.suppress(Exception):
            sys.stderr.write(
                f"grader.cleanroom.maker: {item.get('function')}: {describe_error(error)}\n"
            )
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def run(job_path: Path, timeout: float) -> int:
    """Make every function of the job, each in a forked child, within ``timeout`` seconds.

    Returns:
        0 when every child ended by itself with status 0, else 1 (the grader reads
        whatever artefacts were written and asks for a review).
    """
    import keras  # noqa: F401 - imported once, before the children fork

    job = json.loads(job_path.read_text(encoding="utf-8"))
    deadline = time.monotonic() + timeout
    status = 0
    for index, item in enumerate(job["functions"]):
        out = job_path.parent / f"artefacts-{index}.json"
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:
            _child(item, out)
        status |= _wait(pid, deadline)
    return 1 if status else 0


def _wait(pid: int, deadline: float) -> int:
    """Wait for child ``pid`` until ``deadline``; kill its session; 0 if it ended well."""
    code = 1
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            code = 0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 1
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return code


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.cleanroom.maker JOB [SECONDS]``: artefacts beside JOB.

    Returns 0 when all went well.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print("usage: python -m grader.cleanroom.maker JOB [SECONDS]", file=sys.stderr)
        return 2
    timeout = float(args[1]) if len(args) == 2 else 600.0
    return run(Path(args[0]), timeout)


if __name__ == "__main__":
    sys.exit(main())
