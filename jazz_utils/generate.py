"""Generate a solo with a trained LSTM over any chord progression.

:func:`generate_music` takes the learner's inference model, finds the trained
``LSTM`` and ``Dense`` layers inside it, and runs them one step at a time:

1. the LSTM reads the previous value (one-hot) and its state ``(a, c)``;
2. the Dense layer turns ``a`` into probabilities over the vocabulary;
3. the next value is sampled at temperature ``diversity`` (0 takes the most
   likely value, exactly the inference model's greedy path);
4. :class:`jazz_utils.grammar.Realiser` turns the value into a note over the
   chord sounding at that moment, on the beat grid, in the training data's register.

The state is never reset, so each measure continues the line of the one
before, and values are drawn until the last bar is full. The network runs a
few values ahead of the realiser, so that each pitch is chosen knowing what follows.
With ``max_repeats`` a :class:`RepeatGuard` keeps the line from looping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from jazz_utils.chords import as_progression
from jazz_utils.errors import GenerationError
from jazz_utils.grammar import LOOKAHEAD, Realiser, Value
from jazz_utils.piece import Piece, Progression, to_ticks
from jazz_utils.register import CORPUS_REGISTER, Register, register_for

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


def sample_index(
    probabilities: np.ndarray,
    diversity: float,
    rng: np.random.Generator,
    exclude: Collection[int] = (),
) -> int:
    """Draw an index from a probability vector at temperature ``diversity``.

    Args:
        probabilities: shape ``(n_values,)``, non-negative.
        diversity: 0 picks the most likely index; 1 samples the distribution as is;
            larger values flatten it, smaller ones sharpen it.
        rng: the random generator (only used when ``diversity > 0``).
        exclude: indices never to draw (ignored when it would exclude every index).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if exclude and len(set(exclude)) < len(probabilities):
        probabilities = probabilities.copy()
        probabilities[list(exclude)] = -1.0 if diversity == 0 else 0.0
    if diversity == 0:
        return int(np.argmax(probabilities))
    logits = np.log(np.clip(probabilities, 1e-12, None)) / diversity
    weights = np.exp(logits - logits.max())
    if exclude and len(set(exclude)) < len(weights):
        weights[list(exclude)] = 0.0
    return int(rng.choice(len(weights), p=weights / weights.sum()))


class RepeatGuard:
    """Keeps a generated line from looping: the guard of ``generate_music(max_repeats=n)``.

    A *stretch* is the shortest run of values, ending with the newest, that lasts at
    least one bar (or two). A value is *blocked* when choosing it would make a one-bar
    stretch occur more than ``max_repeats`` times in the line, or a two-bar stretch
    occur twice (the same two bars played again: a loop).

    Args:
        durations: ``{index: ticks}`` of every value of the vocabulary.
        bar_ticks: length of one bar in grid ticks.
        max_repeats: how often the same bar's worth of values may be chosen (>= 1).
    """

    def __init__(self, durations: dict[int, int], bar_ticks: int, max_repeats: int):
        self.durations = durations
        self.limits = ((bar_ticks, max_repeats), (2 * bar_ticks, 1))
        self.chosen: list[int] = []
        self.counts: list[Counter[tuple[int, ...]]] = [Counter(), Counter()]

    def _stretch(self, index: int, ticks: int) -> tuple[int, ...] | None:
        total, start = self.durations[index], len(self.chosen)
        while total < ticks and start > 0:
            start -= 1
            total += self.durations[self.chosen[start]]
        return (*self.chosen[start:], index) if total >= ticks else None

    def blocked(self) -> set[int]:
        """The indices that may not come next."""
        blocked = set()
        for index in self.durations:
            for (ticks, limit), counts in zip(self.limits, self.counts, strict=True):
                stretch = self._stretch(index, ticks)
                if stretch is not None and counts[stretch] >= limit:
                    blocked.add(index)
        return blocked

    def push(self, index: int) -> None:
        """Record the value chosen next."""
        for (ticks, _), counts in zip(self.limits, self.counts, strict=True):
            stretch = self._stretch(index, ticks)
            if stretch is not None:
                counts[stretch] += 1
        self.chosen.append(index)


