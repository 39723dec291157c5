"""DVC operations of the release helpers, through DVC's ``Repo`` in this process.

The same calls ``dvc status``, ``dvc push`` and ``dvc remote add/modify`` make, without starting a
new interpreter each time (DVC takes about a second to import). Every :class:`dvc.exceptions.DvcException`
becomes a one-line :class:`UserError`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from ..errors import UserError


@contextlib.contextmanager
def open_repo(root: str | os.PathLike) -> Iterator[Any]:
    """Open the DVC project at ``root`` (a :class:`dvc.repo.Repo`), closing it afterwards.

    The block runs with ``root`` as the working folder, as the ``dvc`` command would: DVC names stages
    relative to it (``prepare``, not ``../proj/dvc.yaml:prepare``) and resolves default targets there.
    Raises :class:`UserError` ``"dvc in <root>: <DVC's message>"`` for any DVC error inside the block.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with contextlib.chdir(root), Repo(os.fspath(root)) as repo:
            yield repo
    except DvcException as e:
        message = " ".join(str(e).split())
        raise UserError(f"dvc in {root}: {message}") from None


def status(root: str | os.PathLike) -> dict[str, Any]:
    """``dvc status`` as a dict: ``{}`` when ``dvc.lock`` matches the workspace, else stage -> changes."""
    with open_repo(root) as repo:
        return dict(repo.status())


def push(root: str | os.PathLike, remote: str | None = None) -> int:
    """``dvc push`` of every output in ``dvc.lock`` to ``remote`` (default: the project's default remote);
    returns the number of files transferred (0 when the remote already had them all)."""
    with open_repo(root) as repo:
        return int(repo.push(remote=remote) or 0)


def set_remote(root: str | os.PathLike, name: str, options: dict[str, str], default: bool,
               level: str = "local") -> None:
    """Like ``dvc remote add --force [--default] --<level> name url`` then ``dvc remote modify`` per option:
    remote ``name`` gets exactly ``options`` (``url`` required) in the config file of ``level``
    (``local`` = ``.dvc/config.local``, untracked; ``repo`` = ``.dvc/config``)."""
    with open_repo(root) as repo, repo.config.edit(level) as conf:
        conf["remote"][name.lower()] = dict(options)
        if default:
            conf["core"]["remote"] = name.lower()
