"""Run an async per-record function over a stream of input records, writing results in input order.

Records run concurrently within a sliding ``window`` (so memory stays bounded and the model servers
stay busy); results are handed to a :class:`~proginstruct.records.CheckpointedWriter` strictly in
input order, so the output bytes do not depend on concurrency or completion order, and a run that is
interrupted resumes after the last record written.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..progress import Bar, Progress
from ..records import CheckpointedWriter
from ..stats import Stats
from .gc_tuning import throughput_gc

RecordFn = Callable[[int, Any], Awaitable[tuple[list[Any], dict[str, int]]]]


async def run_ordered(items: Iterable[tuple[int, Any]], fn: RecordFn, writer: CheckpointedWriter, *,
                      window: int, total: int | None = None, desc: str = "records",
                      progress: Progress | None = None) -> Stats:
    """Apply ``fn(index, record) -> (output objects, stats)`` to every item and stream results in order.

    ``items`` yields ``(index, record)`` in input order. Resumes from ``writer.open()`` (skipping the
    records already written). Returns the sum of every record's stats, earlier runs' included. On an
    exception (for example a :class:`~proginstruct.errors.UserError` from the engine) the pending
    tasks are cancelled, the checkpoint is kept for a later resume, and the exception propagates.

    Progress: a bar on stderr (``desc``; ``total`` records, ``None`` when unknown, the resumed ones
    shown as already done), or, when ``progress`` is given, no bar: ``progress.resume(k)`` once with the
    ``k`` records resumed from the checkpoint (possibly 0), then ``progress.update(1)`` per record
    written, for a caller that draws one bar for several processes (:mod:`~proginstruct.progress`).
    """
    with throughput_gc():
        return await _run_ordered(items, fn, writer, window=window, total=total, desc=desc, progress=progress)


async def _run_ordered(items: Iterable[tuple[int, Any]], fn: RecordFn, writer: CheckpointedWriter, *,
                       window: int, total: int | None, desc: str, progress: Progress | None) -> Stats:
    done = writer.open()
    stats = Stats().merge([writer.done_stats])
    it = itertools.islice(iter(items), done, None)
    queue: deque[asyncio.Task] = deque()
    if progress is None:
        bar = Bar(total=total, initial=done, desc=desc, unit="rec", dynamic_ncols=True, mininterval=0.5)
        advance = bar.update
    else:
        bar = None
        progress.resume(done)
        advance = progress.update
    try:
        exhausted = False
        while True:
            while not exhausted and len(queue) < window:
                nxt = next(it, None)
                if nxt is None:
                    exhausted = True
                    break
                queue.append(asyncio.ensure_future(fn(*nxt)))
            if not queue:
                break
            objs, rec_stats = await queue.popleft()
            writer.write_record(objs, rec_stats)
            stats.merge([rec_stats])
            advance(1)
    except BaseException:
        for t in queue:
            t.cancel()
        await asyncio.gather(*queue, return_exceptions=True)
        writer.close()
        raise
    finally:
        if bar is not None:
            bar.close()
    writer.finish()
    return stats
