"""Reading input records and writing outputs safely (SPEC 1, DESIGN-NOTES "writes are atomic").

Readers accept ``.json`` (a list), ``.jsonl`` (one JSON value a line) and ``.parquet`` (rows as
dicts). Writers never leave a file that looks finished: whole files are written to a temporary
name and renamed; streamed outputs go to ``<out>.partial`` and are renamed when complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .errors import UserError

JSON_OPTS = orjson.OPT_SORT_KEYS
_UMASK = os.umask(0)
os.umask(_UMASK)


def _publish(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Give a finished temporary file normal permissions (mkstemp makes it 0600) and rename it into place."""
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)


def dumps(obj: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, UTF-8): equal objects give equal bytes."""
    return orjson.dumps(obj, option=JSON_OPTS)


def record_id(record: Any) -> str:
    """A record's identity: its ``id`` field when it is a dict with one, else 16 hex of the SHA-256 of
    its canonical JSON. Content-derived ids keep seeds stable when inputs are reordered or sharded."""
    if isinstance(record, dict) and isinstance(record.get("id"), str | int):
        return str(record["id"])
    return hashlib.sha256(dumps(record)).hexdigest()[:16]


def read_records(path: str | os.PathLike, column: str | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, record)`` from a ``.json`` list, ``.jsonl`` or ``.parquet`` file (0-based index).

    ``.jsonl`` is streamed line by line (blank lines skipped but counted in the index), a ``.json`` list
    item by item (ijson), ``.parquet`` in batches; with ``column`` each parquet row yields only that column's value.
    Raises :class:`UserError` naming the file (and line) when it is missing or not valid JSON.
    """
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: input file not found; run the stage that produces it or fix --input_path")
    suffix = p.suffix.lower()
    if suffix == ".jsonl" or suffix == ".ndjson":
        with p.open("rb") as fh:
            for i, line in enumerate(fh):
                if not line.strip():
                    continue
                try:
                    yield i, orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise UserError(f"{p}: line {i + 1}: truncated or invalid JSON ({e}); fix or remove that "
                                    "line") from None
    elif suffix == ".json":
        yield from enumerate(_stream_json_list(p))
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        i = 0
        for batch in pq.ParquetFile(p).iter_batches(batch_size=2048):
            rows = batch.to_pylist()
            for row in rows:
                yield i, (row.get(column) if column else row)
                i += 1
    else:
        raise UserError(f"{p}: unsupported input format '{suffix}'; use .json, .jsonl or .parquet")


_JSON_CHUNK = 16 * 1024  # bytes the .json list parser reads at a time (the precision of error positions)


