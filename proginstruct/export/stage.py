"""The export stage (SPEC 8, docs/formats.md): the merged dataset -> ``<out_dir>/{wf,lc,sr}.jsonl``.

Each output line is ``{"id": str | null, "source": str | null, "conversation": [{"role", "content"}, ...]}``
in dataset order. A sample whose code, instruction or chat already contains one of the special tokens
is skipped (it could not be parsed back, and a tokenizer would read the text as a control token) and
counted as ``skipped.special_token``; a malformed sample stops the stage with its file and index.
An exported sample whose current or next code has a line starting with ```` ``` ```` is counted as
``harness_unreadable.fence_in_code``: kept, since our own parsers read it back exactly, but parsers that
end a fenced block at the first such line (CursorCore's evaluation harness) cannot (SPEC 8).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..area.stage import check_sample
from ..errors import BadRecord, UserError
from ..records import atomic_write_json, write_records
from ..stats import Stats
from .fences import fence_in_code
from .formats import FORMATS, conversation
from .location import loc_problem
from .merge import read_samples
from .tokens import special_tokens_in


def sample_texts(sample: dict[str, Any]) -> Iterator[str]:
    """Every free text of a sample: the code of each snapshot, the instruction and the chat."""
    for snap in sample.get("history") or []:
        yield snap.get("code") or ""
    yield sample["current"]["code"]
    yield sample["next"]["code"]
    yield sample.get("user") or ""
    yield sample.get("chat") or ""


def check_exportable(path: str | os.PathLike, index: int, sample: Any) -> bool:
    """``True`` when ``sample`` can be exported, ``False`` when it contains a special token.

    Raises :class:`BadRecord` (file, index, reason) for a sample that is malformed (SPEC 0 shape,
    history snapshots without ``code``) or whose ``loc`` is not ``null``, a cursor or a range within
    the current code (SPEC 7).
    """
    check_sample(path, index, sample)
    for k, snap in enumerate(sample.get("history") or []):
        if not isinstance(snap, dict) or not isinstance(snap.get("code"), str):
            raise BadRecord(path, index, f"history[{k}] is not a snapshot with 'code'; fix or remove the sample")
    problem = loc_problem(sample.get("loc"), len(sample["current"]["code"]))
    if problem:
        raise BadRecord(path, index, f"{problem}; rerun the area stage on this sample")
    return not any(special_tokens_in(t) for t in sample_texts(sample))


def run_export(input_path: str | os.PathLike, out_dir: str | os.PathLike,
               formats: Sequence[str] = FORMATS, metrics_path: str | os.PathLike | None = None) -> Stats:
    """Write ``<out_dir>/<fmt>.jsonl`` for every format of ``formats`` (each atomically, one pass each).

    Returns counters ``samples``, ``exported.<fmt>`` (conversations written), ``turns.<fmt>`` (turns
    written), ``skipped.special_token`` and ``harness_unreadable.fence_in_code`` (exported samples, see the
    module docstring); with ``metrics_path`` also writes them as metrics JSON.
    Raises :class:`UserError` for an unknown format or an unreadable input, :class:`BadRecord` for a bad sample.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UserError(f"unknown export format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    stats = Stats({"samples": 0, "skipped.special_token": 0, "harness_unreadable.fence_in_code": 0})
    for n, fmt in enumerate(formats):
        stats[f"exported.{fmt}"] = 0
        stats[f"turns.{fmt}"] = 0

        def rows(fmt: str = fmt, first: bool = n == 0) -> Iterator[dict[str, Any]]:
            for index, sample in read_samples(input_path):
                ok = check_exportable(input_path, index, sample)
                if first:
                    stats.add("samples")
                    stats.add("skipped.special_token", 0 if ok else 1)
                    if ok and (fence_in_code(sample["current"]["code"]) or fence_in_code(sample["next"]["code"])):
                        stats.add("harness_unreadable.fence_in_code")
                if not ok:
                    continue
                conv = conversation(sample, fmt)
                stats.add(f"exported.{fmt}")
                stats.add(f"turns.{fmt}", len(conv))
                yield {"id": sample.get("id"), "source": sample.get("source"), "conversation": conv}

        write_records(Path(out_dir) / f"{fmt}.jsonl", rows())
    if metrics_path:
        atomic_write_json(metrics_path, stats.nested())
    return stats
