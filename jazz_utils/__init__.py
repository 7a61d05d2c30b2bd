"""jazz_utils: the musical helper library of "Improvise a Jazz Solo with an LSTM Network".

Learners use a handful of names from here; each lives in a module named for
what it does (``chords``, ``corpus``, ``grammar``, ``data``, ``midi_io``, ...).
Importing the package imports nothing heavy: each name below loads its module
on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> module that defines it.
_EXPORTS = {
    "load_music_utils": "jazz_utils.data",
    "load_pieces": "jazz_utils.data",
    "read_piece": "jazz_utils.corpus",
    "parse_chord": "jazz_utils.chords",
    "parse_progression": "jazz_utils.chords",
    "piece_to_values": "jazz_utils.grammar",
    "values_to_piece": "jazz_utils.grammar",
    "register_of": "jazz_utils.register",
    "write_midi": "jazz_utils.midi_io",
    "write_band_midi": "jazz_utils.band",
    "generate_music": "jazz_utils.generate",
    "render": "jazz_utils.audio",
    "play": "jazz_utils.audio",
    "RenderOptions": "jazz_utils.performance",
    "piano_roll": "jazz_utils.plots",
    "loss_curve": "jazz_utils.plots",
    "solo_metrics": "jazz_utils.metrics",
    "Piece": "jazz_utils.piece",
    "Progression": "jazz_utils.piece",
    "JazzUtilsError": "jazz_utils.errors",
    "ChordError": "jazz_utils.errors",
    "CorpusError": "jazz_utils.errors",
    "GrammarError": "jazz_utils.errors",
    "GenerationError": "jazz_utils.errors",
    "TrainingError": "jazz_utils.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'jazz_utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
