"""Benchmark: rendering a 32-bar solo with its band to WAV, per engine.

Renders the same solo (32 bars of rhythm changes in B-flat at 160 quarter
notes per minute, with bass, piano and drums) with every engine available
here, side by side in one run, and prints seconds of music per second of
rendering for each (the built-in synthesizer's target: at least 20x real time)
and the ratio between them.

    python bench/audio.py [--repeats N] [--sample-rate HZ]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _timing import median_seconds

#: 32 bars of rhythm changes (AABA) in B-flat.
RHYTHM_A = "| Bbmaj7 G7 | Cm7 F7 | Dm7 G7 | Cm7 F7 | Fm7 Bb7 | Ebmaj7 Ab7 | Dm7 G7 | Cm7 F7 |"
RHYTHM_B = "| D7 | D7 | G7 | G7 | C7 | C7 | F7 | F7 |"
TEMPO = 160.0


def _solo() -> object:
    """A 32-bar solo made of eighth-note lines, rests and triplets (seeded)."""
    import numpy as np

    from jazz_utils.chords import parse_progression
    from jazz_utils.grammar import values_to_piece

    progression = parse_progression(RHYTHM_A + RHYTHM_A + RHYTHM_B + RHYTHM_A)
    rng = np.random.default_rng(7)
    kinds = rng.choice(list("CCCCSSAR"), size=400)
    lengths = rng.choice(["0.500", "0.500", "0.500", "1.000", "0.333", "1.500"], size=400)
    values = [f"{k},{d}" for k, d in zip(kinds, lengths, strict=True)]
    return values_to_piece(values, progression, seed=7, tempo=TEMPO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample-rate", type=int, default=22050)
    args = parser.parse_args()

    from jazz_utils.audio import available_engines, fluidsynth_binary, render, soundfont_path

    solo = _solo()
    music = solo.total_length * 60.0 / TEMPO  # type: ignore[attr-defined]
    engines = ["builtin", *[e for e in available_engines() if e != "builtin"]]
    speed: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for engine in engines:
            out = Path(scratch) / f"{engine}.wav"
            render(solo, out, engine=engine, sample_rate=args.sample_rate)  # warm up
            seconds = median_seconds(
                lambda e=engine, o=out: render(solo, o, engine=e, sample_rate=args.sample_rate),
                args.repeats,
            )
            speed[engine] = music / seconds
    print(f"solo: 32 bars with bass, piano and drums at {TEMPO:g} bpm = {music:.1f} s of music, "
          f"{args.sample_rate} Hz mono")  # fmt: skip
    for engine, x in speed.items():
        print(f"{engine:<11} (median of {args.repeats}): {x:7.1f} s of music per s of rendering")
    if "fluidsynth" in speed:
        print(f"soundfont: {soundfont_path()}")
        print(f"ratio builtin/fluidsynth: {speed['builtin'] / speed['fluidsynth']:.2f}x")
    elif fluidsynth_binary() is None:
        print("fluidsynth not installed")
    else:
        print("fluidsynth installed, but no General MIDI soundfont found")
    print("target: builtin at least 20x real time")


if __name__ == "__main__":
    main()
