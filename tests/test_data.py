"""load_music_utils: shapes, the Y-is-X-shifted contract, stability and the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import fixture_files as ff
import numpy as np
import pytest

from jazz_utils import data
from jazz_utils.chords import parse_progression
from jazz_utils.errors import CorpusError
from jazz_utils.grammar import values_to_piece
from jazz_utils.midi_io import write_midi
from jazz_utils.piece import Progression

BAND = ff.FIXTURES / "band_blues.mid"
BAND_OPTIONS = {"melody": "Tenor Sax", "accompaniment": ["Piano"], "window": ff.SOLO_WINDOW}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short études written by our grammar, as a folder of MIDI files."""
    folder = tmp_path_factory.mktemp("corpus")
    blues = parse_progression(
        "| F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7 |"
    )
    values = ["C,0.500", "S,0.500,<m2,M2>", "C,0.500,<m2,M2>", "A,0.500,<M-2,m-2>",
              "C,1.000,<m3,M3>", "R,0.500", "S,0.333,<M-2,m-2>", "C,0.333,<m2,M2>",
              "X,0.333,<M-2,m-2>", "C,0.500,<P4,P5>"] * 12  # fmt: skip
    write_midi(values_to_piece(values, blues, seed=1), folder / "a_blues.mid")
    write_midi(values_to_piece(values[::-1], blues, seed=2), folder / "b_blues.mid")
    return folder


def test_shapes_and_types(corpus_dir: Path) -> None:
    X, Y, n_values, indices_values, chords = data.load_music_utils(corpus_dir, Tx=30, m=60)
    assert X.shape == (60, 30, n_values) and X.dtype == np.float32
    assert Y.shape == (30, 60, n_values) and Y.dtype == np.float32
    assert sorted(indices_values) == list(range(n_values))
    assert isinstance(chords, Progression) and len(chords) == 24
    assert np.all(X.sum(-1) == 1) and np.all(Y.sum(-1) == 1), "every step is one-hot, none all-zero"


def test_y_is_x_shifted_by_one_step(corpus_dir: Path) -> None:
    X, Y, *_ = data.load_music_utils(corpus_dir, Tx=20, m=40)
    for t in range(19):
        np.testing.assert_array_equal(Y[t], X[:, t + 1])
    assert not np.array_equal(Y[19], np.zeros_like(Y[19]))


def test_windows_come_from_the_real_value_sequences(corpus_dir: Path) -> None:
    X, Y, _, indices_values, _ = data.load_music_utils(corpus_dir, Tx=12, m=10, seed=3)
    pieces = data.load_pieces(corpus_dir)
    sequences = [" ".join(data.piece_to_values(p)) for p in pieces]
    for i in range(10):
        window = [indices_values[int(k)] for k in X[i].argmax(-1)] + [
            indices_values[int(Y[-1, i].argmax())]
        ]
        assert any(" ".join(window) in s for s in sequences)


def test_vocabulary_is_sorted(corpus_dir: Path) -> None:
    *_, indices_values, _ = data.load_music_utils(corpus_dir, Tx=10, m=5)
    values = [indices_values[i] for i in range(len(indices_values))]
    assert values == sorted(values)


def test_same_seed_same_data_other_seed_other_windows(corpus_dir: Path) -> None:
    X1, Y1, *_ = data.load_music_utils(corpus_dir, Tx=10, m=20, seed=5)
    X2, Y2, *_ = data.load_music_utils(corpus_dir, Tx=10, m=20, seed=5)
    X3, *_ = data.load_music_utils(corpus_dir, Tx=10, m=20, seed=6)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(Y1, Y2)
    assert not np.array_equal(X1, X3)


