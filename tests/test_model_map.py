"""SPEC 10 model map: the user's format, extensions, and one-line errors for bad configuration."""

from __future__ import annotations

import asyncio
import socket

import pytest

from proginstruct.cli.common import LLM_DEFAULTS
from proginstruct.errors import UserError
from proginstruct.llm.engine import Engine
from proginstruct.llm.model_map import ModelMap
from proginstruct.roles.chat import ChatRole
from proginstruct.roles.render import ChangeQuery, RecordView


def write(tmp_path, text):
    p = tmp_path / "model_map.json"
    p.write_text(text)
    return p


def test_users_format_and_seeded_pick(tmp_path):
    p = write(tmp_path, '{"b/model": {"base": "http://127.0.0.1:1/v1/", "api": "sk-1"},'
                        ' "a/model": {"base": "http://127.0.0.1:2/v1", "api": "sk-2"}}')
    mm = ModelMap.load(p)
    assert [e.name for e in mm.entries] == ["a/model", "b/model"]
    assert mm.entries[1].base == "http://127.0.0.1:1/v1" and mm.entries[1].api_key == "sk-1"
    picks = {mm.pick(s).name for s in range(50)}
    assert picks == {"a/model", "b/model"}
    assert mm.pick(7) == mm.pick(7)
    assert [e.name for e in ModelMap.load(p, "b/model").entries] == ["b/model"]


def test_api_key_from_environment(tmp_path, monkeypatch):
    p = write(tmp_path, '{"m": {"base": "http://127.0.0.1:1/v1", "api_env": "PI_TEST_KEY"}}')
    with pytest.raises(UserError, match="PI_TEST_KEY"):
        ModelMap.load(p)
    monkeypatch.setenv("PI_TEST_KEY", "sk-env")
    assert ModelMap.load(p).entries[0].api_key == "sk-env"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("{oops", r"model_map\.json: not valid JSON \(line 1"),
        ("[]", "expected a non-empty JSON object"),
        ('{"m": {"api": "x"}}', 'model "m": needs a "base" URL'),
    ],
)
def test_malformed_maps(tmp_path, text, pattern):
    with pytest.raises(UserError, match=pattern) as exc:
        ModelMap.load(write(tmp_path, text))
    assert "\n" not in str(exc.value)


def test_missing_map_and_unknown_model(tmp_path):
    with pytest.raises(UserError, match="model map not found; copy model_map.example.json"):
        ModelMap.load(tmp_path / "nope.json")
    p = write(tmp_path, '{"m": {"base": "simulator"}}')
    with pytest.raises(UserError, match='model "other" is not in the model map'):
        ModelMap.load(p, "other")


def test_unreachable_endpoint_is_a_one_line_error(tmp_path):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = write(tmp_path, f'{{"m": {{"base": "http://127.0.0.1:{port}/v1", "api": "k"}}}}')
    llm = {**LLM_DEFAULTS, "model_map": str(p), "cache_path": str(tmp_path / "c.sqlite"), "max_retries": 0,
           "request_timeout": 5.0, "down_timeout": 0.5}

    async def go():
        engine = Engine.from_params(llm)
        try:
            await engine.ask(ChatRole(), ChangeQuery(RecordView("python", "x = 1\n"), ""), seed=1)
        finally:
            await engine.aclose()

    with pytest.raises(UserError, match=rf'cannot reach model "m" at http://127.0.0.1:{port}/v1') as exc:
        asyncio.run(go())
    assert "\n" not in str(exc.value)
