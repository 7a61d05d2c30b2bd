"""Pictures: piano roll, loss curve and vocabulary histogram, saved and checked headless."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle

from jazz_utils.chords import parse_progression, pitch_name
from jazz_utils.errors import RenderError
from jazz_utils.grammar import piece_to_values, values_to_piece
from jazz_utils.metrics import note_roles
from jazz_utils.plots import (
    ROLE_COLOURS,
    loss_curve,
    piano_roll,
    vocabulary_histogram,
)

PROGRESSION = parse_progression("| Dm7 G7 | Cmaj7 | Cm7 F7 | Bbmaj7 | Em7b5 A7 | Dm7 |")
VALUES = ["C,0.500", "S,0.500,<m2,M2>", "A,0.500,<m2,M2>", "C,0.500,<m2,M2>",
          "X,1.000,<m3,M3>", "R,0.500", "C,0.500,<m3,M3>", "S,0.333,<M-2,m-2>",
          "C,0.333,<M-2,m-2>", "S,0.333,<M-2,m-2>", "C,1.000,<P4,P5>"] * 4  # fmt: skip


@pytest.fixture(scope="module")
def solo():
    return values_to_piece(VALUES, PROGRESSION, seed=1, tempo=120)


def saved_and_drawn(figure: Figure, path: Path) -> np.ndarray:
    """Save a figure as PNG and return its pixels, checking something was drawn."""
    figure.savefig(path, dpi=60)
    assert path.stat().st_size > 2000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    assert np.std(pixels[..., :3]) > 0.05  # not a blank canvas
    return pixels


def test_piano_roll_draws_notes_by_role_chords_bars_and_pitch_names(solo, tmp_path: Path) -> None:
    figure = piano_roll(solo, title="ii-V-I")
    saved_and_drawn(figure, tmp_path / "roll.png")
    ax = figure.axes[0]
    assert ax.get_xlabel() == "bar" and ax.get_ylabel() == "pitch"
    assert ax.get_title() == "ii-V-I"
    notes = [p for p in ax.patches if isinstance(p, Rectangle)]
    roles = note_roles(solo)
    assert len(notes) == len(roles) > 0
    colours = {tuple(np.round(p.get_facecolor(), 3)) for p in notes}
    assert len(colours) >= 3  # chord, scale and approach tones at least
    texts = {t.get_text() for t in ax.texts}
    assert {"Dm7", "G7", "Cmaj7", "Bbmaj7", "Em7b5", "A7"} <= texts
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in range(1, 7)]
    assert len(ax.lines) >= 7  # bar lines (and beat lines)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels and all(label[-1].isdigit() and label[0] in "CDEFGAB" for label in labels)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["chord tone", "scale tone", "approach tone", "outside tone"]


def test_piano_roll_into_given_axes_and_of_an_empty_solo(tmp_path: Path) -> None:
    figure = Figure()
    left, right = figure.subplots(1, 2)
    empty = values_to_piece(["R,4.000"], parse_progression("| C7 | F7 |"))
    assert piano_roll(empty, ax=right) is figure
    assert right.get_xlabel() == "bar" and not left.get_xlabel()
    saved_and_drawn(figure, tmp_path / "empty.png")
    with pytest.raises(RenderError):
        piano_roll("not a piece")  # type: ignore[arg-type]


def test_pitch_names() -> None:
    assert [pitch_name(p) for p in (60, 69, 70, 48, 84)] == ["C4", "A4", "Bb4", "C3", "C6"]
    assert set(ROLE_COLOURS) == {"C", "S", "A", "X", "R"}


class FakeHistory:
    """What keras' ``model.fit`` returns, as far as loss_curve cares."""

    def __init__(self, history: dict[str, list[float]]):
        self.history = history


