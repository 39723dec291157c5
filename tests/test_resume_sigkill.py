"""Crash and resume (docs/models-and-scale.md): a collection killed with SIGKILL midway, started again, ends with the bytes of an uninterrupted
run and re-sends no request whose reply had been received (counted by the server)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from proginstruct.collection.collect import run_collection
from proginstruct.collection.sample import CollectParams
from proginstruct.simulator.server import serve_in_thread

from .scale_helpers import MODEL, llm_params, server_stats, write_inputs

PARAMS = CollectParams(limit_one_block_prob=1.0, max_per_sample=2)
N_RECORDS = 30


def _cached_rows(path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]
        except sqlite3.OperationalError:  # table not created yet
            return 0


def _wait(cond, what: str, timeout: float = 30.0) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_sigkill_midway_then_resume(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", N_RECORDS)
    ref = tmp_path / "ref.jsonl"
    s_ref = run_collection("commit", str(inp), str(ref), params=PARAMS, seed=3,
                           llm_params=llm_params(tmp_path, "simulator", "ref"))
    hold = s_ref["requests.sent"] // 2

    # run 1, in a child process: the server answers `hold` requests, then holds every later one
    url_a, stop_a = serve_in_thread(hold_after=hold)
    out = tmp_path / "out.jsonl"
    cache = tmp_path / "run.sqlite"
    mm = tmp_path / "mm.json"
    mm.write_text(json.dumps({MODEL: {"base": url_a, "api": "k"}}))
    cmd = [sys.executable, "-c", "from proginstruct.cli import main; main()", "collect", "--data_type", "commit",
           "--input_path", str(inp), "--output_path", str(out), "--model_map", str(mm), "--cache_path", str(cache),
           "--num_proc", "4", "--window", "6", "--limit_one_block_prob", "1.0", "--max_per_sample", "2",
           "--seed", "3"]
    child = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: server_stats(url_a)["replied"] == hold and server_stats(url_a)["held"] > 0,
              "the server to answer its share and hold the rest")
        _wait(lambda: _cached_rows(cache) == hold, "the child to store every reply it received")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        replied_a = server_stats(url_a, bodies=True)["bodies"]["replied"]
    finally:
        if child.poll() is None:
            child.kill()
        stop_a()
    assert child.returncode == -signal.SIGKILL
    assert not out.exists() and len(replied_a) == hold
    done = len(out.with_name("out.jsonl.partial.idx").read_bytes().splitlines()) - 1
    assert 0 < done < N_RECORDS  # killed midway, with records written and records pending

    # run 2, in process, against another server (another endpoint of the same model)
    url_b, stop_b = serve_in_thread()
    try:
        mm.write_text(json.dumps({MODEL: {"base": url_b, "api": "k"}}))
        llm = llm_params(tmp_path, url_b, "unused", model_map=str(mm), cache_path=str(cache), num_proc=4, window=6)
        s = run_collection("commit", str(inp), str(out), params=PARAMS, seed=3, llm_params=llm)
        sent_b = server_stats(url_b, bodies=True)["bodies"]["counts"]
    finally:
        stop_b()
    assert out.read_bytes() == ref.read_bytes()
    assert s["samples"] == s_ref["samples"] and s["inputs"] == N_RECORDS
    assert sent_b and not set(sent_b) & set(replied_a)  # no reply asked for twice
    assert len(replied_a) + len(sent_b) == s_ref["requests.sent"]
