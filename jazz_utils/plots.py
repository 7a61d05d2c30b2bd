"""See a solo: piano rolls, training-loss curves and vocabulary histograms.

Every function builds a :class:`matplotlib.figure.Figure` directly, without
pyplot, so it works on a machine with no display and changes no global state
(no backend switch, no rcParams). The figures returned show themselves in a
notebook cell (they render as PNG) and save with ``fig.savefig("roll.png")``.
Pass ``ax=`` to draw into an axes of your own figure instead.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import blended_transform_factory

from jazz_utils.chords import PITCH_CLASS_NAMES, pitch_name
from jazz_utils.errors import GrammarError, RenderError
from jazz_utils.grammar import NOTE_TYPES, Value
from jazz_utils.metrics import ROLE_NAMES, note_roles
from jazz_utils.piece import Piece

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Colour of each note role / value type (colour-blind-safe Okabe-Ito palette).
ROLE_COLOURS = {
    "C": "#0072B2",  # chord tone: blue
    "S": "#009E73",  # scale tone: green
    "A": "#E69F00",  # approach tone: orange
    "X": "#D55E00",  # outside tone: vermilion
    "R": "#999999",  # rest: grey
}


class NotebookFigure(Figure):
    """A matplotlib Figure that shows itself as a PNG in a notebook, without pyplot."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def _figure_and_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    figure = NotebookFigure(figsize=size, layout="constrained")
    return figure, figure.add_subplot()


