"""Benchmark: how the notebook's network plays, measured as a jazz teacher listens.

Generates ``--solos`` solos (seeds 0, 1, ...) over each of three progressions (the
corpus's first 16 bars, a 12-bar blues in F and a 32-bar AABA on rhythm changes in Bb)
at diversities 0, 0.5, 1 and 1.5, from the model the notebook trains
(``_notebook_model``: trained once, then cached). Beside them, in the same run and
realised the same way (through ``generate_music``):

- the corpus: each bundled étude measured against the others;
- two random-values baselines: values drawn by their frequency in the corpus, and
  uniformly from the vocabulary (a model whose output ignores its input).

It prints every measure of :class:`jazz_utils.metrics.SoloMetrics` side by side (the
mean over the solos of a column unless the row says otherwise), then checks the floors
of issue 14, PASS or FAIL each, and exits with status 1 when one fails (``--no-fail``
to exit 0 anyway).

When ``generate_music`` takes a loop guard (a parameter whose name holds "loop" or
"repeat"), every solo of ours is generated with it on; ``--loop-guard NAME=VALUE``
names it and its value.

    python bench/music.py [--solos 3] [--no-fail] [--loop-guard NAME=VALUE]
"""

from __future__ import annotations

import argparse
import ast
import inspect
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from _notebook_model import notebook_model  # this folder, as the script runs (see _timing)

from jazz_utils.chords import parse_progression, pitch_name
from jazz_utils.data import load_pieces
from jazz_utils.generate import generate_music
from jazz_utils.grammar import piece_to_values
from jazz_utils.metrics import SoloMetrics, solo_metrics
from jazz_utils.piece import Piece, Progression

DIVERSITIES = (0.0, 0.5, 1.0, 1.5)
BLUES_IN_F = "| F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | Am7 D7 | Gm7 | C7 | F7 D7 | Gm7 C7 |"
_RHYTHM_A = "| Bbmaj7 G7 | Cm7 F7 | Dm7 G7 | Cm7 F7 | Fm7 Bb7 | Ebmaj7 Ab7 | Dm7 G7 | Cm7 F7 |"
_RHYTHM_B = "| D7 | D7 | G7 | G7 | C7 | C7 | F7 | F7 |"
#: 32 bars, AABA: rhythm changes in Bb.
AABA_32 = " ".join([_RHYTHM_A, _RHYTHM_A, _RHYTHM_B, _RHYTHM_A]).replace("| |", "|")
#: The progression the two-bar-loop floor is checked on.
LOOP_PROGRESSION = "32-bar AABA"


@dataclass(frozen=True)
class Row:
    """One measure of the table: its label, how to read it from a solo's metrics, how
    to gather it over a column's solos (``mean``, ``max``, ``min``, ``sum``) and how to
    print it (``share``, ``number``, ``int``, ``pitch``)."""

    label: str
    read: Callable[[SoloMetrics], float | None]
    gather: str = "mean"
    kind: str = "share"


ROWS = (
    Row("notes", lambda s: s.n_notes, kind="number"),
    Row("chord tones, strong beats", lambda s: s.chord_tone_share_strong),
    Row("chord tones, all notes", lambda s: s.chord_tone_share),
    Row("approach tones", lambda s: s.approach_share),
    Row("outside tones", lambda s: s.outside_share),
    Row("guide tones on chord changes", lambda s: s.guide_tone_share_on_changes),
    Row("approach tones resolved by step", lambda s: s.approach_resolution_share),
    Row("lowest pitch (min)", lambda s: s.pitch_range and s.pitch_range[0], "min", "pitch"),
    Row("highest pitch (max)", lambda s: s.pitch_range and s.pitch_range[1], "max", "pitch"),
    Row("notes inside the training range", lambda s: s.inside_training_range_share),
    Row("leaps over an octave", lambda s: s.leaps_over_octave, kind="number"),
    Row("rests (time)", lambda s: s.rest_share),
    Row("blips, notes under 1/16 (sum)", lambda s: s.blips, "sum", "int"),
    Row("beats off the grid", lambda s: s.off_grid_beat_share),
    Row("beats off the grid (max)", lambda s: s.off_grid_beat_share, "max"),
    Row("distinct values", lambda s: s.distinct_values, kind="number"),
    Row("longest repeated-note run (max)", lambda s: s.longest_repeated_run, "max", "int"),
    Row("most repeats of one bar (max)", lambda s: s.bar_repeats, "max", "int"),
    Row("longest two-bar loop, bars (max)", lambda s: s.longest_two_bar_loop, "max", "number"),
    Row("pitch classes vs corpus: overlap", lambda s: s.pitch_class_overlap, kind="number"),
    Row("pitch classes vs corpus: KL", lambda s: s.pitch_class_kl, kind="number"),
    Row("durations vs corpus: overlap", lambda s: s.duration_overlap, kind="number"),
    Row("durations vs corpus: KL", lambda s: s.duration_kl, kind="number"),
    Row("values chosen: novelty", lambda s: s.novelty, kind="number"),
    Row("values chosen: novelty (min)", lambda s: s.novelty, "min", "number"),
    Row("values chosen: longest copy (max)", lambda s: s.longest_copied_run, "max", "int"),
    Row("  the same in bars (max)", lambda s: s.longest_copied_bars, "max", "number"),
    Row("notes played: novelty", lambda s: s.played_novelty, kind="number"),
    Row("notes played: longest copy (max)", lambda s: s.played_longest_copied_run, "max", "int"),
    Row("  the same in bars (max)", lambda s: s.played_longest_copied_bars, "max", "number"),
)  # fmt: skip


