"""Batch mode resumes (docs/models-and-scale.md "Batch inference"): a run killed with SIGKILL while it waits for a
job, started again, attaches to that job instead of submitting its lines again, and ends with the bytes of an online
run; the server sees no line submitted twice, least of all one whose reply had been received."""

from __future__ import annotations

import os
import signal
import subprocess

from proginstruct.collection.collect import run_collection
from proginstruct.simulator.server import serve_in_thread

from .scale_helpers import (
    PARAMS,
    batch_llm,
    collect_argv,
    count_rows,
    llm_params,
    param_flags,
    server_stats,
    wait_for,
    write_inputs,
    write_model_map,
)

N_RECORDS = 16
WAITING_JOBS = "SELECT COUNT(*) FROM batch_jobs WHERE status = 'waiting'"


def test_sigkill_while_waiting_then_rerun_attaches_to_the_job(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", N_RECORDS)
    ref = tmp_path / "ref.jsonl"
    s_ref = run_collection("commit", str(inp), str(ref), params=PARAMS, seed=3,
                           llm_params=llm_params(tmp_path, "simulator", "ref"))

    url, stop = serve_in_thread(batch_delay=0.8)
    try:
        out, cache = tmp_path / "out.jsonl", tmp_path / "run.sqlite"
        mm = write_model_map(tmp_path / "mm.json", url)
        cmd = collect_argv(inp, out, mm, cache, "--mode", "batch", "--batch_poll", "0.02", *param_flags(PARAMS),
                           "--seed", "3")
        child = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # round 1's job answered and cached, round 2's job submitted and recorded: kill while it waits
            wait_for(lambda: server_stats(url)["batch"]["jobs"] == 2 and count_rows(cache, WAITING_JOBS) == 1,
                     "the child to wait for its second job", timeout=60.0)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
        before = server_stats(url, bodies=True)["batch"]
        assert child.returncode == -signal.SIGKILL and not out.exists()
        assert before["by_status"] == {"completed": 1, "in_progress": 1}
        assert set(before["delivered"]) and set(before["delivered"]) < set(before["submitted"])

        s = run_collection("commit", str(inp), str(out), params=PARAMS, seed=3,
                           llm_params=batch_llm(tmp_path, url, "unused", model_map=str(mm), cache_path=str(cache),
                                                batch_poll=0.02))
        after = server_stats(url, bodies=True)["batch"]
    finally:
        stop()
    assert out.read_bytes() == ref.read_bytes()
    assert s["batch.attached_jobs"] == 1 and s["samples"] == s_ref["samples"]
    assert after["job_ids"][:2] == before["job_ids"]  # the waiting job was attached to, not submitted again
    assert set(after["submitted"].values()) == {1}  # no line submitted twice
    assert set(after["delivered"]) == set(after["submitted"])  # and each reply downloaded once ...
    assert set(after["delivered"].values()) == {1}
    assert len(after["submitted"]) == s_ref["requests.sent"]  # ... for exactly the online run's requests
    assert count_rows(cache, WAITING_JOBS) == 0