def _stream_json_list(p: Path) -> Iterator[Any]:
    """The items of a JSON list file, parsed incrementally (ijson's C backend): memory stays at one
    record however long the list is. Raises :class:`UserError` naming the file for anything else; for a
    file cut short or broken inside, the record index and byte position of the failure (to within the
    16 KB the parser reads at a time) and "truncated or invalid JSON"."""
    import ijson

    size = p.stat().st_size
    with p.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"["):
            what = "nothing" if not head else ("an object" if head.startswith(b"{") else "not a list")
            raise UserError(f"{p}: expected a JSON list of records, got {what}; write the records as [{{...}}, ...]")
        fh.seek(0)
        n = 0
        try:
            for item in ijson.items(fh, "item", use_float=True, buf_size=_JSON_CHUNK):
                yield item
                n += 1
        except ijson.JSONError as e:
            end = fh.tell()
            why = str(e).splitlines()[0].strip() if str(e).strip() else type(e).__name__
            where = (f"the file ends inside record {n} (byte {size})" if "premature EOF" in why else
                     f"at record {n}, between bytes {max(0, end - _JSON_CHUNK)} and {end} of {size}")
            raise UserError(f"{p}: truncated or invalid JSON: {where} ({why}); the {n} record(s) before it "
                            "are fine: fix or regenerate the file") from None


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; on a clean exit it gets normal
    permissions and is renamed to ``path``, on an exception it is removed (no half-written output)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        _publish(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    with atomic_open(path) as fh:
        fh.write(data)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Pretty, key-sorted JSON (for metrics and small files), written atomically, ending in a newline."""
    atomic_write_bytes(path, orjson.dumps(obj, option=JSON_OPTS | orjson.OPT_INDENT_2) + b"\n")


def write_records(path: str | os.PathLike, records: Iterable[Any]) -> int:
    """Write ``records`` to ``path`` atomically: ``.json`` as a list, ``.jsonl`` one per line,
    ``.parquet`` through polars. Returns the number written."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        import polars as pl

        rows = list(records)
        with atomic_open(p) as fh:
            pl.DataFrame(rows).write_parquet(fh)
        return len(rows)
    n = 0
    with atomic_open(p) as fh:
        if suffix == ".json":
            fh.write(b"[")
            for rec in records:
                fh.write(b"\n" if n == 0 else b",\n")
                fh.write(dumps(rec))
                n += 1
            fh.write(b"\n]\n" if n else b"]\n")
        else:
            return write_lines(fh, (dumps(rec) + b"\n" for rec in records))
    return n


def write_lines(out: str | os.PathLike | BinaryIO, lines: Iterable[bytes]) -> int:
    """Write JSONL ``lines`` (bytes, each ending in a newline) to ``out``: a path, written atomically
    (see :func:`atomic_open`), or an open binary file. Returns the number of lines."""
    if not hasattr(out, "write"):
        with atomic_open(out) as fh:
            return write_lines(fh, lines)
    n = 0
    for line in lines:
        out.write(line)
        n += 1
    return n


def _index_path(path: str | os.PathLike) -> Path:
    """The checkpoint index of ``path``: ``<path>.partial.idx``."""
    p = Path(path)
    return p.with_name(p.name + ".partial.idx")


def _finished_entries(index_lines: list[bytes]) -> Iterator[dict]:
    """The per-record entries of a checkpoint index (its lines after the header), in order, up to a
    torn (unparsable) line: ``{"n": output lines, "stats": {...}}`` each."""
    for raw in index_lines[1:]:
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        if not isinstance(entry, dict):
            return
        yield entry


def checkpoint_stats(path: str | os.PathLike) -> Counter[str]:
    """The summed counters of the records a :class:`CheckpointedWriter` for ``path`` has written so far
    (from ``<path>.partial.idx``; empty when there is no checkpoint). A torn last line is ignored."""
    index = _index_path(path)
    total: Counter[str] = Counter()
    if index.exists():
        for entry in _finished_entries(index.read_bytes().split(b"\n")):
            total.update(entry.get("stats", {}))
    return total


class CheckpointedWriter:
    """Stream per-record results to ``<path>.partial`` in input order; resume after a crash.

    Layout: ``<path>.partial`` holds output lines (JSONL); ``<path>.partial.idx`` holds a header line
    ``{"fingerprint": ...}`` and then one line per finished input record ``{"n": lines, "stats": {...}}``.
    Lines are written (and flushed) before their index line, so on resume the ``.partial`` file is
    truncated to what the index vouches for. A different ``fingerprint`` (other params or input)
    discards the checkpoint. :meth:`finish` renames into place (``.json`` paths get a JSON list),
    so ``path`` exists only when complete.
    """

    def __init__(self, path: str | os.PathLike, fingerprint: str):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.index = _index_path(self.path)
        self.fingerprint = fingerprint
        self.done_records = 0
        self.done_stats: Counter[str] = Counter()  # summed counters of the records already written
        self._data = None
        self._idx = None

    def open(self) -> int:
        """Open for appending; returns how many input records are already complete (0 when fresh)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines_ok = 0
        if self.index.exists() and self.partial.exists():
            entries = self.index.read_bytes().split(b"\n")
            try:
                header = orjson.loads(entries[0])
            except orjson.JSONDecodeError:
                header = {}
            if header.get("fingerprint") == self.fingerprint:
                for e in _finished_entries(entries):  # up to a torn last line
                    self.done_records += 1
                    lines_ok += e["n"]
                    self.done_stats.update(e.get("stats", {}))
        if self.done_records:
            keep = 0
            with self.partial.open("rb") as fh:
                for _ in range(lines_ok):
                    keep += len(fh.readline())
            self._data = self.partial.open("r+b")
            self._data.truncate(keep)
            self._data.seek(keep)
            # rewrite the index without a torn tail
            good = [entries[0]] + entries[1 : 1 + self.done_records]
            self.index.write_bytes(b"\n".join(good) + b"\n")
            self._idx = self.index.open("ab")
        else:
            self._data = self.partial.open("wb")
            self._idx = self.index.open("wb")
            self._idx.write(dumps({"fingerprint": self.fingerprint}) + b"\n")
            self._idx.flush()
        return self.done_records

    def write_record(self, objs: list[Any], stats: dict[str, int] | None = None) -> None:
        """Append the output lines of one input record, then its index entry."""
        assert self._data is not None and self._idx is not None, "call open() first"
        if objs:
            self._data.write(b"".join(dumps(o) + b"\n" for o in objs))
            self._data.flush()
        self._idx.write(dumps({"n": len(objs), "stats": stats or {}}) + b"\n")
        self._idx.flush()

    def close(self) -> None:
        """Close files, keeping the checkpoint for a later resume (an empty one, with no finished
        record to resume from, is removed rather than left behind as clutter)."""
        self._close_files()
        if self.partial.exists() and self.index.exists() and len(self.index.read_bytes().splitlines()) <= 1:
            self.partial.unlink()
            self.index.unlink()

    def _close_files(self) -> None:
        for fh in (self._data, self._idx):
            if fh is not None:
                fh.close()
        self._data = self._idx = None

    def finish(self) -> None:
        """Close and move the complete output into place; removes the checkpoint."""
        self._close_files()
        if self.path.suffix.lower() == ".json":
            tmp = self.path.with_name(self.path.name + ".json.tmp")
            with self.partial.open("rb") as src, tmp.open("wb") as dst:
                first = True
                dst.write(b"[")
                for line in src:
                    dst.write(b"\n" if first else b",\n")
                    dst.write(line.rstrip(b"\n"))
                    first = False
                dst.write(b"]\n" if first else b"\n]\n")
            os.replace(tmp, self.path)
            self.partial.unlink()
        else:
            os.replace(self.partial, self.path)
        self.index.unlink(missing_ok=True)
