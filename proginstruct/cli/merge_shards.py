"""``proginstruct merge-shards``: join the parts of a sharded collection (docs/models-and-scale.md) into one output."""

from __future__ import annotations

import click

from .common import user_errors


@click.command(name="merge-shards")
@click.option("--input_path", required=True, type=click.Path(dir_okay=False),
              help="the records every part was collected from (the collect stage's --input_path)")
@click.option("--output_path", required=True, type=click.Path(dir_okay=False),
              help="merged samples (.jsonl or .json), in input order")
@click.argument("parts", nargs=-1, required=True, type=click.Path(dir_okay=False))
@user_errors
def command(input_path: str, output_path: str, parts: tuple[str, ...]) -> None:
    """Merge PARTS, the outputs of ``collect --shard 1/n`` .. ``n/n`` in that order (or of the area stage
    run on each), into the bytes one machine would have written for the whole input."""
    from ..collection.shards import merge_shards

    n = merge_shards(input_path, list(parts), output_path)
    click.echo(f"merge-shards: {len(parts)} parts -> {n} samples -> {output_path}", err=True)
