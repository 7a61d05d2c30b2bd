"""Benchmark: reading a long multi-track MIDI file, parsed versus cached.

Prints the median time of parsing ``tests/fixtures/band_blues.mid`` (25 tracks,
140 bars; the tenor solo in bars 119-137) and of loading the same piece from
the on-disk cache, measured side by side in one run, and their ratio.

    python bench/data.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _timing import median_seconds

BAND = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "band_blues.mid"
OPTIONS = {"melody": "Tenor Sax", "accompaniment": ["Piano"], "window": (472.0, 548.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["JAZZ_UTILS_CACHE"] = cache
        from jazz_utils.data import load_piece

        parsed = load_piece(BAND, cache=True, **OPTIONS)  # fills the cache (and warms imports)
        parse = median_seconds(lambda: load_piece(BAND, cache=False, **OPTIONS), args.repeats)
        cached = median_seconds(lambda: load_piece(BAND, cache=True, **OPTIONS), args.repeats)
        assert load_piece(BAND, cache=True, **OPTIONS) == parsed
    print(f"file: {BAND.name} ({BAND.stat().st_size // 1024} KiB, 25 tracks, 140 bars)")
    print(f"parse  (median of {args.repeats}): {parse * 1000:8.2f} ms")
    print(f"cached (median of {args.repeats}): {cached * 1000:8.2f} ms")
    print(f"ratio parse/cached: {parse / cached:.1f}x (target: at least 20x)")


if __name__ == "__main__":
    main()
