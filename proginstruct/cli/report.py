"""``proginstruct report``: the report stage: figures JSON, Markdown report and plots."""

from __future__ import annotations

import click

from ..report.stage import run_report
from .common import user_errors


@click.command(name="report")
@click.option("--input_path", default="data/final/programming_instruct.jsonl", show_default=True,
              type=click.Path(dir_okay=False), help="the merged dataset (.jsonl, .json or .parquet)")
@click.option("--metrics_path", default="metrics/report.json", show_default=True,
              type=click.Path(dir_okay=False), help="the figures as metrics JSON ('' = none)")
@click.option("--report_dir", default="reports", show_default=True, type=click.Path(file_okay=False),
              help="folder for dataset.md and plots/")
@click.option("--metrics_dir", default="metrics", show_default=True, type=click.Path(file_okay=False),
              help="where the stages' metrics are (<source>.json, collect_<source>.json) for the role figures")
@click.option("--png/--no-png", default=True, show_default=True, help="draw the PNG plots (matplotlib)")
@user_errors
def command(input_path: str, metrics_path: str, report_dir: str, metrics_dir: str, png: bool) -> None:
    """Report what the dataset contains, per source and overall, beside the paper's figures."""
    report = run_report(input_path, metrics_path or None, report_dir, metrics_dir=metrics_dir, png=png)
    o = report["overall"]
    click.echo(f"report: {o['samples']} samples, {o['languages']} languages -> {metrics_path or '(no json)'}, "
               f"{report_dir}/dataset.md", err=True)
