"""The bundled corpus and the rule-based bebop soloist that writes it.

Learners never import this package: ``load_music_utils()`` reads the files it
wrote to ``jazz_utils/data/``. ``python -m jazz_utils.etudes`` (``make corpus``)
regenerates them; ``python -m jazz_utils.etudes --check`` regenerates them in a
temporary folder and fails on any difference.

Modules, each building on the ones before it:

* ``forms``: the progressions of the études (:data:`FORMS`) and the soloist's
  style (:class:`SoloStyle`);
* ``line``: ranges, the beats of a progression, the line being written, and the
  helpers every rule uses;
* ``devices``: guide tones, arpeggios, motifs, endings and connecting tones;
* ``soloist``: phrases and breaths, :func:`play_etude` and :func:`play_form`;
  its docstring teaches the rules;
* ``build``: writes the corpus with its ``manifest.json`` and ``README.md`` and
  compares corpora (:func:`build_corpus`, :func:`compare_corpora`, :func:`main`).
"""

from __future__ import annotations

from jazz_utils.etudes.build import (
    BASE_SEED,
    COMMAND,
    DATA_DIR,
    LICENCE,
    VOCABULARY_SETTINGS,
    build_corpus,
    compare_corpora,
    corpus_statistics,
    main,
    readme,
)
from jazz_utils.etudes.devices import bebop_scale, degree_intervals
from jazz_utils.etudes.forms import DEFAULT_STYLE, FORMS, PROGRESSIONS, Form, SoloStyle
from jazz_utils.etudes.line import PITCH_RANGE, START_PITCH, TARGET_RANGE
from jazz_utils.etudes.soloist import play_etude, play_form

__all__ = [
    "BASE_SEED",
    "COMMAND",
    "DATA_DIR",
    "DEFAULT_STYLE",
    "FORMS",
    "LICENCE",
    "PITCH_RANGE",
    "PROGRESSIONS",
    "START_PITCH",
    "TARGET_RANGE",
    "VOCABULARY_SETTINGS",
    "Form",
    "SoloStyle",
    "bebop_scale",
    "build_corpus",
    "compare_corpora",
    "corpus_statistics",
    "degree_intervals",
    "main",
    "play_etude",
    "play_form",
    "readme",
]
