"""generate_music: greedy equals the inference model, seeds, bar lines, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jazz_utils.chords import parse_progression
from jazz_utils.corpus import read_piece
from jazz_utils.errors import ChordError, GenerationError
from jazz_utils.generate import generate_music, sample_index
from jazz_utils.grammar import Value
from jazz_utils.piece import to_ticks

keras = pytest.importorskip("keras")

VALUES = sorted(
    f"{kind},{duration}"
    + (",<m2,M2>" if kind != "R" and up else ",<M-2,m-2>" if kind != "R" else "")
    for kind in "CSAR"
    for duration in ("0.500", "1.000", "0.333")
    for up in (True, False)
    if not (kind == "R" and not up)
)
INDICES_VALUES = dict(enumerate(VALUES))
N_VALUES, N_A = len(VALUES), 8
BLUES = parse_progression(
    "| F7 | Bb7 | F7 | F7 | Bb7 | Bb7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7 |"
)


def _inference_model(Ty: int, seed: int = 0):
    """The reference music_inference_model with small random layers."""
    from keras import ops
    from keras.layers import LSTM, Dense, Input, RepeatVector
    from keras.models import Model

    keras.utils.set_random_seed(seed)
    lstm, dense = LSTM(N_A, return_state=True), Dense(N_VALUES, activation="softmax")
    x0, a0, c0 = Input((1, N_VALUES)), Input((N_A,)), Input((N_A,))
    x, a, c, outputs = x0, a0, c0, []
    for _ in range(Ty):
        _, a, c = lstm(x, initial_state=[a, c])
        out = dense(a)
        outputs.append(out)
        x = RepeatVector(1)(ops.one_hot(ops.argmax(out, axis=-1), N_VALUES))
    return Model([x0, a0, c0], outputs)


@pytest.fixture(scope="module")
def model():
    return _inference_model(Ty=40)


def test_diversity_zero_follows_the_inference_models_greedy_path(model) -> None:
    zeros = [
        np.zeros((1, 1, N_VALUES), "float32"),
        np.zeros((1, N_A), "float32"),
        np.zeros((1, N_A), "float32"),
    ]
    greedy = [int(np.argmax(keras.ops.convert_to_numpy(o))) for o in model(zeros)]
    solo = generate_music(model, INDICES_VALUES, BLUES, diversity=0, seed=0, out_path=None)
    steps = min(len(greedy), len(solo.metadata["indices"]))
    assert steps > 8
    assert solo.metadata["indices"][:steps] == greedy[:steps]


def test_same_seed_same_solo_other_seed_other_solo(model) -> None:
    first = generate_music(model, INDICES_VALUES, BLUES, diversity=1.0, seed=11, out_path=None)
    again = generate_music(model, INDICES_VALUES, BLUES, diversity=1.0, seed=11, out_path=None)
    other = generate_music(model, INDICES_VALUES, BLUES, diversity=1.0, seed=12, out_path=None)
    assert first.measures == again.measures
    assert first.metadata["values"] == again.metadata["values"]
    assert other.metadata["values"] != first.metadata["values"]


def test_temperature_changes_the_distribution() -> None:
    rng = np.random.default_rng(0)
    probabilities = np.array([0.6, 0.3, 0.1])
    cold = [sample_index(probabilities, 0.1, rng) for _ in range(300)]
    hot = [sample_index(probabilities, 3.0, rng) for _ in range(300)]
    assert cold.count(0) > 290
    assert hot.count(2) > 50
    assert sample_index(probabilities, 0, rng) == 0


def test_every_measure_is_filled_to_its_bar_line_and_no_further(model) -> None:
    solo = generate_music(model, INDICES_VALUES, BLUES, diversity=1.2, seed=4, out_path=None)
    assert len(solo.measures) == len(BLUES)
    ticks = [Value.parse(v).ticks for v in solo.metadata["played"]]
    assert sum(ticks) == to_ticks(BLUES.total_length)
    for measure in solo.measures:
        ends = [to_ticks(n.end) for n in measure.notes]
        assert all(end <= to_ticks(measure.length) for end in ends)
        starts = [to_ticks(n.offset) for n in measure.notes]
        assert all(b >= a for a, b in zip(ends, starts[1:], strict=False)), "monophonic"


def test_a_typed_progression_and_the_midi_file(model, tmp_path: Path) -> None:
    out = tmp_path / "out" / "my_music.mid"
    solo = generate_music(
        model, INDICES_VALUES, "| Dm7 G7 | Cmaj7 | Dm7 G7 | Cmaj7 |", seed=1, out_path=out
    )
    assert out.exists()
    assert read_piece(out).measures == solo.measures
    assert [s.chord.symbol for m in solo.measures for s in m.chords] == ["Dm7", "G7", "Cmaj7"] * 2


def test_chord_tone_values_land_on_chord_tones(model) -> None:
    solo = generate_music(model, INDICES_VALUES, BLUES, diversity=1.0, seed=2, out_path=None)
    notes = iter([(m, n) for m in solo.measures for n in m.notes])
    for value in solo.metadata["values"]:
        if value.startswith("R"):
            continue
        measure, note = next(notes)
        if value.startswith("C"):
            assert note.pitch % 12 in measure.chord_at(note.offset).pitch_classes


@pytest.mark.parametrize("diversity", [-0.1, float("nan"), "hot"])
def test_bad_diversity(model, diversity: object) -> None:
    with pytest.raises(GenerationError, match="diversity"):
        generate_music(model, INDICES_VALUES, BLUES, diversity=diversity, out_path=None)  # type: ignore[arg-type]


def test_typo_in_the_progression(model) -> None:
    with pytest.raises(ChordError, match="Bar 2.*'Gx7'"):
        generate_music(model, INDICES_VALUES, "| Dm7 | Gx7 |", out_path=None)


def test_vocabulary_that_does_not_fit_the_model(model) -> None:
    with pytest.raises(GenerationError, match="indices_values"):
        generate_music(model, dict(list(INDICES_VALUES.items())[:-1]), BLUES, out_path=None)


def test_a_model_without_its_lstm(model) -> None:
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(N_VALUES)])
    with pytest.raises(GenerationError, match="one shared LSTM"):
        generate_music(plain, INDICES_VALUES, BLUES, out_path=None)


def _bars(solo) -> list[tuple[str, ...]]:
    """Each bar's chosen values, as the realiser placed them (one string per note or rest)."""
    from jazz_utils.grammar import measure_to_values

    return [tuple(measure_to_values(m, None)[0]) for m in solo.measures]


