"""Chord symbols as jazz musicians write them, and chord progressions from text.

``parse_chord("Bb7")`` gives a :class:`Chord` whose root is B-flat (pitch
class 10) -- never B natural, which is what music21 makes of the raw text.
We parse symbols ourselves and hand music21 only normalised spellings
(:meth:`Chord.music21_figure`, ``"B-7"``).

Accepted spellings (root, then quality, then alterations, then ``/bass``):

======================  ==========================================
root                    ``C D E F G A B`` with ``b``/``#`` (or ♭/♯), e.g. ``Bb``, ``F#``
major                   ``C``, ``C6``, ``C6/9``, ``Cmaj7``, ``CM7``, ``C^7``, ``CΔ``, ``Cmaj9``
minor                   ``Cm``, ``C-``, ``Cmin``, ``Cm6``, ``Cm7``, ``C-7``, ``Cm9``, ``Cm(maj7)``
dominant                ``C7``, ``C9``, ``C13``, ``C7b9``, ``C7#9``, ``C7#11``, ``C7b13``, ``C7alt``
half-diminished         ``Cm7b5``, ``C-7b5``, ``Cø``, ``Cø7``, ``Ch``, ``Ch7``
diminished              ``Co``, ``Cdim``, ``C°`` (triad), ``Co7``, ``Cdim7``, ``C°7``
augmented, suspended    ``C+``, ``Caug``, ``C7#5``, ``C+7``, ``Csus4``, ``Csus2``, ``C7sus4``
slash chords            ``C/E``, ``Bb7/Ab``
======================  ==========================================

A progression is written as bars separated by ``|``; the chords inside a bar
share it evenly, and ``%`` repeats the previous bar::

    parse_progression("| Dm7 G7 | Cmaj7 | % |")
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction

from jazz_utils.errors import ChordError
from jazz_utils.piece import ChordSpan, Measure, Progression, from_ticks, to_ticks

#: Pitch class of each natural note name.
NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
#: Readable name of each pitch class (flats, as jazz lead sheets prefer).
PITCH_CLASS_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

_ACCIDENTALS = {"b": -1, "♭": -1, "#": 1, "♯": 1}
_ROOT = re.compile(r"^([A-Ga-g])((?:bb|##|b|#|♭|♯)?)")

# Quality prefixes, longest first, and the chord family each one starts.
_QUALITY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("m(maj7)", "minmaj"),
    ("min(maj7)", "minmaj"),
    ("-(maj7)", "minmaj"),
    ("m(ma7)", "minmaj"),
    ("mmaj7", "minmaj"),
    ("minmaj7", "minmaj"),
    ("-maj7", "minmaj"),
    ("mM7", "minmaj"),
    ("m^7", "minmaj"),
    ("-^7", "minmaj"),
    ("-Δ7", "minmaj"),
    ("mΔ7", "minmaj"),
    ("maj", "maj"),
    ("Maj", "maj"),
    ("MAJ", "maj"),
    ("ma", "maj"),
    ("M", "maj"),
    ("^", "maj"),
    ("Δ", "maj"),
    ("min", "min"),
    ("mi", "min"),
    ("m", "min"),
    ("-", "min"),
    ("ø", "halfdim"),
    ("h", "halfdim"),
    ("dim", "dim"),
    ("o", "dim"),
    ("°", "dim"),
    ("aug", "aug"),
    ("+", "aug"),
)

# Interval sets (semitones above the root) for each canonical quality.
_BASE_TONES = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus4": (0, 5, 7),
    "sus2": (0, 2, 7),
}

# Seven-note scales (semitones above the root) that a soloist uses over each chord family.
IONIAN = (0, 2, 4, 5, 7, 9, 11)
LYDIAN = (0, 2, 4, 6, 7, 9, 11)
MIXOLYDIAN = (0, 2, 4, 5, 7, 9, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
MELODIC_MINOR = (0, 2, 3, 5, 7, 9, 11)
LOCRIAN_NAT2 = (0, 2, 3, 5, 6, 8, 10)
DIMINISHED_WH = (0, 2, 3, 5, 6, 8, 9, 11)
WHOLE_TONE = (0, 2, 4, 6, 8, 10)
ALTERED = (0, 1, 3, 4, 6, 8, 10)


def pitch_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI note, flats as in :data:`PITCH_CLASS_NAMES`.

    Example:
        60 -> ``"C4"``, 70 -> ``"Bb4"``, 52 -> ``"E3"``, 81 -> ``"A5"``.
    """
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


