"""Training data: a corpus's values, its vocabulary and one-hot windows.

``load_music_utils`` is the notebook's entry point::

    X, Y, n_values, indices_values, chords = load_music_utils()

* ``X``: float32 one-hot, shape ``(m, Tx, n_values)``: ``m`` windows of ``Tx``
  consecutive values, each window inside one piece.
* ``Y``: float32 one-hot, shape ``(Ty, m, n_values)`` with ``Ty == Tx``: the value
  that follows each step, so ``Y[t] == X[:, t + 1]`` for ``t < Tx - 1`` and
  ``Y[Tx - 1]`` is the value after the window (no all-zero step anywhere).
  It is time-major because the model returns one output per time step.
* ``n_values``: the vocabulary size.
* ``indices_values``: ``{index: value string}``, the vocabulary in sorted order,
  identical across runs, processes, hash seeds and machines.
* ``chords``: the corpus's chord progression (a :class:`~jazz_utils.piece.Progression`,
  every piece's bars one after another), usable for generation.

Reading files is the slow part, so each file's parsed piece is cached on disk,
keyed by the file's content hash, the reading options and the library's cache
version (folder: ``$JAZZ_UTILS_CACHE`` or ``~/.cache/jazz_utils``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from jazz_utils.chords import parse_chord
from jazz_utils.copying import warn_if_small_corpus
from jazz_utils.corpus import SYMBOLS, check_source_path, read_piece, warn_accompaniment_ignored
from jazz_utils.errors import CorpusError
from jazz_utils.grammar import piece_to_values
from jazz_utils.midi_io import MIDI_SUFFIXES
from jazz_utils.musicxml import MUSICXML_SUFFIXES, music21_work_path
from jazz_utils.piece import ChordSpan, Measure, Note, Piece, Progression

#: Bump when reading or the grammar changes, so old cache entries are ignored.
#: 2: entries keep the piece's metadata; chords named from accompaniment keep held notes.
CACHE_VERSION = 2
Source = str | Path | Sequence[str | Path] | None


def bundled_corpus_dir() -> Path:
    """The folder of the bundled corpus (``jazz_utils/data``)."""
    return Path(str(resources.files("jazz_utils") / "data"))


def corpus_files(source: Source = None) -> list[str]:
    """The files a source names, in a stable order.

    Args:
        source: None (the bundled corpus), a file, a folder (its MIDI and MusicXML
            files, sorted by name), ``"music21:<work>"``, or a list of these.

    Raises:
        CorpusError: a missing path, a folder without music files, or a source that
            is none of the above (a number, bytes).
    """
    if source is not None and not isinstance(source, str | os.PathLike | list | tuple):
        what = "bytes" if isinstance(source, bytes | bytearray) else type(source).__name__
        raise CorpusError(
            f"source is {what} ({str(source)[:40]}); give None for the bundled corpus, a "
            "file or folder path as text (source='my_band.mid') or a pathlib.Path, or a "
            "list of these."
        )
    if source is None:
        folder = bundled_corpus_dir()
        files = sorted(str(p) for p in folder.glob("*.mid"))
        if not files:
            raise CorpusError(
                f"The bundled corpus in {folder} is missing; regenerate it with `make corpus`."
            )
        return files
    if isinstance(source, str | Path):
        text = str(source)
        if text.startswith("music21:"):
            return [text]
        path = Path(source).expanduser()
        if path.is_dir():
            suffixes = MIDI_SUFFIXES + MUSICXML_SUFFIXES
            files = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in suffixes)
            if not files:
                raise CorpusError(f"The folder {path} holds no MIDI or MusicXML files.")
            return files
        if not path.exists():
            raise CorpusError(
                f"{path} does not exist. Check the path (it is relative to {Path.cwd()})."
            )
        return [str(path)]
    files = []
    for item in source:
        files.extend(corpus_files(item))
    if not files:
        raise CorpusError("The list of sources is empty.")
    return files


def _cache_dir() -> Path:
    return Path(os.environ.get("JAZZ_UTILS_CACHE") or Path.home() / ".cache" / "jazz_utils")


def _content_key(file: str, options: dict[str, object]) -> str:
    digest = hashlib.sha256()
    if file.startswith("music21:"):
        digest.update(file.encode())
        path = music21_work_path(file.removeprefix("music21:"))
    else:
        path = Path(file)
    try:
        digest.update(path.read_bytes())
    except OSError as exc:
        raise CorpusError(f"{path} cannot be read ({exc}).") from None
    digest.update(json.dumps([CACHE_VERSION, options], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _piece_to_json(piece: Piece) -> dict[str, object]:
    return {
        "name": piece.name,
        "source": piece.source,
        "tempo": piece.tempo,
        "time_signature": list(piece.time_signature),
        "dropped_notes": piece.dropped_notes,
        "metadata": piece.metadata,
        "measures": [
            {
                "length": m.length,
                "chords": [[s.offset, s.duration, s.chord.symbol] for s in m.chords],
                "notes": [[n.offset, n.duration, n.pitch, n.velocity] for n in m.notes],
            }
            for m in piece.measures
        ],
    }


def _piece_from_json(data: dict) -> Piece:
    measures = tuple(
        Measure(
            length=m["length"],
            chords=tuple(ChordSpan(o, d, parse_chord(s)) for o, d, s in m["chords"]),
            notes=tuple(Note(o, d, p, v) for o, d, p, v in m["notes"]),
        )
        for m in data["measures"]
    )
    return Piece(
        measures=measures,
        time_signature=tuple(data["time_signature"]),  # type: ignore[arg-type]
        tempo=data["tempo"],
        name=data["name"],
        source=data["source"],
        dropped_notes=data["dropped_notes"],
        metadata=data["metadata"],
    )


def load_piece(file: str | Path, cache: bool = True, **options: object) -> Piece:
    """Read one file with :func:`~jazz_utils.corpus.read_piece`, through the cache.

    Args:
        file: a MIDI or MusicXML path or ``"music21:<work>"``.
        cache: use and fill the on-disk cache.
        **options: ``melody``, ``accompaniment``, ``window``, ``chord_resolution``.

    A piece from the cache equals the one read from the file, its ``metadata``
    included, and warns as reading it did (accompaniment named for a file whose
    chord symbols give the chords).
    """
    check_source_path(file, "file")
    file = str(file)
    if not cache:
        return read_piece(file, **options)  # type: ignore[arg-type]
    key = _content_key(file, options)
    entry = _cache_dir() / f"{key}.json"
    if entry.exists():
        try:
            cached = _piece_from_json(json.loads(entry.read_text()))
        except (ValueError, KeyError, TypeError):
            entry.unlink(missing_ok=True)  # a damaged entry is read again from the file
        else:
            accompaniment = options.get("accompaniment")
            if accompaniment is not None and cached.metadata.get("chords_from") == SYMBOLS:
                warn_accompaniment_ignored(Path(cached.source).name, accompaniment)
            return cached
    piece = read_piece(file, **options)  # type: ignore[arg-type]
    try:
        text = json.dumps(_piece_to_json(piece))
    except TypeError:
        return piece  # metadata JSON cannot hold is not cached (a reader never makes it)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=entry.parent, delete=False, suffix=".tmp") as tmp:
            tmp.write(text)
        os.replace(tmp.name, entry)  # atomic: parallel loads never see half an entry
    except OSError:
        pass  # a read-only home still loads, only without the cache
    return piece


def load_pieces(source: Source = None, cache: bool = True, **options: object) -> list[Piece]:
    """Every piece a source names (see :func:`corpus_files`), read through the cache."""
    return [load_piece(f, cache=cache, **options) for f in corpus_files(source)]


@dataclass(frozen=True)
class Vocabulary:
    """The sorted set of values of a corpus.

    Attributes:
        values: every distinct value string, sorted.
    """

    values: tuple[str, ...]

    @classmethod
    def from_sequences(cls, sequences: Sequence[Sequence[str]]) -> Vocabulary:
        """The vocabulary of some value sequences (sorted, so stable everywhere)."""
        return cls(tuple(sorted({v for seq in sequences for v in seq})))

    @property
    def indices_values(self) -> dict[int, str]:
        """``{index: value}``."""
        return dict(enumerate(self.values))

    @property
    def values_indices(self) -> dict[str, int]:
        """``{value: index}``."""
        return {v: i for i, v in enumerate(self.values)}

    def __len__(self) -> int:
        return len(self.values)


def one_hot(indices: np.ndarray, n_values: int) -> np.ndarray:
    """One-hot encode integer indices.

    Args:
        indices: integer array of any shape ``S``.
        n_values: vocabulary size.

    Returns:
        float32 array of shape ``S + (n_values,)``.
    """
    return np.eye(n_values, dtype=np.float32)[np.asarray(indices)]


def _check_seed(seed: object) -> None:
    """Raise a CorpusError unless ``seed`` is a whole number >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise CorpusError(
            f"seed must be a whole number >= 0, e.g. seed=0, not {seed!r}; it picks the "
            "training windows, so the same seed gives the same X and Y."
        )


