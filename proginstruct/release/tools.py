"""Running ``git`` and ``dvc`` for the release helpers (issue 6), with one-line errors.

DVC runs as ``python -m dvc`` with the interpreter running proginstruct, so the ``dvc`` of this
environment (and its plugins, such as ``dvc-s3``) is used even when ``.venv/bin`` is not on ``PATH``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..errors import UserError


def run(cmd: list[str], cwd: str | os.PathLike, what: str | None = None) -> str:
    """Run ``cmd`` in ``cwd`` and return its stdout (stripped).

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
        detail = next((ln for ln in reversed(lines) if ln.startswith("ERROR")), lines[-1] if lines else "")
        raise UserError(f"{label} failed in {cwd}: {detail or f'exit status {out.returncode}'}")
    return out.stdout.strip()


def git(root: str | os.PathLike, *args: str) -> str:
    """``git <args>`` in ``root``; stdout. Raises :class:`UserError` on failure."""
    return run(["git", *args], root, what=f"git {args[0]}")


def dvc(root: str | os.PathLike, *args: str) -> str:
    """``python -m dvc <args>`` in ``root`` (this environment's DVC); stdout. Raises :class:`UserError`."""
    return run([sys.executable, "-m", "dvc", *args], root, what=f"dvc {args[0]}")


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
