"""The ``proginstruct`` command: one subcommand per stage (thin wrappers over plain functions)."""

from __future__ import annotations

import importlib

import click

# subcommand name -> "module:attribute" (imported lazily so ``--help`` stays fast)
COMMANDS = {
    "prepare-commit": "proginstruct.cli.prepare_commit:command",
    "aiprogrammer": "proginstruct.cli.aiprogrammer:command",
    "prepare-submit": "proginstruct.cli.prepare_submit:command",
    "collect": "proginstruct.cli.collect:command",
    "estimate": "proginstruct.cli.estimate:command",
    "merge-shards": "proginstruct.cli.merge_shards:command",
    "area": "proginstruct.cli.area:command",
    "simulate": "proginstruct.cli.simulate:command",
    "merge": "proginstruct.cli.merge:command",
    "quality": "proginstruct.cli.quality:command",
    "export": "proginstruct.cli.export:command",
    "report": "proginstruct.cli.report:command",
    "show": "proginstruct.cli.show:command",
    "card": "proginstruct.cli.release:card",
    "release": "proginstruct.cli.release:release",
    "remote-s3": "proginstruct.cli.release:remote_s3",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if _importable(n))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _importable(name):
            return None
        mod, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(mod), attr)


def _importable(name: str) -> bool:
    mod = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(mod) is not None


@click.group(cls=LazyGroup)
@click.version_option(package_name="proginstruct")
def main() -> None:
    """Programming-Instruct: synthesize code-editing training samples with LLMs (see README.md)."""
