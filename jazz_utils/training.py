"""Train the learner's many-output model quickly, with a log a person can read.

The model ``djmodel`` returns has one output per time step. Given to ``fit`` as it
is, Keras keeps a loss and an accuracy for each of the ``Tx`` outputs: ``2 * Tx``
numbers per epoch, and as many small computations in the training graph, which
is most of what the first epoch spends building it (and builds again for a last
batch of another size, which :func:`even_batch_size` avoids).
:func:`stacked_outputs` puts the ``Tx`` outputs side by side as one output of
shape ``(m, Tx, n_values)``; trained with :func:`summed_crossentropy` it follows
exactly the loss Keras would have summed over the outputs, and one ``"accuracy"``
is the mean accuracy over the time steps. The layers, and so the weights, are the learner's own.

:class:`EpochLog` prints one line every few epochs (loss, mean accuracy, time)
and says, before the first epoch, that the first one also builds the graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

import keras
import numpy as np
from keras import ops

from jazz_utils.errors import TrainingError


def summed_crossentropy(y_true: Any, y_pred: Any) -> Any:
    """Categorical cross-entropy summed over the time steps.

    Args:
        y_true: one-hot targets, shape ``(m, Tx, n_values)``.
        y_pred: predicted probabilities, shape ``(m, Tx, n_values)``.

    Returns:
        Shape ``(m,)``: for each example, the sum over the ``Tx`` steps of its
        cross-entropy. Averaged over a batch (Keras does that) it equals the sum of
        the ``Tx`` per-output losses of the unstacked model.
    """
    return ops.sum(keras.losses.categorical_crossentropy(y_true, y_pred), axis=-1)


def stacked_outputs(model: keras.Model, name: str | None = None) -> keras.Model:
    """A view of ``model`` whose ``Tx`` outputs form one tensor, for training.

    Args:
        model: a functional model with a list of ``Tx`` outputs, each
            ``(m, n_values)`` (what ``djmodel`` returns).
        name: the view's name (default: the model's name + ``"_stacked"``).

    Returns:
        A model with the same inputs and the same layers (training it trains
        ``model``), whose one output is ``(m, Tx, n_values)``: output ``t`` at
        ``[:, t, :]``.

    Raises:
        TrainingError: ``model`` is not a Keras model with symbolic outputs, or
            its outputs do not all have the same shape ``(m, n_values)``.
    """
    if not isinstance(model, keras.Model):
        raise TrainingError(f"stacked_outputs needs a keras.Model, not {type(model).__name__}.")
    try:
        outputs = model.outputs
    except (AttributeError, ValueError) as exc:  # a subclassed model has no symbolic outputs
        raise TrainingError(
            "stacked_outputs needs a functional model (built with Model(inputs, outputs))."
        ) from exc
    outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
    shapes = {tuple(o.shape[1:]) for o in outputs}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise TrainingError(
            "stacked_outputs needs outputs that are all (m, n_values); "
            f"this model's are {sorted(str(tuple(o.shape)) for o in outputs)[:3]}."
        )
    stacked = ops.stack(outputs, axis=1)
    return keras.Model(inputs=model.inputs, outputs=stacked, name=name or f"{model.name}_stacked")


def time_major_to_batch_major(Y: np.ndarray) -> np.ndarray:
    """Targets laid out for :func:`stacked_outputs`.

    Args:
        Y: one-hot targets, shape ``(Ty, m, n_values)`` (``Y[t]`` is step ``t``).

    Returns:
        The same values, shape ``(m, Ty, n_values)``.

    Raises:
        TrainingError: ``Y`` is not three-dimensional.
    """
    Y = np.asarray(Y)
    if Y.ndim != 3:
        raise TrainingError(f"Y must be (Ty, m, n_values); it has shape {Y.shape}.")
    return np.ascontiguousarray(np.swapaxes(Y, 0, 1))


def even_batch_size(m: int, largest: int = 32) -> int:
    """A batch size that cuts ``m`` examples into equal batches, when one is near ``largest``.

    Keras builds the training graph for the shape of the first batch, and once more
    for a last batch of another size (``m = 60`` in batches of 32 leaves one of 28):
    equal batches halve the wait of the first epoch.

    Args:
        m: the number of training examples.
        largest: the largest batch size wanted (Keras's default is 32).

    Returns:
        The largest divisor of ``m`` from ``largest // 2`` to ``largest``; ``m`` itself
        when ``m <= largest``; ``largest`` when no divisor is in that range.

    Raises:
        TrainingError: ``m`` or ``largest`` is not a positive whole number.
    """
    for name, number in (("m", m), ("largest", largest)):
        if isinstance(number, bool) or not isinstance(number, int | np.integer) or number < 1:
            raise TrainingError(f"{name} must be a positive whole number, not {number!r}.")
    if m <= largest:
        return int(m)
    for size in range(largest, largest // 2 - 1, -1):
        if size > 0 and m % size == 0:
            return size
    return int(largest)


class EpochLog(keras.callbacks.Callback):
    """Print one short line every few epochs while ``fit`` runs.

    Before the first epoch it says that the first epoch also builds the training
    graph; then, for epoch 1, every ``every``-th epoch and the last, a line with
    the loss, the mean accuracy when the model reports one, and the seconds so far.

    Attributes:
        epoch_seconds: seconds each epoch took (the first includes the graph build).
    """

    def __init__(
        self,
        every: int = 10,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Args:
        every: print every this many epochs (and the first and the last).
        stream: where to print (default: standard output at the time of printing).
        clock: seconds, for tests.
        """
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise TrainingError(f"every must be a positive whole number, not {every!r}.")
        self.every = every
        self.stream = stream
        self.clock = clock
        self.epoch_seconds: list[float] = []
        self._epochs = 0
        self._started = 0.0
        self._epoch_started = 0.0

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._epochs = int(self.params.get("epochs") or 0)
        self._started = self.clock()
        self.epoch_seconds = []
        self._print(
            f"training for {self._epochs} epochs; the first one also builds the training "
            "graph, which takes longest (5-15 s on 2 CPU cores)"
        )

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_started = self.clock()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = self.clock()
        self.epoch_seconds.append(now - self._epoch_started)
        number = epoch + 1
        if number != 1 and number % self.every and number != self._epochs:
            return
        logs = logs or {}
        parts = [f"epoch {number:>{len(str(self._epochs))}}/{self._epochs}"]
        if "loss" in logs:
            parts.append(f"loss {float(logs['loss']):8.3f}")
        if "accuracy" in logs:
            parts.append(f"mean accuracy {float(logs['accuracy']):.3f}")
        parts.append(f"{now - self._started:5.1f} s")
        self._print("  ".join(parts))

    def seconds_per_epoch(self) -> float:
        """Median seconds of an epoch after the first (which builds the graph).

        Raises:
            TrainingError: fewer than two epochs were run.
        """
        if len(self.epoch_seconds) < 2:
            raise TrainingError("seconds_per_epoch needs a fit of at least two epochs.")
        return float(np.median(self.epoch_seconds[1:]))
