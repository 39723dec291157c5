"""The record runner's byte budget (``llm.window_bytes``) measures each record once, however long it waits."""

from __future__ import annotations

import asyncio
from collections import Counter

from proginstruct.llm import runner
from proginstruct.records import CheckpointedWriter


def test_a_record_waiting_for_the_byte_budget_is_measured_once(tmp_path, monkeypatch):
    measured: Counter[str] = Counter()
    size = runner.text_size

    def counting(obj):  # noqa: ANN001, ANN202
        if isinstance(obj, dict):
            measured[obj["id"]] += 1
        return size(obj)

    monkeypatch.setattr(runner, "text_size", counting)
    order: list[int] = []

    async def one(index: int, rec: dict) -> tuple[list[dict], dict[str, int]]:
        await asyncio.sleep(0.002 * (10 - index))  # later records finish first: the head frees the budget last
        order.append(index)
        return [{"i": index}], {"inputs": 1}

    recs = [(i, {"id": f"r{i}", "code": "x" * 40}) for i in range(10)]
    writer = CheckpointedWriter(tmp_path / "o.jsonl", "fp")
    stats = asyncio.run(runner.run_ordered(iter(recs), one, writer, window=100, window_bytes=170, desc="t"))
    assert stats["inputs"] == 10 and sorted(order) == list(range(10))
    # two records fit in 170 characters (each counts 42 + 42 until it charges): the others wait, and are
    # measured once when read, not again at every wake-up while they wait
    assert measured == {f"r{i}": 1 for i in range(10)}