@dataclass(frozen=True)
class Floor:
    """A target of issue 14: a row's gathered value over some solos, and its bound."""

    label: str
    row: Row
    column: str
    progression: str | None
    bound: float
    at_least: bool

    def holds(self, value: float | None) -> bool:
        """Whether ``value`` meets the floor (None, no cases, never does)."""
        if value is None:
            return False
        return value >= self.bound if self.at_least else value <= self.bound


def _row(label: str) -> Row:
    return next(row for row in ROWS if row.label == label)


FLOORS = (
    Floor("strong-beat chord tones >= 0.95 at 0.5", _row("chord tones, strong beats"),
          "d=0.5", None, 0.95, True),
    Floor("guide tones on chord changes >= 0.5 at 0.5", _row("guide tones on chord changes"),
          "d=0.5", None, 0.5, True),
    Floor("approach resolution >= 0.8 at 0.5", _row("approach tones resolved by step"),
          "d=0.5", None, 0.8, True),
    Floor(">= 95% of notes inside the training range at 0.5",
          _row("notes inside the training range"), "d=0.5", None, 0.95, True),
    *(Floor(f"0 blips at {d:g}", _row("blips, notes under 1/16 (sum)"), f"d={d:g}", None,
            0, False) for d in DIVERSITIES if d <= 1),
    *(Floor(f"0 off-grid beats at {d:g}", _row("beats off the grid (max)"), f"d={d:g}", None,
            0, False) for d in DIVERSITIES if d <= 1),
    Floor("no bar repeated more than twice at 0.5", _row("most repeats of one bar (max)"),
          "d=0.5", None, 2, False),
    Floor(f"no two-bar loop at 0 on the {LOOP_PROGRESSION}",
          _row("longest two-bar loop, bars (max)"), "d=0", LOOP_PROGRESSION, 0, False),
)  # fmt: skip


def gather(row: Row, metrics: Sequence[SoloMetrics]) -> float | None:
    """A row's value over some solos (None when no solo has one)."""
    values = [v for v in (row.read(m) for m in metrics) if v is not None]
    if not values:
        return None
    return {"mean": statistics.fmean, "max": max, "min": min, "sum": sum}[row.gather](values)


def show(row: Row, value: float | None) -> str:
    """A gathered value as the row prints it."""
    if value is None:
        return "-"
    if row.kind == "share":
        return f"{100 * value:.0f}%"
    if row.kind == "pitch":
        return pitch_name(int(value))
    if row.kind == "int":
        return str(int(value))
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def loop_guard(text: str | None) -> dict[str, object]:
    """The keyword that turns on ``generate_music``'s loop guard, if it has one.

    ``text`` (``NAME=VALUE``) names it; otherwise a parameter whose name holds "loop"
    or "repeat" is turned on: ``True`` if its default is a bool, 2 (repeats) otherwise.
    """
    parameters = inspect.signature(generate_music).parameters
    if text:
        name, _, value = text.partition("=")
        if name not in parameters:
            sys.exit(f"generate_music has no parameter {name!r}")
        try:
            return {name: ast.literal_eval(value)}
        except (SyntaxError, ValueError):
            return {name: value}  # a word: passed as a string
    for name, parameter in parameters.items():
        if "loop" in name or "repeat" in name:
            return {name: True if isinstance(parameter.default, bool) else 2}
    return {}