def piano_roll(piece: Piece, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Draw a solo as a piano roll over its chords.

    Each note is a bar from its onset to its end at its pitch, coloured by its
    role over the chord under it (chord, scale, approach or outside tone, as in
    :func:`jazz_utils.metrics.note_roles`); bar lines are solid, beats dotted;
    chord symbols are written above the bar where they start.

    Args:
        piece: the solo.
        ax: draw into these axes; a new figure (about 1 inch per bar) otherwise.
        title: figure title; the piece's name by default.

    Returns:
        The figure. x axis: bars (numbered from 1, ticks at bar lines); y axis:
        pitch names such as ``"C4"``.

    Raises:
        RenderError: the piece has no measures.
    """
    if not isinstance(piece, Piece) or not piece.measures:
        raise RenderError("piano_roll needs a Piece with at least one measure.")
    width = min(24.0, max(6.0, 1.1 * len(piece.measures) + 2.0))
    chord_size = float(np.clip(9.0 * (width - 2.0) / (1.1 * len(piece.measures)), 5.0, 9.0))
    figure, ax = _figure_and_axes(ax, (width, 4.0))
    roles = note_roles(piece)
    starts = np.cumsum([0.0] + [m.length for m in piece.measures])
    pitches = [r.note.pitch for r in roles]
    low, high = (min(pitches) - 2, max(pitches) + 2) if pitches else (58, 74)

    for item in roles:
        onset = starts[item.measure] + item.note.offset
        ax.add_patch(
            Rectangle(
                (onset, item.note.pitch - 0.4), item.note.duration, 0.8,
                facecolor=ROLE_COLOURS[item.role], edgecolor="black", linewidth=0.4,
            )
        )  # fmt: skip
    beat = 4.0 / piece.time_signature[1]
    for index, measure in enumerate(piece.measures):
        ax.axvline(starts[index], color="black", linewidth=0.9, zorder=0)
        for tick in np.arange(beat, measure.length - 1e-9, beat):
            ax.axvline(starts[index] + tick, color="0.8", linewidth=0.5, linestyle=":", zorder=0)
    ax.axvline(starts[-1], color="black", linewidth=0.9, zorder=0)

    above = blended_transform_factory(ax.transData, ax.transAxes)
    previous = None
    for index, measure in enumerate(piece.measures):
        for span in measure.chords:
            symbol = span.chord.symbol
            if symbol == previous and span.offset > 0:
                continue
            previous = symbol
            ax.text(
                starts[index] + span.offset + 0.05, 1.01, symbol, transform=above,
                ha="left", va="bottom", fontsize=chord_size, fontweight="bold", clip_on=False,
            )  # fmt: skip

    ax.set_xlim(starts[0], starts[-1])
    ax.set_ylim(low - 0.5, high + 0.5)
    ax.set_xticks(starts[:-1], [str(i + 1) for i in range(len(piece.measures))])
    ax.set_xlabel("bar")
    ax.set_ylabel("pitch")
    step = 1 if high - low <= 14 else 2 if high - low <= 28 else 12
    ticks = [p for p in range(low, high + 1) if (p % 12 == 0 if step == 12 else p % step == 0)]
    if step == 2:
        ticks = [p for p in range(low, high + 1) if "b" not in PITCH_CLASS_NAMES[p % 12]]
    ax.set_yticks(ticks, [pitch_name(p) for p in ticks])
    ax.tick_params(axis="y", labelsize=8)
    handles = [
        Patch(facecolor=ROLE_COLOURS[key], edgecolor="black", label=f"{name} tone")
        for key, name in ROLE_NAMES.items()
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False)  # fmt: skip
    ax.set_title(title if title is not None else (piece.name or "Solo"), pad=18)
    return figure


def _history_dict(history: object) -> Mapping[str, object] | None:
    if hasattr(history, "history") and isinstance(history.history, Mapping):  # keras History
        return history.history
    return history if isinstance(history, Mapping) else None


def _losses(history: object) -> dict[str, list[float]]:
    """Loss series from a keras History, a dict of lists, or a list of numbers."""
    mapping = _history_dict(history)
    if mapping is not None:
        series = {str(k): [float(x) for x in v] for k, v in mapping.items() if "loss" in str(k)}
        if not series:
            raise RenderError(
                f"No loss in the training history (its keys: {', '.join(map(str, mapping))})."
            )
        return series
    if isinstance(history, Sequence | np.ndarray) and not isinstance(history, str | bytes):
        return {"loss": [float(x) for x in np.asarray(history, dtype=float).reshape(-1)]}
    raise RenderError(
        f"loss_curve takes the History that model.fit returns, a dict like "
        f"{{'loss': [...]}} or a list of losses, not {type(history).__name__}."
    )


def _accuracies(history: object) -> dict[str, list[float]]:
    """``accuracy`` and ``val_accuracy`` series of a History or dict, when it has them."""
    mapping = _history_dict(history) or {}
    return {k: [float(x) for x in mapping[k]] for k in ("accuracy", "val_accuracy") if k in mapping}


def loss_curve(
    history_or_losses: object,
    ax: Axes | None = None,
    title: str = "Training loss",
    per_output: bool = False,
) -> Figure:
    """Plot loss against epoch, and the accuracy when the history has one.

    Args:
        history_or_losses: the ``History`` returned by ``model.fit``, its ``.history``
            dict, or a list of one loss per epoch.
        ax: draw into these axes; a new figure otherwise.
        title: the figure title.
        per_output: also draw each output's loss (``dense_loss``, ...); by default
            only ``loss`` and ``val_loss`` are drawn when the history has them.

    Returns:
        The figure: x label "epoch" (from 1), y label "loss" on the left; when the
        history holds ``accuracy`` (and ``val_accuracy``), a second y axis on the
        right, "accuracy" from 0 to 1, with dashed lines.

    Raises:
        RenderError: no loss values.
    """
    series = _losses(history_or_losses)
    main = {k: v for k, v in series.items() if k in ("loss", "val_loss")}
    shown = series if per_output or not main else main
    if not any(shown.values()):
        raise RenderError("There are no loss values to plot (train for at least one epoch).")
    figure, ax = _figure_and_axes(ax, (6.0, 3.5))
    handles = []
    for name, values in shown.items():
        epochs = np.arange(1, len(values) + 1)
        width = 2.0 if name in main else 0.8
        marker = "o" if len(values) < 30 else None
        handles += ax.plot(epochs, values, label=name, linewidth=width, marker=marker)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    accuracies = _accuracies(history_or_losses)
    if accuracies:
        right = ax.twinx()
        for name, values in accuracies.items():
            epochs = np.arange(1, len(values) + 1)
            handles += right.plot(
                epochs,
                values,
                label=name,
                linestyle="--",
                color="#555555" if name == "accuracy" else "#AAAAAA",
            )
        right.set_ylabel("accuracy")
        right.set_ylim(0.0, 1.0)
    if len(handles) > 1:
        ax.legend(
            handles=handles, labels=[h.get_label() for h in handles], fontsize=8, loc="center right"
        )
    return figure


def _value_list(
    values_or_indices_values: Sequence[str] | Mapping[int, str] | Mapping[str, int],
    indices: Sequence[int] | np.ndarray | None,
) -> Counter[str]:
    data = values_or_indices_values
    if isinstance(data, Mapping):
        keys = list(data)
        if keys and all(isinstance(k, int | np.integer) for k in keys):  # indices_values
            if indices is None:
                return Counter(str(v) for v in data.values())
            flat = np.asarray(indices).reshape(-1)
            if flat.size and np.any(~np.isin(flat, keys)):
                raise RenderError("Some indices are not keys of indices_values.")
            return Counter(str(data[int(i)]) for i in flat)
        return Counter({str(k): int(v) for k, v in data.items()})  # value -> count
    if isinstance(data, str) or not isinstance(data, Sequence | np.ndarray):
        raise RenderError(
            "vocabulary_histogram takes a list of values, indices_values (optionally with "
            f"indices), or a dict of counts, not {type(data).__name__}."
        )
    return Counter(str(v) for v in data)


def vocabulary_histogram(
    values_or_indices_values: Sequence[str] | Mapping[int, str] | Mapping[str, int],
    indices: Sequence[int] | np.ndarray | None = None,
    group: str = "value",
    top: int = 30,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """How often each value (or value type, or duration) occurs.

    Args:
        values_or_indices_values: a list of value strings (a corpus, a generated
            solo); ``indices_values`` ({index: value}), with ``indices`` to count
            (e.g. those ``predict_and_sample`` returns, shape (Ty, 1)) or without
            them to count each vocabulary entry once; or a dict {value: count}.
        indices: vocabulary indices to count, any shape.
        group: ``"value"`` (each value string), ``"type"`` (C, S, A, X, R) or
            ``"duration"`` (quarter notes).
        top: show at most this many bars, the most frequent first.
        ax: draw into these axes; a new figure otherwise.
        title: the figure title.

    Returns:
        The figure: horizontal bars coloured by value type; x label "count",
        y label the group ("value", "type" or "duration").

    Raises:
        RenderError: nothing to count, or an unknown ``group``.
    """
    if group not in ("value", "type", "duration"):
        raise RenderError(f"group must be 'value', 'type' or 'duration', not {group!r}.")
    counts = _value_list(values_or_indices_values, indices)
    if not counts:
        raise RenderError("There are no values to count.")
    grouped: Counter[str] = Counter()
    types: dict[str, str] = {}
    for text, count in counts.items():
        try:
            parsed = Value.parse(text)
            kind, label = parsed.type, {"value": text, "type": parsed.type,
                                        "duration": f"{parsed.duration:.3f}"}[group]  # fmt: skip
        except GrammarError:
            if group != "value":
                raise RenderError(f"{text!r} is not a value, so it has no {group}.") from None
            kind, label = "", text
        grouped[label] += count
        types.setdefault(label, kind if group != "duration" else "")
    shown = grouped.most_common(max(1, int(top)))
    labels = [label for label, _ in shown][::-1]
    heights = [count for _, count in shown][::-1]
    colours = [ROLE_COLOURS.get(types[label], "#56B4E9") for label in labels]
    figure, ax = _figure_and_axes(ax, (6.0, max(2.5, 0.22 * len(labels) + 1.2)))
    ax.barh(range(len(labels)), heights, color=colours, edgecolor="black", linewidth=0.3)
    ax.set_yticks(range(len(labels)), labels, fontsize=7 if group == "value" else 9)
    ax.set_xlabel("count")
    ax.set_ylabel(group)
    hidden = len(grouped) - len(shown)
    default = f"{len(grouped)} distinct {group}s" + (f" ({hidden} not shown)" if hidden else "")
    ax.set_title(title if title is not None else default)
    present = {types[label] for label in labels}
    handles = [
        Patch(facecolor=ROLE_COLOURS[k], label=NOTE_TYPES[k]) for k in ROLE_COLOURS if k in present
    ]
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="lower right")
    return figure