def test_the_loop_guard_stops_greedy_decoding_from_looping(model) -> None:
    long = parse_progression("| F7 | Bb7 | F7 | F7 " * 8 + "|")
    plain = generate_music(model, INDICES_VALUES, long, diversity=0, seed=0, out_path=None)
    guarded = generate_music(
        model, INDICES_VALUES, long, diversity=0, seed=0, out_path=None, max_repeats=2
    )
    indices = guarded.metadata["indices"]
    bar = to_ticks(long[0].length)

    def repeats(chosen: list[int], span: int) -> int:
        """Most times one stretch of values lasting ``span`` ticks is chosen."""
        ticks = [Value.parse(INDICES_VALUES[i]).ticks for i in chosen]
        seen: dict[tuple[int, ...], int] = {}
        for end in range(len(chosen)):
            start, total = end, ticks[end]
            while total < span and start > 0:
                start -= 1
                total += ticks[start]
            if total >= span:
                key = tuple(chosen[start : end + 1])
                seen[key] = seen.get(key, 0) + 1
        return max(seen.values(), default=0)

    assert repeats(plain.metadata["indices"], bar) > 2, "this tiny model loops when greedy"
    assert repeats(indices, bar) <= 2
    assert repeats(indices, 2 * bar) <= 1
    bars = _bars(guarded)
    assert not any(bars[i : i + 2] == bars[i + 2 : i + 4] for i in range(len(bars) - 3))
    default = generate_music(model, INDICES_VALUES, long, diversity=0, seed=0, out_path=None)
    assert default.metadata["indices"] == plain.metadata["indices"], "off by default"


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_max_repeats(model, bad: object) -> None:
    with pytest.raises(GenerationError, match="max_repeats"):
        generate_music(model, INDICES_VALUES, BLUES, out_path=None, max_repeats=bad)  # type: ignore[arg-type]


def test_the_solo_keeps_to_the_register_and_the_beat_grid(model) -> None:
    from jazz_utils.rhythm import off_grid_beats

    for diversity in (0.5, 1.0):
        solo = generate_music(
            model, INDICES_VALUES, BLUES, diversity=diversity, seed=3, out_path=None
        )
        pitches = [n.pitch for m in solo.measures for n in m.notes]
        assert all(53 <= p <= 76 for p in pitches), "bundled corpus's register, on tenor sax"
        assert off_grid_beats(solo)[0] == 0
        assert min(n.duration for m in solo.measures for n in m.notes) >= 0.25
    high = generate_music(
        model, INDICES_VALUES, BLUES, seed=3, out_path=None, register=(67, 72, 79),
        instrument="alto sax",
    )  # fmt: skip
    assert all(67 <= n.pitch <= 79 for m in high.measures for n in m.notes)
