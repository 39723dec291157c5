"""Run an async per-record function over a stream of input records, writing results in input order.

Records run concurrently; results are handed to a :class:`~proginstruct.records.CheckpointedWriter`
strictly in input order, so the output bytes do not depend on concurrency or completion order, and a
run that is interrupted resumes after the last record written. How many records run at once:

- **what the limits allow**: with a :class:`~proginstruct.llm.limits.Flow` (the engine's), a record is
  started only while fewer than ``flow.backlog`` requests wait for an admission (a per-minute budget,
  ``num_proc``, a paused endpoint); so about "requests the limits keep on the wire + backlog" records
  run, not the whole window: under a 30-requests-per-minute limit, a few dozen at most, and the first
  of them is finished first. A client short of CPU only (nothing waits for an admission) fills the
  window as before;
- **oldest record first**: each record's task runs with its index as request priority
  (:data:`~proginstruct.llm.limits.PRIORITY`), so its next call goes before younger records' first calls,
  and the record written next is the one the limits serve first;
- **memory**: at most ``window`` records (written or not: finished records wait for the ones before
  them) and about ``window_bytes`` characters of text in flight: a record counts its input strings
  (:func:`text_size`) plus what it :func:`charge` s while running (the code series of SPEC 4; as much as
  its input until it does), until it is written; a record larger than the budget runs alone. Records
  are started in batches of at most ``flow.backlog``, so the budget is exceeded at most by what one
  batch builds beyond its provisional count. Nothing of a record is kept once written.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..progress import Bar, Progress
from ..records import CheckpointedWriter
from ..stats import Stats
from .gc_tuning import throughput_gc
from .limits import PRIORITY, Flow

RecordFn = Callable[[int, Any], Awaitable[tuple[list[Any], dict[str, int]]]]


class _Budget:
    """The characters a running record holds (``size``: its input, plus ``provisional`` for what it will
    build until it :func:`charge` s the real amount: as much as its input), and the run's total
    (``state[0]``)."""

    __slots__ = ("provisional", "size", "state")

    def __init__(self, size: int, state: list[int]):
        self.size, self.provisional, self.state = 2 * size, size, state
        state[0] += self.size


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("proginstruct_record_budget", default=None)


def charge(chars: int) -> None:
    """Count ``chars`` characters that the running record has built (its code series) against
    ``window_bytes``, in place of the provisional amount it was started with (as much as its input; a
    later call adds to the count). No-op outside :func:`run_ordered`."""
    budget = _BUDGET.get()
    if budget is not None:
        delta = chars - budget.provisional
        budget.provisional = 0
        budget.size += delta
        budget.state[0] += delta


def text_size(obj: Any) -> int:
    """Characters of the strings in ``obj`` (a record: dicts, lists, dataclasses and strings, nested),
    plus one per other leaf; the measure of ``window_bytes``."""
    if isinstance(obj, str):
        return len(obj)
    if isinstance(obj, dict):
        return sum(text_size(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(text_size(v) for v in obj)
    if hasattr(obj, "__dataclass_fields__"):
        return sum(text_size(getattr(obj, name)) for name in obj.__dataclass_fields__)
    return 1


async def run_ordered(items: Iterable[tuple[int, Any]], fn: RecordFn, writer: CheckpointedWriter, *,
                      window: int, total: int | None = None, desc: str = "records",
                      progress: Progress | None = None, window_bytes: int = 0, flow: Flow | None = None,
                      stats: Stats | None = None) -> Stats:
    """Apply ``fn(index, record) -> (output objects, stats)`` to every item and stream results in order.

    ``items`` yields ``(index, record)`` in input order. Resumes from ``writer.open()`` (skipping the
    records already written). ``window``: most records in flight (>= 1); ``window_bytes``: most
    characters in flight (0 = no bound; see the module docstring); ``flow``: the engine's, to start
    records as its limits admit requests (``None``: fill the window). Returns the sum of
    every record's stats, earlier runs' included, accumulated in ``stats`` when given (so a caller
    still has the counters of the records written when this raises). When a record's task raises (for
    example a :class:`~proginstruct.errors.UserError` from the engine), no further record starts, the
    records before it are still written, and at its turn the pending tasks are cancelled, the
    checkpoint is kept for a later resume, and the exception propagates.

    Progress: a bar on stderr (``desc``; ``total`` records, ``None`` when unknown, the resumed ones
    shown as already done), or, when ``progress`` is given, no bar: ``progress.resume(k)`` once with the
    ``k`` records resumed from the checkpoint (possibly 0), then ``progress.update(1)`` per record
    written, for a caller that draws one bar for several processes (:mod:`~proginstruct.progress`).
    """
    with throughput_gc():
        return await _run_ordered(items, fn, writer, window=max(1, window), total=total, desc=desc,
                                  progress=progress, window_bytes=window_bytes, flow=flow,
                                  stats=stats if stats is not None else Stats())


async def _run_ordered(items: Iterable[tuple[int, Any]], fn: RecordFn, writer: CheckpointedWriter, *,
                       window: int, total: int | None, desc: str, progress: Progress | None, window_bytes: int,
                       flow: Flow | None, stats: Stats) -> Stats:
    done = writer.open()
    stats.merge([writer.done_stats])
    it = itertools.islice(iter(items), done, None)
    queue: deque[tuple[asyncio.Task, _Budget]] = deque()
    wake = flow.wake if flow is not None else asyncio.Event()
    in_use = [0]  # characters in flight (shared with the records' _Budget objects)
    failed: list[asyncio.Task] = []

    def on_done(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            failed.append(task)
        if queue and queue[0][0] is task:  # only the head frees anything: records are written in order
            wake.set()

    if progress is None:
        bar = Bar(total=total, initial=done, desc=desc, unit="rec", dynamic_ncols=True, mininterval=0.5)
        advance = bar.update
    else:
        bar = None
        progress.resume(done)
        advance = progress.update
    try:
        nxt: tuple[tuple[int, Any], int] | None = None  # read and measured, not started yet (waits for the byte budget)
        exhausted = False
        while True:
            while queue and queue[0][0].done():
                task, budget = queue.popleft()
                objs, rec_stats = task.result()  # raises the record's exception
                writer.write_record(objs, rec_stats)
                stats.merge([rec_stats])
                in_use[0] -= budget.size
                advance(1)
            # after a failure no record starts; the ones before it are still written, then its turn raises
            room = 0 if failed else window - len(queue)
            if flow is not None and not exhausted and not failed:
                room = min(room, flow.backlog - flow.waiting)
                flow.hungry = room <= 0  # then the next request admitted wakes us up
            started = 0
            while not exhausted and started < room:
                if nxt is None:
                    item = next(it, None)
                    if item is None:
                        exhausted = True
                        break
                    nxt = item, text_size(item[1]) if window_bytes else 0  # measured once per record
                (index, record), size = nxt
                if queue and in_use[0] + 2 * size > window_bytes > 0:
                    break  # a record larger than the whole budget still runs, alone
                budget = _Budget(size, in_use)  # the input, and as much again until it charges
                PRIORITY.set(index)
                _BUDGET.set(budget)
                task = asyncio.ensure_future(fn(index, record))  # copies the context: this record's priority and budget
                task.add_done_callback(on_done)
                queue.append((task, budget))
                nxt = None
                started += 1
            if started:
                await asyncio.sleep(0)  # let them run to their first wait (an admission) before counting again
                continue
            if not queue:
                break
            wake.clear()
            if not queue[0][0].done():
                await wake.wait()
    except BaseException:
        for t, _ in queue:
            t.cancel()
        await asyncio.gather(*(t for t, _ in queue), return_exceptions=True)
        writer.close()
        raise
    finally:
        if bar is not None:
            bar.close()
        PRIORITY.set(0)
        _BUDGET.set(None)
    writer.finish()
    return stats
