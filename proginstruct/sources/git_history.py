"""Reading a local git repository for the commit source (SPEC 1.1): first-parent walk, per-commit file changes.

This module knows git, not the pipeline's limits: it opens a repository, resolves a revision, walks
first-parent history and lists the file-level changes of one commit against its first parent. The limits
(size, language, per-language cap, ...) are applied by :mod:`proginstruct.sources.commit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import DeltaStatus, DiffFind

from ..errors import UserError
from ..stats import Stats

BINARY_SNIFF_BYTES = 8000  # SPEC 1.1: a NUL byte in the first 8000 bytes marks a binary file (as git does)

# regular files only: symlinks (blob = link target) and submodules (gitlinks: a commit id, not a blob) are not text
_FILE_MODES = frozenset({pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE})


@dataclass(frozen=True, slots=True)
class FileChange:
    """One modified (or renamed) regular file in a commit, compared with the commit's first parent.

    ``old_path``/``new_path`` are repository-relative POSIX paths (equal unless renamed);
    ``old_id``/``new_id`` are the blob ids (equal for a mode-only change or a pure rename).
    """

    old_path: str
    new_path: str
    old_id: pygit2.Oid
    new_id: pygit2.Oid


def open_repository(path: str) -> pygit2.Repository:
    """Open the git repository at ``path`` (a work tree or a bare repository).

    Raises :class:`UserError` when the path is missing or not a git repository.
    """
    if not Path(path).exists():
        raise UserError(f"{path}: repository path not found; set prepare_commit.repo in params.yaml or --repo")
    try:
        return pygit2.Repository(str(path))
    except pygit2.GitError:
        raise UserError(f"{path} is not a git repository; set prepare_commit.repo in params.yaml or --repo") from None


def resolve_commit(repo: pygit2.Repository, rev: str, repo_label: str) -> pygit2.Commit:
    """The commit named by ``rev`` (anything ``git rev-parse`` accepts: sha, tag, branch, ``HEAD~3``).

    Annotated tags are peeled to their commit. Raises :class:`UserError` naming ``rev`` and ``repo_label``
    when the revision is unknown (e.g. missing from a shallow clone) or does not name a commit.
    """
    try:
        obj = repo.revparse_single(rev)
    except (KeyError, ValueError, pygit2.GitError):
        raise UserError(
            f"revision {rev} not found in {repo_label}; set prepare_commit.rev in params.yaml or --rev "
            f"to a commit of that repository (a shallow clone may lack it: git fetch --unshallow)"
        ) from None
    try:
        return obj.peel(pygit2.Commit)
    except (ValueError, pygit2.GitError):
        raise UserError(
            f"revision {rev} in {repo_label} is a {obj.type_str}, not a commit; "
            f"set prepare_commit.rev in params.yaml or --rev to a commit"
        ) from None


def walk_first_parent(repo: pygit2.Repository, start: pygit2.Commit, max_commits: int = 0) -> Iterator[pygit2.Commit]:
    """Yield ``start`` and its first-parent ancestors, newest first, every commit (merges included).

    Stops after ``max_commits`` commits (0 = no limit), at a root commit, or where the first parent is
    not in the object database (the boundary of a shallow clone).
    """
    commit: pygit2.Commit | None = start
    n = 0
    while commit is not None and (max_commits <= 0 or n < max_commits):
        yield commit
        n += 1
        parents = commit.parent_ids
        commit = repo.get(parents[0]) if parents else None


def subject(commit: pygit2.Commit) -> str:
    """The commit subject: the first non-blank line of the message, stripped (SPEC 1.1 ``git`` field).

    The raw message is decoded with the commit's declared encoding (UTF-8 when none), replacing bad bytes.
    """
    encoding = commit.message_encoding or "utf-8"
    try:
        message = commit.raw_message.decode(encoding, errors="replace")
    except LookupError:  # unknown encoding name in the commit header
        message = commit.raw_message.decode("utf-8", errors="replace")
    return message.strip().split("\n", 1)[0].strip()


def modified_files(parent: pygit2.Commit, commit: pygit2.Commit, stats: Stats) -> list[FileChange]:
    """The regular files that ``commit`` modifies relative to ``parent`` (its first parent), sorted by new path.

    Renames are detected (``find_similar`` with ``FIND_RENAMES`` and the default 50% similarity, not the
    user's git config) and followed: the change pairs the old blob at the old path with the new blob at
    the new path. Counts ``files.seen`` for every changed path and ``skipped.added``,
    ``skipped.deleted``, ``skipped.not_file`` (symlinks, submodules, type changes) for those dropped.
    """
    diff = parent.tree.diff_to_tree(commit.tree)
    diff.find_similar(flags=DiffFind.FIND_RENAMES)
    changes = []
    for delta in diff.deltas:
        stats.add("files.seen")
        status = delta.status
        if status == DeltaStatus.ADDED:
            stats.add("skipped.added")
        elif status == DeltaStatus.DELETED:
            stats.add("skipped.deleted")
        elif (
            status in (DeltaStatus.MODIFIED, DeltaStatus.RENAMED)
            and delta.old_file.mode in _FILE_MODES
            and delta.new_file.mode in _FILE_MODES
        ):
            changes.append(FileChange(delta.old_file.path, delta.new_file.path, delta.old_file.id, delta.new_file.id))
        else:
            stats.add("skipped.not_file")
    changes.sort(key=lambda c: c.new_path)
    return changes


def blob_bytes(repo: pygit2.Repository, oid: pygit2.Oid) -> bytes:
    """The raw content of blob ``oid``."""
    return repo[oid].data


def decode_text(data: bytes) -> tuple[str | None, str]:
    """Decode file content as UTF-8 text (SPEC 1.1).

    Returns ``(text, "")``, or ``(None, reason)`` with reason ``"binary"`` (a NUL byte in the first
    8000 bytes) or ``"undecodable"`` (not valid UTF-8). A UTF-8 byte-order mark is kept as ``"\\ufeff"``.
    """
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return None, "binary"
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError:
        return None, "undecodable"
