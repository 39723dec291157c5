"""Shared by the scale tests (faults, crash and resume, sharding, workers): small commit inputs, the simulator's
counters, model maps."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from proginstruct.cli.common import LLM_DEFAULTS
from proginstruct.records import write_records

MODEL = "proginstruct-simulator"


def commit_records(n: int) -> list[dict]:
    """``n`` distinct commit records (several edit blocks each, a subject, an ``id``)."""
    recs = []
    for i in range(n):
        a = "\n".join(f"def f{j}_{i}(x):\n    return x + {j}\n" for j in range(6))
        b = (a.replace("x + 1", f"x * {i + 2}").replace("x + 4", f"x - {i}").replace(f"def f5_{i}", f"def g5_{i}")
             + f"\n# rev {i}\n")
        recs.append({"id": f"c{i:04d}:m{i % 5}.py", "code1": a, "code2": b, "lang": "python",
                     "git": f"Tune helpers #{i}"})
    return recs


def write_inputs(path: Path, n: int) -> Path:
    write_records(path, commit_records(n))
    return path


def llm_params(tmp_path: Path, bases: str | list[str], cache: str, **over) -> dict:
    """``llm`` params for one model served at ``bases`` (``"simulator"`` = in-process)."""
    mm = tmp_path / f"mm_{cache}.json"
    mm.write_text(json.dumps({MODEL: {"base": bases, "api": "k"}}))
    return {**LLM_DEFAULTS, "model_map": str(mm), "cache_path": str(tmp_path / f"{cache}.sqlite"), **over}


def server_stats(base_url: str, bodies: bool = False) -> dict:
    """``GET /stats`` of a simulator server given its OpenAI base URL (``.../v1``)."""
    url = base_url[: -len("/v1")] + "/stats" + ("?bodies=1" if bodies else "")
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())
