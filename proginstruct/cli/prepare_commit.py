"""``proginstruct prepare-commit``: git history and/or CommitPackFT-style files -> commit records (SPEC 1.1)."""

from __future__ import annotations

import click

from ..records import atomic_write_json
from ..sources.commit import DEFAULTS, prepare_commit, split_list, summary
from .common import load_params, param_options, params_option, resolve, user_errors


@click.command(name="prepare-commit")
@click.option("--output_path", default="data/prepared/commit.jsonl", show_default=True,
              help="commit records (.jsonl, .json or .parquet), written atomically")
@click.option("--metrics_path", default=None, help="write the counters as JSON here (default: none)")
@params_option
@param_options(DEFAULTS)
@user_errors
def command(output_path: str, metrics_path: str | None, params_path: str, **flags: object) -> None:
    """Mine first-parent git history (one record per modified text file) and read commit dataset files
    into {"code1", "code2", "lang", "git"} records, with size / language / per-language limits."""
    params = resolve(DEFAULTS, load_params(params_path, "prepare_commit"), flags, "prepare_commit")
    notes: list[str] = []
    stats = prepare_commit(
        repo=str(params["repo"] or ""),
        rev=str(params["rev"]),
        input_paths=split_list(params["input_paths"], "input_paths"),
        output_path=output_path,
        params=params,
        progress=True,
        notes=notes,
    )
    if metrics_path:
        atomic_write_json(metrics_path, stats.nested())
    for note in notes:
        click.echo(f"prepare-commit: {note}", err=True)
    click.echo(f"prepare-commit: {summary(stats)} -> {output_path}", err=True)
