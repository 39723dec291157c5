"""``proginstruct show``: print samples for a person (docs/formats.md)."""

from __future__ import annotations

import click
from rich.console import Console

from ..area.stage import LOC_KINDS, SAMPLE_TYPES
from ..export.formats import FORMATS
from ..export.merge import read_samples
from ..report.show import select, show
from .common import user_errors


@click.command(name="show")
@click.argument("path", default="data/final/programming_instruct.jsonl", type=click.Path(dir_okay=False))
@click.option("--source", "sources", multiple=True, help="only this source (repeatable)")
@click.option("--lang", "langs", multiple=True, help="only this language, e.g. python, c++ (repeatable)")
@click.option("--type", "types", multiple=True, type=click.Choice(SAMPLE_TYPES),
              help="only this sample type (repeatable)")
@click.option("--loc", "locs", multiple=True, type=click.Choice(LOC_KINDS), help="only this kind of target area")
@click.option("--id", "ids", multiple=True, help="only the sample with this id (repeatable)")
@click.option("--prompt_version", "prompt_versions", multiple=True,
              help="only samples made with this prompt version (repeatable)")
@click.option("--skip", default=0, show_default=True, help="skip this many matching samples")
@click.option("-n", "--limit", default=3, show_default=True, help="show at most this many samples (0 = all)")
@click.option("--as", "fmt", type=click.Choice(FORMATS), default=None,
              help="show the training conversation in this format instead")
@click.option("--color/--no-color", default=None, help="force colours on or off (default: when a terminal)")
@click.option("--width", default=None, type=int, help="output width in columns (default: the terminal's)")
@user_errors
def command(path: str, sources: tuple[str, ...], langs: tuple[str, ...], types: tuple[str, ...],
            locs: tuple[str, ...], ids: tuple[str, ...], prompt_versions: tuple[str, ...], skip: int,
            limit: int, fmt: str | None,
            color: bool | None, width: int | None) -> None:
    """Print samples of PATH: highlighted snapshots, the history as coloured diffs, the cursor or range
    marked, the instruction, the assistant's edit and the chat."""
    console = Console(force_terminal=color, no_color=color is False, width=width, highlight=False,
                      soft_wrap=False)
    samples = (s for _, s in read_samples(path))
    picked = select(samples, skip=skip, limit=limit or None, sources=sources, langs=langs, types=types,
                    locs=locs, ids=ids, prompt_versions=prompt_versions)
    if show(picked, console, fmt) == 0:
        click.echo("show: no sample matches the filters", err=True)
        raise SystemExit(1)  # like grep: a script can tell "nothing found" from a shown sample