@dataclass(frozen=True)
class Chord:
    """A parsed chord symbol.

    Attributes:
        symbol: the normalised jazz spelling, e.g. ``"Bb7"``, ``"F#m7b5"``, ``"C/E"``.
        root: pitch class of the root, 0 (C) .. 11 (B).
        intervals: chord tones as semitones above the root, sorted, e.g. (0, 4, 7, 10).
        scale: the chord's scale as semitones above the root (chord tones included).
        bass: pitch class of the bass note (the root unless a slash chord).
        root_name: the root as written, e.g. ``"Bb"``.
        quality: the chord's family: maj, min, dom, halfdim, dim, aug, sus, minmaj.
    """

    symbol: str
    root: int
    intervals: tuple[int, ...]
    scale: tuple[int, ...]
    bass: int
    root_name: str
    quality: str

    @property
    def pitch_classes(self) -> frozenset[int]:
        """Pitch classes of the chord tones."""
        return frozenset((self.root + i) % 12 for i in self.intervals)

    @property
    def scale_pitch_classes(self) -> frozenset[int]:
        """Pitch classes of the chord's scale (a superset of the chord tones)."""
        return frozenset((self.root + i) % 12 for i in self.scale) | self.pitch_classes

    @property
    def seventh(self) -> int | None:
        """Pitch class of the chord's seventh (the sixth of a 6 or dim7 chord), if any."""
        for interval in (10, 11, 9):
            if interval in self.intervals:
                return (self.root + interval) % 12
        return None

    @property
    def third(self) -> int | None:
        """Pitch class of the chord's third (the suspended tone of a sus chord), if any."""
        for interval in (4, 3, 5, 2):
            if interval in self.intervals:
                return (self.root + interval) % 12
        return None

    def music21_figure(self) -> str:
        """The symbol spelled for ``music21.harmony.ChordSymbol`` (flats as ``-``)."""

        def m21(name: str) -> str:
            return name[0] + name[1:].replace("b", "-").replace("♭", "-").replace("♯", "#")

        head, _, bass = self.symbol.partition("/")
        body = head[len(self.root_name) :]
        figure = m21(self.root_name) + body
        return figure + ("/" + m21(bass) if bass else "")

    def __str__(self) -> str:
        return self.symbol


def _parse_root(text: str) -> tuple[int, str, str]:
    match = _ROOT.match(text)
    if not match:
        raise ValueError("a chord symbol starts with a note name A-G")
    letter = match.group(1).upper()
    accidentals = match.group(2)
    pc = NATURALS[letter] + sum(_ACCIDENTALS[a] for a in accidentals)
    spelled = letter + accidentals.replace("♭", "b").replace("♯", "#")
    return pc % 12, spelled, text[match.end() :]


def _split_bass(rest: str) -> tuple[str, str | None]:
    """Split ``"7/Ab"`` into ``("7", "Ab")``; ``"6/9"`` has no bass."""
    if "/" in rest:
        head, _, tail = rest.rpartition("/")
        if _ROOT.match(tail) and _ROOT.match(tail).end() == len(tail):  # type: ignore[union-attr]
            return head, tail
    return rest, None


