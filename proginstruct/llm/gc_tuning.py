"""Garbage-collector settings for the request loop (docs/benchmarks.md).

A collection run keeps thousands of records, tasks and replies alive at once on top of the openai and
pydantic modules' millions of long-lived objects. With CPython's default thresholds (700, 10, 10) the
collector then walks that heap again and again: measured on the scale benchmark (5,000 commit records,
simulator instant), 4.2 s of 18 s of CPU went to collections. :func:`throughput_gc` freezes everything
alive before the loop starts (``gc.freeze``: modules, prompts, clients are never collected anyway) and
raises the young-generation threshold, which cuts that to about 0.3 s. Cyclic garbage is still collected,
later and in fewer, larger passes; the loop's memory stays bounded by its window.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 20)  # (gen0 allocations, gen1 per gen0 pass, gen2 per gen1 pass); CPython: (700, 10, 10)


@contextmanager
def throughput_gc(thresholds: tuple[int, int, int] = THRESHOLDS) -> Iterator[None]:
    """Within the block: objects alive at entry are frozen and ``gc`` uses ``thresholds``; both are
    restored on exit (exceptions included), so library callers keep their own settings."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
