"""Where a solo's line lives: the register learned from a corpus and suited to an instrument.

A *register* is a ``(low, centre, high)`` triple of MIDI pitches. The realiser
(:class:`jazz_utils.grammar.Realiser`) keeps the line between ``low`` and ``high``
whenever a pitch of the right type fits the value's leap, turns a leap round when it
would leave the register, and among equally valid pitches prefers those nearer
``centre``: a soft pull back toward the middle instead of pinning at the edges.
:data:`jazz_utils.grammar.PLAYABLE_RANGE` stays the hard limit nothing crosses.

:func:`register_of` learns a register from pieces (the melody's lowest, median and
highest pitch); :func:`register_for` fits a register to an instrument's usual
sounding range (a tenor saxophone sounds from A-flat 2 to E5 without altissimo).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from jazz_utils.chords import pitch_name
from jazz_utils.errors import GrammarError
from jazz_utils.piece import Piece


class Register(NamedTuple):
    """A melody's register: lowest, central and highest MIDI pitch (low <= centre <= high)."""

    low: int
    centre: int
    high: int

    def __str__(self) -> str:
        return f"{pitch_name(self.low)}-{pitch_name(self.high)} around {pitch_name(self.centre)}"


#: The register of the bundled corpus's melodies: F3 to G5 around F4
#: (``register_of(load_pieces())``; a test keeps the two equal).
CORPUS_REGISTER = Register(53, 65, 79)

#: Usual sounding range (MIDI, concert pitch) of each solo instrument of
#: :data:`jazz_utils.midi_io.SOLO_INSTRUMENTS`, without altissimo or extended technique.
INSTRUMENT_RANGES = {
    "tenor sax": (44, 76),  # A-flat 2 .. E5
    "alto sax": (49, 81),  # D-flat 3 .. A5
    "trumpet": (52, 82),  # E3 .. B-flat 5
    "guitar": (40, 88),  # E2 .. E6
    "piano": (21, 108),  # A0 .. C8
    "vibraphone": (53, 89),  # F3 .. F6
}


def as_register(register: Register | Iterable[int]) -> Register:
    """Check and convert a ``(low, centre, high)`` triple.

    Raises:
        GrammarError: not three whole MIDI pitches with ``low <= centre <= high``.
    """
    try:
        low, centre, high = (int(p) for p in register)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise GrammarError(
            f"A register is three MIDI pitches (low, centre, high), e.g. (53, 65, 79), "
            f"not {register!r}."
        ) from None
    if not 0 <= low <= centre <= high <= 127:
        raise GrammarError(
            f"A register needs 0 <= low <= centre <= high <= 127, not {(low, centre, high)}."
        )
    return Register(low, centre, high)


def register_of(pieces: Piece | Iterable[Piece]) -> Register:
    """The register of the pieces' melodies: their lowest, median and highest pitch.

    Args:
        pieces: a piece or several (e.g. ``load_pieces()``, the corpus a model learns from).

    Raises:
        GrammarError: the pieces have no notes.
    """
    pieces = [pieces] if isinstance(pieces, Piece) else list(pieces)
    pitches = [n.pitch for p in pieces for m in p.measures for n in m.notes]
    if not pitches:
        raise GrammarError("These pieces have no notes, so they have no register.")
    centre = int(np.floor(np.median(pitches) + 0.5))
    return Register(min(pitches), centre, max(pitches))


def register_for(instrument: str, learned: Register | Iterable[int] = CORPUS_REGISTER) -> Register:
    """A learned register fitted inside an instrument's usual range.

    The learned limits are kept where the instrument reaches them and pulled in where
    it does not (the bundled corpus's G5 becomes E5 on a tenor saxophone); the centre
    stays inside. An instrument the table does not know keeps the learned register.

    Args:
        instrument: a key of :data:`INSTRUMENT_RANGES` (any case), e.g. ``"tenor sax"``.
        learned: the register of the training data, e.g. from :func:`register_of`.

    Returns:
        The fitted :class:`Register`. When the two ranges do not overlap at all the
        instrument's own range wins, around its middle.
    """
    learned = as_register(learned)
    bounds = INSTRUMENT_RANGES.get(str(instrument).strip().lower())
    if bounds is None:
        return learned
    bottom, top = bounds
    low, high = max(learned.low, bottom), min(learned.high, top)
    if low > high:
        return Register(bottom, (bottom + top) // 2, top)
    return Register(low, min(max(learned.centre, low), high), high)
