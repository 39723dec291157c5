"""Splitting a collection over machines and merging the parts back (docs/models-and-scale.md).

``--shard k/n`` (params.yaml ``collect.shard``) keeps the input records whose id falls in part ``k`` of
``n``: part ``1 + (first 8 bytes of SHA-256(record id)) mod n``, the same on every machine and for any
input order. Every random draw already derives from (seed, source, record id) and every reply is
cached by its prompt, so a record gives the same samples whichever machine runs it. n machines run one
part each against shared model servers; :func:`merge_shards` interleaves the parts back into input
order, which gives the same bytes as one machine running the whole input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ..errors import UserError
from ..records import read_records, record_id, write_lines, write_records

Shard = tuple[int, int]  # (k, n), 1 <= k <= n


def parse_shard(spec: str | None) -> Shard | None:
    """``"k/n"`` -> ``(k, n)``; ``""`` (or ``None``) -> ``None``, the whole input.

    Raises :class:`UserError` unless ``k`` and ``n`` are integers with ``1 <= k <= n``.
    """
    spec = (spec or "").strip()
    if not spec:
        return None
    k, sep, n = spec.partition("/")
    try:
        kk, nn = int(k), int(n)
    except ValueError:
        kk = nn = 0
    if not sep or not 1 <= kk <= nn:
        raise UserError(f"--shard / collect.shard must be 'k/n' with 1 <= k <= n (for example 2/4), got {spec!r}")
    return kk, nn


def shard_of(rid: str, n: int) -> int:
    """The part (1..n) that record id ``rid`` belongs to."""
    return 1 + int.from_bytes(hashlib.sha256(rid.encode("utf-8")).digest()[:8], "big") % n


def in_shard(rid: str, shard: Shard | None) -> bool:
    """Whether record id ``rid`` belongs to ``shard`` (always, for ``None``)."""
    return shard is None or shard_of(rid, shard[1]) == shard[0]


def sample_record_id(sample: Any) -> str:
    """The input record id of an output sample (its ``id`` is ``"<record id>:<draw index>"``)."""
    sid = sample.get("id") if isinstance(sample, dict) else None
    if not isinstance(sid, str) or ":" not in sid:
        raise ValueError("no 'id' of the form '<record id>:<index>'")
    return sid.rsplit(":", 1)[0]


class _Part:
    """One part's samples, with one sample of lookahead. ``raw``: a ``.jsonl`` part whose samples are
    kept as their line bytes (copied to a ``.jsonl`` output as they are, without re-serializing)."""

    def __init__(self, path: str, k: int, raw: bool = False):
        self.path, self.k, self.raw = path, k, raw
        self._it: Iterator[tuple[int, Any]] = _raw_lines(path) if raw else read_records(path)
        self.head: Any = None
        self.head_rid: str | None = None
        self.line = 0
        self._advance()

    def _advance(self) -> None:
        nxt = next(self._it, None)
        if nxt is None:
            self.head = self.head_rid = None
            return
        self.line, self.head = nxt
        try:
            self.head_rid = sample_record_id(orjson.loads(self.head) if self.raw else self.head)
        except (ValueError, orjson.JSONDecodeError) as e:
            raise UserError(f"{self.path}: sample {self.line}: {e}; merge the outputs of "
                            "'proginstruct collect --shard k/n' (or of its area stage)") from None

    def take(self, rid: str) -> Iterator[Any]:
        while self.head_rid == rid:
            yield self.head
            self._advance()


def merge_shards(input_path: str, part_paths: list[str], output_path: str) -> int:
    """Merge the outputs of ``--shard 1/n`` .. ``n/n`` (``part_paths`` in that order) of one input into
    ``output_path`` in input order; returns the number of samples written.

    Walks ``input_path`` (the records the parts were collected from) and takes each record's samples
    from its part. Raises :class:`UserError` when a part is missing or holds samples of another part
    or of records not in the input (wrong order of the parts, or another input). Limitation: two input
    records with the same id, in the same part, with a record of another part between them, come out
    next to each other (ids are unique in the prepared inputs).
    """
    if not part_paths:
        raise UserError("merge-shards: no part files given; list the outputs of --shard 1/n .. n/n in order")
    n = len(part_paths)
    return merge_parts(input_path, part_paths, output_path, lambda rid: shard_of(rid, n) - 1,
                       order_hint=f"list the parts in order 1/{n} .. {n}/{n}",
                       missing="run 'proginstruct collect --shard k/n' for it first")


def merge_parts(input_path: str, part_paths: list[str], output_path: str, part_of: Callable[[str], int | None],
                *, order_hint: str, missing: str) -> int:
    """Merge ``part_paths`` into ``output_path`` in the record order of ``input_path``; returns the
    number of samples written (atomically, format by suffix).

    ``part_of(record id)`` is the 0-based index of the part holding that record's samples, or ``None``
    for a record in no part (another machine's shard). ``order_hint`` completes the error for a part
    holding a sample of another part; ``missing`` completes the error for a missing part file.
    Raises :class:`UserError` for a missing part or a sample left unmerged.
    """
    for p in part_paths:
        if not Path(p).exists():
            raise UserError(f"{p}: part not found; {missing}")
    raw = all(str(p).lower().endswith(".jsonl") for p in [*part_paths, output_path])
    parts = [_Part(p, k, raw) for k, p in enumerate(part_paths, start=1)]

    def merged() -> Iterator[Any]:
        for _, rec in read_records(input_path):
            rid = record_id(rec)
            k = part_of(rid)
            if k is not None:
                yield from parts[k].take(rid)
        for part in parts:
            if part.head is not None:
                owner = part_of(part.head_rid)
                why = (f"it belongs to part {owner + 1}; {order_hint}"
                       if owner is not None and owner + 1 != part.k
                       else "its record is not in this input or out of order")
                raise UserError(f"{part.path}: sample {part.line} (record {part.head_rid!r}) was not merged: "
                                f"{why}")

    return write_lines(output_path, merged()) if raw else write_records(output_path, merged())


def _raw_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """``(0-based line index, line bytes with its newline)`` of the non-blank lines of a ``.jsonl`` file
    written by this project (canonical JSON, one sample per line)."""
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if line.strip():
                yield i, line if line.endswith(b"\n") else line + b"\n"
