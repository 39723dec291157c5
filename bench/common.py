"""What the collection benchmarks share (``bench/rpm.py``, ``bench/outage.py``, ``bench/scale.py``): the
default commit input, the simulated model's model map, the seed-style collection as a child process run from
any checkout, and a results file holding one run per label.

Imported by the benchmark scripts as ``common`` (``python bench/<name>.py`` puts ``bench/`` first on the path);
it adds nothing to ``sys.path``, so a child started with ``PYTHONPATH=<checkout>`` imports that checkout's
``proginstruct``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = "proginstruct-simulator"


def default_commit_records(work: Path, n: int) -> Path:
    """The first ``n`` records of the default commit input (``prepare_commit`` with this repository's
    params.yaml) as ``work/commit_<n>.jsonl``; the prepared file is reused when present. Exits with a
    message when the input has fewer than ``n`` records."""
    full = work / "commit_default.jsonl"
    if not full.exists():
        subprocess.run([sys.executable, "stages/prepare_commit.py", "--output_path", str(full)], cwd=REPO,
                       check=True, stderr=subprocess.DEVNULL)
    lines = full.read_bytes().splitlines(keepends=True)
    if len(lines) < n:
        raise SystemExit(f"the default commit input has {len(lines)} records, fewer than --records {n}")
    out = work / f"commit_{n}.jsonl"
    out.write_bytes(b"".join(lines[:n]))
    return out


def write_model_map(path: Path, base: str, **entry: object) -> Path:
    """A model map at ``path`` of the one model :data:`MODEL` at ``base`` (API key ``"k"``) with the other
    ``entry`` fields (``rpm`` ...)."""
    path.write_text(json.dumps({MODEL: {"base": base, "api": "k", **entry}}))
    return path


def collection_child(code: Path, inp: Path, out: Path, model_map: Path, cache: Path,
                     extra: list[str]) -> tuple[list[str], dict[str, str]]:
    """``(argv, env)`` of the seed-style collection (``stages/data_collection.py --data_type commit`` of
    checkout ``code``, this repository's params.yaml, metrics in ``<out stem>.metrics.json``) and the
    ``extra`` flags; run it with ``cwd=code``."""
    argv = [sys.executable, str(code / "stages" / "data_collection.py"), "--data_type", "commit", "--input_path",
            str(inp), "--output_path", str(out), "--params", str(REPO / "params.yaml"), "--model_map",
            str(model_map), "--cache_path", str(cache), "--metrics_path", str(out.with_suffix(".metrics.json")),
            *extra]
    return argv, {**os.environ, "PYTHONPATH": str(code)}


def store_labelled(path: Path, label: str, res: dict) -> None:
    """Put ``res`` under ``label`` in the JSON object at ``path`` (created when missing), keeping the
    other labels' results (``before`` and ``after`` runs of one benchmark share a file)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data[label] = res
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"-> {path}")
