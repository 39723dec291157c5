"""Grammar-guided requests (proginstruct/llm/guided.py): the model map's "guided", the request body of
each server kind, the reply cache key, and a server that refuses the grammar field."""

from __future__ import annotations

import asyncio
import json

import orjson
import pytest
from aiohttp import web

from proginstruct.cli.common import LLM_DEFAULTS
from proginstruct.errors import UserError
from proginstruct.llm.cache import cache_key
from proginstruct.llm.engine import SAMPLING_KEYS, Engine
from proginstruct.llm.guided import guided_fields, key_params, request_body, role_grammar
from proginstruct.llm.model_map import ModelEntry, ModelMap
from proginstruct.roles.judge import JudgeRole
from proginstruct.roles.render import JudgeQuery, RecordView
from proginstruct.simulator.server import serve_in_thread
from proginstruct.stats import Stats

SAMPLING = {k: LLM_DEFAULTS[k] for k in SAMPLING_KEYS}
JQ = JudgeQuery(RecordView("python", "x = 1\n"), ("@@ -1 +1 @@\n-x = 1\n+x = 2",))


def entry(guided: str = "none") -> ModelEntry:
    return ModelEntry("m", ("http://127.0.0.1:9/v1",), "k", guided=guided)


# ------------------------------------------------------------------------------------------ model map
def test_model_map_reads_guided_and_rejects_unknown_values(tmp_path):
    p = tmp_path / "mm.json"
    p.write_text(json.dumps({"a": {"base": "http://h/v1"}, "b": {"base": "http://h/v1", "guided": "llama.cpp"},
                             "c": {"base": "http://h/v1", "guided": "vllm"}, "d": {"base": "http://h/v1",
                                                                                  "guided": "sglang"}}))
    assert [e.guided for e in ModelMap.load(p).entries] == ["none", "llama.cpp", "vllm", "sglang"]
    p.write_text(json.dumps({"qwen": {"base": "http://h/v1", "guided": "gbnf"}}))
    with pytest.raises(UserError) as err:
        ModelMap.load(p)
    msg = str(err.value)
    assert "\n" not in msg and 'model "qwen"' in msg and str(p) in msg and '"gbnf"' in msg
    assert all(f'"{v}"' in msg for v in ("llama.cpp", "vllm", "sglang", "none"))


# ------------------------------------------------------------------------------------------ request body
def test_each_server_kind_gets_the_grammar_in_its_own_field():
    g = 'root ::= "x"'
    assert guided_fields("llama.cpp", g) == {"grammar": g}
    assert guided_fields("vllm", g) == {"structured_outputs": {"grammar": g}}
    assert guided_fields("sglang", g) == {"ebnf": g}
    assert guided_fields("none", g) == {} and guided_fields("llama.cpp", None) == {}
    with pytest.raises(ValueError, match="unknown guided server"):
        guided_fields("tgi", g)


def test_unguided_body_has_the_bytes_of_before():
    messages = [{"role": "user", "content": "hi"}]
    body = orjson.dumps(request_body(entry(), messages, SAMPLING, 7))
    assert body == (b'{"model":"m","messages":[{"role":"user","content":"hi"}],"frequency_penalty":0.0,'
                    b'"max_tokens":3072,"presence_penalty":0.0,"seed":7,"temperature":0.2,"top_p":0.95}')
    guided = request_body(entry("vllm"), messages, SAMPLING, 7, 'root ::= "x"')
    assert list(guided)[-1] == "structured_outputs" and orjson.dumps(guided).startswith(body[:-1])


def test_role_grammar_only_for_guided_entries_and_roles_with_a_grammar():
    assert role_grammar(entry(), JudgeRole(), JQ) is None
    assert role_grammar(entry("sglang"), JudgeRole(), JQ) == JudgeRole().grammar(JQ)
    assert role_grammar(entry("llama.cpp"), object(), JQ) is None


