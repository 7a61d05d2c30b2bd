"""How a solo is performed for listening: tempo, instrument, swing and band, in one place.

A :class:`~jazz_utils.piece.Piece` is written straight, on the grid; turning it
into something to hear takes a few choices, gathered in :class:`RenderOptions`
and taken by every function that performs a solo:
:func:`jazz_utils.band.write_band_midi` (a MIDI file for listening),
:func:`jazz_utils.audio.render`, :func:`~jazz_utils.audio.synthesize` and
:func:`~jazz_utils.audio.play` (audio). Each takes ``options=RenderOptions(...)``
and also any field by name, which replaces that field::

    play(solo, instrument="trumpet", swing=0.5)
    trumpet = RenderOptions(instrument="trumpet", tempo=180)
    render(solo, "solo.wav", options=trumpet, band=False)

Values are checked where they are used (an unknown instrument or voicing, a
tempo or swing out of range raise the library's own errors then).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from jazz_utils.errors import MidiWriteError

#: Default swing ratio: where the off-beat eighth falls, as a share of the beat.
DEFAULT_SWING = 0.62
#: Smallest and largest swing ratio accepted (0.5 is straight, 0.75 a dotted rhythm).
SWING_RANGE = (0.5, 0.8)


@dataclass(frozen=True)
class RenderOptions:
    """How to perform a solo.

    Attributes:
        tempo: quarter notes per minute; None keeps the piece's own tempo (a MIDI
            file's own, a list of parts 120).
        instrument: the solo instrument, one of
            :data:`jazz_utils.midi_io.SOLO_INSTRUMENTS` ("tenor sax", "trumpet", ...).
        swing: where the off-beat eighth falls, 0.5 (straight) .. 0.8; see
            :func:`jazz_utils.band.swing`.
        band: accompany the solo with bass, piano and drums.
        seed: seeds the band's choices (and the built-in synthesizer's drum noise);
            None for a different band every time.
        voicing: the band pianist's voicings, ``"rootless"`` or ``"shell"``.
    """

    tempo: float | None = None
    instrument: str = "tenor sax"
    swing: float = DEFAULT_SWING
    band: bool = True
    seed: int | None = 0
    voicing: str = "rootless"


#: Names of the fields of :class:`RenderOptions`, in order.
OPTION_NAMES = tuple(f.name for f in fields(RenderOptions))


def render_options(options: RenderOptions | None = None, **overrides: Any) -> RenderOptions:
    """``options`` (the defaults when None) with the fields named in ``overrides`` replaced.

    Raises:
        TypeError: a name in ``overrides`` is no field of :class:`RenderOptions`.
    """
    unknown = sorted(set(overrides) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(
            f"unknown rendering option {', '.join(map(repr, unknown))}; "
            f"the options are {', '.join(OPTION_NAMES)}."
        )
    base = RenderOptions() if options is None else options
    return replace(base, **overrides) if overrides else base


def check_swing(ratio: float) -> float:
    """Return ``ratio`` as a float, or raise :class:`MidiWriteError` if out of range."""
    try:
        value = float(ratio)
    except (TypeError, ValueError):
        raise MidiWriteError(f"swing must be a number like 0.62, not {ratio!r}.") from None
    low, high = SWING_RANGE
    if not low <= value <= high:
        raise MidiWriteError(
            f"swing must lie between {low} (straight) and {high}, not {ratio!r}; "
            "0.62 is a relaxed swing, 2/3 triplet swing."
        )
    return value
