"""``proginstruct card``, ``proginstruct release`` and ``proginstruct remote-s3`` (docs/datasets.md).

Thin wrappers over :mod:`proginstruct.release`; each works on the git + DVC project holding the current
folder. ``make release VERSION=x.y.z`` runs ``proginstruct release x.y.z``.
"""

from __future__ import annotations

import click

from ..release.card import CARD_PATH, write_card
from ..release.publish import release as run_release
from ..release.remotes import configure_s3
from ..release.tools import repo_root
from .common import user_errors


@click.command()
@click.option("--tag", default="unreleased", show_default=True, help="release label shown on the card")
@click.option("--output", default=CARD_PATH, show_default=True, help="card path, relative to the project")
@click.option("--date", default=None, help="YYYY-MM-DD on the card (default: today, UTC)")
@user_errors
def card(tag: str, output: str, date: str | None) -> None:
    """Write the dataset card (files, counts, models, params, inputs and licenses) without releasing."""
    path = write_card(repo_root(), tag, output, date)
    click.echo(f"wrote {path}")


@click.command()
@click.argument("version")
@click.option("--remote", default=None, help="DVC remote to push to (default: the project's default remote)")
@click.option("--push/--no-push", default=True, show_default=True, help="push the data before tagging")
@user_errors
def release(version: str, remote: str | None, push: bool) -> None:
    """Release VERSION (x.y.z): refuse a dirty tree or a stale dvc.lock, push the data, commit the dataset
    card and tag the commit vVERSION (annotated, naming the counts)."""
    root = repo_root()
    r = run_release(root, version, remote=remote, push=push)
    click.echo(f"{r.tag}: {r.message}")
    click.echo(f"  card {r.card.relative_to(root)} committed as {r.commit[:12]} (recipe commit {r.parent[:12]})")
    if r.pushed is None:
        click.echo("  data NOT pushed (--no-push): run 'make push' before sharing the tag")
    else:
        where = f"remote '{remote}'" if remote else "the default remote"
        click.echo(f"  data pushed to {where} ({r.pushed} new files)")
    click.echo(f"next: git push origin HEAD {r.tag}   (share the recipe and the tag)")


@click.command("remote-s3")
@click.option("--bucket", envvar="PROGINSTRUCT_S3_BUCKET", required=True, show_envvar=True,
              help="bucket name (bare, no s3://)")
@click.option("--prefix", envvar="PROGINSTRUCT_S3_PREFIX", default="proginstruct", show_default=True,
              show_envvar=True, help="folder inside the bucket")
@click.option("--endpoint-url", envvar="PROGINSTRUCT_S3_ENDPOINT_URL", default=None, show_envvar=True,
              help="S3-compatible server (MinIO, Ceph, R2 ...); omit for AWS")
@click.option("--name", default="s3", show_default=True, help="remote name")
@click.option("--default/--no-default", default=True, show_default=True,
              help="make it this clone's default remote (push, pull, release)")
@user_errors
def remote_s3(bucket: str, prefix: str, endpoint_url: str | None, name: str, default: bool) -> None:
    """Add an S3 remote to .dvc/config.local (untracked): bucket and endpoint from flags or the
    environment; credentials stay in the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)."""
    url = configure_s3(repo_root(), bucket, prefix, endpoint_url, name, default)
    where = f" at {endpoint_url}" if endpoint_url else ""
    click.echo(f"remote '{name}' -> {url}{where} in .dvc/config.local" + (" (default)" if default else ""))
