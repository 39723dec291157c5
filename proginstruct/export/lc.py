"""Location-and-change (LC) edits of SPEC 8.

An LC edit is a line range ``start,end`` of the old text (0-based, half-open) followed by the fenced
replacement lines; an insertion has ``start == end``. The edits between two texts are their edit blocks
(SPEC 3), except that a fence never holds zero lines (SPEC 8): a pure deletion takes in the unchanged line
before it (the one after it, at the top of the text), since parsers that read a fence as an opening
line, a newline, the lines and a newline before the closing one cannot match an empty fence. Applying
all the edits to the old text gives the new text, byte for byte. Edits are separated by one newline::

    3,5
    ```python
    def area(r):
        return math.pi * r * r
    ```
"""

from __future__ import annotations

import re

from ..blocks import EditBlock, apply_blocks
from ..text import change_runs, split_lines
from .fences import fence_lines, read_fence

_RANGE = re.compile(r"(\d+),(\d+)")


def lc_edits(old: str, new: str) -> list[EditBlock]:
    """The LC edits turning ``old`` into ``new``: ranges in ``old``, lines from ``new``, in order, each
    with at least one line (a pure deletion widened by one unchanged line, see the module docstring;
    two edits widened into the same line become one)."""
    la, lb = split_lines(old), split_lines(new)
    runs: list[list[int]] = []
    for i1, i2, j1, j2 in change_runs(la, lb):
        if j1 == j2:  # pure deletion: every text has a line, so an unchanged neighbour exists
            if i1 > 0:
                i1, j1 = i1 - 1, j1 - 1
            else:
                i2, j2 = i2 + 1, j2 + 1
        if runs and i1 < runs[-1][1]:  # both took in the one unchanged line between them
            runs[-1][1], runs[-1][3] = i2, j2
        else:
            runs.append([i1, i2, j1, j2])
    return [EditBlock(i1, i2, tuple(lb[j1:j2])) for i1, i2, j1, j2 in runs]


def render_lc(edits: list[EditBlock], lang: str = "") -> str:
    """The LC text of ``edits`` (``""`` when there are none); each fence tagged with ``lang``."""
    return "\n".join(f"{e.start},{e.end}\n{fence_lines(list(e.lines), lang)}" for e in edits)


def parse_lc(text: str) -> list[EditBlock]:
    """Inverse of :func:`render_lc` (blank lines between edits tolerated). Raises ``ValueError`` when
    the text is not a sequence of ``start,end`` lines each followed by a fenced block, or when the
    ranges are not in order and disjoint."""
    if text == "":
        return []
    lines = split_lines(text)
    edits: list[EditBlock] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "":
            i += 1
            continue
        m = _RANGE.fullmatch(lines[i])
        if not m:
            raise ValueError(f"expected 'start,end' at line {i}, found {lines[i]!r}")
        start, end = int(m.group(1)), int(m.group(2))
        if start > end or (edits and start < edits[-1].end):
            raise ValueError(f"range {start},{end} at line {i} is reversed or overlaps the previous edit")
        _, body, i = read_fence(lines, i + 1)
        edits.append(EditBlock(start, end, tuple(body)))
    return edits


def apply_lc(old: str, edits: list[EditBlock]) -> str:
    """Apply LC edits (ranges in ``old``) to ``old``. Raises ``ValueError`` for overlapping edits or a
    range beyond the end of ``old``."""
    return apply_blocks(old, edits)
