"""The notebook's model, trained the way the notebook trains it (not a benchmark itself).

``bench/music.py`` judges solos from the model a learner gets after the notebook's
training cell: ``n_a = 64``, ``load_music_utils()``'s data, Adam at 0.01, 100 epochs of
the stacked training view, ``keras.utils.set_random_seed(1)``. Training takes about half
a minute on two cores, so the weights are kept in ``~/.cache/jazz_utils/bench/`` under a
key made of the training data and the settings; a change to either trains again.

Imported as ``_notebook_model`` from the scripts' own folder (see ``_timing``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Units of the notebook's LSTM.
N_A = 64
#: Epochs of the notebook's training cell (outside grading).
EPOCHS = 100
#: The notebook's ``keras.utils.set_random_seed``.
SEED = 1


@dataclass
class NotebookModel:
    """A trained inference model and what it was trained on.

    Attributes:
        inference_model: a Keras model holding the trained ``LSTM`` and ``Dense``
            layers, as ``generate_music`` expects.
        indices_values: ``{index: value}`` of the training data.
        chords: the corpus's progression.
        final_loss: the summed loss of the last epoch (None when loaded from the cache).
    """

    inference_model: Any
    indices_values: dict[int, str]
    chords: Any
    final_loss: float | None


def _cache_file(X: np.ndarray, Y: np.ndarray, epochs: int, seed: int) -> Path:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(X).tobytes())
    digest.update(np.ascontiguousarray(Y).tobytes())
    digest.update(f"{N_A}/{epochs}/{seed}".encode())
    root = Path(os.environ.get("JAZZ_UTILS_CACHE") or Path.home() / ".cache" / "jazz_utils")
    return root / "bench" / f"notebook_model-{digest.hexdigest()[:16]}.npz"


def _one_step_model(n_values: int) -> tuple[Any, Any, Any]:
    """A model of the notebook's shared layers, one step: [x, a0, c0] -> probabilities."""
    import keras
    from keras.layers import LSTM, Dense, Input, Reshape

    lstm = LSTM(N_A, return_state=True, unroll=True)
    dense = Dense(n_values, activation="softmax")
    x = Input(shape=(n_values,))
    a0 = Input(shape=(N_A,))
    c0 = Input(shape=(N_A,))
    _, a, _ = lstm(Reshape((1, n_values))(x), initial_state=[a0, c0])
    model = keras.Model([x, a0, c0], dense(a), name="music_inference_model")
    return model, lstm, dense


def notebook_model(epochs: int = EPOCHS, seed: int = SEED, verbose: bool = True) -> NotebookModel:
    """Train (or load) the notebook's model on the bundled corpus.

    Returns:
        A :class:`NotebookModel`; the same settings give the same weights.
    """
    from jazz_utils.quiet_start import quiet_tensorflow

    quiet_tensorflow()
    import keras
    from keras.layers import Input
    from keras.optimizers import Adam

    from jazz_utils.data import load_music_utils
    from jazz_utils.training import (
        even_batch_size,
        stacked_outputs,
        summed_crossentropy,
        time_major_to_batch_major,
    )

    X, Y, n_values, indices_values, chords = load_music_utils()
    cache = _cache_file(X, Y, epochs, seed)
    keras.utils.set_random_seed(seed)
    inference, lstm, dense = _one_step_model(n_values)
    if cache.exists():
        saved = np.load(cache)
        lstm.set_weights([saved[f"lstm{i}"] for i in range(3)])
        dense.set_weights([saved[f"dense{i}"] for i in range(2)])
        return NotebookModel(inference, indices_values, chords, None)

    Tx, m = X.shape[1], X.shape[0]
    inputs = Input(shape=(Tx, n_values))
    a0 = Input(shape=(N_A,))
    c0 = Input(shape=(N_A,))
    a, c = a0, c0
    outputs = []
    for t in range(Tx):
        step = keras.layers.Reshape((1, n_values))(inputs[:, t, :])
        _, a, c = lstm(step, initial_state=[a, c])
        outputs.append(dense(a))
    model = keras.Model([inputs, a0, c0], outputs)
    trainer = stacked_outputs(model)
    trainer.compile(optimizer=Adam(learning_rate=0.01), loss=summed_crossentropy)
    zeros = np.zeros((m, N_A), dtype="float32")
    history = trainer.fit(
        [X, zeros, zeros],
        time_major_to_batch_major(Y),
        epochs=epochs,
        batch_size=even_batch_size(m),
        verbose=0,
    )
    final_loss = float(history.history["loss"][-1])
    if verbose:
        print(f"trained the notebook's model: {epochs} epochs, final loss {final_loss:.3f}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    weights = {f"lstm{i}": w for i, w in enumerate(lstm.get_weights())}
    weights.update({f"dense{i}": w for i, w in enumerate(dense.get_weights())})
    np.savez(cache, **weights)
    return NotebookModel(inference, indices_values, chords, final_loss)
