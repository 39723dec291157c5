"""The quality stage (docs/quality.md): the merged dataset -> the samples that pass every gate, in order.

Streaming: the input is read record by record; gates 1-3 (:mod:`.gates`) run in ``workers`` processes
on batches of records, and their verdicts come back in input order, where the near-duplicate gate
(:mod:`.neardup`) and the outputs follow the dataset order. Memory holds the batches in flight and one
MinHash signature per kept sample. The outputs (``.jsonl``, ``.json`` lists or ``.parquet`` in this
package's layout, any number) appear only when complete, then the metrics; a kept JSONL record is written
as the input line's bytes, so the output is an ordered subset of the input and the same input and params
give the same bytes at any ``workers``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from ..errors import BadRecord, UserError
from ..progress import Bar
from ..records import atomic_open, atomic_write_json, dumps
from .decontam import load_items
from .gates import Evaluator, Verdict
from .metrics import QualityMetrics
from .neardup import NearDuplicateIndex, lsh_bands
from .params import QualityParams

OUTPUT_SUFFIXES = (".jsonl", ".json", ".parquet")
BATCH_RECORDS = 64      # records per task sent to a worker
BATCH_BYTES = 1 << 20   # ... or fewer when their lines reach this size
TASKS_PER_WORKER = 4    # tasks in flight per worker (bounds memory; keeps each worker busy)


def input_lines(path: str | os.PathLike) -> Iterator[tuple[int, bytes]]:
    """``(index, JSON bytes)`` of every record of a ``.jsonl`` (the line as read, without its line end;
    blank lines skipped but counted in the index, as :func:`records.read_records` does), ``.json`` list or
    ``.parquet`` file (each record as canonical JSON). Raises :class:`UserError` for a missing file or an
    unsupported suffix."""
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.is_file():
        raise UserError(f"{p}: input file not found; run the merge stage first or fix --input_path")
    if suffix in (".jsonl", ".ndjson"):
        with p.open("rb") as fh:
            for i, line in enumerate(fh):
                line = line.rstrip(b"\r\n")
                if line.strip():
                    yield i, line
    elif suffix in (".json", ".parquet"):
        from ..export.merge import read_samples

        for i, rec in read_samples(p):
            yield i, dumps(rec)
    else:
        raise UserError(f"{p}: unsupported input format '{suffix}'; use .jsonl, .json or .parquet")


class _Outputs:
    """The output files, written atomically (see the module doc); use as a context manager."""

    def __init__(self, paths: Sequence[str | os.PathLike]):
        self.paths = [Path(p) for p in paths]
        self._stack = contextlib.ExitStack()
        self._lines: list[Any] = []   # JSONL file handles
        self._lists: list[Any] = []   # JSON list file handles
        self._parquets: list[Any] = []
        self.written = 0

    def __enter__(self) -> _Outputs:
        from ..export.parquet import ParquetSampleWriter

        with contextlib.ExitStack() as stack:
            for p in self.paths:
                suffix = p.suffix.lower()
                if suffix == ".parquet":
                    self._parquets.append(stack.enter_context(ParquetSampleWriter(p)))
                else:
                    fh = stack.enter_context(atomic_open(p))
                    (self._lists if suffix == ".json" else self._lines).append(fh)
                    if suffix == ".json":
                        fh.write(b"[")
            self._stack = stack.pop_all()
        return self

    def write(self, line: bytes) -> None:
        """Append one kept record (its JSON bytes)."""
        for fh in self._lines:
            fh.write(line)
            fh.write(b"\n")
        for fh in self._lists:
            fh.write(b",\n" if self.written else b"\n")
            fh.write(line)
        if self._parquets:
            sample = orjson.loads(line)
            for w in self._parquets:
                w.write(sample)
        self.written += 1

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool | None:
        if exc_type is None:
            for fh in self._lists:
                fh.write(b"\n]\n" if self.written else b"]\n")
        return self._stack.__exit__(exc_type, exc, tb)


# --- worker processes -------------------------------------------------------------------------------

_EVALUATOR: Evaluator | None = None


def _init_worker(params: QualityParams, items: list[tuple[str, list[str]]]) -> None:
    global _EVALUATOR
    _EVALUATOR = Evaluator(params, items)


def _judge_batch(path: str, batch: list[tuple[int, bytes]]) -> list[Verdict]:
    assert _EVALUATOR is not None, "worker not initialised"
    return [_EVALUATOR.judge_line(path, i, line) for i, line in batch]


def _batches(lines: Iterator[tuple[int, bytes]]) -> Iterator[list[tuple[int, bytes]]]:
    batch: list[tuple[int, bytes]] = []
    size = 0
    for item in lines:
        batch.append(item)
        size += len(item[1])
        if len(batch) >= BATCH_RECORDS or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def judged(path: str, lines: Iterator[tuple[int, bytes]], params: QualityParams,
           items: list[tuple[str, list[str]]], workers: int) -> Iterator[tuple[int, bytes, Verdict]]:
    """``(index, line, verdict)`` for every input record, in input order; ``workers`` > 1 judges batches
    in that many processes (forked when this process has one thread, else spawned), at most
    :data:`TASKS_PER_WORKER` batches per worker in flight."""
    if workers <= 1:
        ev = Evaluator(params, items)
        for i, line in lines:
            yield i, line, ev.judge_line(path, i, line)
        return
    method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() \
        else "spawn"
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(workers, initializer=_init_worker, initargs=(params, items)) as pool:
        pending: deque[tuple[list[tuple[int, bytes]], Any]] = deque()
        for batch in _batches(lines):
            pending.append((batch, pool.apply_async(_judge_batch, (path, batch))))
            if len(pending) >= workers * TASKS_PER_WORKER:
                done, res = pending.popleft()
                yield from ((i, line, v) for (i, line), v in zip(done, res.get(), strict=True))
        while pending:
            done, res = pending.popleft()
            yield from ((i, line, v) for (i, line), v in zip(done, res.get(), strict=True))


# --- the stage --------------------------------------------------------------------------------------

def check_outputs(input_path: str | os.PathLike, outputs: Sequence[str | os.PathLike]) -> None:
    """Raise :class:`UserError` for an output with an unsupported suffix, listed twice, or equal to the input."""
    seen: set[str] = set()
    for out in outputs:
        if Path(out).suffix.lower() not in OUTPUT_SUFFIXES:
            raise UserError(f"{out}: unsupported output format; use one of {', '.join(OUTPUT_SUFFIXES)}")
        key = str(Path(out).resolve())
        if key == str(Path(input_path).resolve()):
            raise UserError(f"{out}: output is also the input; write the filtered dataset elsewhere")
        if key in seen:
            raise UserError(f"{out}: output listed twice; list each output once")
        seen.add(key)


def run_quality(input_path: str | os.PathLike, outputs: Sequence[str | os.PathLike], params: QualityParams, *,
                metrics_path: str | os.PathLike | None = None, workers: int = 1,
                progress: bool = False) -> dict[str, Any]:
    """Filter the samples of ``input_path`` through the gates into every path of ``outputs`` (module doc).

    Returns the metrics (:mod:`.metrics`), also written to ``metrics_path`` when given. Raises
    :class:`UserError` for bad paths, an unreadable decontamination set or one lacking a field (before any
    output is opened), an input without records, and :class:`BadRecord` (file, index) for a malformed record
    under ``on_bad_record: fail``; then no output is left behind.
    """
    if not outputs:
        raise UserError("quality: no output path given; pass --output_path")
    check_outputs(input_path, outputs)
    if not Path(input_path).is_file():
        raise UserError(f"{input_path}: input file not found; run the merge stage first or fix --input_path")
    items = [(s.name, load_items(s)) for s in params.sets] if params.contaminated else []
    names = [name for name, _ in items]
    metrics = QualityMetrics(params, names)
    near = NearDuplicateIndex(params.near_dup_threshold, params.near_dup_num_perm) if params.near_duplicate else None
    first_bad: list[str] = []
    path = str(input_path)
    lines = input_lines(input_path)
    with _Outputs(outputs) as out:
        stream = judged(path, lines, params, items, workers)
        for index, line, v in Bar(stream, desc="quality", unit="sample", disable=not progress):
            if v.bad is not None:
                if params.on_bad_record == "fail":
                    raise BadRecord(path, index, f"{v.bad}; fix the record or set quality.on_bad_record: skip")
                metrics.bad()
                if len(first_bad) < 3:
                    first_bad.append(f"record {index}: {v.bad}")
                continue
            dup = v.gate is None and near is not None and v.minhash is not None and near.is_duplicate(v.minhash)
            metrics.add(v, dup)
            if v.gate is None and not dup:
                out.write(line)
        if not metrics.samples:  # raised inside the outputs' block: nothing is left behind
            raise UserError(f"{input_path}: no samples to check; the merge stage produced none or the file is empty")
    result = metrics.as_json(near.bands if near else lsh_bands(params.near_dup_threshold, params.near_dup_num_perm),
                             near.candidates if near else 0)
    if metrics.bad_records:
        more = ", ..." if metrics.bad_records > len(first_bad) else ""
        sys.stderr.write(f"warning: {input_path}: skipped {metrics.bad_records} malformed record(s) "
                         f"({'; '.join(first_bad)}{more}); quality.on_bad_record: skip\n")
    if metrics_path:
        atomic_write_json(metrics_path, result)
    return result