_TOKEN = re.compile(
    r"(?P<alt>alt)|(?P<sus>sus[24]?)|(?P<sixnine>6/?9)|(?P<add>add)?"
    r"(?P<acc>[b#♭♯]?)(?P<num>13|11|9|7|6|5|4|2)"
)
# Semitones above the root of each natural degree a symbol may name.
_DEGREE = {2: 14, 4: 17, 5: 7, 6: 9, 7: 10, 9: 14, 11: 17, 13: 21}


def _take_quality(text: str) -> tuple[str, str, bool]:
    """Split the quality prefix off: (family, rest, major seventh written)."""
    for prefix, family in _QUALITY_PREFIXES:
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            if family == "minmaj":
                return family, rest, True
            major_seventh = family == "maj"
            bare_triangle = prefix in ("^", "Δ") and not rest[:1].isdigit()
            return family, ("7" + rest if bare_triangle else rest), major_seventh
    return "maj", text, False


def _chord_tones(body: str) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """Quality family, chord intervals and scale for the text after the root.

    Raises:
        ValueError: a part of ``body`` that is no quality, number or alteration.
    """
    text = re.sub(r"[\s(),]", "", body)
    family, text, major_seventh = _take_quality(text)
    tones = set(_BASE_TONES[{"halfdim": "dim", "minmaj": "min"}.get(family, family)])
    default_seventh = 11 if major_seventh else (9 if family == "dim" else 10)
    seventh: int | None = {"halfdim": 10, "minmaj": 11}.get(family)
    extensions: set[int] = set()
    altered: list[tuple[int, int]] = []  # (natural interval, altered interval)
    sus: int | None = None
    is_alt = False

    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"cannot read {text[pos:]!r}")
        pos = match.end()
        if match["alt"]:
            is_alt = True
        elif match["sus"]:
            sus = 2 if match["sus"] == "sus2" else 5
        elif match["sixnine"]:
            extensions |= {9, 14}
        else:
            number = int(match["num"])
            natural = _DEGREE[number]
            if match["acc"]:
                shift = -1 if match["acc"] in "b♭" else 1
                altered.append((natural, natural + shift))
            elif match["add"] or number in (2, 4, 6):
                if number == 4 and not match["add"]:
                    sus = 5
                else:
                    extensions.add(natural)
            elif number == 5:
                tones.discard(3)
                tones.discard(4)  # a power chord, "C5"
            else:  # 7, 9, 11, 13: a seventh chord with its extensions up to the number
                seventh = seventh if seventh is not None else default_seventh
                extensions |= {d for d in (14, 17, 21) if d <= natural}
                if number == 13 and family != "min":
                    extensions.discard(17)  # the natural 11 clashes with a major third

    if sus is not None:
        tones -= {3, 4}
        tones.add(sus)
    for natural, interval in altered:
        if natural == 7:
            tones.discard(7)
        if seventh is None and natural != 7 and family == "maj":
            seventh = 10  # "C7b9" is often written "Cb9"; an alteration implies the seventh
        extensions.discard(natural)
        extensions.add(interval)
    if is_alt:
        seventh = 10 if seventh is None else seventh
        tones.discard(7)
        extensions |= {13, 15, 18, 20}
    if seventh is not None:
        tones.add(seventh)
    intervals = tuple(sorted({t % 12 for t in tones | extensions}))

    if family == "maj" and seventh == 10:
        family = "dom"
    if family == "min" and 6 in intervals and 7 not in intervals and seventh == 10:
        family = "halfdim"
    if sus is not None and family in ("maj", "dom"):
        family = "sus"
    return family, intervals, _scale_for(family, intervals, is_alt)


