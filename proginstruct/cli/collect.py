"""``proginstruct collect`` / ``stages/data_collection.py``: the data_collection stage (SPEC 6)."""

from __future__ import annotations

import dataclasses
import time

import click

from ..collection.sample import CollectParams
from ..errors import UserError
from ..stats import Stats
from .common import (
    LLM_DEFAULTS,
    load_params,
    load_seed,
    param_options,
    params_option,
    resolve,
    user_errors,
    write_metrics,
)

ALWAYS_REPORTED = ("inputs", "samples", "bad_records", "no_change_samples", "draws.tried", "requests.sent",
                   "requests.cache_hits", "tokens.prompt", "tokens.completion")
COLLECT_DEFAULTS = {**{f.name: f.default for f in dataclasses.fields(CollectParams)}, "on_bad_record": "skip",
                    "shard": "",  # "k/n": this machine's part of the input, "" = all
                    "workers": 1}  # local processes sharing the run; same output bytes


def samples_per_record(stats: dict[str, int]) -> float:
    """Mean samples per collected input record (malformed records excluded), from the
    ``samples_per_record.<k>`` counters; 0.0 when no record was collected."""
    records = sum(v for k, v in stats.items() if k.startswith("samples_per_record."))
    return stats.get("samples", 0) / records if records else 0.0


def run_metrics(stats: Stats, error: str = "") -> dict:
    """The metrics JSON of a collection run: the counters nested (those of :data:`ALWAYS_REPORTED` even
    when zero) and ``complete``: ``True`` for a finished run; for a run that stopped, ``False`` with the
    counters of the records written so far (earlier runs' included) and the one-line ``error``."""
    for key in ALWAYS_REPORTED:  # shown by `dvc metrics show` even when zero
        stats.setdefault(key, 0)
    out = {**stats.nested(), "complete": not error}
    if error:
        out["error"] = error
    return out


@click.command(name="collect")
@click.option("--data_type", required=True, help="the input's source: commit, aiprogrammer or submit")
@click.option("--input_path", required=True, help="prepared records (.json list or .jsonl)")
@click.option("--output_path", required=True, help=".jsonl streams samples; .json writes a JSON list")
@click.option("--metrics_path", default="", help="write counters as JSON here (for dvc metrics)")
@click.option("--seed", type=int, default=None, help="run seed (default: params.yaml 'seed', else 42)")
@params_option
@param_options(COLLECT_DEFAULTS, {
    "on_bad_record": "'skip' (count and warn) or 'fail' (stop at the first malformed record)",
    "shard": "'k/n': collect part k of n of the input, chosen by record id (join with merge-shards)",
    "workers": "local processes sharing this run, each on its part of the records (same output bytes)",
})
@param_options(LLM_DEFAULTS)
@user_errors
def command(data_type: str, input_path: str, output_path: str, metrics_path: str, seed: int | None,
            params_path: str, **flags: object) -> None:
    """Collect samples from prepared records (SPEC 6): params from params.yaml sections
    ``collect.<data_type>`` (keys directly under ``collect``, such as ``shard``, apply to every source)
    and ``llm``, overridden by flags. ``--shard k/n`` collects part k of n of the input (merge the parts
    with ``proginstruct merge-shards``); ``--workers n`` runs n local processes (same output).
    ``--mode batch`` runs in rounds of batch jobs (same output); ``--mode estimate`` prints what the first
    round would send (``proginstruct estimate``) and writes nothing."""
    from ..collection.collect import run_collection
    from ..collection.series import DATA_TYPES

    if data_type not in DATA_TYPES:
        raise UserError(f"--data_type {data_type!r} is not a source; use one of {', '.join(DATA_TYPES)}")
    section = {**load_params(params_path, "collect"), **load_params(params_path, f"collect.{data_type}")}
    cp = resolve(COLLECT_DEFAULTS, section, flags, f"collect.{data_type}")
    lp = resolve(LLM_DEFAULTS, load_params(params_path, "llm"), flags, "llm")
    if lp["mode"] == "estimate":
        from .estimate import run_estimate

        click.echo(run_estimate(data_type, input_path, params_path=params_path, seed=seed, sample=1000,
                                flags=flags), nl=False)
        return
    on_bad = str(cp.pop("on_bad_record"))
    shard = str(cp.pop("shard") or "")
    workers = int(cp.pop("workers"))
    params = CollectParams(**cp)
    t0 = time.monotonic()
    stats = Stats()
    try:
        run_collection(data_type, input_path, output_path, params=params, llm_params=lp,
                       seed=load_seed(params_path, seed), on_bad_record=on_bad, shard=shard,
                       workers=workers, stats_out=stats)
    except (UserError, KeyboardInterrupt) as e:  # a stop: the counters so far, marked incomplete
        write_metrics(metrics_path, run_metrics(stats, error=str(e) or "interrupted"))
        raise
    elapsed = time.monotonic() - t0
    write_metrics(metrics_path, run_metrics(stats))  # no timings: metrics stay the same for the same run
    part = f" (shard {shard})" if shard else ""
    skipped = ", ".join(f"{k.rsplit('.', 1)[1]} {v}" for k, v in sorted(stats.items())
                        if k.startswith("draws.skipped.") and v)
    if lp["mode"] == "batch":
        click.echo(f"collect {data_type}{part}: batch mode: {stats['batch.rounds']} rounds, {stats['batch.jobs']} "
                   f"jobs, {stats['batch.lines']} lines ({stats['batch.failed_lines']} failed), waited "
                   f"{stats['batch.wait_seconds']}s", err=True)
    click.echo(f"collect {data_type}{part}: {stats['inputs']} records -> {stats['samples']} samples "
               f"({samples_per_record(stats):.2f} per record; {stats['requests.sent']} requests sent, "
               f"{stats['requests.cache_hits']} cache hits, {stats['no_change_samples']} no-change; "
               f"{stats['draws.tried']} draws, skipped: {skipped or 'none'}) "
               f"in {elapsed:.1f}s -> {output_path}", err=True)
