"""Persistent LLM reply cache (SPEC 11): one SQLite file, one row per reply received.

Keyed by SHA-256 of the canonical JSON of (model, messages, sampling params, attempt number), so a
rerun with unchanged prompts sends no request, and a re-ask after a rejected reply (attempt + 1)
is a new key. The file lives outside DVC outputs, because DVC deletes a stage's outs before running it.

Writes are grouped (docs/reproducibility.md): inside an event loop, :meth:`ReplyCache.put` keeps the row in memory and
commits every row put in the last ``flush_interval`` seconds in one transaction (at most
``flush_rows`` rows wait), instead of one transaction per reply, which cost about 0.1 ms of CPU per
request. A process killed with SIGKILL thus loses at most the replies of its last 0.1 s; records already
written to the output never depend on them (the output checkpoint is written after its replies were
put). Outside an event loop every put commits at once. Several processes may share one file (WAL
journal; a writer waits up to 60 s for another's commit).
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import orjson


def cache_key(model: str, messages: list[dict[str, str]], sampling: dict[str, Any], attempt: int) -> str:
    """Hex SHA-256 of the canonical JSON of the request identity (the request ``seed`` is not part of it)."""
    blob = orjson.dumps([model, messages, sampling, attempt], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()


class ReplyCache:
    """``get``/``put`` of reply dicts ``{"text": str, "finish_reason": str}`` by key.

    ``flush_interval`` (seconds) and ``flush_rows`` bound how long and how many rows wait in memory
    before their commit (see the module docstring); :meth:`flush` commits them now, :meth:`close` too.
    """

    def __init__(self, path: str | Path, *, flush_interval: float = 0.1, flush_rows: int = 1000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60.0)
        if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":  # persistent once set
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable against a process crash
        self.db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, reply BLOB)")
        self.flush_interval, self.flush_rows = flush_interval, flush_rows
        self._pending: dict[str, tuple[str, str, bytes]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached reply for ``key`` or ``None``."""
        row = self._pending.get(key)
        if row is not None:
            return orjson.loads(row[2])
        row = self.db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, key: str, model: str, reply: dict[str, Any]) -> None:
        """Store a reply; an existing key is kept as it is. Committed within ``flush_interval`` seconds
        when called inside an event loop, else at once."""
        self._pending.setdefault(key, (key, model, orjson.dumps(reply)))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or len(self._pending) >= self.flush_rows:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.flush_interval, self.flush)

    def flush(self) -> None:
        """Commit every pending row in one transaction."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        rows = list(self._pending.values())
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR IGNORE INTO replies VALUES (?, ?, ?)", rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        self._pending.clear()

    def __len__(self) -> int:
        self.flush()
        return self.db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        """Commit pending rows and close the file."""
        self.flush()
        self.db.close()
