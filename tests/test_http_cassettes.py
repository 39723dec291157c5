"""The HTTP path through the official openai client, replayed from pytest-recording cassettes.

The cassettes in ``tests/cassettes/`` were recorded against the loopback simulator
(``proginstruct simulate``); by default they are replayed with ``record_mode=none``, so no socket is
opened. To record them again::

    .venv/bin/pytest tests/test_http_cassettes.py --record-mode=rewrite

which starts the simulator on 127.0.0.1 for the duration of the test. Authorization and platform
headers are filtered out; requests are matched on method, path and body (not host or port).
"""

from __future__ import annotations

import asyncio

import pytest

from proginstruct.cli.common import LLM_DEFAULTS
from proginstruct.collection.collect import Roles, collect_record
from proginstruct.collection.sample import CollectParams
from proginstruct.llm.engine import Engine
from proginstruct.records import record_id
from proginstruct.stats import Stats

from .cassette_config import REPLAY_BASE, vcr_settings

RECORDS = [
    {"code1": "def mean(xs):\n    return sum(xs) / len(xs)\n\n\ndef top(xs):\n    return xs[0]\n",
     "code2": "def mean(xs):\n    if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n\n\n"
              "def top(xs):\n    return max(xs)\n",
     "lang": "python", "git": "Handle empty lists in mean; top returns the maximum"},
    {"code1": "function greet(name) {\n  return 'hi ' + name;\n}\n\nmodule.exports = { greet };\n",
     "code2": "function greet(name = 'there') {\n  return `Hi ${name}!`;\n}\n\n"
              "module.exports = { greet };\n",
     "lang": "javascript", "git": "Friendlier greeting"},
    {"code1": "package main\n\nimport \"fmt\"\n\nfunc add(a, b int) int {\n\treturn a + b\n}\n\n"
              "func sub(a, b int) int {\n\treturn a - b\n}\n\nfunc main() {\n\tfmt.Println(add(1, 2))\n}\n",
     "code2": "package main\n\nimport \"fmt\"\n\n// add returns a+b.\nfunc add(a, b int) int {\n\treturn a + b\n}\n\n"
              "func sub(a, b int) int {\n\treturn a - b\n}\n\nfunc mul(a, b int) int {\n\treturn a * b\n}\n\n"
              "func main() {\n\tfmt.Println(add(1, 2), mul(3, 4))\n}\n",
     "lang": "go", "git": "Add mul and document add"},
]


def _strip_response(response: dict) -> dict:
    for h in ("date", "server", "Date", "Server"):
        response["headers"].pop(h, None)
    return response


@pytest.fixture
def vcr_config() -> dict:
    return vcr_settings(_strip_response)


@pytest.fixture
def base_url(record_mode: str):
    """The simulator over HTTP while recording; an unused address when replaying (never contacted)."""
    if record_mode == "none":
        yield REPLAY_BASE
        return
    from proginstruct.simulator.server import serve_in_thread

    url, stop = serve_in_thread("127.0.0.1", 0)
    yield url
    stop()


def _collect(tmp_path, base: str, transport: str, cache: str) -> tuple[list[list[dict]], Stats]:
    mm = tmp_path / "model_map.json"
    mm.write_text(f'{{"proginstruct-simulator": {{"base": "{base}", "api": "sk-secret"}}}}')
    llm = {**LLM_DEFAULTS, "model_map": str(mm), "cache_path": str(tmp_path / cache), "max_retries": 0,
           "http_transport": transport}
    params = CollectParams(limit_one_block_prob=1.0, max_per_sample=3)

    async def go():
        engine = Engine.from_params(llm, quiet=True)
        try:
            outs = [await collect_record(engine, Roles.default(), "commit", r, record_id(r), seed=3, params=params)
                    for r in RECORDS]
        finally:
            await engine.aclose()
        return outs

    outs = asyncio.run(go())
    stats = Stats().merge(s for _, s in outs)
    return [samples for samples, _ in outs], stats


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
@pytest.mark.vcr
def test_collection_over_http_matches_in_process_simulator(tmp_path, base_url, transport):
    http_samples, stats = _collect(tmp_path, base_url, transport, "http.sqlite")
    assert stats["requests.sent"] > 0 and stats["samples"] >= 3, dict(stats)
    # the same recipe against the in-process simulator gives the same samples
    local_samples, _ = _collect(tmp_path, "simulator", transport, "local.sqlite")
    assert http_samples == local_samples
    for samples in http_samples:
        for s in samples:
            assert s["model"] == "proginstruct-simulator"


def test_cassettes_hold_no_secrets():
    from pathlib import Path

    folder = Path(__file__).parent / "cassettes" / "test_http_cassettes"
    files = sorted(folder.glob("*.yaml"))
    assert len(files) == 3
    for f in files:
        text = f.read_text()
        assert "sk-secret" not in text and "x-stainless-os" not in text.lower()
        assert "/chat/completions" in text


@pytest.mark.vcr
def test_aiprogrammer_stage_over_http_matches_in_process_simulator(tmp_path, base_url):
    """The aiprogrammer stage (programmer role) through the openai client over HTTP (replayed from a cassette)."""
    import json
    from pathlib import Path

    from proginstruct.sources.aiprogrammer import AIPROGRAMMER_DEFAULTS, run_aiprogrammer

    shipped = json.loads((Path(__file__).resolve().parents[1] / "data/samples/snippets.json").read_text())
    snippets = tmp_path / "snippets.json"
    snippets.write_text(json.dumps(shipped[:4]))

    def run(base: str, name: str) -> bytes:
        mm = tmp_path / f"{name}.json"
        mm.write_text(f'{{"proginstruct-simulator": {{"base": "{base}", "api": "sk-secret"}}}}')
        llm = {**LLM_DEFAULTS, "model_map": str(mm), "cache_path": str(tmp_path / f"{name}.sqlite"),
               "max_retries": 0, "http_transport": "httpx"}
        out = tmp_path / f"{name}.jsonl"
        metrics = run_aiprogrammer(str(snippets), str(out), dict(AIPROGRAMMER_DEFAULTS), llm, 5)
        assert metrics["requests"]["sent"] == 4
        return out.read_bytes()

    over_http = run(base_url, "http")
    histories = [json.loads(line) for line in over_http.splitlines()]
    assert [h["content"] for h in histories] == [s["content"] for s in shipped[:4]]
    assert all(h["output"][-1] == h["content"] and len(h["output"]) >= 2 for h in histories)
    assert over_http == run("simulator", "local")
