"""Crash and resume (docs/models-and-scale.md): a collection killed with SIGKILL midway, started again, ends with the bytes of an uninterrupted
run and re-sends no request whose reply had been received (counted by the server)."""

from __future__ import annotations

import os
import signal
import subprocess

from proginstruct.collection.collect import run_collection
from proginstruct.collection.sample import CollectParams
from proginstruct.simulator.server import serve_in_thread

from .scale_helpers import (
    collect_argv,
    count_rows,
    llm_params,
    param_flags,
    server_stats,
    wait_for,
    write_inputs,
    write_model_map,
)

PARAMS = CollectParams(limit_one_block_prob=1.0, max_per_sample=2)
N_RECORDS = 30
CACHED_REPLIES = "SELECT COUNT(*) FROM replies"


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
    mm = write_model_map(tmp_path / "mm.json", url_a)
    cmd = collect_argv(inp, out, mm, cache, "--num_proc", "4", "--window", "6", *param_flags(PARAMS), "--seed", "3")
    child = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: server_stats(url_a)["replied"] == hold and server_stats(url_a)["held"] > 0,
                 "the server to answer its share and hold the rest", timeout=30.0)
        wait_for(lambda: count_rows(cache, CACHED_REPLIES) == hold, "the child to store every reply it received",
                 timeout=30.0)
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
        write_model_map(mm, url_b)
        llm = llm_params(tmp_path, url_b, "unused", model_map=str(mm), cache_path=str(cache), num_proc=4, window=6)
        s = run_collection("commit", str(inp), str(out), params=PARAMS, seed=3, llm_params=llm)
        sent_b = server_stats(url_b, bodies=True)["bodies"]["counts"]
    finally:
        stop_b()
    assert out.read_bytes() == ref.read_bytes()
    assert s["samples"] == s_ref["samples"] and s["inputs"] == N_RECORDS
    assert sent_b and not set(sent_b) & set(replied_a)  # no reply asked for twice
    assert len(replied_a) + len(sent_b) == s_ref["requests.sent"]
