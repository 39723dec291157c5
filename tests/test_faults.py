"""Faults change nothing: a run against servers injecting 500s, 429s, timeouts and malformed replies finishes with the
same samples as a clean run, and its metrics count every fault kind."""

from __future__ import annotations

from proginstruct.collection.collect import run_collection
from proginstruct.simulator.server import serve_in_thread

from .scale_helpers import PARAMS, llm_params, server_stats, write_inputs

FAULTS = {"fail_500": 0.10, "fail_429": 0.05, "retry_after": "0.05", "fail_timeout": 0.02, "timeout_sleep": 5.0,
          "malformed": 0.05}


def test_faulty_servers_give_the_clean_samples_and_count_every_fault(tmp_path):
    inp = write_inputs(tmp_path / "commit.jsonl", 40)
    clean_url, stop_clean = serve_in_thread()
    try:
        clean = tmp_path / "clean.jsonl"
        s_clean = run_collection("commit", str(inp), str(clean), params=PARAMS, seed=3,
                                 llm_params=llm_params(tmp_path, clean_url, "clean", num_proc=16))
        clean_server = server_stats(clean_url)
    finally:
        stop_clean()
    assert not any(k.startswith(("faults.", "rejected.", "errors.")) for k in s_clean), dict(s_clean)
    assert clean_server["requests"] == s_clean["requests.sent"] > 60

    servers = [serve_in_thread(fault_seed=seed, **FAULTS) for seed in (1, 2)]
    try:
        faulty = tmp_path / "faulty.jsonl"
        llm = llm_params(tmp_path, [url for url, _ in servers], "faulty", num_proc=16, request_timeout=0.5,
                         retry_backoff=0.01, endpoint_cooldown=0.1, max_retries=30)
        s = run_collection("commit", str(inp), str(faulty), params=PARAMS, seed=3, llm_params=llm)
        by_outcome = [server_stats(url)["by_outcome"] for url, _ in servers]
    finally:
        for _, stop in servers:
            stop()

    assert faulty.read_bytes() == clean.read_bytes()
    assert s["samples"] == s_clean["samples"] and not any(k.startswith("errors.") for k in s)
    drawn = {kind: sum(b[kind] for b in by_outcome) for kind in ("http_500", "http_429", "timeout", "malformed")}
    assert all(drawn.values()), drawn  # every fault kind happened
    assert s["faults.server_error"] == drawn["http_500"]
    assert s["faults.rate_limited"] == drawn["http_429"]
    assert s["faults.timeout"] == drawn["timeout"]
    rejected = sum(v for k, v in s.items() if k.startswith("rejected."))
    assert rejected == drawn["malformed"]  # each malformed reply rejected once, then re-asked
    assert s["requests.sent"] == sum(b["ok"] for b in by_outcome) + sum(drawn.values())
