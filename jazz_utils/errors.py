"""The library's own exception types.

Every error a learner can cause with bad input is one of these, with a message
that names the file, symbol or value at fault and says what to do. Callers who
want to catch "anything jazz_utils complains about" catch ``JazzUtilsError``.
"""

from __future__ import annotations

import functools
import sys
import sysconfig
import traceback
from pathlib import Path
from typing import Any


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


class TrainingError(JazzUtilsError, ValueError):
    """A model or its data cannot be trained as asked (:mod:`jazz_utils.training`)."""


class SmallCorpusWarning(UserWarning):
    """A corpus too small for its training windows: the network will likely memorise it.

    Issued by ``load_music_utils`` with the numbers behind it (see
    :func:`jazz_utils.copying.small_corpus_reasons`); a warning, not an error, because
    training still runs.
    """


class CheckFailure(JazzUtilsError, AssertionError):  # noqa: N818 - the name learners see
    """A learner's function does not do what the exercise asks; the message says why.

    Raised by the public checks (``jazz_utils.checks``, where learners find it); an
    ``AssertionError``, as a failed test is.

    IPython and Jupyter show it through ``_render_traceback_``: the diagnosis, and where
    the learner's own code raised when that is what the check explains, without the
    frames of the check and of Keras. Plain Python shows the whole traceback, as ever.
    """

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows for this failure (it calls this instead of its own
        traceback formatting): ``CheckFailure: <diagnosis>``, then, when the learner's
        code raised the error the diagnosis explains, that error's frames in the
        learner's own code (notebook cells and files outside the libraries).
        """
        lines = [f"{type(self).__name__}: {self}"]
        cause = self.__cause__
        if cause is not None:
            frames = [
                frame
                for frame in traceback.extract_tb(cause.__traceback__)
                if _is_learners(frame.filename)
            ]
            if frames:
                lines += ["", f"Your code, where the {type(cause).__name__} was raised:"]
                lines += [_describe(frame) for frame in frames]
        return lines


def _is_learners(filename: str) -> bool:
    """Whether a frame's file is the learner's: a notebook cell or a file of their own."""
    if filename.startswith("<"):
        return filename.startswith("<ipython-input")
    path = Path(filename).resolve()
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return False
    return not any(path.is_relative_to(folder) for folder in _library_folders())


@functools.cache
def _library_folders() -> tuple[Path, ...]:
    """This package's folder and Python's library folders: frames there are not the learner's."""
    paths = sysconfig.get_paths()
    python = {Path(path).resolve() for name, path in paths.items() if "lib" in name}
    return (Path(__file__).resolve().parent, *sorted(python))


def _describe(frame: traceback.FrameSummary) -> str:
    """``  Cell In[3], line 12, in djmodel`` (or the file) and the line's code."""
    where = f"File {frame.filename}, line {frame.lineno}"
    shell = _ipython()
    named = shell.compile.format_code_name(frame.filename) if shell is not None else None
    if named:
        where = f"{named[0]} {named[1]}, line {frame.lineno}"
    code = f"\n    {frame.line.strip()}" if frame.line else ""
    return f"  {where}, in {frame.name}{code}"


def _ipython() -> Any:
    """The running IPython shell, if IPython is loaded and one runs (never imports it)."""
    module = sys.modules.get("IPython.core.getipython")
    shell = module.get_ipython() if module is not None else None
    return shell if hasattr(getattr(shell, "compile", None), "format_code_name") else None


class AccompanimentIgnoredWarning(UserWarning):
    """Accompaniment tracks were named for a file whose chord symbols give its chords.

    :func:`jazz_utils.corpus.read_piece` reads the chords a file writes down rather
    than naming them from notes; it warns so that the choice is never silent.
    """
