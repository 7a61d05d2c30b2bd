"""The library's own exception types.

Every error a learner can cause with bad input is one of these, with a message
that names the file, symbol or value at fault and says what to do. Callers who
want to catch "anything jazz_utils complains about" catch ``JazzUtilsError``.
"""

from __future__ import annotations


class JazzUtilsError(Exception):
    """Base class of every error raised on purpose by jazz_utils."""


class ChordError(JazzUtilsError, ValueError):
    """A chord symbol or chord progression that cannot be understood."""


class CorpusError(JazzUtilsError, ValueError):
    """A music file (or corpus) that cannot be read into melody and chords."""


class GrammarError(JazzUtilsError, ValueError):
    """A malformed value string of the chord-relative grammar."""


class GenerationError(JazzUtilsError, ValueError):
    """Bad arguments to music generation (for example a negative diversity)."""


class MidiWriteError(JazzUtilsError, ValueError):
    """A solo or progression that cannot be written as MIDI."""


class RenderError(JazzUtilsError, ValueError):
    """A solo, MIDI file or figure that cannot be rendered as audio or a picture."""


class CheckFailure(JazzUtilsError, AssertionError):  # noqa: N818 - the name learners see
    """A learner's function does not do what the exercise asks; the message says why.

    Raised by the public checks (``jazz_utils.checks``, where learners find it); an
    ``AssertionError``, as a failed test is.
    """