def test_cache_key_holds_the_guided_setting_and_is_unchanged_without():
    messages = JudgeRole().messages(JQ)
    plain = cache_key("m", messages, SAMPLING, 0)
    assert cache_key("m", messages, key_params(SAMPLING, entry(), None), 0) == plain
    g = JudgeRole().grammar(JQ)
    keys = {cache_key("m", messages, key_params(SAMPLING, entry(s), g), 0) for s in ("llama.cpp", "vllm", "sglang")}
    assert len(keys) == 3 and plain not in keys


# ------------------------------------------------------------------------------------------ over HTTP
class FakeServer:
    """The loopback simulator (``serve_in_thread``) behind a middleware that records every chat-completions
    body and answers 400 to bodies holding ``refuse`` (a field name), or to every body when ``refuse`` is
    ``"*"``. ``with FakeServer(...) as base_url:`` serves for the block."""

    def __init__(self, refuse: str | None):
        self.refuse = refuse
        self.bodies: list[dict] = []

        @web.middleware
        async def middleware(request: web.Request, handler):  # noqa: ANN001, ANN202
            if request.path.endswith("/chat/completions"):
                body = await request.json()
                self.bodies.append(body)
                if self.refuse == "*" or (self.refuse and self.refuse in body):
                    return web.json_response({"error": {"code": 400, "message": "failed to parse grammar"}},
                                             status=400)
            return await handler(request)

        self.middleware = middleware

    def __enter__(self) -> str:
        url, self.stop = serve_in_thread(middlewares=(self.middleware,))
        return url

    def __exit__(self, *exc) -> None:
        self.stop()


def ask(tmp_path, base: str, guided: str) -> tuple[object, Stats]:
    mm = tmp_path / "mm.json"
    mm.write_text(json.dumps({"m": {"base": base, "api": "k", "guided": guided}}))
    llm = {**LLM_DEFAULTS, "model_map": str(mm), "cache_path": str(tmp_path / f"{guided}.sqlite"), "max_retries": 2,
           "retry_backoff": 0.0}
    stats = Stats()

    async def go():
        engine = Engine.from_params(llm, quiet=True)
        try:
            return await engine.ask(JudgeRole(), JQ, seed=1, stats=stats)
        finally:
            await engine.aclose()

    return asyncio.run(go()), stats


@pytest.mark.parametrize("guided,field", [("llama.cpp", "grammar"), ("vllm", "structured_outputs"),
                                          ("sglang", "ebnf")])
def test_guided_requests_carry_the_grammar_and_are_ordinary_replies(tmp_path, guided, field):
    server, plain_server = FakeServer(None), FakeServer(None)
    with server as base, plain_server as base2:
        result, stats = ask(tmp_path, base, guided)
        plain, _ = ask(tmp_path, base2, "none")
    assert result.ok and result.value == plain.value and stats["requests.sent"] == 1
    (body,), (plain_body,) = server.bodies, plain_server.bodies
    assert field in body and field not in plain_body
    assert {k: v for k, v in body.items() if k != field} == plain_body


def test_guided_body_holds_the_judge_grammar(tmp_path):
    server = FakeServer(None)
    with server as base:
        result, _ = ask(tmp_path, base, "llama.cpp")
    assert result.ok
    (body,) = server.bodies
    assert body["grammar"] == JudgeRole().grammar(JQ) and "structured_outputs" not in body


def test_a_server_that_refuses_the_grammar_stops_the_run_with_one_line(tmp_path):
    server = FakeServer("grammar")
    with server as base:
        with pytest.raises(UserError) as err:
            ask(tmp_path, base, "llama.cpp")
    msg = str(err.value)
    assert "\n" not in msg and 'remove "guided"' in msg and 'model "m"' in msg and "failed to parse grammar" in msg
    # the guided request once (a 400 is not retried), then the same request without the grammar, once
    assert len(server.bodies) == 2 and "grammar" in server.bodies[0] and "grammar" not in server.bodies[1]
    assert server.bodies[1]["max_tokens"] == 1


def test_a_bad_request_that_is_not_the_grammar_fails_the_role_call_only(tmp_path):
    server = FakeServer("*")
    with server as base:
        result, stats = ask(tmp_path, base, "sglang")
    assert not result.ok and result.reason == "error.bad_request"
    assert len(server.bodies) == 2 and stats["errors.judge.bad_request"] == 1
