"""No sample is lost to an outage (SPEC 5): a 429 storm waits, a longer 5xx outage stops the run (exit 2,
metrics marked incomplete) and the rerun gives a clean run's bytes; unparsable 200 replies are named."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from click.testing import CliRunner

from proginstruct.cli.collect import command as collect_command
from proginstruct.collection.collect import run_collection
from proginstruct.llm.endpoints import EndpointPool
from proginstruct.llm.engine import Engine, TransportStop
from proginstruct.roles.chat import ChatRole
from proginstruct.roles.render import ChangeQuery, RecordView
from proginstruct.simulator.server import serve_in_thread
from proginstruct.stats import Stats

from .outage_server import Outage
from .scale_helpers import PARAMS, llm_params, param_flags, write_inputs, write_model_map

RECORDS = 16


def _transport_skips(stats: dict) -> dict:
    """Counters that would show a role call failed for a transport reason (``errors.<role>.<kind>``)."""
    return {k: v for k, v in stats.items() if k.startswith("errors.")}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The bytes and counters of a clean run on the test input (in-process simulator)."""
    tmp = tmp_path_factory.mktemp("clean")
    inp = write_inputs(tmp / "commit.jsonl", RECORDS)
    out = tmp / "clean.jsonl"
    stats = run_collection("commit", str(inp), str(out), params=PARAMS, seed=5,
                           llm_params=llm_params(tmp, "simulator", "clean", num_proc=8))
    assert stats["samples"] > RECORDS
    return inp, out.read_bytes(), stats


def test_429_storm_longer_than_the_retry_budget_gives_the_clean_bytes(tmp_path, clean):
    inp, clean_bytes, clean_stats = clean
    outage = Outage("429", retry_after="0.1", until=time.monotonic() + 1.2)  # budget: 2 retries = 0.2 s
    url, stop = serve_in_thread(middlewares=(outage.middleware,))
    try:
        out = tmp_path / "out.jsonl"
        stats = run_collection("commit", str(inp), str(out), params=PARAMS, seed=5,
                               llm_params=llm_params(tmp_path, url, "storm", num_proc=8, max_retries=2))
    finally:
        stop()
    assert out.read_bytes() == clean_bytes
    assert outage.faults > 8 * 3  # every request in flight was answered 429 more often than the budget allows
    port = url.split(":")[-1].split("/")[0]
    assert stats["faults.rate_limited"] == outage.faults
    assert stats[f"faults.by_endpoint.127_0_0_1:{port}.rate_limited"] == outage.faults
    assert stats["samples"] == clean_stats["samples"] and not _transport_skips(stats)
    assert {k: v for k, v in stats.items() if k.startswith("draws.")} == \
        {k: v for k, v in clean_stats.items() if k.startswith("draws.")}  # the same draws, skipped the same


