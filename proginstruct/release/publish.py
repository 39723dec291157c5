"""``make release VERSION=x.y.z`` (docs/datasets.md): tag the recipe and its data together.

Steps, each refusing with a one-line :class:`UserError` before anything changes:

1. ``VERSION`` is ``MAJOR.MINOR.PATCH`` (optionally ``-suffix``) and the tag ``vVERSION`` is new;
2. the git tree is clean (no modified, staged or untracked files) and ``dvc.lock`` is committed;
3. ``dvc status`` is clean: ``dvc.lock`` matches the code, params and data in the workspace;
4. the data goes to the remote (``dvc push``, the default remote unless ``remote`` is given);
5. the dataset card is written, committed alone, and the commit tagged ``vVERSION`` (annotated, the
   message naming the counts).

Pushing before tagging means a failed push leaves no tag that points at data nobody can pull.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..records import atomic_write_bytes
from . import dvcops
from .card import CARD_PATH, gather, render
from .lock import LOCK, read_lock
from .tools import git

_VERSION = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?")


@dataclass(frozen=True)
class Release:
    """What :func:`release` did: the ``tag``, the tagged ``commit`` (the card's), the recipe commit it
    was made from (``parent``), the ``card`` path, the tag ``message`` and ``pushed``: files sent to the
    remote (0 when it had them all), ``None`` when the push was skipped."""

    tag: str
    commit: str
    parent: str
    card: Path
    message: str
    pushed: int | None


def check_version(root: str | os.PathLike, version: str) -> str:
    """Validate ``version`` and return its tag ``v<version>``.

    Raises :class:`UserError` for a malformed version or a tag that already exists.
    """
    version = version.removeprefix("v")
    if not _VERSION.fullmatch(version):
        raise UserError(f"VERSION={version!r}: expected MAJOR.MINOR.PATCH such as 1.0.0 (optionally -rc.1); "
                        "run 'make release VERSION=x.y.z'")
    tag = f"v{version}"
    if git(root, "tag", "--list", tag):
        raise UserError(f"tag {tag} already exists; pick a new VERSION (releases are never moved)")
    return tag


def check_clean_tree(root: str | os.PathLike, card_path: str = CARD_PATH) -> None:
    """Refuse uncommitted work: the tag must name exactly what is in the workspace.

    Raises :class:`UserError` listing up to five paths when ``git status`` shows modified, staged or
    untracked (not ignored) files, or when ``dvc.lock`` is not committed. The card itself may differ
    (``make card`` previews it there; the release rewrites and commits it).
    """
    status = git(root, "status", "--porcelain", "--untracked-files=normal")
    paths = [line[3:] for line in status.splitlines() if line[3:] != Path(card_path).as_posix()]
    if paths:
        more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
        raise UserError(f"{root}: the git tree is not clean ({', '.join(paths[:5])}{more}); commit or remove "
                        "these changes before 'make release'")
    try:
        git(root, "ls-files", "--error-unmatch", LOCK)
    except UserError:
        raise UserError(f"{Path(root) / LOCK}: not committed; run 'dvc repro' and commit dvc.lock before "
                        "'make release'") from None


def check_lock_current(root: str | os.PathLike) -> None:
    """Refuse a ``dvc.lock`` that does not describe the workspace (``dvc status`` not clean).

    Raises :class:`UserError` naming up to five changed stages: code, params or data changed since the
    last ``dvc repro``, or outputs missing (a fresh clone: ``dvc pull``).
    """
    changes = dvcops.status(root)
    if changes:
        stages = sorted(changes)
        more = f" and {len(stages) - 5} more" if len(stages) > 5 else ""
        raise UserError(f"{Path(root) / LOCK}: out of date for {', '.join(stages[:5])}{more} ('dvc status' is not "
                        "clean); run 'dvc repro' (or 'dvc pull'), commit dvc.lock, then release")


def check_card_path(root: str | os.PathLike, card_path: str) -> None:
    """Refuse a card path that DVC tracks or hashes: inside a stage's output or a folder dependency
    (writing it there would make ``dvc status`` dirty right after the release).

    Raises :class:`UserError` naming the entry and the fix.
    """
    lock = read_lock(root)
    card = Path(card_path).as_posix()
    for e in [*lock.outs(), *lock.deps()]:
        path = e.path.rstrip("/")
        if card == path or card.startswith(path + "/"):
            raise UserError(f"card path {card_path}: inside '{path}', which stage {e.stage} tracks in dvc.lock; "
                            "choose another --card path (git-tracked, outside DVC outputs and folder deps)")


def tag_message(tag: str, counts: dict[str, int]) -> str:
    """The annotated tag's message: ``"proginstruct dataset v1.0.0: 191 samples (aiprogrammer 31, ...)"``
    with sources in name order."""
    total = sum(counts.values())
    parts = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
    return f"proginstruct dataset {tag}: {total} samples ({parts or 'no sources'}); data pinned by dvc.lock"


def release(root: str | os.PathLike, version: str, remote: str | None = None, push: bool = True,
            card_path: str = CARD_PATH, date: str | None = None) -> Release:
    """Run the release steps of the module docstring in ``root`` (a git + DVC project).

    ``remote`` names the DVC remote to push to (default: the project's default remote); ``push=False``
    skips the push (an offline release: run ``make push`` later). ``date`` (``YYYY-MM-DD``) defaults to
    today in UTC. Raises :class:`UserError` when a check fails or git/DVC fail; the tree is unchanged
    unless the card was already committed (then the error names the step).
    """
    root = Path(root)
    tag = check_version(root, version)
    check_clean_tree(root, card_path)
    check_lock_current(root)
    check_card_path(root, card_path)
    parent = git(root, "rev-parse", "HEAD")
    pushed = dvcops.push(root, remote) if push else None
    facts = gather(root, tag, date)
    card = root / card_path
    atomic_write_bytes(card, render(facts).encode("utf-8"))
    message = tag_message(tag, {s.name: s.samples for s in facts.sources})
    git(root, "add", "--", card_path)
    git(root, "commit", "-q", "-m", f"Dataset card for {tag}", "--", card_path)
    git(root, "tag", "-a", tag, "-m", message)
    return Release(tag=tag, commit=git(root, "rev-parse", "HEAD"), parent=parent, card=card, message=message,
                   pushed=pushed)