def _scale_for(family: str, tones: tuple[int, ...], altered: bool) -> tuple[int, ...]:
    """A seven- (or six-/eight-) note scale containing the chord tones."""
    if altered:
        base = ALTERED
    elif family in ("dom", "sus"):
        base = MIXOLYDIAN
    elif family == "maj":
        base = LYDIAN if 6 in tones else IONIAN
    elif family == "min":
        base = DORIAN
    elif family == "minmaj":
        base = MELODIC_MINOR
    elif family == "halfdim":
        base = LOCRIAN_NAT2
    elif family == "dim":
        base = DIMINISHED_WH
    else:
        base = WHOLE_TONE
    # Altered tones replace the scale degree they alter (b9 replaces 9, #11 replaces 11).
    scale = set(base)
    for tone in tones:
        if tone not in scale:
            for neighbour in ((tone - 1) % 12, (tone + 1) % 12):
                if neighbour in scale and neighbour not in tones and neighbour != 0:
                    scale.discard(neighbour)
                    break
            scale.add(tone)
    return tuple(sorted(scale))


@functools.lru_cache(maxsize=4096)
def parse_chord(symbol: str) -> Chord:
    """Parse one chord symbol.

    Args:
        symbol: e.g. ``"Bb7"``, ``"Ebmaj7"``, ``"F#m7b5"``, ``"C-7"``, ``"C/E"``.

    Returns:
        The chord, with ``symbol`` normalised to the spelling shown above.

    Raises:
        ChordError: the symbol cannot be read; the message names it.
    """
    text = str(symbol).strip()
    if not text:
        raise ChordError("Empty chord symbol: write a root note A-G, e.g. 'C7'.")
    try:
        root, root_name, rest = _parse_root(text)
        rest, bass_text = _split_bass(rest)
        family, intervals, scale = _chord_tones(rest)
        bass = _parse_root(bass_text)[0] if bass_text else root
    except ValueError as exc:
        raise ChordError(
            f"Unknown chord symbol {symbol!r} ({exc}). Write it like 'Bb7', 'Ebmaj7', "
            "'F#m7b5', 'C-7', 'Cdim7', 'C7alt' or 'C/E'."
        ) from None
    bass_name = ""
    if bass_text:
        bass_name = "/" + _parse_root(bass_text)[1]
    normalised = root_name + rest.replace(" ", "") + bass_name
    return Chord(
        symbol=normalised,
        root=root,
        intervals=intervals,
        scale=scale,
        bass=bass,
        root_name=root_name,
        quality=family,
    )


# Templates for naming a set of sounding pitch classes: suffix -> intervals.
_TEMPLATES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("maj7", (0, 4, 7, 11)),
    ("7", (0, 4, 7, 10)),
    ("m7", (0, 3, 7, 10)),
    ("m7b5", (0, 3, 6, 10)),
    ("o7", (0, 3, 6, 9)),
    ("m(maj7)", (0, 3, 7, 11)),
    ("6", (0, 4, 7, 9)),
    ("m6", (0, 3, 7, 9)),
    ("", (0, 4, 7)),
    ("m", (0, 3, 7)),
    ("o", (0, 3, 6)),
    ("+", (0, 4, 8)),
    ("sus4", (0, 5, 7)),
    ("7sus4", (0, 5, 7, 10)),
)


def name_chord(pitch_classes: set[int] | frozenset[int], bass: int | None = None) -> Chord:
    """Name a set of sounding pitch classes as a chord symbol.

    Every root and template is scored: tones matched count for, template tones
    missing and extra tones count against; a root in the bass breaks ties.
    Rootless voicings (3rd, 7th, 9th) are named by the chord they imply.

    Args:
        pitch_classes: the pitch classes sounding together (at least one).
        bass: pitch class of the lowest note, if known.

    Returns:
        The best-matching chord, e.g. ``name_chord({2, 5, 9, 0})`` is Dm7.

    Raises:
        ChordError: ``pitch_classes`` is empty.
    """
    pcs = {int(p) % 12 for p in pitch_classes}
    if not pcs:
        raise ChordError("Cannot name a chord from no notes.")
    best: tuple[float, str, int] | None = None
    for root in range(12):
        for suffix, template in _TEMPLATES:
            tones = {(root + t) % 12 for t in template}
            matched = len(tones & pcs)
            missing = len(tones - pcs)
            extra = len(pcs - tones)
            # A missing fifth is normal in jazz voicings; a missing third or root less so.
            fifth_missing = ((root + 7) % 12 in tones) and ((root + 7) % 12 not in pcs)
            score = 2.0 * matched - 1.5 * missing - 1.0 * extra + (0.9 if fifth_missing else 0)
            score -= 0.01 * len(template)
            if bass is not None and bass % 12 == root:
                score += 0.75
            if root in pcs:
                score += 0.25
            if best is None or score > best[0] + 1e-9:
                best = (score, suffix, root)
    assert best is not None
    _score, suffix, root = best
    return parse_chord(PITCH_CLASS_NAMES[root] + suffix)


