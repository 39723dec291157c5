"""Target-area synthesis (SPEC 7): where in ``current.code`` a programmer points before an edit.

Pure and deterministic: no I/O, and every random draw comes from the ``random.Random`` passed in.

Offsets are character (code point) indices into ``current.code``, ``0 <= offset <= len(current)``;
spans are half-open ``(start, end)``. A location (``loc``) is one of

- ``None``: no target area;
- ``int``: a cursor position;
- ``[start, end]``: a selected range, ``start <= end``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields

from rapidfuzz.distance import Indel, Levenshtein

from ..ranges import ParamError, check_params

Span = tuple[int, int]
Loc = None | int | list[int]


@dataclass(frozen=True)
class AreaParams:
    """Probabilities and noise of SPEC 7 (defaults: SPEC 9, post_collection row).

    - ``use_loc_prob``: chance that a sample gets a location at all (else ``loc = None``);
    - ``loc_cursor_prob``: chance that a location is a cursor (else a range);
    - ``loc_noisy_prob``: chance of a noisy cursor (anywhere inside a change span) or a noisy range
      (ends widened by up to ``loc_noisy_length`` characters);
    - ``loc_noisy_length``: that widening, in characters (>= 0);
    - ``loc_all_noisy_prob``: chance that a cursor / range ignores the change entirely (uniform offsets).

    Raises :class:`~proginstruct.ranges.ParamError` (a ``ValueError`` and a ``UserError``) when a
    probability is outside ``[0, 1]`` or the length is not a non-negative integer.
    """

    use_loc_prob: float = 0.75
    loc_cursor_prob: float = 0.5
    loc_noisy_prob: float = 0.5
    loc_noisy_length: int = 32
    loc_all_noisy_prob: float = 0.05

    def __post_init__(self) -> None:
        for f in fields(self):
            if isinstance(getattr(self, f.name), str):  # numbers only here (the CLI reads flags as numbers)
                raise ParamError(f"area.{f.name} must be a number, got {getattr(self, f.name)!r}")
        check_params({f.name: getattr(self, f.name) for f in fields(self)}, "area")


def _distance_hint(current: str, next_: str) -> int:
    """An upper bound of the Levenshtein distance, from a fast line diff: for every changed run of
    lines, the larger of its deleted / inserted character counts (newlines included). Only used as
    rapidfuzz's ``score_hint`` (a banded alignment instead of a full one: ~40x faster on long files
    with a few small changes); the distance found is exact either way."""
    a, b = current.split("\n"), next_.split("\n")
    hint = 0
    for op in Indel.opcodes(a, b):
        if op.tag != "equal":
            deleted = sum(len(line) + 1 for line in a[op.src_start : op.src_end])
            inserted = sum(len(line) + 1 for line in b[op.dest_start : op.dest_end])
            hint += max(deleted, inserted)
    return max(hint, 1)


def change_spans(current: str, next_: str) -> list[Span]:
    """The spans of ``current`` that a character-level Levenshtein edit script to ``next_`` touches (SPEC 7).

    Returns a non-empty list of half-open ``(start, end)`` character offsets into ``current``, sorted,
    with ``0 <= start <= end <= len(current)``. A replaced or deleted run ``current[i:j]`` gives
    ``(i, j)``; an insertion before offset ``p`` gives the empty span ``(p, p)``. Spans that overlap
    or touch (``next.start <= prev.end``) are merged, so consecutive spans are separated by at least
    one unchanged character. Equal texts give the single span ``(0, len(current))``.

    The edit script is ``rapidfuzz.distance.Levenshtein.opcodes`` (a minimal one; among equally
    short scripts rapidfuzz's choice is deterministic for given texts and rapidfuzz version).
    """
    if current == next_:
        return [(0, len(current))]
    spans: list[Span] = []
    for op in Levenshtein.opcodes(current, next_, score_hint=_distance_hint(current, next_)):
        if op.tag == "equal":
            continue
        start, end = op.src_start, op.src_end
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans or [(0, len(current))]


def _uniform(rng: random.Random, lo: int, hi: int) -> int:
    """Uniform integer in ``[lo, hi]`` (both included) from exactly one ``rng.random()`` call.

    Built on ``random()`` alone because that is the one method whose sequence Python promises to keep
    across versions (``randint``/``choice`` internals may change), so a seed gives the same data.
    """
    width = hi - lo + 1
    return lo + min(int(rng.random() * width), width - 1)


def synthesize_loc(current: str, next_: str, rng: random.Random, p: AreaParams | None = None) -> Loc:
    """Draw a target area for a sample whose code goes from ``current`` to ``next_`` (SPEC 7).

    Returns ``None``, a cursor offset ``int`` in ``[0, len(current)]``, or a range ``[start, end]``
    with ``0 <= start <= end <= len(current)``. ``spans`` are :func:`change_spans`, ``first`` /
    ``last`` the first and last of them, ``L = len(current)``, ``n = p.loc_noisy_length``.

    Every draw is exactly one ``rng.random()`` call ("u < prob" means the event happens), in this
    fixed order, so a seed reproduces the result on any Python version:

    1. ``u < use_loc_prob`` else return ``None`` (one draw in total);
    2. ``u < loc_cursor_prob``: cursor, else range;
    3. cursor: ``u < loc_all_noisy_prob`` -> uniform offset in ``[0, L]``; else
       ``u < loc_noisy_prob`` (noisy), then one span uniformly among ``spans``, then a uniform offset in
       ``[span.start, span.end]`` when noisy, else one of ``(span.start, span.end)`` uniformly;
    4. range: ``u < loc_all_noisy_prob`` -> two uniform offsets in ``[0, L]``, ordered; else
       ``u < loc_noisy_prob`` picks ``n`` (else 0), then start uniform in ``[max(0, first.start - n),
       first.start]``, then end uniform in ``[last.end, min(last.end + n, L)]`` (each one draw, even
       when the interval has a single value).
    """
    p = p or AreaParams()
    size = len(current)
    if not rng.random() < p.use_loc_prob:
        return None
    is_cursor = rng.random() < p.loc_cursor_prob
    all_noisy = rng.random() < p.loc_all_noisy_prob
    if is_cursor:
        if all_noisy:
            return _uniform(rng, 0, size)
        noisy = rng.random() < p.loc_noisy_prob
        spans = change_spans(current, next_)
        start, end = spans[_uniform(rng, 0, len(spans) - 1)]
        if noisy:
            return _uniform(rng, start, end)
        return (start, end)[_uniform(rng, 0, 1)]
    if all_noisy:
        a, b = _uniform(rng, 0, size), _uniform(rng, 0, size)
        return [min(a, b), max(a, b)]
    n = p.loc_noisy_length if rng.random() < p.loc_noisy_prob else 0
    spans = change_spans(current, next_)
    first_start, last_end = spans[0][0], spans[-1][1]
    start = _uniform(rng, max(0, first_start - n), first_start)
    end = _uniform(rng, last_end, min(last_end + n, size))
    return [start, end]
