"""One collection run split over local worker processes: ``collect.workers`` / ``--workers n``.

One process spends about 2 ms of CPU per request, two thirds of it inside the openai client, so on one
core it tops out near 500 requests/s: fine for real model servers (512 requests in flight at 2 s latency
are 256 requests/s), short of a fleet of fast ones. ``workers: n`` runs the collection in n processes
(docs/benchmarks.md, scale: on a 2-core machine shared with the simulator, 2 workers raised the rate by 12-17 %
with the simulator instant from 10,000 records on, not at 1 s latency, at 0.2-0.6 ms more CPU per request):

- worker j (1-based) takes part j of n of the run's records by record id, nested inside the run's own
  ``--shard k/n`` (shard ``k + m * (j - 1)`` of ``m * n`` for the run's part k of m, see
  :func:`worker_shards`), so a record is processed exactly as one process would;
- each worker gets ``1/n`` of ``num_proc``, of the window and of every per-model limit (the model map's
  included), so the servers see the same load as with one process;
- workers write ``<output stem>.worker<j>of<n><suffix>`` next to the output (each resumable through its
  own checkpoint) and share the reply cache file; when all succeed, the parts are merged in input order
  into the output (the bytes of a one-process run) and deleted. A failing worker stops the others; its
  error is raised in the parent (a :class:`~proginstruct.errors.UserError` as the worker raised it).

Workers are forked when the parent has a single thread (no re-import, about 1 s of CPU saved per worker),
else spawned. The collection itself comes in as a callable (``run_collection``, from
:mod:`proginstruct.collection.collect`, which imports this module; not the other way round).
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.connection
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..llm.cache import ReplyCache
from ..progress import Bar
from ..records import checkpoint_stats
from ..stats import Stats
from .shards import Shard, merge_parts, shard_of


def worker_shards(shard: Shard | None, n: int) -> list[Shard]:
    """The shards of workers 1..n inside the run's ``shard`` (``None`` = the whole input).

    With the run's part ``(k, m)``, worker j gets ``(k + m * (j - 1), m * n)``: those are exactly the
    records of part k of m, since ``shard_of(id, m * n) - 1`` is congruent to ``shard_of(id, m) - 1``
    modulo m.
    """
    k, m = shard or (1, 1)
    return [(k + m * j, m * n) for j in range(n)]


def worker_of(rid: str, shard: Shard | None, n: int) -> int | None:
    """The 0-based worker of record id ``rid``, or ``None`` when it is outside the run's ``shard``."""
    k, m = shard or (1, 1)
    if shard_of(rid, m) != k:
        return None
    return (shard_of(rid, m * n) - k) // m


def part_path(output_path: str | Path, j: int, n: int) -> Path:
    """Worker j's output: ``<stem>.worker<j>of<n><suffix>`` next to ``output_path``."""
    p = Path(output_path)
    return p.with_name(f"{p.stem}.worker{j}of{n}{p.suffix}")


def worker_llm_params(llm_params: dict[str, Any], n: int) -> dict[str, Any]:
    """``llm_params`` for one of n workers: ``num_proc``, ``window`` and ``window_bytes`` divided by n
    (rounded up), and ``limit_share`` (the share of every per-model limit) divided by n."""
    lp = dict(llm_params)
    lp["num_proc"] = max(1, math.ceil(int(lp["num_proc"]) / n))
    for key in ("window", "window_bytes"):
        if int(lp.get(key) or 0):
            lp[key] = max(1, math.ceil(int(lp[key]) / n))
    lp["limit_share"] = float(lp.get("limit_share", 1.0)) / n
    return lp


class SharedProgress:
    """The records of a worker run, counted in shared memory (:class:`~proginstruct.progress.Progress`).

    Each worker calls :meth:`resume` once with the records its checkpoint already holds, then
    :meth:`update` per record written; the parent reads ``started`` (workers that have resumed),
    ``resumed`` and ``written`` (records, 64-bit counters) to draw one bar. Create it before the workers
    start: it is handed to them as a ``Process`` argument (fork or spawn).
    """

    def __init__(self, ctx: Any):
        self.started, self.resumed, self.written = ctx.Value("i", 0), ctx.Value("q", 0), ctx.Value("q", 0)

    def resume(self, records: int) -> None:
        with self.resumed.get_lock():
            self.resumed.value += records
        with self.started.get_lock():
            self.started.value += 1

    def update(self, records: int) -> None:
        with self.written.get_lock():
            self.written.value += records


