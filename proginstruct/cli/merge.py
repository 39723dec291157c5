"""``proginstruct merge``: the merge stage (docs/formats.md), with the seed's ``merge_data`` form
``python stages/merge_data.py OUT IN1 IN2 ...``."""

from __future__ import annotations

import click

from ..export.merge import merge_files
from .common import user_errors, write_metrics


@click.command(name="merge")
@click.argument("output_path", type=click.Path(dir_okay=False))
@click.argument("input_paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--also_write", "also_write", multiple=True, type=click.Path(dir_okay=False),
              help="another output with the same samples (.jsonl, .json or .parquet); repeatable")
@click.option("--metrics_path", default=None, type=click.Path(dir_okay=False),
              help="metrics JSON to write (default: none)")
@user_errors
def command(output_path: str, input_paths: tuple[str, ...], also_write: tuple[str, ...],
            metrics_path: str | None) -> None:
    """Merge sample files IN... into OUT, in order, exact duplicates removed (provenance kept).

    Formats by extension: .json (a list), .jsonl, .parquet (typed layout, `loc` as a list).
    """
    stats = merge_files(list(input_paths), [output_path, *also_write])
    write_metrics(metrics_path, stats.nested())
    click.echo(f"merge: {stats['samples.in']} samples in, {stats['duplicates']} duplicates removed, "
               f"{stats['samples.out']} -> {', '.join([output_path, *also_write])}", err=True)
