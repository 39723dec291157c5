"""Counting what a release holds: records per file, samples per source, samples per model.

These are the fallbacks of the dataset card when ``metrics/report.json`` is absent: they read the
released files themselves (streaming JSONL, parquet metadata), so they work on any recipe output.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import orjson

from ..errors import UserError
from ..records import read_records


def count_records(path: str | os.PathLike) -> int | None:
    """Records in a ``.jsonl`` (non-blank lines), ``.json`` (list length) or ``.parquet`` (row count from
    the footer) file; ``None`` for a folder or another format (the card then shows only its size).

    Raises :class:`UserError` when the file is missing (pull or reproduce it first).
    """
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: missing from the workspace; run 'dvc pull' or 'dvc repro' first")
    if p.is_dir():
        return None
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        with p.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(p).metadata.num_rows
    if suffix == ".json":
        return sum(1 for _ in read_records(p))
    return None


def model_counts(paths: list[Path]) -> Counter[str]:
    """Samples per ``model`` field over the JSONL ``paths`` (records without one count as ``"(none)"``).

    Streams one line at a time; raises :class:`UserError` naming the file and line for invalid JSON.
    """
    counts: Counter[str] = Counter()
    for p in paths:
        with p.open("rb") as fh:
            for i, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise UserError(f"{p}: line {i} is not valid JSON ({e}); rerun the stage that wrote it") from None
                model = rec.get("model") if isinstance(rec, dict) else None
                counts[str(model) if model else "(none)"] += 1
    return counts