def _child(conn: multiprocessing.connection.Connection, run: Callable[..., Stats],
           kwargs: dict[str, Any]) -> None:
    try:
        stats = run(**kwargs)
        conn.send(("ok", dict(stats)))
    except UserError as e:
        conn.send(("user_error", e))  # BadRecord and UserError pickle with their message
    except KeyboardInterrupt:
        conn.send(("interrupted", ""))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises
        traceback.print_exc()
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def run_in_workers(run: Callable[..., Stats], kwargs: dict[str, Any], shard: Shard | None, n: int, *,
                   total: int | None = None, stats_out: Stats | None = None) -> Stats:
    """Run ``run(**kwargs)`` split over ``n`` worker processes and merge their outputs.

    ``run`` is :func:`proginstruct.collection.collect.run_collection` (a module-level function, so that a
    spawned worker can unpickle it); ``kwargs`` are its arguments (``shard`` and ``workers`` excluded;
    ``shard`` is the run's part, parsed). Each worker calls ``run`` with its own ``output_path``,
    ``llm_params``, ``shard``, ``_worker`` and ``_progress``. Progress is one bar on stderr for the whole
    run (``total`` input records, ``None`` when unknown; records resumed from the workers' checkpoints
    shown as already done), fed by a :class:`SharedProgress`; the workers draw none. Returns the sum of
    the workers' counters (``session.max_in_flight`` is then the sum of their maxima). Raises
    :class:`UserError` as a worker raised it, ``RuntimeError`` for a worker that failed otherwise or died
    (exit code named); the workers' checkpoints are kept for a resume with the same ``n``, and
    ``stats_out`` (when given) gets the counters of the records they wrote. On success ``stats_out`` gets
    the returned counters.
    """
    ReplyCache(kwargs["llm_params"]["cache_path"]).close()  # create the file and its WAL mode once, here
    method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() \
        else "spawn"
    ctx = multiprocessing.get_context(method)
    out = kwargs["output_path"]
    parts = [part_path(out, j, n) for j in range(1, n + 1)]
    llm = worker_llm_params(kwargs["llm_params"], n)
    progress = SharedProgress(ctx)
    procs: dict[multiprocessing.connection.Connection, tuple[int, Any]] = {}
    for j, (k, m) in enumerate(worker_shards(shard, n), start=1):
        recv, send = ctx.Pipe(duplex=False)
        kw = {**kwargs, "output_path": str(parts[j - 1]), "llm_params": llm, "shard": f"{k}/{m}",
              "_worker": (j, n), "_progress": progress}
        proc = ctx.Process(target=_child, args=(send, run, kw), name=f"proginstruct-collect-{j}of{n}",
                           daemon=True)
        proc.start()
        send.close()
        procs[recv] = (j, proc)
    results: dict[int, dict[str, int]] = {}
    pending = dict(procs)
    bar = None  # drawn once every worker has resumed, so that resumed records do not count in its rate
    try:
        while pending:
            ready = multiprocessing.connection.wait(list(pending), timeout=0.5)
            if bar is None and progress.started.value == n:
                bar = Bar(total=total, initial=progress.resumed.value, desc=f"collect {kwargs['data_type']} "
                          f"({n} workers)", unit="rec", dynamic_ncols=True, mininterval=0.5)
            if bar is not None:
                bar.update(progress.resumed.value + progress.written.value - bar.n)
            for conn in ready:
                j, proc = pending.pop(conn)
                try:
                    kind, payload = conn.recv()
                except EOFError:
                    proc.join()
                    raise RuntimeError(f"collect worker {j}/{n} died (exit code {proc.exitcode}); run the "
                                       "same command again to resume") from None
                if kind == "user_error":
                    raise payload
                if kind == "interrupted":
                    raise KeyboardInterrupt
                if kind != "ok":
                    raise RuntimeError(f"collect worker {j}/{n} failed: {payload} (traceback above)")
                results[j] = payload
    except BaseException:
        for _, proc in procs.values():
            if proc.is_alive():
                proc.terminate()
        if stats_out is not None:
            for _, proc in procs.values():
                proc.join()
            stats_out.merge(checkpoint_stats(p) for p in parts)
        raise
    finally:
        if bar is not None:
            bar.close()
        for conn, (_, proc) in procs.items():
            proc.join()
            conn.close()
    sys.stderr.flush()
    merge_parts(kwargs["input_path"], [str(p) for p in parts], out, lambda rid: worker_of(rid, shard, n),
                order_hint="the worker parts do not match the input", missing="a worker did not finish")
    for p in parts:
        p.unlink()
    total_stats = stats_out if stats_out is not None else Stats()
    return total_stats.merge(results[j] for j in sorted(results))