_BAR_SPLIT = re.compile(r"\|+")


def _short(text: str, limit: int = 60) -> str:
    """Quote text for a message, shortened to about ``limit`` characters."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def parse_progression(text: str, time_signature: tuple[int, int] = (4, 4)) -> Progression:
    """Read a chord progression written as bars separated by ``|``.

    Args:
        text: e.g. ``"| F7 | Bb7 | F7 | Cm7 F7 |"``; chords in one bar share it
            evenly; ``%`` repeats the previous bar; newlines are allowed.
        time_signature: (beats, beat unit) of every bar; (3, 4) gives 3-beat bars.

    Returns:
        A :class:`Progression` with one measure per bar.

    Raises:
        ChordError: an empty progression, an empty bar or an unknown symbol;
            the message names the symbol and its bar number (from 1).
    """
    if not isinstance(text, str):
        raise ChordError(f"A chord progression is text like '| Dm7 G7 | Cmaj7 |', not {text!r}.")
    beats, unit = time_signature
    bar_length = Fraction(4 * beats, unit)
    bars = [b.strip() for b in _BAR_SPLIT.split(text.replace("\n", "|"))]
    if bars and bars[0] == "":
        bars = bars[1:]
    if bars and bars[-1] == "":
        bars = bars[:-1]
    if not bars:
        raise ChordError(
            f"The progression {_short(text)} has no bars: write chords between '|', "
            "e.g. '| Dm7 G7 | Cmaj7 |'."
        )
    measures: list[Measure] = []
    for number, bar in enumerate(bars, start=1):
        symbols = bar.split()
        if not symbols:
            raise ChordError(
                f"Bar {number} of the progression {_short(text)} is empty: every bar needs a "
                "chord (use '%' to repeat the previous bar)."
            )
        if symbols == ["%"]:
            if not measures:
                raise ChordError(f"Bar 1 of {_short(text)} is '%', but there is no bar to repeat.")
            measures.append(measures[-1])
            continue
        spans = []
        share = bar_length / len(symbols)
        for i, symbol in enumerate(symbols):
            try:
                chord = parse_chord(symbol)
            except ChordError as exc:
                raise ChordError(f"Bar {number}: {exc}") from None
            start, end = to_ticks(float(share * i)), to_ticks(float(share * (i + 1)))
            spans.append(ChordSpan(from_ticks(start), from_ticks(end - start), chord))
        measures.append(Measure(length=float(bar_length), chords=tuple(spans)))
    return Progression(measures, time_signature)


def as_progression(
    chords: Progression | str, time_signature: tuple[int, int] = (4, 4)
) -> Progression:
    """Accept a :class:`Progression` or progression text and return a ``Progression``."""
    if isinstance(chords, Progression):
        if len(chords) == 0:
            raise ChordError("The chord progression is empty: give at least one bar.")
        return chords
    if isinstance(chords, str):
        return parse_progression(chords, time_signature)
    raise ChordError(
        "chords must be a Progression (e.g. the one load_music_utils returns) or text like "
        f"'| Dm7 G7 | Cmaj7 |', not {type(chords).__name__}."
    )