@pytest.mark.parametrize(
    "history",
    [
        [3.1, 2.5, 2.0, 1.7, 1.5],
        {"loss": [3.0, 2.0, 1.5], "val_loss": [3.2, 2.4, 2.1], "accuracy": [0.1, 0.3, 0.4]},
        FakeHistory(
            {"loss": [3.0, 2.2, 1.9], **{f"dense_{i}_loss": [0.1, 0.1, 0.1] for i in range(30)}}
        ),
    ],
    ids=["list", "dict", "history"],
)
def test_loss_curve(history: object, tmp_path: Path) -> None:
    figure = loss_curve(history)
    saved_and_drawn(figure, tmp_path / "loss.png")
    ax = figure.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert 1 <= len(ax.lines) <= 4  # per-output losses are left out by default
    x = ax.lines[0].get_xdata()
    assert x[0] == 1 and len(x) == len(ax.lines[0].get_ydata())


def test_loss_curve_refuses_what_holds_no_loss() -> None:
    with pytest.raises(RenderError, match="loss"):
        loss_curve({"accuracy": [0.5]})
    with pytest.raises(RenderError):
        loss_curve([])
    with pytest.raises(RenderError):
        loss_curve("loss")


def test_vocabulary_histogram_of_values(solo, tmp_path: Path) -> None:
    values = piece_to_values(solo)
    figure = vocabulary_histogram(values, top=10)
    saved_and_drawn(figure, tmp_path / "vocab.png")
    ax = figure.axes[0]
    assert ax.get_xlabel() == "count" and ax.get_ylabel() == "value"
    bars = ax.patches
    assert len(bars) == min(10, len(set(values)))
    widths = [b.get_width() for b in bars]
    assert widths == sorted(widths)  # most frequent at the top
    assert max(widths) == max(values.count(v) for v in set(values))


def test_vocabulary_histogram_of_indices_values_and_by_type(tmp_path: Path) -> None:
    indices_values = {0: "C,0.500", 1: "R,1.000", 2: "S,0.250,<m2,M2>", 3: "C,1.000,<P1,P1>"}
    figure = vocabulary_histogram(indices_values, indices=np.array([[0], [0], [3], [1]]))
    saved_and_drawn(figure, tmp_path / "indices.png")
    assert sorted(b.get_width() for b in figure.axes[0].patches) == [1, 1, 2]
    by_type = vocabulary_histogram(indices_values, group="type")
    assert by_type.axes[0].get_ylabel() == "type"
    assert sorted(b.get_width() for b in by_type.axes[0].patches) == [1, 1, 2]
    with pytest.raises(RenderError):
        vocabulary_histogram(indices_values, indices=[7])
    with pytest.raises(RenderError):
        vocabulary_histogram([])
    with pytest.raises(RenderError, match="group"):
        vocabulary_histogram(["C,0.500"], group="pitch")


def test_figures_show_in_notebooks_as_png(solo) -> None:
    assert piano_roll(solo)._repr_png_()[:4] == b"\x89PNG"  # type: ignore[attr-defined]


def test_importing_plots_changes_no_global_matplotlib_state() -> None:
    code = (
        "import matplotlib, sys\n"
        "def settings():\n"  # dict.items: reading rcParams['backend'] would import pyplot
        "    return dict(dict.items(matplotlib.rcParams))\n"
        "before = settings()\n"
        "import jazz_utils.plots\n"
        "assert settings() == before\n"
        "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "clean"


def test_loss_curve_shows_the_summed_loss_and_the_accuracy_not_step_zero(tmp_path: Path) -> None:
    history = FakeHistory(
        {"loss": [130.0, 60.0, 20.0], "dense_loss": [4.3, 3.0, 2.9], "accuracy": [0.04, 0.5, 0.88]}
    )
    figure = loss_curve(history)
    saved_and_drawn(figure, tmp_path / "loss.png")
    left, right = figure.axes
    assert [line.get_label() for line in left.lines] == ["loss"]
    assert right.get_ylabel() == "accuracy" and right.get_ylim() == (0.0, 1.0)
    assert list(right.lines[0].get_ydata()) == [0.04, 0.5, 0.88]
    legend = [text.get_text() for text in left.get_legend().get_texts()]
    assert legend == ["loss", "accuracy"]
    assert "dense_loss" in [
        line.get_label() for line in loss_curve(history, per_output=True).axes[0].lines
    ]
