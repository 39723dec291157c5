"""``proginstruct area``: the post_collection stage (SPEC 7), adding a target area ``loc`` to samples.

Parameters: SPEC 9 defaults < params.yaml (section ``area``; the run ``seed`` at top level) < flags.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from ..area.loc import AreaParams
from ..area.stage import run_area
from ..errors import UserError
from .common import load_params, load_seed, param_options, params_option, resolve, user_errors

# SPEC 9, post_collection row (the dataclass is the single source of the defaults)
DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(AreaParams)}
DEFAULT_SEED = 42


def area_params(values: dict[str, Any], source: str) -> AreaParams:
    """Build :class:`AreaParams` from resolved values (ints accepted for probabilities). Raises
    :class:`UserError` naming ``source`` (params file / flags) when a value is out of range."""
    try:
        coerced = {k: (float(v) if isinstance(DEFAULTS[k], float) and isinstance(v, int) else v)
                   for k, v in values.items()}
        return AreaParams(**coerced)
    except TypeError as e:
        raise UserError(f"{source}: {e}; fix params.yaml section 'area' or the flag") from None


@click.command(name="area")
@click.option("--input_path", required=True, type=click.Path(dir_okay=False),
              help="samples from data_collection (.json list or .jsonl)")
@click.option("--output_path", required=True, type=click.Path(dir_okay=False),
              help="samples with 'loc' added (.json list or .jsonl)")
@click.option("--metrics_path", default=None, type=click.Path(dir_okay=False),
              help="metrics JSON to write (default: none)")
@click.option("--seed", type=int, default=None,
              help=f"run seed (default: params.yaml top-level 'seed', else {DEFAULT_SEED})")
@params_option
@param_options(DEFAULTS)
@user_errors
def command(input_path: str, output_path: str, metrics_path: str | None, seed: int | None,
            params_path: str, **flags: Any) -> None:
    """Synthesize the target area (cursor or range) of every sample (SPEC 7)."""
    values = resolve(DEFAULTS, load_params(params_path, "area"), flags, "area")
    params = area_params(values, params_path)
    run_seed = load_seed(params_path, seed, DEFAULT_SEED)
    stats = run_area(input_path, output_path, params, run_seed, metrics_path=metrics_path, progress=True)
    loc = ", ".join(f"{k} {stats[f'loc.{k}']}" for k in ("none", "cursor", "range"))
    click.echo(f"area: {stats['samples']} samples -> {output_path} (loc: {loc}; "
               f"no change: {stats['no_change']})", err=True)