def test_5xx_outage_longer_than_the_budget_stops_and_the_rerun_gives_the_clean_bytes(tmp_path, clean):
    inp, clean_bytes, clean_stats = clean
    outage = Outage("500", after=30)  # some records are written before the outage
    url, stop = serve_in_thread(middlewares=(outage.middleware,))
    out, metrics = tmp_path / "out.jsonl", tmp_path / "metrics.json"
    mm = write_model_map(tmp_path / "mm.json", url)
    args = ["--data_type", "commit", "--input_path", str(inp), "--output_path", str(out), "--metrics_path",
            str(metrics), "--params", str(tmp_path / "none.yaml"), "--seed", "5", "--model_map", str(mm),
            "--cache_path", str(tmp_path / "c.sqlite"), "--num_proc", "4", "--max_retries", "2",
            "--retry_backoff", "0.01", "--endpoint_cooldown", "0.05", *param_flags(PARAMS)]
    try:
        stopped = CliRunner().invoke(collect_command, args)
        assert stopped.exit_code == 2, stopped.output
        lines = [ln for ln in stopped.output.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1
        assert f'model "proginstruct-simulator" at {url}: a request failed 3 times (llm.max_retries 2)' in lines[0]
        assert "last error: server_error: 500" in lines[0] and "run the same command again to resume" in lines[0]
        assert not out.exists()  # nothing looks finished
        m = json.loads(metrics.read_text())
        assert m["complete"] is False and m["error"] == lines[0][len("error: "):]
        assert 0 < m["inputs"] < RECORDS and 0 < m["samples"] < clean_stats["samples"]  # the records written
        assert "errors" not in m

        outage.mode = None  # the outage is over: the same command resumes
        rerun = CliRunner().invoke(collect_command, args)
        assert rerun.exit_code == 0, rerun.output
    finally:
        stop()
    assert out.read_bytes() == clean_bytes
    m = json.loads(metrics.read_text())
    assert m["complete"] is True and m["samples"] == clean_stats["samples"] and "errors" not in m
    assert m["draws"].get("skipped", {}) == {k.split(".", 2)[2]: v for k, v in clean_stats.items()
                                     if k.startswith("draws.skipped.")}
    assert m["draws"]["tried"] == clean_stats["draws.tried"]


def _ask_once(llm: dict):
    async def go():
        engine = Engine.from_params(llm, quiet=True)
        try:
            q = ChangeQuery(RecordView("python", "x = 1\n"), "@@ -1 +1 @@\n-x = 1\n+x = 2\n")
            return await engine.ask(ChatRole(), q, seed=1, stats=Stats())
        finally:
            await engine.aclose()

    return asyncio.run(go())


def test_unparsable_200_replies_are_named_not_called_unreachable(tmp_path):
    outage = Outage("junk")
    urls = []
    stops = []
    for _ in range(2):
        url, stop = serve_in_thread(middlewares=(outage.middleware,))
        urls.append(url)
        stops.append(stop)
    try:
        # the retry budget runs out first
        llm = llm_params(tmp_path, urls, "junk", max_retries=3, retry_backoff=0.01, endpoint_failures=100)
        with pytest.raises(TransportStop) as exc:
            _ask_once(llm)
        msg = str(exc.value)
        assert "HTTP 200 with a body that is not a chat completion" in msg and "cannot reach" not in msg
        assert "unparsable replies from a reachable server" in msg and "\n" not in msg
        # every endpoint out for down_timeout first
        llm = llm_params(tmp_path, urls, "junk2", max_retries=1000, retry_backoff=0.0, endpoint_failures=1,
                         endpoint_cooldown=0.05, down_timeout=0.3)
        with pytest.raises(Exception) as exc:
            _ask_once(llm)
        msg = str(exc.value)
        assert "answers HTTP 200 with bodies that are not chat completions" in msg and "cannot reach" not in msg
        assert "unparsable replies from a reachable server" in msg and "\n" not in msg
    finally:
        for stop in stops:
            stop()


def test_pool_names_malformed_replies_when_every_endpoint_is_out():
    t = [100.0]
    pool = EndpointPool("m", ["http://a", "http://b"], failures=1, cooldown=10, down_timeout=5, clock=lambda: t[0])
    for ep in pool.endpoints:
        pool.begin(ep)
        pool.failed(ep, "malformed_response", "HTTP 200 with a body that is not a chat completion")
    t[0] += 6
    with pytest.raises(Exception, match="answers HTTP 200 with bodies that are not chat completions"):
        pool.check_down()


def test_429_without_retry_after_waits_and_a_spent_quota_stops(tmp_path):
    outage = Outage("429_bare", until=time.monotonic() + 0.8)
    url, stop = serve_in_thread(middlewares=(outage.middleware,))
    try:
        res = _ask_once(llm_params(tmp_path, url, "bare", max_retries=0))
        assert res.ok and outage.faults >= 2  # backoff 0.5 s, then 1 s: waited past the outage, no budget used
        outage.mode, outage.until = "quota", None
        with pytest.raises(TransportStop, match="quota is used up"):
            _ask_once(llm_params(tmp_path, url, "quota"))
    finally:
        stop()


def test_a_refused_request_fails_only_its_role_call(tmp_path):
    import aiohttp.web as web

    @web.middleware
    async def too_long(request, handler):  # noqa: ANN001, ANN202
        if request.path.endswith("/chat/completions"):
            return web.json_response({"error": {"message": "maximum context length exceeded"}}, status=400)
        return await handler(request)

    url, stop = serve_in_thread(middlewares=(too_long,))
    try:
        res = _ask_once(llm_params(tmp_path, url, "refused"))
    finally:
        stop()
    assert not res.ok and res.reason == "error.bad_request"
