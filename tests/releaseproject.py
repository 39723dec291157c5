"""A tiny git + DVC project for the remote and release tests, built in a temporary folder.

Three stages in the recipe's shape: ``prepare`` -> ``final@commit`` / ``final@submit`` (per-source JSONL
samples + ``metrics/collect_<source>.json``) -> ``bundle`` (a folder output with a binary file). The real
``.dvc/config`` is copied in, so the default remote is the documented ``../proginstruct-dvc-storage``.
Nothing touches the real repository, the user's git config or DVC's global/site folders: see :func:`isolated_env`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from dvc.repo import Repo

from .gitrepo import GIT_ENV

ROOT = Path(__file__).resolve().parents[1]

MAKE_DATA = '''\
import json, sys, yaml
from pathlib import Path
params = yaml.safe_load(open("params.yaml"))
step = sys.argv[1]
if step == "prepare":
    n = params["make"]["n"]
    Path("data/prepared").mkdir(parents=True, exist_ok=True)
    with open("data/prepared/items.jsonl", "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": i, "code": f"x = {i}\\\\n"}) + "\\n")
elif step == "final":
    source = sys.argv[2]
    items = [json.loads(line) for line in open("data/prepared/items.jsonl")]
    note = open(f"inputs/{source}.txt").read().strip()
    Path("data/final").mkdir(parents=True, exist_ok=True)
    Path("metrics").mkdir(exist_ok=True)
    with open(f"data/final/{source}.jsonl", "w") as fh:
        for it in items:
            fh.write(json.dumps({"source": source, "id": f"{source}:{it['id']}", "note": note,
                                 "model": "proginstruct-simulator" if it["id"] % 2 else "tiny-coder",
                                 "seed": params["seed"]}) + "\\n")
    json.dump({"inputs": len(items), "samples": len(items), "sample_types": {"C": len(items)}},
              open(f"metrics/collect_{source}.json", "w"))
elif step == "bundle":
    out = Path("data/export")
    out.mkdir(parents=True, exist_ok=True)
    (out / "all.jsonl").write_bytes(b"".join(Path(f"data/final/{s}.jsonl").read_bytes() for s in ("commit", "submit")))
    (out / "blob.bin").write_bytes(bytes(range(256)) * (1 + params["make"]["n"]))
'''

DVC_YAML = {
    "stages": {
        "prepare": {"cmd": "python make_data.py prepare", "deps": ["make_data.py"], "params": ["make"],
                    "outs": ["data/prepared/items.jsonl"]},
        "final": {"foreach": ["commit", "submit"], "do": {
            "cmd": "python make_data.py final ${item}",
            "deps": ["make_data.py", "data/prepared/items.jsonl", "inputs/${item}.txt"],
            "params": ["seed"],
            "outs": ["data/final/${item}.jsonl"],
            "metrics": [{"metrics/collect_${item}.json": {"cache": False}}]}},
        "bundle": {"cmd": "python make_data.py bundle",
                   "deps": ["make_data.py", "data/final/commit.jsonl", "data/final/submit.jsonl"],
                   "params": ["make"], "outs": ["data/export"]},
    }
}


def isolated_env(home: Path) -> dict[str, str]:
    """Environment variables for git and DVC in tests: fixed identity, no global/system git config,
    DVC's global, system and site folders under ``home``, no analytics, this interpreter first on PATH."""
    for sub in ("dvc-global", "dvc-system", "dvc-site"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return {
        **GIT_ENV,
        "DVC_GLOBAL_CONFIG_DIR": str(home / "dvc-global"), "DVC_SYSTEM_CONFIG_DIR": str(home / "dvc-system"),
        "DVC_SITE_CACHE_DIR": str(home / "dvc-site"), "DVC_NO_ANALYTICS": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def run(cwd: Path, *args: str) -> str:
    """Run a command (``"dvc"`` means this interpreter's DVC) in ``cwd`` with the current environment; stdout.
    Fails the test with the command's stderr when it exits non-zero."""
    cmd = [sys.executable, "-m", "dvc", *args[1:]] if args[0] == "dvc" else list(args)
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, f"{' '.join(args)} in {cwd}: {out.stderr or out.stdout}"
    return out.stdout.strip()


def build(path: Path, n: int = 3) -> Path:
    """Create the project at ``path`` (git init, dvc init, the real .dvc/config), run ``dvc repro`` and
    commit everything. Call inside :func:`isolated_env`. Returns ``path``."""
    path.mkdir(parents=True)
    run(path, "git", "init", "-q", "-b", "main")
    Repo.init(str(path)).close()  # in process: the CLI costs a second of imports per call
    shutil.copy(ROOT / ".dvc" / "config", path / ".dvc" / "config")
    (path / "make_data.py").write_text(MAKE_DATA)
    (path / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    (path / "params.yaml").write_text(yaml.safe_dump({"seed": 7, "make": {"n": n}}))
    (path / "inputs").mkdir()
    for source in ("commit", "submit"):
        (path / "inputs" / f"{source}.txt").write_text(f"{source} input\n")
    (path / "model_map.json").write_text('{"tiny-coder": {"base": "http://127.0.0.1:1/v1", "api": "sk-SECRET"}}')
    repro(path)
    run(path, "git", "add", "-A")
    run(path, "git", "commit", "-q", "-m", "Recipe")
    return path


def repro(path: Path) -> None:
    """``dvc repro`` in process from ``path`` (stage commands still run as subprocesses)."""
    with contextlib.chdir(path), Repo(str(path)) as repo:
        repo.reproduce()


def outputs(root: Path) -> dict[str, bytes]:
    """Every file of every output ``dvc.lock`` lists (folders expanded), relative path -> bytes."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    files: dict[str, bytes] = {}
    for stage in lock["stages"].values():
        for out in stage.get("outs") or []:
            p = root / out["path"]
            for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
                if f.is_file():
                    files[f.relative_to(root).as_posix()] = f.read_bytes()
    return files
