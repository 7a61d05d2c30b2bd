"""The bundled corpus: it loads offline, it is ours, and it never drifts from its code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from jazz_utils import etudes
from jazz_utils.corpus import read_piece
from jazz_utils.data import bundled_corpus_dir, load_music_utils
from jazz_utils.etudes import FORMS, PITCH_RANGE, play_form
from jazz_utils.grammar import piece_to_values
from jazz_utils.midi_io import write_midi

DATA = bundled_corpus_dir()
LEAD_SHEETS = (
    "music21:leadSheet/fosterBrownHair",
    "music21:leadSheet/berlinAlexandersRagtime",
)


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))


def test_the_corpus_lives_in_the_package() -> None:
    assert DATA == etudes.DATA_DIR
    assert (DATA / "manifest.json").is_file() and (DATA / "README.md").is_file()


def test_manifest_lists_every_file_and_its_lengths_add_up(manifest: dict) -> None:
    files = sorted(p.name for p in DATA.glob("*.mid"))
    assert sorted(e["file"] for e in manifest["files"]) == files
    assert len(files) == len(FORMS) >= 10
    keys = {
        "file",
        "name",
        "progression",
        "key",
        "tempo",
        "seed",
        "choruses",
        "measures",
        "notes",
        "tokens",
    }
    for entry in manifest["files"]:
        assert keys <= entry.keys(), entry["file"]
        piece = read_piece(DATA / entry["file"])
        assert entry["measures"] == len(piece)
        assert entry["tokens"] == len(piece_to_values(piece))
        assert entry["progression"] == FORMS[entry["name"]].text
        assert entry["tempo"] == FORMS[entry["name"]].tempo
    totals = manifest["totals"]
    for field in ("measures", "notes", "tokens"):
        assert totals[field] == sum(e[field] for e in manifest["files"])
    assert totals["files"] == len(files)
    assert totals["measures"] >= 200


def test_manifest_licence_and_command(manifest: dict) -> None:
    assert manifest["licence"]["name"] == "MIT"
    assert "jazz_utils.etudes.soloist" in manifest["licence"]["text"]
    assert "belong to the Jazz Solo LSTM project" in manifest["licence"]["text"]
    assert manifest["command"] == "python -m jazz_utils.etudes"
    makefile = Path(__file__).resolve().parents[1] / "Makefile"
    if makefile.exists():
        assert "corpus:" in makefile.read_text() and "jazz_utils.etudes" in makefile.read_text()


def test_measured_statistics_meet_the_brief(manifest: dict) -> None:
    stats = manifest["statistics"]
    assert stats["strong_beat_chord_tone_share"] >= 0.8
    shares = [
        stats[k]
        for k in ("chord_tone_share", "scale_tone_share", "approach_share", "outside_share")
    ]
    assert sum(shares) == pytest.approx(1.0, abs=1e-3)
    assert stats["approach_share"] > 0.05
    histogram = stats["interval_histogram"]
    assert histogram["step"] == max(histogram.values()) and histogram["step"] >= 0.5
    assert sum(histogram.values()) == pytest.approx(1.0, abs=1e-3)
    assert 0.05 <= stats["rest_share"] <= 0.4
    span = stats["pitch_range"]
    assert PITCH_RANGE[0] <= span["low"] <= span["high"] <= PITCH_RANGE[1]


def test_readme_reports_the_manifests_numbers(manifest: dict) -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert readme == etudes.readme(manifest)
    assert "MIT" in readme and "python -m jazz_utils.etudes" in readme
    assert f"n_values = {manifest['vocabulary']['n_values']}" in readme
    assert f"{manifest['statistics']['strong_beat_chord_tone_share']:.3f}" in readme


def test_regenerating_gives_the_committed_corpus_note_for_note(
    tmp_path: Path, manifest: dict
) -> None:
    fresh = etudes.build_corpus(tmp_path)
    assert etudes.compare_corpora(DATA, tmp_path) == []
    assert fresh == manifest  # statistics, token counts and n_values included


def test_check_command_detects_drift(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert etudes.main(["--check"]) == 0
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    write_midi(play_form("blues_f", seed=999), copy / "blues_f.mid")
    assert etudes.main(["--check", "--out", str(copy)]) == 1
    assert "blues_f.mid, bar" in capsys.readouterr().err


def test_build_writes_only_the_corpus(tmp_path: Path) -> None:
    etudes.build_corpus(tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted([*(f"{name}.mid" for name in FORMS), "manifest.json", "README.md"])


def test_load_music_utils_loads_the_bundled_corpus_by_default(manifest: dict) -> None:
    X, Y, n_values, indices_values, chords = load_music_utils()
    assert X.shape == (60, 30, n_values) and Y.shape == (30, 60, n_values)
    assert 60 <= n_values <= 160
    assert n_values == manifest["vocabulary"]["n_values"]
    assert len(indices_values) == n_values
    assert len(chords) == manifest["totals"]["measures"]
    np.testing.assert_array_equal(Y[:-1], np.swapaxes(X[:, 1:], 0, 1))


def test_music21_lead_sheets_load_through_the_same_loader() -> None:
    X, Y, n_values, indices_values, chords = load_music_utils(LEAD_SHEETS[0], Tx=20, m=8)
    assert X.shape == (8, 20, n_values) and Y.shape == (20, 8, n_values)
    assert n_values == len(indices_values) and len(chords) > 0
    X, _Y, n_both, _iv, chords = load_music_utils(list(LEAD_SHEETS), Tx=20, m=8)
    assert X.shape == (8, 20, n_both) and n_both >= n_values
    lead_sheet_values = {v for source in LEAD_SHEETS for v in piece_to_values(read_piece(source))}
    assert n_both == len(lead_sheet_values)
