"""The post_collection stage (SPEC 7): add a target area ``loc`` to every sample, streaming.

Reads samples from a ``.json`` list or ``.jsonl`` file, draws ``loc`` per sample with its own RNG
(run seed + sample id, SPEC 11) and writes the samples with ``loc`` added, atomically, in input order.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import BadRecord, UserError
from ..progress import Bar
from ..records import atomic_write_json, read_records, record_id, write_records
from ..samples import sample_type
from ..seeding import derive_rng
from ..stats import Stats
from .loc import AreaParams, Loc, synthesize_loc

# sample types by the inputs present (the paper's mix table, SPEC 9): C current, H history, U user
SAMPLE_TYPES = ("C", "H,C", "C,U", "H,C,U")
LOC_KINDS = ("none", "cursor", "range")


def sample_id(sample: dict[str, Any]) -> str:
    """The identity a sample's RNG is derived from: ``sample["id"]`` when present, else
    :func:`records.record_id` of the sample without its ``loc`` (so rerunning the stage on its own
    output draws the same location)."""
    if "id" in sample:
        return str(sample["id"])
    return record_id({k: v for k, v in sample.items() if k != "loc"})


def loc_kind(loc: Loc) -> str:
    """``"none"``, ``"cursor"`` (an int) or ``"range"`` (a ``[start, end]`` list)."""
    if loc is None:
        return "none"
    return "cursor" if isinstance(loc, int) else "range"


def check_sample(path: str | os.PathLike, index: int, sample: Any) -> None:
    """Raise :class:`BadRecord` (file, 0-based index, reason and fix) unless ``sample`` is a dict with
    ``current`` and ``next`` snapshots whose ``code`` is a string, ``history`` (if present) a list
    and ``user`` (if present) a string or null (SPEC 0)."""
    fix = "expected a sample from the data_collection stage; fix or remove it"
    if not isinstance(sample, dict):
        raise BadRecord(path, index, f"not a JSON object but {type(sample).__name__}; {fix}")
    for key in ("current", "next"):
        snap = sample.get(key)
        if not isinstance(snap, dict):
            raise BadRecord(path, index, f"missing '{key}' snapshot; {fix}")
        if not isinstance(snap.get("code"), str):
            raise BadRecord(path, index, f"'{key}.code' is not a string; {fix}")
    if not isinstance(sample.get("history", []), list):
        raise BadRecord(path, index, f"'history' is not a list of snapshots; {fix}")
    if not isinstance(sample.get("user", ""), str | None):
        raise BadRecord(path, index, f"'user' is not a string; {fix}")


def mix_summary(types: list[str], kinds: list[str]) -> dict[str, dict[str, Any]]:
    """Per sample type (all four, zeros included): ``samples``, ``share`` (percent of all samples,
    2 decimals, comparable to the paper's mix) and ``loc`` counts by kind. ``types`` and ``kinds``
    are parallel lists, one entry per sample (see :func:`mix_from_counts` for counts)."""
    return mix_from_counts(Counter(zip(types, kinds, strict=True)))


def mix_from_counts(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """:func:`mix_summary` from the number of samples per ``(sample type, loc kind)`` pair."""
    total = sum(counts.values())
    out: dict[str, dict[str, Any]] = {}
    for t in SAMPLE_TYPES:
        by_kind = {k: counts.get((t, k), 0) for k in LOC_KINDS}
        n = sum(by_kind.values())
        out[t] = {
            "samples": n,
            "share": round(100.0 * n / total, 2) if total else 0.0,
            "loc": by_kind,
        }
    return out


def run_area(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    params: AreaParams,
    seed: int,
    metrics_path: str | os.PathLike | None = None,
    progress: bool = False,
) -> Stats:
    """Add ``loc`` to every sample of ``input_path`` and write them to ``output_path`` (SPEC 7).

    Input and output are ``.json`` lists or ``.jsonl`` files (by suffix). Each sample's location comes
    from ``derive_rng(seed, "area", sample_id(sample))``, so it does not depend on file order; an
    existing ``loc`` is replaced. The output is written atomically: on a bad sample
    (:class:`BadRecord`, naming file and index) or an input without samples (:class:`UserError`) no
    output file is left behind.

    Returns counters ``samples``, ``loc.none`` / ``loc.cursor`` / ``loc.range``, ``no_change``
    (``next.code == current.code``) and ``replaced_loc``. With ``metrics_path`` also writes the metrics
    JSON: those counters nested plus ``mix`` (:func:`mix_summary`).
    """
    stats = Stats({"samples": 0, "no_change": 0, "replaced_loc": 0, **{f"loc.{k}": 0 for k in LOC_KINDS}})
    mix: Counter[tuple[str, str]] = Counter()  # (sample type, loc kind) -> samples: no per-sample list

    def located() -> Iterator[dict[str, Any]]:
        for index, sample in Bar(read_records(input_path), desc="area", unit="sample", disable=not progress):
            check_sample(input_path, index, sample)
            current, next_ = sample["current"]["code"], sample["next"]["code"]
            rng = derive_rng(seed, "area", sample_id(sample))
            loc = synthesize_loc(current, next_, rng, params)
            if "loc" in sample:
                stats.add("replaced_loc")
            kind = loc_kind(loc)
            stats.add("samples")
            stats.add(f"loc.{kind}")
            if current == next_:
                stats.add("no_change")
            mix[sample_type(sample), kind] += 1
            yield {**sample, "loc": loc}
        if not stats["samples"]:  # raised inside the atomic write: no output file is left behind
            raise UserError(f"{input_path}: no samples to locate; the collection stage produced none "
                            "(see its metrics: skipped.*) or the file is empty")

    suffix = Path(output_path).suffix.lower()
    if suffix not in (".json", ".jsonl"):
        raise UserError(f"{output_path}: unsupported output format '{suffix}'; use .json or .jsonl")
    write_records(output_path, located())
    if metrics_path:
        metrics = stats.nested()
        metrics["mix"] = mix_from_counts(mix)
        atomic_write_json(metrics_path, metrics)
    return stats