def test_identical_across_processes_and_hash_seeds(corpus_dir: Path, tmp_path: Path) -> None:
    script = (
        "import hashlib, json, sys\n"
        "from jazz_utils.data import load_music_utils\n"
        "X, Y, n, iv, _ = load_music_utils(sys.argv[1], Tx=10, m=20, cache=False)\n"
        "print(json.dumps([n, iv, hashlib.sha256(X.tobytes() + Y.tobytes()).hexdigest()]))\n"
    )
    outputs = set()
    for hash_seed in ("0", "1", "12345"):
        env = {
            **os.environ,
            "PYTHONHASHSEED": hash_seed,
            "JAZZ_UTILS_CACHE": str(tmp_path / hash_seed),
        }
        result = subprocess.run(
            [sys.executable, "-c", script, str(corpus_dir)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(result.stdout.strip().splitlines()[-1])
    assert len(outputs) == 1


def test_band_file_through_the_loader_with_options() -> None:
    X, _, n_values, _, chords = data.load_music_utils(BAND, Tx=8, m=16, **BAND_OPTIONS)
    assert X.shape == (16, 8, n_values)
    assert len(chords) == ff.SOLO_BARS[1] - ff.SOLO_BARS[0] + 1


def test_second_load_comes_from_the_cache(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = data.load_music_utils(corpus_dir, Tx=10, m=8)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was parsed again")

    monkeypatch.setattr(data, "read_piece", refuse)
    second = data.load_music_utils(corpus_dir, Tx=10, m=8)
    np.testing.assert_array_equal(first[0], second[0])
    assert first[3] == second[3] and first[4] == second[4]


def test_cache_key_follows_content_and_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAZZ_UTILS_CACHE", str(tmp_path / "cache"))
    calls = []
    real = data.read_piece
    monkeypatch.setattr(data, "read_piece", lambda *a, **k: calls.append(a) or real(*a, **k))
    path = tmp_path / "band.mid"
    path.write_bytes(BAND.read_bytes())
    data.load_piece(path, **BAND_OPTIONS)
    data.load_piece(path, **BAND_OPTIONS)
    assert len(calls) == 1
    data.load_piece(path, melody="Tenor Sax", accompaniment=["Piano"], window=(0, 48))
    assert len(calls) == 2, "other options are another entry"
    ff.build_band(path)  # same bytes: still cached
    data.load_piece(path, **BAND_OPTIONS)
    assert len(calls) == 2
    path.write_bytes(BAND.read_bytes().replace(b"Tenor Sax", b"Tenor Sox"))
    data.load_piece(path, melody="Tenor Sox", accompaniment=["Piano"], window=ff.SOLO_WINDOW)
    assert len(calls) == 3, "changed content is read again"


def test_damaged_cache_entry_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAZZ_UTILS_CACHE", str(tmp_path))
    piece = data.load_piece(BAND, **BAND_OPTIONS)
    for entry in tmp_path.glob("*.json"):
        entry.write_text("{ not json")
    assert data.load_piece(BAND, **BAND_OPTIONS) == piece
    json.loads(next(tmp_path.glob("*.json")).read_text())


@pytest.mark.parametrize(("Tx", "m"), [(0, 10), (10, 0), (2.5, 10), (True, 3)])
def test_bad_sizes(corpus_dir: Path, Tx: object, m: object) -> None:
    with pytest.raises(CorpusError):
        data.load_music_utils(corpus_dir, Tx=Tx, m=m)  # type: ignore[arg-type]


def test_corpus_shorter_than_a_window(corpus_dir: Path) -> None:
    with pytest.raises(CorpusError, match="No piece has 10001 values"):
        data.load_music_utils(corpus_dir, Tx=10000, m=5)


def test_missing_and_empty_sources(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        data.load_music_utils(tmp_path / "missing.mid")
    with pytest.raises(CorpusError, match="holds no MIDI or MusicXML"):
        data.load_music_utils(tmp_path)


def test_one_hot_shape() -> None:
    encoded = data.one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert encoded.shape == (2, 2, 3)
    np.testing.assert_array_equal(encoded[0, 1], [0, 0, 1])
