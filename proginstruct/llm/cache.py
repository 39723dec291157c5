"""Persistent LLM reply cache (SPEC 11): one SQLite file, one row per reply received.

Keyed by SHA-256 of the canonical JSON of (model, messages, sampling params, attempt number), so a
rerun with unchanged prompts sends no request, and a re-ask after a rejected reply (attempt + 1)
is a new key. Rows are committed as they arrive (WAL journal), so a crash loses no reply already
received. The file lives outside DVC outputs, because DVC deletes a stage's outs before running it.
"""

from __future__ import annotations

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
    """``get``/``put`` of reply dicts ``{"text": str, "finish_reason": str, "usage": {...}}`` by key."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable against a process crash
        self.db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, reply BLOB)")

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached reply for ``key`` or ``None``."""
        row = self.db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, key: str, model: str, reply: dict[str, Any]) -> None:
        """Store a reply (committed immediately); an existing key is kept as it is."""
        self.db.execute("INSERT OR IGNORE INTO replies VALUES (?, ?, ?)", (key, model, orjson.dumps(reply)))

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        self.db.close()
