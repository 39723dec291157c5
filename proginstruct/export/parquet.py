"""The typed Parquet layout of samples (``programming_instruct.parquet``, written with Polars).

One row per sample, columns:

| column | type | notes |
|---|---|---|
| ``history`` | list of struct ``{type, lang, code}`` | oldest first |
| ``current``, ``next`` | struct ``{type, lang, code}`` | |
| ``user``, ``chat`` | string | ``""`` when none |
| ``loc`` | list of int64, nullable | ``null`` = no area, ``[offset]`` = cursor, ``[start, end]`` = range |
| ``source``, ``id``, ``model``, ``prompt_version``, ``license`` | string, nullable | provenance |
| ``seed`` | int64, nullable | provenance |
| ``extra`` | string, nullable | any other fields as canonical JSON (``null`` when none) |

``loc`` is a list because a Parquet column has one type; the list length tells cursor from range, so
:func:`row_to_sample` gives back the JSONL sample exactly (absent provenance fields stay absent).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from ..records import _publish, dumps

SNAPSHOT = pl.Struct({"type": pl.String, "lang": pl.String, "code": pl.String})
SCHEMA = pl.Schema({
    "history": pl.List(SNAPSHOT),
    "current": SNAPSHOT,
    "user": pl.String,
    "chat": pl.String,
    "next": SNAPSHOT,
    "loc": pl.List(pl.Int64),
    "source": pl.String,
    "id": pl.String,
    "model": pl.String,
    "prompt_version": pl.String,
    "license": pl.String,
    "seed": pl.Int64,
    "extra": pl.String,
})
_TEXT_FIELDS = ("source", "id", "model", "prompt_version", "license")
_FIELDS = set(SCHEMA.names()) - {"extra"}


def _snap(s: dict[str, Any]) -> dict[str, Any]:
    return {"type": s.get("type", "code"), "lang": s.get("lang", ""), "code": s["code"]}


def sample_to_row(sample: dict[str, Any]) -> dict[str, Any]:
    """A SPEC 0 sample as a row of :data:`SCHEMA`. Provenance values of an unexpected type (an int ``id``,
    say) go to ``extra`` with the other unknown fields, so nothing is lost."""
    loc = sample.get("loc")
    row: dict[str, Any] = {
        "history": [_snap(h) for h in sample.get("history") or []],
        "current": _snap(sample["current"]),
        "user": sample.get("user") or "",
        "chat": sample.get("chat") or "",
        "next": _snap(sample["next"]),
        "loc": None if loc is None else ([loc] if isinstance(loc, int) else list(loc)),
    }
    extra = {k: v for k, v in sample.items() if k not in _FIELDS}
    for k in _TEXT_FIELDS:
        v = sample.get(k)
        row[k] = v if isinstance(v, str) else None
        if v is not None and not isinstance(v, str):
            extra[k] = v
    seed = sample.get("seed")
    row["seed"] = seed if isinstance(seed, int) and not isinstance(seed, bool) and -2**63 <= seed < 2**63 else None
    if seed is not None and row["seed"] is None:
        extra["seed"] = seed
    row["extra"] = dumps(extra).decode() if extra else None
    return row


def row_to_sample(row: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`sample_to_row`."""
    loc = row["loc"]
    sample: dict[str, Any] = {
        "history": list(row["history"]),
        "current": row["current"],
        "user": row["user"],
        "chat": row["chat"],
        "next": row["next"],
        "loc": None if loc is None else (loc[0] if len(loc) == 1 else list(loc)),
    }
    for k in (*_TEXT_FIELDS, "seed"):
        if row[k] is not None:
            sample[k] = row[k]
    if row["extra"]:
        sample.update(orjson.loads(row["extra"]))
    return sample


class ParquetSampleWriter:
    """Stream samples into ``path`` in :data:`SCHEMA`, ``batch_rows`` per row group (memory grows with one
    batch, not the dataset), zstd-compressed. The file appears at ``path`` only on a clean exit of the
    ``with`` block (a temporary file is renamed); on an exception the temporary file is removed."""

    def __init__(self, path: str | os.PathLike, batch_rows: int = 2048):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.batch_rows = batch_rows
        self.rows = 0
        self._batch: list[dict[str, Any]] = []
        self._writer: Any = None

    def __enter__(self) -> ParquetSampleWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, sample: dict[str, Any]) -> None:
        """Append one sample (see :func:`sample_to_row`)."""
        self._batch.append(sample_to_row(sample))
        self.rows += 1
        if len(self._batch) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        import pyarrow.parquet as pq

        table = pl.DataFrame(self._batch, schema=SCHEMA).to_arrow()
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
        self._writer.write_table(table)
        self._batch.clear()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                if self._batch or self._writer is None:
                    self._flush()
                self._writer.close()
                self._writer = None
                _publish(self.tmp, self.path)
        finally:
            if self._writer is not None:
                self._writer.close()
            self.tmp.unlink(missing_ok=True)


def write_parquet(samples: Iterable[dict[str, Any]], path: str | os.PathLike, batch_rows: int = 2048) -> int:
    """Write ``samples`` to ``path`` in :data:`SCHEMA` through :class:`ParquetSampleWriter` (streaming,
    atomic). Returns the number of rows."""
    with ParquetSampleWriter(path, batch_rows) as writer:
        for sample in samples:
            writer.write(sample)
    return writer.rows


def read_parquet(path: str | os.PathLike, batch_rows: int = 2048) -> Iterator[dict[str, Any]]:
    """Yield the samples of a file written by :func:`write_parquet`, in order, streaming by batches."""
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        for row in batch.to_pylist():
            yield row_to_sample(row)