def random_values_model(probabilities: np.ndarray) -> Any:
    """A model ``generate_music`` accepts whose every step predicts ``probabilities``.

    One LSTM (whose state is ignored) and one softmax Dense layer with a zero kernel
    and ``log(probabilities)`` as its bias.
    """
    import keras

    n_values = len(probabilities)
    lstm = keras.layers.LSTM(4, return_state=True)
    dense = keras.layers.Dense(n_values, activation="softmax")
    x = keras.Input(shape=(1, n_values))
    _, a, _ = lstm(x)
    model = keras.Model(x, dense(a))
    dense.set_weights([np.zeros((4, n_values), "float32"), np.log(probabilities).astype("float32")])
    return model


def main() -> None:
    """Generate, measure, print the table and the floors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solos", type=int, default=3, help="solos per progression and column")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a floor fails")
    parser.add_argument("--loop-guard", help="NAME=VALUE of generate_music's loop guard")
    args = parser.parse_args()
    start = time.perf_counter()

    trained = notebook_model()
    pieces = load_pieces()
    corpus_values = [piece_to_values(p) for p in pieces]
    progressions: dict[str, Progression] = {
        "corpus chords[:16]": trained.chords[:16],
        "12-bar blues in F": parse_progression(BLUES_IN_F),
        LOOP_PROGRESSION: parse_progression(AABA_32),
    }
    guard = loop_guard(args.loop_guard)
    vocabulary = trained.indices_values
    counts = Counter(v for seq in corpus_values for v in seq)
    frequency = np.array([counts[vocabulary[i]] for i in range(len(vocabulary))], float)
    baselines = {
        "random freq": random_values_model(frequency / frequency.sum()),
        "random unif": random_values_model(np.full(len(vocabulary), 1 / len(vocabulary))),
    }

    # column -> progression name -> metrics of its solos
    table: dict[str, dict[str | None, list[SoloMetrics]]] = {"corpus": {None: []}}
    for index, piece in enumerate(pieces):
        others = pieces[:index] + pieces[index + 1 :]
        rest = corpus_values[:index] + corpus_values[index + 1 :]
        table["corpus"][None].append(solo_metrics(piece, others, rest))

    def measure(column: str, model: Any, diversity: float, **extra: object) -> None:
        for name, progression in progressions.items():
            for seed in range(args.solos):
                solo: Piece = generate_music(
                    model, vocabulary, progression, diversity=diversity, seed=seed,
                    out_path=None, **extra,
                )  # fmt: skip
                metrics = solo_metrics(solo, pieces, corpus_values)
                table.setdefault(column, {}).setdefault(name, []).append(metrics)

    for diversity in DIVERSITIES:
        measure(f"d={diversity:g}", trained.inference_model, diversity, **guard)
    for column, model in baselines.items():
        measure(column, model, 1.0)

    def solos(column: str, progression: str | None = None) -> list[SoloMetrics]:
        by_progression = table[column]
        if progression is not None:
            return by_progression[progression]
        return [m for group in by_progression.values() for m in group]

    columns = list(table)
    n_solos = {c: len(solos(c)) for c in columns}
    print(
        f"bench/music.py: the notebook's model (n_a = 64, {len(vocabulary)} values), "
        f"{args.solos} solo(s) per progression and column over: {', '.join(progressions)}"
    )
    print(f"loop guard: {guard or 'generate_music has none'}")
    print(
        f"corpus: each of the {len(pieces)} bundled études against the others; random: "
        "values drawn by corpus frequency / uniformly, realised by generate_music at 1.0"
    )
    width = max(len(r.label) for r in ROWS) + 2
    print(f"\n{'':{width}s}" + "".join(f"{c:>12s}" for c in columns))
    print(f"{'solos':{width}s}" + "".join(f"{n_solos[c]:>12d}" for c in columns))
    for row in ROWS:
        cells = "".join(f"{show(row, gather(row, solos(c))):>12s}" for c in columns)
        print(f"{row.label:{width}s}{cells}")

    print(f"\n{LOOP_PROGRESSION}, longest two-bar loop by column (bars, max over the solos):")
    loop_row = _row("longest two-bar loop, bars (max)")
    print("  " + ", ".join(
        f"{c} {show(loop_row, gather(loop_row, solos(c, LOOP_PROGRESSION)))}"
        for c in columns if c != "corpus"
    ))  # fmt: skip

    print("\nfloors (issue 14):")
    failed = 0
    for floor in FLOORS:
        value = gather(floor.row, solos(floor.column, floor.progression))
        ok = floor.holds(value)
        failed += not ok
        print(f"  {'PASS' if ok else 'FAIL'}  {floor.label}: {show(floor.row, value)}")
    seconds = time.perf_counter() - start
    print(f"\n{len(FLOORS) - failed} of {len(FLOORS)} floors met; {seconds:.0f} s in all")
    if failed and not args.no_fail:
        sys.exit(1)


if __name__ == "__main__":
    main()
