"""Several endpoints per model, cooldowns, the down timeout, per-model limits, 429 handling."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import openai
import pytest

from proginstruct.cli.common import LLM_DEFAULTS
from proginstruct.errors import UserError
from proginstruct.llm.endpoints import EndpointPool, parse_retry_after
from proginstruct.llm.engine import Engine, EngineOptions, TransportStop, httpx
from proginstruct.llm.limits import ModelLimits, RateLimit
from proginstruct.llm.model_map import ModelMap
from proginstruct.roles.chat import ChatRole
from proginstruct.roles.render import ChangeQuery, RecordView
from proginstruct.simulator.server import serve_in_thread
from proginstruct.stats import Stats

MODEL = "proginstruct-simulator"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _free_port() -> int:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _llm(tmp_path, spec: dict, **over) -> dict:
    mm = tmp_path / "model_map.json"
    mm.write_text(json.dumps({MODEL: spec}))
    return {**LLM_DEFAULTS, "model_map": str(mm), "cache_path": str(tmp_path / "c.sqlite"), **over}


def _queries(n: int) -> list[ChangeQuery]:
    return [ChangeQuery(RecordView("python", f"x = {i}\n"), f"@@ -1 +1 @@\n-x = {i}\n+x = {i + 1}\n")
            for i in range(n)]


async def _ask_all(llm: dict, n: int, stats: Stats | None = None) -> tuple[list, Engine]:
    engine = Engine.from_params(llm, quiet=True)
    try:
        res = await asyncio.gather(*(engine.ask(ChatRole(), q, seed=i, stats=stats)
                                     for i, q in enumerate(_queries(n))))
    finally:
        await engine.aclose()
    return res, engine


# ------------------------------------------------------------------------------------ model map
def test_model_map_lists_endpoints_and_limits(tmp_path):
    p = tmp_path / "mm.json"
    p.write_text('{"m": {"base": ["http://127.0.0.1:1/v1/", "http://127.0.0.1:2/v1"], "api": "k",'
                 ' "max_in_flight": 8, "rpm": 600, "tpm": 0}, "old": {"base": "http://127.0.0.1:3/v1"}}')
    mm = ModelMap.load(p)
    m, old = mm.entries
    assert m.bases == ("http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1") and m.base == "http://127.0.0.1:1/v1"
    assert (m.max_in_flight, m.rpm, m.tpm) == (8, 600.0, 0.0)
    assert old.bases == ("http://127.0.0.1:3/v1",) and old.max_in_flight is None and old.rpm is None
    for bad, msg in [('{"m": {"base": []}}', 'needs a "base" URL'),
                     ('{"m": {"base": ["http://a/v1", "http://a/v1/"]}}', "same URL twice"),
                     ('{"m": {"base": ["simulator", "http://a/v1"]}}', "cannot be mixed"),
                     ('{"m": {"base": "http://a/v1", "rpm": -1}}', '"rpm" must be a number >= 0')]:
        p.write_text(bad)
        with pytest.raises(UserError, match=msg):
            ModelMap.load(p)


def test_engine_options_validate():
    assert EngineOptions.from_params({"num_proc": "8", "down_timeout": 3}).concurrency == 8
    with pytest.raises(UserError, match="http_transport"):
        EngineOptions.from_params({"http_transport": "curl"})
    with pytest.raises(UserError, match=r"llm\.num_proc must be an integer >= 1, got 0; .*--num_proc"):
        EngineOptions.from_params({"num_proc": 0})


# ------------------------------------------------------------------------------------ pool (fake clock)
def test_pool_spreads_cools_down_and_brings_back():
    clock = Clock()
    pool = EndpointPool("m", ["http://a", "http://b"], failures=2, cooldown=10, down_timeout=30, clock=clock)
    a, b = pool.endpoints
    picks = []
    for _ in range(4):
        ep = pool.choose()
        pool.begin(ep)
        picks.append(ep.url)
    assert sorted(picks) == ["http://a", "http://a", "http://b", "http://b"]  # least in flight
    for _ in range(2):
        pool.failed(a, "server_error", "500")  # two in a row: cooldown
    assert a.down_until == clock.t + 10 and pool.choose() is b
    pool.succeeded(b)
    pool.failed(b, "refused", refused=True)  # one refused connection is enough
    assert pool.choose() is None and pool.down_since == clock.t
    assert pool.wait_time() == pytest.approx(10)
    clock.t += 10
    assert pool.choose() is a  # back after its cooldown, on probation
    pool.begin(a)
    pool.failed(a, "refused", refused=True)  # failing probe: out again, twice as long
    assert a.down_until == clock.t + 20
    clock.t += 15
    pool.check_down()  # down 25 s < 30 s: still waiting
    clock.t += 10
    with pytest.raises(UserError) as exc:
        pool.check_down()
    msg = str(exc.value)
    assert 'cannot reach model "m" at any of http://a, http://b for 35 s' in msg and "\n" not in msg
    assert "http://a: refused" in msg
    pool.begin(b)
    pool.succeeded(b)  # a success clears the down state
    assert pool.down_since is None
    pool.check_down()


def test_pool_pauses_on_429_with_and_without_retry_after():
    clock = Clock()
    pool = EndpointPool("m", ["http://a"], clock=clock)
    (a,) = pool.endpoints
    pool.begin(a)
    assert pool.rate_limited(a, 2.5) == 2.5
    assert pool.choose() is None and pool.wait_time() == pytest.approx(2.5)
    assert pool.down_since is None  # paused is not down
    clock.t += 2.5
    assert pool.choose() is a
    pool.begin(a)
    assert pool.rate_limited(a, None) == pytest.approx(1.0)  # second 429 in a row, no header: 0.5 * 2
    pool.begin(a)
    assert pool.rate_limited(a, 10_000) == 120.0  # capped
    assert a.failures == 0 and a.counts["rate_limited"] == 3


def test_parse_retry_after():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=lambda: 1445412480.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None


def test_rate_limit_waits_and_takes_debt():
    clock = Clock()
    lim = RateLimit(60, clock=clock)  # one unit a second, bursts of 3 seconds' worth (not the whole minute)
    assert lim.capacity == pytest.approx(3.0)
    assert lim.delay(3) == 0 and lim.delay(4) == 0  # more than the burst counts as the burst
    lim.level += 3
    assert lim.delay(1) == pytest.approx(1.0)
    clock.t += 2
    assert lim.delay(2) == 0 and lim.delay(3) == pytest.approx(1.0)
    lim.charge(100)  # completion tokens known only afterwards: debt
    assert lim.delay(1) == pytest.approx(99.0)
    lim.charge(-1000)
    assert lim.level == 0


def test_model_limits_paced_only_with_a_per_minute_budget():
    # the engine skips admit() per request unless a budget applies
    assert not ModelLimits.build(max_in_flight=4).paced
    assert ModelLimits.build(rpm=60).paced and ModelLimits.build(tpm=1000).paced


# ------------------------------------------------------------------------------------ engine over HTTP
def test_requests_spread_over_endpoints_and_skip_a_dead_one(tmp_path):
    url1, stop1 = serve_in_thread()
    url2, stop2 = serve_in_thread()
    dead = f"http://127.0.0.1:{_free_port()}/v1"
    try:
        llm = _llm(tmp_path, {"base": [url1, dead, url2], "api": "k"}, num_proc=8)
        stats = Stats()
        res, engine = asyncio.run(_ask_all(llm, 40, stats))
        assert all(r.ok for r in res)
        s1, s2 = _get(url1[:-3] + "/stats"), _get(url2[:-3] + "/stats")
        assert s1["requests"] > 5 and s2["requests"] > 5 and s1["requests"] + s2["requests"] == 40
        counts = engine.pools[MODEL].summary()
        assert counts[dead]["refused"] >= 1 and counts[dead]["cooldowns"] >= 1 and "ok" not in counts[dead]
        assert stats["faults.refused"] == counts[dead]["refused"] and stats["requests.sent"] == 40 + stats[
            "faults.refused"]
    finally:
        stop1()
        stop2()


def test_every_endpoint_down_stops_with_one_line(tmp_path):
    urls = [f"http://127.0.0.1:{_free_port()}/v1" for _ in range(2)]
    llm = _llm(tmp_path, {"base": urls, "api": "k"}, down_timeout=0.6, endpoint_cooldown=0.2)
    t0 = time.monotonic()
    with pytest.raises(UserError) as exc:
        asyncio.run(_ask_all(llm, 3))
    assert 0.6 <= time.monotonic() - t0 < 5
    msg = str(exc.value)
    assert f'cannot reach model "{MODEL}" at any of {urls[0]}, {urls[1]}' in msg and "\n" not in msg


def test_server_back_within_down_timeout_is_used_again(tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    llm = _llm(tmp_path, {"base": url, "api": "k"}, down_timeout=20, endpoint_cooldown=0.3)
    box: dict = {}

    async def go():
        task = asyncio.ensure_future(_ask_all(llm, 4))
        await asyncio.sleep(0.5)  # the endpoint is refused and cooling down; now the server starts
        box["url"], box["stop"] = serve_in_thread(port=port)
        return await task

    try:
        res, engine = asyncio.run(go())
        assert all(r.ok for r in res)
        counts = engine.pools[MODEL].summary()[url]
        assert counts["refused"] >= 1 and counts["ok"] == 4
    finally:
        if "stop" in box:
            box["stop"]()


def test_per_model_in_flight_limit(tmp_path):
    url, stop = serve_in_thread(latency=0.05)
    try:
        llm = _llm(tmp_path, {"base": url, "api": "k", "max_in_flight": 2}, num_proc=16)
        res, engine = asyncio.run(_ask_all(llm, 12))
        assert all(r.ok for r in res)
        assert _get(url[:-3] + "/stats")["max_in_flight"] == 2 and engine.max_in_flight == 2
    finally:
        stop()


def test_429_pauses_for_retry_after_then_retries_the_same_body(tmp_path):
    bodies: list[bytes] = []
    times: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        times.append(time.monotonic())
        if len(bodies) == 1:
            return httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "0.4"})
        if len(bodies) == 2:
            return httpx.Response(500, json={"error": {"message": "oops"}})
        if len(bodies) == 3:
            return httpx.Response(200, content=b"{not json")
        return httpx.Response(200, json={"choices": [{"message": {"content": "**chat:** Bumped x."},
                                                      "finish_reason": "stop"}],
                                         "usage": {"prompt_tokens": 10, "completion_tokens": 3}})

    llm = _llm(tmp_path, {"base": "http://127.0.0.1:9/v1", "api": "k"}, retry_backoff=0.01)
    stats = Stats()

    async def go():
        engine = Engine.from_params(llm, quiet=True)
        (ep,) = engine.pools[MODEL].endpoints
        ep.client = openai.AsyncOpenAI(base_url=ep.url, api_key="k", max_retries=0,
                                       http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
        try:
            return await engine.ask(ChatRole(), _queries(1)[0], seed=5, stats=stats)
        finally:
            await engine.aclose()

    res = asyncio.run(go())
    assert res.ok and res.value == "Bumped x." and res.attempts == 1
    assert len(set(bodies)) == 1 and len(bodies) == 4  # every retry sent the same bytes
    assert times[1] - times[0] >= 0.4  # Retry-After honoured
    assert (stats["faults.rate_limited"], stats["faults.server_error"], stats["faults.malformed_response"]) == (1, 1, 1)
    assert stats["requests.sent"] == 4 and stats["tokens.prompt"] == 10


def test_exhausted_retries_stop_the_run_with_one_line(tmp_path):
    url, stop = serve_in_thread(fail_500=1.0)
    try:
        llm = _llm(tmp_path, {"base": url, "api": "k"}, max_retries=2, retry_backoff=0.01, endpoint_failures=100)
        stats = Stats()
        with pytest.raises(TransportStop) as exc:
            asyncio.run(_ask_all(llm, 1, stats))
        msg = str(exc.value)
        assert f'model "{MODEL}" at {url}: a request failed 3 times (llm.max_retries 2)' in msg and "\n" not in msg
        assert "last error: server_error: 500" in msg and "run the same command again to resume" in msg
        port = url.split(":")[-1].split("/")[0]
        assert stats["faults.server_error"] == 3 and stats[f"faults.by_endpoint.127_0_0_1:{port}.server_error"] == 3
        assert not any(k.startswith(("errors.", "roles.chat.failed")) for k in stats)  # no role failed
    finally:
        stop()
