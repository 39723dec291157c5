"""The target area in the current code as special tokens (SPEC 8, with SPEC 7's ``loc``).

``loc`` is ``None`` (no area), an ``int`` cursor offset, or ``[start, end]`` character offsets into
the current code (``0 <= start <= end <= len(code)``).
"""

from __future__ import annotations

from typing import Any

from .tokens import TARGET, TARGET_END, TARGET_START

Loc = None | int | list[int]


def loc_problem(loc: Any, length: int) -> str | None:
    """Why ``loc`` is not a valid area for a text of ``length`` characters, or ``None`` when it is."""
    if loc is None:
        return None
    if isinstance(loc, bool):
        return f"loc {loc!r} is a boolean"
    if isinstance(loc, int):
        return None if 0 <= loc <= length else f"cursor {loc} outside [0, {length}]"
    if isinstance(loc, list | tuple) and len(loc) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                             for x in loc):
        s, e = loc
        return None if 0 <= s <= e <= length else f"range {list(loc)} not within [0, {length}] in order"
    return f"loc {loc!r} is not null, an offset or [start, end]"


def mark_location(code: str, loc: Loc) -> str:
    """Insert ``<|target|>`` at a cursor, or ``<|target_start|>`` / ``<|target_end|>`` around a range.

    Offsets are characters of ``code``; ``None`` returns ``code`` unchanged. Raises ``ValueError`` for
    an invalid ``loc`` (see :func:`loc_problem`).
    """
    problem = loc_problem(loc, len(code))
    if problem:
        raise ValueError(problem)
    if loc is None:
        return code
    if isinstance(loc, int):
        return code[:loc] + TARGET + code[loc:]
    s, e = loc
    return code[:s] + TARGET_START + code[s:e] + TARGET_END + code[e:]


def unmark_location(marked: str) -> tuple[str, Loc]:
    """Inverse of :func:`mark_location` for code without other special tokens: ``(code, loc)``.

    Raises ``ValueError`` when the tokens are not exactly one cursor, one ordered range, or none.
    """
    n_cursor, n_start, n_end = (marked.count(t) for t in (TARGET, TARGET_START, TARGET_END))
    if (n_cursor, n_start, n_end) == (0, 0, 0):
        return marked, None
    if (n_cursor, n_start, n_end) == (1, 0, 0):
        p = marked.index(TARGET)
        return marked.replace(TARGET, ""), p
    if (n_cursor, n_start, n_end) == (0, 1, 1):
        s, e = marked.index(TARGET_START), marked.index(TARGET_END)
        if e < s:
            raise ValueError("range end token before its start token")
        code = marked.replace(TARGET_START, "").replace(TARGET_END, "")
        return code, [s, e - len(TARGET_START)]
    raise ValueError(f"unexpected location tokens: {n_cursor} cursor, {n_start} start, {n_end} end")
