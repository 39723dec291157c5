"""Batch input and output files, the model map's "batch" entry, and the simulator's batch answers
(docs/models-and-scale.md "Batch inference")."""

from __future__ import annotations

import json

import orjson
import pytest

from proginstruct.errors import UserError
from proginstruct.llm.batch_files import InputFiles, input_keys, input_line, parse_result, read_results
from proginstruct.llm.cache import cache_key
from proginstruct.llm.model_map import BatchSpec, ModelMap
from proginstruct.simulator.api import completion_response
from proginstruct.simulator.batches import BatchService, answer_file, parse_multipart

BODY = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "héllo \"x\"\n"}], "max_tokens": 5,
                     "temperature": 0.2, "top_p": 0.95})


def test_an_input_line_carries_the_body_byte_for_byte(tmp_path):
    key = cache_key("m", [{"role": "user", "content": "x"}], {}, 0)
    line = input_line(key, BODY)
    assert line.endswith(b"\n") and BODY in line
    obj = orjson.loads(line)
    assert obj == {"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": orjson.loads(BODY)}
    assert orjson.dumps(obj["body"]) == BODY
    p = tmp_path / "in.jsonl"
    p.write_bytes(line + b'{"custom_id": "other", "body": {}}\n' + line[:20])  # a foreign line and a torn tail
    assert input_keys(p) == [key, "other"]


def test_input_files_split_at_lines_and_bytes_per_model_and_send_a_request_once(tmp_path):
    limits = {"a": (3, 10**9), "b": (100, 2 * len(input_line("k" * 64, BODY)))}
    files = InputFiles(tmp_path / "batches", lambda m: limits[m])
    for i in range(7):
        files.add("a", f"a{i:063d}", BODY)
        files.add("b", f"b{i:063d}", BODY)
        files.add("a", f"a{i:063d}", BODY)  # asked again by another record: one line
    assert len(files) == 14
    done = files.close()
    assert [(f.model, f.lines) for f in done] == [("a", 3), ("b", 2), ("b", 2), ("a", 3), ("b", 2), ("a", 1),
                                                 ("b", 1)]
    for f in done:
        assert f.path.stat().st_size == f.size <= (limits[f.model][1])
    assert sum(len(input_keys(f.path)) for f in done if f.model == "a") == 7
    assert len(files) == 0 and files.close() == []


def test_output_and_error_lines_are_read_by_custom_id(tmp_path):
    ok = completion_response({"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 50})
    lines = [
        {"custom_id": "a", "response": {"status_code": 200, "body": ok}, "error": None},
        {"custom_id": "b", "response": {"status_code": 500, "body": {"error": {"message": "boom\nmore"}}}},
        {"custom_id": "c", "response": {"status_code": 400, "body": {"error": {"message": "too long"}}}},
        {"custom_id": "d", "response": None, "error": {"code": "batch_expired", "message": "not done in time"}},
        {"custom_id": "e", "response": {"status_code": 200, "body": {"choices": []}}},
    ]
    p = tmp_path / "out.jsonl"
    p.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines) + b"not json\n" + b'{"id": 1}\n')
    got = {r.key: r for r in read_results(p)}
    assert set(got) == set("abcde")
    assert got["a"].reply == {"text": ok["choices"][0]["message"]["content"], "finish_reason": "stop"}
    assert got["a"].usage == (ok["usage"]["prompt_tokens"], ok["usage"]["completion_tokens"])
    assert (got["b"].kind, got["b"].retry, got["b"].detail) == ("server_error", True, "boom")
    assert (got["c"].kind, got["c"].retry, got["c"].status) == ("bad_request", False, 400)
    assert (got["d"].kind, got["d"].retry, got["d"].detail) == ("batch_batch_expired", True, "not done in time")
    assert got["e"].kind == "malformed_response" and got["e"].reply is None
    assert parse_result("f", {"response": {"status_code": 404, "body": None}}).kind == "status_404"


def test_model_map_batch_entry(tmp_path):
    p = tmp_path / "mm.json"
    p.write_text(json.dumps({"a": {"base": "http://x/v1", "batch": {"command": "run -i {input} -o {output}",
                                                                   "max_lines": 10}},
                             "b": {"base": "http://y/v1"}}))
    mm = ModelMap.load(p)
    assert mm.entries[0].batch == BatchSpec(command="run -i {input} -o {output}", max_lines=10)
    assert mm.entries[1].batch == BatchSpec() and mm.entries[1].batch.max_lines == 50_000
    for bad, msg in [({"command": "run {input}"}, "must contain {input} and {output}"),
                     ({"window": "24h"}, "must be an object with"), ("24h", "must be an object with"),
                     ({"max_bytes": 0}, '"max_bytes" must be an integer >= 1')]:
        p.write_text(json.dumps({"a": {"base": "http://x/v1", "batch": bad}}))
        with pytest.raises(UserError, match=msg) as e:
            ModelMap.load(p)
        assert str(p) in str(e.value) and '"a"' in str(e.value)


def test_simulated_batches_answer_each_line_as_online_in_shuffled_order(tmp_path):
    bodies = [{"model": "m", "messages": [{"role": "user", "content": f"Say {w}"}]} for w in "abcdefgh"]
    data = b"".join(orjson.dumps({"custom_id": str(i), "method": "POST", "url": "/v1/chat/completions", "body": b})
                    + b"\n" for i, b in enumerate(bodies))
    clock = [0.0]
    svc = BatchService(clock=lambda: clock[0])
    svc.options = type(svc.options)(delay=10.0)
    boundary = "XyZ"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--{boundary}\r\n"
            f"Content-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    ctype = f"multipart/form-data; boundary={boundary}"
    assert parse_multipart(ctype, form) == {"purpose": b"batch", "file": data}
    status, raw, _ = svc.handle("POST", "/v1/files", ctype, form)
    fid = orjson.loads(raw)["id"]
    status, raw, _ = svc.handle("POST", "/v1/batches", "application/json", orjson.dumps(
        {"input_file_id": fid, "endpoint": "/v1/chat/completions", "completion_window": "24h"}))
    job = orjson.loads(raw)
    assert status == 200 and job["status"] == "in_progress"
    clock[0] = 5.0
    half = orjson.loads(svc.handle("GET", f"/v1/batches/{job['id']}", "", b"")[1])
    assert half["status"] == "in_progress" and half["request_counts"]["completed"] == 4
    clock[0] = 10.0
    done = orjson.loads(svc.handle("GET", f"/v1/batches/{job['id']}", "", b"")[1])
    assert done["status"] == "completed" and done["request_counts"] == {"total": 8, "completed": 8, "failed": 0}
    out = svc.handle("GET", f"/v1/files/{done['output_file_id']}/content", "", b"")[1]
    answers = [orjson.loads(x) for x in out.splitlines()]
    assert [a["custom_id"] for a in answers] != [str(i) for i in range(8)]  # shuffled
    for a in answers:
        assert a["response"]["body"] == completion_response(bodies[int(a["custom_id"])])
    assert svc.handle("GET", "/v1/batches/nope", "", b"")[0] == 404
    assert svc.handle("POST", "/v1/batches", "application/json", b'{"input_file_id": "x"}')[0] == 400
    # the vllm run-batch stand-in writes the same answers
    (tmp_path / "in.jsonl").write_bytes(data)
    assert answer_file(tmp_path / "in.jsonl", tmp_path / "out.jsonl") == 8
    assert {orjson.loads(x)["custom_id"]: orjson.loads(x)["response"]["body"]
            for x in (tmp_path / "out.jsonl").read_bytes().splitlines()} == \
        {a["custom_id"]: a["response"]["body"] for a in answers}
