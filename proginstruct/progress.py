"""Progress reporting: the stages' tqdm bar, and the protocol a caller uses to count records itself.

:class:`Bar` is tqdm without its monitor thread. tqdm starts that thread with the first bar and leaves
it running after ``close()``, so a process that drew a bar has two threads from then on, and
:mod:`proginstruct.collection.workers` would spawn its workers (about 1 s of imports each) instead of
forking them. The bars here refresh on every update anyway (``mininterval``), which is all the monitor
adds.
"""

from __future__ import annotations

from typing import Protocol

from tqdm import tqdm


class Bar(tqdm):
    """``tqdm.tqdm`` without the monitor thread (same arguments, same output)."""

    monitor_interval = 0


class Progress(Protocol):
    """Where :func:`~proginstruct.llm.runner.run_ordered` reports records instead of drawing a bar."""

    def resume(self, records: int) -> None:
        """Called once, first: ``records`` already written by an earlier run (0 when fresh)."""

    def update(self, records: int) -> None:
        """Called with every ``records`` newly written (1 at a time)."""
