"""Generate a solo with a trained LSTM over any chord progression.

:func:`generate_music` takes the learner's inference model, finds the trained
``LSTM`` and ``Dense`` layers inside it, and runs them one step at a time:

1. the LSTM reads the previous value (one-hot) and its state ``(a, c)``;
2. the Dense layer turns ``a`` into probabilities over the vocabulary;
3. the next value is sampled at temperature ``diversity`` (0 takes the most
   likely value, exactly the inference model's greedy path);
4. :class:`jazz_utils.grammar.Realiser` turns the value into a note over the
   chord sounding at that moment, shortening it at the bar line.

The state is never reset, so each measure continues the line of the one
before, and values are drawn until the last bar is full.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jazz_utils.chords import as_progression
from jazz_utils.errors import GenerationError
from jazz_utils.grammar import Realiser, Value
from jazz_utils.piece import Piece, Progression

#: Where generate_music writes its MIDI file unless told otherwise.
DEFAULT_OUTPUT = Path("output") / "my_music.mid"


def find_trained_layers(model: Any) -> tuple[Any, Any]:
    """The LSTM and the Dense layer of an inference model.

    Raises:
        GenerationError: the model does not hold exactly one LSTM and one Dense layer.
    """
    import keras

    layers = list(getattr(model, "layers", []))
    lstms = [layer for layer in layers if isinstance(layer, keras.layers.LSTM)]
    denses = [layer for layer in layers if isinstance(layer, keras.layers.Dense)]
    if len(lstms) != 1 or len(denses) != 1:
        raise GenerationError(
            "generate_music needs the inference model built by music_inference_model: one "
            f"shared LSTM and one shared Dense layer (this model has {len(lstms)} LSTM and "
            f"{len(denses)} Dense layers)."
        )
    return lstms[0], denses[0]


def sample_index(probabilities: np.ndarray, diversity: float, rng: np.random.Generator) -> int:
    """Draw an index from a probability vector at temperature ``diversity``.

    Args:
        probabilities: shape ``(n_values,)``, non-negative.
        diversity: 0 picks the most likely index; 1 samples the distribution as is;
            larger values flatten it, smaller ones sharpen it.
        rng: the random generator (only used when ``diversity > 0``).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if diversity == 0:
        return int(np.argmax(probabilities))
    logits = np.log(np.clip(probabilities, 1e-12, None)) / diversity
    weights = np.exp(logits - logits.max())
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def generate_music(
    inference_model: Any,
    indices_values: dict[int, str],
    chords: Progression | str,
    diversity: float = 0.5,
    seed: int | None = None,
    out_path: str | Path | None = DEFAULT_OUTPUT,
    tempo: float = 130.0,
    instrument: str = "tenor sax",
) -> Piece:
    """Generate a solo over ``chords`` with the trained layers of ``inference_model``.

    Args:
        inference_model: the model from ``music_inference_model`` (its LSTM and Dense
            layers are used step by step; its own ``Ty`` does not limit the solo).
        indices_values: ``{index: value}`` from ``load_music_utils``.
        chords: a :class:`~jazz_utils.piece.Progression` (e.g. ``chords[:12]`` from
            ``load_music_utils``) or progression text like ``"| F7 | Bb7 | F7 | F7 |"``.
        diversity: sampling temperature, >= 0; 0 is greedy.
        seed: seeds sampling and pitch choices; the same seed gives the same solo.
        out_path: where to write the MIDI file (None writes nothing).
        tempo: quarter notes per minute of the written file.
        instrument: solo instrument of the written file.

    Returns:
        The solo as a :class:`~jazz_utils.piece.Piece`. Its ``metadata`` holds
        ``"values"`` and ``"indices"`` (what the network chose, step by step) and
        ``"played"`` (the same values with the last of each bar shortened to the bar line).

    Raises:
        GenerationError: a negative diversity, or a vocabulary that does not fit the model.
        ChordError: a progression that cannot be read.
    """
    import keras

    try:
        diversity = float(diversity)
    except (TypeError, ValueError):
        raise GenerationError(f"diversity must be a number >= 0, not {diversity!r}.") from None
    if not diversity >= 0 or not np.isfinite(diversity):
        raise GenerationError(f"diversity must be a number >= 0 (0 is greedy), not {diversity}.")
    progression = as_progression(chords)
    lstm, dense = find_trained_layers(inference_model)
    n_values = int(dense.units)
    if sorted(indices_values) != list(range(n_values)):
        raise GenerationError(
            f"indices_values has {len(indices_values)} values but the model predicts {n_values}; "
            "pass the indices_values returned with the data the model was trained on."
        )
    rng = np.random.default_rng(seed)
    realiser = Realiser(progression, seed=int(rng.integers(2**31)))
    n_a = int(lstm.units)
    a = np.zeros((1, n_a), dtype=np.float32)
    c = np.zeros((1, n_a), dtype=np.float32)
    x = np.zeros((1, 1, n_values), dtype=np.float32)
    indices: list[int] = []
    values: list[str] = []
    while not realiser.done:
        _, a, c = lstm(x, initial_state=[a, c])
        probabilities = keras.ops.convert_to_numpy(dense(a))[0]
        index = sample_index(probabilities, diversity, rng)
        value = Value.parse(indices_values[index])
        realiser.add(value)
        indices.append(index)
        values.append(indices_values[index])
        x = np.zeros((1, 1, n_values), dtype=np.float32)
        x[0, 0, index] = 1.0
    solo = realiser.piece(tempo=tempo, name="my_music", source="generate_music")
    solo.metadata.update(
        {
            "values": values,
            "indices": indices,
            "played": list(realiser.values_used),
            "diversity": diversity,
            "seed": seed,
        }
    )
    if out_path is not None:
        from jazz_utils.midi_io import write_midi

        write_midi(solo, out_path, tempo=tempo, instrument=instrument)
    return solo
