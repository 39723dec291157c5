"""Edit blocks between two versions of a file (SPEC 3).

An edit block is one maximal run of changed lines between two unchanged lines: lines
``a[start:end]`` of the old version are replaced by ``lines`` (from the new version). Indices are
0-based line indices into the old version, half-open. Blocks of one pair never overlap and are
separated by at least one unchanged line, so any subset can be applied on its own.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from .text import change_runs, join_lines, split_lines, unified_diff_of_runs


@dataclass(frozen=True, slots=True)
class EditBlock:
    """Replace old lines ``[start, end)`` (0-based, half-open) by ``lines``; ``start == end`` inserts."""

    start: int
    end: int
    lines: tuple[str, ...]


def edit_blocks(a: str, b: str) -> list[EditBlock]:
    """The edit blocks turning ``a`` into ``b``, ordered by position (SPEC 3). ``[]`` when ``a == b``."""
    la, lb = split_lines(a), split_lines(b)
    return _blocks(lb, change_runs(la, lb))


def edit_blocks_and_diff(a: str, b: str) -> tuple[list[EditBlock], str]:
    """``(edit_blocks(a, b), unified_diff(a, b))`` from one line diff (SPEC 2, 3)."""
    la, lb = split_lines(a), split_lines(b)
    runs = change_runs(la, lb)
    return _blocks(lb, runs), unified_diff_of_runs(la, lb, runs)


def _blocks(lb: list[str], runs: list[tuple[int, int, int, int]]) -> list[EditBlock]:
    return [EditBlock(i1, i2, tuple(lb[j1:j2])) for i1, i2, j1, j2 in runs]


def apply_blocks(a: str, blocks: Iterable[EditBlock], lines: list[str] | None = None) -> str:
    """Apply a subset of ``edit_blocks(a, ·)`` to ``a``; order of ``blocks`` does not matter.

    ``lines``: ``split_lines(a)`` when the caller has it (applying many subsets to one text).
    Raises ``ValueError`` if two blocks overlap or a block lies outside ``a``.
    """
    la = split_lines(a) if lines is None else lines
    out: list[str] = []
    pos = 0
    for blk in sorted(blocks, key=lambda x: (x.start, x.end)):
        if blk.start < pos or blk.end > len(la) or blk.start > blk.end:
            raise ValueError(f"edit block {blk.start}:{blk.end} overlaps another or lies outside the text")
        out.extend(la[pos : blk.start])
        out.extend(blk.lines)
        pos = blk.end
    out.extend(la[pos:])
    return join_lines(out)


def block_diff(la: list[str], blk: EditBlock) -> str:
    """``unified_diff(a, apply_blocks(a, [blk]))`` from ``la = split_lines(a)``, without joining and
    splitting the texts again: the judge's candidate change of one block (SPEC 6 step 4)."""
    lb = la[: blk.start] + list(blk.lines) + la[blk.end :]
    return unified_diff_of_runs(la, lb, change_runs(la, lb))


def edit_series(a: str, b: str, rng: random.Random) -> list[str]:
    """Versions from ``a`` to ``b`` adding one edit block at a time in a random order (SPEC 3).

    Returns ``n + 1`` strings for ``n`` blocks: version ``i`` has the first ``i`` blocks of a
    permutation drawn from ``rng`` applied; the first is ``a`` and the last is ``b``.
    """
    blocks = edit_blocks(a, b)
    order = list(range(len(blocks)))
    rng.shuffle(order)
    versions = [a]
    la = split_lines(a)
    for i in range(1, len(order) + 1):
        versions.append(apply_blocks(a, (blocks[k] for k in order[:i]), la))
    return versions
