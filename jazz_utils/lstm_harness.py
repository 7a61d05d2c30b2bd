"""The Keras side of testing a learner's model: the layers it is given, what it returns.

The public checks (``jazz_utils.checks``) and the grader's hidden tests drive a learner's
function the same way: they make a fresh ``LSTM_cell``, ``densor`` and ``reshaper`` as
the notebook does (of small, unusual sizes, perhaps carrying known weights), call the
function, run the model it returns eagerly and read its outputs as NumPy arrays, which
``jazz_utils.lstm_reference`` then judges.

Keras is imported when a function here first runs, never at import time.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from jazz_utils.lstm_reference import Sizes, Weights


def load_keras() -> types.ModuleType:
    """The ``keras`` module (imported on first use: it loads TensorFlow)."""
    import keras

    return keras


def fresh_layers(
    sizes: Sizes, weights: Weights | None = None, names: Mapping[str, str] | None = None
) -> tuple[Any, Any, Any]:
    """A new LSTM_cell, densor and reshaper of ``sizes``, as the notebook makes them.

    ``LSTM(n_a, return_state=True)``, ``Dense(n_values, activation="softmax")`` and
    ``Reshape((1, n_values))``.

    Args:
        sizes: n_values and n_a.
        weights: when given, the LSTM is built for inputs (m, 1, n_values), the densor for
            (m, n_a), and both carry these weights; otherwise both are left unbuilt (they
            take the shapes of the learner's first call and Keras's initial weights).
        names: the layers' names by role (``lstm``, ``dense``, ``reshaper``); Keras names
            them when absent.
    """
    keras = load_keras()
    names = names or {}
    lstm = keras.layers.LSTM(sizes.n_a, return_state=True, name=names.get("lstm"))
    dense = keras.layers.Dense(sizes.n_values, activation="softmax", name=names.get("dense"))
    reshaper = keras.layers.Reshape((1, sizes.n_values), name=names.get("reshaper"))
    if weights is not None:
        lstm.build((None, 1, sizes.n_values))
        lstm.set_weights(weights.lstm_list())
        dense.build((None, sizes.n_a))
        dense.set_weights(weights.dense_list())
    return lstm, dense, reshaper


def weights_of(lstm: Any, dense: Any) -> Weights:
    """The weights an LSTM and a Dense layer carry now (both built), as float64."""
    return Weights.of(lstm.get_weights(), dense.get_weights())


def shape_of(tensor: Any) -> list[int | None]:
    """A tensor's shape as a list, None for an unknown (batch) dimension."""
    return [None if d is None else int(d) for d in tuple(tensor.shape)]


def as_arrays(outputs: Any) -> list[np.ndarray]:
    """A model's outputs as a list of float64 arrays, in order.

    Keras 3 returns a single tensor for a model with one output, a list otherwise.
    Anything else (a dict, say) is converted as one value, which may raise.
    """
    ops = load_keras().ops
    if not isinstance(outputs, list | tuple):
        outputs = [outputs]
    return [np.asarray(ops.convert_to_numpy(o), dtype=np.float64) for o in outputs]
