"""The data_collection stage (SPEC 6): input records -> samples, streamed, resumable, deterministic."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRecord, UserError
from ..llm.engine import Engine
from ..llm.runner import run_ordered
from ..records import CheckpointedWriter, dumps, file_sha256, read_records, record_id
from ..roles.chat import ChatRole
from ..roles.instruction import InstructionRole
from ..roles.judge import JudgeRole
from ..seeding import derive_rng
from ..stats import Stats
from .sample import CollectParams, build_sample, draw_indices
from .series import DATA_TYPES, check_record, code_series


@dataclass(frozen=True)
class Roles:
    """The role objects a collection run asks (SPEC 5)."""

    judge: Any
    instruction: Any
    chat: Any

    @classmethod
    def default(cls) -> Roles:
        return cls(JudgeRole(), InstructionRole(), ChatRole())


async def collect_record(engine: Engine, roles: Roles, data_type: str, rec: dict, rid: str, *, seed: int,
                         params: CollectParams) -> tuple[list[dict], dict[str, int]]:
    """All samples of one valid input record (SPEC 4 then SPEC 6), with the record's counters."""
    stats = Stats()
    stats.add("inputs")
    series = code_series(data_type, rec, derive_rng(seed, data_type, rid, "series"), params.limit_one_block_prob)
    stats.add("versions", len(series.versions))
    picks = draw_indices(len(series.versions), params.max_per_sample, params.alpha,
                         derive_rng(seed, data_type, rid, "pick"))
    results = await asyncio.gather(*(build_sample(engine, roles, data_type, series, c, record_id=rid, seed=seed,
                                                  params=params, stats=stats) for c in picks))
    return [s for s in results if s is not None], dict(stats)


def run_collection(data_type: str, input_path: str, output_path: str, *, params: CollectParams,
                   llm_params: dict[str, Any], seed: int, on_bad_record: str = "skip",
                   roles: Roles | None = None) -> Stats:
    """Collect samples from ``input_path`` into ``output_path`` (``.jsonl`` streamed, ``.json`` a list).

    Resumes an interrupted run with the same inputs and params; an output appears only when complete.
    Raises :class:`UserError` for an unknown data type, a missing/empty input, a bad record under
    ``on_bad_record: fail``, or a model-map / server problem.
    """
    if data_type not in DATA_TYPES:
        raise UserError(f"unknown --data_type {data_type!r}; use one of {', '.join(DATA_TYPES)}")
    if on_bad_record not in ("skip", "fail"):
        raise UserError(f"on_bad_record must be 'skip' or 'fail', got {on_bad_record!r}")
    inp = Path(input_path)
    records = list(read_records(inp)) if inp.suffix.lower() == ".json" else None
    total = len(records) if records is not None else _count_lines(inp)
    if total == 0:
        raise UserError(f"{inp}: no input records; run the prepare stage first or check its filters")
    roles = roles or Roles.default()
    fingerprint = hashlib.sha256(dumps({
        "input": file_sha256(inp), "type": data_type, "params": asdict(params), "seed": seed,
        "model_map": file_sha256(llm_params["model_map"]) if Path(llm_params["model_map"]).exists() else "",
        "llm": {k: v for k, v in llm_params.items() if k not in ("num_proc", "window", "cache_path")},
    })).hexdigest()
    bad = Stats()

    async def main() -> Stats:
        engine = Engine.from_params(llm_params)
        window = int(llm_params.get("window") or 0) or 4 * int(llm_params["num_proc"])

        async def one(index: int, rec: Any) -> tuple[list[dict], dict[str, int]]:
            reason = check_record(data_type, rec)
            if reason is not None:
                if on_bad_record == "fail":
                    raise BadRecord(str(inp), index, reason + "; fix the record or set on_bad_record: skip")
                bad.add("bad_records")
                return [], {"inputs": 1, "bad_records": 1}
            return await collect_record(engine, roles, data_type, rec, record_id(rec), seed=seed, params=params)

        try:
            items = iter(records) if records is not None else read_records(inp)
            return await run_ordered(items, one, CheckpointedWriter(output_path, fingerprint), window=window,
                                     total=total, desc=f"collect {data_type}")
        finally:
            await engine.aclose()

    stats = asyncio.run(main())
    if bad:
        import sys

        sys.stderr.write(f"warning: {inp}: skipped {bad['bad_records']} malformed record(s) "
                         "(on_bad_record: skip)\n")
    return stats


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())
