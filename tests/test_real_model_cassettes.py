"""The roles and the collection on real model text, replayed from cassettes recorded from a real server.

The cassettes in ``tests/cassettes/test_real_model_cassettes/`` were recorded from Qwen2.5-Coder-0.5B-Instruct
behind llama.cpp's OpenAI-compatible server (``../shared/tools/local-llm.sh serve PORT``), every role with
and without grammar-guided decoding (``"guided": "llama.cpp"``). ``make test`` replays them
(``record_mode=none``: no socket is opened, no model is needed). To record them again (docs/development.md)::

    make record-real-cassettes LLM_BASE=http://127.0.0.1:8100/v1

Requests are matched on method, path and body (so a change to a prompt, a grammar or the request body
needs a new recording); authorization and platform headers are filtered out of the cassettes.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from proginstruct.cli.common import LLM_DEFAULTS
from proginstruct.collection.collect import Roles, collect_record
from proginstruct.collection.sample import CollectParams, reachable
from proginstruct.llm.engine import Engine
from proginstruct.records import record_id
from proginstruct.roles.chat import ChatRole
from proginstruct.roles.instruction import InstructionRole
from proginstruct.roles.judge import JudgeRole
from proginstruct.roles.programmer import ProgrammerRole, SnippetQuery
from proginstruct.roles.render import ChangeQuery, JudgeQuery, RecordView
from proginstruct.stats import Stats
from proginstruct.text import unified_diff
from tests.gbnf_matcher import matches

from .cassette_config import REPLAY_BASE, vcr_settings

MODEL = "qwen2.5-coder-0.5b-instruct"
RECORD_BASE = os.environ.get("PROGINSTRUCT_REAL_LLM_BASE", "http://127.0.0.1:8100/v1")
CASSETTES = Path(__file__).parent / "cassettes" / "test_real_model_cassettes"
LLM = {"max_tokens": 384, "max_try": 3, "num_proc": 1, "max_retries": 0, "request_timeout": 1800.0}


def _strip_response(response: dict) -> dict:
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() == "content-type"}
    return response


@pytest.fixture
def vcr_config() -> dict:
    return vcr_settings(_strip_response)


@pytest.fixture
def base_url(record_mode: str) -> str:
    """The real server while recording; an unused address when replaying (never contacted)."""
    return REPLAY_BASE if record_mode == "none" else RECORD_BASE


class Recorded:
    """Wraps a role: notes every reply text it checks with the verdict's reason ("" when accepted)."""

    def __init__(self, role):
        self.role, self.name, self.seen = role, role.name, []

    def messages(self, query):
        return self.role.messages(query)

    def grammar(self, query):
        return self.role.grammar(query)

    def check(self, query, reply):
        verdict = self.role.check(query, reply)
        self.seen.append((query, reply, verdict.reason))
        return verdict


def _engine(tmp_path, base: str, guided: str, **llm) -> Engine:
    mm = tmp_path / f"mm-{guided}.json"
    mm.write_text(json.dumps({MODEL: {"base": base, "api": "sk-secret", "guided": guided}}))
    params = {**LLM_DEFAULTS, **LLM, **llm, "model_map": str(mm), "cache_path": str(tmp_path / f"{guided}.sqlite"),
              "http_transport": "httpx"}
    return Engine.from_params(params, quiet=True)


CURRENT = "def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs)\n"
FINAL = ("def mean(xs):\n    if not xs:\n        raise ValueError('mean of an empty list')\n    total = 0\n"
         "    for x in xs:\n        total += x\n    return total / len(xs)\n\n\ndef median(xs):\n"
         "    s = sorted(xs)\n    return s[len(s) // 2]\n")
SNIPPET = ("def clamp(value, low, high):\n    if low > high:\n        raise ValueError('low > high')\n"
           "    if value < low:\n        return low\n    if value > high:\n        return high\n    return value\n")


def _queries():
    view = RecordView("python", CURRENT, ("def mean(xs):\n    return sum(xs) / len(xs)\n",))
    from proginstruct.blocks import apply_blocks, edit_blocks

    changes = tuple(unified_diff(CURRENT, apply_blocks(CURRENT, [b])) for b in edit_blocks(CURRENT, FINAL))
    return {
        "programmer": (ProgrammerRole("ordinary"), SnippetQuery(SNIPPET, "python")),
        "judge": (JudgeRole(), JudgeQuery(view, changes)),
        "instruction": (InstructionRole(), ChangeQuery(view, unified_diff(CURRENT, FINAL))),
        "chat": (ChatRole(), ChangeQuery(view, unified_diff(CURRENT, FINAL))),
    }


