"""``proginstruct quality`` / ``stages/quality_filter.py``: the quality stage (docs/quality.md).

Parameters: :data:`~proginstruct.quality.params.DEFAULTS` < params.yaml section ``quality`` < flags of the
same name. ``--workers`` is a flag only (not a params.yaml key): it changes the speed, never the output.
"""

from __future__ import annotations

import os
from typing import Any

import click

from ..errors import UserError
from ..quality.params import DEFAULTS, GATES, HELPS, quality_params
from ..ranges import RANGES
from .common import load_params, param_options, params_option, resolve, user_errors


def default_workers() -> int:
    """The CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@click.command(name="quality")
@click.option("--input_path", required=True, type=click.Path(dir_okay=False),
              help="the merged dataset (.jsonl, .json or .parquet)")
@click.option("--output_path", required=True, type=click.Path(dir_okay=False),
              help="the samples that pass every gate (.jsonl, .json or .parquet), in input order")
@click.option("--also_write", multiple=True, type=click.Path(dir_okay=False),
              help="another output with the same samples (.jsonl, .json or .parquet); repeatable")
@click.option("--metrics_path", default=None, type=click.Path(dir_okay=False),
              help="metrics JSON to write (kept, removed.<gate> and each gate's details)")
@click.option("--workers", type=int, default=None,
              help="processes running the per-sample gates (default: the usable CPUs); same output at any count")
@params_option
@param_options(DEFAULTS, HELPS)
@user_errors
def command(input_path: str, output_path: str, also_write: tuple[str, ...], metrics_path: str | None,
            workers: int | None, params_path: str, **flags: Any) -> None:
    """Remove samples that are too long, break code that parsed, share a 13-token n-gram with a benchmark
    (HumanEval, APEval, your own sets) or nearly duplicate an earlier sample; count each removal."""
    from ..quality.stage import run_quality

    params = quality_params(resolve(DEFAULTS, load_params(params_path, "quality"), flags, "quality"))
    if workers is not None and RANGES["workers"].check(workers) is None:  # the range every stage's workers has
        raise UserError(f"--workers must be {RANGES['workers'].describe()}, got {workers}; "
                        "omit it to use every usable CPU")
    m = run_quality(input_path, [output_path, *also_write], params, metrics_path=metrics_path,
                    workers=workers or default_workers(), progress=True)
    removed = ", ".join(f"{g} {m['removed'][g]}" for g in GATES)
    click.echo(f"quality: {m['samples']} samples in, {m['kept']} kept (removed: {removed}; "
               f"bad records: {m['bad_records']}) -> {', '.join([output_path, *also_write])}", err=True)
