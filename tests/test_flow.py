"""Steady progress under limits: oldest record first, small bursts, records started as the limits allow,
and records in flight bounded by characters (``llm.window_bytes``)."""

from __future__ import annotations

import asyncio
import time

from proginstruct.llm.limits import PRIORITY, Flow, PrioritySemaphore, RateLimit
from proginstruct.llm.runner import charge, run_ordered
from proginstruct.records import CheckpointedWriter, checkpoint_stats


def test_priority_semaphore_serves_the_lowest_priority_first():
    async def go() -> list[int]:
        sem = PrioritySemaphore(1)
        await sem.acquire(0)
        order: list[int] = []

        async def waiter(p: int) -> None:
            await sem.acquire(p)
            order.append(p)
            sem.release()

        tasks = [asyncio.ensure_future(waiter(p)) for p in (5, 3, 9, 1)]
        await asyncio.sleep(0)
        tasks[2].cancel()  # a cancelled waiter is skipped
        await asyncio.sleep(0)
        sem.release()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert sem.free == 1
        return order

    assert asyncio.run(go()) == [1, 3, 5]


def test_rate_limit_admits_by_priority_and_bursts_a_few_seconds_worth():
    async def go() -> tuple[list[int], list[float]]:
        lim = RateLimit(1200, burst_seconds=0.1)  # 20 a second, bursts of 2
        order, times = [], []
        t0 = time.monotonic()

        async def req(p: int) -> None:
            await lim.acquire(1, p)
            order.append(p)
            times.append(time.monotonic() - t0)

        await asyncio.gather(*(req(p) for p in range(12, 0, -1)))
        return order, times

    order, times = asyncio.run(go())
    assert order[:2] == [12, 11]  # the burst goes at once, in arrival order
    assert order[2:] == sorted(order[2:])  # then the waiters by priority, not arrival
    assert times[1] < 0.05 and times[-1] >= (12 - 2) / 20 * 0.9  # no more than the burst before pacing
    assert max(sum(1 for u in times if t <= u < t + 0.25) for t in times) <= 2 + 0.25 * 20 + 1


def _fake_engine(flow: Flow, rate: RateLimit, started: list[int], latency: float = 0.01):
    """A record function asking two "requests" in a row through ``rate`` (a paced model), as a record
    with an instruction and a chat call does."""

    async def one(index: int, rec: dict) -> tuple[list[dict], dict[str, int]]:
        started.append(index)
        for _ in range(2):
            flow.queued()
            try:
                await rate.acquire(1, PRIORITY.get())
            finally:
                flow.admitted()
            await asyncio.sleep(latency)
        return [{"i": index}], {"inputs": 1}

    return one


def test_records_start_as_the_limits_allow_and_the_oldest_finishes_first(tmp_path):
    async def go() -> tuple[list[int], list[tuple[int, int]], list[int]]:
        flow = Flow(backlog=3)
        rate = RateLimit(3000, burst_seconds=0.05)  # 50 requests a second
        started: list[int] = []
        one = _fake_engine(flow, rate, started)
        writer = CheckpointedWriter(tmp_path / "out.jsonl", "fp")
        written: list[tuple[int, int]] = []  # (records started, index) at each write
        real = writer.write_record

        def record_write(objs, stats=None):  # noqa: ANN001, ANN202
            written.append((len(started), objs[0]["i"]))
            real(objs, stats)

        writer.write_record = record_write
        running: list[int] = []

        async def sample() -> None:
            while True:
                running.append(len(started) - len(written))
                await asyncio.sleep(0.005)

        mon = asyncio.ensure_future(sample())
        await run_ordered(((i, {"x": i}) for i in range(40)), one, writer, window=4096, flow=flow, desc="t")
        mon.cancel()
        return started, written, running

    started, written, running = asyncio.run(go())
    assert [i for _, i in written] == list(range(40)) and sorted(started) == list(range(40))
    assert max(running) <= 3 + 2 + 2  # backlog + on the wire + finishing, not the whole window
    assert written[0][0] <= 6  # the first record is written after a handful were started, not 40


def test_window_bytes_bounds_records_in_flight_and_a_large_record_runs_alone(tmp_path):
    async def go() -> list[tuple[int, set[int]]]:
        now: set[int] = set()
        seen: list[tuple[int, set[int]]] = []  # (index, records running when it started)

        async def one(index: int, rec: dict) -> tuple[list[dict], dict[str, int]]:
            now.add(index)
            await asyncio.sleep(0)
            seen.append((index, set(now)))
            if index == 1:
                charge(200)  # builds a large text while running (e.g. its code series)
            await asyncio.sleep(0.05 if index == 1 else 0.01)
            now.discard(index)
            return [{"i": index}], {}

        recs = [(i, {"code": "x" * (500 if i == 6 else 40)}) for i in range(10)]
        await run_ordered(iter(recs), one, CheckpointedWriter(tmp_path / "o.jsonl", "fp"), window=100,
                          window_bytes=170, desc="t")
        return seen

    seen = dict(asyncio.run(go()))
    # a record counts its 40 characters and 40 more until it charges: two fit in 170, a third does not
    assert seen[0] == seen[1] == {0, 1} and max(len(v) for v in seen.values()) == 2
    assert 1 not in seen[2]  # record 1 charged 200: record 2 waited until it was written, not just record 0
    assert seen[6] == {6}  # larger than the whole budget: runs, alone


def test_checkpoint_stats_sums_the_records_written(tmp_path):
    w = CheckpointedWriter(tmp_path / "o.jsonl", "fp")
    w.open()
    w.write_record([{"a": 1}], {"samples": 1, "inputs": 1})
    w.write_record([], {"inputs": 1})
    w.close()
    assert checkpoint_stats(tmp_path / "o.jsonl") == {"samples": 1, "inputs": 2}
    assert checkpoint_stats(tmp_path / "none.jsonl") == {}


def _big_samples(n: int) -> list[dict]:
    code = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(1200))  # about 30 KB
    return [{"history": [], "current": {"type": "code", "lang": "python", "code": code + f"# {k}\n"},
             "user": "", "chat": "", "next": {"type": "code", "lang": "python", "code": code + f"# {k + 1}\n"},
             "id": f"s{k}"} for k in range(n)]


def test_json_list_reader_writer_and_area_hold_about_one_record(tmp_path):
    import tracemalloc

    from proginstruct.area.loc import AreaParams
    from proginstruct.area.stage import run_area
    from proginstruct.records import read_records, write_records

    inp = tmp_path / "samples.json"
    write_records(inp, _big_samples(150))  # 9 MB as a JSON list
    size = inp.stat().st_size
    tracemalloc.start()
    try:
        n = sum(1 for _ in read_records(inp))
        _, peak_read = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        run_area(inp, tmp_path / "located.json", AreaParams(), seed=1)
        _, peak_area = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 150
    assert peak_read < size / 20 and peak_area < size / 10, (peak_read, peak_area, size)  # a few records, not 150
