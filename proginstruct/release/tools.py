"""Running ``git`` for the release helpers, with one-line errors.

DVC itself runs in this process: see :mod:`.dvcops`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..errors import UserError


def run(cmd: list[str], cwd: str | os.PathLike, what: str | None = None) -> str:
    """Run ``cmd`` in ``cwd`` and return its stdout without trailing newlines (leading spaces kept:
    ``git status --porcelain`` starts lines with one).

    Raises :class:`UserError` ``"<what> failed in <cwd>: <last stderr line>"`` on a non-zero exit,
    or when the program is not installed.
    """
    label = what or " ".join(cmd[:3])
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise UserError(f"{label}: '{cmd[0]}' is not installed; install it and retry") from None
    if out.returncode != 0:
        lines = [ln.strip() for ln in (out.stderr or out.stdout).splitlines() if ln.strip()]
        detail = lines[-1] if lines else ""
        raise UserError(f"{label} failed in {cwd}: {detail or f'exit status {out.returncode}'}")
    return out.stdout.rstrip("\n")


def git(root: str | os.PathLike, *args: str) -> str:
    """``git <args>`` in ``root``; stdout. Raises :class:`UserError` on failure."""
    return run(["git", *args], root, what=f"git {args[0]}")


def repo_root(path: str | os.PathLike = ".") -> Path:
    """The top folder of the git repository holding ``path``, which must also be a DVC project.

    Raises :class:`UserError` when ``path`` is not inside a git repository or has no ``.dvc`` folder.
    """
    try:
        top = Path(git(path, "rev-parse", "--show-toplevel"))
    except UserError:
        raise UserError(f"{Path(path).resolve()}: not inside a git repository; run this from the recipe's "
                        "clone") from None
    if not (top / ".dvc").is_dir():
        raise UserError(f"{top}: not a DVC project (no .dvc folder); run 'dvc init' or use the recipe's clone")
    return top
