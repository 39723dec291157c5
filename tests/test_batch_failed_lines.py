"""What a failed batch line does, as an online request would (SPEC 5): a 429 is pending again with no
budget, a refused line (400, 413, 422) fails its role call, other faults are retried within
``llm.max_retries`` and then stop the run, and 401/403/404 or another 4xx stop it at once."""

from __future__ import annotations

import asyncio
import json

import orjson
import pytest

from proginstruct.errors import UserError
from proginstruct.llm.batch import BatchQueue
from proginstruct.llm.batch_files import parse_result
from proginstruct.llm.batch_jobs import JobState
from proginstruct.llm.cache import ReplyCache
from proginstruct.llm.engine import EngineOptions
from proginstruct.llm.model_map import ModelMap
from proginstruct.simulator.api import completion_response

KEYS = [f"{i:064x}" for i in range(8)]
BODY = b'{"model":"m","messages":[{"role":"user","content":"Say hi"}],"max_tokens":50}'


def _queue(tmp_path, max_retries: int = 1) -> BatchQueue:
    mm = tmp_path / "mm.json"
    mm.write_text(json.dumps({"m": {"base": "http://127.0.0.1:9/v1", "api": "k",
                                    "batch": {"command": "true {input} {output}"}}}))
    return BatchQueue(ModelMap.load(mm), ReplyCache(tmp_path / "c.sqlite"), EngineOptions(max_retries=max_retries))


def _round(q: BatchQueue, answers: dict[str, dict | None]) -> None:
    """Queue a line per key, record its job, write the output (``None``: no line for that key) and ingest it."""
    for key in answers:
        q.files.add("m", key, BODY)
    (f,) = q.files.close()
    row = q.store.set(q.store.add("command", "m", "true", f.path, f.lines), status="waiting")
    lines = [{"custom_id": k, **a} for k, a in answers.items() if a is not None]
    row.output_path().write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    asyncio.run(q._ingest(row, JobState("completed")))


def _status(code: int) -> dict:
    return {"response": {"status_code": code, "body": {"error": {"message": f"status {code}"}}}}


def test_failed_lines_go_back_to_pending_fail_their_call_or_count_a_try(tmp_path):
    q = _queue(tmp_path)
    ok = {"response": {"status_code": 200, "body": completion_response(orjson.loads(BODY))}}
    _round(q, {KEYS[0]: ok, KEYS[1]: _status(429), KEYS[2]: _status(400), KEYS[3]: _status(413),
               KEYS[4]: _status(500), KEYS[5]: None, KEYS[6]: {"error": {"code": "batch_expired"}}})
    assert q.cache.get(KEYS[0]) is not None and q.received == {KEYS[0]}
    assert q.given_up == {KEYS[2]: "bad_request", KEYS[3]: "status_413"}  # their role calls fail
    assert dict(q.tries) == {KEYS[4]: 1, KEYS[5]: 1, KEYS[6]: 1}  # a 429 uses no try
    assert q.counts["batch.failed_lines"] == 6 and q.counts["faults.rate_limited"] == 1
    assert q.counts["faults.batch_missing"] == 1 and q.counts["faults.batch_batch_expired"] == 1
    assert q.need(q.entries["m"], KEYS[2], BODY, "judge") == "bad_request"
    assert parse_result("x", _status(400)).retry is False and parse_result("x", _status(429)).retry is True
    for _ in range(3):  # a 429 never runs out of tries
        _round(q, {KEYS[1]: _status(429)})
    with pytest.raises(UserError, match=r"a batch line failed 2 times \(llm.max_retries 1\); last error: server_error"):
        _round(q, {KEYS[4]: _status(500)})


@pytest.mark.parametrize("code,words", [(401, "a wrong API key"), (404, "an unknown model or base URL"),
                                        (418, "the run stopped")])
def test_a_line_no_retry_can_fix_stops_the_run_at_once(tmp_path, code, words):
    q = _queue(tmp_path)
    with pytest.raises(UserError) as exc:
        _round(q, {KEYS[0]: _status(code)})
    msg = str(exc.value)
    assert f"answered a batch line {code} (status {code})" in msg and words in msg and "\n" not in msg
