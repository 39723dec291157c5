"""``proginstruct aiprogrammer`` / ``stages/aiprogrammer.py``: finished snippets -> programmer histories.

The user's seed command keeps working::

    python stages/aiprogrammer.py --model_map model_map.json --input_path data/code_snippets.json \\
        --output_path data/aiprogrammer.json
"""

from __future__ import annotations

import time

import click

from ..sources.aiprogrammer import AIPROGRAMMER_DEFAULTS
from .common import LLM_DEFAULTS, load_params, load_seed, param_options, params_option, resolve, user_errors


@click.command(name="aiprogrammer")
@click.option("--input_path", default="data/samples/snippets.json", show_default=True,
              help="snippets: .json list (strings or {lang, content} objects), .jsonl, .parquet "
                   "or a directory")
@click.option("--output_path", default="data/prepared/aiprogrammer.jsonl", show_default=True,
              help=".jsonl streams records; .json writes a JSON list")
@click.option("--metrics_path", default="metrics/aiprogrammer.json", show_default=True,
              help="counters as JSON (for dvc metrics); empty to skip")
@click.option("--seed", type=int, default=None, help="run seed (default: params.yaml 'seed', else 42)")
@params_option
@param_options(AIPROGRAMMER_DEFAULTS)
@param_options(LLM_DEFAULTS)
@user_errors
def command(input_path: str, output_path: str, metrics_path: str, seed: int | None, params_path: str,
            **flags: object) -> None:
    """Invent a version history for every snippet with the programmer role (SPEC 5): params from
    params.yaml sections ``aiprogrammer`` and ``llm``, overridden by flags. ``--mode batch`` runs in rounds
    of batch jobs (same output); ``--mode estimate`` prints what the first round would send and writes
    nothing."""
    from ..sources.aiprogrammer import run_aiprogrammer

    params = resolve(AIPROGRAMMER_DEFAULTS, load_params(params_path, "aiprogrammer"), flags, "aiprogrammer")
    llm_params = resolve(LLM_DEFAULTS, load_params(params_path, "llm"), flags, "llm")
    if llm_params["mode"] == "estimate":
        from .estimate import run_estimate

        click.echo(run_estimate("snippets", input_path, params_path=params_path, seed=seed, sample=1000,
                                flags=flags), nl=False)
        return
    t0 = time.monotonic()
    metrics = run_aiprogrammer(input_path, output_path, params, llm_params, load_seed(params_path, seed),
                               metrics_path or None)
    elapsed = time.monotonic() - t0
    snippets = metrics.get("snippets", {})
    requests = metrics.get("requests", {})
    histories = metrics.get("histories", {}).get("out", 0)
    batch = metrics.get("batch")
    if batch:
        click.echo(f"aiprogrammer: batch mode: {batch.get('rounds', 0)} rounds, {batch.get('jobs', 0)} jobs, "
                   f"{batch.get('lines', 0)} lines ({batch.get('failed_lines', 0)} failed), waited "
                   f"{batch.get('wait_seconds', 0)}s", err=True)
    click.echo(f"aiprogrammer: {snippets.get('read', 0)} snippets -> {histories} histories "
               f"({requests.get('sent', 0)} requests sent, {requests.get('cache_hits', 0)} cache hits) "
               f"in {elapsed:.1f}s -> {output_path}", err=True)
