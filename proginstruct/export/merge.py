"""The merge stage (docs/formats.md): every source's final samples -> one deduplicated dataset.

Inputs are read in the order given, records in file order (stable order); the first copy of a sample
is kept and later exact duplicates are dropped. Two samples are duplicates when their SPEC 0 fields
(``history``, ``current``, ``user``, ``chat``, ``next``, ``loc``) are equal, whatever their provenance
(``source``, ``id``, ``seed``, ``model``), which the kept copy carries unchanged; a sample without a
``source`` gets the input file's stem. Streaming: memory holds one 16-byte digest per distinct sample.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..area.stage import check_sample
from ..errors import UserError
from ..records import dumps, read_records, write_records
from ..stats import Stats
from .parquet import read_parquet, write_parquet

SAMPLE_FIELDS = ("history", "current", "user", "chat", "next", "loc")
OUTPUT_SUFFIXES = (".json", ".jsonl", ".parquet")


def content_key(sample: dict[str, Any]) -> bytes:
    """16-byte digest of a sample's SPEC 0 fields (absent ``user``/``chat`` count as ``""``, absent
    ``history`` as ``[]``, absent ``loc`` as ``null``): equal keys = exact duplicates."""
    fields = {k: sample.get(k) for k in SAMPLE_FIELDS}
    fields["history"] = fields["history"] or []
    fields["user"] = fields["user"] or ""
    fields["chat"] = fields["chat"] or ""
    return hashlib.blake2b(dumps(fields), digest_size=16).digest()


def merged_samples(inputs: Sequence[str | os.PathLike], stats: Stats) -> Iterator[dict[str, Any]]:
    """Yield the samples of ``inputs`` (see :func:`read_samples`) in order,
    exact duplicates dropped. Counts ``inputs.<stem>``, ``samples.in``, ``duplicates`` and ``samples.out``
    (and ``sources.<source>``) into ``stats``. Raises :class:`BadRecord` (file, index) for a record
    that is not a sample."""
    seen: set[bytes] = set()
    for path in inputs:
        stem = Path(path).stem
        stats.add(f"inputs.{stem}", 0)
        for index, sample in read_samples(path):
            check_sample(path, index, sample)
            stats.add(f"inputs.{stem}")
            stats.add("samples.in")
            key = content_key(sample)
            if key in seen:
                stats.add("duplicates")
                continue
            seen.add(key)
            if "source" not in sample:
                sample = {**sample, "source": stem}
            stats.add("samples.out")
            stats.add(f"sources.{sample['source']}")
            yield sample


def merge_files(inputs: Sequence[str | os.PathLike], outputs: Sequence[str | os.PathLike]) -> Stats:
    """Merge ``inputs`` into every path of ``outputs`` (``.jsonl`` / ``.json`` / ``.parquet``, each written
    atomically). The first output is written while streaming the inputs; further ones are converted from
    it, so all hold the same samples in the same order. Returns the counters of :func:`merged_samples`.
    Raises :class:`UserError` for no inputs, an input listed twice or an unsupported output suffix."""
    if not inputs:
        raise UserError("merge: no input files given; pass OUT IN1 [IN2 ...]")
    if len({str(Path(p).resolve()) for p in inputs}) != len(inputs):
        raise UserError("merge: an input file is listed twice; list each source once")
    for out in outputs:
        if Path(out).suffix.lower() not in OUTPUT_SUFFIXES:
            raise UserError(f"{out}: unsupported output format; use one of {', '.join(OUTPUT_SUFFIXES)}")
        if str(Path(out).resolve()) in {str(Path(p).resolve()) for p in inputs}:
            raise UserError(f"{out}: output is also an input; write the merged file elsewhere")
    stats = Stats({"samples.in": 0, "samples.out": 0, "duplicates": 0})
    first, *rest = outputs
    _write(first, merged_samples(inputs, stats))
    for out in rest:
        _write(out, (s for _, s in read_samples(first)))
    return stats


def read_samples(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """``(index, sample)`` from a ``.json`` list, ``.jsonl``, or ``.parquet`` in this package's layout
    (:mod:`.parquet`). Raises :class:`UserError` for a missing file or invalid JSON."""
    if Path(path).suffix.lower() == ".parquet":
        if not Path(path).exists():
            raise UserError(f"{path}: input file not found; run the stage that produces it")
        return enumerate(read_parquet(path))
    return read_records(path)


def _write(path: str | os.PathLike, samples: Iterator[dict[str, Any]]) -> None:
    if Path(path).suffix.lower() == ".parquet":
        write_parquet(samples, path)
    else:
        write_records(path, samples)
