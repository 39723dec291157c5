"""Location-and-change (LC) edits of SPEC 8.

An LC edit is a line range ``start,end`` of the old text (0-based, half-open) followed by the fenced
replacement lines; an insertion has ``start == end`` and a deletion an empty fence. The edits between
two texts are exactly their edit blocks (SPEC 3), so applying all of them to the old text gives the new
text, byte for byte. Edits are separated by one newline::

    3,5
    ```python
    def area(r):
        return math.pi * r * r
    ```
"""

from __future__ import annotations

import re

from ..blocks import EditBlock, apply_blocks, edit_blocks
from ..text import split_lines
from .fences import fence_lines, read_fence

_RANGE = re.compile(r"(\d+),(\d+)")


def lc_edits(old: str, new: str) -> list[EditBlock]:
    """The LC edits turning ``old`` into ``new``: ranges in ``old``, lines from ``new``, in order."""
    return edit_blocks(old, new)


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