def _memory_bytes() -> int | None:
    """This machine's physical memory in bytes, where the system says (None elsewhere)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_room(sequences: Sequence[Sequence[int]], Tx: int, m: int, n_values: int) -> None:
    """Raise a CorpusError when X and Y for ``m`` windows would fill half the memory.

    The message gives the memory they would need and how many different windows
    the corpus holds: :func:`sample_windows` draws with replacement past that
    number, so a larger ``m`` repeats windows and adds no data. A corpus with no
    window of ``Tx + 1`` values is left to :func:`sample_windows` to explain.
    """
    distinct = sum(max(0, len(seq) - Tx) for seq in sequences)
    per_window = 2 * Tx * n_values * np.dtype(np.float32).itemsize
    memory = _memory_bytes() or 64 * 2**30
    if distinct == 0 or m * per_window <= memory // 2:
        return
    largest = min(distinct, memory // 2 // per_window)
    raise CorpusError(
        f"m={m} windows of Tx={Tx} values would need {m * per_window / 2**30:,.0f} GiB for "
        f"X and Y (float32 arrays of m x Tx x n_values, n_values={n_values}), more than "
        f"half of this machine's {memory / 2**30:,.0f} GiB. The corpus holds {distinct:,} "
        "different windows of Tx + 1 values, and windows past that number are drawn "
        f"again, so a larger m repeats them: use m <= {largest:,}."
    )


def sample_windows(
    sequences: Sequence[Sequence[int]], length: int, m: int, seed: int = 0
) -> np.ndarray:
    """Draw ``m`` windows of ``length`` consecutive indices, each inside one sequence.

    Every possible window is equally likely (windows are drawn with replacement
    when there are fewer than ``m`` of them, without otherwise).

    Returns:
        int array of shape ``(m, length)``.

    Raises:
        CorpusError: no sequence is ``length`` long, or ``seed`` is not a whole number >= 0.
    """
    _check_seed(seed)
    starts = [(s, i) for s, seq in enumerate(sequences) for i in range(len(seq) - length + 1)]
    if not starts:
        longest = max((len(seq) for seq in sequences), default=0)
        raise CorpusError(
            f"No piece has {length} values (the longest has {longest}); use a smaller Tx "
            "or a longer piece."
        )
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(starts), size=m, replace=len(starts) < m)
    return np.array(
        [sequences[starts[k][0]][starts[k][1] : starts[k][1] + length] for k in chosen],
        dtype=np.int64,
    ).reshape(m, length)


def load_music_utils(
    source: Source = None,
    Tx: int = 30,
    m: int = 60,
    seed: int = 0,
    *,
    melody: int | str | None = None,
    accompaniment: Sequence[int | str] | int | str | None = None,
    window: tuple[float, float] | None = None,
    chord_resolution: str = "beat",
    cache: bool = True,
) -> tuple[np.ndarray, np.ndarray, int, dict[int, str], Progression]:
    """Load a corpus as one-hot training data.

    Args:
        source: None for the bundled corpus; a MIDI/MusicXML file, a folder of them,
            ``"music21:<work>"`` or a list of these.
        Tx: time steps per window.
        m: number of windows (training examples).
        seed: seeds the choice of windows (same seed, same X and Y).
        melody, accompaniment, window, chord_resolution: how to read each file
            (see :func:`jazz_utils.corpus.read_piece`).
        cache: use the on-disk cache of parsed files.

    Returns:
        ``(X, Y, n_values, indices_values, chords)``: X float32 ``(m, Tx, n_values)``,
        Y float32 ``(Tx, m, n_values)``, the vocabulary size, ``{index: value}``
        and the corpus's :class:`~jazz_utils.piece.Progression`.

    Raises:
        CorpusError: bad source or options, a corpus shorter than ``Tx + 1`` values, or
            an ``m`` whose X and Y would take more than half this machine's memory.

    Warns:
        SmallCorpusWarning: the corpus is too small for ``m`` windows of ``Tx`` values
            to be learnt without memorising it (the message gives the numbers; see
            :func:`jazz_utils.copying.small_corpus_reasons`).
    """
    for name, number in (("Tx", Tx), ("m", m)):
        if isinstance(number, bool) or not isinstance(number, int | np.integer) or number < 1:
            raise CorpusError(f"{name} must be a positive whole number, not {number!r}.")
    _check_seed(seed)
    options: dict[str, object] = {"chord_resolution": chord_resolution}
    if melody is not None:
        options["melody"] = melody
    if accompaniment is not None:
        options["accompaniment"] = accompaniment
    if window is not None:
        options["window"] = window
    pieces = load_pieces(source, cache=cache, **options)
    sequences = [piece_to_values(p) for p in pieces]
    vocabulary = Vocabulary.from_sequences(sequences)
    lookup = vocabulary.values_indices
    indexed = [[lookup[v] for v in seq] for seq in sequences]
    _check_room(indexed, int(Tx), int(m), len(vocabulary))
    windows = sample_windows(indexed, int(Tx) + 1, int(m), seed)
    n_values = len(vocabulary)
    X = one_hot(windows[:, :-1], n_values)
    Y = np.swapaxes(one_hot(windows[:, 1:], n_values), 0, 1).copy()
    chords = Progression(
        [measure for p in pieces for measure in p.measures], pieces[0].time_signature
    )
    warn_if_small_corpus(indexed, int(Tx), int(m), bars=len(chords))
    return X, Y, n_values, vocabulary.indices_values, chords
