"""``proginstruct export``: the export stage (SPEC 8): WF, LC and SR conversations."""

from __future__ import annotations

import click

from ..export.formats import FORMATS
from ..export.stage import run_export
from .common import user_errors


@click.command(name="export")
@click.option("--input_path", default="data/final/programming_instruct.jsonl", show_default=True,
              type=click.Path(dir_okay=False), help="the merged dataset (.jsonl, .json or .parquet)")
@click.option("--output_dir", default="data/export", show_default=True, type=click.Path(file_okay=False),
              help="folder for <format>.jsonl")
@click.option("--formats", default=",".join(FORMATS), show_default=True,
              help="comma-separated formats to write (wf, lc, sr)")
@click.option("--metrics_path", default=None, type=click.Path(dir_okay=False),
              help="metrics JSON to write (default: none)")
@user_errors
def command(input_path: str, output_dir: str, formats: str, metrics_path: str | None) -> None:
    """Write the training conversations of every sample (SPEC 8): whole file (WF), location and change
    (LC), search and replace (SR)."""
    fmts = [f.strip() for f in formats.split(",") if f.strip()]
    stats = run_export(input_path, output_dir, fmts, metrics_path=metrics_path)
    written = ", ".join(f"{f} {stats[f'exported.{f}']}" for f in fmts)
    click.echo(f"export: {stats['samples']} samples -> {output_dir} ({written}; "
               f"skipped with special tokens: {stats['skipped.special_token']}; "
               f"with ``` lines, unreadable by fence regexes: {stats['harness_unreadable.fence_in_code']})", err=True)
