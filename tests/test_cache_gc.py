"""Grouped reply-cache commits (one transaction per 0.1 s in an event loop, shared by processes)
and the request loop's garbage-collector settings."""

from __future__ import annotations

import asyncio
import gc
import sqlite3

from proginstruct.llm.cache import ReplyCache
from proginstruct.llm.gc_tuning import THRESHOLDS, throughput_gc


def _rows(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]


def test_outside_a_loop_every_put_commits(tmp_path):
    cache = ReplyCache(tmp_path / "c.sqlite")
    cache.put("k1", "m", {"text": "a", "finish_reason": "stop"})
    assert _rows(tmp_path / "c.sqlite") == 1  # visible to another connection at once
    cache.put("k1", "m", {"text": "changed", "finish_reason": "stop"})
    assert cache.get("k1")["text"] == "a" and len(cache) == 1  # an existing key is kept
    cache.close()


def test_in_a_loop_puts_wait_at_most_the_flush_interval(tmp_path):
    path = tmp_path / "c.sqlite"

    async def main() -> list[int]:
        cache = ReplyCache(path, flush_interval=0.05, flush_rows=3)
        seen = []
        cache.put("a", "m", {"text": "1", "finish_reason": "stop"})
        cache.put("b", "m", {"text": "2", "finish_reason": "stop"})
        seen.append(_rows(path))  # pending, but readable through this cache
        assert cache.get("a") == {"text": "1", "finish_reason": "stop"} and cache.get("zz") is None
        await asyncio.sleep(0.2)
        seen.append(_rows(path))  # the timer committed them
        for k in ("c", "d", "e"):
            cache.put(k, "m", {"text": k, "finish_reason": "stop"})
        seen.append(_rows(path))  # flush_rows reached: committed without waiting
        cache.put("f", "m", {"text": "f", "finish_reason": "stop"})
        cache.close()  # commits what is pending
        seen.append(_rows(path))
        return seen

    assert asyncio.run(main()) == [0, 2, 5, 6]


def test_two_caches_share_one_file(tmp_path):
    path = tmp_path / "c.sqlite"
    one, two = ReplyCache(path), ReplyCache(path)
    one.put("x", "m", {"text": "from one", "finish_reason": "stop"})
    two.put("y", "m", {"text": "from two", "finish_reason": "stop"})
    assert two.get("x")["text"] == "from one" and one.get("y")["text"] == "from two"
    one.close()
    two.close()


def test_throughput_gc_restores_the_settings():
    before = gc.get_threshold()
    with throughput_gc():
        assert gc.get_threshold() == THRESHOLDS and gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    try:
        with throughput_gc((1000, 5, 5)):
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
