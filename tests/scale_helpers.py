"""Shared by the scale tests (faults, crash and resume, sharding, workers, batch mode, outages): small commit
inputs, the collect params they run with, model maps and ``llm`` params, the ``collect`` command of a child
process, the simulator's counters, and waiting on a child."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from proginstruct.cli.common import LLM_DEFAULTS
from proginstruct.collection.sample import CollectParams
from proginstruct.records import write_records

MODEL = "proginstruct-simulator"
# every draw made, two samples a record, history half the time: the params of the batch and outage tests
PARAMS = CollectParams(limit_one_block_prob=1.0, max_per_sample=2, use_history_prob=0.5)


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


def param_flags(params: CollectParams) -> list[str]:
    """``params`` as ``collect`` / ``estimate`` flags (``["--alpha", "1.0", ...]``, every field), so a
    command line draws as ``run_collection(params=params)`` does whatever the defaults are."""
    return [x for f in dataclasses.fields(params) for x in (f"--{f.name}", str(getattr(params, f.name)))]


def write_model_map(path: Path, bases: str | list[str], **entry: object) -> Path:
    """A model map at ``path`` of the one model :data:`MODEL` served at ``bases`` (``"simulator"`` =
    in-process) with API key ``"k"`` and the other ``entry`` fields (``guided``, ``batch``, ``rpm`` ...)."""
    path.write_text(json.dumps({MODEL: {"base": bases, "api": "k", **entry}}))
    return path


def llm_params(tmp_path: Path, bases: str | list[str], cache: str, *, entry: dict | None = None, **over) -> dict:
    """``llm`` params for one model served at ``bases`` (``"simulator"`` = in-process): the model map
    ``tmp_path/mm_<cache>.json`` (with the extra ``entry`` fields), the reply cache
    ``tmp_path/<cache>.sqlite``, and ``over``."""
    mm = write_model_map(tmp_path / f"mm_{cache}.json", bases, **(entry or {}))
    return {**LLM_DEFAULTS, "model_map": str(mm), "cache_path": str(tmp_path / f"{cache}.sqlite"), **over}


def batch_llm(tmp_path: Path, base: str, name: str, batch: dict | None = None, *, entry: dict | None = None,
              **over) -> dict:
    """``llm`` params of a batch-mode run (polling every 0.01 s) on one model at ``base`` with the map
    entry's ``"batch"`` and the other ``entry`` fields (:func:`llm_params`)."""
    entry = {**(entry or {}), **({"batch": batch} if batch is not None else {})}
    return llm_params(tmp_path, base, name, entry=entry, **{"mode": "batch", "batch_poll": 0.01, **over})


def collect_argv(inp: Path, out: Path, model_map: Path, cache: Path, *flags: str) -> list[str]:
    """The command line of ``proginstruct collect --data_type commit`` in a child process (this Python)."""
    return [sys.executable, "-c", "from proginstruct.cli import main; main()", "collect", "--data_type", "commit",
            "--input_path", str(inp), "--output_path", str(out), "--model_map", str(model_map), "--cache_path",
            str(cache), *flags]


def server_stats(base_url: str, bodies: bool = False) -> dict:
    """``GET /stats`` of a simulator server given its OpenAI base URL (``.../v1``)."""
    url = base_url[: -len("/v1")] + "/stats" + ("?bodies=1" if bodies else "")
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def count_rows(db_path: Path, sql: str) -> int:
    """The count a ``SELECT COUNT(*) ...`` query gives in the SQLite file at ``db_path``; 0 while the file
    or the table does not exist yet (a child process is still starting)."""
    if not db_path.exists():
        return 0
    with sqlite3.connect(db_path) as db:
        try:
            return db.execute(sql).fetchone()[0]
        except sqlite3.OperationalError:  # table not created yet
            return 0


def wait_for(cond: Callable[[], bool], what: str, timeout: float) -> None:
    """Poll ``cond`` every 0.02 s until it holds; ``AssertionError`` naming ``what`` after ``timeout``
    seconds."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
