"""A network trained on too little data replays it, and the metrics say so.

Eight bars of one étude, a small LSTM trained until it knows them by heart, a greedy
solo over other chords: the values the network chose are a long verbatim run of the
corpus (low novelty), while the notes as played, cut at other bar lines and
re-pitched over other chords, look much newer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jazz_utils.chords import parse_progression
from jazz_utils.data import load_music_utils, load_piece
from jazz_utils.errors import SmallCorpusWarning
from jazz_utils.generate import generate_music
from jazz_utils.grammar import piece_to_values
from jazz_utils.metrics import solo_metrics

keras = pytest.importorskip("keras")

ETUDE = Path(__file__).resolve().parent.parent / "jazz_utils" / "data" / "blues_f.mid"
WINDOW = (0.0, 32.0)  # eight bars
TX = 12
#: Passes over the training windows (as one epoch of repeated batches: fast).
PASSES = 150


def memorising_model(X: np.ndarray, Y: np.ndarray) -> keras.Model:
    """A 32-unit LSTM trained on every window until it has learnt them by heart."""
    keras.utils.set_random_seed(0)
    n_values = X.shape[-1]
    lstm = keras.layers.LSTM(32, return_sequences=True, return_state=True)
    dense = keras.layers.Dense(n_values, activation="softmax")
    inputs = keras.Input(shape=(None, n_values))
    sequence, _, _ = lstm(inputs)
    model = keras.Model(inputs, dense(sequence))
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="categorical_crossentropy")
    targets = np.swapaxes(Y, 0, 1)
    model.fit(
        np.tile(X, (PASSES, 1, 1)),
        np.tile(targets, (PASSES, 1, 1)),
        batch_size=len(X),
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    return model


def test_novelty_of_the_chosen_values_catches_a_memorised_corpus() -> None:
    with pytest.warns(SmallCorpusWarning, match="1 piece, 8 bars"):
        X, Y, _, indices_values, _ = load_music_utils(ETUDE, Tx=TX, m=36, window=WINDOW)
    model = memorising_model(X, Y)
    corpus = load_piece(ETUDE, window=WINDOW)
    corpus_values = [piece_to_values(corpus)]

    other_chords = parse_progression("| C7 | F7 | C7 | C7 | F7 | F7 | C7 | A7 |")
    solo = generate_music(model, indices_values, other_chords, diversity=0, seed=0, out_path=None)
    metrics = solo_metrics(solo, [corpus], corpus_values)

    chosen = solo.metadata["values"]
    assert metrics.novelty is not None and metrics.novelty <= 0.4
    assert metrics.longest_copied_run is not None and metrics.longest_copied_run >= len(chosen) / 2
    assert metrics.longest_copied_bars is not None and metrics.longest_copied_bars >= 4
    # The notes played hide most of it.
    assert metrics.played_novelty is not None and metrics.played_novelty > metrics.novelty + 0.3
    assert metrics.played_longest_copied_run < metrics.longest_copied_run
