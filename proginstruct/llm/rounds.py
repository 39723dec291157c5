"""Batch mode's rounds over the reply cache (docs/models-and-scale.md "Batch inference").

:func:`run_records` is what a stage calls: :func:`~proginstruct.llm.runner.run_ordered` in online mode,
:func:`run_rounds` in batch mode. Both write the records in input order through the same
:class:`~proginstruct.records.CheckpointedWriter`, so the output and its checkpoint are the same, and a
run can even resume in the other mode.

A round runs every record not yet written, in input order, one after another: in batch mode a record does
no I/O (each reply it needs is a cache hit, or :class:`~proginstruct.llm.batch.Pending` after its request
was queued), so concurrency would gain nothing. The records before the first waiting one are written at
once. A waiting record drops its partial work, counters included, and runs again from its start in the
next round, where the replies it had are cache hits and it goes further (the chat after the judge, the
re-ask after a rejected reply, the next draw after a skipped one). A record that finishes after a waiting
one is held in memory (up to :data:`HOLD_BYTES` of output) until its turn comes, or else runs again. At
the end of the round the queued requests go out as batch jobs; the run ends when no record waits.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from ..progress import Bar, Progress
from ..records import CheckpointedWriter
from ..stats import Stats
from .batch import BatchQueue, Pending
from .gc_tuning import throughput_gc
from .runner import RecordFn, run_ordered

HOLD_BYTES = 256 << 20  # output bytes of finished records held while an earlier record waits


async def run_records(items: Callable[[], Iterable[tuple[int, Any]]], fn: RecordFn, writer: CheckpointedWriter,
                      engine: Any, *, window: int, total: int | None = None, desc: str = "records",
                      progress: Progress | None = None, window_bytes: int = 0, stats: Stats | None = None) -> Stats:
    """Apply ``fn(index, record) -> (output objects, stats)`` to every item of ``items()`` and stream the
    results in input order: online through :func:`~proginstruct.llm.runner.run_ordered` (``window``
    records and ``window_bytes`` characters in flight, started as the engine's limits admit requests,
    ``progress`` as there), in batch mode (``engine.batch`` set) through :func:`run_rounds`. ``items`` is
    called once per pass (online: once) and yields ``(index, record)``. Returns the summed counters,
    accumulated in ``stats`` when given (so the caller has those of the records written if this raises);
    see those functions for errors.
    """
    batch = engine.batch
    if batch is None:
        return await run_ordered(items(), fn, writer, window=window, total=total, desc=desc, progress=progress,
                                 window_bytes=window_bytes, flow=engine.flow, stats=stats)
    return await run_rounds(items, fn, writer, batch, total=total, desc=desc, stats=stats)


async def run_rounds(items: Callable[[], Iterable[tuple[int, Any]]], fn: RecordFn, writer: CheckpointedWriter,
                     batch: BatchQueue, *, total: int | None = None, desc: str = "records",
                     stats: Stats | None = None) -> Stats:
    """Run the records in rounds until none waits (module docstring); returns the summed counters of
    every record written, an earlier run's included (accumulated in ``stats`` when given), and counts
    ``batch.rounds``.

    Resumes from ``writer.open()``, and first attaches to the batch jobs an earlier run left unfinished
    (:meth:`~proginstruct.llm.batch.BatchQueue.attach`). On an exception the checkpoint is kept for a
    later resume and the exception propagates (:class:`~proginstruct.errors.UserError` from a batch back
    end included). ``RuntimeError`` if records wait while no request was queued (a role raised
    :class:`~proginstruct.llm.batch.Pending` itself).
    """
    with throughput_gc():
        written = writer.open()
        stats = (stats if stats is not None else Stats()).merge([writer.done_stats])
        held: dict[int, tuple[list, dict, int]] = {}  # position -> (objects, stats, output bytes)
        held_bytes = 0
        try:
            await batch.attach()
            while True:
                batch.counts.add("batch.rounds")
                rnd = batch.counts["batch.rounds"]
                waiting = 0
                bar = Bar(total=total, initial=written, desc=f"{desc} (round {rnd})", unit="rec",
                          dynamic_ncols=True, mininterval=0.5)
                try:
                    for pos, (index, rec) in enumerate(itertools.islice(items(), written, None), start=written):
                        bar.update(1)  # records gone through in this round (written, waiting or held)
                        if pos in held:
                            if waiting:
                                continue
                            objs, st, size = held.pop(pos)
                            held_bytes -= size
                        else:
                            try:
                                objs, st = await fn(index, rec)
                            except Pending:
                                waiting += 1
                                continue
                            if waiting:
                                size = len(orjson.dumps(objs))
                                if held_bytes + size <= HOLD_BYTES:
                                    held[pos] = (objs, st, size)
                                    held_bytes += size
                                continue
                        writer.write_record(objs, st)
                        stats.merge([st])
                        written += 1
                finally:
                    bar.close()
                if not waiting:
                    break
                if not batch.queued:
                    raise RuntimeError(f"{desc}: {waiting} record(s) wait but no request was queued")
                sys.stderr.write(f"{desc}: round {rnd}: {written} record(s) written, {waiting} waiting on "
                                 f"{batch.queued} request(s)\n")
                await batch.run_round()
        except BaseException:
            writer.close()
            raise
        writer.finish()
        return stats
