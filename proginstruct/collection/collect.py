"""The data_collection stage (SPEC 6): input records -> samples, streamed, resumable, deterministic."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRecord, UserError
from ..llm.engine import SAMPLING_KEYS, Engine
from ..llm.model_map import ModelMap
from ..llm.rounds import run_records
from ..llm.runner import charge
from ..progress import Progress
from ..ranges import check_params
from ..records import CheckpointedWriter, dumps, file_sha256, read_records, record_id
from ..roles.chat import ChatRole
from ..roles.instruction import InstructionRole
from ..roles.judge import JudgeRole
from ..seeding import derive_rng
from ..stats import Stats
from .sample import CollectParams, build_sample, draw_order
from .series import DATA_TYPES, check_record, code_series
from .shards import in_shard, parse_shard
from .workers import run_in_workers

# llm params that change the samples (a checkpoint made with other values is discarded); endpoints,
# limits, retries, timeouts and concurrency do not, so a run can resume with more servers or other limits
OUTPUT_LLM_KEYS = (*SAMPLING_KEYS, "max_try")


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
    """All samples of one valid input record (SPEC 4 then SPEC 6), with the record's counters.

    Candidates are drawn one at a time (:func:`~.sample.draw_order`) and each draw is built before the
    next is made: a skipped draw does not count, and drawing stops once ``params.max_per_sample``
    samples are emitted or no candidate is left. Counters: ``draws.tried`` per draw,
    ``draws.skipped.<reason>`` per skipped one (:func:`~.sample.build_sample`), and
    ``samples_per_record.<k>`` once, ``k`` the samples this record gave. In batch mode a draw whose role
    call needs a reply not yet cached raises :class:`~proginstruct.llm.batch.Pending` through here: the
    whole record waits for the next round (that draw is neither skipped nor failed, and these counters
    are dropped with it).
    """
    stats = Stats()
    stats.add("inputs")
    series = code_series(data_type, rec, derive_rng(seed, data_type, rid, "series"), params.limit_one_block_prob)
    charge(sum(map(len, series.versions)))  # llm.window_bytes: the series lives until the record is done
    stats.add("versions", len(series.versions))
    samples: list[dict] = []
    order = draw_order(len(series.versions), params.alpha, derive_rng(seed, data_type, rid, "pick"))
    while len(samples) < params.max_per_sample:
        c = next(order, None)
        if c is None:
            break
        stats.add("draws.tried")
        sample = await build_sample(engine, roles, data_type, series, c, record_id=rid, seed=seed, params=params,
                                    stats=stats)
        if sample is not None:
            samples.append(sample)
    stats.add(f"samples_per_record.{len(samples)}")
    return samples, dict(stats)


def run_collection(data_type: str, input_path: str, output_path: str, *, params: CollectParams,
                   llm_params: dict[str, Any], seed: int, on_bad_record: str = "skip",
                   roles: Roles | None = None, shard: str = "", workers: int = 1, stats_out: Stats | None = None,
                   _worker: tuple[int, int] | None = None, _progress: Progress | None = None) -> Stats:
    """Collect samples from ``input_path`` into ``output_path`` (``.jsonl`` streamed, ``.json`` a list).

    Inputs are streamed (``.jsonl`` by line, ``.json`` lists item by item), never loaded whole.
    ``shard`` ``"k/n"`` keeps only the records of part k of n (:mod:`~proginstruct.collection.shards`).
    ``workers`` > 1 splits the run over that many local processes (:mod:`~proginstruct.collection.workers`;
    same output bytes); inside worker j of n, ``_worker`` is ``(j, n)`` (only worker 1 prints the
    simulator banner) and ``_progress`` the workers' shared counter
    (:class:`~proginstruct.collection.workers.SharedProgress`), which the parent draws as one bar.
    Resumes an interrupted run with the same inputs and params (whatever the endpoints, limits,
    concurrency and ``llm.mode``); an output appears only when complete. ``llm.mode: batch`` runs the
    records in rounds of batch jobs (:mod:`~proginstruct.llm.rounds`; same output bytes). Returns the
    counters; with ``stats_out`` they are accumulated there too, so that a caller still has the counters
    of the records written so far when the run stops with an exception. Raises :class:`UserError` for an
    unknown data type, a bad shard or worker count, a missing/empty input, a bad record under
    ``on_bad_record: fail``, or a model-map / server problem
    (:class:`~proginstruct.llm.faults.TransportStop` when a server fault outlasts ``llm.max_retries``:
    the checkpoint is kept and a rerun resumes).
    """
    if data_type not in DATA_TYPES:
        raise UserError(f"unknown --data_type {data_type!r}; use one of {', '.join(DATA_TYPES)}")
    if on_bad_record not in ("skip", "fail"):
        raise UserError(f"on_bad_record must be 'skip' or 'fail', got {on_bad_record!r}")
    part = parse_shard(shard)
    workers = check_params({"workers": workers}, f"collect.{data_type}")["workers"]
    if workers > 1 and llm_params.get("mode", "online") != "online":
        raise UserError(f"--workers {workers} works in online mode only (llm.mode is {llm_params['mode']!r}); "
                        "a batch run is one process: use --workers 1")
    inp = Path(input_path)
    if next(read_records(inp), None) is None:
        raise UserError(f"{inp}: no input records; run the prepare stage first or check its filters")
    total = _count_lines(inp) if part is None and inp.suffix.lower() in (".jsonl", ".ndjson") else None
    if workers > 1:  # each worker runs this function on its part of the records
        return run_in_workers(run_collection, dict(data_type=data_type, input_path=input_path,
                                                   output_path=output_path, params=params, llm_params=llm_params,
                                                   seed=seed, on_bad_record=on_bad_record, roles=roles),
                              part, workers, total=total, stats_out=stats_out)
    roles = roles or Roles.default()
    models = ModelMap.load(llm_params["model_map"], llm_params.get("models", ""))
    fingerprint = hashlib.sha256(dumps({
        "input": file_sha256(inp), "type": data_type, "params": asdict(params), "seed": seed,
        # a guided model answers other text: its setting is part of the output's identity (none: as before)
        "models": [e.name if e.guided == "none" else f"{e.name} (guided: {e.guided})" for e in models.entries],
        "shard": list(part) if part else None,
        "llm": {k: llm_params[k] for k in OUTPUT_LLM_KEYS if k in llm_params},
    })).hexdigest()
    bad = Stats()
    first_bad: list[str] = []  # the first few malformed records, named in the warning
    bad_seen: set[int] = set()

    async def main() -> Stats:
        engine = Engine.from_params(llm_params, quiet=_worker is not None and _worker[0] > 1)
        window = int(llm_params.get("window") or 0) or 4 * int(llm_params["num_proc"])
        window_bytes = int(llm_params.get("window_bytes") or 0)

        async def one(index: int, rec: Any) -> tuple[list[dict], dict[str, int]]:
            reason = check_record(data_type, rec)
            if reason is not None:
                if on_bad_record == "fail":
                    raise BadRecord(str(inp), index, reason + "; fix the record or set on_bad_record: skip")
                if index in bad_seen:  # run again in a later batch round
                    return [], {"inputs": 1, "bad_records": 1}
                bad_seen.add(index)
                bad.add("bad_records")
                if len(first_bad) < 3:
                    first_bad.append(f"record {index}: {reason}")
                return [], {"inputs": 1, "bad_records": 1}
            return await collect_record(engine, roles, data_type, rec, record_id(rec), seed=seed, params=params)

        def items() -> Any:  # called once online, once per round in batch mode
            recs = read_records(inp)
            return recs if part is None else ((i, r) for i, r in recs if in_shard(record_id(r), part))

        acc = stats_out if stats_out is not None else Stats()
        try:
            await run_records(items, one, CheckpointedWriter(output_path, fingerprint), engine, window=window,
                              total=total, desc=f"collect {data_type}", progress=_progress,
                              window_bytes=window_bytes, stats=acc)
        finally:
            acc.merge([engine.session_stats()])
            await engine.aclose()
        return acc

    stats = asyncio.run(main())
    if bad:
        more = ", ..." if bad["bad_records"] > len(first_bad) else ""
        sys.stderr.write(f"warning: {inp}: skipped {bad['bad_records']} malformed record(s) "
                         f"({'; '.join(first_bad)}{more}); on_bad_record: skip\n")
    return stats


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())
