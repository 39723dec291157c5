"""A tiny deterministic git repository builder for tests (git CLI, fixed identity and clock)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}


class Repo:
    """Builds a git repository commit by commit with a fixed identity and clock; ``shas[name]`` = commit id."""

    def __init__(self, path: Path):
        self.path = path
        self.shas: dict[str, str] = {}
        self.tick = 0
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        self.tick += 1
        date = f"{1_700_000_000 + 60 * self.tick} +0000"
        env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        out = subprocess.run(["git", *args], cwd=self.path, env=env, check=True, capture_output=True)
        return out.stdout.decode().strip()

    def write(self, rel: str, content: str | bytes) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)

    def commit(self, name: str, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        self.shas[name] = self.git("rev-parse", "HEAD")
        return self.shas[name]
