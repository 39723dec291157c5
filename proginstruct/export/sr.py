"""Search-and-replace (SR) edits of SPEC 8.

An SR edit is a fenced block holding the search text, a line with ``<|search_and_replace|>`` and the
replacement text::

    ```python
        return 3.14 * r * r
    <|search_and_replace|>
        return math.pi * r * r
    ```

Construction from two texts (:func:`sr_edits`): start from the changed line runs (SPEC 3), merge runs at
most ``merge_gap`` (2) unchanged lines apart, then widen each change by one unchanged line at a time,
above and below alternately (merging again whenever two changes come that close), until

- the search and the replacement each hold at least one line (so whole-line insertions and deletions
  carry their newlines and the text-level splice is exact),
- the first and the last line of the search text are neither blank nor ``...`` (surrounding whitespace
  ignored), unless it is the first / last line of the old text (SPEC 8): fuzzy matchers anchor on those
  lines, skip a ``...`` line, and cannot tell blank lines apart, and
- the search text occurs exactly once in the old text (overlapping occurrences counted), and, with
  ``unique_replace``, the replacement occurs exactly once in the new text, which makes the edit
  reversible (used for history turns, so every earlier snapshot can be rebuilt from the current code).

A change with a bad first (last) line widens upwards (downwards) first. Widening always terminates: at
worst the change is the whole text, which occurs once in itself and has no line beyond either end.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..text import change_runs, split_lines
from .fences import fence_lines, read_fence
from .tokens import SEARCH_AND_REPLACE


@dataclass(frozen=True, slots=True)
class SearchReplace:
    """Replace the single occurrence of ``search`` by ``replace`` (both texts, ``"\\n"``-joined lines)."""

    search: str
    replace: str


def occurrences(text: str, sub: str, limit: int = 2) -> int:
    """How many times ``sub`` occurs in ``text``, overlapping occurrences included, counting up to ``limit``.
    The empty string occurs ``len(text) + 1`` times."""
    n, pos = 0, text.find(sub)
    while pos != -1 and n < limit:
        n += 1
        pos = text.find(sub, pos + 1)
    return n


def sr_edits(old: str, new: str, merge_gap: int = 2, unique_replace: bool = False) -> list[SearchReplace]:
    """The SR edits turning ``old`` into ``new`` (see the module docstring), in text order; ``[]`` when equal."""
    la, lb = split_lines(old), split_lines(new)
    # [s, e, t, u, widened]: la[s:e] -> lb[t:u]; ``widened`` counts the lines of context added
    changes = [[*r, 0] for r in change_runs(la, lb)]

    def weak_top(c: list[int]) -> bool:  # a first line to widen past
        return c[0] > 0 and (c[1] == c[0] or weak_anchor(la[c[0]]))

    def weak_bottom(c: list[int]) -> bool:  # a last line to widen past
        return c[1] < len(la) and (c[1] == c[0] or weak_anchor(la[c[1] - 1]))

    def ok(c: list[int]) -> bool:
        s, e, t, u, _ = c
        if e == s or u == t or weak_top(c) or weak_bottom(c):
            return False
        if occurrences(old, "\n".join(la[s:e])) != 1:
            return False
        return not unique_replace or occurrences(new, "\n".join(lb[t:u])) == 1

    changes = _merge_close(changes, merge_gap)
    i = 0
    while i < len(changes):  # changes before i are final
        c = changes[i]
        if ok(c):
            i += 1
            continue
        if c[0] == 0 and c[1] == len(la):  # pragma: no cover - the whole text occurs once in itself
            raise RuntimeError("search-and-replace widening reached the whole text without a unique match")
        if weak_top(c) or (not weak_bottom(c) and ((c[4] % 2 == 0 and c[0] > 0) or c[1] == len(la))):
            # past a weak first line, else one line above, then below, alternately
            c[0] -= 1
            c[2] -= 1
        else:
            c[1] += 1
            c[3] += 1
        c[4] += 1
        if i > 0 and c[0] - changes[i - 1][1] <= merge_gap:
            changes[i - 1 : i + 1] = [_union(changes[i - 1], c)]
            i -= 1
        while i + 1 < len(changes) and changes[i + 1][0] - changes[i][1] <= merge_gap:
            changes[i : i + 2] = [_union(changes[i], changes[i + 1])]
    return [SearchReplace("\n".join(la[s:e]), "\n".join(lb[t:u])) for s, e, t, u, _ in changes]


def weak_anchor(line: str) -> bool:
    """Whether ``line`` cannot anchor a search text: blank, or ``...`` (surrounding whitespace ignored),
    which fuzzy matchers read as "more code here" (SPEC 8)."""
    return line.strip() in ("", "...")


def _merge_close(changes: list[list[int]], gap: int) -> list[list[int]]:
    """Merge consecutive changes whose ranges in the old text are at most ``gap`` lines apart."""
    out: list[list[int]] = []
    for c in changes:
        if out and c[0] - out[-1][1] <= gap:
            out[-1] = _union(out[-1], c)
        else:
            out.append(c)
    return out


def _union(a: list[int], b: list[int]) -> list[int]:
    """The smallest change covering changes ``a`` (earlier) and ``b`` (later), both ``[s, e, t, u, widened]``."""
    return [min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]), 0]


def render_sr(edits: list[SearchReplace], lang: str = "") -> str:
    """The SR text of ``edits``: one fenced block each, separated by a newline (``""`` for none)."""
    return "\n".join(
        fence_lines(split_lines(e.search) + [SEARCH_AND_REPLACE] + split_lines(e.replace), lang) for e in edits
    )


def parse_sr(text: str) -> list[SearchReplace]:
    """Inverse of :func:`render_sr` (blank lines between blocks tolerated). Raises ``ValueError`` for a
    block without the separator line or text outside blocks."""
    if text == "":
        return []
    lines = split_lines(text)
    edits: list[SearchReplace] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "":
            i += 1
            continue
        _, body, i = read_fence(lines, i)
        if SEARCH_AND_REPLACE not in body:
            raise ValueError(f"search-and-replace block ending at line {i - 1} has no separator line")
        k = body.index(SEARCH_AND_REPLACE)
        edits.append(SearchReplace("\n".join(body[:k]), "\n".join(body[k + 1 :])))
    return edits


def apply_sr(old: str, edits: list[SearchReplace]) -> str:
    """Apply SR edits to ``old``: each search text is located in ``old`` itself (it must occur exactly
    once), then all replacements are spliced in at once. Raises ``ValueError`` when a search text is
    missing or ambiguous, or two edits overlap."""
    spans: list[tuple[int, int, str]] = []
    for e in edits:
        n = occurrences(old, e.search)
        if n != 1:
            raise ValueError(f"search text {e.search[:40]!r} occurs {'more than once' if n else 'nowhere'}")
        pos = old.find(e.search)
        spans.append((pos, pos + len(e.search), e.replace))
    spans.sort(key=lambda x: (x[0], x[1]))
    out: list[str] = []
    cur = 0
    for start, end, repl in spans:
        if start < cur:
            raise ValueError("two search-and-replace edits overlap")
        out.append(old[cur:start])
        out.append(repl)
        cur = end
    out.append(old[cur:])
    return "".join(out)


def invert_sr(edits: list[SearchReplace]) -> list[SearchReplace]:
    """The edits that undo ``edits`` (search and replacement swapped); valid when every replacement
    occurs exactly once in the new text (``sr_edits(..., unique_replace=True)``)."""
    return [SearchReplace(e.replace, e.search) for e in edits]