@pytest.mark.parametrize("guided", ["none", "llama.cpp"])
@pytest.mark.vcr
def test_every_role_on_real_replies(tmp_path, base_url, guided):
    roles = {name: (Recorded(role), q) for name, (role, q) in _queries().items()}
    assert len(roles["judge"][1].changes) == 2
    stats = Stats()

    async def go():
        engine = _engine(tmp_path, base_url, guided, max_tokens=768)
        try:
            return {name: await engine.ask(role, q, seed=5, stats=stats) for name, (role, q) in roles.items()}
        finally:
            await engine.aclose()

    results = asyncio.run(go())
    assert stats["requests.sent"] == sum(r.attempts for r in results.values())
    for name, (role, _) in roles.items():
        assert role.seen, name
        for query, reply, reason in role.seen:
            assert reply.strip(), (name, reason)
            if guided == "llama.cpp":  # llama.cpp kept every reply inside the role's grammar
                assert matches(role.grammar(query), reply), (name, reply[:300])
    if guided == "llama.cpp":  # the protocol roles were answered right at the first attempt
        assert all(results[n].ok and results[n].attempts == 1 for n in ("judge", "instruction", "chat")), results
        assert len(results["judge"].value) == 2
    else:  # the unguided recording holds replies the roles reject, checked from real text
        rejected = [(n, reason) for n, (role, _) in roles.items() for _, _, reason in role.seen if reason]
        assert rejected, results
        assert sum(stats[k] for k in stats if k.startswith("rejected.")) == len(rejected)


RECORDS = [
    {"code1": CURRENT, "code2": FINAL, "lang": "python", "git": "Reject empty lists in mean; add median"},
    {"code1": "function greet(name) {\n  return 'hi ' + name;\n}\n\nmodule.exports = { greet };\n",
     "code2": "function greet(name = 'there') {\n  return `Hi ${name}!`;\n}\n\nmodule.exports = { greet };\n",
     "lang": "javascript", "git": "Friendlier greeting"},
]


@pytest.mark.parametrize("guided", ["none", "llama.cpp"])
@pytest.mark.vcr
def test_collection_end_to_end_on_real_replies(tmp_path, base_url, guided):
    params = CollectParams(limit_one_block_prob=1.0, max_per_sample=2)

    async def go():
        engine = _engine(tmp_path, base_url, guided)
        try:
            return [await collect_record(engine, Roles.default(), "commit", r, record_id(r), seed=11, params=params)
                    for r in RECORDS]
        finally:
            await engine.aclose()

    outs = asyncio.run(go())
    stats = Stats().merge(s for _, s in outs)
    samples = [s for out, _ in outs for s in out]
    assert stats["samples"] == len(samples) >= 2, dict(stats)
    for rec, (out, _) in zip(RECORDS, outs, strict=True):
        for s in out:  # SPEC 6 step 6 on real model text
            assert s["model"] == MODEL and s["current"]["lang"] == s["next"]["lang"] == rec["lang"]
            assert reachable(s["current"]["code"], s["next"]["code"], rec["code2"])
            assert all(h["lang"] == rec["lang"] for h in s["history"])
    if guided == "llama.cpp":
        for role in ("judge", "instruction", "chat"):
            assert stats[f"roles.{role}.attempts"] == stats[f"roles.{role}.calls"], dict(stats)


def test_real_cassettes_hold_no_secrets_and_both_modes():
    files = sorted(CASSETTES.glob("*.yaml"))
    assert len(files) == 4, files
    guided = plain = 0
    for f in files:
        text = f.read_text()
        assert "sk-secret" not in text and "x-stainless" not in text.lower() and "authorization" not in text.lower()
        assert MODEL in text and '"timings"' in text  # llama.cpp's own replies, not the simulator's
        guided += text.count('"grammar":')
        plain += text.count("- request:") - text.count('"grammar":')
    assert guided >= 4 and plain >= 4