def generate_music(
    inference_model: Any,
    indices_values: dict[int, str],
    chords: Progression | str,
    diversity: float = 0.5,
    seed: int | None = None,
    out_path: str | Path | None = DEFAULT_OUTPUT,
    tempo: float = 130.0,
    instrument: str = "tenor sax",
    register: Register | tuple[int, int, int] | None = None,
    max_repeats: int | None = None,
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
        instrument: solo instrument of the written file; the line keeps to the part of
            ``register`` that instrument usually plays (see
            :func:`jazz_utils.register.register_for`).
        register: ``(low, centre, high)`` MIDI pitches the line keeps to, pulled toward
            ``centre``; the training data's, e.g. ``register_of(load_pieces(source))``.
            None: the bundled corpus's (F3-G5 around F4; E5 at the top on tenor sax).
        max_repeats: None (the default) leaves the network's choices alone. A whole
            number n guards against loops, which greedy decoding (``diversity=0``) falls
            into: no bar's worth of values is chosen more than n times and no two bars'
            worth is chosen twice; a value that would break this is passed over for the
            most likely (or, above diversity 0, a sampled) one that does not.

    Returns:
        The solo as a :class:`~jazz_utils.piece.Piece`. Its ``metadata`` holds
        ``"values"`` and ``"indices"`` (what the network chose, step by step: one per
        note or rest, in order) and ``"played"`` (``piece_to_values`` of the notes played:
        cut at bar lines, moved onto the beat grid, leaps as taken, rests merged).

    Raises:
        GenerationError: a negative diversity, a ``max_repeats`` that is not a whole
            number >= 1, or a vocabulary that does not fit the model.
        GrammarError: a register that is not three MIDI pitches low <= centre <= high.
        ChordError: a progression that cannot be read.
    """
    import keras

    try:
        diversity = float(diversity)
    except (TypeError, ValueError):
        raise GenerationError(f"diversity must be a number >= 0, not {diversity!r}.") from None
    if not diversity >= 0 or not np.isfinite(diversity):
        raise GenerationError(f"diversity must be a number >= 0 (0 is greedy), not {diversity}.")
    if max_repeats is not None and (
        isinstance(max_repeats, bool)
        or not isinstance(max_repeats, int | np.integer)
        or max_repeats < 1
    ):
        raise GenerationError(
            f"max_repeats must be None (no guard) or a whole number >= 1, not {max_repeats!r}."
        )
    progression = as_progression(chords)
    lstm, dense = find_trained_layers(inference_model)
    n_values = int(dense.units)
    if sorted(indices_values) != list(range(n_values)):
        raise GenerationError(
            f"indices_values has {len(indices_values)} values but the model predicts {n_values}; "
            "pass the indices_values returned with the data the model was trained on."
        )
    rng = np.random.default_rng(seed)
    fitted = register_for(instrument, CORPUS_REGISTER if register is None else register)
    realiser = Realiser(
        progression, seed=int(rng.integers(2**31)), register=fitted, rephase_rests=True
    )
    n_a = int(lstm.units)
    state = (np.zeros((1, n_a), dtype=np.float32), np.zeros((1, n_a), dtype=np.float32))
    indices: list[int] = []
    guard = None
    if max_repeats is not None:
        durations = {i: Value.parse(v).ticks for i, v in indices_values.items()}
        guard = RepeatGuard(durations, to_ticks(progression[0].length), max_repeats)

    def step(previous: int | None) -> int:
        nonlocal state
        x = np.zeros((1, 1, n_values), dtype=np.float32)
        if previous is not None:
            x[0, 0, previous] = 1.0
        _, a, c = lstm(x, initial_state=list(state))
        state = (a, c)
        probabilities = keras.ops.convert_to_numpy(dense(a))[0]
        if guard is None:
            return sample_index(probabilities, diversity, rng)
        index = sample_index(probabilities, diversity, rng, exclude=guard.blocked())
        guard.push(index)
        return index

    # The network runs LOOKAHEAD values ahead of the realiser (its choices never depend
    # on the pitches played), so that each pitch is chosen knowing what follows.
    ahead = [step(None)]
    while len(ahead) <= LOOKAHEAD:
        ahead.append(step(ahead[-1]))
    while not realiser.done:
        index = ahead.pop(0)
        realiser.add(indices_values[index], upcoming=[indices_values[i] for i in ahead])
        indices.append(index)
        ahead.append(step(ahead[-1]))
    values = [indices_values[i] for i in indices]
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
